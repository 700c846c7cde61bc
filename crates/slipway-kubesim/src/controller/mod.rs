//! The controllers a delivery tool relies on, run in-process against the same store and through the same
//! write paths as clients: Deployment, ReplicaSet, a kubelet for simulated pods, endpoints, the garbage
//! collector, namespace deletion, and a minimal Knative Serving ([`knative`]).

pub mod deployment;
mod endpoints;
mod gc;
pub mod knative;
pub mod kubelet;
mod replicaset;

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::jiff::Timestamp;
use serde_json::{Value, json};

use crate::clock;
use crate::ops::{self, Ctx, DeleteOptions, Sub};
use crate::resource::ResourceType;
use crate::status::ApiError;
use crate::store::{Key, Locked, Store};

/// The current time.
pub fn now() -> Timestamp {
    clock::now()
}

/// The UID of an object's controlling owner.
pub fn controller_ref(object: &Value) -> Option<String> {
    object
        .pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)?
        .iter()
        .find(|r| r.get("controller").and_then(Value::as_bool) == Some(true))
        .and_then(|r| r.get("uid"))
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// An int-or-percent (`maxSurge: 25%`) scaled to `total`, rounded up or down.
pub fn int_or_percent(value: Option<&Value>, total: i64, round_up: bool) -> i64 {
    match value {
        Some(Value::Number(n)) => n.as_i64().unwrap_or(0),
        Some(Value::String(s)) => {
            let Some(p) = s.strip_suffix('%').and_then(|p| p.parse::<i64>().ok()) else {
                return s.parse().unwrap_or(0);
            };
            let scaled = p * total;
            if round_up {
                (scaled + 99).div_euclid(100)
            } else {
                scaled.div_euclid(100)
            }
        }
        _ => 0,
    }
}

/// # Panics
/// Never: `status` is made an object and `conditions` an array before they are used.
///
/// Sets a condition as `SetDeploymentCondition` does: unchanged when status and reason are the same;
/// the transition time kept when only the reason changes; otherwise replaced and moved to the end.
pub fn condition_set(status: &mut Value, type_: &str, value: &str, reason: &str, message: &str) {
    let now = clock::now_string();
    if !status.is_object() {
        *status = json!({});
    }
    let conds = status
        .as_object_mut()
        .expect("made an object above")
        .entry("conditions")
        .or_insert_with(|| json!([]));
    if !conds.is_array() {
        *conds = json!([]);
    }
    let list = conds.as_array_mut().expect("made an array above");
    let existing = list
        .iter()
        .position(|c| c.get("type") == Some(&json!(type_)));
    let mut transition = now.clone();
    if let Some(i) = existing {
        let c = &list[i];
        if c.get("status") == Some(&json!(value)) && c.get("reason") == Some(&json!(reason)) {
            return;
        }
        if c.get("status") == Some(&json!(value))
            && let Some(t) = c.get("lastTransitionTime").and_then(Value::as_str)
        {
            t.clone_into(&mut transition);
        }
        list.remove(i);
    }
    list.push(json!({
        "type": type_,
        "status": value,
        "lastUpdateTime": now,
        "lastTransitionTime": transition,
        "reason": reason,
        "message": message,
    }));
}

/// What pods the simulated kubelet runs, and how.
#[derive(Debug, Clone)]
pub struct Behaviour {
    /// How long a started container takes to become ready.
    pub ready_after: Duration,
    /// Images (globs) whose pods never become ready.
    pub never_ready: Vec<String>,
    /// Images (globs) whose containers exit soon after starting, forever.
    pub crash_loop: Vec<String>,
    /// Images (globs) that cannot be pulled.
    pub pull_error: Vec<String>,
}

impl Default for Behaviour {
    fn default() -> Self {
        Behaviour {
            ready_after: Duration::from_millis(200),
            never_ready: Vec::new(),
            crash_loop: Vec::new(),
            pull_error: Vec::new(),
        }
    }
}

/// A controller pass's view: the locked store plus what it learns about when to run again.
pub struct Ctl<'s, 'g> {
    state: &'s mut Locked<'g>,
    behaviour: &'s Behaviour,
    wake: Option<Duration>,
}

