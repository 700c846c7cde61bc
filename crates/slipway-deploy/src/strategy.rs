//! The strategies as pure state machines: what the cluster looks like ([`Observed`]) in, what to change
//! and what to wait for ([`Decision`]) out. No I/O and no process-local state: the state travels in the
//! [`Observed`] (read from the Deployment's annotation) and comes back in the [`Decision`] (written there),
//! so the same function can run in a CLI, a CI job picked up again, or a controller.
//!
//! Object model (Flagger's): the user's Deployment `NAME` stays the stable workload; the new version
//! runs as Deployment `NAME-canary` (its pods carry the stable pods' labels plus `slipway.dev/role:
//! canary`); at promotion the user's Deployment is rolled to the new image while the new pods carry the
//! traffic, and `NAME-canary` is scaled to zero. See [`crate::traffic`] for the Services and routes.
//!
//! ```
//! use std::time::{Duration, UNIX_EPOCH};
//! use serde_json::json;
//! use slipway_deploy::spec::{RolloutSpec, StrategyKind, TrafficRouting};
//! use slipway_deploy::strategy::{begin, Change, Observed, Strategy, Wait};
//!
//! let spec = RolloutSpec::from_flags(StrategyKind::Canary, Some("setWeight=20,pause"), TrafficRouting::None)?;
//! let stable = json!({"metadata": {"name": "web", "generation": 1,
//!         "annotations": {"deployment.kubernetes.io/revision": "1"}},
//!     "spec": {"replicas": 5, "selector": {"matchLabels": {"app": "web"}},
//!         "template": {"metadata": {"labels": {"app": "web"}},
//!             "spec": {"containers": [{"name": "web", "image": "web:1"}]}}},
//!     "status": {"observedGeneration": 1, "replicas": 5, "updatedReplicas": 5, "availableReplicas": 5}});
//! let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
//! let mut observed = Observed::new("web", stable, now);
//! observed.state = Some(begin(&spec, &observed, "web:2", None, None, &[])?);
//! let decision = spec.decide(&observed);
//! // The first step scales the new version up beside the stable one and waits for it.
//! assert!(decision.changes.iter().any(|c| matches!(c, Change::Apply(o)
//!     if o["metadata"]["name"] == "web-canary" && o["spec"]["replicas"] == 1)));
//! assert_eq!(decision.wait, Wait::Cluster);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};

use crate::cluster::{DEPLOYMENT, Kind, SERVICE, merge_diff};
use crate::replicas::{self, Budget, CanaryScale, Split, Weight};
use crate::rolling::{self, RolloutStatus, int, revision};
use crate::spec::{self, BlueGreen, Canary, RolloutSpec, Step, Strategy as Spec, StrategyKind};
use crate::state::{
    AnalysisState, POD_TEMPLATE_HASH, Phase, ROLE_CANARY, ROLE_LABEL, RolloutState, Stage, Verdict,
};
use crate::traffic::{self, Names, Pin, TrafficRouter as _};

/// An error starting a rollout.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The Deployment has no container of that name (or none at all).
    #[error("Deployment {deployment} has no container {container:?}")]
    NoContainer {
        /// The Deployment.
        deployment: String,
        /// The container asked for (empty: the first).
        container: String,
    },
    /// The Deployment has no `spec.selector.matchLabels`.
    #[error("Deployment {deployment} has no spec.selector.matchLabels")]
    NoSelector {
        /// The Deployment.
        deployment: String,
    },
}

/// What the cluster looks like, as a strategy needs it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Observed {
    /// The workload's name (`NAME`).
    pub name: String,
    /// Now.
    pub now: SystemTime,
    /// The user's Deployment `NAME`.
    pub stable: Value,
    /// The ReplicaSets the Deployment owns.
    pub replica_sets: Vec<Value>,
    /// The new version's Deployment `NAME-canary`, if any.
    pub canary: Option<Value>,
    /// The Services among `NAME`, `NAME-stable`, `NAME-canary`, `NAME-preview` (and the strategy's
    /// own names) that exist, by name.
    pub services: BTreeMap<String, Value>,
    /// The rollout's state (from the Deployment's annotation; `None` before any rollout).
    pub state: Option<RolloutState>,
    /// The routing objects the strategy names that exist, by `Kind/name`
    /// ([`traffic::route_key`]).
    pub routes: BTreeMap<String, Value>,
    /// A `HorizontalPodAutoscaler` scales the Deployment: slipway then never writes its replicas (no fight
    /// with the autoscaler), reads N from it at each decision, and a replica-ratio canary adds pods
    /// beside the stable ones instead of taking them away.
    pub autoscaled: bool,
}

impl Observed {
    /// An observation of just the stable Deployment.
    #[must_use]
    pub fn new(name: &str, stable: Value, now: SystemTime) -> Observed {
        Observed {
            name: name.to_owned(),
            now,
            stable,
            replica_sets: Vec::new(),
            canary: None,
            services: BTreeMap::new(),
            state: None,
            routes: BTreeMap::new(),
            autoscaled: false,
        }
    }
}

/// A change to make in the cluster.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Change {
    /// Server-side apply this whole object (slipway owns it).
    Apply(Value),
    /// JSON merge patch an object the user owns.
    Patch {
        /// Its kind.
        kind: Kind,
        /// Its name.
        name: String,
        /// The patch.
        patch: Value,
    },
}

