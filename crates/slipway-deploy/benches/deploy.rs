//! What a rollout costs slipway itself: one decision of each strategy (the pure state machine run at
//! every change the watch reports), the replica math over every weight, and whole rollouts on kubesim
//! through kube-rs (observe, decide, apply, watch). `scripts/bench-deploy.sh` puts the rolling case side
//! by side with `kubectl set image` + `kubectl rollout status` on the same simulator.

use std::hint::black_box;
use std::time::{Duration, UNIX_EPOCH};

use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::{Value, json};
use slipway_deploy::cluster::kube::Kube;
use slipway_deploy::replicas::{Weight, basic_canary};
use slipway_deploy::rollout::{Request, Rollout};
use slipway_deploy::spec::{RolloutSpec, StrategyKind, TrafficRouting};
use slipway_deploy::strategy::{Observed, Strategy as _, begin};
use slipway_kubesim::{Options, Sim};

fn stable(replicas: u32) -> Value {
    json!({"metadata": {"name": "web", "generation": 1, "uid": "u1",
            "annotations": {"deployment.kubernetes.io/revision": "1"}},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "web:1",
                    "ports": [{"containerPort": 8080}]}]}}},
        "status": {"observedGeneration": 1, "replicas": replicas, "updatedReplicas": replicas,
            "availableReplicas": replicas}})
}

fn decisions(c: &mut Criterion) {
    let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    for (label, kind, steps, router) in [
        (
            "canary basic",
            StrategyKind::Canary,
            Some("setWeight=20,pause=30s,setWeight=50,pause"),
            "none",
        ),
        (
            "canary istio",
            StrategyKind::Canary,
            Some("setWeight=20,pause=30s,setWeight=50,pause"),
            "istio",
        ),
        ("blue-green", StrategyKind::BlueGreen, None, "none"),
        ("rolling", StrategyKind::Rolling, None, "none"),
    ] {
        let spec = RolloutSpec::from_flags(kind, steps, TrafficRouting::from_flag(router).unwrap())
            .unwrap();
        let mut o = Observed::new("web", stable(10), now);
        o.state = Some(begin(&spec, &o, "web:2", None, None, &[]).unwrap());
        c.bench_function(&format!("decide/{label}"), |b| {
            b.iter(|| black_box(spec.decide(black_box(&o))));
        });
    }
    c.bench_function("basic_canary/N=1..100,w=0..100", |b| {
        b.iter(|| {
            for n in 1..=100 {
                for w in 0..=100 {
                    black_box(basic_canary(n, Weight::new(w).unwrap(), 1));
                }
            }
        });
    });
}

fn on_kubesim(c: &mut Criterion) {
    let mut group = c.benchmark_group("rollout on kubesim");
    group.sample_size(10);
    let sim = Sim::start(Options::default().ready_after(Duration::ZERO)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    sim.write_kubeconfig(&config).unwrap();
    let kube = Kube::from_kubeconfig(&config, "default").unwrap();
    let rolling =
        RolloutSpec::from_flags(StrategyKind::Rolling, None, TrafficRouting::None).unwrap();
    let mut request = Request::new("web:0", rolling.clone());
    request.replicas = Some(4);
    Rollout::new(&kube, "web").apply(&request).unwrap();
    let mut version = 0u64;
    group.bench_function("slipway rolling, 4 pods", |b| {
        b.iter(|| {
            version += 1;
            let request = Request::new(&format!("web:{version}"), rolling.clone());
            let out = Rollout::new(&kube, "web")
                .poll(Duration::from_millis(50))
                .apply(&request)
                .unwrap();
            assert_eq!(out.phase.to_string(), "Healthy");
        });
    });
    let canary = RolloutSpec::from_flags(
        StrategyKind::Canary,
        Some("setWeight=25,setWeight=50,setWeight=75"),
        TrafficRouting::None,
    )
    .unwrap();
    group.bench_function("slipway canary 25/50/75, 4 pods", |b| {
        b.iter(|| {
            version += 1;
            let request = Request::new(&format!("web:{version}"), canary.clone());
            let out = Rollout::new(&kube, "web")
                .poll(Duration::from_millis(50))
                .apply(&request)
                .unwrap();
            assert_eq!(out.phase.to_string(), "Healthy");
        });
    });
    drop(sim);
    group.finish();
}

criterion_group!(benches, decisions, on_kubesim);
criterion_main!(benches);
