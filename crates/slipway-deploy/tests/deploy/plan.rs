//! Plans: canary (basic and routed), rolling and blue-green, and their JSON.

use proptest::prelude::*;
use slipway_deploy::plan::{Action, PlanStep, plan};
use slipway_deploy::replicas::{Budget, IntOrPercent};
use slipway_deploy::spec::{RolloutSpec, StrategyKind, TrafficRouting};

fn states(steps: &[PlanStep]) -> Vec<(Action, u32, u32, u32)> {
    steps
        .iter()
        .map(|s| (s.action, s.weight, s.canary_replicas, s.stable_replicas))
        .collect()
}

fn canary(steps: &str, router: &str) -> RolloutSpec {
    RolloutSpec::from_flags(
        StrategyKind::Canary,
        Some(steps),
        TrafficRouting::from_flag(router).unwrap(),
    )
    .unwrap()
}

#[test]
fn basic_canary_plan_follows_argo_replica_math() {
    let steps = plan(
        &canary(
            "setWeight=20,pause=30s,analysis=smoke,setWeight=41,pause",
            "none",
        ),
        10,
    );
    assert_eq!(
        states(&steps),
        [
            (Action::SetWeight, 20, 2, 8),
            (Action::Pause, 20, 2, 8),
            (Action::Analysis, 20, 2, 8),
            // 25% surge = 3 pods: Argo picks 4 of 10 over 5 of 11 or 4 of 11.
            (Action::SetWeight, 41, 4, 6),
            (Action::Pause, 41, 4, 6),
            (Action::Promote, 100, 10, 0),
        ]
    );
    assert_eq!(steps[1].duration_seconds, Some(30));
    assert!(!steps[1].until_promoted);
    assert_eq!(steps[2].templates, ["smoke"]);
    assert!(steps[4].until_promoted);
    assert_eq!(steps[4].duration_seconds, None);
    assert!(steps.iter().enumerate().all(|(i, s)| s.step == i));
    // Without surge the totals stay at N: (3 replicas, 10%, surge 1) from Argo's table needs the surge.
    let spec = canary("setWeight=10", "none")
        .with_budget(Some(IntOrPercent::Int(1)), Some(IntOrPercent::Int(0)))
        .unwrap();
    assert_eq!(states(&plan(&spec, 3))[0], (Action::SetWeight, 10, 1, 3));
    let spec = spec
        .with_budget(Some(IntOrPercent::Int(0)), Some(IntOrPercent::Int(1)))
        .unwrap();
    assert_eq!(states(&plan(&spec, 3))[0], (Action::SetWeight, 10, 1, 2));
}

#[test]
fn routed_canary_plan_keeps_the_stable_and_honours_set_canary_scale() {
    let spec = canary(
        "setWeight=20,setCanaryScale=replicas:5,setWeight=50,setCanaryScale=matchTrafficWeight,setWeight=70,setCanaryScale=weight:100",
        "istio",
    );
    assert_eq!(
        states(&plan(&spec, 10)),
        [
            (Action::SetWeight, 20, 2, 10),
            (Action::SetCanaryScale, 20, 5, 10),
            (Action::SetWeight, 50, 5, 10),
            (Action::SetCanaryScale, 50, 5, 10),
            (Action::SetWeight, 70, 7, 10),
            (Action::SetCanaryScale, 70, 10, 10),
            (Action::Promote, 100, 10, 0),
        ]
    );
    // ceil(w * N / 100): 33% of 10 is 4 pods.
    assert_eq!(
        states(&plan(&canary("setWeight=33", "gateway-api"), 10))[0],
        (Action::SetWeight, 33, 4, 10)
    );
}

#[test]
fn dynamic_stable_scale_shrinks_the_stable_with_its_traffic() {
    let spec = RolloutSpec::from_argo(
        "canary:\n  dynamicStableScale: true\n  trafficRouting:\n    istio: {virtualService: {name: web}}\n  steps:\n  - setWeight: 25\n  - setWeight: 75\n",
    )
    .unwrap();
    assert_eq!(
        states(&plan(&spec, 4)),
        [
            (Action::SetWeight, 25, 1, 3),
            (Action::SetWeight, 75, 3, 1),
            (Action::Promote, 100, 4, 0)
        ]
    );
}

#[test]
fn rolling_plan_steps_as_the_deployment_controller() {
    let spec = RolloutSpec::from_flags(StrategyKind::Rolling, None, TrafficRouting::None).unwrap();
    // 10 replicas, 25%/25%: surge 3 (rounded up), unavailable 2 (rounded down).
    assert_eq!(
        states(&plan(&spec, 10)),
        [
            (Action::ScaleUp, 23, 3, 10),
            (Action::ScaleDown, 37, 3, 5),
            (Action::ScaleUp, 61, 8, 5),
            (Action::ScaleDown, 100, 8, 0),
            (Action::ScaleUp, 100, 10, 0),
        ]
    );
    assert!(plan(&spec, 0).is_empty());
}