/// What to wait for before deciding again.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Wait {
    /// A change in the cluster (pods becoming ready, a rollout progressing).
    Cluster,
    /// A time (a timed pause, a delay).
    Until(SystemTime),
    /// The analysis `key` to be judged: take its measurements and record them in the state.
    Analysis {
        /// `step-N`, `prePromotion` or `postPromotion`.
        key: String,
        /// The templates and args.
        analysis: spec::Analysis,
    },
    /// Nothing: the rollout rests in its phase (Healthy, Degraded, Paused or Inconclusive).
    Rest,
}

/// A strategy's decision.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Decision {
    /// The changes, in order.
    pub changes: Vec<Change>,
    /// The state to record.
    pub state: RolloutState,
    /// What to wait for.
    pub wait: Wait,
}

/// A rollout strategy: observed state in, next desired state out. Pure.
pub trait Strategy {
    /// Decides what to change and what to wait for. `observed.state` must be set (see [`begin`]).
    fn decide(&self, observed: &Observed) -> Decision;
}

impl<T: Strategy + ?Sized> Strategy for &T {
    fn decide(&self, observed: &Observed) -> Decision {
        (**self).decide(observed)
    }
}

impl<T: Strategy + ?Sized> Strategy for Box<T> {
    fn decide(&self, observed: &Observed) -> Decision {
        (**self).decide(observed)
    }
}

impl<T: Strategy + ?Sized> Strategy for std::sync::Arc<T> {
    fn decide(&self, observed: &Observed) -> Decision {
        (**self).decide(observed)
    }
}

fn unix(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn at(seconds: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(seconds)
}

fn count(v: &Value, pointer: &str) -> u32 {
    u32::try_from(int(v, pointer).max(0)).unwrap_or(u32::MAX)
}

/// The Deployment's desired replicas (Kubernetes' default 1 when unset).
fn spec_replicas(d: &Value) -> u32 {
    d.pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .map_or(1, |r| u32::try_from(r.max(0)).unwrap_or(u32::MAX))
}

fn observed_generation(d: &Value) -> bool {
    int(d, "/metadata/generation") <= int(d, "/status/observedGeneration")
}

/// The Deployment has `n` replicas asked for, seen by its controller, and at least `n` available.
fn settled(d: &Value, n: u32) -> bool {
    spec_replicas(d) == n && observed_generation(d) && count(d, "/status/availableReplicas") >= n
}

/// The containers of a Deployment's pod template.
fn containers(d: &Value) -> &[Value] {
    d.pointer("/spec/template/spec/containers")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// The image of `container` in Deployment `d`.
#[must_use]
pub fn container_image<'a>(d: &'a Value, container: &str) -> Option<&'a str> {
    containers(d)
        .iter()
        .find(|c| c.get("name").and_then(Value::as_str) == Some(container))
        .and_then(|c| c.get("image"))
        .and_then(Value::as_str)
}

fn match_labels(d: &Value) -> Map<String, Value> {
    d.pointer("/spec/selector/matchLabels")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default()
}

