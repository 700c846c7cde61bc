//! Serverless delivery: a Knative Service (`serving.knative.dev/v1`) for an image, and a canary by
//! revision traffic split, as a pure state machine over the Service's observed status.
//!
//! - [`render`] writes a Knative Service from a [`Container`] (image, env, port, probes, resources) using
//!   only the fields Cloud Run's Knative API documents, so `gcloud run services replace` takes it too.
//! - [`reconcile`] walks canary [`Step`]s (`setWeight=20,pause=30s,…`, the flags of
//!   `slipway deploy plan`): the candidate revision gets `w%` and the current one `100−w`, pinned by
//!   name and tagged `candidate` and `current`; after the last step traffic goes to `latestRevision: true`
//!   at 100%; a candidate that fails, or [`Action::Rollback`], sends 100% back to the current revision.
//!   Its state lives in one annotation on the Service ([`STATE_ANNOTATION`]), so any run picks the
//!   rollout up where another stopped.
//!
//! ```
//! use slipway_deploy::serverless::{Container, render, traffic_latest};
//!
//! let svc = render("hello", &Container::new("ghcr.io/acme/hello:v2").port(8080), &traffic_latest());
//! assert_eq!(svc["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"], 8080);
//! assert_eq!(svc["spec"]["traffic"][0]["percent"], 100);
//! Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

pub mod drive;
pub use drive::drive;

use crate::replicas::Weight;
use crate::spec::Step;

/// The annotation on the Knative Service holding the rollout's [`State`] (JSON).
pub const STATE_ANNOTATION: &str = "slipway.dev/knative-rollout";
/// The tag of the revision being rolled out.
pub const CANDIDATE_TAG: &str = "candidate";
/// The tag of the revision serving before the rollout.
pub const CURRENT_TAG: &str = "current";

/// An HTTP GET or TCP probe on the container's port.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProbeCheck {
    /// `httpGet` on this path.
    Http {
        /// The path (`/healthz`).
        path: String,
    },
    /// `tcpSocket`.
    Tcp,
}

/// A readiness or liveness probe (Knative probes the container's port; no port is written).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Probe {
    /// What is checked.
    pub check: ProbeCheck,
    /// `periodSeconds`, when set.
    pub period_seconds: Option<u32>,
    /// `initialDelaySeconds`, when set.
    pub initial_delay_seconds: Option<u32>,
    /// `failureThreshold`, when set.
    pub failure_threshold: Option<u32>,
    /// `timeoutSeconds`, when set.
    pub timeout_seconds: Option<u32>,
}

impl Probe {
    /// An `httpGet` probe of `path`.
    #[must_use]
    pub fn http(path: impl Into<String>) -> Self {
        Probe {
            check: ProbeCheck::Http { path: path.into() },
            period_seconds: None,
            initial_delay_seconds: None,
            failure_threshold: None,
            timeout_seconds: None,
        }
    }

    /// A `tcpSocket` probe.
    #[must_use]
    pub fn tcp() -> Self {
        Probe {
            check: ProbeCheck::Tcp,
            ..Probe::http("")
        }
    }

    /// Probes every `seconds`.
    #[must_use]
    pub fn period(mut self, seconds: u32) -> Self {
        self.period_seconds = Some(seconds);
        self
    }

    fn to_json(&self) -> Value {
        let mut p = match &self.check {
            ProbeCheck::Http { path } => json!({"httpGet": {"path": path}}),
            ProbeCheck::Tcp => json!({"tcpSocket": {}}),
        };
        for (key, v) in [
            ("periodSeconds", self.period_seconds),
            ("initialDelaySeconds", self.initial_delay_seconds),
            ("failureThreshold", self.failure_threshold),
            ("timeoutSeconds", self.timeout_seconds),
        ] {
            if let Some(v) = v {
                p[key] = json!(v);
            }
        }
        p
    }
}

/// The service's container: what the Knative Service runs.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Container {
    /// The image reference (a digest pins the revision's image).
    pub image: String,
    /// The container's port (`containerPort`; Knative and Cloud Run default to 8080 and pass `$PORT`).
    pub port: Option<u16>,
    /// Environment variables, in order.
    pub env: Vec<(String, String)>,
    /// `readinessProbe`.
    pub readiness: Option<Probe>,
    /// `livenessProbe`.
    pub liveness: Option<Probe>,
    /// `resources.requests` (`cpu`, `memory`).
    pub requests: BTreeMap<String, String>,
    /// `resources.limits` (`cpu`, `memory`).
    pub limits: BTreeMap<String, String>,
}

