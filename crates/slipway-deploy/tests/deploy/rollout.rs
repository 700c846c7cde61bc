//! Rollouts on slipway-kubesim over HTTP through the kube client: the scenarios of issue 13.

use std::time::Duration;

use serde_json::{Value, json};
use slipway_deploy::analysis::provider;
use slipway_deploy::cluster::kube::Kube;
use slipway_deploy::cluster::{Cluster, DEPLOYMENT, SERVICE, VIRTUAL_SERVICE};
use slipway_deploy::rollout::{Outcome, Request, Rollout};
use slipway_deploy::spec::{RolloutSpec, StrategyKind, TrafficRouting};
use slipway_deploy::state::{Phase, RolloutState};
use slipway_kubesim::{Options, Sim};

struct Env {
    sim: Sim,
    _dir: tempfile::TempDir,
    kube: Kube,
}

fn env(options: Options) -> Env {
    let sim = Sim::start(options).expect("kubesim starts");
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("config");
    sim.write_kubeconfig(&config).expect("kubeconfig");
    let kube = Kube::from_kubeconfig(&config, "default").expect("client");
    Env {
        sim,
        _dir: dir,
        kube,
    }
}

fn spec(kind: StrategyKind, steps: Option<&str>) -> RolloutSpec {
    RolloutSpec::from_flags(kind, steps, TrafficRouting::None).expect("spec")
}

fn request(image: &str, spec: RolloutSpec, replicas: u32) -> Request {
    let mut r = Request::new(image, spec);
    r.replicas = Some(replicas);
    r.port = Some(8080);
    r
}

fn driver<'a>(kube: &'a Kube, log: &'a std::cell::RefCell<Vec<String>>) -> Rollout<'a, &'a Kube> {
    Rollout::new(kube, "web")
        .poll(Duration::from_millis(200))
        .timeout(Duration::from_secs(60))
        .on_progress(move |s: &RolloutState| {
            log.borrow_mut()
                .push(format!("{} {} {}", s.phase, s.reason, s.message));
        })
}

fn deployment(kube: &Kube, name: &str) -> Value {
    kube.get(&DEPLOYMENT, name)
        .expect("get")
        .unwrap_or_else(|| panic!("Deployment {name} exists"))
}

