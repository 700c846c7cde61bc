//! The cluster a rollout runs on: read objects, apply what slipway owns, patch what the user owns, and wait
//! for a change.
//!
//! Implementations: [`Kube`](kube::Kube) (feature `kube`: a real cluster or slipway-kubesim over HTTP,
//! server-side apply with field manager `slipway`, watches), [`DryRun`] (writes what it would apply,
//! reading from another cluster or from [`Empty`]).
//!
//! The trait has five required methods rather than one: reading, applying, patching and waiting are
//! different requests to an API server, and a backend that merged them behind one method would only move
//! the `match` into every implementation.

use std::fmt;
use std::sync::Mutex;
use std::time::Duration;

use serde_json::{Map, Value};

#[cfg(feature = "kube")]
pub mod kube;

/// The field manager slipway applies and patches as.
pub const FIELD_MANAGER: &str = "slipway";

/// A kind of object: enough to address it over the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Kind {
    /// `group/version`, or `v1` for the core group.
    pub api_version: &'static str,
    /// The kind (`Deployment`).
    pub kind: &'static str,
    /// The resource (`deployments`).
    pub plural: &'static str,
}

impl Kind {
    /// The API group (empty for the core group).
    #[must_use]
    pub fn group(&self) -> &'static str {
        self.api_version.rsplit_once('/').map_or("", |(g, _)| g)
    }

    /// The API version without the group.
    #[must_use]
    pub fn version(&self) -> &'static str {
        self.api_version
            .rsplit_once('/')
            .map_or(self.api_version, |(_, v)| v)
    }

    /// The kind of `object` among those slipway touches (by `apiVersion` and `kind`).
    #[must_use]
    pub fn of(object: &Value) -> Option<Kind> {
        let api_version = object.get("apiVersion")?.as_str()?;
        let kind = object.get("kind")?.as_str()?;
        KINDS
            .iter()
            .find(|k| k.api_version == api_version && k.kind == kind)
            .copied()
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.kind)
    }
}

/// `apps/v1` Deployments.
pub const DEPLOYMENT: Kind = Kind {
    api_version: "apps/v1",
    kind: "Deployment",
    plural: "deployments",
};
/// `apps/v1` ReplicaSets.
pub const REPLICA_SET: Kind = Kind {
    api_version: "apps/v1",
    kind: "ReplicaSet",
    plural: "replicasets",
};
/// `v1` Services.
pub const SERVICE: Kind = Kind {
    api_version: "v1",
    kind: "Service",
    plural: "services",
};
/// `v1` `ConfigMaps`.
pub const CONFIG_MAP: Kind = Kind {
    api_version: "v1",
    kind: "ConfigMap",
    plural: "configmaps",
};
/// Istio `VirtualService`s (`networking.istio.io/v1beta1`, served by every Istio since 1.5).
pub const VIRTUAL_SERVICE: Kind = Kind {
    api_version: "networking.istio.io/v1beta1",
    kind: "VirtualService",
    plural: "virtualservices",
};
/// Istio `DestinationRule`s.
pub const DESTINATION_RULE: Kind = Kind {
    api_version: "networking.istio.io/v1beta1",
    kind: "DestinationRule",
    plural: "destinationrules",
};
/// Gateway API `HTTPRoute`s (`gateway.networking.k8s.io/v1`).
pub const HTTP_ROUTE: Kind = Kind {
    api_version: "gateway.networking.k8s.io/v1",
    kind: "HTTPRoute",
    plural: "httproutes",
};

/// `autoscaling/v2` `HorizontalPodAutoscalers`.
pub const HORIZONTAL_POD_AUTOSCALER: Kind = Kind {
    api_version: "autoscaling/v2",
    kind: "HorizontalPodAutoscaler",
    plural: "horizontalpodautoscalers",
};

/// Knative Serving `Service`s (`serving.knative.dev/v1`), which Cloud Run also serves.
pub const KNATIVE_SERVICE: Kind = Kind {
    api_version: "serving.knative.dev/v1",
    kind: "Service",
    plural: "services",
};

/// Every kind slipway applies (a `--manifest` may hold only these).
pub const KINDS: &[Kind] = &[
    DEPLOYMENT,
    REPLICA_SET,
    SERVICE,
    CONFIG_MAP,
    VIRTUAL_SERVICE,
    DESTINATION_RULE,
    HTTP_ROUTE,
    KNATIVE_SERVICE,
    HORIZONTAL_POD_AUTOSCALER,
];

/// A boxed error of any [`Cluster`], for code that holds clusters of several types.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The cluster a rollout runs on, in one namespace.
///
/// Blocking: an implementation over an async client runs its own runtime (call it from a blocking
/// context, e.g. `tokio::task::spawn_blocking`).
pub trait Cluster {
    /// What the backend reports when a request fails.
    type Error: std::error::Error + Send + Sync + 'static;

    /// The object `name` of `kind`; `None` when there is none.
    fn get(&self, kind: &Kind, name: &str) -> Result<Option<Value>, Self::Error>;