/// The `pod-template-hash` of the Deployment's current ReplicaSet (the one of its revision).
fn current_hash(o: &Observed) -> Option<String> {
    let rev = revision(&o.stable)?;
    o.replica_sets
        .iter()
        .find(|rs| revision(rs) == Some(rev))
        .and_then(|rs| rs.pointer("/metadata/labels"))
        .and_then(|l| l.get(POD_TEMPLATE_HASH))
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// Starts a rollout of `image` into `container` (default: the first) of the observed Deployment.
/// `replicas` overrides the Deployment's own count. With the image already there, the state only
/// watches the Deployment settle (a no-op rollout).
///
/// # Errors
/// [`Error::NoContainer`], [`Error::NoSelector`].
pub fn begin(
    spec: &RolloutSpec,
    observed: &Observed,
    image: &str,
    container: Option<&str>,
    replicas: Option<u32>,
    args: &[(String, String)],
) -> Result<RolloutState, Error> {
    let stable = &observed.stable;
    let name = container
        .map(str::to_owned)
        .or_else(|| {
            containers(stable)
                .first()
                .and_then(|c| c.get("name"))
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .ok_or_else(|| Error::NoContainer {
            deployment: observed.name.clone(),
            container: String::new(),
        })?;
    let stable_image = container_image(stable, &name)
        .ok_or_else(|| Error::NoContainer {
            deployment: observed.name.clone(),
            container: name.clone(),
        })?
        .to_owned();
    if match_labels(stable).is_empty() {
        return Err(Error::NoSelector {
            deployment: observed.name.clone(),
        });
    }
    let n = replicas.unwrap_or_else(|| spec_replicas(stable));
    let same = stable_image == image && replicas.is_none_or(|r| r == spec_replicas(stable));
    let (strategy, stage) = match &spec.strategy {
        _ if same => (StrategyKind::Rolling, Stage::Rolling),
        Spec::Rolling => (StrategyKind::Rolling, Stage::Rolling),
        Spec::Canary(_) => (StrategyKind::Canary, Stage::Steps),
        Spec::BlueGreen(_) => (StrategyKind::BlueGreen, Stage::Preview),
    };
    Ok(RolloutState {
        image: image.to_owned(),
        container: name,
        stable_image,
        stable_revision: revision(stable),
        stable_hash: current_hash(observed),
        replicas: n,
        strategy,
        stage,
        step: 0,
        step_started: unix(observed.now),
        weight: 0,
        phase: Phase::Progressing,
        reason: String::new(),
        message: String::new(),
        promote: false,
        abort: false,
        rollback_to: None,
        analysis: None,
        args: args.to_vec(),
    })
}

/// The state of a first rollout: the Deployment was just created with `image`.
#[must_use]
pub fn created(observed: &Observed, image: &str, container: &str) -> RolloutState {
    RolloutState {
        image: image.to_owned(),
        container: container.to_owned(),
        stable_image: image.to_owned(),
        stable_revision: None,
        stable_hash: None,
        replicas: spec_replicas(&observed.stable),
        strategy: StrategyKind::Rolling,
        stage: Stage::Create,
        step: 0,
        step_started: unix(observed.now),
        weight: 0,
        phase: Phase::Progressing,
        reason: String::new(),
        message: String::new(),
        promote: false,
        abort: false,
        rollback_to: None,
        analysis: None,
        args: Vec::new(),
    }
}

/// Where a stage function leaves the decision: made, or to be made again from the moved-on state.
enum Flow<'a> {
    Done(Decision),
    Again(Plan<'a>),
}

/// A decision in the making: changes collected while the state moves on.
struct Plan<'a> {
    spec: &'a RolloutSpec,
    o: &'a Observed,
    names: Names,
    base: Map<String, Value>,
    st: RolloutState,
    changes: Vec<Change>,
    route_error: Option<traffic::RouteError>,
}

impl Plan<'_> {
    fn finish(mut self, wait: Wait) -> Decision {
        if let Some(e) = self.route_error.take()
            && !matches!(
                self.st.stage,
                Stage::Aborting | Stage::RollingBack | Stage::Done
            )
        {
            // Traffic cannot be split as asked: take the new version down rather than leave it
            // half routed.
            self.abort("InvalidSpec", e.to_string());
            self.st.phase = Phase::Progressing;
            return Decision {
                changes: Vec::new(),
                state: self.st,
                wait: Wait::Cluster,
            };
        }
        if matches!(wait, Wait::Rest) {
            debug_assert!(self.st.phase.is_resting());
        } else {
            self.st.phase = Phase::Progressing;
        }
        Decision {
            changes: self.changes,
            state: self.st,
            wait,
        }
    }

    fn rest(mut self, phase: Phase, reason: &str, message: String) -> Decision {
        self.st.phase = phase;
        reason.clone_into(&mut self.st.reason);
        self.st.message = message;
        self.finish(Wait::Rest)
    }

    fn wait(mut self, wait: Wait, message: String) -> Decision {
        self.st.message = message;
        self.finish(wait)
    }

    fn n(&self) -> u32 {
        if self.o.autoscaled {
            spec_replicas(&self.o.stable)
        } else {
            self.st.replicas
        }
    }

    /// Whether the user's Deployment asks for `image` and its N replicas already.
    fn stable_runs(&self, image: &str) -> bool {
        container_image(&self.o.stable, &self.st.container) == Some(image)
            && spec_replicas(&self.o.stable) == self.n()
    }

    /// The patch that gives the stable Deployment the new image (and its replicas back, unless an
    /// autoscaler owns them).
    fn new_image_patch(&self, image: &str) -> Value {
        let containers = self.containers_with(image);
        if self.o.autoscaled {
            json!({"spec": {"template": {"spec": {"containers": containers}}}})
        } else {
            json!({"spec": {"replicas": self.n(), "template": {"spec": {"containers": containers}}}})
        }
    }

    fn budget(&self) -> Budget {
        Budget::resolve(&self.spec.max_surge, &self.spec.max_unavailable, self.n())
    }

    fn routing(&self) -> Option<&spec::TrafficRouting> {
        match &self.spec.strategy {
            Spec::Canary(c) if c.traffic_routing.is_routed() => Some(&c.traffic_routing),
            _ => None,
        }
    }

    fn advance(&mut self) {
        self.st.reason.clear();
        self.st.step += 1;
        self.st.step_started = unix(self.o.now);
        self.st.analysis = None;
    }

    fn enter(&mut self, stage: Stage) {
        self.st.stage = stage;
        self.st.step = 0;
        self.st.step_started = unix(self.o.now);
        self.st.analysis = None;
    }

    fn abort(&mut self, reason: &str, message: String) {
        self.enter(Stage::Aborting);
        reason.clone_into(&mut self.st.reason);
        self.st.message = message;
    }

    /// The containers of the stable template with the new image.
    fn containers_with(&self, image: &str) -> Value {
        let mut containers = containers(&self.o.stable).to_vec();
        for c in &mut containers {
            if c.get("name").and_then(Value::as_str) == Some(self.st.container.as_str()) {
                c["image"] = json!(image);
            }
        }
        Value::Array(containers)
    }

    /// The new version's Deployment with `replicas` pods.
    fn canary_deployment(&self, replicas: u32) -> Value {
        let stable = &self.o.stable;
        let mut template = stable
            .pointer("/spec/template")
            .cloned()
            .unwrap_or_else(|| json!({}));
        template["spec"]["containers"] = self.containers_with(&self.st.image);
        let mut labels = template
            .pointer("/metadata/labels")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        labels.remove(POD_TEMPLATE_HASH);
        labels.insert(ROLE_LABEL.to_owned(), json!(ROLE_CANARY));
        template["metadata"]["labels"] = Value::Object(labels);
        let mut spec = json!({
            "replicas": replicas,
            "selector": {"matchLabels": traffic::selector(&self.base, Pin::Canary)},
            "template": template,
        });
        for field in ["progressDeadlineSeconds", "minReadySeconds", "strategy"] {
            if let Some(v) = stable.pointer(&format!("/spec/{field}")) {
                spec[field] = v.clone();
            }
        }
        json!({"apiVersion": DEPLOYMENT.api_version, "kind": DEPLOYMENT.kind,
            "metadata": traffic::owned_metadata(&self.names.canary), "spec": spec})
    }

    fn scale_canary(&mut self, replicas: u32) {
        let object = self.canary_deployment(replicas);
        if replicas == 0 && self.o.canary.is_none() {
            return;
        }
        self.changes.push(Change::Apply(object));
    }

    fn canary_ready(&self, replicas: u32) -> bool {
        replicas == 0 || self.o.canary.as_ref().is_some_and(|c| settled(c, replicas))
    }

    fn canary_available(&self) -> u32 {
        self.o
            .canary
            .as_ref()
            .map_or(0, |c| count(c, "/status/availableReplicas"))
    }

    fn canary_deadline_passed(&self) -> bool {
        self.o.canary.as_ref().is_some_and(|c| {
            spec_replicas(c) > 0
                && matches!(
                    rolling::rollout_status(c),
                    RolloutStatus::DeadlineExceeded(_)
                )
        })
    }

    fn patch_stable(&mut self, patch: Value) {
        self.changes.push(Change::Patch {
            kind: DEPLOYMENT,
            name: self.names.stable.clone(),
            patch,
        });
    }

    fn scale_stable(&mut self, replicas: u32) {
        if !self.o.autoscaled && spec_replicas(&self.o.stable) != replicas {
            self.patch_stable(json!({"spec": {"replicas": replicas}}));
        }
    }

    /// The ports the Services get: the user's Service `NAME`'s, else the containers' ports.
    fn ports(&self) -> Value {
        if let Some(ports) = self
            .o
            .services
            .get(&self.names.stable)
            .and_then(|s| s.pointer("/spec/ports"))
            .and_then(Value::as_array)
        {
            let ports: Vec<Value> = ports
                .iter()
                .map(|p| {
                    let mut p = p.clone();
                    if let Some(o) = p.as_object_mut() {
                        o.remove("nodePort");
                    }
                    p
                })
                .collect();
            return Value::Array(ports);
        }
        let ports: Vec<Value> = containers(&self.o.stable)
            .iter()
            .flat_map(|c| {
                c.get("ports")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default()
            })
            .filter_map(|p| {
                let port = p.get("containerPort")?.clone();
                let mut out = json!({"port": port, "targetPort": port,
                    "protocol": p.get("protocol").cloned().unwrap_or_else(|| json!("TCP"))});
                if let Some(name) = p.get("name") {
                    out["name"] = name.clone();
                }
                Some(out)
            })
            .collect();
        Value::Array(ports)
    }

    fn first_port(&self) -> Option<i64> {
        self.ports().pointer("/0/port").and_then(Value::as_i64)
    }

    fn stable_pin(&self) -> Pin<'_> {
        self.st
            .stable_hash
            .as_deref()
            .map_or(Pin::None, Pin::Stable)
    }

    /// The routed canary's Services and router objects at `weight`, the stable pinned or not.
    fn route(&mut self, weight: Weight, pin_stable: bool) {
        let Some(routing) = self.routing().cloned() else {
            return;
        };
        let hash = self.st.stable_hash.clone();
        let pin = match (&hash, pin_stable) {
            (Some(h), true) => Pin::Stable(h),
            _ => Pin::None,
        };
        let ports = self.ports();
        if ports.as_array().is_some_and(|p| !p.is_empty()) {
            let stable = traffic::service(
                &self.names.stable_service,
                &traffic::selector(&self.base, pin),
                &ports,
            );
            let canary = traffic::service(
                &self.names.canary_service,
                &traffic::selector(&self.base, Pin::Canary),
                &ports,
            );
            self.changes.push(Change::Apply(stable));
            self.changes.push(Change::Apply(canary));
        }
        let port = self.first_port();
        let route = traffic::Route {
            names: &self.names,
            base: &self.base,
            stable_pin: pin,
            weight,
            port,
            live: &self.o.routes,
        };
        match routing.route(&route) {
            Ok(changes) => self.changes.extend(changes),
            Err(e) => self.route_error = Some(e),
        }
        self.st.weight = weight.get();
    }

    /// The analysis `key`'s verdict, if it has one.
    fn verdict(&self, key: &str) -> Option<Verdict> {
        self.st
            .analysis
            .as_ref()
            .filter(|a| a.key == key)
            .and_then(|a| a.verdict)
    }

    fn analysis_message(&self) -> String {
        self.st
            .analysis
            .as_ref()
            .map(|a| a.message.clone())
            .unwrap_or_default()
    }

    /// Sets the active Service's selector (blue-green).
    fn point_active(&mut self, selector: &Value) {
        let name = self.active_service().to_owned();
        let current = self
            .o
            .services
            .get(&name)
            .and_then(|s| s.pointer("/spec/selector"));
        if current != Some(selector) {
            // A merge patch merges maps: labels the new selector drops must be nulled.
            let patch = current.map_or_else(|| selector.clone(), |c| merge_diff(c, selector));
            self.changes.push(Change::Patch {
                kind: SERVICE,
                name,
                patch: json!({"spec": {"selector": patch}}),
            });
        }
    }

    fn active_service(&self) -> &str {
        match &self.spec.strategy {
            Spec::BlueGreen(bg) => bg.active_service.as_deref().unwrap_or(&self.names.stable),
            _ => &self.names.stable,
        }
    }

    /// The template of the revision the rollout began from (without its hash), when the Deployment's
    /// template differs from it: the patch that restores it.
    fn restore_patch(&self, revision: Option<i64>) -> Option<Value> {
        let target = rolling::undo_template(&self.o.replica_sets, revision)?;
        let current = self.o.stable.pointer("/spec/template")?;
        let mut current_clean = current.clone();
        if let Some(labels) = current_clean
            .pointer_mut("/metadata/labels")
            .and_then(Value::as_object_mut)
        {
            labels.remove(POD_TEMPLATE_HASH);
        }
        if current_clean == target {
            return None;
        }
        Some(json!({"spec": {"template": merge_diff(&current_clean, &target)}}))
    }

    fn stable_status(&self) -> RolloutStatus {
        rolling::rollout_status(&self.o.stable)
    }
}

