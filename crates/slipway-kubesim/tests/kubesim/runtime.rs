//! The process runtime: testdata/hello, built by slipway-oci's Go image builder and pushed to the loopback
//! registry, runs as real pods: rollout with an httpGet readiness probe, the service answering on the
//! pod's loopback address, `kubectl logs`, crash loops with backoff, liveness kills, image pull errors
//! with their causes, and processes stopped by deletion and by dropping the simulator.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;
use slipway_kubesim::Options;
use slipway_kubesim::runtime::process::ProcessOptions;
use slipway_oci::gobuild::{GoImageOptions, build_go_images};
use slipway_oci::reference::{ManifestRef, Tag};
use slipway_oci::store::{ManifestStore as _, OciLayout, OpenOptions, open};
use slipway_oci::{Platform, Reference};

use crate::kubectl::Kubectl;

/// What the tests run: testdata/hello for this host, in a layout and in the registry.
pub(crate) struct Images {
    _dir: tempfile::TempDir,
    /// `HOST:PORT/kubesim-runtime/hello:v1` (answers `/version` with v1.0.0).
    pub(crate) registry: String,
    /// `HOST:PORT/kubesim-runtime/hello:v2` (v2.0.0).
    pub(crate) registry_v2: String,
}

/// Builds testdata/hello once per test process; `None` (loudly) when Go or the registry is missing.
pub(crate) fn images() -> Option<&'static Images> {
    static IMAGES: OnceLock<Option<Images>> = OnceLock::new();
    IMAGES
        .get_or_init(|| {
            let registry_known = std::env::var("SLIPWAY_TEST_REGISTRY").is_ok_and(|r| !r.is_empty())
                || slipway_testkit::find_tool("docker-registry").is_some();
            let Some(go) = slipway_testkit::find_tool("go").filter(|_| registry_known) else {
                assert!(
                    std::env::var_os("CI").is_none(),
                    "Go and the registry are required in CI"
                );
                eprintln!(
                    "SKIPPED: Go or docker-registry is not installed ({}); the process runtime tests did not run",
                    slipway_testkit::INSTALL_HINT
                );
                return None;
            };
            let dir = tempfile::tempdir().expect("temp dir");
            let layout = OciLayout::create(dir.path().join("layout")).expect("layout");
            let mut pushed = Vec::new();
            for (tag_name, version) in [("v1", "v1.0.0"), ("v2", "v2.0.0")] {
                let options = GoImageOptions::new(vec![Platform::host()])
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
                let tag = Tag::new(tag_name).expect("tag");
                layout.put_manifest(built.top(), Some(&tag)).expect("tag");
                let registry = format!(
                    "{}/kubesim-runtime/hello:{tag_name}",
                    slipway_testkit::registry()
                );
                let dst = open(
                    &Reference::parse(&registry).expect("reference"),
                    &OpenOptions::new(),
                )
                .expect("registry store");
                slipway_oci::copy::copy(
                    &layout,
                    &ManifestRef::Tag(tag.clone()),
                    &dst,
                    Some(&tag),
                    &slipway_oci::copy::CopyOptions::default(),
                )
                .expect("push");
                pushed.push(registry);
            }
            let registry_v2 = pushed.pop().expect("v2");
            let registry = pushed.pop().expect("v1");
            Some(Images {
                _dir: dir,
                registry,
                registry_v2,
            })
        })
        .as_ref()
}

fn start() -> Option<(Kubectl, &'static Images)> {
    start_with(ProcessOptions::default())
}

fn start_with(process: ProcessOptions) -> Option<(Kubectl, &'static Images)> {
    let images = images()?;
    let options = Options::default()
        .ready_after(Duration::from_millis(100))
        .process_runtime(process.log_limit(64 << 10));
    Some((Kubectl::start(options)?, images))
}

/// A Deployment of `image` with `replicas`, a named containerPort and the extra container fields `extra`
/// (YAML lines at the container's indentation).
fn deployment(name: &str, image: &str, replicas: u32, extra: &str) -> String {
    format!(
        "apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
spec:
  replicas: {replicas}
  selector:
    matchLabels: {{app: {name}}}
  template:
    metadata:
      labels: {{app: {name}}}
    spec:
      terminationGracePeriodSeconds: 5
      containers:
      - name: hello
        image: {image}
        ports:
        - {{name: http, containerPort: 8080}}
{extra}"
    )
}

