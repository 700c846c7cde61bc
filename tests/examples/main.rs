//! The top-level examples build and run on testdata/hello, offline, with no cluster and no registry, and
//! print what they did: each test runs one example binary and checks its exit status and its report.
//!
//! The examples need the Go toolchain; without it every test here skips loudly (never in CI, where `CI` is
//! set and a missing Go fails).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use slipway_testkit::{INSTALL_HINT, find_tool, require_tool, stdout_of, testdata, workspace_root};

/// The directory of Go on `PATH` for the examples, or `None` (after a loud message) without Go.
fn go_dir(example: &str) -> Option<PathBuf> {
    let Some(go) = find_tool("go") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "Go is required in CI: {INSTALL_HINT}"
        );
        eprintln!(
            "SKIPPED: examples/{example}.rs did not run: Go is not installed ({INSTALL_HINT})"
        );
        return None;
    };
    go.parent().map(Path::to_path_buf)
}

/// Builds every example once (with the profile this test was built with) and returns the directory the
/// binaries are in.
fn examples_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        // This binary is TARGET/PROFILE_DIR/deps/examples-HASH; examples go to TARGET/PROFILE_DIR/examples.
        let exe = std::env::current_exe().expect("the test binary's path");
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("the test binary lies in PROFILE_DIR/deps");
        let target_dir = profile_dir.parent().expect("PROFILE_DIR lies in TARGET");
        let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
            Some("debug") | None => "dev",
            Some(other) => other,
        };
        let out = Command::new(env!("CARGO"))
            .current_dir(workspace_root())
            .args(["build", "--quiet", "--examples", "--profile", profile])
            .arg("--target-dir")
            .arg(target_dir)
            .output()
            .expect("cargo runs");
        assert!(
            out.status.success(),
            "cargo build --examples failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        profile_dir.join("examples")
    })
}

/// Runs `examples/NAME.rs` with `args` from the workspace root, Go (offline) first on `PATH`.
fn run(go_dir: &Path, name: &str, args: &[&Path]) -> Output {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let path = std::env::join_paths(
        std::iter::once(go_dir.to_path_buf()).chain(std::env::split_paths(&path)),
    )
    .expect("PATH entries join");
    let out = Command::new(examples_dir().join(name))
        .current_dir(workspace_root())
        .args(args)
        .env("PATH", path)
        .env("GOTOOLCHAIN", "local")
        .env("GOPROXY", "off")
        .env("GOSUMDB", "off")
        .env("GOTELEMETRY", "off")
        .env_remove("GOWORK")
        .output()
        .unwrap_or_else(|e| panic!("examples/{name}.rs: cannot run: {e}"));
    eprintln!(
        "--- examples/{name}.rs {args:?}: {}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn hello() -> PathBuf {
    testdata("hello")
}

#[test]
fn ship_builds_deploys_on_kubesim_and_the_service_answers_on_its_node_port() {
    let Some(go) = go_dir("ship") else { return };
    let tmp = tempfile::tempdir().expect("temp dir");
    let layout = tmp.path().join("layout");
    let out = run(
        &go,
        "ship",
        &[&hello(), Path::new("./cmd/hello"), &layout, Path::new("50")],
    );
    assert!(out.status.success(), "ship failed");
    let text = stdout(&out);
    assert!(text.contains("module example.com/hello"), "{text}");
    assert!(text.contains("go test: coverage: "), "{text}");
    assert!(text.contains("rollout: Healthy"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("http://127.0.0.1:") && l.contains("/healthz: ok; /version: ")),
        "{text}"
    );
    assert!(layout.join("index.json").is_file());
}

#[test]
fn coverage_gate_passes_at_50_and_fails_with_a_nonzero_exit_at_99() {
    let Some(go) = go_dir("coverage_gate") else {
        return;
    };
    let out = run(&go, "coverage_gate", &[Path::new("50"), &hello()]);
    assert!(out.status.success(), "coverage_gate 50 failed");
    let text = stdout(&out);
    for package in ["internal/config", "internal/handlers", "pkg/greeting"] {
        assert!(
            text.lines()
                .any(|l| l.starts_with("gate ")
                    && l.contains(&format!("example.com/hello/{package}"))),
            "no gate line for {package}: {text}"
        );
    }
    assert!(text.contains("merged 4 profiles"), "{text}");
    assert!(text.contains("coverage check passed: 1 gates"), "{text}");

    // testdata/hello deliberately leaves code untested: 99% is out of reach.
    let out = run(&go, "coverage_gate", &[Path::new("99"), &hello()]);
    assert_eq!(out.status.code(), Some(1), "coverage_gate 99 must fail");
    let text = stdout(&out);
    assert!(text.contains("FAIL total: "), "{text}");
    assert!(text.contains("< 99.0%"), "{text}");
}

#[test]
fn multiarch_index_writes_an_index_over_amd64_and_arm64() {
    let Some(go) = go_dir("multiarch_index") else {
        return;
    };
    let tmp = tempfile::tempdir().expect("temp dir");
    let layout = tmp.path().join("layout");
    let out = run(
        &go,
        "multiarch_index",
        &[&hello(), Path::new("./cmd/hello"), &layout],
    );
    assert!(out.status.success(), "multiarch_index failed");
    let text = stdout(&out);
    for platform in ["linux/amd64", "linux/arm64"] {
        assert!(
            text.lines()
                .any(|l| l.starts_with(platform) && l.contains(" sha256:")),
            "no digest line for {platform}: {text}"
        );
        assert!(
            text.contains(&format!("a {platform} runtime pulls sha256:")),
            "{text}"
        );
    }
    assert!(
        text.contains("\"mediaType\": \"application/vnd.oci.image.index.v1+json\""),
        "{text}"
    );
    assert!(text.contains("layout verified"), "{text}");
    let index = std::fs::read_to_string(layout.join("index.json")).expect("index.json");
    assert!(
        index.contains("\"org.opencontainers.image.ref.name\":\"latest\""),
        "{index}"
    );

    // Independent clients accept the layout: skopeo reads the index back, oci-image-tool validates it.
    let raw = stdout_of(
        &require_tool("skopeo"),
        [
            "inspect".to_owned(),
            "--raw".to_owned(),
            format!("oci:{}:latest", layout.display()),
        ],
    );
    for arch in ["\"amd64\"", "\"arm64\""] {
        assert!(raw.contains(arch), "skopeo read no {arch} entry: {raw}");
    }
    let out = Command::new(require_tool("oci-image-tool"))
        .args(["validate", "--type", "image", "--ref", "name=latest"])
        .arg(&layout)
        .output()
        .expect("oci-image-tool runs");
    let said =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && said.contains("Validation succeeded"),
        "oci-image-tool: {said}"
    );
}

