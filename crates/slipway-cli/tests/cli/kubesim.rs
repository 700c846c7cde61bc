//! `slipway kubesim serve`: listens, writes the kubeconfig, serves kubectl, stops on SIGTERM.

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use super::slipway;

fn kubectl_available() -> bool {
    Command::new("kubectl")
        .args(["version", "--client"])
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn serve_writes_a_kubeconfig_serves_kubectl_and_stops_on_sigterm() {
    if !kubectl_available() {
        assert!(
            std::env::var_os("CI").is_none(),
            "kubectl is required in CI"
        );
        eprintln!("SKIPPED: kubectl is not installed; `slipway kubesim serve` was not tested");
        return;
    }
    let dir = tempfile::tempdir().expect("dir");
    let kubeconfig = dir.path().join("sub").join("kubeconfig");
    let mut child = slipway()
        .args(["kubesim", "serve", "--kubeconfig"])
        .arg(&kubeconfig)
        .args([
            "--ready-after",
            "50ms",
            "--never-ready",
            "*:stuck",
            "--metric",
            "up{job=\"x\"} = 1",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("slipway runs");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("the address");
    let url = line.trim().to_owned();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let config =
        std::fs::read_to_string(&kubeconfig).expect("kubeconfig written before the address");
    assert!(config.contains(&format!("server: {url}")), "{config}");
    let kubectl = |args: &[&str]| {
        Command::new("kubectl")
            .args(args)
            .env("KUBECONFIG", &kubeconfig)
            .env("HOME", dir.path())
            .output()
            .expect("kubectl")
    };
    let out = kubectl(&[
        "create",
        "deployment",
        "web",
        "--image=img:1",
        "--replicas=2",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = kubectl(&["rollout", "status", "deploy/web", "--timeout=30s"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).lines().last(),
        Some("deployment \"web\" successfully rolled out")
    );
    let out = kubectl(&["get", "--raw", "/api/v1/query?query=up%7Bjob%3D%22x%22%7D"]);
    let answer: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(answer["data"]["result"][0]["value"][1], "1");
    let status = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .expect("kill");
    assert!(status.success());
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let exit = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "kubesim did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "{exit:?}");
}

#[test]
fn bad_flags_are_refused_with_their_reason() {
    let out = super::run(&["kubesim", "serve", "--ready-after", "soon"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid duration \"soon\""));
    let out = super::run(&["kubesim", "serve", "--metric", "no-value"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("expected QUERY=VALUE"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
