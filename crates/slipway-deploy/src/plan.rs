//! The step-by-step plan of a rollout: for each step, what happens, the canary's traffic weight and the
//! replicas of each version once the step is reached. `slipway deploy plan --json` prints it.
//!
//! - Canary: one entry per spec step, then `promote` (100%, the stable scaled down). Without a router the
//!   replicas follow Argo Rollouts' basic canary ([`replicas::basic_canary`]); with one, the canary gets
//!   `ceil(weight × N / 100)` pods (or what `setCanaryScale` says) and the stable stays at N unless
//!   `dynamicStableScale`.
//! - Rolling: the Deployment controller's successive scale-ups and scale-downs, as it makes them when every
//!   new pod becomes ready at once (one action per sync: scale the new ReplicaSet up as far as `maxSurge`
//!   allows, otherwise the old one down as far as `maxUnavailable` allows).
//! - Blue-green: Argo Rollouts' sequence — preview scaled up, pre-promotion analysis, pause (unless
//!   auto-promoted at once), preview completed to N, switch, post-promotion analysis, old version scaled down
//!   after `scaleDownDelaySeconds`.
//!
//! ```
//! use slipway_deploy::plan::{plan, Action};
//! use slipway_deploy::spec::{RolloutSpec, StrategyKind, TrafficRouting};
//!
//! let spec = RolloutSpec::from_flags(StrategyKind::Canary, Some("setWeight=20,pause"), TrafficRouting::None)?;
//! let steps = plan(&spec, 10);
//! assert_eq!(steps[0].action, Action::SetWeight);
//! assert_eq!((steps[0].weight, steps[0].canary_replicas, steps[0].stable_replicas), (20, 2, 8));
//! assert!(steps[1].until_promoted);
//! assert_eq!(steps.last().map(|s| s.action), Some(Action::Promote));
//! let json = serde_json::to_value(&steps)?;
//! assert_eq!(json[0]["canaryReplicas"], 2);
//! Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;

use serde::Serialize;

use crate::replicas::{self, Budget, CanaryScale, Weight};
use crate::spec::{Analysis, BlueGreen, Canary, RolloutSpec, Step, Strategy};

/// What a plan step does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum Action {
    /// Canary: move traffic (and, without a router, pods) to a weight.
    SetWeight,
    /// Wait for a duration or for `promote`.
    Pause,
    /// Canary: run an analysis and wait for its verdict.
    Analysis,
    /// Canary: size the canary apart from its weight.
    SetCanaryScale,
    /// The new version takes all traffic (canary: full promotion; blue-green: the active Service switches).
    Promote,
    /// Rolling: the new ReplicaSet scaled up.
    ScaleUp,
    /// Rolling: the old ReplicaSet scaled down; blue-green: the old version scaled down after the delay.
    ScaleDown,
    /// Blue-green: the preview (new version) scaled up.
    ScalePreview,
    /// Blue-green: analysis before the switch.
    PrePromotionAnalysis,
    /// Blue-green: analysis after the switch.
    PostPromotionAnalysis,
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Action::SetWeight => "setWeight",
            Action::Pause => "pause",
            Action::Analysis => "analysis",
            Action::SetCanaryScale => "setCanaryScale",
            Action::Promote => "promote",
            Action::ScaleUp => "scaleUp",
            Action::ScaleDown => "scaleDown",
            Action::ScalePreview => "scalePreview",
            Action::PrePromotionAnalysis => "prePromotionAnalysis",
            Action::PostPromotionAnalysis => "postPromotionAnalysis",
        })
    }
}

/// One step of a plan and the state it leads to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct PlanStep {
    /// 0-based index in the plan.
    pub step: usize,
    /// What happens.
    pub action: Action,
    /// Percent of traffic on the new version once the step is reached (rolling: the share of pods, rounded
    /// down).
    pub weight: u32,
    /// Pods of the new version.
    pub canary_replicas: u32,
    /// Pods of the old (stable) version.
    pub stable_replicas: u32,
    /// A pause's (or blue-green scale-down delay's) length in seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_seconds: Option<u64>,
    /// A pause that waits for `promote`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub until_promoted: bool,
    /// The `AnalysisTemplate`s an analysis step runs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub templates: Vec<String>,
}

impl PlanStep {
    fn new(step: usize, action: Action, weight: u32, canary: u32, stable: u32) -> Self {
        PlanStep {
            step,
            action,
            weight,
            canary_replicas: canary,
            stable_replicas: stable,
            duration_seconds: None,
            until_promoted: false,
            templates: Vec::new(),
        }
    }
}

/// The plan of `spec` for `replicas` desired pods.
#[must_use]
pub fn plan(spec: &RolloutSpec, replicas: u32) -> Vec<PlanStep> {
    let budget = Budget::resolve(&spec.max_surge, &spec.max_unavailable, replicas);
    match &spec.strategy {
        Strategy::Rolling => rolling(replicas, budget),
        Strategy::BlueGreen(bg) => blue_green(bg, replicas),
        Strategy::Canary(canary) => canary_plan(canary, replicas, budget),
    }
}

