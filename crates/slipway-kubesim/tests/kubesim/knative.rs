//! Knative Serving on kubesim: `serving.knative.dev/v1` served without a CRD, kubectl applying a
//! Service, a Revision per template change with its Deployment and pods, `status.traffic` and the
//! conditions Knative sets, the webhook's refusals, and (with the process runtime) a canary split through
//! the NodePort, promoted and rolled back.

use std::collections::BTreeMap;
use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use serde_json::{Value, json};
use slipway_kubesim::Options;
use slipway_kubesim::runtime::process::ProcessOptions;

use crate::kubectl::Kubectl;

fn simulated() -> Option<Kubectl> {
    Kubectl::start(
        Options::default()
            .ready_after(Duration::from_millis(20))
            .pull_error("*:missing"),
    )
}

fn ksvc(name: &str, image: &str, traffic: &str) -> String {
    format!(
        "apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: {name}
spec:
  template:
    spec:
      containers:
      - image: {image}
        ports:
        - containerPort: 8080
{traffic}"
    )
}

fn get_ksvc(k: &Kubectl, name: &str) -> Value {
    k.json(&["get", "ksvc", name])
}

fn condition<'a>(object: &'a Value, type_: &str) -> Option<&'a Value> {
    object["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == type_)
}

fn is(object: &Value, type_: &str, status: &str) -> bool {
    condition(object, type_).is_some_and(|c| c["status"] == status)
}

fn ready_at(k: &Kubectl, name: &str, revision: &str) -> Value {
    k.eventually(
        Duration::from_secs(60),
        "the Knative Service to be Ready",
        |k| {
            let s = get_ksvc(k, name);
            is(&s, "Ready", "True") && s["status"]["latestReadyRevisionName"] == revision
        },
    );
    get_ksvc(k, name)
}

