//! The rollout driver: observe the cluster, let the [`Strategy`] decide, make the changes, record the
//! state on the Deployment, wait (a watch, a timer or an analysis measurement), and again, until the
//! rollout rests (Healthy, Paused, Degraded or Inconclusive).
//!
//! Every action is idempotent and all state is in the cluster, so a run killed at any point and started
//! again (with the same `apply`, or `promote`, `abort`, `status`) carries on the same rollout.
//!
//! ```
//! use slipway_deploy::cluster::{DryRun, Empty};
//! use slipway_deploy::rollout::{Request, Rollout};
//! use slipway_deploy::spec::{RolloutSpec, StrategyKind, TrafficRouting};
//!
//! // A dry run on an empty cluster: the Deployment slipway would create, without touching anything.
//! let cluster = DryRun::new(Empty);
//! let spec = RolloutSpec::from_flags(StrategyKind::Canary, Some("setWeight=20,pause"), TrafficRouting::None)?;
//! let mut request = Request::new("registry.example/web:1.2.0", spec);
//! request.replicas = Some(3);
//! let outcome = Rollout::new(&cluster, "web").once(true).apply(&request)?;
//! assert_eq!(outcome.state.image, "registry.example/web:1.2.0");
//! assert!(cluster.render().contains("kind: Deployment"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant, SystemTime};

use serde_json::{Value, json};

use crate::analysis::judge::{Phase as RunPhase, Run};
use crate::analysis::provider::{Provider, ProviderExt};
use crate::analysis::template::AnalysisTemplate;
use crate::cluster::{
    BoxError, Cluster, DEPLOYMENT, HORIZONTAL_POD_AUTOSCALER, Kind, REPLICA_SET, SERVICE,
    merge_patch,
};
use crate::rolling;
use crate::spec::{self, RolloutSpec, Strategy as Spec};
use crate::state::{
    MANAGED_BY, MANAGED_BY_VALUE, Phase, RolloutState, STATE_ANNOTATION, STRATEGY_ANNOTATION,
    Stage, TEMPLATES_ANNOTATION, TemplateRun, Verdict,
};
use crate::strategy::{self, Change, Decision, Observed, Strategy, Wait, new_analysis};
use crate::traffic::Names;

/// The largest analysis templates stored on the Deployment, in bytes of JSON (annotations are limited
/// to 256 KiB in all).
pub const MAX_TEMPLATES_BYTES: usize = 128 * 1024;

/// An error of the driver.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The cluster refused or failed a request.
    #[error("{action}")]
    Cluster {
        /// What was being done (`reading Deployment web`).
        action: String,
        /// The backend's error.
        #[source]
        source: BoxError,
    },
    /// There is no Deployment `NAME` (and `promote`, `abort`, `rollback` or `status` needs one).
    #[error("Deployment {name} not found in the namespace")]
    NotFound {
        /// The name.
        name: String,
    },
    /// No rollout was ever started on the Deployment (for `promote` and `abort`).
    #[error("Deployment {name} has no rollout in progress")]
    NoRollout {
        /// The name.
        name: String,
    },
    /// An annotation slipway reads does not hold what slipway writes.
    #[error("annotation {annotation} on Deployment {name} is not valid")]
    Annotation {
        /// The Deployment.
        name: String,
        /// The annotation.
        annotation: &'static str,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// The rollout cannot start on this Deployment.
    #[error("starting the rollout")]
    Start {
        /// Why.
        #[source]
        source: strategy::Error,
    },
    /// The Deployment has no earlier revision to roll back to (or not the one asked for).
    #[error("Deployment {name} has no revision {revision} to roll back to")]
    NoRevision {
        /// The Deployment.
        name: String,
        /// The revision (`previous` when none was given).
        revision: String,
    },
    /// The analysis templates are too large to keep on the Deployment.
    #[error("the analysis templates take {bytes} bytes; at most {MAX_TEMPLATES_BYTES} are kept")]
    TemplatesTooLarge {
        /// Their size.
        bytes: usize,
    },
    /// A manifest object is not one slipway can apply.
    #[error("manifest object {index}: {problem}")]
    Manifest {
        /// Its position (from 1).
        index: usize,
        /// What is wrong.
        problem: String,
    },
    /// The rollout did not come to rest within the time allowed.
    #[error("the rollout did not come to rest within {seconds}s (last: {message})")]
    TimedOut {
        /// The limit.
        seconds: u64,
        /// The last thing it was doing.
        message: String,
    },
}

