//! The replica math against Argo Rollouts' published cases, and its invariants.

use proptest::prelude::*;
use slipway_deploy::replicas::{
    Budget, CanaryScale, IntOrPercent, Split, Weight, basic_canary, routed_canary, routed_replicas,
};

fn w(weight: i64) -> Weight {
    Weight::new(weight).unwrap()
}

/// (replicas, weight, maxSurge pods -> canary, stable): the cases of the issue and REFERENCE.md, then every
/// case of Argo Rollouts' `TestApproximateWeightedNewStableReplicaCounts` (`utils/replicaset/canary_test.go`).
const BASIC_CANARY_CASES: &[(u32, i64, u32, u32, u32)] = &[
    (10, 41, 0, 4, 6),
    (3, 50, 0, 2, 1),
    (1, 49, 0, 0, 1),
    (1, 50, 0, 1, 0),
    (2, 99, 0, 1, 1),
    (10, 1, 1, 1, 10),
    (10, 24, 1, 3, 8),
    (3, 10, 1, 1, 3),
    // Argo Rollouts' table.
    (0, 0, 0, 0, 0),
    (0, 50, 0, 0, 0),
    (0, 100, 0, 0, 0),
    (0, 0, 1, 0, 0),
    (0, 50, 1, 0, 0),
    (0, 100, 1, 0, 0),
    (1, 0, 0, 0, 1),
    (1, 1, 0, 0, 1),
    (1, 49, 0, 0, 1),
    (1, 50, 0, 1, 0),
    (1, 99, 0, 1, 0),
    (1, 100, 0, 1, 0),
    (1, 0, 1, 0, 1),
    (1, 1, 1, 1, 1),
    (1, 49, 1, 1, 1),
    (1, 50, 1, 1, 1),
    (1, 99, 1, 1, 1),
    (1, 100, 1, 1, 0),
    (2, 0, 0, 0, 2),
    (2, 1, 0, 1, 1),
    (2, 50, 0, 1, 1),
    (2, 99, 0, 1, 1),
    (2, 100, 0, 2, 0),
    (2, 0, 1, 0, 2),
    (2, 1, 1, 1, 2),
    (2, 50, 1, 1, 1),
    (2, 99, 1, 2, 1),
    (2, 100, 1, 2, 0),
    (3, 10, 0, 1, 2),
    (3, 25, 0, 1, 2),
    (3, 33, 0, 1, 2),
    (3, 34, 0, 1, 2),
    (3, 49, 0, 1, 2),
    (3, 50, 0, 2, 1),
    (3, 10, 1, 1, 3),
    (3, 25, 1, 1, 3),
    (3, 33, 1, 1, 2),
    (3, 34, 1, 1, 2),
    (3, 49, 1, 2, 2),
    (3, 50, 1, 2, 2),
    (10, 0, 1, 0, 10),
    (10, 1, 0, 1, 9),
    (10, 14, 0, 1, 9),
    (10, 15, 0, 2, 8),
    (10, 16, 0, 2, 8),
    (10, 99, 0, 9, 1),
    (10, 100, 1, 10, 0),
    (10, 0, 1, 0, 10),
    (10, 1, 1, 1, 10),
    (10, 18, 1, 2, 9),
    (10, 19, 1, 2, 9),
    (10, 20, 1, 2, 8),
    (10, 23, 1, 2, 8),
    (10, 24, 1, 3, 8),
    (10, 25, 1, 3, 8),
    (10, 99, 1, 10, 1),
    (10, 100, 1, 10, 0),
];

#[test]
fn basic_canary_matches_argo_rollouts_published_cases() {
    for &(replicas, weight, surge, canary, stable) in BASIC_CANARY_CASES {
        assert_eq!(
            basic_canary(replicas, w(weight), surge),
            Split::new(canary, stable),
            "replicas {replicas}, weight {weight}, maxSurge {surge}"
        );
    }
}

#[test]
fn basic_canary_never_empties_a_side_between_1_and_99_percent() {
    // Argo's code returns 0/N for these (no candidate survives its filters); slipway keeps both sides.
    assert_eq!(basic_canary(5, w(90), 0), Split::new(4, 1));
    assert_eq!(basic_canary(2, w(75), 0), Split::new(1, 1));
    for n in 2..=60 {
        for weight in 1..=99 {
            for surge in [0, 1] {
                let split = basic_canary(n, w(weight), surge);
                assert!(
                    split.canary > 0 && split.stable > 0,
                    "{n} replicas, {weight}%, surge {surge}: {split:?}"
                );
            }
        }
    }
}