fn apply(k: &Kubectl, yaml: &str) {
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("d.yaml");
    std::fs::write(&file, yaml).expect("write");
    k.ok(&["apply", "-f", file.to_str().expect("utf-8")]);
}

fn pods(k: &Kubectl, app: &str) -> Vec<Value> {
    let out = k.ok(&["get", "pods", "-l", &format!("app={app}"), "-o", "json"]);
    let list: Value = serde_json::from_str(&out).expect("json");
    list["items"].as_array().cloned().unwrap_or_default()
}

/// Polls until `f` gives `Some`, for at most `limit`.
fn wait_for<T>(limit: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let end = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn get(addr: SocketAddr, path: &str) -> std::io::Result<String> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut answer = String::new();
    s.take(64 << 10).read_to_string(&mut answer)?;
    Ok(answer)
}

fn name(pod: &Value) -> String {
    pod["metadata"]["name"].as_str().expect("name").to_owned()
}

#[test]
fn hello_rolls_out_serves_logs_and_stops_when_deleted() {
    let Some((k, images)) = start() else {
        return;
    };
    let probe = "        readinessProbe:
          httpGet: {path: /healthz, port: http}
          periodSeconds: 1
";
    apply(&k, &deployment("hello", &images.registry, 2, probe));
    k.ok(&["rollout", "status", "deployment/hello", "--timeout=90s"]);
    let running = pods(&k, "hello");
    assert_eq!(running.len(), 2);
    let mut addrs = Vec::new();
    for pod in &running {
        let pod_name = name(pod);
        let status = &pod["status"]["containerStatuses"][0];
        assert_eq!(status["ready"], true, "{pod}");
        assert!(
            status["imageID"]
                .as_str()
                .is_some_and(|d| d.starts_with("sha256:")),
            "{pod}"
        );
        let addr = k.sim.pod_addr("default", &pod_name).expect("pod address");
        assert!(addr.ip().is_loopback());
        let health = get(addr, "/healthz").expect("healthz answers");
        assert!(health.starts_with("HTTP/1.1 200"), "{health}");
        let version = get(addr, "/version").expect("version answers");
        assert!(version.contains("v1.0.0"), "{version}");
        let logs = k.ok(&["logs", &pod_name]);
        assert!(
            logs.contains(&format!("hello v1.0.0 listening on :{}", addr.port())),
            "{logs}"
        );
        addrs.push((pod_name, addr));
    }
    assert_ne!(addrs[0].1, addrs[1].1, "each pod has its own $PORT");

    k.ok(&["delete", "deployment", "hello", "--wait=true"]);
    wait_for(Duration::from_secs(30), "the pods to go", || {
        pods(&k, "hello").is_empty().then_some(())
    });
    for (pod_name, addr) in addrs {
        assert_eq!(k.sim.pod_addr("default", &pod_name), None);
        assert!(
            get(addr, "/healthz").is_err(),
            "{pod_name} still answers on {addr}"
        );
    }
}

#[test]
fn a_crashing_container_restarts_with_backoff() {
    let Some((k, images)) = start() else {
        return;
    };
    // hello exits 1 on a SHUTDOWN_TIMEOUT it cannot parse.
    let env = "        env:
        - {name: SHUTDOWN_TIMEOUT, value: never}
";
    apply(&k, &deployment("crash", &images.registry, 1, env));
    let mut saw_backoff = false;
    let status = wait_for(Duration::from_secs(60), "two restarts", || {
        let pod = pods(&k, "crash").into_iter().next()?;
        let status = pod["status"]["containerStatuses"][0].clone();
        saw_backoff |= status["state"]["waiting"]["reason"] == "CrashLoopBackOff";
        (status["restartCount"].as_i64()? >= 2).then_some(status)
    });
    assert!(saw_backoff, "{status}");
    assert_eq!(status["ready"], false, "{status}");
    assert_eq!(status["lastState"]["terminated"]["exitCode"], 1, "{status}");
    assert_eq!(
        status["lastState"]["terminated"]["reason"], "Error",
        "{status}"
    );
    let pod_name = name(&pods(&k, "crash")[0]);
    let logs = k.ok(&["logs", &pod_name]);
    assert!(logs.contains("SHUTDOWN_TIMEOUT=\"never\""), "{logs}");
    let rollout = k.run(&["rollout", "status", "deployment/crash", "--timeout=1s"]);
    assert!(!rollout.status.success());
}