impl<'g> Ctl<'_, 'g> {
    fn resource(&self, group: &str, plural: &str) -> Option<Arc<ResourceType>> {
        // Every kind the controllers touch is served at v1.
        self.state.registry.get(group, "v1", plural)
    }

    /// Objects of a kind in a namespace.
    pub fn list(&self, group: &str, plural: &str, namespace: &str) -> Vec<Value> {
        self.state
            .list(group, plural, Some(namespace))
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// Every object of a kind.
    pub fn list_all(&self, group: &str, plural: &str) -> Vec<Value> {
        self.state
            .list(group, plural, None)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// One object.
    pub fn get(&self, group: &str, plural: &str, namespace: &str, name: &str) -> Option<Value> {
        let t = self.resource(group, plural)?;
        self.state.get(&Key::new(&t, namespace, name)).cloned()
    }

    fn ctx() -> Ctx {
        Ctx {
            dry_run: false,
            manager: "kube-controller-manager".to_owned(),
            applied: false,
        }
    }

    fn write(
        &mut self,
        group: &str,
        plural: &str,
        old: &Value,
        new: Value,
        sub: Sub,
    ) -> Option<Value> {
        let t = self.resource(group, plural)?;
        let key = Key::new(&t, ops::namespace_of(old), ops::name_of(old));
        let current = self.state.get(&key)?.clone();
        let mut new = new;
        // Write on top of what is stored now, as a controller's update with a fresh read would.
        if ops::meta_str(&current, "resourceVersion") != ops::meta_str(old, "resourceVersion") {
            return None;
        }
        ops::meta_mut(&mut new).remove("resourceVersion");
        ops::write(
            self.state,
            &t,
            &t.versions[0].clone(),
            &key,
            &current,
            new,
            sub,
            &Self::ctx(),
        )
        .ok()
    }

    /// Updates an object (its spec and metadata).
    pub fn update(&mut self, group: &str, plural: &str, old: &Value, new: Value) -> Option<Value> {
        self.write(group, plural, old, new, Sub::Main)
    }

    /// Updates an object's status.
    pub fn update_status(
        &mut self,
        group: &str,
        plural: &str,
        old: &Value,
        new: Value,
    ) -> Option<Value> {
        self.write(group, plural, old, new, Sub::Status)
    }

    /// Creates an object.
    pub fn create(
        &mut self,
        group: &str,
        plural: &str,
        namespace: &str,
        object: Value,
    ) -> Result<Value, ApiError> {
        let t = self
            .resource(group, plural)
            .ok_or_else(ApiError::no_route)?;
        ops::create_locked(
            self.state,
            &t,
            &t.versions[0].clone(),
            namespace,
            object,
            &Self::ctx(),
        )
    }

    /// Deletes an object (background propagation).
    pub fn delete(&mut self, group: &str, plural: &str, object: &Value) {
        self.delete_with(group, plural, object, &DeleteOptions::default());
    }

    fn delete_with(&mut self, group: &str, plural: &str, object: &Value, options: &DeleteOptions) {
        let Some(t) = self.resource(group, plural) else {
            return;
        };
        let key = Key::new(&t, ops::namespace_of(object), ops::name_of(object));
        if let Some(current) = self.state.get(&key).cloned() {
            let _ = ops::delete_locked(self.state, &t, &key, &current, options);
        }
    }

    /// Records an Event about `object`.
    pub fn event(&mut self, object: &Value, type_: &str, reason: &str, message: &str) {
        let source = if reason.starts_with("Scaling") {
            "deployment-controller"
        } else {
            "kubesim"
        };
        let reporter = Reporter {
            source,
            reporting: "kubesim",
            ctx: &Self::ctx(),
        };
        record_event(self.state, object, type_, reason, message, &reporter);
    }

    /// Asks for another pass within `seconds`.
    pub fn wake_at_seconds(&mut self, seconds: i64) {
        self.wake_in(Duration::from_secs(
            u64::try_from(seconds.max(1)).unwrap_or(1),
        ));
    }

    /// Asks for another pass within `d`.
    pub fn wake_in(&mut self, d: Duration) {
        self.wake = Some(self.wake.map_or(d, |w| w.min(d)));
    }

    /// The kubelet behaviour.
    pub fn behaviour(&self) -> &Behaviour {
        self.behaviour
    }

    /// The locked store.
    pub fn state(&mut self) -> &mut Locked<'g> {
        self.state
    }
}

/// Who reports an Event: its `source.component`, its `reportingComponent`, and the write's context.
pub(crate) struct Reporter<'a> {
    pub(crate) source: &'a str,
    pub(crate) reporting: &'a str,
    pub(crate) ctx: &'a Ctx,
}

