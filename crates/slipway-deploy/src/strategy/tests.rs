use std::time::{Duration, UNIX_EPOCH};

use proptest::prelude::*;
use serde_json::json;

use super::Strategy as _;
use super::*;
use crate::replicas::IntOrPercent;
use crate::spec::TrafficRouting;

fn stable(replicas: u32, image: &str) -> Value {
    json!({"metadata": {"name": "web", "generation": 1, "uid": "u1",
            "annotations": {"deployment.kubernetes.io/revision": "1"}},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": image,
                    "ports": [{"containerPort": 8080}]}]}}},
        "status": {"observedGeneration": 1, "replicas": replicas, "updatedReplicas": replicas,
            "availableReplicas": replicas}})
}

fn observed(spec: &RolloutSpec, replicas: u32) -> Observed {
    let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let mut o = Observed::new("web", stable(replicas, "web:1"), now);
    o.replica_sets = vec![json!({"metadata": {"name": "web-abc",
        "labels": {"app": "web", "pod-template-hash": "abc"},
        "annotations": {"deployment.kubernetes.io/revision": "1"}},
        "spec": {"template": o.stable["spec"]["template"].clone()}})];
    o.state = Some(begin(spec, &o, "web:2", None, None, &[]).expect("begin"));
    o
}

#[test]
fn the_same_observation_gives_the_same_decision() {
    let spec = RolloutSpec::from_flags(
        StrategyKind::Canary,
        Some("setWeight=20,pause"),
        TrafficRouting::from_flag("istio").expect("istio"),
    )
    .expect("spec");
    let o = observed(&spec, 5);
    let a = spec.decide(&o);
    let b = spec.decide(&o);
    assert_eq!(a, b);
    // The routed canary waits for its one pod before any traffic moves.
    assert_eq!(a.wait, Wait::Cluster);
    assert_eq!(a.state.weight, 0);
    assert!(
        a.changes
            .iter()
            .all(|c| !matches!(c, Change::Apply(o) if o["kind"] == "VirtualService"))
    );
}

#[test]
fn a_ready_routed_canary_gets_its_weight_and_then_pauses() {
    let spec = RolloutSpec::from_flags(
        StrategyKind::Canary,
        Some("setWeight=20,pause"),
        TrafficRouting::from_flag("gateway-api").expect("router"),
    )
    .expect("spec");
    let mut o = observed(&spec, 5);
    o.canary = Some(json!({"metadata": {"name": "web-canary", "generation": 1},
        "spec": {"replicas": 1}, "status": {"observedGeneration": 1, "replicas": 1,
        "updatedReplicas": 1, "availableReplicas": 1}}));
    let d = spec.decide(&o);
    assert_eq!(d.wait, Wait::Rest);
    assert_eq!(d.state.phase, Phase::Paused);
    assert_eq!(d.state.reason, "CanaryPauseStep");
    assert_eq!(d.state.step, 1);
    let route = d
        .changes
        .iter()
        .find_map(|c| match c {
            Change::Apply(o) if o["kind"] == "HTTPRoute" => Some(o),
            _ => None,
        })
        .expect("an HTTPRoute");
    assert_eq!(route["spec"]["rules"][0]["backendRefs"][0]["weight"], 80);
    assert_eq!(route["spec"]["rules"][0]["backendRefs"][1]["weight"], 20);
    assert_eq!(route["spec"]["rules"][0]["backendRefs"][1]["port"], 8080);
    let stable_service = d
        .changes
        .iter()
        .find_map(|c| match c {
            Change::Apply(o) if o["metadata"]["name"] == "web-stable" => Some(o),
            _ => None,
        })
        .expect("the stable Service");
    assert_eq!(
        stable_service["spec"]["selector"],
        json!({"app": "web", "pod-template-hash": "abc"})
    );
}

#[test]
fn abort_is_asked_in_the_state_and_restores_everything() {
    let spec = RolloutSpec::from_flags(
        StrategyKind::Canary,
        Some("setWeight=50,pause"),
        TrafficRouting::None,
    )
    .expect("spec");
    let mut o = observed(&spec, 4);
    o.stable["spec"]["replicas"] = json!(2);
    o.stable["status"]["availableReplicas"] = json!(2);
    o.canary = Some(json!({"metadata": {"name": "web-canary", "generation": 1},
        "spec": {"replicas": 2}, "status": {"observedGeneration": 1, "availableReplicas": 2}}));
    o.state.as_mut().expect("state").abort = true;
    let d = spec.decide(&o);
    assert_eq!(d.state.stage, Stage::Aborting);
    assert_eq!(
        d.wait,
        Wait::Cluster,
        "waits for the stable to be back at 4"
    );
    assert!(
        d.changes
            .iter()
            .any(|c| matches!(c, Change::Patch { patch, .. }
        if patch["spec"]["replicas"] == 4))
    );
    assert!(
        !d.changes
            .iter()
            .any(|c| matches!(c, Change::Apply(o) if o["spec"]["replicas"] == 0)),
        "the canary keeps serving until the stable is back"
    );
}

/// Simulates a replica-ratio canary moving between two weights: pods scaled down go at once, pods
/// scaled up become available one decision later.
fn walk(n: u32, budget: Budget, from: Split, target: Split) -> Result<usize, String> {
    let max_total = n + budget.max_surge;
    let min_available = n.saturating_sub(budget.max_unavailable);
    let mut spec = from;
    let mut available = from;
    for tick in 0..(4 * n as usize + 8) {
        if spec == target && available == target {
            return Ok(tick);
        }
        let next = step_toward(n, budget, spec, available, target);
        if next.canary + next.stable > max_total {
            return Err(format!(
                "tick {tick}: {next:?} over N + surge = {max_total}"
            ));
        }
        available = Split::new(
            available.canary.min(next.canary),
            available.stable.min(next.stable),
        );
        let settled_total = available.canary + available.stable;
        if settled_total
            < min_available
                .min(from.canary + from.stable)
                .min(target.canary + target.stable)
        {
            return Err(format!(
                "tick {tick}: {available:?} available, under N - unavailable = {min_available}"
            ));
        }
        spec = next;
        // The pods asked for come up.
        available = spec;
    }
    Err(format!("did not reach {target:?} from {from:?}"))
}

proptest! {
    #[test]
    fn basic_canary_moves_within_the_budget(
        n in 1u32..40,
        w1 in 0i64..=100,
        w2 in 0i64..=100,
        surge in 0u32..5,
        unavailable in 0u32..5,
    ) {
        let budget = Budget::resolve(&IntOrPercent::Int(surge), &IntOrPercent::Int(unavailable), n);
        let from = replicas::basic_canary(n, Weight::new(w1).unwrap(), budget.max_surge);
        let target = replicas::basic_canary(n, Weight::new(w2).unwrap(), budget.max_surge);
        prop_assert!(from.canary + from.stable <= n + budget.max_surge);
        if let Err(e) = walk(n, budget, from, target) {
            prop_assert!(false, "{}", e);
        }
    }
}