#[test]
fn a_failing_liveness_probe_kills_and_restarts() {
    let Some((k, images)) = start() else {
        return;
    };
    let probe = "        livenessProbe:
          httpGet: {path: /no-such-page, port: 8080}
          periodSeconds: 1
          failureThreshold: 2
";
    apply(&k, &deployment("live", &images.registry, 1, probe));
    let status = wait_for(Duration::from_secs(60), "a liveness restart", || {
        let pod = pods(&k, "live").into_iter().next()?;
        let status = pod["status"]["containerStatuses"][0].clone();
        (status["restartCount"].as_i64()? >= 1).then_some(status)
    });
    // hello shuts down cleanly on SIGTERM.
    assert_eq!(status["lastState"]["terminated"]["exitCode"], 0, "{status}");
}

#[test]
fn pull_errors_say_why() {
    let Some((k, images)) = start() else {
        return;
    };
    let missing = images.registry.replace(":v1", ":no-such-tag");
    apply(&k, &deployment("missing", &missing, 1, ""));
    let message = wait_for(Duration::from_secs(30), "ErrImagePull", || {
        let pod = pods(&k, "missing").into_iter().next()?;
        let waiting = pod["status"]["containerStatuses"][0]["state"]["waiting"].clone();
        (waiting["reason"] == "ErrImagePull")
            .then(|| waiting["message"].as_str().map(str::to_owned))?
    });
    assert!(message.contains(":no-such-tag not found in"), "{message}");
    wait_for(Duration::from_secs(30), "ImagePullBackOff", || {
        let pod = pods(&k, "missing").into_iter().next()?;
        let waiting = &pod["status"]["containerStatuses"][0]["state"]["waiting"];
        (waiting["reason"] == "ImagePullBackOff").then_some(())
    });

    // An image for another platform, straight from a layout.
    let dir = tempfile::tempdir().expect("tmp");
    let other = if Platform::host().architecture == "arm64" {
        "linux/amd64"
    } else {
        "linux/arm64"
    };
    let layout = OciLayout::create(dir.path()).expect("layout");
    let layer = slipway_oci::image::LayerBuilder::new()
        .file("app/hello", 0o755, b"not for this machine".to_vec())
        .build()
        .expect("layer");
    let image = slipway_oci::image::ImageBuilder::new(Platform::parse(other).expect("platform"))
        .entrypoint(["/app/hello"])
        .layer(layer)
        .write_to(&layout)
        .expect("image");
    layout
        .put_manifest(image.manifest(), Some(&Tag::new("v1").expect("tag")))
        .expect("tag");
    let reference = format!("oci:{}:v1", dir.path().display());
    apply(&k, &deployment("foreign", &reference, 1, ""));
    let message = wait_for(Duration::from_secs(30), "a platform error", || {
        let pod = pods(&k, "foreign").into_iter().next()?;
        let waiting = pod["status"]["containerStatuses"][0]["state"]["waiting"].clone();
        (waiting["reason"] == "ErrImagePull")
            .then(|| waiting["message"].as_str().map(str::to_owned))?
    });
    assert!(
        message.contains(&format!(
            "the image is for {other}, this node runs {}",
            Platform::host().format_short()
        )),
        "{message}"
    );
}

#[test]
fn dropping_the_sim_kills_its_pods() {
    let roots = tempfile::tempdir().expect("tmp");
    let Some((k, images)) = start_with(ProcessOptions::default().root_dir(roots.path())) else {
        return;
    };
    apply(&k, &deployment("drop", &images.registry, 1, ""));
    k.ok(&["rollout", "status", "deployment/drop", "--timeout=90s"]);
    let pod = &pods(&k, "drop")[0];
    let addr = k.sim.pod_addr("default", &name(pod)).expect("address");
    wait_for(Duration::from_secs(30), "the service to answer", || {
        get(addr, "/healthz").ok()
    });
    let uid = pod["metadata"]["uid"].as_str().expect("uid");
    let program = roots.path().join(uid).join("hello/ko-app/hello");
    assert!(program.is_file(), "the image is unpacked in the pod's root");
    drop(k);
    assert!(
        get(addr, "/healthz").is_err(),
        "the pod outlived the simulator"
    );
    assert!(
        !roots.path().join(uid).exists(),
        "the pod's root outlived the simulator"
    );
}

