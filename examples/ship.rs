//! The slipway pipeline through the library API, as a tool author would embed it:
//! analyse the module, run its tests with coverage and gate on the total, compute tags from git, build a
//! reproducible multi-arch image into an OCI layout directory (the embedded default: no registry, no Docker),
//! and deploy it: a rolling rollout on an in-process slipway-kubesim whose process runtime runs the image
//! from the layout (the embedded default: no cluster), checked by requests through the Service's NodePort.
//!
//! ```sh
//! bash scripts/install-test-tools.sh --go-only && . scripts/env.sh
//! cargo run --example ship -- testdata/hello ./cmd/hello target/ship-example 50
//! ```
//!
//! Arguments: module directory, main package, layout directory, minimum total coverage (percent).
//! Go runs offline (`GOPROXY=off`, `GOTOOLCHAIN=local`).

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};

use slipway::cover::{FuncReport, ModuleResolver, Profile, Summary};
use slipway::gomod::modfile::ModFile;
use slipway::oci::Digest;
use slipway::oci::gobuild::{GoImageOptions, build_go_images};
use slipway::oci::image::{rfc3339, source_date_epoch};
use slipway::oci::platform::Platform;
use slipway::oci::reference::Tag;
use slipway::oci::store::{ManifestStore, OciLayout};
use slipway::tag::{Flavor, GitRepo, Options, TagRule, annotations, tags_for};
// Deployment is not re-exported by the facade yet: the example uses the crates directly.
use slipway::deploy::cluster::kube::Kube;
use slipway::deploy::cluster::{Cluster, SERVICE};
use slipway::deploy::rollout::{Request, Rollout};
use slipway::deploy::spec::{RolloutSpec, StrategyKind, TrafficRouting};
use slipway::deploy::state::{Phase, RolloutState};
use slipway::kubesim::runtime::process::ProcessOptions;

type Error = Box<dyn std::error::Error>;

fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let module_dir = Path::new(args.first().map_or("testdata/hello", String::as_str));
    let package = args.get(1).map_or("./cmd/hello", String::as_str);
    let layout_dir = Path::new(args.get(2).map_or("target/ship-example", String::as_str));
    let min_total: f64 = args.get(3).map_or(Ok(50.0), |v| v.parse())?;

    // 1. The module, as `go mod edit -json` reads it.
    let gomod_path = module_dir.join("go.mod");
    let gomod = ModFile::parse(
        &gomod_path.display().to_string(),
        &std::fs::read_to_string(&gomod_path)?,
    )?;
    let module = gomod.module.as_ref().ok_or("go.mod has no module line")?;
    println!(
        "module {} (go {})",
        module.path,
        gomod.go.as_ref().map_or("?", |g| g.version.as_str())
    );

    // 2. Tests with coverage, numbers as `go test` and `go tool cover -func` print them, and a gate.
    let profile_path =
        std::env::temp_dir().join(format!("slipway-ship-{}.out", std::process::id()));
    let status = Command::new("go")
        .current_dir(module_dir)
        .env("GOTOOLCHAIN", "local")
        .env("GOPROXY", "off")
        .env("GOSUMDB", "off")
        .env("GOFLAGS", "-mod=mod")
        .args(["test", "-coverprofile"])
        .arg(&profile_path)
        .arg("./...")
        .status()?;
    if !status.success() {
        return Err("go test failed".into());
    }
    let profile = Profile::parse(
        &profile_path.display().to_string(),
        &std::fs::read_to_string(&profile_path)?,
    )?;
    std::fs::remove_file(&profile_path)?;
    let report = FuncReport::new(&profile, &ModuleResolver::discover(module_dir))?;
    print!("{}", report.to_go_text());
    let total = Summary::of(&profile).total;
    println!("go test: {}", total.go_test_line());
    if total.percent() < min_total {
        return Err(format!(
            "coverage {:.1}% is below the gate of {min_total}%",
            total.percent()
        )
        .into());
    }

    // 3. Tags and annotations from the git repository around the module.
    let repo = GitRepo::discover(module_dir)?;
    let (build, tags) = tags_for(
        &repo,
        &TagRule::defaults(),
        &Flavor::default(),
        Options::default(),
    )?;
    let version = tags.version.clone().unwrap_or_else(|| "dev".to_owned());
    println!("tags: {}", tags.tags.join(" "));

    // 4. A reproducible multi-arch image, ko-style, into an OCI layout.
    let created = source_date_epoch()?.unwrap_or(0);
    let mut options = GoImageOptions::new(vec![
        Platform::parse("linux/amd64")?,
        Platform::parse("linux/arm64")?,
    ])
    .created(created)
    .ldflag_x("main.version", &version)
    .go_env("GOTOOLCHAIN", "local")
    .go_env("GOPROXY", "off")
    .go_env("GOFLAGS", "-mod=mod")
    .annotation("org.opencontainers.image.created", &rfc3339(created));
    for (key, value) in annotations(&build, &tags) {
        options = options.annotation(&key, &value);
    }
    let layout = OciLayout::create(layout_dir)?;
    let images = build_go_images(module_dir, package, &options, &layout)?;
    for tag in &tags.tags {
        layout.put_manifest(images.top(), Some(&Tag::new(tag)?))?;
    }
    println!(
        "oci:{}:{} @ {}",
        layout_dir.display(),
        tags.tags.first().map_or("-", String::as_str),
        images.top().descriptor().digest
    );

    // 5 and 6: deploy, and check that the service answers.
    deploy(layout_dir, images.top().digest(), &version)
}

