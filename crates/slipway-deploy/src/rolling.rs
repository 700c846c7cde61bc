//! The rolling strategy's judgement, exactly as `kubectl rollout status` and `kubectl rollout undo` decide:
//! whether a Deployment has rolled out (and what kubectl would print while waiting), and which
//! ReplicaSet's template an undo restores.
//!
//! Unlike kube-rs's `is_deployment_completed`, the observed generation is checked first: a status that
//! predates the spec says nothing about the new version.

use serde_json::Value;

/// Where a Deployment's rollout stands.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RolloutStatus {
    /// Still going; the text is kubectl's waiting line (without its newline).
    Waiting(String),
    /// Done: `deployment "NAME" successfully rolled out`.
    Complete(String),
    /// The Deployment's `Progressing` condition says `ProgressDeadlineExceeded`.
    DeadlineExceeded(String),
}

/// The integer at `pointer` in `d`, 0 when absent (as Kubernetes' status counters read).
pub(crate) fn int(d: &Value, pointer: &str) -> i64 {
    d.pointer(pointer).and_then(Value::as_i64).unwrap_or(0)
}

/// Judges a Deployment (as JSON) as `kubectl rollout status` does.
///
/// ```
/// use serde_json::json;
/// use slipway_deploy::rolling::{rollout_status, RolloutStatus};
///
/// let d = json!({"metadata": {"name": "web", "generation": 2},
///     "spec": {"replicas": 3},
///     "status": {"observedGeneration": 2, "replicas": 4, "updatedReplicas": 1, "availableReplicas": 3}});
/// assert_eq!(
///     rollout_status(&d),
///     RolloutStatus::Waiting("Waiting for deployment \"web\" rollout to finish: 1 out of 3 new replicas have been updated...".into())
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn rollout_status(deployment: &Value) -> RolloutStatus {
    let name = deployment
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if int(deployment, "/metadata/generation") > int(deployment, "/status/observedGeneration") {
        return RolloutStatus::Waiting(
            "Waiting for deployment spec update to be observed...".to_owned(),
        );
    }
    let timed_out = deployment
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .and_then(|c| {
            c.iter()
                .find(|c| c.get("type").and_then(Value::as_str) == Some("Progressing"))
        })
        .and_then(|c| c.get("reason"))
        .and_then(Value::as_str)
        == Some("ProgressDeadlineExceeded");
    if timed_out {
        return RolloutStatus::DeadlineExceeded(format!(
            "deployment \"{name}\" exceeded its progress deadline"
        ));
    }
    let updated = int(deployment, "/status/updatedReplicas");
    let total = int(deployment, "/status/replicas");
    let available = int(deployment, "/status/availableReplicas");
    if let Some(wanted) = deployment.pointer("/spec/replicas").and_then(Value::as_i64)
        && updated < wanted
    {
        return RolloutStatus::Waiting(format!(
            "Waiting for deployment \"{name}\" rollout to finish: {updated} out of {wanted} new replicas have been updated..."
        ));
    }
    if total > updated {
        return RolloutStatus::Waiting(format!(
            "Waiting for deployment \"{name}\" rollout to finish: {} old replicas are pending termination...",
            total - updated
        ));
    }
    if available < updated {
        return RolloutStatus::Waiting(format!(
            "Waiting for deployment \"{name}\" rollout to finish: {available} of {updated} updated replicas are available..."
        ));
    }
    RolloutStatus::Complete(format!("deployment \"{name}\" successfully rolled out"))
}

/// The annotation holding a ReplicaSet's revision.
pub const REVISION: &str = "deployment.kubernetes.io/revision";

/// The revision annotation of a Deployment or ReplicaSet.
pub(crate) fn revision(object: &Value) -> Option<i64> {
    object
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(REVISION))
        .and_then(Value::as_str)
        .and_then(|r| r.parse().ok())
}

/// The revision `kubectl rollout undo` returns to without `--to-revision`: the second highest among
/// the ReplicaSets. `None` with fewer than two.
#[must_use]
pub fn previous_revision(replica_sets: &[Value]) -> Option<i64> {
    let mut revisions: Vec<i64> = replica_sets.iter().filter_map(revision).collect();
    revisions.sort_unstable();
    revisions.len().checked_sub(2).map(|i| revisions[i])
}

/// The pod template `kubectl rollout undo [--to-revision N]` restores: that of the ReplicaSet with
/// revision `to` (`None`: the previous revision, the second highest), without its `pod-template-hash`
/// label. `None` when there is no such revision.
pub fn undo_template(replica_sets: &[Value], to: Option<i64>) -> Option<Value> {
    let to = to.or_else(|| previous_revision(replica_sets))?;
    let chosen = replica_sets.iter().find(|rs| revision(rs) == Some(to))?;
    let mut template = chosen.pointer("/spec/template")?.clone();
    if let Some(labels) = template
        .pointer_mut("/metadata/labels")
        .and_then(Value::as_object_mut)
    {
        labels.remove("pod-template-hash");
    }
    Some(template)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn kubectl_order_of_checks() {
        let base = json!({"metadata": {"name": "web", "generation": 1}, "spec": {"replicas": 3},
            "status": {"observedGeneration": 1, "replicas": 3, "updatedReplicas": 3, "availableReplicas": 3}});
        assert_eq!(
            rollout_status(&base),
            RolloutStatus::Complete("deployment \"web\" successfully rolled out".into())
        );
        let mut unobserved = base.clone();
        unobserved["metadata"]["generation"] = json!(2);
        assert!(
            matches!(rollout_status(&unobserved), RolloutStatus::Waiting(m) if m == "Waiting for deployment spec update to be observed...")
        );
        let mut old = base.clone();
        old["status"]["replicas"] = json!(4);
        assert!(
            matches!(rollout_status(&old), RolloutStatus::Waiting(m) if m.ends_with("1 old replicas are pending termination..."))
        );
        let mut unavailable = base.clone();
        unavailable["status"]["availableReplicas"] = json!(1);
        assert!(
            matches!(rollout_status(&unavailable), RolloutStatus::Waiting(m) if m.ends_with("1 of 3 updated replicas are available..."))
        );
        let mut deadline = base;
        deadline["status"]["conditions"] = json!([{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}]);
        assert_eq!(
            rollout_status(&deadline),
            RolloutStatus::DeadlineExceeded(
                "deployment \"web\" exceeded its progress deadline".into()
            )
        );
    }

    #[test]
    fn undo_restores_the_previous_revision_without_its_hash() {
        let rs = |rev: &str, image: &str| {
            json!({"metadata": {"annotations": {REVISION: rev}},
            "spec": {"template": {"metadata": {"labels": {"app": "web", "pod-template-hash": "abc"}},
                "spec": {"containers": [{"name": "c", "image": image}]}}}})
        };
        let sets = [rs("3", "v3"), rs("1", "v1"), rs("2", "v2")];
        let t = undo_template(&sets, None).expect("previous");
        assert_eq!(t["spec"]["containers"][0]["image"], "v2");
        assert!(t["metadata"]["labels"].get("pod-template-hash").is_none());
        assert_eq!(
            undo_template(&sets, Some(1)).expect("rev 1")["spec"]["containers"][0]["image"],
            "v1"
        );
        assert!(undo_template(&sets, Some(9)).is_none());
        assert!(undo_template(&sets[..1], None).is_none());
    }
}