impl Container {
    /// A container of `image` with nothing else set.
    #[must_use]
    pub fn new(image: impl Into<String>) -> Self {
        Container {
            image: image.into(),
            port: None,
            env: Vec::new(),
            readiness: None,
            liveness: None,
            requests: BTreeMap::new(),
            limits: BTreeMap::new(),
        }
    }

    /// Serves on `port`.
    #[must_use]
    pub fn port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }

    /// Adds an environment variable.
    #[must_use]
    pub fn env(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((name.into(), value.into()));
        self
    }

    /// Sets the readiness probe.
    #[must_use]
    pub fn readiness(mut self, probe: Probe) -> Self {
        self.readiness = Some(probe);
        self
    }

    /// Sets the liveness probe.
    #[must_use]
    pub fn liveness(mut self, probe: Probe) -> Self {
        self.liveness = Some(probe);
        self
    }

    /// Sets a resource limit (`cpu`, `memory`).
    #[must_use]
    pub fn limit(mut self, resource: impl Into<String>, quantity: impl Into<String>) -> Self {
        self.limits.insert(resource.into(), quantity.into());
        self
    }

    /// Sets a resource request (`cpu`, `memory`).
    #[must_use]
    pub fn request(mut self, resource: impl Into<String>, quantity: impl Into<String>) -> Self {
        self.requests.insert(resource.into(), quantity.into());
        self
    }

    fn to_json(&self) -> Value {
        let mut c = json!({"image": self.image});
        if let Some(port) = self.port {
            // Cloud Run names the port `http1` (HTTP/1) or `h2c`; Knative accepts either.
            c["ports"] = json!([{"name": "http1", "containerPort": port}]);
        }
        if !self.env.is_empty() {
            c["env"] = self
                .env
                .iter()
                .map(|(k, v)| json!({"name": k, "value": v}))
                .collect();
        }
        if let Some(p) = &self.readiness {
            c["readinessProbe"] = p.to_json();
        }
        if let Some(p) = &self.liveness {
            c["livenessProbe"] = p.to_json();
        }
        let mut resources = json!({});
        if !self.requests.is_empty() {
            resources["requests"] = json!(self.requests);
        }
        if !self.limits.is_empty() {
            resources["limits"] = json!(self.limits);
        }
        if resources != json!({}) {
            c["resources"] = resources;
        }
        c
    }
}

/// One `traffic:` entry of a Knative Service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct TrafficTarget {
    /// A pinned revision; `None` with `latest_revision` floats to the latest ready one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision_name: Option<String>,
    /// Whether the target follows the latest ready revision.
    #[serde(default)]
    pub latest_revision: bool,
    /// Its share, 0–100.
    pub percent: u32,
    /// A tag (a named URL for this target).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
}

impl TrafficTarget {
    /// `revision` at `percent`, tagged.
    #[must_use]
    pub fn pinned(revision: &str, percent: u32, tag: Option<&str>) -> Self {
        TrafficTarget {
            revision_name: Some(revision.to_owned()),
            latest_revision: false,
            percent,
            tag: tag.map(str::to_owned),
        }
    }

    /// The latest ready revision at `percent`, tagged.
    #[must_use]
    pub fn latest(percent: u32, tag: Option<&str>) -> Self {
        TrafficTarget {
            revision_name: None,
            latest_revision: true,
            percent,
            tag: tag.map(str::to_owned),
        }
    }
}

/// All traffic to the latest ready revision (Knative's default, and a promotion's end).
#[must_use]
pub fn traffic_latest() -> Vec<TrafficTarget> {
    vec![TrafficTarget::latest(100, None)]
}

/// The split at `weight`: the candidate at `weight`, the current revision at the rest.
#[must_use]
pub fn traffic_split(current: &str, candidate: &str, weight: Weight) -> Vec<TrafficTarget> {
    vec![
        TrafficTarget::pinned(current, 100 - weight.get(), Some(CURRENT_TAG)),
        TrafficTarget::pinned(candidate, weight.get(), Some(CANDIDATE_TAG)),
    ]
}

/// All traffic back to `revision`.
#[must_use]
pub fn traffic_rollback(revision: &str) -> Vec<TrafficTarget> {
    vec![TrafficTarget::pinned(revision, 100, None)]
}

