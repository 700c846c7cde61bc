//! The Deployment controller, as kube-controller-manager's: ReplicaSets named by pod-template-hash,
//! revisions, `RollingUpdate` (surge rounded up, unavailable rounded down), Recreate, paused, proportional
//! scaling, progress deadlines, revision history, and the status `kubectl rollout status` reads.

use serde_json::{Value, json};

use super::{Ctl, condition_set, controller_ref, int_or_percent, now};
use crate::clock;
use crate::ops;
use crate::selector::LabelSelector;

/// The annotation holding a ReplicaSet's (and its Deployment's) revision.
pub const REVISION: &str = "deployment.kubernetes.io/revision";
const REVISION_HISTORY: &str = "deployment.kubernetes.io/revision-history";
const DESIRED: &str = "deployment.kubernetes.io/desired-replicas";
const MAX_REPLICAS: &str = "deployment.kubernetes.io/max-replicas";
/// The label that ties a ReplicaSet and its pods to one template.
pub const HASH_LABEL: &str = "pod-template-hash";

const SAFE: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// FNV-32a of the template (and the collision count), rendered as the apiserver renders
/// `pod-template-hash`: the decimal digits of the hash through the "safe encoding" alphabet.
pub fn template_hash(template: &Value, collision_count: Option<i64>) -> String {
    let mut h: u32 = 0x811c_9dc5;
    let mut feed = |bytes: &[u8]| {
        for b in bytes {
            h ^= u32::from(*b);
            h = h.wrapping_mul(0x0100_0193);
        }
    };
    feed(canonical(template).as_bytes());
    if let Some(c) = collision_count {
        feed(&c.to_le_bytes());
    }
    h.to_string()
        .bytes()
        .map(|b| char::from(SAFE[usize::from(b) % SAFE.len()]))
        .collect()
}

/// JSON with sorted keys (`serde_json`'s map is sorted): the same template always hashes the same.
fn canonical(v: &Value) -> String {
    v.to_string()
}

fn template_without_hash(template: &Value) -> Value {
    let mut t = template.clone();
    if let Some(labels) = t
        .pointer_mut("/metadata/labels")
        .and_then(Value::as_object_mut)
    {
        labels.remove(HASH_LABEL);
        if labels.is_empty()
            && let Some(meta) = t.get_mut("metadata").and_then(Value::as_object_mut)
        {
            meta.remove("labels");
        }
    }
    t
}

fn revision_of(rs: &Value) -> i64 {
    rs.pointer("/metadata/annotations")
        .and_then(|a| a.get(REVISION))
        .and_then(Value::as_str)
        .and_then(|r| r.parse().ok())
        .unwrap_or(0)
}

fn replicas(rs: &Value) -> i64 {
    rs.pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(0)
}

fn status_int(o: &Value, key: &str) -> i64 {
    o.pointer(&format!("/status/{key}"))
        .and_then(Value::as_i64)
        .unwrap_or(0)
}

fn created(o: &Value) -> String {
    ops::meta_str(o, "creationTimestamp")
        .unwrap_or_default()
        .to_owned()
}

