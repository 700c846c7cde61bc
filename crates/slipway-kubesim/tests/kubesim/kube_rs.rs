//! kube-rs against a `Sim`: typed APIs, conflicts, watchers, status patches, dynamic objects.

use std::time::Duration;

use futures_util::StreamExt as _;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use kube::runtime::wait::{await_condition, conditions};
use kube::runtime::{WatchStreamExt as _, watcher};
use serde_json::json;
use slipway_kubesim::{Options, Sim};

fn sim() -> Sim {
    Sim::start(Options::default().ready_after(Duration::from_millis(50))).expect("simulator starts")
}

fn deployment(name: &str, image: &str, replicas: i32) -> Deployment {
    serde_json::from_value(json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": image}]}
            }
        }
    }))
    .expect("a Deployment")
}

#[tokio::test]
async fn typed_crud_and_optimistic_concurrency() {
    let sim = sim();
    let client = sim.client().expect("client");
    let version = client.apiserver_version().await.expect("version");
    assert!(version.git_version.ends_with("-kubesim"));
    let api: Api<Deployment> = Api::default_namespaced(client.clone());
    let made = api
        .create(&PostParams::default(), &deployment("web", "img:1", 2))
        .await
        .expect("created");
    assert_eq!(made.metadata.generation, Some(1));
    let err = api
        .create(&PostParams::default(), &deployment("web", "img:1", 2))
        .await
        .expect_err("exists");
    match err {
        kube::Error::Api(s) => {
            assert_eq!(s.code, 409);
            assert_eq!(s.reason, "AlreadyExists");
            assert_eq!(s.message, "deployments.apps \"web\" already exists");
        }
        other => panic!("unexpected {other:?}"),
    }
    let mut stale = made.clone();
    // The controller writes the Deployment too (revision, status): retry on conflict as clients do.
    let mut attempts = 0;
    let replaced = loop {
        let mut fresh = api.get("web").await.expect("get");
        fresh.spec.as_mut().expect("spec").replicas = Some(3);
        match api.replace("web", &PostParams::default(), &fresh).await {
            Ok(d) => break d,
            Err(kube::Error::Api(s)) if s.code == 409 && attempts < 20 => attempts += 1,
            Err(e) => panic!("replace: {e:?}"),
        }
    };
    assert_eq!(replaced.metadata.generation, Some(2));
    stale.metadata.resource_version = made.metadata.resource_version.clone();
    stale.spec.as_mut().expect("spec").replicas = Some(5);
    match api
        .replace("web", &PostParams::default(), &stale)
        .await
        .expect_err("stale")
    {
        kube::Error::Api(s) => {
            assert_eq!(s.code, 409);
            assert_eq!(s.reason, "Conflict");
            assert!(s.message.starts_with("Operation cannot be fulfilled on deployments.apps \"web\": the object has been modified"));
        }
        other => panic!("unexpected {other:?}"),
    }
    match api.get("nope").await.expect_err("missing") {
        kube::Error::Api(s) => assert_eq!(
            (s.code, s.message.as_str()),
            (404, "deployments.apps \"nope\" not found")
        ),
        other => panic!("unexpected {other:?}"),
    }
    let list = api
        .list(&ListParams::default().labels("app=web"))
        .await
        .expect("list");
    assert_eq!(
        list.items.len(),
        0,
        "label selector applies to the Deployment's own labels"
    );
    let all = api.list(&ListParams::default()).await.expect("list");
    assert_eq!(all.items.len(), 1);
}