#[test]
fn kubectl_applies_a_service_and_each_template_change_is_a_revision() {
    let Some(k) = simulated() else {
        return;
    };
    // Discovery: kubectl knows the kinds and their short names without a CRD.
    let resources = k.ok(&["api-resources", "--api-group=serving.knative.dev"]);
    for line in ["ksvc", "rev", "cfg", "rt"] {
        assert!(resources.contains(line), "{resources}");
    }
    k.apply(&ksvc("hello", "img:1", ""), &[]);
    let s = ready_at(&k, "hello", "hello-00001");
    assert_eq!(s["status"]["latestCreatedRevisionName"], "hello-00001");
    assert_eq!(
        s["status"]["traffic"],
        json!([{"revisionName": "hello-00001", "latestRevision": true, "percent": 100}])
    );
    assert_eq!(s["status"]["url"], "http://hello.default.svc.cluster.local");
    assert_eq!(
        s["status"]["address"]["url"],
        "http://hello.default.svc.cluster.local"
    );
    for c in ["ConfigurationsReady", "RoutesReady", "Ready"] {
        assert!(is(&s, c, "True"), "{c}: {s}");
    }
    // The webhook's defaults are what a cluster shows.
    assert_eq!(
        s["spec"]["template"]["spec"]["containers"][0]["name"],
        "user-container"
    );
    assert_eq!(
        s["spec"]["traffic"],
        json!([{"latestRevision": true, "percent": 100}])
    );
    let cfg = k.json(&["get", "configuration", "hello"]);
    assert_eq!(cfg["metadata"]["ownerReferences"][0]["kind"], "Service");
    let route = k.json(&["get", "route", "hello"]);
    assert_eq!(
        route["spec"]["traffic"][0]["configurationName"], "hello",
        "{route}"
    );
    // The revision runs through REVISION-deployment, its pods labelled as Knative labels them.
    let pods = k.json(&[
        "get",
        "pods",
        "-l",
        "serving.knative.dev/revision=hello-00001",
    ]);
    let pod = &pods["items"][0];
    assert_eq!(
        pod["metadata"]["labels"]["serving.knative.dev/service"],
        "hello"
    );
    assert_eq!(
        pod["metadata"]["labels"]["serving.knative.dev/configuration"],
        "hello"
    );
    let d = k.json(&["get", "deployment", "hello-00001-deployment"]);
    assert_eq!(d["metadata"]["ownerReferences"][0]["kind"], "Revision");
    // The NodePort Service the proxy serves it on.
    let svc = k.json(&["get", "service", "hello"]);
    assert_eq!(svc["spec"]["type"], "NodePort");
    assert_eq!(
        svc["spec"]["selector"],
        json!({"serving.knative.dev/service": "hello"})
    );

    // A metadata-only change makes no revision; a template change does.
    k.ok(&["label", "ksvc", "hello", "team=a"]);
    k.apply(&ksvc("hello", "img:2", ""), &[]);
    let s = ready_at(&k, "hello", "hello-00002");
    assert_eq!(
        s["status"]["traffic"][0]["revisionName"], "hello-00002",
        "{s}"
    );
    let revisions = k.json(&[
        "get",
        "revisions",
        "-l",
        "serving.knative.dev/service=hello",
    ]);
    let names: Vec<&str> = revisions["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|r| r["metadata"]["name"].as_str())
        .collect();
    assert_eq!(names, ["hello-00001", "hello-00002"]);
    // A named template is the revision's name.
    let green = ksvc("hello", "img:3", "").replace(
        "  template:\n    spec:",
        "  template:\n    metadata:\n      name: hello-green\n    spec:",
    );
    k.apply(&green, &[]);
    ready_at(&k, "hello", "hello-green");
    // kubectl get prints the Knative columns.
    let table = k.ok(&["get", "ksvc", "hello"]);
    assert!(table.contains("LATESTREADY"), "{table}");
    assert!(table.contains("hello-green"), "{table}");
    // Deleting the Service takes everything it made.
    k.ok(&["delete", "ksvc", "hello"]);
    k.eventually(Duration::from_secs(30), "the revisions to go", |k| {
        k.json(&["get", "revisions"])["items"]
            .as_array()
            .is_some_and(Vec::is_empty)
            && k.json(&["get", "deployments"])["items"]
                .as_array()
                .is_some_and(Vec::is_empty)
    });
}

#[test]
fn traffic_splits_resolve_and_missing_revisions_are_reported_as_knative_does() {
    let Some(k) = simulated() else {
        return;
    };
    k.apply(&ksvc("fn", "img:1", ""), &[]);
    ready_at(&k, "fn", "fn-00001");
    let split = "  traffic:
  - {revisionName: fn-00001, percent: 80, tag: current}
  - {latestRevision: true, percent: 20, tag: candidate}
";
    k.apply(&ksvc("fn", "img:2", split), &[]);
    let s = ready_at(&k, "fn", "fn-00002");
    k.eventually(Duration::from_secs(30), "the split", |k| {
        get_ksvc(k, "fn")["status"]["traffic"][1]["revisionName"] == "fn-00002"
    });
    let s = if s["status"]["traffic"][1]["revisionName"] == "fn-00002" {
        s
    } else {
        get_ksvc(&k, "fn")
    };
    assert_eq!(
        s["status"]["traffic"],
        json!([
            {"revisionName": "fn-00001", "latestRevision": false, "percent": 80, "tag": "current",
             "url": "http://current-fn.default.svc.cluster.local"},
            {"revisionName": "fn-00002", "latestRevision": true, "percent": 20, "tag": "candidate",
             "url": "http://candidate-fn.default.svc.cluster.local"},
        ])
    );

    // The webhook refuses percents that do not sum to 100, as Knative's does.
    let bad = ksvc(
        "fn",
        "img:2",
        "  traffic:\n  - {revisionName: fn-00001, percent: 70}\n  - {latestRevision: true, percent: 20}\n",
    );
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("bad.yaml");
    std::fs::write(&file, bad).expect("write");
    let err = k.fails(&["apply", "-f", file.to_str().expect("utf-8")]);
    assert!(
        err.contains("admission webhook \"validation.webhook.serving.knative.dev\" denied the request: validation failed: Traffic targets sum to 90, want 100: spec.traffic"),
        "{err}"
    );
    // An unknown revision is accepted and reported by the route, the previous traffic kept.
    let missing = "  traffic:\n  - {revisionName: fn-00009, percent: 100}\n";
    k.apply(&ksvc("fn", "img:2", missing), &[]);
    k.eventually(Duration::from_secs(30), "RoutesReady to fail", |k| {
        is(&get_ksvc(k, "fn"), "RoutesReady", "False")
    });
    let s = get_ksvc(&k, "fn");
    let routes = condition(&s, "RoutesReady").expect("RoutesReady");
    assert_eq!(routes["reason"], "RevisionMissing");
    assert_eq!(
        routes["message"],
        "Revision \"fn-00009\" referenced in traffic not found."
    );
    assert!(is(&s, "Ready", "False"), "{s}");
    assert_eq!(s["status"]["traffic"][0]["revisionName"], "fn-00001");
}

#[test]
fn a_revision_whose_image_cannot_be_pulled_fails_and_traffic_stays() {
    let Some(k) = simulated() else {
        return;
    };
    k.apply(&ksvc("web", "img:1", ""), &[]);
    ready_at(&k, "web", "web-00001");
    k.apply(&ksvc("web", "img:missing", ""), &[]);
    k.eventually(Duration::from_secs(30), "the revision to fail", |k| {
        is(&get_ksvc(k, "web"), "ConfigurationsReady", "False")
    });
    let s = get_ksvc(&k, "web");
    let c = condition(&s, "ConfigurationsReady").expect("condition");
    assert_eq!(c["reason"], "RevisionFailed", "{s}");
    assert_eq!(s["status"]["latestCreatedRevisionName"], "web-00002");
    assert_eq!(s["status"]["latestReadyRevisionName"], "web-00001");
    assert_eq!(s["status"]["traffic"][0]["revisionName"], "web-00001");
    let rev = k.json(&["get", "revision", "web-00002"]);
    let ready = condition(&rev, "Ready").expect("Ready");
    assert_eq!(ready["status"], "False");
    assert!(
        matches!(
            ready["reason"].as_str(),
            Some("ErrImagePull" | "ImagePullBackOff")
        ),
        "{rev}"
    );
}

/// `GET path` through `127.0.0.1:port`, one connection per request.
fn try_get(port: u16, path: &str) -> std::io::Result<String> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: hello.default\r\nConnection: close\r\n\r\n"
    )?;
    let mut answer = String::new();
    s.take(64 << 10).read_to_string(&mut answer)?;
    Ok(answer)
}