    /// The objects of `kind` whose labels match `selector` (`app=web,tier!=db`; empty: all).
    fn list(&self, kind: &Kind, selector: &str) -> Result<Vec<Value>, Self::Error>;

    /// Server-side applies `object` (a whole object slipway owns, with `apiVersion`, `kind` and
    /// `metadata.name`), creating it when missing; slipway's field manager wins conflicts.
    fn apply(&self, object: &Value) -> Result<(), Self::Error>;

    /// Applies a JSON merge patch (RFC 7386) to an object the user owns.
    fn patch(&self, kind: &Kind, name: &str, merge_patch: &Value) -> Result<(), Self::Error>;

    /// Returns after the first change to an object of `kind` later than `resource_version` (an object's
    /// `metadata.resourceVersion`), or after `timeout`, whichever comes first.
    fn wait(
        &self,
        kind: &Kind,
        resource_version: &str,
        timeout: Duration,
    ) -> Result<(), Self::Error>;
}

impl<T: Cluster + ?Sized> Cluster for &T {
    type Error = T::Error;
    fn get(&self, kind: &Kind, name: &str) -> Result<Option<Value>, Self::Error> {
        (**self).get(kind, name)
    }
    fn list(&self, kind: &Kind, selector: &str) -> Result<Vec<Value>, Self::Error> {
        (**self).list(kind, selector)
    }
    fn apply(&self, object: &Value) -> Result<(), Self::Error> {
        (**self).apply(object)
    }
    fn patch(&self, kind: &Kind, name: &str, merge_patch: &Value) -> Result<(), Self::Error> {
        (**self).patch(kind, name, merge_patch)
    }
    fn wait(
        &self,
        kind: &Kind,
        resource_version: &str,
        timeout: Duration,
    ) -> Result<(), Self::Error> {
        (**self).wait(kind, resource_version, timeout)
    }
}

impl<T: Cluster + ?Sized> Cluster for Box<T> {
    type Error = T::Error;
    fn get(&self, kind: &Kind, name: &str) -> Result<Option<Value>, Self::Error> {
        (**self).get(kind, name)
    }
    fn list(&self, kind: &Kind, selector: &str) -> Result<Vec<Value>, Self::Error> {
        (**self).list(kind, selector)
    }
    fn apply(&self, object: &Value) -> Result<(), Self::Error> {
        (**self).apply(object)
    }
    fn patch(&self, kind: &Kind, name: &str, merge_patch: &Value) -> Result<(), Self::Error> {
        (**self).patch(kind, name, merge_patch)
    }
    fn wait(
        &self,
        kind: &Kind,
        resource_version: &str,
        timeout: Duration,
    ) -> Result<(), Self::Error> {
        (**self).wait(kind, resource_version, timeout)
    }
}

/// A cluster with nothing in it, that takes nothing: what [`DryRun`] reads when there is no cluster.
#[derive(Debug, Clone, Copy, Default)]
pub struct Empty;

/// [`Empty`] never fails.
#[derive(Debug, thiserror::Error)]
#[error("the empty cluster cannot fail")]
pub struct Never;

impl Cluster for Empty {
    type Error = Never;
    fn get(&self, _: &Kind, _: &str) -> Result<Option<Value>, Never> {
        Ok(None)
    }
    fn list(&self, _: &Kind, _: &str) -> Result<Vec<Value>, Never> {
        Ok(Vec::new())
    }
    fn apply(&self, _: &Value) -> Result<(), Never> {
        Ok(())
    }
    fn patch(&self, _: &Kind, _: &str, _: &Value) -> Result<(), Never> {
        Ok(())
    }
    fn wait(&self, _: &Kind, _: &str, timeout: Duration) -> Result<(), Never> {
        std::thread::sleep(timeout.min(Duration::from_millis(10)));
        Ok(())
    }
}

/// Reads from another cluster and records what would be applied instead of applying it; patches are
/// applied to the object read, so [`DryRun::render`] shows whole objects as they would become.
#[derive(Debug, Default)]
pub struct DryRun<C> {
    reader: C,
    written: Mutex<Vec<Value>>,
}

impl<C: Cluster> DryRun<C> {
    /// A dry run reading from `reader`.
    pub fn new(reader: C) -> DryRun<C> {
        DryRun {
            reader,
            written: Mutex::new(Vec::new()),
        }
    }

    /// The objects that would be applied, in order, the last version of each.
    #[must_use]
    pub fn objects(&self) -> Vec<Value> {
        self.written
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// The objects as a YAML stream (`---` between documents), server-managed fields removed.
    ///
    /// # Panics
    /// Never: JSON values always serialise as YAML.
    #[must_use]
    pub fn render(&self) -> String {
        let mut out = String::new();
        for mut object in self.objects() {
            if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
                for field in [
                    "resourceVersion",
                    "uid",
                    "generation",
                    "creationTimestamp",
                    "managedFields",
                ] {
                    meta.remove(field);
                }
            }
            if let Some(o) = object.as_object_mut() {
                o.remove("status");
            }
            out.push_str("---\n");
            out.push_str(
                &serde_saphyr::to_string(&object).expect("JSON values always serialise as YAML"),
            );
            if !out.ends_with('\n') {
                out.push('\n');
            }
        }
        out
    }

