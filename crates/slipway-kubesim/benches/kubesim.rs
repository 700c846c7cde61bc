//! What a test pays for kubesim: starting and stopping a simulator, and the controllers taking a
//! Deployment from nothing to a completed rollout (and through an image change).

use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::json;
use slipway_kubesim::controller::{self, Behaviour, kubelet::Simulated};
use slipway_kubesim::ops::{self, Ctx, Sub};
use slipway_kubesim::store::{Key, Store};
use slipway_kubesim::{Options, Sim};

fn deployment(replicas: u32, image: &str) -> serde_json::Value {
    json!({
        "metadata": {"name": "web"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "app", "image": image}]}}
        }
    })
}

fn complete(store: &Store, replicas: i64) -> bool {
    let state = store.lock();
    state
        .list("apps", "deployments", Some("default"))
        .any(|(_, d)| {
            d["status"]["updatedReplicas"] == replicas
                && d["status"]["availableReplicas"] == replicas
                && d["status"]["replicas"] == replicas
                && d["status"]["observedGeneration"] == d["metadata"]["generation"]
        })
}

/// Creates a Deployment, reconciles until it is complete, changes its image and reconciles again.
fn rollout(replicas: u32) -> usize {
    let store = Store::new(100_000);
    let (ns, t) = {
        let s = store.lock();
        (
            s.registry.get("", "v1", "namespaces").expect("ns"),
            s.registry.get("apps", "v1", "deployments").expect("d"),
        )
    };
    let ctx = Ctx::default();
    ops::create(
        &store,
        &ns,
        "v1",
        "",
        json!({"metadata": {"name": "default"}}),
        &ctx,
    )
    .expect("ns");
    ops::create(
        &store,
        &t,
        "v1",
        "default",
        deployment(replicas, "img:1"),
        &ctx,
    )
    .expect("d");
    let behaviour = Behaviour {
        ready_after: Duration::ZERO,
        ..Behaviour::default()
    };
    let mut passes = 0;
    while !complete(&store, i64::from(replicas)) {
        controller::reconcile(&store, &behaviour, &Simulated);
        passes += 1;
    }
    let current = store
        .lock()
        .get(&Key::new(&t, "default", "web"))
        .cloned()
        .expect("stored");
    let mut next = current.clone();
    next["spec"]["template"]["spec"]["containers"][0]["image"] = json!("img:2");
    ops::update(&store, &t, "v1", "default", "web", next, Sub::Main, &ctx).expect("updated");
    controller::reconcile(&store, &behaviour, &Simulated);
    while !complete(&store, i64::from(replicas)) {
        controller::reconcile(&store, &behaviour, &Simulated);
        passes += 1;
    }
    passes
}

fn benches(c: &mut Criterion) {
    c.bench_function("sim start and stop", |b| {
        b.iter(|| drop(Sim::start(Options::default()).expect("starts")));
    });
    let mut group = c.benchmark_group("rollout and image change (controllers only)");
    group.sample_size(20);
    for replicas in [3u32, 10, 30] {
        group.bench_function(format!("{replicas} replicas"), |b| {
            b.iter(|| rollout(replicas));
        });
    }
    group.finish();
}

criterion_group!(kubesim, benches);
criterion_main!(kubesim);