/// Records a `v1` Event about `object` (in its namespace, `default` for cluster-scoped objects), as the
/// controllers and the NodePort proxy report what they did.
pub(crate) fn record_event(
    state: &mut Locked<'_>,
    object: &Value,
    type_: &str,
    reason: &str,
    message: &str,
    reporter: &Reporter<'_>,
) {
    let Some(t) = state.registry.get("", "v1", "events") else {
        return;
    };
    let ns = ops::namespace_of(object);
    let ns = if ns.is_empty() { "default" } else { ns };
    let now = clock::now_string();
    let suffix = format!("{:x}", state.random() & 0xffff_ffff_ffff);
    let event = json!({
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": format!("{}.{suffix}", ops::name_of(object)), "namespace": ns},
        "involvedObject": {
            "apiVersion": object.get("apiVersion").cloned().unwrap_or(Value::Null),
            "kind": object.get("kind").cloned().unwrap_or(Value::Null),
            "name": ops::name_of(object),
            "namespace": ns,
            "uid": ops::uid_of(object),
            "resourceVersion": ops::meta_str(object, "resourceVersion").unwrap_or_default(),
        },
        "reason": reason,
        "message": message,
        "type": type_,
        "source": {"component": reporter.source},
        "firstTimestamp": now,
        "lastTimestamp": now,
        "count": 1,
        "reportingComponent": reporter.reporting,
        "reportingInstance": "",
    });
    let _ = ops::create_locked(state, &t, "v1", ns, event, reporter.ctx);
}

/// One pass of every controller; returns when the next timed pass is due, if any.
pub fn reconcile(
    store: &Store,
    behaviour: &Behaviour,
    kubelet: &dyn kubelet::Kubelet,
) -> Option<Duration> {
    let mut state = store.lock();
    let mut ctl = Ctl {
        state: &mut state,
        behaviour,
        wake: None,
    };
    knative::sync(&mut ctl);
    for d in ctl.list_all("apps", "deployments") {
        deployment::sync(&mut ctl, &d);
    }
    for rs in ctl.list_all("apps", "replicasets") {
        replicaset::sync(&mut ctl, &rs);
    }
    for pod in ctl.list_all("", "pods") {
        kubelet.sync(&mut ctl, &pod);
    }
    for svc in ctl.list_all("", "services") {
        endpoints::sync(&mut ctl, &svc);
    }
    gc::collect(&mut ctl);
    gc::namespaces(&mut ctl);
    ctl.wake
}

/// Runs the controllers until the store's last user goes away: a pass after every change (coalesced) and
/// when a timer (readiness, deadlines, backoff) is due.
pub async fn run(
    store: Arc<Store>,
    behaviour: Behaviour,
    kubelet: Arc<dyn kubelet::Kubelet>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut events = store.subscribe();
    loop {
        let wake =
            reconcile(&store, &behaviour, kubelet.as_ref()).unwrap_or(Duration::from_millis(500));
        let wake = wake.min(Duration::from_millis(500));
        tokio::select! {
            _ = stop.changed() => return,
            () = tokio::time::sleep(wake) => {}
            e = events.recv() => {
                if matches!(e, Err(tokio::sync::broadcast::error::RecvError::Closed)) {
                    return;
                }
                // Coalesce a burst of changes into one pass.
                tokio::time::sleep(Duration::from_millis(5)).await;
                while events.try_recv().is_ok() {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_round_as_kubernetes_does() {
        assert_eq!(int_or_percent(Some(&json!("25%")), 10, true), 3);
        assert_eq!(int_or_percent(Some(&json!("25%")), 10, false), 2);
        assert_eq!(int_or_percent(Some(&json!(2)), 10, false), 2);
        assert_eq!(int_or_percent(Some(&json!("0%")), 10, true), 0);
    }

    #[test]
    fn conditions_keep_transition_time_when_only_the_reason_changes() {
        let mut status = json!({});
        condition_set(&mut status, "Progressing", "True", "A", "a");
        let first = status["conditions"][0]["lastTransitionTime"].clone();
        condition_set(&mut status, "Progressing", "True", "B", "b");
        assert_eq!(status["conditions"][0]["lastTransitionTime"], first);
        assert_eq!(status["conditions"][0]["reason"], "B");
        condition_set(&mut status, "Available", "True", "X", "x");
        assert_eq!(status["conditions"][1]["type"], "Available");
    }
}