impl Strategy for RolloutSpec {
    fn decide(&self, observed: &Observed) -> Decision {
        let st = observed
            .state
            .clone()
            .expect("Strategy::decide needs observed.state (see strategy::begin)");
        let mut names = Names::new(&observed.name);
        match &self.strategy {
            Spec::Canary(c) => {
                if let Some(s) = &c.stable_service {
                    names.stable_service.clone_from(s);
                }
                if let Some(s) = &c.canary_service {
                    names.canary_service.clone_from(s);
                }
            }
            Spec::BlueGreen(bg) => {
                if let Some(s) = &bg.preview_service {
                    names.preview_service.clone_from(s);
                }
            }
            _ => {}
        }
        let mut plan = Plan {
            spec: self,
            o: observed,
            base: match_labels(&observed.stable),
            names,
            st,
            changes: Vec::new(),
            route_error: None,
        };
        if plan.st.abort
            && !matches!(
                plan.st.stage,
                Stage::Aborting | Stage::Done | Stage::RollingBack | Stage::Create
            )
        {
            plan.st.abort = false;
            if plan.st.stage == Stage::Rolling {
                plan.enter(Stage::RollingBack);
                plan.st.rollback_to = plan.st.stable_revision;
                "Aborted".clone_into(&mut plan.st.reason);
            } else {
                plan.abort("Aborted", "aborted".to_owned());
            }
        }
        // Each pass either returns or moves the state on; the bound only guards against a loop.
        for _ in 0..64 {
            let stage = plan.st.stage;
            plan = match stage {
                Stage::Done => {
                    let (phase, reason, message) = (
                        plan.st.phase,
                        plan.st.reason.clone(),
                        plan.st.message.clone(),
                    );
                    let phase = if phase == Phase::Progressing {
                        Phase::Healthy
                    } else {
                        phase
                    };
                    return plan.rest(phase, &reason, message);
                }
                Stage::Create => return create(plan),
                Stage::Rolling => match rolling_update(plan) {
                    Flow::Done(d) => return d,
                    Flow::Again(p) => p,
                },
                Stage::RollingBack => return rolling_back(plan),
                Stage::Aborting => return aborting(plan),
                Stage::Promoting => match promoting(plan) {
                    Flow::Done(d) => return d,
                    Flow::Again(p) => p,
                },
                Stage::Steps => match &self.strategy {
                    Spec::Canary(c) => match canary_steps(plan, c) {
                        Flow::Done(d) => return d,
                        Flow::Again(p) => p,
                    },
                    _ => return invalid(plan),
                },
                Stage::Preview | Stage::Switched => match &self.strategy {
                    Spec::BlueGreen(bg) => match blue_green(plan, bg) {
                        Flow::Done(d) => return d,
                        Flow::Again(p) => p,
                    },
                    _ => return invalid(plan),
                },
            };
        }
        let message = "the strategy did not settle".to_owned();
        plan.wait(Wait::Cluster, message)
    }
}

