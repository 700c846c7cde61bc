//! The kinds the API serves: the built-in ones and those that CustomResourceDefinitions add.
//!
//! One [`ResourceType`] per (group, resource). Discovery, routing, the OpenAPI documents and the tables
//! `kubectl get` prints all read this one table, so a kind is described once.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Value, json};

/// Where a kind lives and how clients address it.
// The flags are independent facts of the API's kind table, not a state machine.
#[allow(clippy::struct_excessive_bools)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceType {
    /// API group (`""` for the core group).
    pub group: String,
    /// Versions served, the storage (preferred) version first.
    pub versions: Vec<String>,
    /// `Deployment`.
    pub kind: String,
    /// `deployments`.
    pub plural: String,
    /// `deployment`.
    pub singular: String,
    /// Namespaced or cluster-scoped.
    pub namespaced: bool,
    /// `deploy`.
    pub short_names: Vec<String>,
    /// `all`.
    pub categories: Vec<String>,
    /// Whether `/status` is a subresource (status is then written only through it).
    pub status_subresource: bool,
    /// Whether `/scale` is a subresource, and the paths it maps (spec replicas, status replicas, selector).
    pub scale: Option<ScalePaths>,
    /// Whether the kind keeps `metadata.generation` (bumped on spec changes).
    pub generation: bool,
    /// Whether it came from a CustomResourceDefinition (stored as given, merge patches only).
    pub custom: bool,
    /// Extra columns `kubectl get` shows for a custom kind (from `additionalPrinterColumns`).
    pub printer_columns: Vec<PrinterColumn>,
}

/// JSON paths of the scale subresource (as in a CRD's `subresources.scale`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScalePaths {
    /// `.spec.replicas`.
    pub spec_replicas: String,
    /// `.status.replicas`.
    pub status_replicas: String,
    /// `.status.selector` or `.spec.selector` (a label selector object for built-ins).
    pub label_selector: Option<String>,
}

/// One `additionalPrinterColumns` entry of a CRD version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrinterColumn {
    /// Column header.
    pub name: String,
    /// OpenAPI type (`string`, `integer`, `date`, ...).
    pub type_: String,
    /// Simple JSON path (`.spec.replicas`).
    pub json_path: String,
}

impl ResourceType {
    /// The preferred (storage) version.
    pub fn version(&self) -> &str {
        self.versions.first().map_or("v1", String::as_str)
    }

    /// `apps/v1` or `v1`.
    pub fn api_version(&self) -> String {
        api_version(&self.group, self.version())
    }

    /// `deployments.apps` or `pods`: the name the apiserver's messages use.
    pub fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.plural.clone()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    /// Verbs for discovery.
    pub fn verbs(&self) -> Vec<&'static str> {
        vec![
            "create",
            "delete",
            "deletecollection",
            "get",
            "list",
            "patch",
            "update",
            "watch",
        ]
    }

    /// Whether strategic merge patches apply (built-in kinds only, as on the apiserver).
    pub fn strategic_merge(&self) -> bool {
        !self.custom
    }
}

/// `group/version`, or `version` for the core group.
pub fn api_version(group: &str, version: &str) -> String {
    if group.is_empty() {
        version.to_owned()
    } else {
        format!("{group}/{version}")
    }
}

/// Splits `apps/v1` into (`apps`, `v1`) and `v1` into (the empty core group, `v1`).
pub fn split_api_version(api_version: &str) -> (&str, &str) {
    match api_version.rsplit_once('/') {
        Some((group, version)) => (group, version),
        None => ("", api_version),
    }
}

#[allow(clippy::struct_excessive_bools)]
struct Builtin {
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    plural: &'static str,
    short_names: &'static [&'static str],
    namespaced: bool,
    all: bool,
    status: bool,
    scale: bool,
    generation: bool,
}

