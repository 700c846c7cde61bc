//! The built-in kinds' OpenAPI v3 documents and the type tree read from them.
//!
//! The documents are the apiserver's own (Kubernetes v1.32), trimmed to the kinds kubesim serves by
//! `scripts/gen-kubesim-openapi.sh` and embedded. The server hands them out as `/openapi/v3/<path>`
//! (kubectl reads them for `apply` validation, `explain` and its field-validation checks), and the same
//! facts drive strategic merge patches ([`crate::patch`]), server-side apply ([`crate::apply`]) and strict
//! field validation ([`unknown_fields`]): one copy of each fact.
//!
//! ```
//! use slipway_kubesim::schema::{ListType, Schema};
//!
//! let deployment = Schema::for_kind("apps", "v1", "Deployment").expect("a built-in kind");
//! let containers = deployment.path(&["spec", "template", "spec", "containers"]).expect("a field");
//! assert_eq!(containers.patch_merge_key(), Some("name"));
//! assert_eq!(containers.list_type(), ListType::Map(&["name".to_owned()]));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::OnceLock;

use serde_json::Value;

/// The embedded documents: (path under `/openapi/v3/`, trimmed JSON).
const DOCUMENTS: &[(&str, &[u8])] = &[
    ("api/v1", include_bytes!("../openapi/api__v1.json")),
    (
        "apis/apps/v1",
        include_bytes!("../openapi/apis__apps__v1.json"),
    ),
    (
        "apis/discovery.k8s.io/v1",
        include_bytes!("../openapi/apis__discovery.k8s.io__v1.json"),
    ),
    (
        "apis/apiextensions.k8s.io/v1",
        include_bytes!("../openapi/apis__apiextensions.k8s.io__v1.json"),
    ),
];

/// Component schemas whose Go types decode any JSON themselves (so they know every field).
const RAW_TYPES: &[&str] = &[
    "io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1",
    "io.k8s.apimachinery.pkg.apis.meta.v1.Patch",
    "io.k8s.apimachinery.pkg.runtime.RawExtension",
];

/// The OpenAPI v3 paths served under `/openapi/v3/` with a content hash of each document.
///
/// `("apis/apps/v1", "3f1c…")`: the server lists them as
/// `{"paths":{"apis/apps/v1":{"serverRelativeURL":"/openapi/v3/apis/apps/v1?hash=HASH"}}}`. The hash is
/// the FNV-1a 128-bit hash of the document, as 32 lowercase hex digits; it changes only when the
/// document does.
pub fn openapi_paths() -> impl Iterator<Item = (&'static str, &'static str)> {
    static HASHES: OnceLock<Vec<String>> = OnceLock::new();
    let hashes = HASHES.get_or_init(|| {
        DOCUMENTS
            .iter()
            .map(|(_, doc)| fnv1a_128_hex(doc))
            .collect()
    });
    DOCUMENTS
        .iter()
        .zip(hashes)
        .map(|((path, _), hash)| (*path, hash.as_str()))
}

/// The embedded OpenAPI v3 document for `path` (`"apis/apps/v1"`, without a leading slash), as JSON.
pub fn openapi_document(path: &str) -> Option<&'static [u8]> {
    DOCUMENTS
        .iter()
        .find(|(p, _)| *p == path)
        .map(|(_, doc)| *doc)
}

fn fnv1a_128_hex(bytes: &[u8]) -> String {
    const OFFSET: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
    const PRIME: u128 = 0x0000_0000_0100_0000_0000_0000_0000_013b;
    let hash = bytes.iter().fold(OFFSET, |hash, byte| {
        (hash ^ u128::from(*byte)).wrapping_mul(PRIME)
    });
    format!("{hash:032x}")
}

/// How a list merges (`x-kubernetes-list-type`, or what the patch strategy implies).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListType<'a> {
    /// Replaced as a whole (the default for lists).
    Atomic,
    /// A set of scalars, merged by value.
    Set,
    /// Objects identified by these keys (`x-kubernetes-list-map-keys`, or the patch merge key).
    Map(&'a [String]),
}

