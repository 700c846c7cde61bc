//! A canary with real traffic, through slipway-deploy on slipway-kubesim (no cluster, no registry, no
//! Docker): testdata/hello v1 and v2 are built into an OCI layout; kubesim's process runtime runs the pods
//! as local processes from that layout; v1 is rolled out, then v2 as a 20% canary (one pod of five) that
//! pauses; 100 requests through the Service's NodePort are counted per version; the canary is promoted and
//! every answer comes from v2.
//!
//! ```sh
//! bash scripts/install-test-tools.sh --go-only && . scripts/env.sh
//! cargo run --example canary_on_kubesim -- testdata/hello ./cmd/hello
//! ```
//!
//! Arguments: module directory, main package. Go runs offline (`GOPROXY=off`, `GOTOOLCHAIN=local`).
//! The same steps against a real cluster: `Kube::from_kubeconfig` with its kubeconfig, and images in a
//! registry it can pull from.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use slipway::deploy::cluster::kube::Kube;
use slipway::deploy::cluster::{Cluster, SERVICE};
use slipway::deploy::rollout::{Request, Rollout};
use slipway::deploy::spec::{RolloutSpec, StrategyKind, TrafficRouting};
use slipway::deploy::state::{Phase, RolloutState};
use slipway::kubesim::runtime::process::ProcessOptions;
use slipway::kubesim::{Options, Sim};
use slipway::oci::gobuild::{GoImageOptions, build_go_images};
use slipway::oci::platform::Platform;
use slipway::oci::reference::Tag;
use slipway::oci::store::{ManifestStore, OciLayout};

type Error = Box<dyn std::error::Error>;

fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let module_dir = Path::new(args.first().map_or("testdata/hello", String::as_str));
    let package = args.get(1).map_or("./cmd/hello", String::as_str);
    let work = tempfile::tempdir()?;

    // 1. Two versions of the service, for this machine's platform, tagged v1 and v2 in one layout.
    let layout_dir = work.path().join("layout");
    let layout = OciLayout::create(&layout_dir)?;
    for (tag, version) in [("v1", "v1.0.0"), ("v2", "v2.0.0")] {
        let options = GoImageOptions::new(vec![Platform::host()])
            .ldflag_x("main.version", version)
            .go_env("GOTOOLCHAIN", "local")
            .go_env("GOPROXY", "off")
            .go_env("GOFLAGS", "-mod=mod");
        let built = build_go_images(module_dir, package, &options, &layout)?;
        layout.put_manifest(built.top(), Some(&Tag::new(tag)?))?;
        println!(
            "built oci:{}:{tag} ({version}) {}",
            layout_dir.display(),
            built.top().digest()
        );
    }
    let image = |tag: &str| format!("oci:{}:{tag}", layout_dir.display());

    // 2. A Kubernetes API on loopback whose pods really run, and the kube client slipway-deploy uses for
    //    any cluster, reading the kubeconfig kubesim wrote.
    let sim = Sim::start(
        Options::default()
            .ready_after(Duration::from_millis(100))
            .process_runtime(ProcessOptions::default()),
    )?;
    let kubeconfig = work.path().join("kubeconfig");
    sim.write_kubeconfig(&kubeconfig)?;
    let kube = Kube::from_kubeconfig(&kubeconfig, "default")?;
    println!(
        "kubesim at {} (kubeconfig {})",
        sim.url(),
        kubeconfig.display()
    );

    // 3. v1: Deployment `web` (five replicas, a readiness probe on /healthz) and a NodePort Service.
    let mut first = Request::new(&image("v1"), spec(StrategyKind::Rolling, None)?);
    first.manifest = manifest();
    let out = driver(&kube).apply(&first)?;
    expect(out.phase, Phase::Healthy, "the first rollout")?;
    let service = kube
        .get(&SERVICE, "web")?
        .ok_or("Service web was created")?;
    let port = service
        .pointer("/spec/ports/0/nodePort")
        .and_then(Value::as_u64)
        .and_then(|p| u16::try_from(p).ok())
        .ok_or("Service web has a nodePort")?;
    println!("web answers on 127.0.0.1:{port}: {}", version(port)?);

    // 4. v2 as a canary: 20% of the replicas (one pod beside four of v1), then a pause for a human or an
    //    analysis to judge it.
    let canary = Request::new(
        &image("v2"),
        spec(StrategyKind::Canary, Some("setWeight=20,pause"))?,
    );
    let out = driver(&kube).apply(&canary)?;
    expect(out.phase, Phase::Paused, "the canary")?;
    let (mut old, mut new) = (0, 0);
    for _ in 0..100 {
        match version(port)?.as_str() {
            "v1.0.0" => old += 1,
            "v2.0.0" => new += 1,
            other => return Err(format!("unexpected answer {other:?}").into()),
        }
    }
    println!(
        "100 requests through the NodePort: {new} answered by v2 (canary), {old} by v1 (stable)"
    );
    if new == 0 || old == 0 {
        return Err("the canary did not split the traffic".into());
    }

    // 5. Promote: web runs v2 on all five replicas, the canary Deployment is scaled away.
    let out = driver(&kube).promote()?;
    expect(out.phase, Phase::Healthy, "the promotion")?;
    // The Deployment is complete once its pods are ready; the Service's endpoints follow within moments.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let answers = (0..20)
            .map(|_| version(port))
            .collect::<Result<Vec<_>, _>>()?;
        if answers.iter().all(|v| v == "v2.0.0") {
            println!("after promotion 20 of 20 requests answered by v2");
            break;
        }
        if Instant::now() > deadline {
            return Err(format!("still answered by v1 after promotion: {answers:?}").into());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    Ok(())
}

fn spec(kind: StrategyKind, steps: Option<&str>) -> Result<RolloutSpec, Error> {
    Ok(RolloutSpec::from_flags(kind, steps, TrafficRouting::None)?)
}

/// A driver for Deployment `web` that prints each change of phase or message.
fn driver(kube: &Kube) -> Rollout<'_, &Kube> {
    Rollout::new(kube, "web")
        .poll(Duration::from_millis(200))
        .timeout(Duration::from_secs(120))
        .on_progress(|s: &RolloutState| {
            println!("  rollout: {} {} {}", s.phase, s.reason, s.message);
        })
}

fn expect(phase: Phase, want: Phase, what: &str) -> Result<(), Error> {
    println!("{what}: {phase}");
    if phase == want {
        Ok(())
    } else {
        Err(format!("{what} ended {phase}, not {want}").into())
    }
}

/// The body of `GET /version` on the NodePort (the version hello was built with), or an error naming the
/// status when it is not 200.
fn version(port: u16) -> Result<String, Error> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.write_all(b"GET /version HTTP/1.1\r\nHost: web\r\nConnection: close\r\n\r\n")?;
    let mut answer = String::new();
    // Bounded: the answer is a status line, a few headers and a one-line body.
    (&mut stream).take(64 * 1024).read_to_string(&mut answer)?;
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let status = head.lines().next().unwrap_or_default();
    if !status.starts_with("HTTP/1.1 200") {
        return Err(format!("GET /version on port {port}: {status:?}").into());
    }
    Ok(body.trim().to_owned())
}

/// Deployment `web` (five replicas of hello, ready when /healthz answers) and its NodePort Service.
fn manifest() -> Vec<Value> {
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