/// The traffic list as JSON (what `spec.traffic` holds).
#[must_use]
pub fn traffic_json(traffic: &[TrafficTarget]) -> Value {
    serde_json::to_value(traffic).unwrap_or_else(|_| json!([]))
}

/// A Knative Service `name` running `container`, with `traffic`.
#[must_use]
pub fn render(name: &str, container: &Container, traffic: &[TrafficTarget]) -> Value {
    json!({
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {
            "template": {"spec": {"containers": [container.to_json()]}},
            "traffic": traffic_json(traffic),
        },
    })
}

/// What a canary is doing: the crate's phases ([`crate::state::Phase`]). Paused covers a timed pause as
/// well as one waiting for promotion; Inconclusive is an `analysis` step, which this target cannot judge.
pub use crate::state::Phase;

/// The rollout's memory, kept in [`STATE_ANNOTATION`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct State {
    /// The revision serving before the rollout (`None`: a first deployment, no canary).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<String>,
    /// The revision being rolled out, once it exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub candidate: Option<String>,
    /// The index of the step in progress (`steps.len()` once all are done).
    #[serde(default)]
    pub step: usize,
    /// When (seconds since the epoch) the timed pause in progress began.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused_at: Option<u64>,
    /// Rolled back: traffic stays on `current`.
    #[serde(default)]
    pub aborted: bool,
}

impl State {
    /// A rollout from `current` (the revision serving now, if any).
    #[must_use]
    pub fn starting_from(current: Option<String>) -> Self {
        State {
            current,
            ..State::default()
        }
    }

    /// The annotation's value.
    #[must_use]
    pub fn to_annotation(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads the annotation's value; `None` when it is not one.
    #[must_use]
    pub fn from_annotation(text: &str) -> Option<Self> {
        serde_json::from_str(text).ok()
    }
}

/// What the Knative Service's status says (read by [`Observed::from_service`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Observed {
    /// `status.latestCreatedRevisionName`.
    pub latest_created: Option<String>,
    /// `status.latestReadyRevisionName`.
    pub latest_ready: Option<String>,
    /// The latest created revision failed (`ConfigurationsReady` False), with the condition's message.
    pub failed: Option<String>,
    /// `status.traffic` as (revision, percent), zero shares left out.
    pub traffic: Vec<(String, u32)>,
    /// `status.observedGeneration` equals `metadata.generation`.
    pub up_to_date: bool,
}

fn str_at<'a>(v: &'a Value, pointer: &str) -> Option<&'a str> {
    v.pointer(pointer).and_then(Value::as_str)
}

impl Observed {
    /// Reads a Knative Service object (as JSON).
    #[must_use]
    pub fn from_service(svc: &Value) -> Self {
        let condition = |type_: &str| {
            svc.pointer("/status/conditions")
                .and_then(Value::as_array)
                .and_then(|cs| cs.iter().find(|c| c["type"] == type_))
        };
        let failed = condition("ConfigurationsReady")
            .filter(|c| c["status"] == "False")
            .map(|c| c["message"].as_str().unwrap_or("").to_owned());
        let mut traffic: Vec<(String, u32)> = svc
            .pointer("/status/traffic")
            .and_then(Value::as_array)
            .map(|ts| {
                ts.iter()
                    .filter_map(|t| {
                        let percent = u32::try_from(t["percent"].as_u64()?).ok()?;
                        let revision = t["revisionName"].as_str()?.to_owned();
                        (percent > 0).then_some((revision, percent))
                    })
                    .collect()
            })
            .unwrap_or_default();
        traffic.sort();
        let generation = svc.pointer("/metadata/generation").and_then(Value::as_i64);
        Observed {
            latest_created: str_at(svc, "/status/latestCreatedRevisionName").map(str::to_owned),
            latest_ready: str_at(svc, "/status/latestReadyRevisionName").map(str::to_owned),
            failed,
            traffic,
            up_to_date: generation.is_some()
                && svc
                    .pointer("/status/observedGeneration")
                    .and_then(Value::as_i64)
                    == generation,
        }
    }

    /// The revision carrying the most traffic now (ties: the first by name), else the latest ready.
    #[must_use]
    pub fn serving(&self) -> Option<String> {
        self.traffic
            .iter()
            .max_by(|a, b| a.1.cmp(&b.1).then_with(|| b.0.cmp(&a.0)))
            .map(|(r, _)| r.clone())
            .or_else(|| self.latest_ready.clone())
    }