/// A stage the strategy does not have (the state was written for another strategy): stop, as Argo's
/// `InvalidSpec`.
fn invalid(plan: Plan<'_>) -> Decision {
    let message = format!(
        "the rollout's state ({:?}) does not belong to a {} strategy",
        plan.st.stage,
        plan.spec.strategy.kind()
    );
    plan.rest(Phase::Degraded, "InvalidSpec", message)
}

/// The first version: wait for the Deployment to roll out.
fn create(mut plan: Plan<'_>) -> Decision {
    match plan.stable_status() {
        RolloutStatus::Complete(m) => {
            plan.st.stage = Stage::Done;
            plan.rest(Phase::Healthy, "", m)
        }
        RolloutStatus::DeadlineExceeded(m) => {
            plan.st.stage = Stage::Done;
            plan.rest(Phase::Degraded, "ProgressDeadlineExceeded", m)
        }
        RolloutStatus::Waiting(m) => plan.wait(Wait::Cluster, m),
    }
}

/// The rolling strategy: set the image, watch the Deployment as `kubectl rollout status` does, undo
/// when its progress deadline passes.
fn rolling_update(mut plan: Plan<'_>) -> Flow<'_> {
    let image = plan.st.image.clone();
    if !plan.stable_runs(&image) {
        let patch = plan.new_image_patch(&image);
        plan.patch_stable(patch);
        let message = format!("rolling {} to {image}", plan.names.stable);
        return Flow::Done(plan.wait(Wait::Cluster, message));
    }
    match plan.stable_status() {
        RolloutStatus::Complete(m) => {
            plan.st.stage = Stage::Done;
            Flow::Done(plan.rest(Phase::Healthy, "", m))
        }
        RolloutStatus::DeadlineExceeded(m) => {
            plan.enter(Stage::RollingBack);
            plan.st.rollback_to = plan.st.stable_revision;
            "ProgressDeadlineExceeded".clone_into(&mut plan.st.reason);
            plan.st.message = m;
            Flow::Again(plan)
        }
        RolloutStatus::Waiting(m) => Flow::Done(plan.wait(Wait::Cluster, m)),
    }
}

/// Undo to `rollback_to` (as `kubectl rollout undo --to-revision`), taking the new version's pods and
/// routes down, and wait for the Deployment to settle.
fn rolling_back(mut plan: Plan<'_>) -> Decision {
    clear_new_version(&mut plan);
    let n = plan.n();
    plan.scale_stable(n);
    let reason = plan.st.reason.clone();
    let target = plan.st.rollback_to;
    if let Some(patch) = plan.restore_patch(target) {
        plan.patch_stable(patch);
        let message = format!(
            "rolling {} back to revision {}",
            plan.names.stable,
            target.map_or_else(|| "previous".to_owned(), |r| r.to_string())
        );
        return plan.wait(Wait::Cluster, message);
    }
    match plan.stable_status() {
        RolloutStatus::Complete(_) | RolloutStatus::DeadlineExceeded(_) => {
            plan.st.stage = Stage::Done;
            let image = container_image(&plan.o.stable, &plan.st.container)
                .unwrap_or_default()
                .to_owned();
            let message = format!("rolled back to {image}");
            if reason == "RolledBack" {
                plan.rest(Phase::Healthy, &reason, message)
            } else {
                plan.rest(Phase::Degraded, &reason, message)
            }
        }
        RolloutStatus::Waiting(m) => plan.wait(Wait::Cluster, m),
    }
}

/// Routes all traffic back to the stable version, points the active Service back, and scales the new
/// version to zero.
fn clear_new_version(plan: &mut Plan<'_>) {
    if plan.routing().is_some() {
        plan.route(Weight::ZERO, false);
    }
    if let Spec::BlueGreen(_) = plan.spec.strategy {
        let selector = Value::Object(plan.base.clone());
        plan.point_active(&selector);
    }
    plan.scale_canary(0);
}

/// Abort: all traffic and all replicas back to the stable version (its template restored if promotion
/// had begun), then the new version scaled to zero.
fn aborting(mut plan: Plan<'_>) -> Decision {
    let n = plan.n();
    if plan.routing().is_some() {
        plan.route(Weight::ZERO, true);
    }
    if let Spec::BlueGreen(_) = plan.spec.strategy {
        let selector = traffic::selector(&plan.base, plan.stable_pin());
        plan.point_active(&selector);
    }
    plan.scale_stable(n);
    let stable_revision = plan.st.stable_revision;
    if container_image(&plan.o.stable, &plan.st.container) != Some(plan.st.stable_image.as_str())
        && let Some(patch) = plan.restore_patch(stable_revision)
    {
        plan.patch_stable(patch);
        let message = format!("aborting: restoring {}", plan.st.stable_image);
        return plan.wait(Wait::Cluster, message);
    }
    if !matches!(plan.stable_status(), RolloutStatus::Complete(_)) || !settled(&plan.o.stable, n) {
        let available = count(&plan.o.stable, "/status/availableReplicas");
        let message = format!("aborting: stable {available}/{n} available");
        return plan.wait(Wait::Cluster, message);
    }
    plan.scale_canary(0);
    plan.st.stage = Stage::Done;
    let reason = if plan.st.reason.is_empty() {
        "Aborted".to_owned()
    } else {
        plan.st.reason.clone()
    };
    let message = format!(
        "{}; all traffic on {}",
        plan.st.message, plan.st.stable_image
    );
    plan.rest(Phase::Degraded, &reason, message)
}

/// Promotion: the user's Deployment rolls to the new image while the new pods carry the traffic; then
/// all traffic returns to it and the new version's Deployment is scaled to zero.
fn promoting(mut plan: Plan<'_>) -> Flow<'_> {
    let n = plan.n();
    let image = plan.st.image.clone();
    let weight = Weight::new(i64::from(plan.st.weight)).unwrap_or(Weight::FULL);
    if plan.routing().is_some() {
        plan.route(weight, false);
    }
    if !plan.stable_runs(&image) {
        let patch = plan.new_image_patch(&image);
        plan.patch_stable(patch);
        let message = format!("promoting: rolling {} to {image}", plan.names.stable);
        return Flow::Done(plan.wait(Wait::Cluster, message));
    }
    match plan.stable_status() {
        RolloutStatus::Waiting(m) => {
            Flow::Done(plan.wait(Wait::Cluster, format!("promoting: {m}")))
        }
        RolloutStatus::DeadlineExceeded(m) => {
            plan.abort("ProgressDeadlineExceeded", m);
            Flow::Again(plan)
        }
        RolloutStatus::Complete(_) => {
            // The user's Deployment runs the new version: the canary's routes and pods go.
            clear_new_version(&mut plan);
            plan.st.stage = Stage::Done;
            let message = format!("{image} promoted: {n}/{n} replicas, all traffic");
            Flow::Done(plan.rest(Phase::Healthy, "", message))
        }
    }
}

/// The weight and canary scale in force at step `i` (the last `setWeight` and `setCanaryScale` before
/// or at it).
fn weight_at(steps: &[Step], i: usize) -> (Weight, Option<CanaryScale>) {
    let mut weight = Weight::ZERO;
    let mut scale = None;
    for step in steps.iter().take(i + 1) {
        match step {
            Step::SetWeight(w) => weight = *w,
            Step::SetCanaryScale(CanaryScale::MatchTrafficWeight) => scale = None,
            Step::SetCanaryScale(s) => scale = Some(*s),
            _ => {}
        }
    }
    (weight, scale)
}

/// The next replica counts on the way from `current` to `target`, within the budget: the new version
/// grows first while the total stays within N + surge, the stable shrinks only as far as keeps N −
/// unavailable pods available (counting only available pods), and either may shrink at once when the
/// other side has what it needs.
#[must_use]
pub fn step_toward(
    n: u32,
    budget: Budget,
    current: Split,
    available: Split,
    target: Split,
) -> Split {
    let max_total = n.saturating_add(budget.max_surge);
    let min_available = n.saturating_sub(budget.max_unavailable);
    let mut canary = current.canary;
    let mut stable = current.stable;
    if target.canary > canary {
        let room = max_total.saturating_sub(canary + stable);
        canary += room.min(target.canary - canary);
    }
    if target.stable > stable {
        let room = max_total.saturating_sub(canary + stable);
        stable += room.min(target.stable - stable);
    }
    if target.stable < stable {
        // Keep N − unavailable available: what the canary has available now counts.
        let floor = min_available.saturating_sub(available.canary.min(canary));
        stable = stable.saturating_sub(stable - target.stable.max(floor).min(stable));
    }
    if target.canary < canary {
        let floor = min_available.saturating_sub(available.stable.min(stable));
        canary = canary.saturating_sub(canary - target.canary.max(floor).min(canary));
    }
    Split::new(canary, stable)
}

#[allow(clippy::too_many_lines)] // one arm per step kind, each short
fn canary_steps<'a>(mut plan: Plan<'a>, c: &Canary) -> Flow<'a> {
    let n = plan.n();
    let total = c.steps.len();
    if plan.canary_deadline_passed() {
        let message = format!(
            "{} did not become available within its progress deadline",
            plan.names.canary
        );
        plan.abort("ProgressDeadlineExceeded", message);
        return Flow::Again(plan);
    }
    if plan.st.step >= total {
        plan.enter(Stage::Promoting);
        return Flow::Again(plan);
    }
    let i = plan.st.step;
    let (weight, scale) = weight_at(&c.steps, i);
    let label = format!("step {}/{total}", i + 1);
    if plan.routing().is_some() {
        let current_stable = Weight::new(100 - i64::from(plan.st.weight)).ok();
        let split =
            replicas::routed_canary(n, weight, scale, c.dynamic_stable_scale, current_stable);
        plan.scale_canary(split.canary);
        let increasing = weight.get() > plan.st.weight;
        if !plan.canary_ready(split.canary) {
            // Traffic moves away from the new version at once, towards it only once it is ready.
            if !increasing && weight.get() != plan.st.weight {
                plan.route(weight, true);
            }
            let message = format!(
                "{label}: {} {}/{} available",
                plan.names.canary,
                plan.canary_available(),
                split.canary
            );
            return Flow::Done(plan.wait(Wait::Cluster, message));
        }
        plan.route(weight, true);
        if c.dynamic_stable_scale {
            plan.scale_stable(split.stable);
        }
    } else {
        let target = if plan.o.autoscaled {
            // The autoscaler owns the stable's replicas: the canary is added beside them, sized so
            // that its share of all pods is the weight.
            let w = u64::from(weight.get());
            let canary = if w >= 100 {
                n
            } else {
                u32::try_from((u64::from(n) * w).div_ceil(100 - w))
                    .unwrap_or(n)
                    .min(n)
            };
            Split::new(canary, n)
        } else {
            replicas::basic_canary(n, weight, plan.budget().max_surge)
        };
        let current = Split::new(
            plan.o.canary.as_ref().map_or(0, spec_replicas),
            spec_replicas(&plan.o.stable),
        );
        let available = Split::new(
            plan.canary_available(),
            count(&plan.o.stable, "/status/availableReplicas"),
        );
        let next = if plan.o.autoscaled {
            target
        } else {
            step_toward(n, plan.budget(), current, available, target)
        };
        plan.scale_canary(next.canary);
        plan.scale_stable(next.stable);
        let done = next == target
            && plan.canary_ready(target.canary)
            && settled(&plan.o.stable, target.stable);
        if !done {
            let message = format!(
                "{label}: setWeight {}: {} {}/{} available, {} {}/{}",
                weight.get(),
                plan.names.canary,
                plan.canary_available(),
                target.canary,
                plan.names.stable,
                available.stable,
                target.stable
            );
            return Flow::Done(plan.wait(Wait::Cluster, message));
        }
        plan.st.weight = weight.get();
    }
    match &c.steps[i] {
        Step::SetWeight(_) | Step::SetCanaryScale(_) => {
            plan.advance();
            Flow::Again(plan)
        }
        Step::Pause { duration } => {
            if plan.st.promote {
                plan.st.promote = false;
                plan.advance();
                return Flow::Again(plan);
            }
            let Some(d) = duration else {
                let message = format!("{label}: paused at {}% until promoted", weight.get());
                return Flow::Done(plan.rest(Phase::Paused, "CanaryPauseStep", message));
            };
            let end = plan.st.step_started + d.as_secs();
            if unix(plan.o.now) >= end {
                plan.advance();
                return Flow::Again(plan);
            }
            let message = format!(
                "{label}: paused for {}s at {}% ({}s left)",
                d.as_secs(),
                weight.get(),
                end - unix(plan.o.now)
            );
            Flow::Done(plan.wait(Wait::Until(at(end)), message))
        }
        Step::Analysis(analysis) => {
            let key = format!("step-{i}");
            match judged(plan, &key, analysis, &label) {
                Flow::Done(decision) => Flow::Done(decision),
                Flow::Again(mut plan) => {
                    plan.advance();
                    Flow::Again(plan)
                }
            }
        }
    }
}