fn image(d: &Value) -> &str {
    d.pointer("/spec/template/spec/containers/0/image")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

fn replicas(d: &Value) -> i64 {
    d.pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(1)
}

/// The Deployment's progress deadline, shortened so that a version that never becomes ready is given up
/// on quickly.
fn give_up_after_2s(kube: &Kube) {
    kube.patch(
        &DEPLOYMENT,
        "web",
        &json!({"spec": {"progressDeadlineSeconds": 2}}),
    )
    .expect("deadline");
}

fn first(kube: &Kube, replicas: u32) -> Outcome {
    let log = std::cell::RefCell::new(Vec::new());
    let out = driver(kube, &log)
        .apply(&request(
            "web:1",
            spec(StrategyKind::Rolling, None),
            replicas,
        ))
        .expect("first rollout");
    assert_eq!(out.phase, Phase::Healthy, "{:?}", log.borrow());
    out
}

#[test]
fn rolling_update_completes() {
    let e = env(Options::default());
    first(&e.kube, 3);
    let log = std::cell::RefCell::new(Vec::new());
    let out = driver(&e.kube, &log)
        .apply(&request("web:2", spec(StrategyKind::Rolling, None), 3))
        .expect("rollout");
    assert_eq!(out.phase, Phase::Healthy, "{:?}", log.borrow());
    let d = deployment(&e.kube, "web");
    assert_eq!(image(&d), "web:2");
    assert_eq!(d["status"]["updatedReplicas"], 3);
}

#[test]
fn rolling_onto_an_image_that_never_becomes_ready_is_undone() {
    let e = env(Options::default().never_ready("*:broken"));
    first(&e.kube, 2);
    give_up_after_2s(&e.kube);
    let log = std::cell::RefCell::new(Vec::new());
    let out = driver(&e.kube, &log)
        .apply(&request("web:broken", spec(StrategyKind::Rolling, None), 2))
        .expect("rollout");
    assert_eq!(out.phase, Phase::Degraded, "{:?}", log.borrow());
    assert_eq!(out.state.reason, "ProgressDeadlineExceeded");
    let d = deployment(&e.kube, "web");
    assert_eq!(image(&d), "web:1", "undone to the previous revision");
    assert_eq!(d["status"]["availableReplicas"], 2);
}

#[test]
fn basic_canary_passes_and_promotes() {
    let e = env(Options::default());
    first(&e.kube, 4);
    let log = std::cell::RefCell::new(Vec::new());
    let out = driver(&e.kube, &log)
        .apply(&request(
            "web:2",
            spec(
                StrategyKind::Canary,
                Some("setWeight=25,pause=1s,setWeight=50"),
            ),
            4,
        ))
        .expect("rollout");
    assert_eq!(out.phase, Phase::Healthy, "{:?}", log.borrow());
    let stable = deployment(&e.kube, "web");
    assert_eq!(image(&stable), "web:2");
    assert_eq!(replicas(&stable), 4);
    let canary = deployment(&e.kube, "web-canary");
    assert_eq!(replicas(&canary), 0, "the canary is scaled to zero");
    assert_eq!(
        canary["metadata"]["labels"]["app.kubernetes.io/managed-by"],
        "slipway"
    );
    let log = log.borrow();
    assert!(
        log.iter().any(|l| l.contains("step 1/3")),
        "progress shows the steps: {log:?}"
    );
}

#[test]
fn canary_pauses_until_promoted_and_aborts() {
    let e = env(Options::default());
    first(&e.kube, 4);
    let log = std::cell::RefCell::new(Vec::new());
    let out = driver(&e.kube, &log)
        .apply(&request(
            "web:2",
            spec(StrategyKind::Canary, Some("setWeight=50,pause")),
            4,
        ))
        .expect("rollout");
    assert_eq!(out.phase, Phase::Paused, "{:?}", log.borrow());
    assert_eq!(replicas(&deployment(&e.kube, "web-canary")), 2);
    assert_eq!(replicas(&deployment(&e.kube, "web")), 2);
    // Applying the same image again picks the same rollout up: still paused, one canary.
    let out = driver(&e.kube, &log)
        .apply(&request(
            "web:2",
            spec(StrategyKind::Canary, Some("setWeight=50,pause")),
            4,
        ))
        .expect("again");
    assert_eq!(out.phase, Phase::Paused);
    let out = driver(&e.kube, &log).abort().expect("abort");
    assert_eq!(out.phase, Phase::Degraded, "{:?}", log.borrow());
    assert_eq!(out.state.reason, "Aborted");
    let stable = deployment(&e.kube, "web");
    assert_eq!(image(&stable), "web:1");
    assert_eq!(replicas(&stable), 4);
    assert_eq!(stable["status"]["availableReplicas"], 4);
    assert_eq!(replicas(&deployment(&e.kube, "web-canary")), 0);
}

#[test]
fn paused_canary_promoted_from_another_run_finishes() {
    let e = env(Options::default());
    first(&e.kube, 2);
    let log = std::cell::RefCell::new(Vec::new());
    let out = driver(&e.kube, &log)
        .apply(&request(
            "web:2",
            spec(
                StrategyKind::Canary,
                Some("setWeight=50,pause,setWeight=100"),
            ),
            2,
        ))
        .expect("rollout");
    assert_eq!(out.phase, Phase::Paused);
    // A new driver (another process): the spec and state come from the cluster.
    let out = driver(&e.kube, &log).promote().expect("promote");
    assert_eq!(out.phase, Phase::Healthy, "{:?}", log.borrow());
    assert_eq!(image(&deployment(&e.kube, "web")), "web:2");
    assert_eq!(replicas(&deployment(&e.kube, "web-canary")), 0);
}

fn analysis_template(name: &str) -> String {
    format!(
        "apiVersion: argoproj.io/v1alpha1\nkind: AnalysisTemplate\nmetadata:\n  name: {name}\nspec:\n  metrics:\n  - name: errors\n    count: 2\n    interval: 1s\n    successCondition: result[0] < 0.05\n    provider:\n      prometheus:\n        address: http://prometheus\n        query: error_ratio\n"
    )
}

#[test]
fn canary_whose_analysis_fails_returns_everything_to_stable() {
    let e = env(Options::default());
    first(&e.kube, 4);
    let log = std::cell::RefCell::new(Vec::new());
    let mut req = request(
        "web:2",
        spec(
            StrategyKind::Canary,
            Some("setWeight=25,analysis=errors,setWeight=75"),
        ),
        4,
    );
    req.templates = vec![analysis_template("errors")];
    let bad = serde_json::json!([0.5]);
    let bad = slipway_deploy::analysis::expr::Value::from(bad);
    let out = driver(&e.kube, &log)
        .provider(&bad)
        .apply(&req)
        .expect("rollout");
    assert_eq!(out.phase, Phase::Degraded, "{:?}", log.borrow());
    assert_eq!(out.state.reason, "AnalysisFailed");
    assert_eq!(image(&deployment(&e.kube, "web")), "web:1");
    assert_eq!(replicas(&deployment(&e.kube, "web")), 4);
    assert_eq!(replicas(&deployment(&e.kube, "web-canary")), 0);
}

#[test]
fn analysis_without_data_is_inconclusive_and_promote_carries_on() {
    let e = env(Options::default());
    first(&e.kube, 2);
    let log = std::cell::RefCell::new(Vec::new());
    let mut req = request(
        "web:2",
        spec(StrategyKind::Canary, Some("setWeight=50,analysis=errors")),
        2,
    );
    req.templates = vec![analysis_template("errors")];
    let empty = provider::from_fn(|_, _| Ok(serde_json::json!([]).into()));
    let out = driver(&e.kube, &log)
        .provider(&empty)
        .apply(&req)
        .expect("rollout");
    assert_eq!(out.phase, Phase::Inconclusive, "{:?}", log.borrow());
    assert!(
        out.state.message.contains("no data"),
        "{}",
        out.state.message
    );
    let out = driver(&e.kube, &log).promote().expect("promote");
    assert_eq!(out.phase, Phase::Healthy, "{:?}", log.borrow());
    assert_eq!(image(&deployment(&e.kube, "web")), "web:2");
}

#[test]
fn blue_green_promotes_and_aborts() {
    let e = env(Options::default());
    first(&e.kube, 2);
    let mut bg = RolloutSpec::from_argo(
        "blueGreen:\n  autoPromotionEnabled: false\n  scaleDownDelaySeconds: 0\n",
    )
    .expect("spec");
    let log = std::cell::RefCell::new(Vec::new());
    let out = driver(&e.kube, &log)
        .apply(&request("web:2", bg.clone(), 2))
        .expect("rollout");
    assert_eq!(out.phase, Phase::Paused, "{:?}", log.borrow());
    let active = e.kube.get(&SERVICE, "web").expect("get").expect("active");
    assert!(
        active["spec"]["selector"]
            .get("pod-template-hash")
            .is_some(),
        "active pinned to the stable pods: {active}"
    );
    let preview = e
        .kube
        .get(&SERVICE, "web-preview")
        .expect("get")
        .expect("preview");
    assert_eq!(preview["spec"]["selector"]["slipway.dev/role"], "canary");
    let out = driver(&e.kube, &log).promote().expect("promote");
    assert_eq!(out.phase, Phase::Healthy, "{:?}", log.borrow());
    assert_eq!(image(&deployment(&e.kube, "web")), "web:2");
    let active = e.kube.get(&SERVICE, "web").expect("get").expect("active");
    assert_eq!(
        active["spec"]["selector"],
        json!({"app.kubernetes.io/name": "web"})
    );

    // A second blue-green, aborted while paused: the active Service points at the stable pods again.
    bg = bg.clone();
    let out = driver(&e.kube, &log)
        .apply(&request("web:3", bg, 2))
        .expect("rollout");
    assert_eq!(out.phase, Phase::Paused);
    let out = driver(&e.kube, &log).abort().expect("abort");
    assert_eq!(out.phase, Phase::Degraded);
    assert_eq!(image(&deployment(&e.kube, "web")), "web:2");
    assert_eq!(replicas(&deployment(&e.kube, "web-canary")), 0);
    let active = e.kube.get(&SERVICE, "web").expect("get").expect("active");
    assert!(active["spec"]["selector"].get("slipway.dev/role").is_none());
    let _ = &e.sim;
}

#[test]
fn routed_canary_sets_virtual_service_weights() {
    let e = env(Options::default());
    define(&e, &VIRTUAL_SERVICE);
    first(&e.kube, 4);
    let spec = RolloutSpec::from_flags(
        StrategyKind::Canary,
        Some("setWeight=20,pause"),
        TrafficRouting::from_flag("istio").expect("router"),
    )
    .expect("spec");
    let log = std::cell::RefCell::new(Vec::new());
    let out = driver(&e.kube, &log)
        .apply(&request("web:2", spec, 4))
        .expect("rollout");
    assert_eq!(out.phase, Phase::Paused, "{:?}", log.borrow());
    let vs = e
        .kube
        .get(&VIRTUAL_SERVICE, "web")
        .expect("get")
        .expect("vs");
    assert_eq!(vs["spec"]["http"][0]["route"][0]["weight"], 80);
    assert_eq!(vs["spec"]["http"][0]["route"][1]["weight"], 20);
    assert_eq!(replicas(&deployment(&e.kube, "web-canary")), 1);
    assert_eq!(
        replicas(&deployment(&e.kube, "web")),
        4,
        "stable stays at N"
    );
    let out = driver(&e.kube, &log).promote().expect("promote");
    assert_eq!(out.phase, Phase::Healthy, "{:?}", log.borrow());
    let vs = e
        .kube
        .get(&VIRTUAL_SERVICE, "web")
        .expect("get")
        .expect("vs");
    assert_eq!(vs["spec"]["http"][0]["route"][0]["weight"], 100);
}

/// Serves `kind` as a custom resource (schemaless), as Istio's or the Gateway API's CRDs would.
fn define(e: &Env, kind: &slipway_deploy::cluster::Kind) {
    let singular = kind.kind.to_ascii_lowercase();
    let crd = json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": format!("{}.{}", kind.plural, kind.group())},
        "spec": {"group": kind.group(), "scope": "Namespaced",
            "names": {"plural": kind.plural, "kind": kind.kind, "singular": singular,
                "listKind": format!("{}List", kind.kind)},
            "versions": [{"name": kind.version(), "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]}});
    kubectl_apply(e, &crd);
}

/// `kubectl apply` of `object` on the simulator.
fn kubectl_apply(e: &Env, object: &Value) {
    let dir = tempfile::tempdir().expect("dir");
    let config = dir.path().join("config");
    e.sim.write_kubeconfig(&config).expect("kubeconfig");
    let file = dir.path().join("object.json");
    std::fs::write(&file, object.to_string()).expect("write");
    let out = std::process::Command::new("kubectl")
        .args(["apply", "-f"])
        .arg(&file)
        .env("KUBECONFIG", &config)
        .env("HOME", dir.path())
        .output()
        .expect("kubectl");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::thread::sleep(Duration::from_millis(100));
}

#[test]
fn a_run_killed_between_steps_is_finished_by_the_next() {
    let e = env(Options::default());
    first(&e.kube, 4);
    let steps = spec(
        StrategyKind::Canary,
        Some("setWeight=25,pause=1s,setWeight=50,pause=1s,setWeight=75"),
    );
    let log = std::cell::RefCell::new(Vec::new());
    // The first run is stopped early (as a CI job killed mid-rollout would be): it leaves the rollout
    // under way in the cluster.
    let err = driver(&e.kube, &log)
        .timeout(Duration::from_millis(1500))
        .apply(&request("web:2", steps.clone(), 4))
        .expect_err("stopped early");
    assert!(err.to_string().contains("did not come to rest"), "{err}");
    let mid: RolloutState = serde_json::from_str(
        deployment(&e.kube, "web")["metadata"]["annotations"]["slipway.dev/rollout"]
            .as_str()
            .expect("state recorded"),
    )
    .expect("state");
    assert_eq!(mid.phase, Phase::Progressing);
    assert!(mid.step < 5, "{mid:?}");
    // The second run picks the same rollout up: one canary Deployment, finished.
    let out = driver(&e.kube, &log)
        .apply(&request("web:2", steps, 4))
        .expect("resumed");
    assert_eq!(out.phase, Phase::Healthy, "{:?}", log.borrow());
    let deployments = e.kube.list(&DEPLOYMENT, "").expect("list");
    let names: Vec<&str> = deployments
        .iter()
        .filter_map(|d| d["metadata"]["name"].as_str())
        .collect();
    assert_eq!(names.len(), 2, "web and one web-canary: {names:?}");
    assert_eq!(image(&deployment(&e.kube, "web")), "web:2");
}

/// testdata/hello v1 and v2 built for this host into an OCI layout (`oci:PATH:v1`, `oci:PATH:v2`);
/// `None` (loudly) without Go.
fn hello_images() -> Option<(tempfile::TempDir, String, String)> {
    use slipway_oci::gobuild::{GoImageOptions, build_go_images};
    use slipway_oci::reference::Tag;
    use slipway_oci::store::{ManifestStore as _, OciLayout};

    let Some(go) = slipway_testkit::find_tool("go") else {
        assert!(std::env::var_os("CI").is_none(), "Go is required in CI");
        eprintln!(
            "SKIPPED: Go is not installed ({}); the process-runtime canary did not run",
            slipway_testkit::INSTALL_HINT
        );
        return None;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("layout");
    let layout = OciLayout::create(&path).expect("layout");
    for (tag, version) in [("v1", "v1.0.0"), ("v2", "v2.0.0")] {
        let options = GoImageOptions::new(vec![slipway_oci::Platform::host()])
            .go(go.clone())
            .ldflag_x("main.version", version)
            .go_env("GOTOOLCHAIN", "local")
            .go_env("GOPROXY", "off")
            .go_env("GOFLAGS", "-mod=mod");
        let built = build_go_images(
            &slipway_testkit::testdata("hello"),
            "./cmd/hello",
            &options,
            &layout,
        )
        .expect("go image builds");
        layout
            .put_manifest(built.top(), Some(&Tag::new(tag).expect("tag")))
            .expect("tag");
    }
    let at = |tag: &str| format!("oci:{}:{tag}", path.display());
    let (v1, v2) = (at("v1"), at("v2"));
    Some((dir, v1, v2))
}

fn get_version(port: u16) -> String {
    use std::io::{Read as _, Write as _};
    let mut stream =
        std::net::TcpStream::connect(("127.0.0.1", port)).expect("the NodePort accepts");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    stream
        .write_all(b"GET /version HTTP/1.1\r\nHost: hello\r\nConnection: close\r\n\r\n")
        .expect("request");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("answer");
    answer
}

#[test]
fn hello_really_serves_a_20_percent_canary() {
    let Some((_dir, v1, v2)) = hello_images() else {
        return;
    };
    let e = env(Options::default()
        .ready_after(Duration::from_millis(100))
        .process_runtime(slipway_kubesim::runtime::process::ProcessOptions::default()));
    let manifest = hello_manifest();
    let mut first = Request::new(&v1, spec(StrategyKind::Rolling, None));
    first.manifest = manifest;
    let log = std::cell::RefCell::new(Vec::new());
    let out = driver(&e.kube, &log)
        .timeout(Duration::from_secs(120))
        .apply(&first)
        .expect("first rollout");
    assert_eq!(out.phase, Phase::Healthy, "{:?}", log.borrow());
    let service = e.kube.get(&SERVICE, "web").expect("get").expect("service");
    let port = u16::try_from(
        service["spec"]["ports"][0]["nodePort"]
            .as_i64()
            .expect("a nodePort"),
    )
    .expect("port");

    let canary = Request::new(&v2, spec(StrategyKind::Canary, Some("setWeight=20,pause")));
    let out = driver(&e.kube, &log)
        .timeout(Duration::from_secs(120))
        .apply(&canary)
        .expect("canary");
    assert_eq!(out.phase, Phase::Paused, "{:?}", log.borrow());
    assert_eq!(replicas(&deployment(&e.kube, "web-canary")), 1);
    assert_eq!(replicas(&deployment(&e.kube, "web")), 4);
    let answers: Vec<String> = (0..100).map(|_| get_version(port)).collect();
    let new = answers.iter().filter(|a| a.contains("v2.0.0")).count();
    let old = answers.iter().filter(|a| a.contains("v1.0.0")).count();
    assert_eq!(
        new + old,
        100,
        "every request answered: {:?}",
        answers.first()
    );
    // One pod of five, balanced round robin by the NodePort proxy: 20 of 100.
    assert_eq!(new, 20, "{new} of 100 requests reached v2");

    // Requests keep coming during the promotion (the user's Deployment rolls to v2 while the pods are
    // replaced): none may fail.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let load = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let (mut ok, mut failed) = (0, Vec::new());
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let answer = get_version(port);
                if answer.starts_with("HTTP/1.1 200") {
                    ok += 1;
                } else {
                    failed.push(answer);
                }
            }
            (ok, failed)
        })
    };
    let out = driver(&e.kube, &log)
        .timeout(Duration::from_secs(120))
        .promote()
        .expect("promote");
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (ok, failed) = load.join().expect("load");
    assert_eq!(out.phase, Phase::Healthy, "{:?}", log.borrow());
    assert!(
        ok > 0 && failed.is_empty(),
        "{ok} answered, failed during promotion: {failed:?}"
    );
    // The Deployment's rollout waits for ready pods; the endpoints follow within a moment.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let answers: Vec<String> = (0..20).map(|_| get_version(port)).collect();
        if answers.iter().all(|a| a.contains("v2.0.0")) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still answered by v1 after promotion: {answers:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Deployment `web` (5 replicas of hello with an httpGet readiness probe) and its NodePort Service.
fn hello_manifest() -> Vec<Value> {
    let labels = json!({"app": "web"});
    vec![
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"replicas": 5, "selector": {"matchLabels": labels},
                "template": {"metadata": {"labels": labels}, "spec": {
                    "terminationGracePeriodSeconds": 5,
                    "containers": [{"name": "hello", "image": "placeholder",
                        "ports": [{"name": "http", "containerPort": 8080}],
                        "readinessProbe": {"httpGet": {"path": "/healthz", "port": "http"},
                            "periodSeconds": 1}}]}}}}),
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
            "spec": {"type": "NodePort", "selector": labels,
                "ports": [{"port": 80, "targetPort": "http"}]}}),
    ]
}

