//! Where a rollout stands, as recorded in the cluster: one JSON annotation on the user's Deployment, so
//! that any run of slipway (a CI job that was killed, a laptop) picks the rollout up where another left it.
//!
//! Nothing here is process-local: the state, the strategy ([`STRATEGY_ANNOTATION`]) and the analysis
//! templates ([`TEMPLATES_ANNOTATION`]) all live on the Deployment.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::analysis::judge::Run;
use crate::spec::StrategyKind;

/// The annotation holding [`RolloutState`] (JSON) on the user's Deployment.
pub const STATE_ANNOTATION: &str = "slipway.dev/rollout";
/// The annotation holding the rollout's [`RolloutSpec`](crate::spec::RolloutSpec) (JSON).
pub const STRATEGY_ANNOTATION: &str = "slipway.dev/strategy";
/// The annotation holding the analysis templates the rollout was given (a JSON array of their texts).
pub const TEMPLATES_ANNOTATION: &str = "slipway.dev/analysis-templates";
/// The label every object slipway creates carries (with [`MANAGED_BY_VALUE`]).
pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
/// The value of [`MANAGED_BY`].
pub const MANAGED_BY_VALUE: &str = "slipway";
/// The pod label that tells the new version's pods (`slipway.dev/role: canary`) from the stable ones.
pub const ROLE_LABEL: &str = "slipway.dev/role";
/// The value of [`ROLE_LABEL`] on the new version's pods.
pub const ROLE_CANARY: &str = "canary";
/// The label the Deployment controller puts on each ReplicaSet and its pods.
pub const POD_TEMPLATE_HASH: &str = "pod-template-hash";

/// The phase of a rollout, as Argo Rollouts names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Phase {
    /// Moving towards the next step.
    Progressing,
    /// Waiting: for `promote`, or for a pause to end (see the state's reason).
    Paused,
    /// The new version runs everywhere and takes all traffic.
    Healthy,
    /// Stopped short: aborted, the progress deadline passed, an analysis failed or the spec is invalid.
    /// All traffic and all replicas are back on the stable version.
    Degraded,
    /// An analysis could not decide: waiting for `promote` or `abort`.
    Inconclusive,
}

impl Phase {
    /// Whether a run stops waiting at this phase (everything but Progressing).
    #[must_use]
    pub fn is_resting(self) -> bool {
        self != Phase::Progressing
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Phase::Progressing => "Progressing",
            Phase::Paused => "Paused",
            Phase::Healthy => "Healthy",
            Phase::Degraded => "Degraded",
            Phase::Inconclusive => "Inconclusive",
        })
    }
}

/// Where in its strategy a rollout is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum Stage {
    /// The first version: the Deployment is created and rolled out as is.
    Create,
    /// The rolling strategy: the Deployment's own `RollingUpdate`.
    Rolling,
    /// Canary steps ([`RolloutState::step`] is the index).
    Steps,
    /// Blue-green: the preview runs beside the active version.
    Preview,
    /// Blue-green: the active Service points at the new version.
    Switched,
    /// The user's Deployment is being rolled to the new version while the new pods carry the traffic.
    Promoting,
    /// Traffic and replicas are returning to the stable version.
    Aborting,
    /// The Deployment is returning to an earlier revision (`rollback`, or an undo after a failed rolling
    /// update).
    RollingBack,
    /// Nothing left to do.
    Done,
}

/// How an analysis ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Verdict {
    /// Every metric passed.
    Successful,
    /// A metric failed (or erred past its limit).
    Failed,
    /// No metric failed but one could not decide (no data counts here).
    Inconclusive,
}

/// One template's run within an analysis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TemplateRun {
    /// The template's name.
    pub template: String,
    /// Its measurements so far.
    pub run: Run,
}

/// The analysis of one step, kept across runs of slipway.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct AnalysisState {
    /// Which analysis: `step-N`, `prePromotion` or `postPromotion`.
    pub key: String,
    /// Each template's run.
    pub runs: Vec<TemplateRun>,
    /// The verdict, once every run completed.
    pub verdict: Option<Verdict>,
    /// For people: why (the measurements that decided).
    #[serde(default)]
    pub message: String,
}

/// A rollout's state: what it is rolling out, where it is, and what it has seen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct RolloutState {
    /// The image being rolled out.
    pub image: String,
    /// The container whose image changes.
    pub container: String,
    /// The image the stable version ran when the rollout began.
    pub stable_image: String,
    /// The Deployment's revision when the rollout began (what an abort or an undo returns to).
    pub stable_revision: Option<i64>,
    /// The `pod-template-hash` of the stable pods when the rollout began.
    pub stable_hash: Option<String>,
    /// The stable version's replicas (N).
    pub replicas: u32,
    /// The strategy.
    pub strategy: StrategyKind,
    /// Where the rollout is.
    pub stage: Stage,
    /// The canary step being carried out (index into the steps).
    #[serde(default)]
    pub step: usize,
    /// When the current step (or stage) began, in seconds since the Unix epoch.
    #[serde(default)]
    pub step_started: u64,
    /// The traffic weight the router was last given (percent to the new version).
    #[serde(default)]
    pub weight: u32,
    /// The phase.
    pub phase: Phase,
    /// Why it is paused or degraded (`CanaryPauseStep`, `BlueGreenPause`, `InconclusiveAnalysis`,
    /// `Aborted`, `ProgressDeadlineExceeded`, `AnalysisFailed`, `InvalidSpec`, `RolledBack`).
    #[serde(default)]
    pub reason: String,
    /// For people: what is happening.
    #[serde(default)]
    pub message: String,
    /// `promote` was asked for and not yet used.
    #[serde(default)]
    pub promote: bool,
    /// `abort` was asked for.
    #[serde(default)]
    pub abort: bool,
    /// The revision a `rollback` returns to.
    #[serde(default)]
    pub rollback_to: Option<i64>,
    /// The current analysis, if any.
    #[serde(default)]
    pub analysis: Option<AnalysisState>,
    /// The arguments of analyses (`--arg KEY=VALUE`).
    #[serde(default)]
    pub args: Vec<(String, String)>,
}

impl RolloutState {
    /// Parses the annotation's value.
    ///
    /// # Errors
    /// The JSON error, when the annotation is not a state slipway wrote.
    pub fn parse(text: &str) -> Result<RolloutState, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// The annotation's value.
    ///
    /// # Panics
    /// Never: a state always serialises.
    #[must_use]
    pub fn to_annotation(&self) -> String {
        serde_json::to_string(self).expect("a rollout state always serialises")
    }

    /// `Phase (reason): message`, as progress lines show a state.
    #[must_use]
    pub fn summary(&self) -> String {
        if self.reason.is_empty() {
            format!("{}: {}", self.phase, self.message)
        } else {
            format!("{} ({}): {}", self.phase, self.reason, self.message)
        }
    }

    /// Whether the rollout is still under way (not Done).
    #[must_use]
    pub fn is_active(&self) -> bool {
        self.stage != Stage::Done
    }
}