    fn record(&self, object: Value) {
        let mut written = self
            .written
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let same = |o: &Value| {
            o.get("kind") == object.get("kind")
                && o.pointer("/metadata/name") == object.pointer("/metadata/name")
        };
        if let Some(slot) = written.iter_mut().find(|o| same(o)) {
            *slot = object;
        } else {
            written.push(object);
        }
    }

    fn recorded(&self, kind: &Kind, name: &str) -> Option<Value> {
        self.written
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .find(|o| {
                o.get("kind").and_then(Value::as_str) == Some(kind.kind)
                    && o.pointer("/metadata/name").and_then(Value::as_str) == Some(name)
            })
            .cloned()
    }
}

impl<C: Cluster> Cluster for DryRun<C> {
    type Error = C::Error;
    fn get(&self, kind: &Kind, name: &str) -> Result<Option<Value>, Self::Error> {
        match self.recorded(kind, name) {
            Some(o) => Ok(Some(o)),
            None => self.reader.get(kind, name),
        }
    }
    fn list(&self, kind: &Kind, selector: &str) -> Result<Vec<Value>, Self::Error> {
        self.reader.list(kind, selector)
    }
    fn apply(&self, object: &Value) -> Result<(), Self::Error> {
        self.record(object.clone());
        Ok(())
    }
    fn patch(&self, kind: &Kind, name: &str, patch: &Value) -> Result<(), Self::Error> {
        let mut object = self.get(kind, name)?.unwrap_or_else(|| {
            serde_json::json!({"apiVersion": kind.api_version, "kind": kind.kind,
                "metadata": {"name": name}})
        });
        merge_patch(&mut object, patch);
        self.record(object);
        Ok(())
    }
    fn wait(
        &self,
        kind: &Kind,
        resource_version: &str,
        timeout: Duration,
    ) -> Result<(), Self::Error> {
        self.reader.wait(kind, resource_version, timeout)
    }
}

/// Applies a JSON merge patch (RFC 7386) to `target`.
///
/// # Panics
/// Never: the target is made an object before it is used as one.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let target = target.as_object_mut().expect("made an object above");
    for (key, value) in patch {
        if value.is_null() {
            target.remove(key);
        } else {
            merge_patch(target.entry(key.clone()).or_insert(Value::Null), value);
        }
    }
}

/// The JSON merge patch that turns `from` into `to` (keys missing from `to` become `null`; arrays and
/// scalars are replaced whole).
#[must_use]
pub fn merge_diff(from: &Value, to: &Value) -> Value {
    match (from, to) {
        (Value::Object(a), Value::Object(b)) => {
            let mut out = Map::new();
            for (key, old) in a {
                match b.get(key) {
                    None => {
                        out.insert(key.clone(), Value::Null);
                    }
                    Some(new) if new != old => {
                        out.insert(key.clone(), merge_diff(old, new));
                    }
                    Some(_) => {}
                }
            }
            for (key, new) in b {
                if !a.contains_key(key) {
                    out.insert(key.clone(), new.clone());
                }
            }
            Value::Object(out)
        }
        _ => to.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_diff_round_trips_through_merge_patch() {
        let from = json!({"metadata": {"labels": {"app": "web", "old": "x"}},
            "spec": {"containers": [{"name": "c", "image": "a"}], "keep": 1}});
        let to = json!({"metadata": {"labels": {"app": "web", "new": "y"}},
            "spec": {"containers": [{"name": "c", "image": "b"}], "keep": 1}});
        let diff = merge_diff(&from, &to);
        assert_eq!(
            diff,
            json!({"metadata": {"labels": {"old": null, "new": "y"}},
                "spec": {"containers": [{"name": "c", "image": "b"}]}})
        );
        let mut patched = from.clone();
        merge_patch(&mut patched, &diff);
        assert_eq!(patched, to);
    }

    #[test]
    fn dry_run_records_applies_and_patched_objects() {
        let dry = DryRun::new(Empty);
        dry.apply(&json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}}))
            .unwrap();
        dry.patch(&DEPLOYMENT, "web", &json!({"spec": {"replicas": 2}}))
            .unwrap();
        dry.patch(&DEPLOYMENT, "web", &json!({"spec": {"paused": true}}))
            .unwrap();
        let objects = dry.objects();
        assert_eq!(objects.len(), 2);
        assert_eq!(objects[1]["spec"], json!({"replicas": 2, "paused": true}));
        let yaml = dry.render();
        assert!(yaml.starts_with("---\n"), "{yaml}");
        assert_eq!(yaml.matches("---\n").count(), 2, "{yaml}");
    }
}
