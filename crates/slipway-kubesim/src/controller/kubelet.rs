//! The node side: scheduling onto the one node, pod IPs, container states and readiness, and the faults
//! tests ask for by image glob (never ready, crash loop, image pull errors). [`Kubelet`] is the seam the
//! process runtime plugs into; [`Simulated`] runs nothing and reports what a healthy kubelet would.

use std::time::Duration;

use serde_json::{Value, json};

use super::Ctl;
use crate::clock;
use crate::ops;
use crate::store::Key;

/// The node every pod is scheduled onto.
pub const NODE: &str = "kubesim";

/// What runs pods.
pub trait Kubelet: Send + Sync {
    /// Brings one pod's status closer to what its spec asks (called on every controller pass).
    fn sync(&self, ctl: &mut Ctl<'_, '_>, pod: &Value);
}

/// Whether `text` matches a glob with `*` (any run) and `?` (one character).
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

fn matches_any(globs: &[String], image: &str) -> bool {
    globs.iter().any(|g| glob_match(g, image))
}

/// Pods' conditions as a kubelet reports them.
pub fn pod_conditions(scheduled_at: &str, started: Option<&str>, ready_at: Option<&str>) -> Value {
    let cond = |t: &str, ok: bool, at: &str| json!({"type": t, "status": if ok { "True" } else { "False" }, "lastProbeTime": null, "lastTransitionTime": at});
    let started_at = started.unwrap_or(scheduled_at);
    let ready_time = ready_at.unwrap_or(started_at);
    json!([
        cond("PodReadyToStartContainers", started.is_some(), started_at),
        cond("Initialized", true, scheduled_at),
        cond("Ready", ready_at.is_some(), ready_time),
        cond("ContainersReady", ready_at.is_some(), ready_time),
        cond("PodScheduled", true, scheduled_at),
    ])
}

/// When the Ready condition of a pod `status` last turned True (`None` when it is not True).
pub fn ready_transition(status: &Value) -> Option<String> {
    status
        .get("conditions")
        .and_then(Value::as_array)?
        .iter()
        .find(|c| c.get("type") == Some(&json!("Ready")) && c.get("status") == Some(&json!("True")))
        .map(|c| {
            c.get("lastTransitionTime")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        })
}