/// Rolls the image out on an in-process kubesim and checks the service through its NodePort.
fn deploy(layout_dir: &Path, digest: &Digest, version: &str) -> Result<(), Error> {
    // 5. Deploy: kubesim on loopback, its pods real processes of this machine's image from the index (the
    //    layout path made absolute: the runtime does not share our working directory's meaning).
    let image = format!(
        "oci:{}@{}",
        std::fs::canonicalize(layout_dir)?.display(),
        digest
    );
    let sim = slipway::kubesim::Sim::start(
        slipway::kubesim::Options::default()
            .ready_after(Duration::from_millis(100))
            .process_runtime(ProcessOptions::default()),
    )?;
    let kubeconfig = tempfile::NamedTempFile::new()?;
    sim.write_kubeconfig(kubeconfig.path())?;
    let kube = Kube::from_kubeconfig(kubeconfig.path(), "default")?;
    let mut request = Request::new(
        &image,
        RolloutSpec::from_flags(StrategyKind::Rolling, None, TrafficRouting::None)?,
    );
    request.manifest = manifest();
    let outcome = Rollout::new(&kube, "hello")
        .poll(Duration::from_millis(200))
        .timeout(Duration::from_secs(120))
        .on_progress(|s: &RolloutState| println!("rollout: {} {}", s.phase, s.message))
        .apply(&request)?;
    if outcome.phase != Phase::Healthy {
        return Err(format!("the rollout ended {}, not Healthy", outcome.phase).into());
    }

    // 6. The service answers through its NodePort, with the version it was built with.
    let service = kube.get(&SERVICE, "hello")?.ok_or("Service hello exists")?;
    let port = service
        .pointer("/spec/ports/0/nodePort")
        .and_then(Value::as_u64)
        .and_then(|p| u16::try_from(p).ok())
        .ok_or("Service hello has a nodePort")?;
    let healthz = get(port, "/healthz")?;
    let answered = get(port, "/version")?;
    println!("http://127.0.0.1:{port}/healthz: {healthz}; /version: {answered}");
    if healthz != "ok" || answered != version {
        return Err(format!(
            "expected ok and {version}, the service said {healthz} and {answered}"
        )
        .into());
    }
    Ok(())
}

/// The body of `GET PATH` on the NodePort; a status other than 200 is an error.
fn get(port: u16, path: &str) -> Result<String, Error> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: hello\r\nConnection: close\r\n\r\n"
    )?;
    let mut answer = String::new();
    // Bounded: a status line, a few headers and a one-line body.
    (&mut stream).take(64 * 1024).read_to_string(&mut answer)?;
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let status = head.lines().next().unwrap_or_default();
    if !status.starts_with("HTTP/1.1 200") {
        return Err(format!("GET {path} on port {port}: {status:?}").into());
    }
    Ok(body.trim().to_owned())
}

/// Deployment `hello` (two replicas, ready when /healthz answers) and a NodePort Service in front of it.
fn manifest() -> Vec<Value> {
    let labels = json!({"app": "hello"});
    vec![
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "hello"},
            "spec": {"replicas": 2, "selector": {"matchLabels": labels},
                "template": {"metadata": {"labels": labels}, "spec": {
                    "terminationGracePeriodSeconds": 5,
                    "containers": [{"name": "hello", "image": "placeholder",
                        "ports": [{"name": "http", "containerPort": 8080}],
                        "readinessProbe": {"httpGet": {"path": "/healthz", "port": "http"},
                            "periodSeconds": 1}}]}}}}),
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "hello"},
            "spec": {"type": "NodePort", "selector": labels,
                "ports": [{"port": 80, "targetPort": "http"}]}}),
    ]
}