/// How a map or struct merges (`x-kubernetes-map-type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MapType {
    /// Each key on its own (the default).
    Granular,
    /// Replaced as a whole.
    Atomic,
}

/// The strategic-merge-patch strategy of a field (`x-kubernetes-patch-strategy`, the Go `patchStrategy`
/// tag): `merge`, `replace`, `retainKeys` or `merge,retainKeys`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[allow(clippy::struct_excessive_bools)]
pub struct PatchStrategy {
    /// Lists merge by merge key (lists of objects) or by value (lists of scalars).
    pub merge: bool,
    /// The field is replaced, not merged.
    pub replace: bool,
    /// A `$retainKeys` directive clears the keys it does not list.
    pub retain_keys: bool,
    /// The tag had a form the apiserver rejects when it merges (more than two parts, or two without
    /// `retainKeys`).
    pub invalid: bool,
}

/// What a node of the type tree holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    /// An object with named fields (a Go struct).
    Struct,
    /// An object with arbitrary keys and one value type (`additionalProperties`).
    Map,
    /// A list.
    List,
    /// A string, number or boolean (also `int-or-string`).
    Scalar,
    /// Anything (`x-kubernetes-preserve-unknown-fields`, raw extensions, `fieldsV1`).
    Any,
}

#[derive(Debug)]
enum Shape {
    Ref(usize),
    Struct(BTreeMap<String, usize>),
    Map(usize),
    List(usize),
    Scalar,
    Any,
}

/// A node of the built-in kinds' type tree: a type, or a field with its own extensions.
///
/// Nodes are parsed once, lazily, from the embedded documents and live for the whole program; a
/// field that refers to a named type shares that type's node for everything below it.
#[derive(Debug)]
pub struct Schema {
    shape: Shape,
    name: Option<String>,
    list_type: Option<String>,
    list_map_keys: Vec<String>,
    map_type: Option<MapType>,
    patch_strategy: Option<PatchStrategy>,
    patch_merge_key: Option<String>,
    preserve_unknown: bool,
    group_version_kinds: Vec<(String, String, String)>,
}

struct Catalog {
    nodes: Vec<Schema>,
    by_name: HashMap<String, usize>,
    kinds: HashMap<(String, String, String), usize>,
}

fn catalog() -> &'static Catalog {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    CATALOG.get_or_init(|| {
        let mut builder = Builder::default();
        for (_, doc) in DOCUMENTS {
            let parsed: Value = serde_json::from_slice(doc)
                .expect("the embedded OpenAPI documents are JSON (checked by the tests)");
            if let Some(schemas) = parsed
                .pointer("/components/schemas")
                .and_then(Value::as_object)
            {
                for (name, schema) in schemas {
                    builder.named(name, schema);
                }
            }
        }
        builder.finish()
    })
}

#[derive(Default)]
struct Builder {
    nodes: Vec<Schema>,
    by_name: HashMap<String, usize>,
}

impl Builder {
    fn slot(&mut self, name: &str) -> usize {
        if let Some(index) = self.by_name.get(name) {
            return *index;
        }
        let index = self.nodes.len();
        self.nodes.push(Schema::empty(Shape::Any));
        self.by_name.insert(name.to_owned(), index);
        index
    }

    fn named(&mut self, name: &str, schema: &Value) {
        let index = self.slot(name);
        // The same type appears in several documents, identically; the first one is parsed.
        if self.nodes[index].name.is_some() {
            return;
        }
        let mut node = self.parse(schema);
        if RAW_TYPES.contains(&name) {
            node.shape = Shape::Any;
        }
        node.name = Some(name.to_owned());
        self.nodes[index] = node;
    }

    fn push(&mut self, schema: &Value) -> usize {
        let node = self.parse(schema);
        self.nodes.push(node);
        self.nodes.len() - 1
    }