/// Annotations a Deployment passes on to its ReplicaSets.
fn copied_annotations(d: &Value) -> serde_json::Map<String, Value> {
    d.pointer("/metadata/annotations")
        .and_then(Value::as_object)
        .map(|a| {
            a.iter()
                .filter(|(k, _)| {
                    !matches!(
                        k.as_str(),
                        "kubectl.kubernetes.io/last-applied-configuration"
                            | REVISION
                            | REVISION_HISTORY
                            | DESIRED
                            | MAX_REPLICAS
                            | "deprecated.deployment.rollback.to"
                    )
                })
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default()
}

struct Limits {
    surge: i64,
    unavailable: i64,
}

fn limits(d: &Value, desired: i64) -> Limits {
    if d.pointer("/spec/strategy/type").and_then(Value::as_str) != Some("RollingUpdate") {
        return Limits {
            surge: 0,
            unavailable: 0,
        };
    }
    let surge = int_or_percent(
        d.pointer("/spec/strategy/rollingUpdate/maxSurge"),
        desired,
        true,
    );
    let mut unavailable = int_or_percent(
        d.pointer("/spec/strategy/rollingUpdate/maxUnavailable"),
        desired,
        false,
    );
    if surge == 0 && unavailable == 0 {
        unavailable = 1;
    }
    Limits {
        surge,
        unavailable: unavailable.min(desired),
    }
}

/// Syncs one Deployment.
pub fn sync(ctl: &mut Ctl<'_, '_>, d: &Value) {
    if ops::meta(d).is_some_and(|m| m.contains_key("deletionTimestamp")) {
        return;
    }
    let ns = ops::namespace_of(d).to_owned();
    let uid = ops::uid_of(d).to_owned();
    let Ok(Some(selector)) =
        LabelSelector::from_object(d.pointer("/spec/selector").unwrap_or(&Value::Null))
    else {
        return;
    };
    // Adopt matching orphans, then work on the owned ReplicaSets.
    let orphans: Vec<Value> = ctl
        .list("apps", "replicasets", &ns)
        .into_iter()
        .filter(|rs| {
            controller_ref(rs).is_none() && selector.matches_object(rs) && !selector.is_empty()
        })
        .collect();
    for rs in orphans {
        let mut adopted = rs.clone();
        ops::meta_mut(&mut adopted).insert(
            "ownerReferences".to_owned(),
            json!([owner_ref(d, "Deployment")]),
        );
        ctl.update("apps", "replicasets", &rs, adopted);
    }
    let rss: Vec<Value> = ctl
        .list("apps", "replicasets", &ns)
        .into_iter()
        .filter(|rs| controller_ref(rs).is_some_and(|r| r == uid))
        .collect();
    let mut d = d.clone();
    check_paused_condition(ctl, &mut d);
    let paused = d.pointer("/spec/paused").and_then(Value::as_bool) == Some(true);
    let desired = d
        .pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    if paused || is_scaling_event(&rss, desired) {
        let (new_rs, olds) = new_and_old(ctl, &mut d, &rss, false);
        scale(ctl, &d, new_rs.as_ref(), &olds, desired);
        let (new_rs, olds) = refreshed(ctl, &d, &uid);
        if paused && complete(&d, &calculate_status(&d, new_rs.as_ref(), &olds, desired)) {
            cleanup(ctl, &d, &olds);
        }
        sync_status(ctl, &d, new_rs.as_ref(), &olds, desired, false);
        return;
    }
    let recreate = d.pointer("/spec/strategy/type").and_then(Value::as_str) == Some("Recreate");
    if recreate {
        rollout_recreate(ctl, &mut d, &rss, desired);
    } else {
        rollout_rolling(ctl, &mut d, &rss, desired);
    }
}

fn owner_ref(owner: &Value, kind: &str) -> Value {
    json!({
        "apiVersion": owner.get("apiVersion").and_then(Value::as_str).unwrap_or("apps/v1"),
        "kind": kind,
        "name": ops::name_of(owner),
        "uid": ops::uid_of(owner),
        "controller": true,
        "blockOwnerDeletion": true,
    })
}

fn refreshed(ctl: &Ctl<'_, '_>, d: &Value, uid: &str) -> (Option<Value>, Vec<Value>) {
    let rss: Vec<Value> = ctl
        .list("apps", "replicasets", ops::namespace_of(d))
        .into_iter()
        .filter(|rs| controller_ref(rs).is_some_and(|r| r == uid))
        .collect();
    split_new(d, &rss)
}

fn split_new(d: &Value, rss: &[Value]) -> (Option<Value>, Vec<Value>) {
    let template = template_without_hash(d.pointer("/spec/template").unwrap_or(&Value::Null));
    let mut matching: Vec<&Value> = rss
        .iter()
        .filter(|rs| {
            template_without_hash(rs.pointer("/spec/template").unwrap_or(&Value::Null)) == template
        })
        .collect();
    matching.sort_by_key(|rs| created(rs));
    let new_rs = matching.first().map(|rs| (*rs).clone());
    let new_uid = new_rs.as_ref().map(|rs| ops::uid_of(rs).to_owned());
    let olds = rss
        .iter()
        .filter(|rs| Some(ops::uid_of(rs).to_owned()) != new_uid)
        .cloned()
        .collect();
    (new_rs, olds)
}

fn is_scaling_event(rss: &[Value], desired: i64) -> bool {
    rss.iter().filter(|rs| replicas(rs) > 0).any(|rs| {
        rs.pointer("/metadata/annotations")
            .and_then(|a| a.get(DESIRED))
            .and_then(Value::as_str)
            .and_then(|v| v.parse::<i64>().ok())
            .is_some_and(|v| v != desired)
    })
}

fn check_paused_condition(ctl: &mut Ctl<'_, '_>, d: &mut Value) {
    if d.pointer("/spec/progressDeadlineSeconds").is_none() {
        return;
    }
    let paused = d.pointer("/spec/paused").and_then(Value::as_bool) == Some(true);
    let reason = d
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .and_then(|c| {
            c.iter()
                .find(|c| c.get("type") == Some(&json!("Progressing")))
        })
        .and_then(|c| c.get("reason"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let change = if paused && reason.as_deref() != Some("DeploymentPaused") {
        Some(("DeploymentPaused", "Deployment is paused"))
    } else if !paused && reason.as_deref() == Some("DeploymentPaused") {
        Some(("DeploymentResumed", "Deployment is resumed"))
    } else {
        None
    };
    if let Some((reason, message)) = change {
        let mut status = d.get("status").cloned().unwrap_or_else(|| json!({}));
        condition_set(&mut status, "Progressing", "Unknown", reason, message);
        let mut updated = d.clone();
        updated["status"] = status;
        if let Some(written) = ctl.update_status("apps", "deployments", d, updated) {
            *d = written;
        }
    }
}

// Mirrors getNewReplicaSet: revision sync of an existing ReplicaSet, creation with collision handling.
#[allow(clippy::too_many_lines)]
/// Finds or creates the new ReplicaSet and syncs revisions; returns it and the old ones.
fn new_and_old(
    ctl: &mut Ctl<'_, '_>,
    d: &mut Value,
    rss: &[Value],
    create: bool,
) -> (Option<Value>, Vec<Value>) {
    let (existing, olds) = split_new(d, rss);
    let max_old = olds.iter().map(revision_of).max().unwrap_or(0);
    let new_revision = max_old + 1;
    let desired = d
        .pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    let lim = limits(d, desired);
    if let Some(rs) = existing {
        let current_revision = revision_of(&rs);
        let mut updated = rs.clone();
        let mut annotations = updated
            .pointer("/metadata/annotations")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        for (k, v) in copied_annotations(d) {
            annotations.insert(k, v);
        }
        if current_revision < new_revision {
            if current_revision > 0 {
                let history = annotations
                    .get(REVISION_HISTORY)
                    .and_then(Value::as_str)
                    .map_or_else(
                        || current_revision.to_string(),
                        |h| format!("{h},{current_revision}"),
                    );
                annotations.insert(REVISION_HISTORY.to_owned(), json!(history));
            }
            annotations.insert(REVISION.to_owned(), json!(new_revision.to_string()));
        }
        if replicas(&rs) == desired || !annotations.contains_key(DESIRED) {
            annotations.insert(DESIRED.to_owned(), json!(desired.to_string()));
            annotations.insert(
                MAX_REPLICAS.to_owned(),
                json!((desired + lim.surge).to_string()),
            );
        }
        ops::meta_mut(&mut updated).insert("annotations".to_owned(), Value::Object(annotations));
        let rs = if updated == rs {
            rs
        } else {
            ctl.update("apps", "replicasets", &rs, updated)
                .unwrap_or(rs)
        };
        set_deployment_revision(ctl, d, &revision_of(&rs).to_string());
        if d.pointer("/status/conditions")
            .and_then(Value::as_array)
            .is_none_or(|c| {
                !c.iter()
                    .any(|c| c.get("type") == Some(&json!("Progressing")))
            })
            && d.pointer("/spec/progressDeadlineSeconds").is_some()
        {
            let mut status = d.get("status").cloned().unwrap_or_else(|| json!({}));
            let message = format!("Found new replica set \"{}\"", ops::name_of(&rs));
            condition_set(
                &mut status,
                "Progressing",
                "True",
                "FoundNewReplicaSet",
                &message,
            );
            let mut updated = d.clone();
            updated["status"] = status;
            if let Some(w) = ctl.update_status("apps", "deployments", d, updated) {
                *d = w;
            }
        }
        return (Some(rs), olds);
    }
    if !create {
        return (None, olds);
    }
    let template = d
        .pointer("/spec/template")
        .cloned()
        .unwrap_or_else(|| json!({}));
    let mut collision = d.pointer("/status/collisionCount").and_then(Value::as_i64);
    for _ in 0..8 {
        let hash = template_hash(&template_without_hash(&template), collision);
        let name = format!("{}-{hash}", ops::name_of(d));
        let mut tpl = template.clone();
        if let Some(meta) = tpl
            .as_object_mut()
            .map(|t| t.entry("metadata").or_insert_with(|| json!({})))
        {
            let labels = meta
                .as_object_mut()
                .map(|m| m.entry("labels").or_insert_with(|| json!({})));
            if let Some(labels) = labels.and_then(Value::as_object_mut) {
                labels.insert(HASH_LABEL.to_owned(), json!(hash));
            }
        }
        let mut selector = d
            .pointer("/spec/selector")
            .cloned()
            .unwrap_or_else(|| json!({}));
        selector
            .as_object_mut()
            .map(|s| s.entry("matchLabels").or_insert_with(|| json!({})))
            .and_then(Value::as_object_mut)
            .map(|m| m.insert(HASH_LABEL.to_owned(), json!(hash)));
        let mut labels = tpl
            .pointer("/metadata/labels")
            .cloned()
            .unwrap_or_else(|| json!({}));
        if let Some(l) = labels.as_object_mut() {
            l.insert(HASH_LABEL.to_owned(), json!(hash));
        }
        let mut annotations = copied_annotations(d);
        annotations.insert(REVISION.to_owned(), json!(new_revision.to_string()));
        annotations.insert(DESIRED.to_owned(), json!(desired.to_string()));
        annotations.insert(
            MAX_REPLICAS.to_owned(),
            json!((desired + lim.surge).to_string()),
        );
        let all: Vec<Value> = olds.clone();
        let start = if d.pointer("/spec/strategy/type").and_then(Value::as_str) == Some("Recreate")
        {
            desired
        } else {
            new_rs_replicas(d, &all, None, desired, &lim)
        };
        let rs = json!({
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": name,
                "namespace": ops::namespace_of(d),
                "labels": labels,
                "annotations": annotations,
                "ownerReferences": [owner_ref(d, "Deployment")],
            },
            "spec": {
                "replicas": start,
                "minReadySeconds": d.pointer("/spec/minReadySeconds").cloned().unwrap_or(json!(0)),
                "selector": selector,
                "template": tpl,
            },
        });
        match ctl.create("apps", "replicasets", ops::namespace_of(d), rs) {
            Ok(made) => {
                if start > 0 {
                    ctl.event(
                        d,
                        "Normal",
                        "ScalingReplicaSet",
                        &format!("Scaled up replica set {name} from 0 to {start}"),
                    );
                }
                set_deployment_revision(ctl, d, &new_revision.to_string());
                if d.pointer("/spec/progressDeadlineSeconds").is_some() {
                    let mut status = d.get("status").cloned().unwrap_or_else(|| json!({}));
                    let message = format!("Created new replica set \"{name}\"");
                    condition_set(
                        &mut status,
                        "Progressing",
                        "True",
                        "NewReplicaSetCreated",
                        &message,
                    );
                    let mut updated = d.clone();
                    updated["status"] = status;
                    if let Some(w) = ctl.update_status("apps", "deployments", d, updated) {
                        *d = w;
                    }
                }
                return (Some(made), olds);
            }
            Err(e) if e.reason == "AlreadyExists" => {
                // A ReplicaSet of that name with another template: bump the collision count.
                collision = Some(collision.unwrap_or(0) + 1);
                let mut updated = d.clone();
                updated["status"]["collisionCount"] = json!(collision);
                if let Some(w) = ctl.update_status("apps", "deployments", d, updated) {
                    *d = w;
                }
            }
            Err(_) => return (None, olds),
        }
    }
    (None, olds)
}

fn set_deployment_revision(ctl: &mut Ctl<'_, '_>, d: &mut Value, revision: &str) {
    let current = d
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(REVISION))
        .and_then(Value::as_str);
    if current == Some(revision) {
        return;
    }
    let mut updated = d.clone();
    let meta = ops::meta_mut(&mut updated);
    let annotations = meta.entry("annotations").or_insert_with(|| json!({}));
    if let Some(a) = annotations.as_object_mut() {
        a.insert(REVISION.to_owned(), json!(revision));
    }
    if let Some(w) = ctl.update("apps", "deployments", d, updated) {
        *d = w;
    }
}

fn new_rs_replicas(
    d: &Value,
    all: &[Value],
    new_rs: Option<&Value>,
    desired: i64,
    lim: &Limits,
) -> i64 {
    let current_new = new_rs.map_or(0, replicas);
    let current: i64 = all.iter().map(replicas).sum::<i64>() + current_new;
    let _ = d;
    let max_total = desired + lim.surge;
    if current >= max_total {
        return current_new;
    }
    let up = (max_total - current).min(desired - current_new).max(0);
    current_new + up
}

fn scale_rs(ctl: &mut Ctl<'_, '_>, d: &Value, rs: &Value, to: i64, lim: &Limits) -> bool {
    let desired = d
        .pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    let from = replicas(rs);
    let mut updated = rs.clone();
    updated["spec"]["replicas"] = json!(to);
    let annotations = ops::meta_mut(&mut updated)
        .entry("annotations")
        .or_insert_with(|| json!({}));
    if let Some(a) = annotations.as_object_mut() {
        a.insert(DESIRED.to_owned(), json!(desired.to_string()));
        a.insert(
            MAX_REPLICAS.to_owned(),
            json!((desired + lim.surge).to_string()),
        );
    }
    if updated == *rs {
        return false;
    }
    let changed = from != to;
    if ctl.update("apps", "replicasets", rs, updated).is_some() && changed {
        let verb = if to > from { "up" } else { "down" };
        ctl.event(
            d,
            "Normal",
            "ScalingReplicaSet",
            &format!(
                "Scaled {verb} replica set {} from {from} to {to}",
                ops::name_of(rs)
            ),
        );
    }
    changed
}

/// Proportional scaling when the replica count changes mid-rollout (or while paused).
fn scale(ctl: &mut Ctl<'_, '_>, d: &Value, new_rs: Option<&Value>, olds: &[Value], desired: i64) {
    let lim = limits(d, desired);
    let mut active: Vec<Value> = olds.iter().filter(|rs| replicas(rs) > 0).cloned().collect();
    if let Some(n) = new_rs {
        active.insert(0, n.clone());
    }
    let active_nonzero: Vec<&Value> = active.iter().filter(|rs| replicas(rs) > 0).collect();
    if active_nonzero.len() <= 1 {
        let target = active_nonzero.first().copied().or(new_rs);
        if let Some(rs) = target {
            scale_rs(ctl, d, rs, desired, &lim);
        }
        return;
    }
    if let Some(n) = new_rs
        && replicas(n) == desired
        && status_int(n, "availableReplicas") == desired
    {
        for rs in olds.iter().filter(|rs| replicas(rs) > 0) {
            scale_rs(ctl, d, rs, 0, &lim);
        }
        return;
    }
    let all_replicas: i64 = active.iter().map(replicas).sum();
    let allowed = desired + lim.surge;
    let to_add = allowed - all_replicas;
    if to_add == 0 {
        return;
    }
    let mut sorted = active.clone();
    if to_add > 0 {
        sorted.sort_by(|a, b| {
            replicas(b)
                .cmp(&replicas(a))
                .then_with(|| created(b).cmp(&created(a)))
        });
    } else {
        sorted.sort_by(|a, b| {
            replicas(a)
                .cmp(&replicas(b))
                .then_with(|| created(a).cmp(&created(b)))
        });
    }
    let mut added = 0;
    let mut targets: Vec<i64> = Vec::new();
    for rs in &sorted {
        let max = rs
            .pointer("/metadata/annotations")
            .and_then(|a| a.get(MAX_REPLICAS))
            .and_then(Value::as_str)
            .and_then(|v| v.parse::<i64>().ok())
            .unwrap_or(all_replicas)
            .max(1);
        #[allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]
        let share =
            ((replicas(rs) as f64) * (allowed as f64) / (max as f64)).round() as i64 - replicas(rs);
        let room = to_add - added;
        let share = if to_add > 0 {
            share.clamp(0, room)
        } else {
            share.clamp(room, 0)
        };
        added += share;
        targets.push(replicas(rs) + share);
    }
    if let Some(first) = targets.first_mut() {
        *first = (*first + to_add - added).max(0);
    }
    for (rs, to) in sorted.iter().zip(targets) {
        scale_rs(ctl, d, rs, to.max(0), &lim);
    }
}

fn rollout_rolling(ctl: &mut Ctl<'_, '_>, d: &mut Value, rss: &[Value], desired: i64) {
    let (new_rs, olds) = new_and_old(ctl, d, rss, true);
    let lim = limits(d, desired);
    let Some(new_rs) = new_rs else {
        sync_status(ctl, d, None, &olds, desired, true);
        return;
    };
    // Scale the new ReplicaSet up within the surge.
    let target = if replicas(&new_rs) > desired {
        desired
    } else {
        new_rs_replicas(d, &olds, Some(&new_rs), desired, &lim)
    };
    if target != replicas(&new_rs) && scale_rs(ctl, d, &new_rs, target, &lim) {
        let (n, o) = refreshed(ctl, d, ops::uid_of(d));
        sync_status(ctl, d, n.as_ref(), &o, desired, true);
        return;
    }
    // Scale old ReplicaSets down within the unavailability budget.
    if scale_down_old(ctl, d, &new_rs, &olds, desired, &lim) {
        let (n, o) = refreshed(ctl, d, ops::uid_of(d));
        sync_status(ctl, d, n.as_ref(), &o, desired, true);
        return;
    }
    let (n, o) = refreshed(ctl, d, ops::uid_of(d));
    if complete(d, &calculate_status(d, n.as_ref(), &o, desired)) {
        cleanup(ctl, d, &o);
    }
    let (n, o) = refreshed(ctl, d, ops::uid_of(d));
    sync_status(ctl, d, n.as_ref(), &o, desired, true);
}

fn scale_down_old(
    ctl: &mut Ctl<'_, '_>,
    d: &Value,
    new_rs: &Value,
    olds: &[Value],
    desired: i64,
    lim: &Limits,
) -> bool {
    let old_pods: i64 = olds.iter().map(replicas).sum();
    if old_pods == 0 {
        return false;
    }
    let all_pods = old_pods + replicas(new_rs);
    let min_available = desired - lim.unavailable;
    let new_unavailable = replicas(new_rs) - status_int(new_rs, "availableReplicas");
    let max_scaled_down = all_pods - min_available - new_unavailable;
    if max_scaled_down <= 0 {
        return false;
    }
    let mut olds_sorted: Vec<Value> = olds.to_vec();
    olds_sorted.sort_by_key(created);
    // First the old ReplicaSets' unhealthy pods.
    let mut cleaned = 0;
    let mut after_cleanup = Vec::new();
    let mut changed = false;
    for rs in olds_sorted {
        if cleaned >= max_scaled_down || replicas(&rs) == 0 {
            after_cleanup.push(rs);
            continue;
        }
        let available = status_int(&rs, "availableReplicas");
        if available >= replicas(&rs) {
            after_cleanup.push(rs);
            continue;
        }
        let down = (max_scaled_down - cleaned).min(replicas(&rs) - available);
        let to = replicas(&rs) - down;
        cleaned += down;
        if scale_rs(ctl, d, &rs, to, lim) {
            changed = true;
        }
        let mut rs = rs;
        rs["spec"]["replicas"] = json!(to);
        after_cleanup.push(rs);
    }
    // Then healthy ones, as far as availability allows.
    let available: i64 = after_cleanup
        .iter()
        .map(|rs| status_int(rs, "availableReplicas"))
        .sum::<i64>()
        + status_int(new_rs, "availableReplicas");
    if available > min_available {
        let total = available - min_available;
        let mut done = 0;
        for rs in after_cleanup {
            if done >= total {
                break;
            }
            if replicas(&rs) == 0 {
                continue;
            }
            let down = replicas(&rs).min(total - done);
            done += down;
            if scale_rs(ctl, d, &rs, replicas(&rs) - down, lim) {
                changed = true;
            }
        }
    }
    changed
}

fn rollout_recreate(ctl: &mut Ctl<'_, '_>, d: &mut Value, rss: &[Value], desired: i64) {
    let (new_rs, olds) = new_and_old(ctl, d, rss, false);
    let lim = limits(d, desired);
    let mut scaled = false;
    for rs in olds.iter().filter(|rs| replicas(rs) > 0) {
        scaled |= scale_rs(ctl, d, rs, 0, &lim);
    }
    if scaled {
        let (n, o) = refreshed(ctl, d, ops::uid_of(d));
        sync_status(ctl, d, n.as_ref(), &o, desired, true);
        return;
    }
    let old_uids: Vec<String> = olds.iter().map(|rs| ops::uid_of(rs).to_owned()).collect();
    let old_pods_running = ctl
        .list("", "pods", ops::namespace_of(d))
        .iter()
        .filter(|p| controller_ref(p).is_some_and(|r| old_uids.contains(&r)))
        .any(|p| {
            !matches!(
                p.pointer("/status/phase").and_then(Value::as_str),
                Some("Succeeded" | "Failed")
            )
        });
    if old_pods_running {
        sync_status(ctl, d, new_rs.as_ref(), &olds, desired, true);
        return;
    }
    let new_rs = match new_rs {
        Some(rs) => Some(rs),
        None => new_and_old(ctl, d, rss, true).0,
    };
    if let Some(rs) = &new_rs
        && replicas(rs) != desired
    {
        scale_rs(ctl, d, rs, desired, &lim);
    }
    let (n, o) = refreshed(ctl, d, ops::uid_of(d));
    if complete(d, &calculate_status(d, n.as_ref(), &o, desired)) {
        cleanup(ctl, d, &o);
    }
    sync_status(ctl, d, n.as_ref(), &o, desired, true);
}

fn cleanup(ctl: &mut Ctl<'_, '_>, d: &Value, olds: &[Value]) {
    let Some(limit) = d
        .pointer("/spec/revisionHistoryLimit")
        .and_then(Value::as_i64)
    else {
        return;
    };
    let mut dead: Vec<&Value> = olds
        .iter()
        .filter(|rs| replicas(rs) == 0 && status_int(rs, "replicas") == 0)
        .filter(|rs| ops::meta(rs).is_none_or(|m| !m.contains_key("deletionTimestamp")))
        .collect();
    let excess = i64::try_from(dead.len()).unwrap_or(0) - limit;
    if excess <= 0 {
        return;
    }
    dead.sort_by_key(|rs| (revision_of(rs), created(rs)));
    for rs in dead.into_iter().take(usize::try_from(excess).unwrap_or(0)) {
        ctl.delete("apps", "replicasets", rs);
    }
}

fn calculate_status(d: &Value, new_rs: Option<&Value>, olds: &[Value], desired: i64) -> Value {
    let all: Vec<&Value> = new_rs.into_iter().chain(olds.iter()).collect();
    let sum = |key: &str| all.iter().map(|rs| status_int(rs, key)).sum::<i64>();
    let available = sum("availableReplicas");
    let mut status = d.get("status").cloned().unwrap_or_else(|| json!({}));
    status["observedGeneration"] = d
        .pointer("/metadata/generation")
        .cloned()
        .unwrap_or(json!(1));
    status["replicas"] = json!(sum("replicas"));
    status["updatedReplicas"] = json!(new_rs.map_or(0, |rs| status_int(rs, "replicas")));
    status["readyReplicas"] = json!(sum("readyReplicas"));
    status["availableReplicas"] = json!(available);
    let unavailable = (desired - available).max(0);
    status["unavailableReplicas"] = json!(unavailable);
    let lim = limits(d, desired);
    let min_available = desired - lim.unavailable;
    if available >= min_available {
        condition_set(
            &mut status,
            "Available",
            "True",
            "MinimumReplicasAvailable",
            "Deployment has minimum availability.",
        );
    } else {
        condition_set(
            &mut status,
            "Available",
            "False",
            "MinimumReplicasUnavailable",
            "Deployment does not have minimum availability.",
        );
    }
    // Zero fields are omitted, as the apiserver's JSON omits them.
    if let Some(map) = status.as_object_mut() {
        for key in [
            "replicas",
            "updatedReplicas",
            "readyReplicas",
            "availableReplicas",
            "unavailableReplicas",
        ] {
            if map.get(key).and_then(Value::as_i64) == Some(0) {
                map.remove(key);
            }
        }
    }
    status
}

fn complete(d: &Value, status: &Value) -> bool {
    let desired = d
        .pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    let get = |k: &str| status.get(k).and_then(Value::as_i64).unwrap_or(0);
    get("updatedReplicas") == desired
        && get("replicas") == desired
        && get("availableReplicas") == desired
        && get("observedGeneration")
            >= d.pointer("/metadata/generation")
                .and_then(Value::as_i64)
                .unwrap_or(0)
}

fn sync_status(
    ctl: &mut Ctl<'_, '_>,
    d: &Value,
    new_rs: Option<&Value>,
    olds: &[Value],
    desired: i64,
    progress: bool,
) {
    let Some(d) = ctl.get("apps", "deployments", ops::namespace_of(d), ops::name_of(d)) else {
        return;
    };
    let old_status = d.get("status").cloned().unwrap_or_else(|| json!({}));
    let mut status = calculate_status(&d, new_rs, olds, desired);
    let paused = d.pointer("/spec/paused").and_then(Value::as_bool) == Some(true);
    if progress
        && !paused
        && let Some(deadline) = d
            .pointer("/spec/progressDeadlineSeconds")
            .and_then(Value::as_i64)
    {
        let rs_name = new_rs
            .map(|rs| ops::name_of(rs).to_owned())
            .unwrap_or_default();
        let get = |s: &Value, k: &str| s.get(k).and_then(Value::as_i64).unwrap_or(0);
        let old_old = get(&old_status, "replicas") - get(&old_status, "updatedReplicas");
        let new_old = get(&status, "replicas") - get(&status, "updatedReplicas");
        let progressing = get(&status, "updatedReplicas") > get(&old_status, "updatedReplicas")
            || new_old < old_old
            || get(&status, "readyReplicas") > get(&old_status, "readyReplicas")
            || get(&status, "availableReplicas") > get(&old_status, "availableReplicas");
        let current = status
            .get("conditions")
            .and_then(Value::as_array)
            .and_then(|c| {
                c.iter()
                    .find(|c| c.get("type") == Some(&json!("Progressing")))
            })
            .cloned();
        let current_reason = current
            .as_ref()
            .and_then(|c| c.get("reason"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        if complete(&d, &status) {
            let msg = format!("ReplicaSet \"{rs_name}\" has successfully progressed.");
            condition_set_updating(
                &mut status,
                "Progressing",
                "True",
                "NewReplicaSetAvailable",
                &msg,
            );
        } else if progressing {
            let msg = format!("ReplicaSet \"{rs_name}\" is progressing.");
            condition_set_updating(
                &mut status,
                "Progressing",
                "True",
                "ReplicaSetUpdated",
                &msg,
            );
        } else if current_reason != "NewReplicaSetAvailable"
            && current_reason != "ProgressDeadlineExceeded"
        {
            let last = current
                .as_ref()
                .and_then(|c| c.get("lastUpdateTime"))
                .and_then(Value::as_str)
                .and_then(clock::parse);
            #[allow(clippy::cast_precision_loss)]
            let timed_out =
                last.is_some_and(|t| clock::seconds_between(t, now()) > deadline as f64);
            if timed_out {
                let msg = format!("ReplicaSet \"{rs_name}\" has timed out progressing.");
                condition_set(
                    &mut status,
                    "Progressing",
                    "False",
                    "ProgressDeadlineExceeded",
                    &msg,
                );
            } else {
                ctl.wake_at_seconds(deadline);
            }
        }
    }
    if status != old_status {
        let mut updated = d.clone();
        updated["status"] = status;
        ctl.update_status("apps", "deployments", &d, updated);
    }
}

/// Like [`condition_set`] but refreshes `lastUpdateTime` on every call that changes the message or
/// progresses (as `SetDeploymentCondition` with a new condition does for `ReplicaSetUpdated`).
fn condition_set_updating(
    status: &mut Value,
    type_: &str,
    value: &str,
    reason: &str,
    message: &str,
) {
    let existing = status
        .get("conditions")
        .and_then(Value::as_array)
        .and_then(|c| c.iter().find(|c| c.get("type") == Some(&json!(type_))))
        .cloned();
    let same = existing.as_ref().is_some_and(|c| {
        c.get("status") == Some(&json!(value)) && c.get("reason") == Some(&json!(reason))
    });
    if same && reason == "ReplicaSetUpdated" {
        // Progress made: refresh lastUpdateTime (the deadline counts from the last progress).
        let now = clock::now_string();
        if let Some(conds) = status.get_mut("conditions").and_then(Value::as_array_mut)
            && let Some(c) = conds
                .iter_mut()
                .find(|c| c.get("type") == Some(&json!(type_)))
        {
            c["lastUpdateTime"] = json!(now);
            c["message"] = json!(message);
        }
        return;
    }
    condition_set(status, type_, value, reason, message);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_use_the_safe_alphabet() {
        let t = json!({"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "a"}]}});
        let h = template_hash(&t, None);
        assert!(h.len() >= 8 && h.len() <= 10, "{h}");
        assert!(h.bytes().all(|b| SAFE.contains(&b)));
        assert_eq!(h, template_hash(&t, None));
        assert_ne!(h, template_hash(&t, Some(1)));
        let mut labelled = t.clone();
        labelled["metadata"]["labels"][HASH_LABEL] = json!(h);
        assert_eq!(template_without_hash(&labelled), t);
    }

    #[test]
    fn surge_rounds_up_and_unavailable_down() {
        let d = json!({"spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}}});
        let l = limits(&d, 10);
        assert_eq!((l.surge, l.unavailable), (3, 2));
        let z = json!({"spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": "10%"}}}});
        let l = limits(&z, 3);
        assert_eq!((l.surge, l.unavailable), (0, 1));
    }
}