const BUILTINS: &[Builtin] = &[
    Builtin {
        group: "",
        version: "v1",
        kind: "Namespace",
        plural: "namespaces",
        short_names: &["ns"],
        namespaced: false,
        all: false,
        status: true,
        scale: false,
        generation: false,
    },
    Builtin {
        group: "",
        version: "v1",
        kind: "Node",
        plural: "nodes",
        short_names: &["no"],
        namespaced: false,
        all: false,
        status: true,
        scale: false,
        generation: false,
    },
    Builtin {
        group: "",
        version: "v1",
        kind: "Pod",
        plural: "pods",
        short_names: &["po"],
        namespaced: true,
        all: true,
        status: true,
        scale: false,
        generation: false,
    },
    Builtin {
        group: "",
        version: "v1",
        kind: "Service",
        plural: "services",
        short_names: &["svc"],
        namespaced: true,
        all: true,
        status: true,
        scale: false,
        generation: false,
    },
    Builtin {
        group: "",
        version: "v1",
        kind: "Endpoints",
        plural: "endpoints",
        short_names: &["ep"],
        namespaced: true,
        all: false,
        status: false,
        scale: false,
        generation: false,
    },
    Builtin {
        group: "",
        version: "v1",
        kind: "ConfigMap",
        plural: "configmaps",
        short_names: &["cm"],
        namespaced: true,
        all: false,
        status: false,
        scale: false,
        generation: false,
    },
    // Served so that tools can see an autoscaler targets a Deployment (slipway-deploy then leaves its
    // replicas alone); nothing here scales anything, and kubectl's client-side validation has no schema
    // for it (create it with `--validate=false` or server-side apply).
    Builtin {
        group: "autoscaling",
        version: "v2",
        kind: "HorizontalPodAutoscaler",
        plural: "horizontalpodautoscalers",
        short_names: &["hpa"],
        namespaced: true,
        all: true,
        status: true,
        scale: false,
        generation: true,
    },
    Builtin {
        group: "",
        version: "v1",
        kind: "Secret",
        plural: "secrets",
        short_names: &[],
        namespaced: true,
        all: false,
        status: false,
        scale: false,
        generation: false,
    },
    Builtin {
        group: "",
        version: "v1",
        kind: "ServiceAccount",
        plural: "serviceaccounts",
        short_names: &["sa"],
        namespaced: true,
        all: false,
        status: false,
        scale: false,
        generation: false,
    },
    Builtin {
        group: "",
        version: "v1",
        kind: "Event",
        plural: "events",
        short_names: &["ev"],
        namespaced: true,
        all: false,
        status: false,
        scale: false,
        generation: false,
    },
    Builtin {
        group: "apps",
        version: "v1",
        kind: "Deployment",
        plural: "deployments",
        short_names: &["deploy"],
        namespaced: true,
        all: true,
        status: true,
        scale: true,
        generation: true,
    },
    Builtin {
        group: "apps",
        version: "v1",
        kind: "ReplicaSet",
        plural: "replicasets",
        short_names: &["rs"],
        namespaced: true,
        all: true,
        status: true,
        scale: true,
        generation: true,
    },
    Builtin {
        group: "discovery.k8s.io",
        version: "v1",
        kind: "EndpointSlice",
        plural: "endpointslices",
        short_names: &[],
        namespaced: true,
        all: false,
        status: false,
        scale: false,
        generation: false,
    },
    Builtin {
        group: "apiextensions.k8s.io",
        version: "v1",
        kind: "CustomResourceDefinition",
        plural: "customresourcedefinitions",
        short_names: &["crd", "crds"],
        namespaced: false,
        all: false,
        status: true,
        scale: false,
        generation: true,
    },
];

fn builtin_type(b: &Builtin) -> ResourceType {
    let mut categories = Vec::new();
    if b.all {
        categories.push("all".to_owned());
    }
    if b.group == "apiextensions.k8s.io" {
        categories.push("api-extensions".to_owned());
    }
    ResourceType {
        group: b.group.to_owned(),
        versions: vec![b.version.to_owned()],
        kind: b.kind.to_owned(),
        plural: b.plural.to_owned(),
        singular: b.kind.to_ascii_lowercase(),
        namespaced: b.namespaced,
        short_names: b.short_names.iter().map(|s| (*s).to_owned()).collect(),
        categories,
        status_subresource: b.status,
        scale: b.scale.then(|| ScalePaths {
            spec_replicas: ".spec.replicas".to_owned(),
            status_replicas: ".status.replicas".to_owned(),
            label_selector: Some(".spec.selector".to_owned()),
        }),
        generation: b.generation,
        custom: false,
        printer_columns: Vec::new(),
    }
}

