//! `rollout_status` against the real `kubectl rollout status --watch=false`, on the same Deployment in
//! slipway-kubesim, in states that hold still long enough to read twice.

use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use slipway_deploy::rolling::{RolloutStatus, rollout_status};
use slipway_kubesim::{Options, Sim};

struct Kubectl {
    _sim: Sim,
    dir: tempfile::TempDir,
}

impl Kubectl {
    fn run(&self, args: &[&str], stdin: Option<&str>) -> (bool, String, String) {
        use std::io::Write as _;
        let mut child = Command::new("kubectl")
            .args(args)
            .env("KUBECONFIG", self.dir.path().join("config"))
            .env("HOME", self.dir.path())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("kubectl runs");
        if let Some(text) = stdin {
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(text.as_bytes())
                .expect("write");
        }
        drop(child.stdin.take());
        let out = child.wait_with_output().expect("kubectl finishes");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// kubectl's verdict and ours on the same resourceVersion.
    fn both(&self, name: &str) -> (String, RolloutStatus) {
        for _ in 0..50 {
            let (_, before, _) = self.run(&["get", "deploy", name, "-o", "json"], None);
            let (ok, out, err) = self.run(
                &[
                    "rollout",
                    "status",
                    &format!("deploy/{name}"),
                    "--watch=false",
                ],
                None,
            );
            let (_, after, _) = self.run(&["get", "deploy", name, "-o", "json"], None);
            let before: Value = serde_json::from_str(&before).expect("json");
            let after: Value = serde_json::from_str(&after).expect("json");
            if before["metadata"]["resourceVersion"] == after["metadata"]["resourceVersion"] {
                let kubectl = if ok {
                    out.trim_end().to_owned()
                } else {
                    err.trim_end().trim_start_matches("error: ").to_owned()
                };
                return (kubectl, rollout_status(&before));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("the Deployment never held still");
    }
}

fn start() -> Option<Kubectl> {
    if !Command::new("kubectl")
        .args(["version", "--client"])
        .output()
        .is_ok_and(|o| o.status.success())
    {
        assert!(
            std::env::var_os("CI").is_none(),
            "kubectl is required in CI"
        );
        eprintln!(
            "SKIPPED: kubectl is not installed; rollout_status was not compared with kubectl"
        );
        return None;
    }
    let sim = Sim::start(
        Options::default()
            .ready_after(Duration::from_millis(50))
            .never_ready("*:stuck"),
    )
    .expect("sim");
    let dir = tempfile::tempdir().expect("dir");
    sim.write_kubeconfig(&dir.path().join("config"))
        .expect("kubeconfig");
    Some(Kubectl { _sim: sim, dir })
}

fn deployment(name: &str, image: &str, extra: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: {name}}}\nspec:\n{extra}  replicas: 3\n  selector: {{matchLabels: {{app: {name}}}}}\n  template:\n    metadata: {{labels: {{app: {name}}}}}\n    spec: {{containers: [{{name: c, image: \"{image}\"}}]}}\n"
    )
}

fn text(s: &RolloutStatus) -> &str {
    match s {
        RolloutStatus::Waiting(m)
        | RolloutStatus::Complete(m)
        | RolloutStatus::DeadlineExceeded(m) => m,
        _ => "",
    }
}

#[test]
fn verdicts_match_kubectl() {
    let Some(k) = start() else { return };
    // Complete.
    k.run(
        &["apply", "-f", "-"],
        Some(&deployment("done", "img:1", "")),
    );
    k.run(&["rollout", "status", "deploy/done", "--timeout=30s"], None);
    let (kubectl, ours) = k.both("done");
    assert!(matches!(ours, RolloutStatus::Complete(_)));
    assert_eq!(kubectl, text(&ours));
    // Stuck: the new version never becomes ready (one surge pod updated, none available).
    k.run(
        &["apply", "-f", "-"],
        Some(&deployment("stuck", "img:1", "")),
    );
    k.run(
        &["rollout", "status", "deploy/stuck", "--timeout=30s"],
        None,
    );
    k.run(&["set", "image", "deploy/stuck", "c=img:stuck"], None);
    std::thread::sleep(Duration::from_millis(500));
    let (kubectl, ours) = k.both("stuck");
    assert!(matches!(ours, RolloutStatus::Waiting(_)));
    assert_eq!(kubectl, text(&ours));
    // A first rollout whose pods never become ready: all updated, none available.
    k.run(
        &["apply", "-f", "-"],
        Some(&deployment("never", "img:stuck", "")),
    );
    std::thread::sleep(Duration::from_millis(500));
    let (kubectl, ours) = k.both("never");
    assert_eq!(kubectl, text(&ours));
    assert!(
        kubectl.ends_with("0 of 3 updated replicas are available..."),
        "{kubectl}"
    );
    // Past the progress deadline.
    k.run(
        &["apply", "-f", "-"],
        Some(&deployment(
            "late",
            "img:stuck",
            "  progressDeadlineSeconds: 1\n",
        )),
    );
    std::thread::sleep(Duration::from_millis(2_500));
    let (kubectl, ours) = k.both("late");
    assert!(
        matches!(ours, RolloutStatus::DeadlineExceeded(_)),
        "{ours:?}"
    );
    assert_eq!(kubectl, text(&ours));
}