    fn parse(&mut self, schema: &Value) -> Schema {
        let reference = schema.get("$ref").and_then(Value::as_str).or_else(|| {
            match schema.get("allOf").and_then(Value::as_array) {
                Some(all) if all.len() == 1 => all[0].get("$ref").and_then(Value::as_str),
                _ => None,
            }
        });
        let shape = if let Some(reference) = reference {
            let name = reference.rsplit('/').next().unwrap_or(reference);
            Shape::Ref(self.slot(name))
        } else {
            match schema.get("type").and_then(Value::as_str) {
                Some("object") => {
                    if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
                        let mut fields = BTreeMap::new();
                        for (field, sub) in properties {
                            let index = self.push(sub);
                            fields.insert(field.clone(), index);
                        }
                        Shape::Struct(fields)
                    } else if let Some(values) =
                        schema.get("additionalProperties").filter(|v| v.is_object())
                    {
                        Shape::Map(self.push(values))
                    } else {
                        Shape::Struct(BTreeMap::new())
                    }
                }
                Some("array") => match schema.get("items") {
                    Some(items) => Shape::List(self.push(items)),
                    None => Shape::List(self.push(&Value::Null)),
                },
                Some(_) => Shape::Scalar,
                None if schema.get("format").and_then(Value::as_str) == Some("int-or-string") => {
                    Shape::Scalar
                }
                None => Shape::Any,
            }
        };
        let strings = |key: &str| -> Vec<String> {
            schema
                .get(key)
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default()
        };
        let text = |key: &str| schema.get(key).and_then(Value::as_str).map(str::to_owned);
        let group_version_kinds = schema
            .get("x-kubernetes-group-version-kind")
            .and_then(Value::as_array)
            .map(|gvks| {
                gvks.iter()
                    .map(|gvk| {
                        let part = |k: &str| {
                            gvk.get(k)
                                .and_then(Value::as_str)
                                .unwrap_or_default()
                                .to_owned()
                        };
                        (part("group"), part("version"), part("kind"))
                    })
                    .collect()
            })
            .unwrap_or_default();
        Schema {
            shape,
            name: None,
            list_type: text("x-kubernetes-list-type"),
            list_map_keys: strings("x-kubernetes-list-map-keys"),
            map_type: text("x-kubernetes-map-type").map(|t| {
                if t == "atomic" {
                    MapType::Atomic
                } else {
                    MapType::Granular
                }
            }),
            patch_strategy: text("x-kubernetes-patch-strategy").map(|s| parse_strategy(&s)),
            patch_merge_key: text("x-kubernetes-patch-merge-key"),
            preserve_unknown: schema
                .get("x-kubernetes-preserve-unknown-fields")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            group_version_kinds,
        }
    }

    fn finish(self) -> Catalog {
        let mut kinds = HashMap::new();
        for (index, node) in self.nodes.iter().enumerate() {
            for gvk in &node.group_version_kinds {
                kinds.entry(gvk.clone()).or_insert(index);
            }
        }
        Catalog {
            nodes: self.nodes,
            by_name: self.by_name,
            kinds,
        }
    }
}

fn parse_strategy(tag: &str) -> PatchStrategy {
    let parts: Vec<&str> = tag.split(',').collect();
    let mut strategy = PatchStrategy::default();
    let (retain, other) = match parts.as_slice() {
        [one] if *one == "retainKeys" => (true, ""),
        [one] => (false, *one),
        [a, b] if *a == "retainKeys" => (true, *b),
        [a, b] if *b == "retainKeys" => (true, *a),
        _ => {
            strategy.invalid = true;
            return strategy;
        }
    };
    strategy.retain_keys = retain;
    strategy.merge = other == "merge";
    strategy.replace = other == "replace";
    strategy
}

impl Schema {
    fn empty(shape: Shape) -> Schema {
        Schema {
            shape,
            name: None,
            list_type: None,
            list_map_keys: Vec::new(),
            map_type: None,
            patch_strategy: None,
            patch_merge_key: None,
            preserve_unknown: false,
            group_version_kinds: Vec::new(),
        }
    }