#[test]
fn blue_green_plan_follows_argo_sequence_of_events() {
    let spec = RolloutSpec::from_argo(
        "blueGreen:\n  activeService: web\n  previewService: web-preview\n  autoPromotionEnabled: false\n  previewReplicaCount: 1\n  scaleDownDelaySeconds: 60\n  prePromotionAnalysis:\n    templates:\n    - templateName: smoke\n  postPromotionAnalysis:\n    templates:\n    - templateName: errors\n",
    )
    .unwrap();
    let steps = plan(&spec, 3);
    assert_eq!(
        states(&steps),
        [
            (Action::ScalePreview, 0, 1, 3),
            (Action::PrePromotionAnalysis, 0, 1, 3),
            (Action::Pause, 0, 1, 3),
            (Action::ScalePreview, 0, 3, 3),
            (Action::Promote, 100, 3, 3),
            (Action::PostPromotionAnalysis, 100, 3, 3),
            (Action::ScaleDown, 100, 3, 0),
        ]
    );
    assert_eq!(steps[1].templates, ["smoke"]);
    assert!(steps[2].until_promoted);
    assert_eq!(steps[6].duration_seconds, Some(60));
    // Defaults: auto-promotion, no preview count, 30 s delay.
    let spec =
        RolloutSpec::from_flags(StrategyKind::BlueGreen, None, TrafficRouting::None).unwrap();
    let steps = plan(&spec, 2);
    assert_eq!(
        states(&steps),
        [
            (Action::ScalePreview, 0, 2, 2),
            (Action::Promote, 100, 2, 2),
            (Action::ScaleDown, 100, 2, 0)
        ]
    );
    assert_eq!(steps[2].duration_seconds, Some(30));
}

#[test]
fn plan_json_has_the_fields_the_cli_promises() {
    let steps = plan(
        &canary("setWeight=20,pause=1m,analysis=smoke,pause", "none"),
        5,
    );
    let json = serde_json::to_value(&steps).unwrap();
    assert_eq!(
        json,
        serde_json::json!([
            {"step": 0, "action": "setWeight", "weight": 20, "canaryReplicas": 1, "stableReplicas": 4},
            {"step": 1, "action": "pause", "weight": 20, "canaryReplicas": 1, "stableReplicas": 4, "durationSeconds": 60},
            {"step": 2, "action": "analysis", "weight": 20, "canaryReplicas": 1, "stableReplicas": 4, "templates": ["smoke"]},
            {"step": 3, "action": "pause", "weight": 20, "canaryReplicas": 1, "stableReplicas": 4, "untilPromoted": true},
            {"step": 4, "action": "promote", "weight": 100, "canaryReplicas": 5, "stableReplicas": 0},
        ])
    );
}

proptest! {
    #[test]
    fn rolling_plans_stay_within_the_budget_and_finish(n in 0u32..40, surge in 0u32..6, unavailable in 0u32..6, pct in any::<bool>()) {
        let (s, u) = if pct {
            (IntOrPercent::Percent(surge * 10), IntOrPercent::Percent(unavailable * 10))
        } else {
            (IntOrPercent::Int(surge), IntOrPercent::Int(unavailable))
        };
        prop_assume!(!(s.is_zero() && u.is_zero()));
        let spec = RolloutSpec::from_flags(StrategyKind::Rolling, None, TrafficRouting::None)
            .unwrap()
            .with_budget(Some(s), Some(u))
            .unwrap();
        let budget = Budget::resolve(&s, &u, n);
        let steps = plan(&spec, n);
        for step in &steps {
            let total = step.canary_replicas + step.stable_replicas;
            prop_assert!(total <= n + budget.max_surge, "{step:?}");
            prop_assert!(total + budget.max_unavailable.min(n) >= n, "{step:?}");
            prop_assert!(step.weight <= 100);
        }
        if n > 0 {
            let last = steps.last().unwrap();
            prop_assert_eq!((last.canary_replicas, last.stable_replicas), (n, 0));
        }
    }

    #[test]
    fn canary_plans_weights_stay_in_range(n in 0u32..30, weights in proptest::collection::vec(0u32..=100, 1..6), routed in any::<bool>()) {
        let text = weights.iter().map(|w| format!("setWeight={w}")).collect::<Vec<_>>().join(",");
        let spec = canary(&text, if routed { "istio" } else { "none" });
        let budget = Budget::resolve(&spec.max_surge, &spec.max_unavailable, n);
        for step in plan(&spec, n) {
            prop_assert!(step.weight <= 100);
            if routed {
                prop_assert_eq!(step.stable_replicas, if step.action == Action::Promote { 0 } else { n });
                prop_assert!(step.canary_replicas <= n);
            } else {
                prop_assert!(step.canary_replicas + step.stable_replicas <= n + u32::from(budget.max_surge > 0));
            }
        }
    }
}