#[test]
fn a_canary_that_never_becomes_ready_is_aborted_at_its_deadline() {
    let e = env(Options::default().never_ready("*:broken"));
    first(&e.kube, 3);
    give_up_after_2s(&e.kube);
    let log = std::cell::RefCell::new(Vec::new());
    let out = driver(&e.kube, &log)
        .apply(&request(
            "web:broken",
            spec(StrategyKind::Canary, Some("setWeight=34,pause")),
            3,
        ))
        .expect("rollout");
    assert_eq!(out.phase, Phase::Degraded, "{:?}", log.borrow());
    assert_eq!(out.state.reason, "ProgressDeadlineExceeded");
    let stable = deployment(&e.kube, "web");
    assert_eq!(image(&stable), "web:1");
    assert_eq!(replicas(&stable), 3);
    assert_eq!(stable["status"]["availableReplicas"], 3);
    assert_eq!(replicas(&deployment(&e.kube, "web-canary")), 0);
}

#[test]
fn a_users_httproute_gets_the_weights_and_keeps_the_rest() {
    let e = env(Options::default());
    define(&e, &slipway_deploy::cluster::HTTP_ROUTE);
    first(&e.kube, 2);
    let route = json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
        "metadata": {"name": "public", "namespace": "default"},
        "spec": {"parentRefs": [{"name": "edge-gateway"}], "hostnames": ["web.example.com"],
            "rules": [{"matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
                "backendRefs": [{"name": "web-stable", "port": 8080, "weight": 100},
                                {"name": "web-canary", "port": 8080, "weight": 0}]}]}});
    kubectl_apply(&e, &route);
    let spec = RolloutSpec::from_argo(
        "canary:\n  stableService: web-stable\n  canaryService: web-canary\n  trafficRouting:\n    plugins:\n      argoproj-labs/gatewayAPI:\n        httpRoute: public\n  steps:\n  - setWeight: 40\n  - pause: {}\n",
    )
    .expect("spec");
    let log = std::cell::RefCell::new(Vec::new());
    let out = driver(&e.kube, &log)
        .apply(&request("web:2", spec, 2))
        .expect("rollout");
    assert_eq!(out.phase, Phase::Paused, "{:?}", log.borrow());
    let live = e
        .kube
        .get(&slipway_deploy::cluster::HTTP_ROUTE, "public")
        .expect("get")
        .expect("route");
    assert_eq!(live["spec"]["rules"][0]["backendRefs"][0]["weight"], 60);
    assert_eq!(live["spec"]["rules"][0]["backendRefs"][1]["weight"], 40);
    assert_eq!(live["spec"]["parentRefs"], route["spec"]["parentRefs"]);
    assert_eq!(live["spec"]["hostnames"], route["spec"]["hostnames"]);
    assert_eq!(
        live["spec"]["rules"][0]["matches"],
        route["spec"]["rules"][0]["matches"]
    );
    assert!(
        live["metadata"]["labels"]
            .get("app.kubernetes.io/managed-by")
            .is_none()
    );
}