    /// Whether `status.traffic` is `desired` resolved (latest entries as the latest ready revision).
    fn settled(&self, desired: &[TrafficTarget]) -> bool {
        let mut want: Vec<(String, u32)> = Vec::new();
        for t in desired.iter().filter(|t| t.percent > 0) {
            let revision = match (&t.revision_name, &self.latest_ready) {
                (Some(r), _) | (None, Some(r)) => r.clone(),
                (None, None) => return false,
            };
            want.push((revision, t.percent));
        }
        want.sort();
        self.up_to_date && want == self.traffic
    }
}

/// What to ask of the rollout besides reconciling it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Action {
    /// Walk the steps.
    #[default]
    Reconcile,
    /// Skip the remaining steps: all traffic to the latest revision.
    Promote,
    /// All traffic back to the current revision.
    Rollback,
}

/// What [`reconcile`] decided.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Outcome {
    /// The phase.
    pub phase: Phase,
    /// The `spec.traffic` to write (unchanged when it already is).
    pub traffic: Vec<TrafficTarget>,
    /// The state to record.
    pub state: State,
    /// What is going on, for people.
    pub message: String,
    /// For a timed pause: seconds until it ends.
    pub resume_in: Option<Duration>,
}

fn outcome(phase: Phase, traffic: Vec<TrafficTarget>, state: State, message: String) -> Outcome {
    Outcome {
        phase,
        traffic,
        state,
        message,
        resume_in: None,
    }
}

/// One reconciliation of a Knative canary: from the `steps`, the recorded `state`, what the Service
/// reports and the time (`now`, seconds since the epoch), the traffic to write and the phase.
#[must_use]
pub fn reconcile(
    steps: &[Step],
    state: &State,
    observed: &Observed,
    action: Action,
    now: u64,
) -> Outcome {
    let mut state = state.clone();
    match action {
        Action::Promote => {
            state.step = steps.len();
            state.paused_at = None;
        }
        Action::Rollback => state.aborted = true,
        Action::Reconcile => {}
    }
    let Some(current) = state.current.clone() else {
        // A first deployment: no previous revision to split with.
        let traffic = traffic_latest();
        return match (&observed.failed, observed.settled(&traffic)) {
            (Some(m), _) => outcome(Phase::Degraded, traffic, state, m.clone()),
            (None, true) if observed.latest_ready == observed.latest_created => outcome(
                Phase::Healthy,
                traffic,
                state,
                "all traffic on the latest revision".to_owned(),
            ),
            _ => outcome(
                Phase::Progressing,
                traffic,
                state,
                "waiting for the first revision".to_owned(),
            ),
        };
    };
    if state.aborted {
        let traffic = traffic_rollback(&current);
        let message = format!("rolled back: all traffic on {current}");
        let phase = if observed.settled(&traffic) {
            Phase::Degraded
        } else {
            Phase::Progressing
        };
        return outcome(phase, traffic, state, message);
    }
    let candidate = match &state.candidate {
        Some(c) => c.clone(),
        None => match &observed.latest_created {
            Some(c) if *c != current && observed.up_to_date => c.clone(),
            _ => {
                let traffic = vec![
                    TrafficTarget::pinned(&current, 100, Some(CURRENT_TAG)),
                    TrafficTarget::latest(0, Some(CANDIDATE_TAG)),
                ];
                return outcome(
                    Phase::Progressing,
                    traffic,
                    state,
                    "waiting for the candidate revision".to_owned(),
                );
            }
        },
    };
    if observed.latest_created.as_deref() == Some(candidate.as_str())
        && let Some(m) = &observed.failed
    {
        state.aborted = true;
        let message = format!("candidate {candidate} failed: {m}");
        return outcome(Phase::Degraded, traffic_rollback(&current), state, message);
    }
    if observed.latest_ready.as_deref() != Some(candidate.as_str()) && state.candidate.is_none() {
        let traffic = vec![
            TrafficTarget::pinned(&current, 100, Some(CURRENT_TAG)),
            TrafficTarget::latest(0, Some(CANDIDATE_TAG)),
        ];
        let message = format!("waiting for revision {candidate} to be ready");
        return outcome(Phase::Progressing, traffic, state, message);
    }
    state.candidate = Some(candidate.clone());
    walk_steps(steps, state, observed, &current, &candidate, now)
}