/// The next free pod IP in 10.244.0.0/16.
pub fn allocate_pod_ip(ctl: &Ctl<'_, '_>) -> String {
    let used: std::collections::HashSet<String> = ctl
        .list_all("", "pods")
        .iter()
        .filter_map(|p| {
            p.pointer("/status/podIP")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .collect();
    for n in 2u32..65_000 {
        let ip = format!("10.244.{}.{}", n / 256, n % 256);
        if !used.contains(&ip) {
            return ip;
        }
    }
    "10.244.255.254".to_owned()
}

/// Binds an unscheduled pod to the node; returns the bound pod.
pub fn schedule(ctl: &mut Ctl<'_, '_>, pod: &Value) -> Option<Value> {
    if pod.pointer("/spec/nodeName").is_some() {
        return Some(pod.clone());
    }
    let mut bound = pod.clone();
    bound["spec"]["nodeName"] = json!(NODE);
    let bound = ctl.update("", "pods", pod, bound)?;
    let now = clock::now_string();
    let mut with_status = bound.clone();
    with_status["status"]["conditions"] = json!([
        {"type": "PodScheduled", "status": "True", "lastProbeTime": null, "lastTransitionTime": now}
    ]);
    ctl.update_status("", "pods", &bound, with_status)
}

fn age_seconds(at: Option<&str>) -> f64 {
    at.and_then(clock::parse)
        .map_or(0.0, |t| clock::seconds_between(t, clock::now()))
}

/// Finishes a pod being deleted once its containers are gone (here: at once).
pub fn finish_deletion(ctl: &mut Ctl<'_, '_>, pod: &Value) -> bool {
    if !ops::meta(pod).is_some_and(|m| m.contains_key("deletionTimestamp")) {
        return false;
    }
    if let Some(t) = ctl.state().registry.get("", "v1", "pods") {
        let key = Key::new(&t, ops::namespace_of(pod), ops::name_of(pod));
        ops::finalize_pod(ctl.state(), &t, &key);
    }
    true
}

/// A kubelet that runs nothing: containers start at once, become ready after `ready_after`, and fail as
/// the fault globs say.
#[derive(Debug, Default)]
pub struct Simulated;

/// The restart backoff after `restarts` crashes: 1 s doubling, at most 30 s (a kubelet's 10 s to 5 min,
/// shortened so tests see several restarts).
pub fn crash_backoff(restarts: i64) -> Duration {
    let exp = u32::try_from(restarts.clamp(0, 5)).unwrap_or(5);
    Duration::from_secs(2u64.pow(exp)).min(Duration::from_secs(30))
}

impl Kubelet for Simulated {
    #[allow(clippy::too_many_lines)]
    fn sync(&self, ctl: &mut Ctl<'_, '_>, pod: &Value) {
        if finish_deletion(ctl, pod) {
            return;
        }
        let Some(pod) = schedule(ctl, pod) else {
            return;
        };
        if matches!(
            pod.pointer("/status/phase").and_then(Value::as_str),
            Some("Succeeded" | "Failed")
        ) {
            return;
        }
        let behaviour = ctl.behaviour().clone();
        let containers = pod
            .pointer("/spec/containers")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let scheduled_at = pod
            .pointer("/status/conditions")
            .and_then(Value::as_array)
            .and_then(|c| {
                c.iter()
                    .find(|c| c.get("type") == Some(&json!("PodScheduled")))
            })
            .and_then(|c| c.get("lastTransitionTime"))
            .and_then(Value::as_str)
            .map_or_else(clock::now_string, str::to_owned);
        let now = clock::now_string();
        let old_status = pod.get("status").cloned().unwrap_or_else(|| json!({}));
        let old_statuses = old_status
            .get("containerStatuses")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let pod_ip = old_status
            .get("podIP")
            .and_then(Value::as_str)
            .map_or_else(|| allocate_pod_ip(ctl), str::to_owned);
        let start_time = old_status
            .get("startTime")
            .and_then(Value::as_str)
            .unwrap_or(&now)
            .to_owned();
        let mut statuses = Vec::new();
        let mut all_ready = true;
        let mut any_pull_error = false;
        for c in &containers {
            let name = c.get("name").and_then(Value::as_str).unwrap_or_default();
            let image = c.get("image").and_then(Value::as_str).unwrap_or_default();
            let prev = old_statuses
                .iter()
                .find(|s| s.get("name").and_then(Value::as_str) == Some(name));
            let restarts = prev
                .and_then(|s| s.get("restartCount"))
                .and_then(Value::as_i64)
                .unwrap_or(0);
            let base = json!({
                "name": name,
                "image": image,
                "imageID": "",
                "containerID": "",
                "restartCount": restarts,
                "started": false,
                "ready": false,
            });
            if matches_any(&behaviour.pull_error, image) {
                any_pull_error = true;
                all_ready = false;
                let since = prev
                    .and_then(|s| s.pointer("/state/waiting/reason"))
                    .and_then(Value::as_str);
                let reason = if since.is_some() && age_seconds(Some(&start_time)) > 1.0 {
                    "ImagePullBackOff"
                } else {
                    "ErrImagePull"
                };
                let message = if reason == "ErrImagePull" {
                    format!(
                        "failed to pull and unpack image \"{image}\": failed to resolve reference \"{image}\": not found"
                    )
                } else {
                    format!("Back-off pulling image \"{image}\"")
                };
                let mut s = base;
                s["state"] = json!({"waiting": {"reason": reason, "message": message}});
                statuses.push(s);
                ctl.wake_in(Duration::from_millis(500));
                continue;
            }
            let mut s = base;
            s["containerID"] = json!(format!("kubesim://{}-{name}", ops::uid_of(&pod)));
            s["imageID"] = json!(image);
            if matches_any(&behaviour.crash_loop, image) {
                all_ready = false;
                let started = prev
                    .and_then(|p| p.pointer("/state/running/startedAt"))
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                let waiting_since = prev
                    .and_then(|p| p.pointer("/lastState/terminated/finishedAt"))
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                match (
                    started,
                    prev.and_then(|p| p.pointer("/state/waiting")).is_some(),
                ) {
                    (Some(started), _) if age_seconds(Some(&started)) >= 0.5 => {
                        // It ran and exited: back off before the next start.
                        s["restartCount"] = json!(restarts + 1);
                        s["lastState"] = json!({"terminated": {"exitCode": 1, "reason": "Error", "startedAt": started, "finishedAt": now}});
                        s["state"] = json!({"waiting": {"reason": "CrashLoopBackOff",
                            "message": format!("back-off {}s restarting failed container={name} pod={}_{}({})",
                                crash_backoff(restarts + 1).as_secs(), ops::name_of(&pod), ops::namespace_of(&pod), ops::uid_of(&pod))}});
                        ctl.wake_in(crash_backoff(restarts + 1));
                    }
                    (Some(started), _) => {
                        s["state"] = json!({"running": {"startedAt": started}});
                        s["started"] = json!(true);
                        if let Some(l) = prev.and_then(|p| p.get("lastState")) {
                            s["lastState"] = l.clone();
                        }
                        ctl.wake_in(Duration::from_millis(500));
                    }
                    (None, true)
                        if age_seconds(waiting_since.as_deref())
                            < crash_backoff(restarts).as_secs_f64() =>
                    {
                        s["state"] = prev
                            .and_then(|p| p.get("state"))
                            .cloned()
                            .unwrap_or(Value::Null);
                        if let Some(l) = prev.and_then(|p| p.get("lastState")) {
                            s["lastState"] = l.clone();
                        }
                        ctl.wake_in(Duration::from_millis(250));
                    }
                    _ => {
                        s["state"] = json!({"running": {"startedAt": now}});
                        s["started"] = json!(true);
                        if let Some(l) = prev.and_then(|p| p.get("lastState")) {
                            s["lastState"] = l.clone();
                        }
                        ctl.wake_in(Duration::from_millis(500));
                    }
                }
                statuses.push(s);
                continue;
            }
            let started_at = prev
                .and_then(|p| p.pointer("/state/running/startedAt"))
                .and_then(Value::as_str)
                .unwrap_or(&now)
                .to_owned();
            s["state"] = json!({"running": {"startedAt": started_at}});
            s["started"] = json!(true);
            let was_ready =
                prev.and_then(|p| p.get("ready")).and_then(Value::as_bool) == Some(true);
            let never = matches_any(&behaviour.never_ready, image);
            let ready = !never
                && (was_ready
                    || age_seconds(Some(&started_at)) >= behaviour.ready_after.as_secs_f64());
            if !ready {
                all_ready = false;
                if !never {
                    ctl.wake_in(
                        behaviour
                            .ready_after
                            .saturating_sub(Duration::from_secs_f64(
                                age_seconds(Some(&started_at)).max(0.0),
                            ))
                            .max(Duration::from_millis(10)),
                    );
                }
            }
            s["ready"] = json!(ready);
            statuses.push(s);
        }
        let ready_at = if all_ready && !containers.is_empty() {
            Some(ready_transition(&old_status).unwrap_or_else(|| now.clone()))
        } else {
            None
        };
        let started = if any_pull_error {
            None
        } else {
            Some(start_time.as_str())
        };
        let mut conditions = pod_conditions(&scheduled_at, started, ready_at.as_deref());
        // Keep transition times of conditions whose status did not change.
        if let (Some(new), Some(old)) = (
            conditions.as_array_mut(),
            old_status.get("conditions").and_then(Value::as_array),
        ) {
            for c in new.iter_mut() {
                if let Some(o) = old
                    .iter()
                    .find(|o| o.get("type") == c.get("type") && o.get("status") == c.get("status"))
                {
                    c["lastTransitionTime"] =
                        o.get("lastTransitionTime").cloned().unwrap_or(Value::Null);
                }
            }
        }
        let phase = if any_pull_error { "Pending" } else { "Running" };
        let mut status = json!({
            "phase": phase,
            "conditions": conditions,
            "hostIP": "127.0.0.1",
            "hostIPs": [{"ip": "127.0.0.1"}],
            "startTime": start_time,
            "containerStatuses": statuses,
            "qosClass": old_status.get("qosClass").cloned().unwrap_or(json!("BestEffort")),
        });
        if !any_pull_error {
            status["podIP"] = json!(pod_ip);
            status["podIPs"] = json!([{"ip": pod_ip}]);
        }
        if status != old_status {
            let mut updated = pod.clone();
            updated["status"] = status;
            ctl.update_status("", "pods", &pod, updated);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match("*bad*", "registry/bad:1"));
        assert!(glob_match("img:?", "img:2"));
        assert!(!glob_match("img:?", "img:22"));
        assert!(glob_match("*", ""));
        assert!(!glob_match("a*b", "acd"));
    }

    #[test]
    fn backoff_doubles_and_caps() {
        assert_eq!(crash_backoff(1), Duration::from_secs(2));
        assert_eq!(crash_backoff(9), Duration::from_secs(30));
    }
}