/// An analysis: `Flow::Done(decision)` while it runs, when it is inconclusive (a rest) or failed (the abort,
/// begun in the same decision); `Flow::Again(plan)` when it passed (or was promoted past).
fn judged<'a>(mut plan: Plan<'a>, key: &str, analysis: &spec::Analysis, label: &str) -> Flow<'a> {
    match plan.verdict(key) {
        Some(Verdict::Successful) => Flow::Again(plan),
        Some(Verdict::Failed) => {
            let message = format!("{label}: analysis failed: {}", plan.analysis_message());
            plan.abort("AnalysisFailed", message);
            // The abort continues in the same decision.
            Flow::Done(aborting(plan))
        }
        Some(Verdict::Inconclusive) => {
            if plan.st.promote {
                plan.st.promote = false;
                return Flow::Again(plan);
            }
            let message = format!(
                "{label}: analysis inconclusive: {}",
                plan.analysis_message()
            );
            Flow::Done(plan.rest(Phase::Inconclusive, "InconclusiveAnalysis", message))
        }
        None => {
            if plan.st.analysis.as_ref().is_some_and(|a| a.key != key) {
                plan.st.analysis = None;
            }
            let message = format!("{label}: analysis {}", analysis.templates.join(", "));
            Flow::Done(plan.wait(
                Wait::Analysis {
                    key: key.to_owned(),
                    analysis: analysis.clone(),
                },
                message,
            ))
        }
    }
}

