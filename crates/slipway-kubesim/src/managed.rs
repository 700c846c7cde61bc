//! `metadata.managedFields` on every write that is not a server-side apply: the writer's manager takes
//! the fields it changed ([`crate::apply::record_update_in`]), with the scope (object, status, scale)
//! and the kind's empty object that a create is compared with.

use serde_json::{Value, json};

use crate::apply::Scope;
use crate::ops::Sub;
use crate::resource::ResourceType;
use crate::schema::Schema;

/// The schema server-side apply and ownership use for a kind (`None` for custom kinds: deduced).
pub(crate) fn schema_of(t: &ResourceType, version: &str) -> Option<&'static Schema> {
    if t.custom {
        None
    } else {
        Schema::for_kind(&t.group, version, &t.kind)
    }
}

/// The scope of a write to `sub`.
pub(crate) fn scope_of(t: &ResourceType, sub: Sub) -> Scope {
    match sub {
        Sub::Main => Scope::main(t.status_subresource),
        Sub::Status => Scope::subresource("status"),
        Sub::Scale => Scope::subresource("scale"),
    }
}

/// The kind's empty object as the apiserver's typed conversion writes it: the structs that are not
/// pointers are there (`{}`), fields without `omitempty` are `null`. A create is compared with it, so
/// maps and lists it lacks are new (`.` in the entry) and those it has are not.
fn zero_object(t: &ResourceType) -> Value {
    let meta = json!({"creationTimestamp": null});
    let template = json!({"metadata": {"creationTimestamp": null}, "spec": {"containers": null}});
    match (t.group.as_str(), t.kind.as_str()) {
        ("apps", "Deployment") => json!({"metadata": meta, "spec": {"selector": null,
            "template": template, "strategy": {}}, "status": {}}),
        ("apps", "ReplicaSet") => json!({"metadata": meta, "spec": {"selector": null,
            "template": template}, "status": {"replicas": 0}}),
        ("", "Pod") => json!({"metadata": meta, "spec": {"containers": null}, "status": {}}),
        ("", "Service") => json!({"metadata": meta, "spec": {}, "status": {"loadBalancer": {}}}),
        ("", "Namespace" | "Node") => json!({"metadata": meta, "spec": {}, "status": {}}),
        ("", "Event") => json!({"metadata": meta, "involvedObject": {}, "source": {},
            "firstTimestamp": null, "lastTimestamp": null, "eventTime": null,
            "reportingComponent": "", "reportingInstance": ""}),
        ("discovery.k8s.io", "EndpointSlice") => {
            json!({"metadata": meta, "addressType": "", "endpoints": null, "ports": null})
        }
        ("apiextensions.k8s.io", "CustomResourceDefinition") => json!({"metadata": meta,
            "spec": {"group": "", "names": {"plural": "", "kind": ""}, "scope": "", "versions": null},
            "status": {"acceptedNames": {"plural": "", "kind": ""}, "storedVersions": null}}),
        _ if t.custom => json!({}),
        _ => json!({"metadata": meta}),
    }
}

/// Records a write by `manager` (create when `old` is `None`) of `version` to `sub` in `new`'s
/// managedFields, as the apiserver does for creates, updates and patches.
pub fn record(
    old: Option<&Value>,
    new: &mut Value,
    manager: &str,
    t: &ResourceType,
    version: &str,
    sub: Sub,
) {
    let api_version = crate::resource::api_version(&t.group, version);
    crate::apply::record_update_in(
        scope_of(t, sub),
        old,
        &zero_object(t),
        new,
        manager,
        &api_version,
        &crate::clock::now_string(),
        schema_of(t, version),
    );
}