fn get(port: u16, path: &str) -> String {
    try_get(port, path).expect("the NodePort answers")
}

/// How many of `n` answers to `/version` came from v1 and v2.
fn versions(port: u16, n: usize) -> BTreeMap<&'static str, usize> {
    let mut seen = BTreeMap::new();
    for _ in 0..n {
        let answer = get(port, "/version");
        let which = if answer.contains("v2.0.0") {
            "v2"
        } else if answer.contains("v1.0.0") {
            "v1"
        } else {
            "other"
        };
        *seen.entry(which).or_default() += 1;
    }
    seen
}

fn counts(pairs: &[(&'static str, usize)]) -> BTreeMap<&'static str, usize> {
    pairs.iter().copied().collect()
}

#[test]
fn a_canary_at_20_percent_splits_real_requests_then_promotes_and_rolls_back() {
    let Some(images) = crate::runtime::images() else {
        return;
    };
    let Some(k) = Kubectl::start(
        Options::default()
            .ready_after(Duration::from_millis(100))
            .process_runtime(ProcessOptions::default()),
    ) else {
        return;
    };
    let probe = "        readinessProbe:\n          httpGet: {path: /healthz}\n          periodSeconds: 1\n";
    let with_probe = |image: &str, traffic: &str| {
        ksvc("hello", image, traffic).replace(
            "        - containerPort: 8080\n",
            &format!("        - containerPort: 8080\n{probe}"),
        )
    };
    k.apply(&with_probe(&images.registry, ""), &[]);
    ready_at(&k, "hello", "hello-00001");
    let svc = k.json(&["get", "service", "hello"]);
    let port = u16::try_from(
        svc["spec"]["ports"][0]["nodePort"]
            .as_u64()
            .expect("nodePort"),
    )
    .expect("port");
    k.eventually(Duration::from_secs(30), "the proxy to answer", |_| {
        try_get(port, "/version").is_ok_and(|a| a.contains("v1.0.0"))
    });
    assert_eq!(versions(port, 20), counts(&[("v1", 20)]));

    // The canary: the new template at 20%, the previous revision at 80%.
    let canary = "  traffic:
  - {revisionName: hello-00001, percent: 80, tag: current}
  - {latestRevision: true, percent: 20, tag: candidate}
";
    k.apply(&with_probe(&images.registry_v2, canary), &[]);
    k.eventually(Duration::from_secs(90), "the canary split", |k| {
        let s = get_ksvc(k, "hello");
        is(&s, "Ready", "True") && s["status"]["traffic"][1]["revisionName"] == "hello-00002"
    });
    // Smooth weighted round robin: exactly 20 of every 100.
    assert_eq!(versions(port, 100), counts(&[("v1", 80), ("v2", 20)]));

    // Promotion: all traffic to the latest revision.
    let promoted = "  traffic:\n  - {latestRevision: true, percent: 100}\n";
    k.apply(&with_probe(&images.registry_v2, promoted), &[]);
    k.eventually(Duration::from_secs(30), "the promotion", |k| {
        get_ksvc(k, "hello")["status"]["traffic"]
            == json!([{"revisionName": "hello-00002", "latestRevision": true, "percent": 100}])
    });
    assert_eq!(versions(port, 50), counts(&[("v2", 50)]));

    // Rollback: all traffic to the previous revision, the template left as it is (no new revision).
    let rolled = "  traffic:\n  - {revisionName: hello-00001, percent: 100}\n";
    k.apply(&with_probe(&images.registry_v2, rolled), &[]);
    k.eventually(Duration::from_secs(30), "the rollback", |k| {
        get_ksvc(k, "hello")["status"]["traffic"]
            == json!([{"revisionName": "hello-00001", "latestRevision": false, "percent": 100}])
    });
    assert_eq!(versions(port, 50), counts(&[("v1", 50)]));
    assert_eq!(
        get_ksvc(&k, "hello")["status"]["latestCreatedRevisionName"],
        "hello-00002"
    );
}