#[allow(clippy::too_many_lines)] // the preview's sub-steps in order
fn blue_green<'a>(mut plan: Plan<'a>, bg: &BlueGreen) -> Flow<'a> {
    let n = plan.n();
    let preview_replicas = bg.preview_replica_count.map_or(n, |p| p.min(n));
    if plan.canary_deadline_passed() {
        let message = format!(
            "{} did not become available within its progress deadline",
            plan.names.canary
        );
        plan.abort("ProgressDeadlineExceeded", message);
        return Flow::Again(plan);
    }
    let ports = plan.ports();
    let has_ports = ports.as_array().is_some_and(|p| !p.is_empty());
    if plan.st.stage == Stage::Preview {
        // The active Service keeps to the stable pods; the preview Service sees the new ones.
        let active = plan.active_service().to_owned();
        let pinned = traffic::selector(&plan.base, plan.stable_pin());
        if plan.o.services.contains_key(&active) {
            plan.point_active(&pinned);
        } else if has_ports {
            plan.changes
                .push(Change::Apply(traffic::service(&active, &pinned, &ports)));
        }
        if has_ports {
            let preview = traffic::service(
                &plan.names.preview_service,
                &traffic::selector(&plan.base, Pin::Canary),
                &ports,
            );
            plan.changes.push(Change::Apply(preview));
        }
        // Sub-steps: 0 the preview comes up, 1 pre-promotion analysis, 2 the promotion gate, 3 the
        // preview grows to N before the switch.
        if plan.st.step == 0 {
            plan.scale_canary(preview_replicas);
            if !plan.canary_ready(preview_replicas) {
                let message = format!(
                    "preview {} {}/{preview_replicas} available",
                    plan.names.canary,
                    plan.canary_available()
                );
                return Flow::Done(plan.wait(Wait::Cluster, message));
            }
            plan.advance();
        }
        if plan.st.step == 1 {
            plan.scale_canary(preview_replicas);
            if let Some(analysis) = &bg.pre_promotion_analysis {
                match judged(plan, "prePromotion", analysis, "pre-promotion") {
                    Flow::Done(d) => return Flow::Done(d),
                    Flow::Again(p) => plan = p,
                }
            }
            plan.advance();
        }
        if plan.st.step == 2 {
            plan.scale_canary(preview_replicas);
            if plan.st.promote {
                plan.st.promote = false;
            } else if !bg.auto_promotion_enabled {
                let message = format!(
                    "preview of {} ready on {}: waiting for promote",
                    plan.st.image, plan.names.preview_service
                );
                return Flow::Done(plan.rest(Phase::Paused, "BlueGreenPause", message));
            } else if let Some(seconds) = bg.auto_promotion_seconds.filter(|s| *s > 0) {
                let end = plan.st.step_started + u64::from(seconds);
                if unix(plan.o.now) < end {
                    let message = format!("promoting automatically in {}s", end - unix(plan.o.now));
                    return Flow::Done(plan.wait(Wait::Until(at(end)), message));
                }
            }
            plan.advance();
        }
        plan.scale_canary(n);
        if !plan.canary_ready(n) {
            let message = format!(
                "scaling {} to {n} before the switch: {}/{n} available",
                plan.names.canary,
                plan.canary_available()
            );
            return Flow::Done(plan.wait(Wait::Cluster, message));
        }
        let to_new = traffic::selector(&plan.base, Pin::Canary);
        plan.point_active(&to_new);
        plan.st.weight = 100;
        plan.enter(Stage::Switched);
        return Flow::Again(plan);
    }
    // Switched: the active Service points at the new version.
    plan.scale_canary(n);
    let to_new = traffic::selector(&plan.base, Pin::Canary);
    plan.point_active(&to_new);
    if let Some(analysis) = &bg.post_promotion_analysis {
        match judged(plan, "postPromotion", analysis, "post-promotion") {
            Flow::Done(d) => return Flow::Done(d),
            Flow::Again(p) => plan = p,
        }
    }
    let end = plan.st.step_started + u64::from(bg.scale_down_delay_seconds);
    if unix(plan.o.now) < end && !plan.st.promote {
        let message = format!(
            "switched to {}: the previous version stays up for {}s",
            plan.st.image,
            end - unix(plan.o.now)
        );
        return Flow::Done(plan.wait(Wait::Until(at(end)), message));
    }
    plan.st.promote = false;
    plan.enter(Stage::Promoting);
    Flow::Again(plan)
}

/// Starts an analysis record for `key` (the driver fills in the runs).
#[must_use]
pub fn new_analysis(key: &str) -> AnalysisState {
    AnalysisState {
        key: key.to_owned(),
        runs: Vec::new(),
        verdict: None,
        message: String::new(),
    }
}

#[cfg(test)]
mod tests;