/// The end-to-end case: two versions of testdata/hello really running, a NodePort Service in front
/// of both, and an Istio VirtualService sending 80% to the stable version and 20% to the canary; the
/// proxy's counters then show the split through the Prometheus API.
#[test]
fn weighted_traffic_between_two_running_versions() {
    let Some((k, images)) = start() else {
        return;
    };
    let crd = "apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: virtualservices.networking.istio.io}
spec:
  group: networking.istio.io
  scope: Namespaced
  names: {plural: virtualservices, singular: virtualservice, kind: VirtualService}
  versions:
  - name: v1
    served: true
    storage: true
    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
";
    apply(&k, crd);
    let probe = "        readinessProbe:\n          httpGet: {path: /healthz, port: http}\n          periodSeconds: 1\n";
    for (name, image, track) in [
        ("web", &images.registry, "stable"),
        ("web-canary", &images.registry_v2, "canary"),
    ] {
        let d = deployment(name, image, 1, probe).replace(
            &format!("labels: {{app: {name}}}"),
            &format!("labels: {{app: {name}, service: web, track: {track}}}"),
        );
        apply(&k, &d);
        apply(
            &k,
            &format!(
                "apiVersion: v1\nkind: Service\nmetadata: {{name: web-{track}}}\nspec:\n  selector: {{service: web, track: {track}}}\n  ports: [{{port: 80, targetPort: http}}]\n"
            ),
        );
    }
    apply(
        &k,
        "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n  type: NodePort\n  selector: {service: web}\n  ports: [{port: 80, targetPort: http}]\n",
    );
    apply(
        &k,
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: web}\nspec:\n  hosts: [web]\n  http:\n  - route:\n    - destination: {host: web-stable}\n      weight: 80\n    - destination: {host: web-canary}\n      weight: 20\n",
    );
    k.ok(&["rollout", "status", "deployment/web", "--timeout=90s"]);
    k.ok(&[
        "rollout",
        "status",
        "deployment/web-canary",
        "--timeout=90s",
    ]);
    let svc: Value =
        serde_json::from_str(&k.ok(&["get", "svc", "web", "-o", "json"])).expect("json");
    let port = u16::try_from(
        svc["spec"]["ports"][0]["nodePort"]
            .as_i64()
            .expect("node port"),
    )
    .expect("port");
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    // Both versions' endpoints must be ready before the count starts.
    wait_for(
        Duration::from_secs(30),
        "both versions behind the node port",
        || {
            let seen: Vec<String> = (0..10).filter_map(|_| get(addr, "/version").ok()).collect();
            (seen.iter().any(|r| r.contains("v1.0.0")) && seen.iter().any(|r| r.contains("v2.0.0")))
                .then_some(())
        },
    );
    let (mut v1, mut v2) = (0, 0);
    for _ in 0..100 {
        let answer = get(addr, "/version").expect("the node port answers");
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        if answer.contains("v1.0.0") {
            v1 += 1;
        } else if answer.contains("v2.0.0") {
            v2 += 1;
        }
    }
    assert_eq!(
        (v1, v2),
        (80, 20),
        "smooth weighted round robin splits exactly"
    );
    let (c1, c2, body) = requests_by_version(&k);
    assert!(c1 >= 80.0 && c2 >= 20.0, "{body}");
    assert!((c2 / (c1 + c2) - 0.2).abs() < 0.05, "{body}");
}

/// The proxy's request counts for Service `web` by image (`:v1`, `:v2`) through the Prometheus API, and
/// the answer's body.
fn requests_by_version(k: &Kubectl) -> (f64, f64, String) {
    let query = "sum by (image) (increase(kubesim_http_requests_total{service=\"web\"}[10m]))";
    let url = format!(
        "/api/v1/query?query={}",
        query
            .replace(' ', "%20")
            .replace('"', "%22")
            .replace('{', "%7B")
            .replace('}', "%7D")
            .replace('[', "%5B")
            .replace(']', "%5D")
    );
    let answer = get(k.sim.addr(), &url).expect("prometheus answers");
    let body = answer.split("\r\n\r\n").nth(1).expect("a body");
    let json: Value = serde_json::from_str(body.trim()).unwrap_or_else(|e| panic!("{e}: {body}"));
    let result = json["data"]["result"].as_array().expect("a vector");
    let by_image = |tag: &str| -> f64 {
        result
            .iter()
            .filter(|r| {
                r["metric"]["image"]
                    .as_str()
                    .is_some_and(|i| i.ends_with(tag))
            })
            .map(|r| {
                r["value"][1]
                    .as_str()
                    .and_then(|v| v.parse::<f64>().ok())
                    .unwrap_or(0.0)
            })
            .sum()
    };
    (by_image(":v1"), by_image(":v2"), body.to_owned())
}
