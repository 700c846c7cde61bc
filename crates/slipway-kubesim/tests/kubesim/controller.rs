//! Properties of the Deployment controller, driven pass by pass with a kubelet whose pods become ready at
//! random moments: at every observed state of a rolling update, pods never exceed replicas + maxSurge and
//! available pods never fall below replicas - maxUnavailable; every rollout converges.

use std::sync::Mutex;

use proptest::prelude::*;
use serde_json::{Value, json};
use slipway_kubesim::controller::kubelet::{self, Kubelet};
use slipway_kubesim::controller::{self, Behaviour, Ctl};
use slipway_kubesim::ops::{self, Ctx, Sub};
use slipway_kubesim::store::{Key, Store};

/// Pods start at once and become ready when a seeded coin says so.
struct CoinKubelet {
    state: Mutex<u64>,
    ready_percent: u64,
}

impl CoinKubelet {
    fn flip(&self) -> bool {
        let mut s = self.state.lock().expect("lock");
        *s = s
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (*s >> 33) % 100 < self.ready_percent
    }
}

impl Kubelet for CoinKubelet {
    fn sync(&self, ctl: &mut Ctl<'_, '_>, pod: &Value) {
        if kubelet::finish_deletion(ctl, pod) {
            return;
        }
        let Some(pod) = kubelet::schedule(ctl, pod) else {
            return;
        };
        let ready = pod
            .pointer("/status/conditions")
            .and_then(Value::as_array)
            .is_some_and(|c| {
                c.iter()
                    .any(|c| c["type"] == "Ready" && c["status"] == "True")
            });
        if ready || !self.flip() {
            return;
        }
        let now = "2026-01-01T00:00:00Z";
        let ip = kubelet::allocate_pod_ip(ctl);
        let mut updated = pod.clone();
        updated["status"] = json!({
            "phase": "Running",
            "podIP": ip,
            "conditions": kubelet::pod_conditions(now, Some(now), Some(now)),
            "containerStatuses": [{"name": "app", "ready": true, "restartCount": 0, "state": {"running": {"startedAt": now}}}],
        });
        ctl.update_status("", "pods", &pod, updated);
    }
}

fn store_with_namespace() -> Store {
    let store = Store::new(100_000);
    let ns = store
        .lock()
        .registry
        .get("", "v1", "namespaces")
        .expect("namespaces");
    ops::create(
        &store,
        &ns,
        "v1",
        "",
        json!({"metadata": {"name": "default"}}),
        &Ctx::default(),
    )
    .expect("namespace");
    store
}

fn deployment(replicas: i64, surge: &Value, unavailable: &Value, image: &str) -> Value {
    json!({
        "metadata": {"name": "web"},
        "spec": {
            "replicas": replicas,
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable}},
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "app", "image": image}]}}
        }
    })
}

fn resolve(v: &Value, total: i64, up: bool) -> i64 {
    controller::int_or_percent(Some(v), total, up)
}

struct Observed {
    live: i64,
    available: i64,
    new_available: i64,
    complete: bool,
}

fn observe(store: &Store, image: &str, replicas: i64) -> Observed {
    let state = store.lock();
    let pods: Vec<&Value> = state
        .list("", "pods", Some("default"))
        .map(|(_, v)| v)
        .filter(|p| p.pointer("/metadata/deletionTimestamp").is_none())
        .collect();
    let ready = |p: &&&Value| {
        p.pointer("/status/conditions")
            .and_then(Value::as_array)
            .is_some_and(|c| {
                c.iter()
                    .any(|c| c["type"] == "Ready" && c["status"] == "True")
            })
    };
    let new_available = pods
        .iter()
        .filter(ready)
        .filter(|p| p["spec"]["containers"][0]["image"] == image)
        .count();
    let d = state
        .list("apps", "deployments", Some("default"))
        .map(|(_, v)| v.clone())
        .next()
        .expect("deployment");
    let get = |k: &str| {
        d.pointer(&format!("/status/{k}"))
            .and_then(Value::as_i64)
            .unwrap_or(0)
    };
    let complete = get("updatedReplicas") == replicas
        && get("replicas") == replicas
        && get("availableReplicas") == replicas
        && d["status"]["observedGeneration"] == d["metadata"]["generation"]
        && i64::try_from(pods.len()).unwrap_or(0) == replicas;
    Observed {
        live: i64::try_from(pods.len()).unwrap_or(0),
        available: i64::try_from(pods.iter().filter(ready).count()).unwrap_or(0),
        new_available: i64::try_from(new_available).unwrap_or(0),
        complete,
    }
}

fn int_or_percent() -> impl Strategy<Value = Value> {
    prop_oneof![
        (0i64..4).prop_map(|n| json!(n)),
        (0i64..=100).prop_map(|p| json!(format!("{p}%")))
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, .. ProptestConfig::default() })]
    #[test]
    fn rolling_updates_respect_surge_and_availability(
        replicas in 1i64..9,
        surge in int_or_percent(),
        unavailable in int_or_percent(),
        seed in any::<u64>(),
        ready_percent in 20u64..100,
    ) {
        let store = store_with_namespace();
        let kubelet = CoinKubelet { state: Mutex::new(seed), ready_percent };
        let behaviour = Behaviour::default();
        let t = store.lock().registry.get("apps", "v1", "deployments").expect("deployments");
        ops::create(&store, &t, "v1", "default", deployment(replicas, &surge, &unavailable, "img:1"), &Ctx::default()).expect("created");
        let mut passes = 0;
        while !observe(&store, "img:1", replicas).complete {
            controller::reconcile(&store, &behaviour, &kubelet);
            passes += 1;
            prop_assert!(passes < 2_000, "the first rollout did not converge");
        }
        let mut max_surge = resolve(&surge, replicas, true);
        let mut max_unavailable = resolve(&unavailable, replicas, false).min(replicas);
        if max_surge == 0 && max_unavailable == 0 {
            max_unavailable = 1;
        }
        max_surge = max_surge.max(0);
        // The new version.
        let current = store.lock().get(&Key::new(&t, "default", "web")).cloned().expect("stored");
        let mut next = current.clone();
        next["spec"]["template"]["spec"]["containers"][0]["image"] = json!("img:2");
        ops::update(&store, &t, "v1", "default", "web", next, Sub::Main, &Ctx::default()).expect("updated");
        let mut passes = 0;
        loop {
            controller::reconcile(&store, &behaviour, &kubelet);
            let o = observe(&store, "img:2", replicas);
            prop_assert!(o.live <= replicas + max_surge, "{} pods > {replicas} + {max_surge}", o.live);
            prop_assert!(o.available >= replicas - max_unavailable, "{} available < {replicas} - {max_unavailable}", o.available);
            if o.complete && o.new_available == replicas {
                break;
            }
            passes += 1;
            prop_assert!(passes < 2_000, "the rolling update did not converge");
        }
    }
}