#[test]
fn routed_canary_follows_argo_traffic_routing() {
    // TestTrafficWeightToReplicas.
    for (weight, pods) in [(0, 0), (20, 2), (25, 3), (33, 4), (99, 10), (100, 10)] {
        assert_eq!(routed_replicas(10, w(weight)), pods, "weight {weight}");
    }
    // Without dynamic stable scaling the stable stays fully scaled.
    assert_eq!(
        routed_canary(10, w(10), None, false, None),
        Split::new(1, 10)
    );
    // TestCalculateReplicaCountsForCanaryTrafficRoutingDynamicScale (the non-abort cases).
    assert_eq!(
        routed_canary(10, w(10), None, true, Some(w(90))),
        Split::new(1, 9)
    );
    assert_eq!(
        routed_canary(10, w(20), None, true, Some(w(90))),
        Split::new(2, 9)
    );
    // Before any traffic moved, the desired stable share alone decides.
    assert_eq!(routed_canary(10, w(20), None, true, None), Split::new(2, 8));
    // setCanaryScale.
    let scale = |s| routed_canary(10, w(20), Some(s), false, None);
    assert_eq!(scale(CanaryScale::Replicas(3)), Split::new(3, 10));
    assert_eq!(scale(CanaryScale::Weight(w(50))), Split::new(5, 10));
    assert_eq!(scale(CanaryScale::MatchTrafficWeight), Split::new(2, 10));
    assert_eq!(
        routed_canary(10, w(20), Some(CanaryScale::Replicas(3)), true, None),
        Split::new(3, 10)
    );
    assert_eq!(
        routed_canary(10, w(20), Some(CanaryScale::Weight(w(50))), true, None),
        Split::new(5, 5)
    );
}

#[test]
fn budgets_resolve_as_the_deployment_controller_does() {
    let p = IntOrPercent::Percent;
    let i = IntOrPercent::Int;
    let b = Budget::resolve(&p(25), &p(25), 10);
    assert_eq!((b.max_surge, b.max_unavailable), (3, 2));
    let b = Budget::resolve(&i(0), &i(0), 5);
    assert_eq!((b.max_surge, b.max_unavailable), (0, 1));
    let b = Budget::resolve(&p(150), &i(2), 4);
    assert_eq!((b.max_surge, b.max_unavailable), (6, 2));
}

proptest! {
    #[test]
    fn basic_canary_never_exceeds_replicas_plus_one_surge(n in 0u32..50, weight in 0i64..=100, surge in 0u32..5) {
        let split = basic_canary(n, w(weight), surge);
        let cap = n + u32::from(surge > 0 && n > 0);
        prop_assert!(split.canary + split.stable <= cap, "{split:?} over {cap}");
        prop_assert!(split.canary + split.stable >= n);
        // Zero canary (or zero stable) only where Argo allows it.
        let zero_allowed = weight == 0 || weight == 100 || (n == 1 && surge == 0) || n == 0;
        if !zero_allowed {
            prop_assert!(split.canary > 0 && split.stable > 0, "{split:?}");
        }
        if weight == 0 { prop_assert_eq!(split.canary, 0); }
        if weight == 100 { prop_assert_eq!(split.stable, 0); }
    }

    #[test]
    fn basic_canary_error_is_minimal_among_candidates(n in 1u32..50, weight in 0i64..=100, surge in 0u32..3) {
        let split = basic_canary(n, w(weight), surge);
        let totals: &[u32] = if surge > 0 { &[n, n + 1] } else { &[n] };
        let err = |c: u32, t: u32| (f64::from(c) * 100.0 / f64::from(t) - f64::from(u8::try_from(weight).unwrap())).abs();
        let chosen = err(split.canary, split.canary + split.stable);
        let zero_allowed = weight == 0 || weight == 100 || (n == 1 && surge == 0);
        for &t in totals {
            for c in 0..=t {
                // Candidates Argo may choose: no empty side unless allowed.
                if !zero_allowed && (c == 0 || c == t) { continue; }
                prop_assert!(chosen <= err(c, t) + 1e-9, "{split:?} vs {c}/{t}");
            }
        }
    }

    #[test]
    fn basic_canary_is_monotone_in_weight(n in 0u32..50, a in 0i64..=100, b in 0i64..=100, surge in 0u32..3) {
        let (lo, hi) = (a.min(b), a.max(b));
        let (x, y) = (basic_canary(n, w(lo), surge), basic_canary(n, w(hi), surge));
        prop_assert!(x.canary_share() <= y.canary_share() + 1e-9, "{lo}: {x:?}, {hi}: {y:?}");
    }

    #[test]
    fn routed_weights_cover_the_traffic(n in 0u32..50, weight in 0i64..=100) {
        let canary = w(weight);
        prop_assert_eq!(canary.get() + canary.complement().get(), 100);
        let split = routed_canary(n, canary, None, false, None);
        prop_assert_eq!(split.stable, n);
        prop_assert!(split.canary <= n);
        // Enough canary pods for its share: canary/n >= weight/100.
        prop_assert!(u64::from(split.canary) * 100 >= u64::from(n) * u64::from(canary.get()));
        let dynamic = routed_canary(n, canary, None, true, None);
        prop_assert!(dynamic.canary + dynamic.stable >= n);
        prop_assert!(dynamic.canary + dynamic.stable <= n + 1);
    }
}
