//! `slipway init`: what it writes is read by `slipway ship --print-config`, existing files are kept
//! without `--force`, the GitHub workflow passes actionlint and the GitLab file validates against
//! GitLab's CI schema (vendored in tests/schemas by scripts/vendor-gitlab-ci-schema.sh).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::slipway;

/// A Go service's root with a go.mod (and a go.sum when `go_sum`).
fn service(go_sum: bool) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("go.mod"),
        "module example.com/shop/api/v2\n\ngo 1.22\n",
    )
    .expect("go.mod");
    if go_sum {
        std::fs::write(dir.path().join("go.sum"), "").expect("go.sum");
    }
    dir
}

fn init(dir: &Path, extra: &[&str]) -> Output {
    let out = slipway()
        .arg("init")
        .arg("-C")
        .arg(dir)
        .args(extra)
        .output()
        .expect("slipway runs");
    assert!(out.status.success(), "slipway init: {out:?}");
    out
}

fn print_config(dir: &Path, environment: Option<&str>) -> String {
    let mut cmd = slipway();
    cmd.args(["ship", "--print-config", "-C"]).arg(dir);
    match environment {
        Some(env) => cmd.env("SLIPWAY_ENVIRONMENT", env),
        None => cmd.env_remove("SLIPWAY_ENVIRONMENT"),
    };
    let out = cmd.output().expect("slipway runs");
    assert!(out.status.success(), "slipway ship --print-config: {out:?}");
    String::from_utf8(out.stdout).expect("UTF-8")
}

const WRITTEN: [&str; 8] = [
    "slipway.toml",
    ".github/workflows/delivery.yml",
    ".gitlab-ci.yml",
    "deploy/base/kustomization.yaml",
    "deploy/base/deployment.yaml",
    "deploy/base/service.yaml",
    "deploy/overlays/dev/kustomization.yaml",
    "deploy/overlays/prod/kustomization.yaml",
];