/// The table of served kinds, keyed by (group, plural).
#[derive(Debug, Clone)]
pub struct Registry {
    types: BTreeMap<(String, String), Arc<ResourceType>>,
}

impl Default for Registry {
    fn default() -> Self {
        let types = BUILTINS
            .iter()
            .map(builtin_type)
            .chain(crate::controller::knative::resource_types())
            .map(|t| ((t.group.clone(), t.plural.clone()), Arc::new(t)))
            .collect();
        Registry { types }
    }
}

impl Registry {
    /// The kind served at `group`/`plural`, when `version` is one of its versions.
    pub fn get(&self, group: &str, version: &str, plural: &str) -> Option<Arc<ResourceType>> {
        self.types
            .get(&(group.to_owned(), plural.to_owned()))
            .filter(|t| t.versions.iter().any(|v| v == version))
            .cloned()
    }

    /// The kind for an object's `apiVersion` and `kind`.
    pub fn by_kind(&self, api_version: &str, kind: &str) -> Option<Arc<ResourceType>> {
        let (group, version) = split_api_version(api_version);
        self.types
            .values()
            .find(|t| t.group == group && t.kind == kind && t.versions.iter().any(|v| v == version))
            .cloned()
    }

    /// Every served kind.
    pub fn all(&self) -> impl Iterator<Item = &Arc<ResourceType>> {
        self.types.values()
    }

    /// Groups with their versions, the core group first, then in the order kubectl expects (built-in
    /// groups, then custom ones), each once.
    pub fn groups(&self) -> Vec<(String, Vec<String>)> {
        let mut order: Vec<(String, Vec<String>)> = Vec::new();
        let builtin_order = BUILTINS.iter().map(|b| b.group);
        let custom = self
            .types
            .values()
            .filter(|t| t.custom)
            .map(|t| t.group.as_str());
        for group in builtin_order.chain(custom) {
            if order.iter().any(|(g, _)| g == group) {
                continue;
            }
            let mut versions: Vec<String> = Vec::new();
            for t in self.types.values().filter(|t| t.group == group) {
                for v in &t.versions {
                    if !versions.contains(v) {
                        versions.push(v.clone());
                    }
                }
            }
            order.push((group.to_owned(), versions));
        }
        order
    }

    /// Kinds of `group` served at `version`.
    pub fn in_group_version<'a>(
        &'a self,
        group: &'a str,
        version: &'a str,
    ) -> impl Iterator<Item = &'a Arc<ResourceType>> + 'a {
        self.types
            .values()
            .filter(move |t| t.group == group && t.versions.iter().any(|v| v == version))
    }

    /// Adds or replaces the kind a CustomResourceDefinition defines; `Err` says why it cannot be served.
    pub fn define(&mut self, crd: &Value) -> Result<Arc<ResourceType>, String> {
        let t = Arc::new(custom_type(crd)?);
        let key = (t.group.clone(), t.plural.clone());
        if let Some(existing) = self.types.get(&key)
            && !existing.custom
        {
            return Err(format!("{}.{} is a built-in resource", t.plural, t.group));
        }
        self.types.insert(key, t.clone());
        Ok(t)
    }

    /// Stops serving the kind of a deleted CustomResourceDefinition.
    pub fn undefine(&mut self, group: &str, plural: &str) -> Option<Arc<ResourceType>> {
        let key = (group.to_owned(), plural.to_owned());
        if self.types.get(&key).is_some_and(|t| t.custom) {
            self.types.remove(&key)
        } else {
            None
        }
    }
}

fn str_at<'a>(value: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter()
        .try_fold(value, |v, key| v.get(key))
        .and_then(Value::as_str)
}

