//! The ReplicaSet controller: as many pods as asked for, owned by the ReplicaSet; surplus pods chosen as
//! kube-controller-manager chooses them (unscheduled, pending, not ready, ready for less time, more
//! restarts, newer first); status counts of ready and available pods.

use serde_json::{Value, json};

use super::{Ctl, controller_ref};
use crate::clock;
use crate::ops;

fn is_ready(pod: &Value) -> bool {
    ready_since(pod).is_some()
}

/// When the pod's Ready condition last turned True.
pub fn ready_since(pod: &Value) -> Option<String> {
    pod.get("status").and_then(super::kubelet::ready_transition)
}

fn is_active(pod: &Value) -> bool {
    !matches!(
        pod.pointer("/status/phase").and_then(Value::as_str),
        Some("Succeeded" | "Failed")
    ) && ops::meta(pod).is_none_or(|m| !m.contains_key("deletionTimestamp"))
}

fn available(pod: &Value, min_ready_seconds: i64) -> bool {
    let Some(since) = ready_since(pod) else {
        return false;
    };
    if min_ready_seconds <= 0 {
        return true;
    }
    clock::parse(&since).is_some_and(|t| {
        #[allow(clippy::cast_precision_loss)]
        let ok = clock::seconds_between(t, clock::now()) >= min_ready_seconds as f64;
        ok
    })
}

fn phase_rank(pod: &Value) -> u8 {
    match pod.pointer("/status/phase").and_then(Value::as_str) {
        Some("Pending") => 0,
        Some("Unknown") => 1,
        Some("Running") => 2,
        _ => 3,
    }
}

fn restarts(pod: &Value) -> i64 {
    pod.pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .map_or(0, |a| {
            a.iter()
                .filter_map(|c| c.get("restartCount").and_then(Value::as_i64))
                .sum()
        })
}

/// Orders pods so the first ones are deleted first.
fn deletion_order(a: &Value, b: &Value) -> std::cmp::Ordering {
    let assigned = |p: &Value| p.pointer("/spec/nodeName").is_some();
    assigned(a)
        .cmp(&assigned(b))
        .then_with(|| phase_rank(a).cmp(&phase_rank(b)))
        .then_with(|| is_ready(a).cmp(&is_ready(b)))
        // Ready for less time first: a later transition sorts first.
        .then_with(|| ready_since(b).cmp(&ready_since(a)))
        .then_with(|| restarts(b).cmp(&restarts(a)))
        .then_with(|| {
            let created = |p: &Value| {
                ops::meta_str(p, "creationTimestamp")
                    .unwrap_or_default()
                    .to_owned()
            };
            created(b).cmp(&created(a))
        })
}

/// Syncs one ReplicaSet.
pub fn sync(ctl: &mut Ctl<'_, '_>, rs: &Value) {
    if ops::meta(rs).is_some_and(|m| m.contains_key("deletionTimestamp")) {
        return;
    }
    let ns = ops::namespace_of(rs).to_owned();
    let uid = ops::uid_of(rs).to_owned();
    let owned: Vec<Value> = ctl
        .list("", "pods", &ns)
        .into_iter()
        .filter(|p| controller_ref(p).is_some_and(|r| r == uid))
        .collect();
    let mut active: Vec<Value> = owned.iter().filter(|p| is_active(p)).cloned().collect();
    let want = rs
        .pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    let have = i64::try_from(active.len()).unwrap_or(i64::MAX);
    if have < want {
        for _ in 0..(want - have) {
            let pod = pod_from_template(rs);
            match ctl.create("", "pods", &ns, pod) {
                Ok(made) => {
                    let msg = format!("Created pod: {}", ops::name_of(&made));
                    ctl.event(rs, "Normal", "SuccessfulCreate", &msg);
                    active.push(made);
                }
                Err(e) => {
                    ctl.event(
                        rs,
                        "Warning",
                        "FailedCreate",
                        &format!("Error creating: {}", e.message),
                    );
                    break;
                }
            }
        }
    } else if have > want {
        active.sort_by(deletion_order);
        let surplus = usize::try_from(have - want).unwrap_or(0);
        let doomed: Vec<Value> = active.drain(..surplus).collect();
        for pod in doomed {
            ctl.delete("", "pods", &pod);
            let msg = format!("Deleted pod: {}", ops::name_of(&pod));
            ctl.event(rs, "Normal", "SuccessfulDelete", &msg);
        }
    }
    let Some(rs) = ctl.get("apps", "replicasets", &ns, ops::name_of(rs)) else {
        return;
    };
    let min_ready = rs
        .pointer("/spec/minReadySeconds")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let template_labels = rs
        .pointer("/spec/template/metadata/labels")
        .cloned()
        .unwrap_or_else(|| json!({}));
    let count = |f: &dyn Fn(&Value) -> bool| {
        i64::try_from(active.iter().filter(|p| f(p)).count()).unwrap_or(0)
    };
    let replicas = count(&|_| true);
    let fully_labeled = count(&|p| {
        template_labels.as_object().is_none_or(|want| {
            want.iter()
                .all(|(k, v)| p.pointer("/metadata/labels").and_then(|l| l.get(k)) == Some(v))
        })
    });
    let ready = count(&|p| is_ready(p));
    let avail = count(&|p| available(p, min_ready));
    if ready > avail && min_ready > 0 {
        ctl.wake_in(std::time::Duration::from_millis(250));
    }
    let mut status = json!({
        "replicas": replicas,
        "fullyLabeledReplicas": fully_labeled,
        "readyReplicas": ready,
        "availableReplicas": avail,
        "observedGeneration": rs.pointer("/metadata/generation").cloned().unwrap_or(json!(1)),
    });
    if let Some(map) = status.as_object_mut() {
        for key in ["fullyLabeledReplicas", "readyReplicas", "availableReplicas"] {
            if map.get(key).and_then(Value::as_i64) == Some(0) {
                map.remove(key);
            }
        }
    }
    if rs.get("status") != Some(&status) {
        let mut updated = rs.clone();
        updated["status"] = status;
        ctl.update_status("apps", "replicasets", &rs, updated);
    }
}

fn pod_from_template(rs: &Value) -> Value {
    let template = rs
        .pointer("/spec/template")
        .cloned()
        .unwrap_or_else(|| json!({}));
    let mut meta = template
        .get("metadata")
        .cloned()
        .unwrap_or_else(|| json!({}));
    if let Some(m) = meta.as_object_mut() {
        m.insert(
            "generateName".to_owned(),
            json!(format!("{}-", ops::name_of(rs))),
        );
        m.remove("name");
        m.insert("namespace".to_owned(), json!(ops::namespace_of(rs)));
        m.insert(
            "ownerReferences".to_owned(),
            json!([{
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "name": ops::name_of(rs),
                "uid": ops::uid_of(rs),
                "controller": true,
                "blockOwnerDeletion": true,
            }]),
        );
    }
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": template.get("spec").cloned().unwrap_or_else(|| json!({})),
    })
}