/// `pub type Result` of this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What to roll out.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Request {
    /// The image.
    pub image: String,
    /// The strategy.
    pub spec: RolloutSpec,
    /// The container whose image changes (default: the first).
    pub container: Option<String>,
    /// The replicas (default: the Deployment's own; 1 for a Deployment made from flags).
    pub replicas: Option<u32>,
    /// The analysis templates (YAML texts), for analysis steps.
    pub templates: Vec<String>,
    /// Analysis arguments.
    pub args: Vec<(String, String)>,
    /// Objects to create on first use (a Deployment `NAME` among them); empty: a Deployment from the
    /// flags.
    pub manifest: Vec<Value>,
    /// The container port of a Deployment made from the flags (also gets a Service `NAME`).
    pub port: Option<u16>,
}

impl Request {
    /// A request for `image` with `spec`.
    #[must_use]
    pub fn new(image: &str, spec: RolloutSpec) -> Request {
        Request {
            image: image.to_owned(),
            spec,
            container: None,
            replicas: None,
            templates: Vec::new(),
            args: Vec::new(),
            manifest: Vec::new(),
            port: None,
        }
    }
}

/// Where a rollout came to rest.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Outcome {
    /// The phase.
    pub phase: Phase,
    /// The whole state.
    pub state: RolloutState,
}

/// The progress callback.
type OnProgress<'a> = Box<dyn FnMut(&RolloutState) + 'a>;

/// Drives the rollout of one Deployment.
pub struct Rollout<'a, C> {
    cluster: C,
    name: String,
    provider: Option<&'a dyn Provider>,
    progress: Option<OnProgress<'a>>,
    timeout: Option<Duration>,
    poll: Duration,
    once: bool,
    sent: HashMap<(String, String), Value>,
}

impl<C> std::fmt::Debug for Rollout<'_, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rollout")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

fn failed<E: std::error::Error + Send + Sync + 'static>(
    action: impl Into<String>,
) -> impl FnOnce(E) -> Error {
    let action = action.into();
    move |e| Error::Cluster {
        action,
        source: Box::new(e),
    }
}

/// Whether `actual` holds everything `desired` says (objects: each key of `desired`; arrays: element by
/// element; else equal).
fn holds(actual: &Value, desired: &Value) -> bool {
    match (actual, desired) {
        (Value::Object(a), Value::Object(d)) => d
            .iter()
            .all(|(k, v)| a.get(k).is_some_and(|av| holds(av, v))),
        (Value::Array(a), Value::Array(d)) => {
            a.len() == d.len() && a.iter().zip(d).all(|(av, dv)| holds(av, dv))
        }
        _ => actual == desired,
    }
}

fn resource_version(v: &Value) -> Option<&str> {
    v.pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
}