fn custom_type(crd: &Value) -> Result<ResourceType, String> {
    let group = str_at(crd, &["spec", "group"]).ok_or("spec.group: Required value")?;
    let names = crd
        .pointer("/spec/names")
        .ok_or("spec.names: Required value")?;
    let plural = str_at(names, &["plural"]).ok_or("spec.names.plural: Required value")?;
    let kind = str_at(names, &["kind"]).ok_or("spec.names.kind: Required value")?;
    let singular =
        str_at(names, &["singular"]).map_or_else(|| kind.to_ascii_lowercase(), str::to_owned);
    let strings = |key: &str| -> Vec<String> {
        names
            .get(key)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let namespaced = str_at(crd, &["spec", "scope"]) != Some("Cluster");
    let versions_json = crd
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .ok_or("spec.versions: Required value")?;
    let mut versions = Vec::new();
    let mut storage = None;
    let mut status_subresource = false;
    let mut scale = None;
    let mut printer_columns = Vec::new();
    for v in versions_json {
        let name = str_at(v, &["name"]).ok_or("spec.versions[].name: Required value")?;
        if v.get("served").and_then(Value::as_bool) == Some(false) {
            continue;
        }
        let is_storage = v.get("storage").and_then(Value::as_bool) == Some(true);
        if is_storage {
            storage = Some(name.to_owned());
            status_subresource = v.pointer("/subresources/status").is_some();
            scale = v.pointer("/subresources/scale").map(|s| ScalePaths {
                spec_replicas: str_at(s, &["specReplicasPath"])
                    .unwrap_or(".spec.replicas")
                    .to_owned(),
                status_replicas: str_at(s, &["statusReplicasPath"])
                    .unwrap_or(".status.replicas")
                    .to_owned(),
                label_selector: str_at(s, &["labelSelectorPath"]).map(str::to_owned),
            });
            printer_columns = v
                .get("additionalPrinterColumns")
                .and_then(Value::as_array)
                .map(|cols| {
                    cols.iter()
                        .filter_map(|c| {
                            Some(PrinterColumn {
                                name: str_at(c, &["name"])?.to_owned(),
                                type_: str_at(c, &["type"]).unwrap_or("string").to_owned(),
                                json_path: str_at(c, &["jsonPath"])?.to_owned(),
                            })
                        })
                        .collect()
                })
                .unwrap_or_default();
        }
        versions.push(name.to_owned());
    }
    let storage = storage.ok_or(
        "spec.versions: Invalid value: must have exactly one version marked as storage version",
    )?;
    versions.retain(|v| *v != storage);
    versions.insert(0, storage);
    Ok(ResourceType {
        group: group.to_owned(),
        versions,
        kind: kind.to_owned(),
        plural: plural.to_owned(),
        singular,
        namespaced,
        short_names: strings("shortNames"),
        categories: strings("categories"),
        status_subresource,
        scale,
        generation: true,
        custom: true,
        printer_columns,
    })
}

/// The `names` a CRD's status reports as accepted.
pub fn accepted_names(crd: &Value) -> Value {
    crd.pointer("/spec/names")
        .cloned()
        .unwrap_or_else(|| json!({}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_are_addressable() {
        let r = Registry::default();
        let d = r.get("apps", "v1", "deployments").expect("deployments");
        assert_eq!(d.qualified(), "deployments.apps");
        assert_eq!(d.api_version(), "apps/v1");
        assert!(r.get("apps", "v2", "deployments").is_none());
        assert_eq!(r.by_kind("v1", "Pod").expect("pod").qualified(), "pods");
        assert_eq!(r.groups()[0].0, "");
    }

    #[test]
    fn crds_define_kinds() {
        let mut r = Registry::default();
        let crd = json!({"spec": {"group": "networking.istio.io", "scope": "Namespaced",
            "names": {"plural": "virtualservices", "kind": "VirtualService", "shortNames": ["vs"]},
            "versions": [{"name": "v1alpha3", "served": true, "storage": false},
                         {"name": "v1beta1", "served": true, "storage": true,
                          "subresources": {"status": {}}}]}});
        let t = r.define(&crd).expect("defined");
        assert_eq!(t.versions, ["v1beta1", "v1alpha3"]);
        assert!(t.status_subresource);
        assert!(
            r.get("networking.istio.io", "v1alpha3", "virtualservices")
                .is_some()
        );
        assert!(r.groups().iter().any(|(g, _)| g == "networking.istio.io"));
        let err = r
            .define(
                &json!({"spec": {"group": "apps", "names": {"plural": "deployments", "kind": "D"},
                "versions": [{"name": "v1", "served": true, "storage": true}]}}),
            )
            .expect_err("built-in");
        assert!(err.contains("built-in"));
    }
}
