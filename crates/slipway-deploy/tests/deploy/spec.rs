//! Rollout specs from `--steps` and from Argo Rollouts' documentation examples.

use std::time::Duration;

use slipway_deploy::replicas::{CanaryScale, IntOrPercent, Weight};
use slipway_deploy::spec::{
    Analysis, Error, RolloutSpec, Step, Strategy, StrategyKind, TrafficRouting, parse_steps,
};

fn fixture(name: &str) -> String {
    let path = format!(
        "{}/tests/deploy/fixtures/argo/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn w(n: i64) -> Weight {
    Weight::new(n).unwrap()
}

fn canary_steps(spec: &RolloutSpec) -> &[Step] {
    match &spec.strategy {
        Strategy::Canary(c) => &c.steps,
        other => panic!("not a canary: {other:?}"),
    }
}

fn pause(secs: Option<u64>) -> Step {
    Step::Pause {
        duration: secs.map(Duration::from_secs),
    }
}

#[test]
fn steps_flag_reads_every_step_kind() {
    let steps = parse_steps(
        "setWeight=20,pause=30s,analysis=NAME,setWeight=50,pause,setCanaryScale=replicas:2,pause=1m30s,setCanaryScale=weight:40,setCanaryScale=matchTrafficWeight",
    )
    .unwrap();
    assert_eq!(
        steps,
        vec![
            Step::SetWeight(w(20)),
            pause(Some(30)),
            Step::Analysis(Analysis::of_templates(["NAME"])),
            Step::SetWeight(w(50)),
            pause(None),
            Step::SetCanaryScale(CanaryScale::Replicas(2)),
            pause(Some(90)),
            Step::SetCanaryScale(CanaryScale::Weight(w(40))),
            Step::SetCanaryScale(CanaryScale::MatchTrafficWeight),
        ]
    );
}

#[test]
fn steps_flag_errors_name_the_item() {
    let err = parse_steps("setWeight=20,setWieght=30").unwrap_err();
    assert!(
        matches!(&err, Error::UnknownFlagStep { index: 1, kind, .. } if kind == "setWieght"),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "--steps item 1 (\"setWieght=30\"): unknown step kind \"setWieght\" (expected setWeight, pause, analysis or setCanaryScale)"
    );
    for (text, index) in [
        ("setWeight=101", 0),
        ("pause,setWeight=-1", 1),
        ("setWeight", 0),
        ("analysis=", 0),
        ("setCanaryScale=replicas:x", 0),
        ("setCanaryScale=weight:120", 0),
        ("setCanaryScale", 0),
    ] {
        let err = parse_steps(text).unwrap_err();
        assert!(
            matches!(err, Error::InvalidFlagStep { index: i, .. } if i == index),
            "{text}: {err:?}"
        );
    }
    let err = parse_steps("setWeight=10,pause=10x").unwrap_err();
    assert_eq!(
        err,
        Error::InvalidDuration {
            path: "--steps item 1".into(),
            value: "10x".into()
        }
    );
}

#[test]
fn flags_are_validated_as_argo_validates_a_rollout() {
    // setCanaryScale needs a router.
    let err = RolloutSpec::from_flags(
        StrategyKind::Canary,
        Some("setWeight=5,setCanaryScale=replicas:2"),
        TrafficRouting::None,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "--steps item 1: setCanaryScale requires a traffic router (istio or gateway-api)"
    );
    assert!(
        matches!(
            err,
            Error::RequiresTrafficRouter {
                feature: "setCanaryScale",
                ..
            }
        ),
        "{err:?}"
    );
    let routed = TrafficRouting::from_flag("istio").unwrap();
    RolloutSpec::from_flags(
        StrategyKind::Canary,
        Some("setCanaryScale=replicas:2"),
        routed,
    )
    .unwrap();
    // Weights may go down again (Argo allows it).
    RolloutSpec::from_flags(
        StrategyKind::Canary,
        Some("setWeight=50,setWeight=20"),
        TrafficRouting::None,
    )
    .unwrap();
    // Steps only for canaries.
    let err = RolloutSpec::from_flags(
        StrategyKind::Rolling,
        Some("setWeight=5"),
        TrafficRouting::None,
    )
    .unwrap_err();
    assert_eq!(
        err,
        Error::StepsWithoutCanary {
            strategy: StrategyKind::Rolling
        }
    );
    // Budgets.
    let spec = RolloutSpec::from_flags(StrategyKind::Rolling, None, TrafficRouting::None).unwrap();
    let err = spec
        .clone()
        .with_budget(Some(IntOrPercent::Int(0)), Some(IntOrPercent::Percent(0)))
        .unwrap_err();
    assert!(
        matches!(err, Error::SurgeAndUnavailableZero { .. }),
        "{err:?}"
    );
    let err = spec
        .with_budget(None, Some(IntOrPercent::Percent(101)))
        .unwrap_err();
    assert!(matches!(err, Error::UnavailableOver100 { .. }), "{err:?}");
    assert!(matches!(
        "blue_green".parse::<StrategyKind>(),
        Err(Error::UnknownStrategy { .. })
    ));
    assert!(matches!(
        TrafficRouting::from_flag("nginx"),
        Err(Error::UnknownTrafficRouter { .. })
    ));
}

#[test]
fn argo_docs_canary_example_reads_from_a_whole_rollout() {
    let spec = RolloutSpec::from_argo(&fixture("canary-example.yaml")).unwrap();
    assert_eq!(spec.max_surge, IntOrPercent::Percent(25));
    assert_eq!(spec.max_unavailable, IntOrPercent::Int(0));
    assert_eq!(
        canary_steps(&spec),
        [
            Step::SetWeight(w(10)),
            pause(Some(3600)),
            Step::SetWeight(w(20)),
            pause(None)
        ]
    );
}

#[test]
fn argo_docs_pause_durations() {
    let spec = RolloutSpec::from_argo(&fixture("canary-pause-durations.yaml")).unwrap();
    assert_eq!(
        canary_steps(&spec),
        [
            pause(Some(10)),
            pause(Some(10)),
            pause(Some(600)),
            pause(Some(36000)),
            pause(None)
        ]
    );
}

#[test]
fn argo_docs_set_canary_scale_needs_a_router() {
    let text = fixture("canary-set-canary-scale.yaml");
    let err = RolloutSpec::from_argo(&text).unwrap_err();
    assert_eq!(
        err.to_string(),
        "spec.strategy.canary.steps[0].setCanaryScale: setCanaryScale requires a traffic router (istio or gateway-api)"
    );
    let routed = text.replace(
        "      steps:\n",
        "      trafficRouting:\n        istio:\n          virtualService: {name: vs}\n      steps:\n",
    );
    let spec = RolloutSpec::from_argo(&routed).unwrap();
    assert_eq!(
        canary_steps(&spec),
        [
            Step::SetCanaryScale(CanaryScale::Replicas(3)),
            Step::SetCanaryScale(CanaryScale::Weight(w(25))),
            Step::SetCanaryScale(CanaryScale::MatchTrafficWeight),
        ]
    );
    let Strategy::Canary(c) = &spec.strategy else {
        unreachable!()
    };
    assert_eq!(
        c.traffic_routing,
        TrafficRouting::Istio {
            virtual_service: Some("vs".into()),
            destination_rule: None
        }
    );
}

#[test]
fn argo_docs_bluegreen_example() {
    let spec = RolloutSpec::from_argo(&fixture("bluegreen-example.yaml")).unwrap();
    let Strategy::BlueGreen(bg) = &spec.strategy else {
        panic!("{spec:?}")
    };
    assert_eq!(
        bg.active_service.as_deref(),
        Some("rollout-bluegreen-active")
    );
    assert_eq!(
        bg.preview_service.as_deref(),
        Some("rollout-bluegreen-preview")
    );
    assert!(!bg.auto_promotion_enabled);
    assert_eq!(bg.scale_down_delay_seconds, 30);
}

#[test]
fn the_strategy_key_is_optional_and_json_works() {
    let bare = "canary:\n  steps:\n  - setWeight: 5\n";
    let keyed = "strategy:\n  canary:\n    steps:\n    - setWeight: 5\n";
    let json = r#"{"strategy": {"canary": {"steps": [{"setWeight": 5}], "trafficRouting": {"plugins": {"argoproj-labs/gatewayAPI": {"httpRoute": "web", "namespace": "prod"}}}}}}"#;
    for text in [bare, keyed, json] {
        assert_eq!(
            canary_steps(&RolloutSpec::from_argo(text).unwrap()),
            [Step::SetWeight(w(5))],
            "{text}"
        );
    }
    let Strategy::Canary(c) = RolloutSpec::from_argo(json).unwrap().strategy else {
        unreachable!()
    };
    assert_eq!(
        c.traffic_routing,
        TrafficRouting::GatewayApi {
            http_route: Some("web".into())
        }
    );
    let bg = "blueGreen:\n  activeService: a\n  prePromotionAnalysis:\n    templates:\n    - templateName: smoke\n    args:\n    - name: svc\n      value: a-preview\n";
    let Strategy::BlueGreen(b) = RolloutSpec::from_argo(bg).unwrap().strategy else {
        unreachable!()
    };
    let pre = b.pre_promotion_analysis.unwrap();
    assert_eq!(pre.templates, ["smoke"]);
    assert_eq!(pre.args[0].value.as_deref(), Some("a-preview"));
}

#[test]
fn argo_errors_name_the_line_column_or_field_path() {
    // Out-of-range weight: the parser's position.
    let err = RolloutSpec::from_argo("canary:\n  steps:\n  - setWeight: 20\n  - setWeight: 120\n")
        .unwrap_err();
    let Error::Syntax { line, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(*line, 4, "{err}");
    // Broken JSON.
    let err = RolloutSpec::from_argo("{\"canary\": {\"steps\": [}}").unwrap_err();
    assert!(
        matches!(
            err,
            Error::Syntax {
                line: 1,
                column: 23,
                ..
            }
        ),
        "{err:?}"
    );
    // Unknown and unsupported step kinds, by index.
    let err = RolloutSpec::from_argo(
        "strategy:\n  canary:\n    steps:\n    - setWeight: 20\n    - experiment: {}\n",
    )
    .unwrap_err();
    assert_eq!(
        err,
        Error::UnsupportedStep {
            path: "strategy.canary.steps[1]".into(),
            kind: "experiment".into()
        }
    );
    let err = RolloutSpec::from_argo("canary:\n  steps:\n  - setWieght: 20\n").unwrap_err();
    assert!(
        matches!(&err, Error::UnsupportedStep { path, kind } if path == "canary.steps[0]" && kind == "setWieght"),
        "{err:?}"
    );
    let err = RolloutSpec::from_argo("canary:\n  steps:\n  - setWeight: 20\n    pause: {}\n")
        .unwrap_err();
    assert!(matches!(err, Error::MultipleStepKinds { .. }), "{err:?}");
    let err = RolloutSpec::from_argo("canary:\n  steps:\n  - {}\n").unwrap_err();
    assert!(matches!(err, Error::EmptyStep { .. }), "{err:?}");
    let err = RolloutSpec::from_argo("canary:\n  steps:\n  - pause: {duration: -5}\n").unwrap_err();
    assert!(
        matches!(&err, Error::InvalidDuration { path, .. } if path == "canary.steps[0].pause.duration"),
        "{err:?}"
    );
    let err = RolloutSpec::from_argo("canary:\n  steps:\n  - pause: {duration: 5 minutes}\n")
        .unwrap_err();
    assert!(matches!(err, Error::InvalidDuration { .. }), "{err:?}");
    let err = RolloutSpec::from_argo("canary:\n  maxSurge: 0\n  maxUnavailable: 0%\n").unwrap_err();
    assert!(
        matches!(err, Error::SurgeAndUnavailableZero { .. }),
        "{err:?}"
    );
    let err = RolloutSpec::from_argo("canary:\n  dynamicStableScale: true\n").unwrap_err();
    assert!(
        matches!(
            err,
            Error::RequiresTrafficRouter {
                feature: "dynamicStableScale",
                ..
            }
        ),
        "{err:?}"
    );
    let err = RolloutSpec::from_argo("canary:\n  trafficRouting:\n    nginx: {stableIngress: x}\n")
        .unwrap_err();
    assert!(
        matches!(&err, Error::UnsupportedTrafficRouter { router, .. } if router == "nginx"),
        "{err:?}"
    );
    let err = RolloutSpec::from_argo("blueGreen:\n  activeService: a\n  previewService: a\n")
        .unwrap_err();
    assert!(matches!(err, Error::SameServices { .. }), "{err:?}");
    let err = RolloutSpec::from_argo("canary: {}\nblueGreen: {}\n").unwrap_err();
    assert!(matches!(err, Error::MultipleStrategies { .. }), "{err:?}");
    let err = RolloutSpec::from_argo("kind: Rollout\nspec:\n  replicas: 3\n").unwrap_err();
    assert_eq!(
        err,
        Error::NoStrategy {
            path: "spec.strategy".into()
        }
    );
}