    /// The schema of a built-in kind (`("apps", "v1", "Deployment")`; `""` is the core group).
    pub fn for_kind(group: &str, version: &str, kind: &str) -> Option<&'static Schema> {
        let catalog = catalog();
        catalog
            .kinds
            .get(&(group.to_owned(), version.to_owned(), kind.to_owned()))
            .map(|index| &catalog.nodes[*index])
    }

    /// A component schema by its OpenAPI name (`io.k8s.api.core.v1.Container`).
    pub fn named(name: &str) -> Option<&'static Schema> {
        let catalog = catalog();
        catalog
            .by_name
            .get(name)
            .map(|index| &catalog.nodes[*index])
    }

    /// The node this one stands for: a field that refers to a named type resolves to that type.
    fn target(&self) -> &Schema {
        let nodes = &catalog().nodes;
        let mut node = self;
        // Reference chains are short (a field, then its type); the bound guards against a cycle of
        // pure references, which the documents do not have.
        for _ in 0..8 {
            match node.shape {
                Shape::Ref(index) => node = &nodes[index],
                _ => return node,
            }
        }
        node
    }

    /// The OpenAPI name of the type (`io.k8s.api.apps.v1.DeploymentSpec`), for named types.
    pub fn name(&self) -> Option<&str> {
        self.target().name.as_deref()
    }

    /// The Go type name (`DeploymentSpec`): the last segment of [`Schema::name`].
    pub fn type_name(&self) -> &str {
        self.name().and_then(|n| n.rsplit('.').next()).unwrap_or("")
    }

    /// What this node holds.
    pub fn kind(&self) -> NodeKind {
        match self.target().shape {
            Shape::Struct(_) if self.preserves_unknown_fields() => NodeKind::Any,
            Shape::Struct(_) => NodeKind::Struct,
            Shape::Map(_) => NodeKind::Map,
            Shape::List(_) => NodeKind::List,
            Shape::Scalar => NodeKind::Scalar,
            Shape::Any | Shape::Ref(_) => NodeKind::Any,
        }
    }

    /// The named fields of a struct, in name order (none for other kinds).
    pub fn fields(&self) -> impl Iterator<Item = (&str, &Schema)> {
        let nodes = &catalog().nodes;
        let fields = match &self.target().shape {
            Shape::Struct(fields) => Some(fields),
            _ => None,
        };
        fields
            .into_iter()
            .flatten()
            .map(move |(name, index)| (name.as_str(), &nodes[*index]))
    }

    /// A field of a struct, or the value schema of a map (`None` if the type has no such field).
    pub fn field(&self, name: &str) -> Option<&Schema> {
        let nodes = &catalog().nodes;
        match &self.target().shape {
            Shape::Struct(fields) => fields.get(name).map(|index| &nodes[*index]),
            Shape::Map(values) => Some(&nodes[*values]),
            _ => None,
        }
    }

    /// The node at a path of field names (`["spec", "template"]`), going through maps' values.
    pub fn path(&self, fields: &[&str]) -> Option<&Schema> {
        fields
            .iter()
            .try_fold(self, |node, field| node.field(field))
    }

    /// The element schema of a list.
    pub fn items(&self) -> Option<&Schema> {
        match self.target().shape {
            Shape::List(items) => Some(&catalog().nodes[items]),
            _ => None,
        }
    }

    /// The value schema of a map (`additionalProperties`).
    pub fn values(&self) -> Option<&Schema> {
        match self.target().shape {
            Shape::Map(values) => Some(&catalog().nodes[values]),
            _ => None,
        }
    }

    /// Whether the type knows field `name`: a struct field, any key of a map, anything where unknown
    /// fields are preserved. Strict field validation rejects the rest.
    pub fn knows_field(&self, name: &str) -> bool {
        match self.kind() {
            NodeKind::Struct => self.field(name).is_some(),
            NodeKind::Map | NodeKind::Any => true,
            NodeKind::List | NodeKind::Scalar => false,
        }
    }

    /// Whether fields the schema does not name are kept (`x-kubernetes-preserve-unknown-fields`, raw
    /// extensions, `fieldsV1`).
    pub fn preserves_unknown_fields(&self) -> bool {
        self.preserve_unknown
            || self.target().preserve_unknown
            || matches!(self.target().shape, Shape::Any)
    }

    /// How a list merges in server-side apply: `x-kubernetes-list-type`, or, as the apiserver derives
    /// it for built-in kinds without one, a map keyed by the patch merge key when the patch strategy is
    /// `merge` (a set for lists of scalars); atomic otherwise.
    pub fn list_type(&self) -> ListType<'_> {
        let list_type = self
            .list_type
            .as_deref()
            .or(self.target().list_type.as_deref());
        match list_type {
            Some("map") => {
                let keys = if self.list_map_keys.is_empty() {
                    &self.target().list_map_keys
                } else {
                    &self.list_map_keys
                };
                ListType::Map(keys.as_slice())
            }
            Some("set") => ListType::Set,
            None if self.patch_strategy().merge => match &self.patch_merge_key {
                Some(key) => ListType::Map(std::slice::from_ref(key)),
                None => ListType::Set,
            },
            // "atomic", or a value this version does not know: replaced whole.
            _ => ListType::Atomic,
        }
    }

    /// How a map or struct merges in server-side apply (`x-kubernetes-map-type`; granular by default).
    pub fn map_type(&self) -> MapType {
        self.map_type
            .or(self.target().map_type)
            .unwrap_or(MapType::Granular)
    }

    /// The field's strategic-merge-patch strategy (the default strategy when it has none).
    pub fn patch_strategy(&self) -> PatchStrategy {
        self.patch_strategy.unwrap_or_default()
    }

    /// The key that identifies the elements of a merged list of objects (`x-kubernetes-patch-merge-key`).
    pub fn patch_merge_key(&self) -> Option<&str> {
        self.patch_merge_key.as_deref()
    }

    /// The (group, version, kind) triples a named type is served as.
    pub fn group_version_kinds(&self) -> impl Iterator<Item = (&str, &str, &str)> {
        self.target()
            .group_version_kinds
            .iter()
            .map(|(g, v, k)| (g.as_str(), v.as_str(), k.as_str()))
    }
}