impl<'a, C: Cluster> Rollout<'a, C> {
    /// A driver for Deployment `name` on `cluster`.
    pub fn new(cluster: C, name: &str) -> Rollout<'a, C> {
        Rollout {
            cluster,
            name: name.to_owned(),
            provider: None,
            progress: None,
            timeout: None,
            poll: Duration::from_secs(5),
            once: false,
            sent: HashMap::new(),
        }
    }

    /// Takes analysis measurements with `provider` (without one, an analysis step is Inconclusive).
    #[must_use]
    pub fn provider(mut self, provider: &'a dyn Provider) -> Self {
        self.provider = Some(provider);
        self
    }

    /// Calls `f` with the state each time its phase or message changes.
    #[must_use]
    pub fn on_progress(mut self, f: impl FnMut(&RolloutState) + 'a) -> Self {
        self.progress = Some(Box::new(f));
        self
    }

    /// Gives up waiting after `timeout` ([`Error::TimedOut`]); the rollout stays where it is in the
    /// cluster, and a later run picks it up.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The longest single wait on the cluster before looking again (default 5 s; watches usually end
    /// it sooner).
    #[must_use]
    pub fn poll(mut self, poll: Duration) -> Self {
        self.poll = poll.max(Duration::from_millis(10));
        self
    }

    /// Decides and acts once, without waiting (for `--dry-run`).
    #[must_use]
    pub fn once(mut self, once: bool) -> Self {
        self.once = once;
        self
    }

    fn get(&self, kind: &Kind, name: &str) -> Result<Option<Value>> {
        self.cluster
            .get(kind, name)
            .map_err(failed(format!("reading {kind} {name}")))
    }

    fn stable(&self) -> Result<Value> {
        self.get(&DEPLOYMENT, &self.name)?
            .ok_or_else(|| Error::NotFound {
                name: self.name.clone(),
            })
    }

    fn annotation<'v>(stable: &'v Value, key: &str) -> Option<&'v str> {
        stable
            .pointer("/metadata/annotations")
            .and_then(|a| a.get(key))
            .and_then(Value::as_str)
    }

    /// The JSON in annotation `key` of the Deployment, `None` when absent.
    fn read_annotation<T: serde::de::DeserializeOwned>(
        &self,
        stable: &Value,
        key: &'static str,
    ) -> Result<Option<T>> {
        Self::annotation(stable, key)
            .map(|text| {
                serde_json::from_str(text).map_err(|source| Error::Annotation {
                    name: self.name.clone(),
                    annotation: key,
                    source,
                })
            })
            .transpose()
    }

    fn read_state(&self, stable: &Value) -> Result<Option<RolloutState>> {
        self.read_annotation(stable, STATE_ANNOTATION)
    }

    fn read_spec(&self, stable: &Value) -> Result<Option<RolloutSpec>> {
        self.read_annotation(stable, STRATEGY_ANNOTATION)
    }

    fn read_templates(&self, stable: &Value) -> Result<Vec<String>> {
        Ok(self
            .read_annotation(stable, TEMPLATES_ANNOTATION)?
            .unwrap_or_default())
    }

    fn observe(&self, spec: &RolloutSpec) -> Result<Observed> {
        let stable = self.stable()?;
        let state = self.read_state(&stable)?;
        let mut observed = Observed::new(&self.name, stable, SystemTime::now());
        observed.state = state;
        let names = Names::new(&self.name);
        observed.canary = self.get(&DEPLOYMENT, &names.canary)?;
        let selector = observed
            .stable
            .pointer("/spec/selector/matchLabels")
            .and_then(Value::as_object)
            .map(|labels| {
                labels
                    .iter()
                    .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .unwrap_or_default();
        let uid = observed
            .stable
            .pointer("/metadata/uid")
            .and_then(Value::as_str)
            .map(str::to_owned);
        observed.replica_sets = self
            .cluster
            .list(&REPLICA_SET, &selector)
            .map_err(failed(format!("listing ReplicaSets of {}", self.name)))?
            .into_iter()
            .filter(|rs| {
                rs.pointer("/metadata/ownerReferences")
                    .and_then(Value::as_array)
                    .is_some_and(|refs| {
                        refs.iter().any(|r| {
                            r.get("kind").and_then(Value::as_str) == Some("Deployment")
                                && (uid.is_none()
                                    || r.get("uid").and_then(Value::as_str) == uid.as_deref())
                        })
                    })
            })
            .collect();
        let mut service_names = vec![
            names.stable.clone(),
            names.stable_service.clone(),
            names.canary_service.clone(),
            names.preview_service.clone(),
        ];
        match &spec.strategy {
            Spec::Canary(c) => {
                service_names.extend(c.stable_service.iter().cloned());
                service_names.extend(c.canary_service.iter().cloned());
            }
            Spec::BlueGreen(bg) => {
                service_names.extend(bg.active_service.iter().cloned());
                service_names.extend(bg.preview_service.iter().cloned());
            }
            _ => {}
        }
        let mut services = BTreeMap::new();
        for name in service_names {
            if services.contains_key(&name) {
                continue;
            }
            if let Some(s) = self.get(&SERVICE, &name)? {
                services.insert(name, s);
            }
        }
        observed.services = services;
        // An autoscaler the cluster cannot list (no autoscaling/v2, no permission) is taken as absent:
        // the rollout then manages the replicas itself, as it would without one.
        observed.autoscaled = self
            .cluster
            .list(&HORIZONTAL_POD_AUTOSCALER, "")
            .unwrap_or_default()
            .iter()
            .any(|hpa| {
                hpa.pointer("/spec/scaleTargetRef/kind")
                    .and_then(Value::as_str)
                    == Some("Deployment")
                    && hpa
                        .pointer("/spec/scaleTargetRef/name")
                        .and_then(Value::as_str)
                        == Some(self.name.as_str())
            });
        if let Spec::Canary(c) = &spec.strategy {
            for (kind, name) in crate::traffic::routing_objects(&c.traffic_routing, &names) {
                if let Some(object) = self.get(&kind, &name)? {
                    observed
                        .routes
                        .insert(crate::traffic::route_key(&kind, &name), object);
                }
            }
        }
        Ok(observed)
    }

    fn current(&self, observed: &Observed, kind: &Kind, name: &str) -> Option<Value> {
        if *kind == DEPLOYMENT && name == self.name {
            return Some(observed.stable.clone());
        }
        if *kind == DEPLOYMENT
            && Some(name)
                == observed
                    .canary
                    .as_ref()
                    .and_then(|c| c.pointer("/metadata/name").and_then(Value::as_str))
        {
            return observed.canary.clone();
        }
        if *kind == SERVICE {
            return observed.services.get(name).cloned();
        }
        observed
            .routes
            .get(&crate::traffic::route_key(kind, name))
            .cloned()
    }

    /// Makes the changes that change something; returns whether any was sent.
    fn make(&mut self, observed: &Observed, changes: &[Change]) -> Result<bool> {
        let mut sent = false;
        for change in changes {
            match change {
                Change::Apply(object) => {
                    let known = Kind::of(object);
                    let kind = known.map_or_else(String::new, |k| k.kind.to_owned());
                    let name = object
                        .pointer("/metadata/name")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned();
                    let live = known.and_then(|k| self.current(observed, &k, &name));
                    let key = (kind.clone(), name.clone());
                    let unchanged = match &live {
                        Some(live) => holds(live, object),
                        None => self.sent.get(&key) == Some(object) && !self.once,
                    };
                    if unchanged {
                        continue;
                    }
                    self.cluster
                        .apply(object)
                        .map_err(failed(format!("applying {kind} {name}")))?;
                    self.sent.insert(key, object.clone());
                    sent = true;
                }
                Change::Patch { kind, name, patch } => {
                    if let Some(mut live) = self.current(observed, kind, name) {
                        let before = live.clone();
                        merge_patch(&mut live, patch);
                        if live == before {
                            continue;
                        }
                    }
                    self.cluster
                        .patch(kind, name, patch)
                        .map_err(failed(format!("patching {kind} {name}")))?;
                    sent = true;
                }
            }
        }
        Ok(sent)
    }

    fn write_state(&self, state: &RolloutState) -> Result<()> {
        let patch = json!({"metadata": {"annotations": {STATE_ANNOTATION: state.to_annotation()}}});
        self.cluster
            .patch(&DEPLOYMENT, &self.name, &patch)
            .map_err(failed(format!(
                "recording the rollout on Deployment {}",
                self.name
            )))
    }

    fn report(&mut self, last: &mut Option<(Phase, String)>, state: &RolloutState) {
        let now = (state.phase, state.message.clone());
        if last.as_ref() != Some(&now) {
            if let Some(f) = self.progress.as_mut() {
                f(state);
            }
            *last = Some(now);
        }
    }

    /// Rolls `request.image` out: creates the Deployment on first use, starts a rollout (or picks up the
    /// one in progress for the same image), and drives it until it rests.
    ///
    /// # Errors
    /// See [`Error`].
    ///
    /// # Panics
    /// Never: specs and strings always serialise.
    pub fn apply(&mut self, request: &Request) -> Result<Outcome> {
        let templates = serde_json::to_string(&request.templates).expect("strings serialise");
        if templates.len() > MAX_TEMPLATES_BYTES {
            return Err(Error::TemplatesTooLarge {
                bytes: templates.len(),
            });
        }
        let spec_text = serde_json::to_string(&request.spec).expect("a spec serialises");
        let Some(stable) = self.get(&DEPLOYMENT, &self.name)? else {
            return self.create(request, &spec_text, &templates);
        };
        let existing = self.read_state(&stable)?;
        let resume = existing
            .as_ref()
            .is_some_and(|s| s.is_active() && s.image == request.image);
        if resume {
            let spec = self
                .read_spec(&stable)?
                .unwrap_or_else(|| request.spec.clone());
            return self.drive(&spec);
        }
        let mut observed = self.observe(&request.spec)?;
        observed.state = None;
        let state = strategy::begin(
            &request.spec,
            &observed,
            &request.image,
            request.container.as_deref(),
            request.replicas,
            &request.args,
        )
        .map_err(|source| Error::Start { source })?;
        let patch = json!({"metadata": {"annotations": {
            STRATEGY_ANNOTATION: spec_text,
            TEMPLATES_ANNOTATION: templates,
            STATE_ANNOTATION: state.to_annotation(),
        }}});
        self.cluster
            .patch(&DEPLOYMENT, &self.name, &patch)
            .map_err(failed(format!(
                "starting the rollout on Deployment {}",
                self.name
            )))?;
        self.drive(&request.spec)
    }

    fn create(&mut self, request: &Request, spec_text: &str, templates: &str) -> Result<Outcome> {
        let mut objects = if request.manifest.is_empty() {
            self.made_from_flags(request)
        } else {
            request.manifest.clone()
        };
        let mut container = None;
        let mut found = false;
        for (i, object) in objects.iter_mut().enumerate() {
            let kind = Kind::of(object).ok_or_else(|| Error::Manifest {
                index: i + 1,
                problem: format!(
                    "kind {} {} is not one slipway applies (Deployment, Service, ConfigMap, ...)",
                    object
                        .get("apiVersion")
                        .and_then(Value::as_str)
                        .unwrap_or("?"),
                    object.get("kind").and_then(Value::as_str).unwrap_or("?")
                ),
            })?;
            if object
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .is_none()
            {
                return Err(Error::Manifest {
                    index: i + 1,
                    problem: "no metadata.name".to_owned(),
                });
            }
            if kind == DEPLOYMENT
                && object.pointer("/metadata/name").and_then(Value::as_str) == Some(&self.name)
            {
                found = true;
                let containers = object
                    .pointer_mut("/spec/template/spec/containers")
                    .and_then(Value::as_array_mut)
                    .filter(|c| !c.is_empty())
                    .ok_or_else(|| Error::Manifest {
                        index: i + 1,
                        problem: "Deployment has no spec.template.spec.containers".to_owned(),
                    })?;
                let wanted = request.container.as_deref();
                let c = containers
                    .iter_mut()
                    .find(|c| {
                        wanted.is_none_or(|w| c.get("name").and_then(Value::as_str) == Some(w))
                    })
                    .ok_or_else(|| Error::Manifest {
                        index: i + 1,
                        problem: format!("Deployment has no container {:?}", wanted.unwrap_or("")),
                    })?;
                c["image"] = json!(request.image);
                container = c.get("name").and_then(Value::as_str).map(str::to_owned);
                if let Some(r) = request.replicas {
                    object["spec"]["replicas"] = json!(r);
                }
                object["metadata"]["annotations"][STRATEGY_ANNOTATION] = json!(spec_text);
                object["metadata"]["annotations"][TEMPLATES_ANNOTATION] = json!(templates);
            }
        }
        if !found {
            return Err(Error::Manifest {
                index: 0,
                problem: format!("the manifest has no Deployment {}", self.name),
            });
        }
        for object in &objects {
            let name = object
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let kind = object
                .get("kind")
                .and_then(Value::as_str)
                .unwrap_or_default();
            self.cluster
                .apply(object)
                .map_err(failed(format!("creating {kind} {name}")))?;
        }
        let stable = self.stable()?;
        let observed = Observed::new(&self.name, stable, SystemTime::now());
        let state = strategy::created(
            &observed,
            &request.image,
            container.as_deref().unwrap_or(""),
        );
        self.write_state(&state)?;
        self.drive(&request.spec)
    }

    fn made_from_flags(&self, request: &Request) -> Vec<Value> {
        let labels = json!({"app.kubernetes.io/name": self.name});
        let mut container = json!({"name": self.name, "image": request.image});
        if let Some(port) = request.port {
            container["ports"] = json!([{"containerPort": port, "protocol": "TCP"}]);
            container["env"] = json!([{"name": "PORT", "value": port.to_string()}]);
        }
        let mut out = vec![json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": self.name, "labels": {MANAGED_BY: MANAGED_BY_VALUE}},
            "spec": {"replicas": request.replicas.unwrap_or(1), "selector": {"matchLabels": labels},
                "template": {"metadata": {"labels": labels},
                    "spec": {"containers": [container]}}}})];
        if let Some(port) = request.port {
            out.push(json!({"apiVersion": "v1", "kind": "Service",
                "metadata": {"name": self.name, "labels": {MANAGED_BY: MANAGED_BY_VALUE}},
                "spec": {"selector": labels, "ports": [{"port": port, "targetPort": port, "protocol": "TCP"}]}}));
        }
        out
    }

    fn stored_spec(&self, stable: &Value) -> Result<RolloutSpec> {
        Ok(self.read_spec(stable)?.unwrap_or_else(RolloutSpec::rolling))
    }

    fn set_flag(&mut self, set: impl FnOnce(&mut RolloutState)) -> Result<RolloutSpec> {
        let stable = self.stable()?;
        let mut state = self.read_state(&stable)?.ok_or_else(|| Error::NoRollout {
            name: self.name.clone(),
        })?;
        let spec = self.stored_spec(&stable)?;
        if state.is_active() {
            set(&mut state);
            self.write_state(&state)?;
        }
        Ok(spec)
    }

    /// Resumes a paused or inconclusive rollout (or skips the current pause) and drives it on exactly
    /// as [`Rollout::apply`] does.
    ///
    /// # Errors
    /// [`Error::NoRollout`] and the errors of [`Rollout::apply`].
    pub fn promote(&mut self) -> Result<Outcome> {
        let spec = self.set_flag(|s| s.promote = true)?;
        self.drive(&spec)
    }

    /// Returns all traffic and replicas to the stable version and scales the new version to zero; returns
    /// once they are there (phase Degraded, reason Aborted).
    ///
    /// # Errors
    /// [`Error::NoRollout`] and the errors of [`Rollout::apply`].
    pub fn abort(&mut self) -> Result<Outcome> {
        let spec = self.set_flag(|s| s.abort = true)?;
        self.drive(&spec)
    }

    /// Returns the Deployment to `revision` (default: the previous one), as `kubectl rollout undo`
    /// does, taking down any new version beside it; returns once it has rolled out.
    ///
    /// # Errors
    /// [`Error::NoRevision`] and the errors of [`Rollout::apply`].
    pub fn rollback(&mut self, revision: Option<i64>) -> Result<Outcome> {
        let stable = self.stable()?;
        let spec = self.stored_spec(&stable)?;
        let observed = self.observe(&spec)?;
        let target = revision
            .or_else(|| rolling::previous_revision(&observed.replica_sets))
            .filter(|t| rolling::undo_template(&observed.replica_sets, Some(*t)).is_some())
            .ok_or_else(|| Error::NoRevision {
                name: self.name.clone(),
                revision: revision.map_or_else(|| "previous".to_owned(), |r| r.to_string()),
            })?;
        // A Deployment slipway never rolled out gets a state keeping its current image.
        let mut state = if let Some(s) = observed.state.clone() {
            s
        } else {
            let image = observed
                .stable
                .pointer("/spec/template/spec/containers/0/image")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            strategy::begin(&spec, &observed, &image, None, None, &[])
                .map_err(|source| Error::Start { source })?
        };
        state.stage = Stage::RollingBack;
        state.rollback_to = Some(target);
        "RolledBack".clone_into(&mut state.reason);
        state.phase = Phase::Progressing;
        state.promote = false;
        state.abort = false;
        state.analysis = None;
        self.write_state(&state)?;
        self.drive(&spec)
    }

    /// Where the rollout stands, without changing anything.
    ///
    /// # Errors
    /// [`Error::NotFound`], [`Error::NoRollout`], [`Error::Cluster`].
    pub fn status(&self) -> Result<Outcome> {
        let stable = self.stable()?;
        let state = self.read_state(&stable)?.ok_or_else(|| Error::NoRollout {
            name: self.name.clone(),
        })?;
        Ok(Outcome {
            phase: state.phase,
            state,
        })
    }

    fn drive(&mut self, spec: &RolloutSpec) -> Result<Outcome> {
        let started = Instant::now();
        let mut last = None;
        let mut templates: Option<Vec<String>> = None;
        loop {
            let observed = self.observe(spec)?;
            if observed.state.is_none() {
                return Err(Error::NoRollout {
                    name: self.name.clone(),
                });
            }
            let Decision {
                changes,
                mut state,
                wait,
            } = spec.decide(&observed);
            let sent = self.make(&observed, &changes)?;
            let mut next_due = None;
            if let Wait::Analysis { key, analysis } = &wait {
                if templates.is_none() {
                    templates = Some(self.read_templates(&observed.stable)?);
                }
                next_due = self.analyse(
                    &mut state,
                    key,
                    analysis,
                    templates.as_deref().unwrap_or_default(),
                );
            }
            if observed.state.as_ref() != Some(&state) {
                self.write_state(&state)?;
            }
            self.report(&mut last, &state);
            if self.once || matches!(wait, Wait::Rest) {
                return Ok(Outcome {
                    phase: state.phase,
                    state,
                });
            }
            let elapsed = started.elapsed();
            if let Some(limit) = self.timeout
                && elapsed >= limit
            {
                return Err(Error::TimedOut {
                    seconds: limit.as_secs(),
                    message: state.message,
                });
            }
            if sent {
                continue;
            }
            let mut pause = self.poll;
            if let Some(limit) = self.timeout {
                pause = pause.min(limit.saturating_sub(elapsed));
            }
            let until = match &wait {
                Wait::Until(t) => Some(*t),
                Wait::Analysis { .. } => Some(next_due.unwrap_or_else(SystemTime::now)),
                _ => None,
            };
            if let Some(t) = until {
                let left = t
                    .duration_since(SystemTime::now())
                    .unwrap_or(Duration::ZERO);
                if left.is_zero() {
                    continue;
                }
                pause = pause.min(left);
            }
            let rv = newest_version(&observed);
            self.cluster
                .wait(&DEPLOYMENT, &rv, pause)
                .map_err(failed(format!("watching Deployments of {}", self.name)))?;
        }
    }

    /// Takes the analysis's due measurements and records them in `state`; returns when the next is due.
    #[allow(clippy::too_many_lines)] // one pass over the runs: start them, measure, judge
    fn analyse(
        &self,
        state: &mut RolloutState,
        key: &str,
        analysis: &spec::Analysis,
        texts: &[String],
    ) -> Option<SystemTime> {
        let now = SystemTime::now();
        if state.analysis.as_ref().is_none_or(|a| a.key != key) {
            state.analysis = Some(new_analysis(key));
        }
        let mut given: Vec<(String, String)> = state.args.clone();
        for arg in &analysis.args {
            if let Some(v) = &arg.value {
                given.push((arg.name.clone(), v.clone()));
            }
        }
        let parsed: Vec<AnalysisTemplate> = texts
            .iter()
            .filter_map(|t| AnalysisTemplate::parse(t).ok())
            .collect();
        let record = state.analysis.as_mut().expect("set above");
        let mut problems = Vec::new();
        if record.runs.is_empty() {
            for name in &analysis.templates {
                let Some(template) = parsed.iter().find(|t| t.name.as_deref() == Some(name)) else {
                    problems.push(format!(
                        "AnalysisTemplate {name} was not given (--analysis FILE)"
                    ));
                    continue;
                };
                match template_args(template, &given)
                    .and_then(|args| Run::from_template(template, &args, now))
                {
                    Ok(run) => record.runs.push(TemplateRun {
                        template: name.clone(),
                        run,
                    }),
                    Err(e) => problems.push(format!("AnalysisTemplate {name}: {e}")),
                }
            }
        }
        if !problems.is_empty() {
            record.verdict = Some(Verdict::Failed);
            record.message = problems.join("; ");
            return None;
        }
        let Some(provider) = self.provider else {
            record.verdict = Some(Verdict::Inconclusive);
            "no metric provider to take measurements with".clone_into(&mut record.message);
            return None;
        };
        for tr in &mut record.runs {
            let Some(template) = parsed
                .iter()
                .find(|t| t.name.as_deref() == Some(&tr.template))
            else {
                continue;
            };
            if let Ok(args) = template_args(template, &given)
                && let Err(e) = provider.measure_due(&mut tr.run, template, &args, now)
            {
                record.verdict = Some(Verdict::Failed);
                record.message = e.to_string();
                return None;
            }
        }
        let phases: Vec<RunPhase> = record.runs.iter().map(|r| r.run.phase()).collect();
        record.message = record
            .runs
            .iter()
            .flat_map(|r| {
                r.run.metrics().iter().map(move |m| {
                    let last = m
                        .last
                        .as_ref()
                        .and_then(|l| l.message.clone())
                        .unwrap_or_default();
                    format!("{}/{}: {:?} ({last})", r.template, m.schedule.name, m.phase)
                })
            })
            .collect::<Vec<_>>()
            .join(", ");
        if phases.iter().all(|p| p.is_completed()) {
            record.verdict = Some(
                if phases
                    .iter()
                    .any(|p| matches!(p, RunPhase::Failed | RunPhase::Error))
                {
                    Verdict::Failed
                } else if phases.contains(&RunPhase::Inconclusive) {
                    Verdict::Inconclusive
                } else {
                    Verdict::Successful
                },
            );
            return None;
        }
        record
            .runs
            .iter()
            .filter_map(|r| r.run.next_measurement_at())
            .min()
    }
}

/// The template's args from `given` (the rollout's `--arg`s and the step's values), leaving out those the
/// template does not declare (they are meant for other templates of the same analysis).
fn template_args(
    template: &AnalysisTemplate,
    given: &[(String, String)],
) -> Result<crate::analysis::template::Args, crate::analysis::template::Error> {
    let pairs: Vec<(&str, &str)> = given
        .iter()
        .filter(|(k, _)| template.args.iter().any(|a| &a.name == k))
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    template.args(&pairs)
}

/// The newest resourceVersion among the Deployments observed (numbers compared as numbers; the stable's
/// when they are not numbers).
fn newest_version(o: &Observed) -> String {
    let stable = resource_version(&o.stable).unwrap_or("0");
    let canary = o.canary.as_ref().and_then(resource_version);
    match canary {
        Some(c) => match (stable.parse::<u64>(), c.parse::<u64>()) {
            (Ok(a), Ok(b)) if b > a => c.to_owned(),
            _ => stable.to_owned(),
        },
        None => stable.to_owned(),
    }
}
