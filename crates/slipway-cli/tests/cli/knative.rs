//! `slipway deploy knative`: `render` is accepted back by kubectl against kubesim's Knative kinds;
//! `apply` walks a canary over revision traffic (exit 2 while paused), `promote` and `rollback` move all
//! traffic, and a revision that cannot start makes `apply` exit 1 with traffic left where it was.

use std::io::Write as _;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::Value;
use slipway_kubesim::{Options, Sim};

use super::slipway;

struct Cluster {
    _sim: Sim,
    dir: tempfile::TempDir,
}

impl Cluster {
    fn start() -> Option<Cluster> {
        if !Command::new("kubectl")
            .args(["version", "--client"])
            .output()
            .is_ok_and(|o| o.status.success())
        {
            assert!(
                std::env::var_os("CI").is_none(),
                "kubectl is required in CI"
            );
            eprintln!("SKIPPED: kubectl is not installed; `slipway deploy knative` was not tested");
            return None;
        }
        let sim = Sim::start(
            Options::default()
                .ready_after(Duration::from_millis(20))
                .pull_error("*:missing"),
        )
        .expect("simulator");
        let dir = tempfile::tempdir().expect("tmp");
        sim.write_kubeconfig(&dir.path().join("config"))
            .expect("kubeconfig");
        Some(Cluster { _sim: sim, dir })
    }

    fn kubeconfig(&self) -> String {
        self.dir.path().join("config").display().to_string()
    }

    fn knative(&self, args: &[&str]) -> Output {
        let kubeconfig = self.kubeconfig();
        let mut all = vec!["deploy", "knative"];
        all.extend_from_slice(args);
        all.extend([
            "--kubeconfig",
            &kubeconfig,
            "-n",
            "default",
            "--timeout",
            "60s",
        ]);
        slipway().args(&all).output().expect("slipway runs")
    }

    fn kubectl(&self, args: &[&str], stdin: &str) -> String {
        let mut child = Command::new("kubectl")
            .args(args)
            .env("KUBECONFIG", self.kubeconfig())
            .env("HOME", self.dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("kubectl");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(stdin.as_bytes())
            .expect("write");
        let out = child.wait_with_output().expect("kubectl finishes");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `status.traffic` as (revision, percent).
    fn traffic(&self, name: &str) -> Vec<(String, u64)> {
        let s: Value =
            serde_json::from_str(&self.kubectl(&["get", "ksvc", name, "-o", "json"], ""))
                .expect("JSON");
        s["status"]["traffic"]
            .as_array()
            .expect("traffic")
            .iter()
            .map(|t| {
                (
                    t["revisionName"].as_str().unwrap_or_default().to_owned(),
                    t["percent"].as_u64().unwrap_or_default(),
                )
            })
            .collect()
    }
}

fn code(out: &Output) -> Option<i32> {
    out.status.code()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn traffic(pairs: &[(&str, u64)]) -> Vec<(String, u64)> {
    pairs.iter().map(|(r, p)| ((*r).to_owned(), *p)).collect()
}

#[test]
fn render_is_accepted_and_apply_walks_pauses_promotes_and_rolls_back() {
    let Some(c) = Cluster::start() else {
        return;
    };
    let rendered = slipway()
        .args([
            "deploy", "knative", "render", "--name", "web", "--image", "img:0",
        ])
        .args([
            "--port",
            "8080",
            "--env",
            "MODE=prod",
            "--readiness-path",
            "/healthz",
        ])
        .args(["--memory", "256Mi"])
        .output()
        .expect("render");
    assert!(rendered.status.success(), "{}", stderr(&rendered));
    let yaml = String::from_utf8(rendered.stdout).expect("UTF-8");
    assert!(
        yaml.contains("apiVersion: serving.knative.dev/v1"),
        "{yaml}"
    );
    assert!(
        c.kubectl(&["apply", "-f", "-"], &yaml)
            .contains("service.serving.knative.dev/web created")
    );

    let first = c.knative(&["apply", "--name", "web", "--image", "img:1"]);
    assert_eq!(code(&first), Some(0), "{}", stderr(&first));
    assert_eq!(c.traffic("web"), traffic(&[("web-00002", 100)]));

    let canary = c.knative(&[
        "apply",
        "--name",
        "web",
        "--image",
        "img:2",
        "--steps",
        "setWeight=20,pause",
    ]);
    assert_eq!(code(&canary), Some(2), "{}", stderr(&canary));
    assert!(stderr(&canary).contains("Paused"), "{}", stderr(&canary));
    assert_eq!(
        c.traffic("web"),
        traffic(&[("web-00002", 80), ("web-00003", 20)])
    );
    // A rerun resumes the recorded rollout: still paused, no new revision.
    let again = c.knative(&[
        "apply",
        "--name",
        "web",
        "--image",
        "img:2",
        "--steps",
        "setWeight=20,pause",
    ]);
    assert_eq!(code(&again), Some(2), "{}", stderr(&again));

    let promoted = c.knative(&["promote", "--name", "web"]);
    assert_eq!(code(&promoted), Some(0), "{}", stderr(&promoted));
    assert_eq!(c.traffic("web"), traffic(&[("web-00003", 100)]));

    let rolled = c.knative(&["rollback", "--name", "web"]);
    assert_eq!(code(&rolled), Some(0), "{}", stderr(&rolled));
    assert_eq!(c.traffic("web"), traffic(&[("web-00002", 100)]));
}

#[test]
fn a_candidate_that_cannot_start_is_degraded_and_bad_flags_name_themselves() {
    let Some(c) = Cluster::start() else {
        return;
    };
    let first = c.knative(&["apply", "--name", "api", "--image", "img:1"]);
    assert_eq!(code(&first), Some(0), "{}", stderr(&first));
    let failed = c.knative(&[
        "apply",
        "--name",
        "api",
        "--image",
        "img:missing",
        "--steps",
        "setWeight=50",
    ]);
    assert_eq!(code(&failed), Some(1), "{}", stderr(&failed));
    assert!(stderr(&failed).contains("Degraded"), "{}", stderr(&failed));
    assert_eq!(c.traffic("api"), traffic(&[("api-00001", 100)]));

    let bad = c.knative(&[
        "apply",
        "--name",
        "api",
        "--image",
        "img:2",
        "--steps",
        "setWeight=120",
    ]);
    assert_eq!(code(&bad), Some(1));
    assert!(stderr(&bad).contains("--steps item 0"), "{}", stderr(&bad));
    let bad_env = slipway()
        .args([
            "deploy", "knative", "render", "--name", "x", "--image", "i", "--env", "NOPE",
        ])
        .output()
        .expect("render");
    assert_eq!(code(&bad_env), Some(1));
    assert!(
        stderr(&bad_env).contains("--env \"NOPE\""),
        "{}",
        stderr(&bad_env)
    );
}