#[test]
fn an_autoscaled_deployment_keeps_its_replicas_through_a_canary() {
    let e = env(Options::default());
    first(&e.kube, 3);
    let hpa = json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "web"},
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "minReplicas": 3, "maxReplicas": 10,
            "metrics": [{"type": "Resource", "resource": {"name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": 80}}}]}});
    e.kube.apply(&hpa).expect("the autoscaler");
    let log = std::cell::RefCell::new(Vec::new());
    let mut req = Request::new(
        "web:2",
        spec(StrategyKind::Canary, Some("setWeight=50,pause")),
    );
    req.port = Some(8080);
    let out = driver(&e.kube, &log).apply(&req).expect("rollout");
    assert_eq!(out.phase, Phase::Paused, "{:?}", log.borrow());
    // 3 canary beside 3 stable: 50% of the pods, the stable untouched (without the autoscaler the
    // replica ratio would take the stable down to 2 beside 2).
    assert_eq!(replicas(&deployment(&e.kube, "web")), 3);
    assert_eq!(replicas(&deployment(&e.kube, "web-canary")), 3);
    let managers = deployment(&e.kube, "web")["metadata"]["managedFields"].clone();
    let slipway_owns_replicas = managers.as_array().into_iter().flatten().any(|m| {
        // slipway's apply created the Deployment; no patch since may have set the replicas.
        m["manager"] == "slipway"
            && m["operation"] == "Update"
            && m.pointer("/fieldsV1/f:spec/f:replicas").is_some()
    });
    assert!(
        !slipway_owns_replicas,
        "slipway never patched the replicas: {managers}"
    );
    let out = driver(&e.kube, &log).promote().expect("promote");
    assert_eq!(out.phase, Phase::Healthy, "{:?}", log.borrow());
    assert_eq!(replicas(&deployment(&e.kube, "web")), 3);
    assert_eq!(image(&deployment(&e.kube, "web")), "web:2");
}