#[test]
fn init_writes_a_configuration_that_ship_reads() {
    let dir = service(true);
    let out = init(dir.path(), &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    for rel in WRITTEN {
        assert!(dir.path().join(rel).is_file(), "{rel} missing:\n{stdout}");
        assert!(stdout.contains(rel), "{rel} not reported:\n{stdout}");
    }
    assert!(!stdout.contains("skipped"), "{stdout}");

    // The name comes from go.mod's module path without its /v2.
    let config = print_config(dir.path(), None);
    for line in [
        "name = \"api\"",
        "strategy = \"canary\"",
        "steps = \"setWeight=25,pause=5s,setWeight=50,pause=5s\"",
        "platforms = [\n    \"linux/amd64\",\n    \"linux/arm64\",\n]",
        "diff = 80.0",
        "[environments.prod]",
        "deploy = \"kubesim\"",
    ] {
        assert!(config.contains(line), "{line:?} not in:\n{config}");
    }
    // The environments are ship's: selecting one changes what ship does.
    let prod = print_config(dir.path(), Some("prod"));
    for line in [
        "deploy = \"kubeconfig=.kube/prod.yaml\"",
        "namespace = \"api-prod\"",
        "replicas = 3",
    ] {
        assert!(prod.contains(line), "{line:?} not in:\n{prod}");
    }
    // dev runs on the in-process kubesim, whose only namespace is "default".
    let dev = print_config(dir.path(), Some("dev"));
    assert!(dev.contains("namespace = \"default\""), "{dev}");
    let workflow = read(dir.path(), ".github/workflows/delivery.yml");
    assert!(
        workflow.contains("cache-dependency-path: go.sum"),
        "{workflow}"
    );
    let gitlab = read(dir.path(), ".gitlab-ci.yml");
    assert!(gitlab.contains("image: golang:1.22\n"), "{gitlab}");
}

#[test]
fn init_keeps_existing_files_unless_forced() {
    let dir = service(false);
    let mine = "# mine\nstrategy = \"rolling\"\n";
    std::fs::write(dir.path().join("slipway.toml"), mine).expect("write");
    let service_yaml = dir.path().join("deploy/base/service.yaml");
    std::fs::create_dir_all(service_yaml.parent().expect("parent")).expect("mkdir");
    std::fs::write(&service_yaml, "# my service\n").expect("write");

    let out = init(dir.path(), &["--name", "shop"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(read(dir.path(), "slipway.toml"), mine);
    assert_eq!(
        read(dir.path(), "deploy/base/service.yaml"),
        "# my service\n"
    );
    for rel in ["slipway.toml", "deploy/base/service.yaml"] {
        let line = format!("skipped {}", dir.path().join(rel).display());
        assert!(stdout.contains(&line), "{line:?} not in:\n{stdout}");
    }
    // deploy/ is one layout: with a file of it present, none of it is written.
    assert!(!dir.path().join("deploy/overlays").exists(), "{stdout}");
    // The CI files did not exist: written, keyed on go.mod (there is no go.sum).
    let workflow = read(dir.path(), ".github/workflows/delivery.yml");
    assert!(
        workflow.contains("cache-dependency-path: go.mod"),
        "{workflow}"
    );
    assert!(read(dir.path(), ".gitlab-ci.yml").contains("shop"));
    assert!(print_config(dir.path(), None).contains("strategy = \"rolling\""));

    let out = init(dir.path(), &["--name", "shop", "--force"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!stdout.contains("skipped"), "{stdout}");
    for rel in WRITTEN {
        assert!(dir.path().join(rel).is_file(), "{rel} missing:\n{stdout}");
    }
    assert!(read(dir.path(), "deploy/base/service.yaml").contains("name: shop"));
    let config = print_config(dir.path(), None);
    assert!(config.contains("name = \"shop\""), "{config}");
    assert!(config.contains("strategy = \"canary\""), "{config}");
}

#[test]
fn init_refuses_a_name_kubernetes_would_refuse() {
    let dir = service(true);
    let out = slipway()
        .arg("init")
        .arg("-C")
        .arg(dir.path())
        .args(["--name", "Shop_API"])
        .output()
        .expect("slipway runs");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--name \"Shop_API\""), "{stderr}");
    assert!(!dir.path().join("slipway.toml").exists());
}

fn read(dir: &Path, rel: &str) -> String {
    std::fs::read_to_string(dir.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// A validator installed by scripts/install-test-tools.sh, or a loud skip (never in CI).
fn validator_or_skip(name: &str, test: &str) -> Option<PathBuf> {
    let tool = slipway_testkit::find_tool(name);
    if tool.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "{name} is required in CI: {}",
            slipway_testkit::INSTALL_HINT
        );
        eprintln!(
            "SKIPPED {test}: {name} is not installed ({})",
            slipway_testkit::INSTALL_HINT
        );
    }
    tool
}

/// Runs a validator on `file`; `Ok` when it accepts it, `Err(its output)` when not.
fn validate(tool: &Path, args: &[&str], file: &Path) -> Result<(), String> {
    let out = Command::new(tool)
        .args(args)
        .arg(file)
        .output()
        .unwrap_or_else(|e| panic!("{} runs: {e}", tool.display()));
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{} (exit {:?}):\n{}{}",
            tool.display(),
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// Validates what init wrote at `rel` (for services with and without go.sum), and checks that the
/// validator rejects it once `broken` is applied (so an accepting validator is one that looked).
fn check_generated(tool: &Path, args: &[&str], rel: &str, broken: (&str, &str)) {
    for go_sum in [true, false] {
        let dir = service(go_sum);
        init(dir.path(), &[]);
        let file = dir.path().join(rel);
        if let Err(output) = validate(tool, args, &file) {
            panic!("{rel} (go.sum: {go_sum}) is rejected: {output}");
        }
        let text = read(dir.path(), rel);
        let bad = text.replacen(broken.0, broken.1, 1);
        assert_ne!(bad, text, "{:?} is in {rel}", broken.0);
        std::fs::write(&file, bad).expect("write");
        assert!(
            validate(tool, args, &file).is_err(),
            "{} accepts a broken {rel}",
            tool.display()
        );
    }
}

#[test]
fn the_github_workflow_passes_actionlint() {
    let test = "the_github_workflow_passes_actionlint";
    let Some(actionlint) = validator_or_skip("actionlint", test) else {
        return;
    };
    check_generated(
        &actionlint,
        &[],
        ".github/workflows/delivery.yml",
        ("runs-on:", "run-on:"),
    );
}

#[test]
fn the_gitlab_file_validates_against_gitlabs_ci_schema() {
    let test = "the_gitlab_file_validates_against_gitlabs_ci_schema";
    let Some(check) = validator_or_skip("check-jsonschema", test) else {
        return;
    };
    let schema = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/schemas/gitlab-ci.json");
    let schema = schema.to_str().expect("a UTF-8 path");
    check_generated(
        &check,
        &["--schemafile", schema],
        ".gitlab-ci.yml",
        ("coverage_format: cobertura", "coverage_format: xml"),
    );
}