/// The fields of `object` that `schema` does not know, as the apiserver's strict decoding names them:
/// dotted from the object's root, with list indices (`spec.template.spec.containers[0].foo`), in key
/// order.
///
/// [`strict_decoding_message`] turns them into the apiserver's message. Values of the wrong type are
/// not reported here (they are decoding errors of their own).
pub fn unknown_fields(schema: &Schema, object: &Value) -> Vec<String> {
    let mut out = Vec::new();
    collect_unknown(schema, object, &mut String::new(), &mut out);
    out
}

fn collect_unknown(schema: &Schema, value: &Value, path: &mut String, out: &mut Vec<String>) {
    match (schema.kind(), value) {
        (NodeKind::Struct, Value::Object(map)) => {
            for (key, sub) in map {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(key);
                match schema.field(key) {
                    Some(field) => collect_unknown(field, sub, path, out),
                    None => out.push(path.clone()),
                }
                path.truncate(len);
            }
        }
        (NodeKind::Map, Value::Object(map)) => {
            if let Some(values) = schema.values() {
                for (key, sub) in map {
                    let len = path.len();
                    if !path.is_empty() {
                        path.push('.');
                    }
                    path.push_str(key);
                    collect_unknown(values, sub, path, out);
                    path.truncate(len);
                }
            }
        }
        (NodeKind::List, Value::Array(items)) => {
            if let Some(item_schema) = schema.items() {
                for (index, item) in items.iter().enumerate() {
                    let len = path.len();
                    let _ = write!(path, "[{index}]");
                    collect_unknown(item_schema, item, path, out);
                    path.truncate(len);
                }
            }
        }
        _ => {}
    }
}