#[test]
fn blue_green_with_passing_analyses_promotes_on_its_own() {
    let e = env(Options::default());
    first(&e.kube, 2);
    let bg = RolloutSpec::from_argo(
        "blueGreen:\n  activeService: web\n  previewService: web-preview\n  autoPromotionEnabled: true\n  scaleDownDelaySeconds: 0\n  prePromotionAnalysis:\n    templates:\n    - templateName: errors\n  postPromotionAnalysis:\n    templates:\n    - templateName: errors\n",
    )
    .expect("spec");
    let mut req = request("web:2", bg, 2);
    req.templates = vec![analysis_template("errors")];
    let good = slipway_deploy::analysis::expr::Value::from(serde_json::json!([0.01]));
    let log = std::cell::RefCell::new(Vec::new());
    let out = driver(&e.kube, &log)
        .provider(&good)
        .apply(&req)
        .expect("rollout");
    assert_eq!(out.phase, Phase::Healthy, "{:?}", log.borrow());
    let log = log.borrow();
    assert!(
        log.iter()
            .any(|l| l.contains("pre-promotion: analysis errors")),
        "{log:?}"
    );
    assert!(
        log.iter()
            .any(|l| l.contains("post-promotion: analysis errors")),
        "{log:?}"
    );
    assert_eq!(image(&deployment(&e.kube, "web")), "web:2");
    assert_eq!(replicas(&deployment(&e.kube, "web-canary")), 0);
}
