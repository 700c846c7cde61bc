//! `slipway_deploy::serverless` against kubesim: the rendered Knative Service, as YAML, is accepted by
//! `kubectl apply` (Knative's kinds and webhook on kubesim), becomes a ready revision, and the canary's
//! traffic blocks are what kubesim's Knative reconciler resolves into `status.traffic`.

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use slipway_deploy::replicas::Weight;
use slipway_deploy::serverless::{
    Action, Container, Observed, Phase, Probe, State, reconcile, render, traffic_latest,
};
use slipway_deploy::spec::parse_steps;
use slipway_kubesim::{Options, Sim};

struct Cluster {
    _sim: Sim,
    dir: tempfile::TempDir,
}

impl Cluster {
    fn start() -> Option<Cluster> {
        if Command::new("kubectl")
            .args(["version", "--client"])
            .output()
            .is_err()
        {
            assert!(
                std::env::var_os("CI").is_none(),
                "kubectl is required in CI"
            );
            eprintln!("SKIPPED: kubectl is not installed; the serverless tests did not run");
            return None;
        }
        let sim = Sim::start(Options::default().ready_after(Duration::from_millis(20)))
            .expect("simulator");
        let dir = tempfile::tempdir().expect("tmp");
        sim.write_kubeconfig(&dir.path().join("config"))
            .expect("kubeconfig");
        Some(Cluster { _sim: sim, dir })
    }

    fn kubectl(&self, args: &[&str], stdin: Option<&str>) -> String {
        let mut child = Command::new("kubectl")
            .args(args)
            .env("KUBECONFIG", self.dir.path().join("config"))
            .env("HOME", self.dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("kubectl runs");
        let mut input = child.stdin.take().expect("stdin");
        if let Some(text) = stdin {
            input.write_all(text.as_bytes()).expect("write");
        }
        drop(input);
        let out = child.wait_with_output().expect("kubectl finishes");
        assert!(
            out.status.success(),
            "kubectl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn apply(&self, object: &Value) {
        let yaml = serde_saphyr::to_string(object).expect("YAML");
        self.kubectl(
            &[
                "apply",
                "--server-side",
                "--field-manager=slipway",
                "-f",
                "-",
            ],
            Some(&yaml),
        );
    }

    fn ksvc(&self, name: &str) -> Value {
        serde_json::from_str(&self.kubectl(&["get", "ksvc", name, "-o", "json"], None))
            .expect("JSON")
    }

    /// Polls until the reconciliation gives `want`.
    fn until(&self, name: &str, what: &str, mut f: impl FnMut(&Value) -> bool) -> Value {
        let start = Instant::now();
        loop {
            let s = self.ksvc(name);
            if f(&s) {
                return s;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "timed out waiting for {what}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

#[test]
fn the_rendered_service_is_accepted_and_the_canary_walks_on_kubesim() {
    let Some(c) = Cluster::start() else {
        return;
    };
    let container = |image: &str| {
        Container::new(image)
            .port(8080)
            .env("MODE", "test")
            .readiness(Probe::http("/healthz").period(1))
            .limit("memory", "256Mi")
    };
    let steps = parse_steps("setWeight=20,pause").expect("steps");
    c.apply(&render("hello", &container("img:1"), &traffic_latest()));
    let s = c.until("hello", "the first revision", |s| {
        let o = reconcile(
            &steps,
            &State::starting_from(None),
            &Observed::from_service(s),
            Action::Reconcile,
            0,
        );
        o.phase == Phase::Healthy
    });
    assert_eq!(s["status"]["latestReadyRevisionName"], "hello-00001");
    let observed = Observed::from_service(&s);
    assert_eq!(observed.serving().as_deref(), Some("hello-00001"));

    // The canary: a new template, the machine's traffic written until it pauses at 20%.
    let mut state = State::starting_from(observed.serving());
    let mut traffic = reconcile(&steps, &state, &observed, Action::Reconcile, 0).traffic;
    let mut phase = Phase::Progressing;
    let start = Instant::now();
    while phase != Phase::Paused {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the canary did not pause"
        );
        c.apply(&render("hello", &container("img:2"), &traffic));
        std::thread::sleep(Duration::from_millis(50));
        let o = reconcile(
            &steps,
            &state,
            &Observed::from_service(&c.ksvc("hello")),
            Action::Reconcile,
            0,
        );
        (phase, traffic, state) = (o.phase, o.traffic, o.state);
    }
    let s = c.ksvc("hello");
    assert_eq!(
        Observed::from_service(&s).traffic,
        [
            ("hello-00001".to_owned(), 80),
            ("hello-00002".to_owned(), 20)
        ]
    );
    assert_eq!(traffic[1].percent, Weight::new(20).expect("w").get());
    assert_eq!(s["status"]["traffic"][1]["tag"], "candidate");

    // Promotion, then a rollback.
    for (action, want) in [
        (Action::Promote, vec![("hello-00002".to_owned(), 100)]),
        (Action::Rollback, vec![("hello-00001".to_owned(), 100)]),
    ] {
        let o = reconcile(
            &steps,
            &state,
            &Observed::from_service(&c.ksvc("hello")),
            action,
            0,
        );
        state = o.state;
        c.apply(&render("hello", &container("img:2"), &o.traffic));
        c.until("hello", "the traffic", |s| {
            Observed::from_service(s).traffic == want
        });
    }
    let o = reconcile(
        &steps,
        &state,
        &Observed::from_service(&c.ksvc("hello")),
        Action::Reconcile,
        0,
    );
    assert_eq!(o.phase, Phase::Degraded);
    assert_eq!(
        c.ksvc("hello")["status"]["latestCreatedRevisionName"],
        "hello-00002"
    );
}
