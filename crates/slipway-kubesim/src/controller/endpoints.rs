//! Endpoints and EndpointSlices from Service selectors to ready pods.

use serde_json::{Value, json};

use super::Ctl;
use super::replicaset::ready_since;
use crate::ops;
use crate::selector::LabelSelector;

/// The container port a Service's `targetPort` names (a number, or a named container port).
pub fn resolve_target_port(pod: &Value, target: &Value) -> Option<i64> {
    match target {
        Value::Number(n) => n.as_i64(),
        Value::String(name) => pod
            .pointer("/spec/containers")
            .and_then(Value::as_array)?
            .iter()
            .flat_map(|c| {
                c.get("ports")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default()
            })
            .find(|p| p.get("name").and_then(Value::as_str) == Some(name))
            .and_then(|p| p.get("containerPort").and_then(Value::as_i64))
            .or_else(|| name.parse().ok()),
        _ => None,
    }
}

/// Syncs the Endpoints and the EndpointSlice of one Service.
pub fn sync(ctl: &mut Ctl<'_, '_>, svc: &Value) {
    let Some(selector) = svc.pointer("/spec/selector").and_then(Value::as_object) else {
        return;
    };
    if selector.is_empty() || ops::meta(svc).is_some_and(|m| m.contains_key("deletionTimestamp")) {
        return;
    }
    let ns = ops::namespace_of(svc).to_owned();
    let name = ops::name_of(svc).to_owned();
    let sel = LabelSelector::from_object(&json!({"matchLabels": selector}))
        .ok()
        .flatten()
        .unwrap_or_default();
    let mut pods: Vec<Value> = ctl
        .list("", "pods", &ns)
        .into_iter()
        .filter(|p| sel.matches_object(p) && p.pointer("/status/podIP").is_some())
        .collect();
    pods.sort_by(|a, b| ops::name_of(a).cmp(ops::name_of(b)));
    let ports = svc
        .pointer("/spec/ports")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let address = |p: &Value| {
        json!({
            "ip": p.pointer("/status/podIP").cloned().unwrap_or(Value::Null),
            "nodeName": p.pointer("/spec/nodeName").cloned().unwrap_or(Value::Null),
            "targetRef": {"kind": "Pod", "namespace": ns, "name": ops::name_of(p), "uid": ops::uid_of(p)},
        })
    };
    let terminating = |p: &Value| ops::meta(p).is_some_and(|m| m.contains_key("deletionTimestamp"));
    let ready: Vec<&Value> = pods
        .iter()
        .filter(|p| ready_since(p).is_some() && !terminating(p))
        .collect();
    let not_ready: Vec<&Value> = pods
        .iter()
        .filter(|p| ready_since(p).is_none() || terminating(p))
        .collect();
    let first_pod = pods.first();
    let ep_ports: Vec<Value> = ports
        .iter()
        .map(|p| {
            let target = p.get("targetPort").cloned().unwrap_or_else(|| p.get("port").cloned().unwrap_or(Value::Null));
            let port = first_pod.and_then(|pod| resolve_target_port(pod, &target)).or_else(|| target.as_i64());
            let mut out = json!({"port": port, "protocol": p.get("protocol").cloned().unwrap_or(json!("TCP"))});
            if let Some(n) = p.get("name") {
                out["name"] = n.clone();
            }
            out
        })
        .collect();
    let mut subset = json!({"ports": ep_ports});
    if !ready.is_empty() {
        subset["addresses"] = json!(ready.iter().map(|p| address(p)).collect::<Vec<_>>());
    }
    if !not_ready.is_empty() {
        subset["notReadyAddresses"] =
            json!(not_ready.iter().map(|p| address(p)).collect::<Vec<_>>());
    }
    let mut endpoints = json!({
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {"name": name, "namespace": ns,
            "labels": svc.pointer("/metadata/labels").cloned().unwrap_or_else(|| json!({}))},
    });
    if !pods.is_empty() {
        endpoints["subsets"] = json!([subset]);
    }
    match ctl.get("", "endpoints", &ns, &name) {
        None => {
            let _ = ctl.create("", "endpoints", &ns, endpoints);
        }
        Some(existing) => {
            let mut updated = existing.clone();
            match endpoints.get("subsets") {
                Some(s) => updated["subsets"] = s.clone(),
                None => {
                    if let Some(o) = updated.as_object_mut() {
                        o.remove("subsets");
                    }
                }
            }
            if updated != existing {
                ctl.update("", "endpoints", &existing, updated);
            }
        }
    }
    slice(ctl, svc, &pods, &ports, first_pod);
}

fn slice(
    ctl: &mut Ctl<'_, '_>,
    svc: &Value,
    pods: &[Value],
    ports: &[Value],
    first_pod: Option<&Value>,
) {
    let ns = ops::namespace_of(svc).to_owned();
    let name = ops::name_of(svc).to_owned();
    let endpoints: Vec<Value> = pods
        .iter()
        .map(|p| {
            let terminating = ops::meta(p).is_some_and(|m| m.contains_key("deletionTimestamp"));
            let ready = ready_since(p).is_some();
            json!({
                "addresses": [p.pointer("/status/podIP").cloned().unwrap_or(Value::Null)],
                "conditions": {"ready": ready && !terminating, "serving": ready, "terminating": terminating},
                "nodeName": p.pointer("/spec/nodeName").cloned().unwrap_or(Value::Null),
                "targetRef": {"kind": "Pod", "namespace": ns, "name": ops::name_of(p), "uid": ops::uid_of(p)},
            })
        })
        .collect();
    let slice_ports: Vec<Value> = ports
        .iter()
        .map(|p| {
            let target = p
                .get("targetPort")
                .cloned()
                .unwrap_or_else(|| p.get("port").cloned().unwrap_or(Value::Null));
            let port = first_pod
                .and_then(|pod| resolve_target_port(pod, &target))
                .or_else(|| target.as_i64());
            json!({"name": p.get("name").cloned().unwrap_or(json!("")), "port": port,
                "protocol": p.get("protocol").cloned().unwrap_or(json!("TCP"))})
        })
        .collect();
    let existing = ctl
        .list("discovery.k8s.io", "endpointslices", &ns)
        .into_iter()
        .find(|s| {
            s.pointer("/metadata/labels/kubernetes.io~1service-name")
                .and_then(Value::as_str)
                == Some(name.as_str())
        });
    if let Some(s) = existing {
        let mut updated = s.clone();
        updated["endpoints"] = json!(endpoints);
        updated["ports"] = json!(slice_ports);
        if updated != s {
            ctl.update("discovery.k8s.io", "endpointslices", &s, updated);
        }
    } else {
        {
            let slice = json!({
                "apiVersion": "discovery.k8s.io/v1",
                "kind": "EndpointSlice",
                "metadata": {
                    "generateName": format!("{name}-"),
                    "namespace": ns,
                    "labels": {"kubernetes.io/service-name": name,
                        "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"},
                    "ownerReferences": [{"apiVersion": "v1", "kind": "Service", "name": name,
                        "uid": ops::uid_of(svc), "controller": true, "blockOwnerDeletion": true}],
                },
                "addressType": "IPv4",
                "endpoints": endpoints,
                "ports": slice_ports,
            });
            let _ = ctl.create("discovery.k8s.io", "endpointslices", &ns, slice);
        }
    }
}
