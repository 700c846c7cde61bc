//! The driver of a Knative canary: apply the Service with the traffic [`reconcile`] decides, record the
//! state on it, wait on a watch, and again, until the rollout rests. The serverless twin of
//! [`crate::rollout::Rollout`], over any [`Cluster`].

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use super::{Action, Observed, Outcome, Phase, STATE_ANNOTATION, State, reconcile, traffic_json};
use crate::cluster::{BoxError, Cluster, KNATIVE_SERVICE};
use crate::spec::Step;

/// An error of the driver.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The cluster refused or failed a request.
    #[error("{action} knative service {name}")]
    Cluster {
        /// `reading`, `applying` or `watching`.
        action: &'static str,
        /// The Service.
        name: String,
        /// The backend's error.
        #[source]
        source: BoxError,
    },
    /// There is no Service `name` to promote or roll back.
    #[error("knative service {name} not found")]
    NotFound {
        /// The Service.
        name: String,
    },
    /// The rollout did not come to rest in time.
    #[error("knative service {name}: timed out after {seconds}s")]
    TimedOut {
        /// The Service.
        name: String,
        /// The limit.
        seconds: u64,
    },
}

fn recorded_state(live: &Value) -> Option<State> {
    live.pointer("/metadata/annotations")
        .and_then(|a| a.get(STATE_ANNOTATION))
        .and_then(Value::as_str)
        .and_then(State::from_annotation)
}

fn image_of(template: &Value) -> Option<&str> {
    template
        .pointer("/spec/containers/0/image")
        .and_then(Value::as_str)
}

/// The state a run starts from: the recorded one when it is the same image (a rerun resumes), a
/// canary from the revision serving now for a new image, none for a first deployment.
fn starting_state(live: Option<&Value>, template: Option<&Value>) -> State {
    let Some(live) = live else {
        return State::starting_from(None);
    };
    let recorded = recorded_state(live);
    let Some(template) = template else {
        return recorded.unwrap_or_default();
    };
    let same_image = image_of(template) == live.pointer("/spec/template").and_then(image_of);
    match recorded {
        Some(state) if same_image => state,
        _ if same_image => State::starting_from(None),
        _ => State::starting_from(Observed::from_service(live).serving()),
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Applies the Knative Service `name` (with `template`, or as it stands when `None`: promote and
/// rollback) and reconciles its traffic through `steps` until the rollout rests or `timeout` passes.
/// Returns the outcome and whether a rollback was asked for and done. `on_rest` sees the outcome it
/// rests at (or the last one before the timeout).
///
/// # Errors
/// [`Error`].
pub fn drive<C: Cluster>(
    cluster: &C,
    name: &str,
    steps: &[Step],
    template: Option<&Value>,
    action: Action,
    timeout: Duration,
    mut on_rest: impl FnMut(&Outcome),
) -> Result<(Outcome, bool), Error> {
    let failed = |action: &'static str| {
        move |e: C::Error| Error::Cluster {
            action,
            name: name.to_owned(),
            source: Box::new(e),
        }
    };
    let mut live = cluster
        .get(&KNATIVE_SERVICE, name)
        .map_err(failed("reading"))?;
    if template.is_none() && live.is_none() {
        return Err(Error::NotFound {
            name: name.to_owned(),
        });
    }
    let mut state = starting_state(live.as_ref(), template);
    let mut action = action;
    let mut applied_once = false;
    let deadline = Instant::now() + timeout;
    loop {
        let observed = live
            .as_ref()
            .map(Observed::from_service)
            .unwrap_or_default();
        let o = reconcile(steps, &state, &observed, action, now_secs());
        action = Action::Reconcile;
        let spec_template = template
            .cloned()
            .or_else(|| {
                live.as_ref()
                    .and_then(|l| l.pointer("/spec/template").cloned())
            })
            .unwrap_or_else(|| json!({}));
        let traffic = traffic_json(&o.traffic);
        let live_traffic = live.as_ref().and_then(|l| l.pointer("/spec/traffic"));
        let live_state = live.as_ref().and_then(recorded_state);
        if !applied_once || live_traffic != Some(&traffic) || live_state.as_ref() != Some(&o.state)
        {
            let desired = json!({
                "apiVersion": KNATIVE_SERVICE.api_version,
                "kind": KNATIVE_SERVICE.kind,
                "metadata": {"name": name, "annotations": {STATE_ANNOTATION: o.state.to_annotation()}},
                "spec": {"template": spec_template, "traffic": traffic},
            });
            cluster.apply(&desired).map_err(failed("applying"))?;
            applied_once = true;
        }
        state = o.state.clone();
        let wait = match o.phase {
            Phase::Healthy | Phase::Degraded | Phase::Inconclusive => {
                on_rest(&o);
                let asked = template.is_none() && state.aborted;
                return Ok((o, asked));
            }
            Phase::Paused if o.resume_in.is_none() => {
                on_rest(&o);
                return Ok((o, false));
            }
            Phase::Paused => o.resume_in.unwrap_or_default().min(Duration::from_secs(1)),
            _ => Duration::from_millis(200),
        };
        if Instant::now() >= deadline {
            on_rest(&o);
            return Err(Error::TimedOut {
                name: name.to_owned(),
                seconds: timeout.as_secs(),
            });
        }
        // A watch from the version seen, bounded by the wait: no change means look again then.
        let version = live
            .as_ref()
            .and_then(|l| l.pointer("/metadata/resourceVersion"))
            .and_then(Value::as_str)
            .unwrap_or("0")
            .to_owned();
        cluster
            .wait(&KNATIVE_SERVICE, &version, wait)
            .map_err(failed("watching"))?;
        live = cluster
            .get(&KNATIVE_SERVICE, name)
            .map_err(failed("reading"))?;
    }
}