/// The steps from `state.step` on, with the candidate ready: the split of the last weight, pauses, and
/// the promotion once every step is done.
fn walk_steps(
    steps: &[Step],
    mut state: State,
    observed: &Observed,
    current: &str,
    candidate: &str,
    now: u64,
) -> Outcome {
    let mut weight = Weight::ZERO;
    for step in steps.iter().take(state.step) {
        if let Step::SetWeight(w) = step {
            weight = *w;
        }
    }
    loop {
        let split = traffic_split(current, candidate, weight);
        let Some(step) = steps.get(state.step) else {
            let traffic = traffic_latest();
            let (phase, message) = if observed.settled(&traffic) {
                (
                    Phase::Healthy,
                    format!("promoted: all traffic on {candidate}"),
                )
            } else {
                (Phase::Progressing, format!("promoting {candidate}"))
            };
            return outcome(phase, traffic, state, message);
        };
        match step {
            Step::SetWeight(w) => {
                weight = *w;
                let split = traffic_split(current, candidate, weight);
                if !observed.settled(&split) {
                    let message = format!("step {}: {candidate} at {}%", state.step, w.get());
                    return outcome(Phase::Progressing, split, state, message);
                }
                state.step += 1;
            }
            Step::Pause { duration: None } => {
                let message = format!(
                    "step {}: paused with {candidate} at {}% until promoted",
                    state.step,
                    weight.get()
                );
                return outcome(Phase::Paused, split, state, message);
            }
            Step::Pause { duration: Some(d) } => {
                let began = *state.paused_at.get_or_insert(now);
                let ends = began.saturating_add(d.as_secs());
                if now >= ends {
                    state.paused_at = None;
                    state.step += 1;
                    continue;
                }
                let message = format!("step {}: paused for {}s", state.step, d.as_secs());
                let mut o = outcome(Phase::Paused, split, state, message);
                o.resume_in = Some(Duration::from_secs(ends - now));
                return o;
            }
            Step::Analysis(_) => {
                let message = format!(
                    "step {}: analysis steps are not run by the Knative target",
                    state.step
                );
                return outcome(Phase::Inconclusive, split, state, message);
            }
            // Knative sizes revisions itself: nothing to do.
            Step::SetCanaryScale(_) => state.step += 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::parse_steps;

    fn observed(created: &str, ready: &str, traffic: &[(&str, u32)]) -> Observed {
        let mut traffic: Vec<(String, u32)> =
            traffic.iter().map(|(r, p)| ((*r).to_owned(), *p)).collect();
        traffic.sort();
        Observed {
            latest_created: Some(created.to_owned()),
            latest_ready: Some(ready.to_owned()),
            failed: None,
            traffic,
            up_to_date: true,
        }
    }

    #[test]
    fn a_canary_walks_weights_pauses_and_promotes() {
        let steps = parse_steps("setWeight=20,pause=30s,setWeight=50,pause").expect("steps");
        let start = State::starting_from(Some("a-1".to_owned()));
        // The candidate is not ready yet: all traffic stays.
        let o = reconcile(
            &steps,
            &start,
            &observed("a-2", "a-1", &[("a-1", 100)]),
            Action::Reconcile,
            0,
        );
        assert_eq!(o.phase, Phase::Progressing);
        assert_eq!(
            o.traffic[0],
            TrafficTarget::pinned("a-1", 100, Some(CURRENT_TAG))
        );
        // Ready: 20% to the candidate, pinned by name.
        let o = reconcile(
            &steps,
            &o.state,
            &observed("a-2", "a-2", &[("a-1", 100)]),
            Action::Reconcile,
            0,
        );
        assert_eq!(
            o.traffic,
            traffic_split("a-1", "a-2", Weight::new(20).expect("w"))
        );
        assert_eq!(o.phase, Phase::Progressing);
        // The split is in place: a timed pause.
        let at20 = observed("a-2", "a-2", &[("a-1", 80), ("a-2", 20)]);
        let o = reconcile(&steps, &o.state, &at20, Action::Reconcile, 100);
        assert_eq!(o.phase, Phase::Paused);
        assert_eq!(o.resume_in, Some(Duration::from_secs(30)));
        let o = reconcile(&steps, &o.state, &at20, Action::Reconcile, 130);
        assert_eq!(o.traffic[1].percent, 50);
        let at50 = observed("a-2", "a-2", &[("a-1", 50), ("a-2", 50)]);
        let o = reconcile(&steps, &o.state, &at50, Action::Reconcile, 131);
        assert_eq!(o.phase, Phase::Paused);
        assert!(o.message.contains("until promoted"), "{}", o.message);
        // Promotion: the latest revision at 100%.
        let o = reconcile(&steps, &o.state, &at50, Action::Promote, 140);
        assert_eq!(o.traffic, traffic_latest());
        assert_eq!(o.phase, Phase::Progressing);
        let o = reconcile(
            &steps,
            &o.state,
            &observed("a-2", "a-2", &[("a-2", 100)]),
            Action::Reconcile,
            141,
        );
        assert_eq!(o.phase, Phase::Healthy);
    }

    #[test]
    fn a_failed_candidate_or_a_rollback_sends_all_traffic_back() {
        let steps = parse_steps("setWeight=20").expect("steps");
        let start = State::starting_from(Some("a-1".to_owned()));
        let mut failing = observed("a-2", "a-1", &[("a-1", 100)]);
        failing.failed = Some("Revision \"a-2\" failed".to_owned());
        let o = reconcile(&steps, &start, &failing, Action::Reconcile, 0);
        assert_eq!(o.phase, Phase::Degraded);
        assert_eq!(o.traffic, traffic_rollback("a-1"));
        assert!(o.state.aborted);

        let at20 = observed("a-2", "a-2", &[("a-1", 80), ("a-2", 20)]);
        let mut state = start;
        state.candidate = Some("a-2".to_owned());
        let o = reconcile(&steps, &state, &at20, Action::Rollback, 0);
        assert_eq!(o.traffic, traffic_rollback("a-1"));
        assert_eq!(o.phase, Phase::Progressing);
        let back = observed("a-2", "a-2", &[("a-1", 100)]);
        let o = reconcile(&steps, &o.state, &back, Action::Reconcile, 0);
        assert_eq!(o.phase, Phase::Degraded);
    }

    #[test]
    fn analysis_steps_are_inconclusive_and_first_deployments_take_all_traffic() {
        let steps = parse_steps("setWeight=10,analysis=rate").expect("steps");
        let mut state = State::starting_from(Some("a-1".to_owned()));
        state.candidate = Some("a-2".to_owned());
        let at10 = observed("a-2", "a-2", &[("a-1", 90), ("a-2", 10)]);
        let o = reconcile(&steps, &state, &at10, Action::Reconcile, 0);
        assert_eq!(o.phase, Phase::Inconclusive);

        let first = State::starting_from(None);
        let o = reconcile(
            &steps,
            &first,
            &observed("a-1", "a-1", &[("a-1", 100)]),
            Action::Reconcile,
            0,
        );
        assert_eq!((o.phase, o.traffic), (Phase::Healthy, traffic_latest()));
    }

    #[test]
    fn state_round_trips_through_its_annotation() {
        let mut s = State::starting_from(Some("a-1".to_owned()));
        s.step = 2;
        s.paused_at = Some(5);
        assert_eq!(State::from_annotation(&s.to_annotation()), Some(s));
        assert_eq!(State::from_annotation("not json"), None);
    }

    #[test]
    fn render_keeps_to_cloud_run_fields() {
        let c = Container::new("img@sha256:00")
            .port(8080)
            .env("MODE", "prod")
            .readiness(Probe::http("/healthz").period(1))
            .liveness(Probe::tcp())
            .limit("cpu", "1")
            .request("memory", "128Mi");
        let svc = render("hello", &c, &traffic_latest());
        assert_eq!(
            svc["spec"]["template"]["spec"]["containers"][0],
            json!({"image": "img@sha256:00",
                "ports": [{"name": "http1", "containerPort": 8080}],
                "env": [{"name": "MODE", "value": "prod"}],
                "readinessProbe": {"httpGet": {"path": "/healthz"}, "periodSeconds": 1},
                "livenessProbe": {"tcpSocket": {}},
                "resources": {"limits": {"cpu": "1"}, "requests": {"memory": "128Mi"}}})
        );
        assert_eq!(
            svc["spec"]["traffic"],
            json!([{"latestRevision": true, "percent": 100}])
        );
    }
}