#[test]
fn canary_on_kubesim_splits_real_traffic_20_80_then_promotes() {
    let Some(go) = go_dir("canary_on_kubesim") else {
        return;
    };
    let out = run(
        &go,
        "canary_on_kubesim",
        &[&hello(), Path::new("./cmd/hello")],
    );
    assert!(out.status.success(), "canary_on_kubesim failed");
    let text = stdout(&out);
    assert!(text.contains("the canary: Paused"), "{text}");
    // One canary pod of five, balanced round robin by the NodePort proxy.
    assert!(
        text.contains(
            "100 requests through the NodePort: 20 answered by v2 (canary), 80 by v1 (stable)"
        ),
        "{text}"
    );
    assert!(text.contains("the promotion: Healthy"), "{text}");
    assert!(
        text.contains("after promotion 20 of 20 requests answered by v2"),
        "{text}"
    );
}

#[test]
fn gitops_bump_pins_the_digest_in_staging_then_promotes_it_to_prod() {
    let Some(go) = go_dir("gitops_bump") else {
        return;
    };
    find_tool("git").unwrap_or_else(|| panic!("`git` is not installed: {INSTALL_HINT}"));
    let out = run(
        &go,
        "gitops_bump",
        &[
            &hello(),
            Path::new("./cmd/hello"),
            Path::new("registry.example/hello"),
        ],
    );
    assert!(out.status.success(), "gitops_bump failed");
    let text = stdout(&out);
    assert!(text.contains("set-image staging: committed"), "{text}");
    assert!(
        text.contains("set-image staging again: unchanged, no commit"),
        "{text}"
    );
    assert!(
        text.contains("promote staging -> prod: committed"),
        "{text}"
    );
    assert!(
        text.contains("prod pins registry.example/hello@sha256:"),
        "{text}"
    );
    // Only the images: entry changed: the diff of both overlays removes one line and adds two each.
    assert_eq!(
        text.lines()
            .filter(|l| l.starts_with("-  newTag: latest"))
            .count(),
        2,
        "{text}"
    );
    assert_eq!(
        text.lines()
            .filter(|l| l.starts_with("+  digest: sha256:"))
            .count(),
        2,
        "{text}"
    );
}