/// The apiserver's text for unknown fields found in strict mode:
/// `strict decoding error: unknown field "spec.foo", unknown field "bar"`.
pub fn strict_decoding_message(paths: &[String]) -> String {
    let listed: Vec<String> = paths
        .iter()
        .map(|p| format!("unknown field {p:?}"))
        .collect();
    format!("strict decoding error: {}", listed.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_served_kind_has_a_schema() {
        for (group, kind) in [
            ("", "Namespace"),
            ("", "Node"),
            ("", "Pod"),
            ("", "Service"),
            ("", "Endpoints"),
            ("", "ConfigMap"),
            ("", "Secret"),
            ("", "ServiceAccount"),
            ("", "Event"),
            ("apps", "Deployment"),
            ("apps", "ReplicaSet"),
            ("autoscaling", "Scale"),
            ("discovery.k8s.io", "EndpointSlice"),
            ("apiextensions.k8s.io", "CustomResourceDefinition"),
        ] {
            let schema =
                Schema::for_kind(group, "v1", kind).unwrap_or_else(|| panic!("{group}/{kind}"));
            assert_eq!(schema.kind(), NodeKind::Struct, "{kind}");
            assert!(schema.knows_field("metadata"), "{kind}");
        }
        assert!(Schema::for_kind("apps", "v1", "StatefulSet").is_none());
        assert!(Schema::for_kind("apps", "v2", "Deployment").is_none());
    }

    #[test]
    fn documents_and_hashes() {
        let paths: Vec<_> = openapi_paths().collect();
        assert_eq!(
            paths.iter().map(|(p, _)| *p).collect::<Vec<_>>(),
            [
                "api/v1",
                "apis/apps/v1",
                "apis/discovery.k8s.io/v1",
                "apis/apiextensions.k8s.io/v1"
            ]
        );
        for (path, hash) in &paths {
            assert_eq!(hash.len(), 32);
            assert!(
                hash.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            );
            let doc: Value =
                serde_json::from_slice(openapi_document(path).expect("served")).expect("JSON");
            assert_eq!(doc["openapi"], "3.0.0");
        }
        assert_ne!(paths[0].1, paths[1].1);
        assert!(openapi_document("/api/v1").is_none());
        assert!(openapi_document("apis/batch/v1").is_none());
        // The known FNV-1a 128 vectors: "" and "a".
        assert_eq!(fnv1a_128_hex(b""), "6c62272e07bb014262b821756295c58d");
        assert_eq!(fnv1a_128_hex(b"a"), "d228cb696f1a8caf78912b704e4a8964");
    }

    #[test]
    fn kubectl_finds_field_validation_on_the_patch_operations() {
        let doc: Value = serde_json::from_slice(openapi_document("apis/apps/v1").expect("served"))
            .expect("JSON");
        let patch =
            &doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"];
        let names: Vec<&str> = patch["parameters"]
            .as_array()
            .expect("parameters")
            .iter()
            .filter_map(|p| p["name"].as_str())
            .collect();
        for name in ["dryRun", "fieldManager", "fieldValidation", "force"] {
            assert!(names.contains(&name), "{name} in {names:?}");
        }
        assert_eq!(
            patch["x-kubernetes-group-version-kind"]["kind"],
            "Deployment"
        );
        assert!(
            doc["paths"]
                .get("/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale")
                .is_some()
        );
        assert!(
            doc["paths"]
                .get("/apis/apps/v1/namespaces/{namespace}/statefulsets")
                .is_none()
        );
    }

    #[test]
    fn merge_keys_strategies_and_list_types() {
        let pod = Schema::for_kind("", "v1", "Pod").expect("Pod");
        let spec = pod.field("spec").expect("spec");
        assert_eq!(spec.type_name(), "PodSpec");
        let volumes = spec.field("volumes").expect("volumes");
        assert_eq!(
            volumes.patch_strategy(),
            PatchStrategy {
                merge: true,
                retain_keys: true,
                ..PatchStrategy::default()
            }
        );
        assert_eq!(volumes.patch_merge_key(), Some("name"));
        let ports = spec
            .path(&["containers"])
            .and_then(Schema::items)
            .and_then(|c| c.field("ports"))
            .expect("ports");
        assert_eq!(ports.patch_merge_key(), Some("containerPort"));
        assert_eq!(
            ports.list_type(),
            ListType::Map(&["containerPort".to_owned(), "protocol".to_owned()])
        );
        let finalizers = pod.path(&["metadata", "finalizers"]).expect("finalizers");
        assert!(finalizers.patch_strategy().merge);
        assert_eq!(finalizers.list_type(), ListType::Set);
        let args = spec
            .path(&["containers"])
            .and_then(Schema::items)
            .and_then(|c| c.field("args"))
            .expect("args");
        assert_eq!(args.list_type(), ListType::Atomic);
        assert_eq!(args.patch_strategy(), PatchStrategy::default());
        let deployment = Schema::for_kind("apps", "v1", "Deployment").expect("Deployment");
        let strategy = deployment.path(&["spec", "strategy"]).expect("strategy");
        assert!(strategy.patch_strategy().retain_keys);
        assert!(!strategy.patch_strategy().merge);
        let selector = deployment.path(&["spec", "selector"]).expect("selector");
        assert_eq!(selector.map_type(), MapType::Atomic);
        let labels = deployment.path(&["metadata", "labels"]).expect("labels");
        assert_eq!(labels.kind(), NodeKind::Map);
        assert_eq!(labels.values().map(Schema::kind), Some(NodeKind::Scalar));
        assert_eq!(labels.map_type(), MapType::Granular);
        let max_surge = deployment
            .path(&["spec", "strategy", "rollingUpdate", "maxSurge"])
            .expect("maxSurge");
        assert_eq!(max_surge.kind(), NodeKind::Scalar);
        let fields_v1 = deployment
            .path(&["metadata", "managedFields"])
            .and_then(Schema::items)
            .and_then(|m| m.field("fieldsV1"))
            .expect("fieldsV1");
        assert!(fields_v1.preserves_unknown_fields());
    }

    #[test]
    fn unknown_fields_are_named_as_the_apiserver_names_them() {
        let deployment = Schema::for_kind("apps", "v1", "Deployment").expect("Deployment");
        let object = json!({
            "apiVersion": "apps/v1", "kind": "Deployment", "bar": 1,
            "metadata": {"name": "x", "labels": {"any": "key"}, "annotations": {"a": "b"},
                         "managedFields": [{"fieldsV1": {"f:spec": {}}}]},
            "spec": {"foo": true, "replicas": 1, "template": {"spec": {"containers": [
                {"name": "a", "image": "i"},
                {"name": "b", "bogus": "Always", "env": [{"name": "E", "valueFrom": {"nope": {}}}]}
            ]}}}
        });
        let unknown = unknown_fields(deployment, &object);
        assert_eq!(
            unknown,
            [
                "bar",
                "spec.foo",
                "spec.template.spec.containers[1].bogus",
                "spec.template.spec.containers[1].env[0].valueFrom.nope",
            ]
        );
        assert_eq!(
            strict_decoding_message(&unknown[..2]),
            r#"strict decoding error: unknown field "bar", unknown field "spec.foo""#
        );
        let crd = Schema::for_kind("apiextensions.k8s.io", "v1", "CustomResourceDefinition")
            .expect("CRD");
        let with_schema = json!({"spec": {"versions": [{"name": "v1", "schema": {"openAPIV3Schema": {
            "type": "object", "x-kubernetes-preserve-unknown-fields": true,
            "properties": {"spec": {"type": "object", "default": {"anything": [1]}}}}},
            "subresources": {"status": {"odd": 1}}}]}});
        assert_eq!(
            unknown_fields(crd, &with_schema),
            ["spec.versions[0].subresources.status.odd"]
        );
    }
}