fn canary_plan(canary: &Canary, n: u32, budget: Budget) -> Vec<PlanStep> {
    let routed = canary.traffic_routing.is_routed();
    let mut weight = Weight::ZERO;
    // setCanaryScale lasts until matchTrafficWeight; Argo ignores it without a router.
    let mut scale: Option<CanaryScale> = None;
    let split = |weight: Weight, scale: Option<CanaryScale>| {
        if routed {
            replicas::routed_canary(n, weight, scale, canary.dynamic_stable_scale, None)
        } else {
            replicas::basic_canary(n, weight, budget.max_surge)
        }
    };
    let mut out = Vec::with_capacity(canary.steps.len() + 1);
    for (i, step) in canary.steps.iter().enumerate() {
        let action = match step {
            Step::SetWeight(w) => {
                weight = *w;
                Action::SetWeight
            }
            Step::Pause { .. } => Action::Pause,
            Step::Analysis(_) => Action::Analysis,
            Step::SetCanaryScale(s) => {
                if routed {
                    scale = match s {
                        CanaryScale::MatchTrafficWeight => None,
                        other => Some(*other),
                    };
                }
                Action::SetCanaryScale
            }
        };
        let s = split(weight, scale);
        let mut entry = PlanStep::new(i, action, weight.get(), s.canary, s.stable);
        match step {
            Step::Pause { duration } => {
                entry.duration_seconds = duration.map(|d| d.as_secs());
                entry.until_promoted = duration.is_none();
            }
            Step::Analysis(Analysis { templates, .. }) => entry.templates.clone_from(templates),
            _ => {}
        }
        out.push(entry);
    }
    out.push(PlanStep::new(out.len(), Action::Promote, 100, n, 0));
    out
}

/// The Deployment controller's rolling update, every new pod ready as soon as it is created.
fn rolling(n: u32, budget: Budget) -> Vec<PlanStep> {
    let max_unavailable = budget.max_unavailable.min(n);
    let min_available = n - max_unavailable;
    let max_total = n.saturating_add(budget.max_surge);
    let (mut new, mut old) = (0u32, n);
    let mut out = Vec::new();
    // Each pass moves at least one pod (the budget is never all zero); the bound only guards the loop.
    let bound = 2 * (n as usize) + 2;
    while (new < n || old > 0) && out.len() < bound {
        let total = new + old;
        let up = max_total.saturating_sub(total).min(n - new);
        let action = if up > 0 {
            new += up;
            Action::ScaleUp
        } else {
            let down = total.saturating_sub(min_available).min(old);
            if down == 0 {
                break;
            }
            old -= down;
            Action::ScaleDown
        };
        // new <= new + old, so the share is at most 100.
        let weight =
            u32::try_from(u64::from(new) * 100 / u64::from((new + old).max(1))).unwrap_or(100);
        out.push(PlanStep::new(out.len(), action, weight, new, old));
    }
    out
}

fn push(
    out: &mut Vec<PlanStep>,
    action: Action,
    weight: u32,
    canary: u32,
    stable: u32,
) -> &mut PlanStep {
    let step = PlanStep::new(out.len(), action, weight, canary, stable);
    out.push(step);
    let last = out.len() - 1;
    &mut out[last]
}

fn blue_green(bg: &BlueGreen, n: u32) -> Vec<PlanStep> {
    let preview = bg.preview_replica_count.map_or(n, |p| p.min(n));
    let mut out = Vec::new();
    push(&mut out, Action::ScalePreview, 0, preview, n);
    if let Some(a) = &bg.pre_promotion_analysis {
        push(&mut out, Action::PrePromotionAnalysis, 0, preview, n)
            .templates
            .clone_from(&a.templates);
    }
    if !bg.auto_promotion_enabled {
        push(&mut out, Action::Pause, 0, preview, n).until_promoted = true;
    } else if let Some(seconds) = bg.auto_promotion_seconds.filter(|s| *s > 0) {
        push(&mut out, Action::Pause, 0, preview, n).duration_seconds = Some(u64::from(seconds));
    }
    if preview < n {
        push(&mut out, Action::ScalePreview, 0, n, n);
    }
    push(&mut out, Action::Promote, 100, n, n);
    if let Some(a) = &bg.post_promotion_analysis {
        push(&mut out, Action::PostPromotionAnalysis, 100, n, n)
            .templates
            .clone_from(&a.templates);
    }
    push(&mut out, Action::ScaleDown, 100, n, 0).duration_seconds =
        Some(u64::from(bg.scale_down_delay_seconds));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replicas::IntOrPercent;

    #[test]
    fn rolling_with_zero_surge_goes_one_pod_at_a_time() {
        let budget = Budget::resolve(&IntOrPercent::Int(0), &IntOrPercent::Int(1), 3);
        let states: Vec<_> = rolling(3, budget)
            .iter()
            .map(|s| (s.action, s.canary_replicas, s.stable_replicas))
            .collect();
        assert_eq!(
            states,
            [
                (Action::ScaleDown, 0, 2),
                (Action::ScaleUp, 1, 2),
                (Action::ScaleDown, 1, 1),
                (Action::ScaleUp, 2, 1),
                (Action::ScaleDown, 2, 0),
                (Action::ScaleUp, 3, 0),
            ]
        );
    }
}