#[tokio::test]
async fn rollouts_complete_under_a_watcher() {
    let sim = sim();
    let client = sim.client().expect("client");
    let api: Api<Deployment> = Api::default_namespaced(client.clone());
    api.create(&PostParams::default(), &deployment("web", "img:1", 3))
        .await
        .expect("created");
    let done = await_condition(api.clone(), "web", conditions::is_deployment_completed());
    tokio::time::timeout(Duration::from_secs(20), done)
        .await
        .expect("completes in time")
        .expect("watch works");
    let d = api.get("web").await.expect("get");
    let status = d.status.expect("status");
    assert_eq!(status.available_replicas, Some(3));
    assert_eq!(status.observed_generation, Some(1));
    let pods: Api<Pod> = Api::default_namespaced(client.clone());
    let listed = pods
        .list(&ListParams::default().labels("app=web"))
        .await
        .expect("pods");
    assert_eq!(listed.items.len(), 3);
    // A watcher over pods sees the new version's pods arrive during an image change.
    let mut stream = watcher(pods.clone(), watcher::Config::default().labels("app=web"))
        .applied_objects()
        .boxed();
    api.patch("web", &PatchParams::default(), &Patch::Merge(json!({"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "img:2"}]}}}})))
        .await
        .expect("merge patch");
    let saw_new = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(pod) = stream.next().await {
            let pod = pod.expect("event");
            let image = pod
                .spec
                .as_ref()
                .and_then(|s| s.containers.first())
                .map(|c| c.image.clone().unwrap_or_default());
            if image.as_deref() == Some("img:2") {
                return true;
            }
        }
        false
    })
    .await
    .expect("in time");
    assert!(saw_new);
    let done = await_condition(api.clone(), "web", |d: Option<&Deployment>| {
        d.and_then(|d| d.status.as_ref()).is_some_and(|s| {
            s.updated_replicas == Some(3)
                && s.available_replicas == Some(3)
                && s.replicas == Some(3)
        })
    });
    tokio::time::timeout(Duration::from_secs(20), done)
        .await
        .expect("in time")
        .expect("watch");
}

#[tokio::test]
async fn custom_resources_and_status_patches() {
    let sim = sim();
    let client = sim.client().expect("client");
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let crd: CustomResourceDefinition = serde_json::from_value(json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "rollouts.example.com"},
        "spec": {"group": "example.com", "scope": "Namespaced",
            "names": {"plural": "rollouts", "singular": "rollout", "kind": "Rollout"},
            "versions": [{"name": "v1", "served": true, "storage": true,
                "subresources": {"status": {}},
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]}
    }))
    .expect("crd");
    crds.create(&PostParams::default(), &crd)
        .await
        .expect("crd created");
    let established = await_condition(
        crds.clone(),
        "rollouts.example.com",
        conditions::is_crd_established(),
    );
    tokio::time::timeout(Duration::from_secs(5), established)
        .await
        .expect("in time")
        .expect("watch");
    let gvk = GroupVersionKind::gvk("example.com", "v1", "Rollout");
    let ar = ApiResource::from_gvk(&gvk);
    let api: Api<DynamicObject> = Api::default_namespaced_with(client.clone(), &ar);
    let obj: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "example.com/v1", "kind": "Rollout", "metadata": {"name": "r"},
        "spec": {"steps": [{"setWeight": 20}]}, "status": {"phase": "ignored on create"}
    }))
    .expect("object");
    let made = api
        .create(&PostParams::default(), &obj)
        .await
        .expect("created");
    assert!(
        made.data.get("status").is_none(),
        "status is dropped on create when it is a subresource"
    );
    let patched = api
        .patch_status(
            "r",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"phase": "Progressing"}})),
        )
        .await
        .expect("status patch");
    assert_eq!(patched.data["status"]["phase"], "Progressing");
    assert_eq!(
        patched.metadata.generation,
        Some(1),
        "status writes do not bump the generation"
    );
    let spec = api
        .patch(
            "r",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"steps": []}, "status": {"phase": "no"}})),
        )
        .await
        .expect("spec patch");
    assert_eq!(spec.metadata.generation, Some(2));
    assert_eq!(
        spec.data["status"]["phase"], "Progressing",
        "main resource writes keep the status"
    );
    match api
        .patch(
            "r",
            &PatchParams::default(),
            &Patch::Strategic(json!({"spec": {}})),
        )
        .await
        .expect_err("no SMP for CRs")
    {
        kube::Error::Api(s) => assert_eq!(s.code, 415),
        other => panic!("unexpected {other:?}"),
    }
    api.delete("r", &DeleteParams::default())
        .await
        .expect("deleted");
}

#[tokio::test]
async fn watches_resume_and_expire() {
    let sim = sim();
    let client = sim.client().expect("client");
    let api: Api<ConfigMap> = Api::default_namespaced(client.clone());
    let cm = |name: &str| -> ConfigMap {
        serde_json::from_value(json!({"metadata": {"name": name}, "data": {"k": "v"}})).expect("cm")
    };
    let first = api
        .create(&PostParams::default(), &cm("a"))
        .await
        .expect("a");
    let rv = first.metadata.resource_version.clone().expect("rv");
    api.create(&PostParams::default(), &cm("b"))
        .await
        .expect("b");
    let wp = kube::api::WatchParams::default().timeout(2);
    let mut events = api.watch(&wp, &rv).await.expect("watch").boxed();
    let next = tokio::time::timeout(Duration::from_secs(5), events.next())
        .await
        .expect("in time")
        .expect("an event")
        .expect("ok");
    match next {
        kube::api::WatchEvent::Added(o) => assert_eq!(o.metadata.name.as_deref(), Some("b")),
        other => panic!("expected b added, got {other:?}"),
    }
    sim.compact();
    let mut events = api.watch(&wp, &rv).await.expect("watch").boxed();
    let next = tokio::time::timeout(Duration::from_secs(5), events.next())
        .await
        .expect("in time")
        .expect("an event")
        .expect("ok");
    match next {
        kube::api::WatchEvent::Error(e) => {
            assert_eq!((e.code, e.reason.as_str()), (410, "Expired"));
        }
        other => panic!("expected 410, got {other:?}"),
    }
}
