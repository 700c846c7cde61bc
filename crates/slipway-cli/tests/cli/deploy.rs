//! `slipway deploy plan`: the JSON and table it prints, and its refusals (exit 1, naming the flag or field).

use std::process::Output;

use crate::run;

fn stdout_json(out: &Output) -> serde_json::Value {
    assert!(out.status.success(), "{out:?}");
    serde_json::from_slice(&out.stdout).expect("stdout is JSON")
}

fn fails_with(args: &[&str], needle: &str) {
    let out = run(args);
    assert_eq!(out.status.code(), Some(1), "{args:?}: {out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(needle), "{args:?}: {stderr}");
    assert!(out.stdout.is_empty(), "{args:?}");
}

#[test]
fn canary_plan_json_follows_the_steps() {
    let out = run(&[
        "deploy",
        "plan",
        "--strategy",
        "canary",
        "--replicas",
        "10",
        "--steps",
        "setWeight=20,pause=30s,analysis=smoke,setWeight=50,pause",
        "--json",
    ]);
    let json = stdout_json(&out);
    let steps = json.as_array().unwrap();
    assert_eq!(steps.len(), 6);
    for (i, s) in steps.iter().enumerate() {
        assert_eq!(s["step"], i);
        for key in ["action", "weight", "canaryReplicas", "stableReplicas"] {
            assert!(s.get(key).is_some(), "{key} missing in {s}");
        }
    }
    assert_eq!(
        steps[0],
        serde_json::json!({"step": 0, "action": "setWeight", "weight": 20, "canaryReplicas": 2, "stableReplicas": 8})
    );
    assert_eq!(steps[1]["durationSeconds"], 30);
    assert_eq!(steps[2]["templates"], serde_json::json!(["smoke"]));
    assert_eq!(steps[4]["untilPromoted"], true);
    assert_eq!(
        steps[5],
        serde_json::json!({"step": 5, "action": "promote", "weight": 100, "canaryReplicas": 10, "stableReplicas": 0})
    );
}

#[test]
fn budget_and_router_flags_change_the_replicas() {
    // Argo's (3 replicas, 10%, surge 1) case: 1 canary beside 3 stable.
    let json = stdout_json(&run(&[
        "deploy",
        "plan",
        "--strategy",
        "canary",
        "--replicas",
        "3",
        "--steps",
        "setWeight=10",
        "--max-surge",
        "1",
        "--max-unavailable",
        "0",
        "--json",
    ]));
    assert_eq!(
        (
            json[0]["canaryReplicas"].as_u64(),
            json[0]["stableReplicas"].as_u64()
        ),
        (Some(1), Some(3))
    );
    // Behind Istio the stable stays at N and the canary gets ceil(10% of 3) = 1.
    let json = stdout_json(&run(&[
        "deploy",
        "plan",
        "--strategy",
        "canary",
        "--replicas",
        "3",
        "--steps",
        "setWeight=10,setCanaryScale=replicas:2",
        "--traffic-router",
        "istio",
        "--json",
    ]));
    assert_eq!(json[0]["stableReplicas"], 3);
    assert_eq!(json[1]["canaryReplicas"], 2);
    // Rolling: 4 replicas, surge 1, unavailable 0: one new pod at a time.
    let json = stdout_json(&run(&[
        "deploy",
        "plan",
        "--strategy",
        "rolling",
        "--replicas",
        "4",
        "--max-surge",
        "1",
        "--max-unavailable",
        "0",
        "--json",
    ]));
    let states: Vec<(u64, u64)> = json
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["canaryReplicas"].as_u64().unwrap(),
                s["stableReplicas"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        states,
        [
            (1, 4),
            (1, 3),
            (2, 3),
            (2, 2),
            (3, 2),
            (3, 1),
            (4, 1),
            (4, 0)
        ]
    );
}

#[test]
fn strategy_file_reads_argo_rollouts_yaml() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rollout.yaml");
    std::fs::write(
        &file,
        "strategy:\n  blueGreen:\n    activeService: web\n    autoPromotionEnabled: false\n    scaleDownDelaySeconds: 10\n",
    )
    .unwrap();
    let file = file.to_str().unwrap();
    let json = stdout_json(&run(&[
        "deploy",
        "plan",
        "--replicas",
        "2",
        "--strategy-file",
        file,
        "--json",
    ]));
    let actions: Vec<&str> = json
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["scalePreview", "pause", "promote", "scaleDown"]);
    assert_eq!(json[3]["durationSeconds"], 10);
    fails_with(
        &[
            "deploy",
            "plan",
            "--replicas",
            "2",
            "--strategy",
            "canary",
            "--strategy-file",
            file,
        ],
        "--strategy canary contradicts",
    );
    fails_with(
        &[
            "deploy",
            "plan",
            "--replicas",
            "2",
            "--strategy-file",
            file,
            "--steps",
            "setWeight=5",
        ],
        "--steps cannot be combined with --strategy-file",
    );
    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "canary:\n  steps:\n  - setWeight: 20\n  - experiment: {}\n",
    )
    .unwrap();
    fails_with(
        &[
            "deploy",
            "plan",
            "--replicas",
            "2",
            "--strategy-file",
            bad.to_str().unwrap(),
        ],
        "canary.steps[1]: step kind \"experiment\" is not supported",
    );
    std::fs::write(&bad, "canary:\n  steps:\n  - setWeight: 120\n").unwrap();
    fails_with(
        &[
            "deploy",
            "plan",
            "--replicas",
            "2",
            "--strategy-file",
            bad.to_str().unwrap(),
        ],
        "line 3, column",
    );
    // Bounded read: a file just over the limit is refused without being parsed.
    let big = dir.path().join("big.yaml");
    std::fs::write(&big, vec![b'#'; 1024 * 1024 + 1]).unwrap();
    fails_with(
        &[
            "deploy",
            "plan",
            "--replicas",
            "2",
            "--strategy-file",
            big.to_str().unwrap(),
        ],
        "larger than 1048576 bytes",
    );
}

#[test]
fn table_without_json() {
    let out = run(&[
        "deploy",
        "plan",
        "--strategy",
        "canary",
        "--replicas",
        "4",
        "--steps",
        "setWeight=25,pause",
    ]);
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "STEP  ACTION     WEIGHT  CANARY  STABLE  DETAIL");
    assert_eq!(lines[1], "0     setWeight  25%     1       3");
    assert_eq!(
        lines[2],
        "1     pause      25%     1       3       until promoted"
    );
    assert_eq!(lines[3], "2     promote    100%    4       0");
}

#[test]
fn bad_input_names_the_flag_and_exits_1() {
    let canary = ["deploy", "plan", "--strategy", "canary", "--replicas", "4"];
    let with = |extra: &[&'static str]| -> Vec<&'static str> {
        canary
            .iter()
            .copied()
            .chain(extra.iter().copied())
            .collect()
    };
    fails_with(
        &with(&["--steps", "setWeight=20,setWieght=30"]),
        "--steps item 1 (\"setWieght=30\"): unknown step kind",
    );
    fails_with(&with(&["--steps", "setWeight=120"]), "--steps item 0");
    fails_with(
        &with(&["--steps", "pause=30y"]),
        "--steps item 0: invalid duration \"30y\"",
    );
    fails_with(
        &with(&["--steps", "setCanaryScale=replicas:2"]),
        "--steps item 0: setCanaryScale requires a traffic router",
    );
    fails_with(
        &with(&["--max-surge", "-1"]),
        "--max-surge: invalid value \"-1\"",
    );
    fails_with(
        &with(&["--max-unavailable", "1.5%"]),
        "--max-unavailable: invalid value",
    );
    fails_with(
        &with(&["--max-surge", "0", "--max-unavailable", "0%"]),
        "maxSurge and maxUnavailable cannot both be zero",
    );
    fails_with(
        &with(&["--traffic-router", "nginx"]),
        "--traffic-router: unknown traffic router \"nginx\"",
    );
    fails_with(
        &[
            "deploy",
            "plan",
            "--strategy",
            "canary-ish",
            "--replicas",
            "4",
        ],
        "--strategy: unknown strategy",
    );
    fails_with(
        &["deploy", "plan", "--strategy", "canary", "--replicas", "-3"],
        "--replicas: invalid value \"-3\"",
    );
    fails_with(
        &["deploy", "plan", "--strategy", "canary"],
        "--replicas is required",
    );
    fails_with(
        &["deploy", "plan", "--replicas", "3"],
        "--strategy is required",
    );
    fails_with(
        &[
            "deploy",
            "plan",
            "--strategy",
            "rolling",
            "--replicas",
            "3",
            "--steps",
            "setWeight=5",
        ],
        "--steps is only for the canary strategy",
    );
    fails_with(
        &[
            "deploy",
            "plan",
            "--strategy",
            "rolling",
            "--replicas",
            "3",
            "--traffic-router",
            "istio",
        ],
        "--traffic-router is only for the canary strategy",
    );
}

/// A kubesim with a kubeconfig for the CLI's rollout commands.
struct Cluster {
    _sim: slipway_kubesim::Sim,
    dir: tempfile::TempDir,
}

impl Cluster {
    fn start() -> Cluster {
        let sim = slipway_kubesim::Sim::start(
            slipway_kubesim::Options::default().ready_after(std::time::Duration::from_millis(50)),
        )
        .expect("kubesim");
        let dir = tempfile::tempdir().expect("dir");
        sim.write_kubeconfig(&dir.path().join("config"))
            .expect("kubeconfig");
        Cluster { _sim: sim, dir }
    }

    fn run(&self, args: &[&str]) -> Output {
        let config = self.dir.path().join("config");
        let mut all = args.to_vec();
        all.extend([
            "--kubeconfig",
            config.to_str().expect("utf-8"),
            "--name",
            "web",
        ]);
        run(&all)
    }
}

#[test]
fn apply_promote_abort_and_status_exit_as_documented() {
    let c = Cluster::start();
    let first = c.run(&[
        "deploy",
        "apply",
        "--image",
        "web:1",
        "--replicas",
        "2",
        "--port",
        "8080",
        "--strategy",
        "rolling",
    ]);
    assert_eq!(first.status.code(), Some(0), "{first:?}");
    let stderr = String::from_utf8_lossy(&first.stderr);
    assert!(stderr.contains("Healthy: "), "progress lines: {stderr}");

    let paused = c.run(&[
        "deploy",
        "apply",
        "--image",
        "web:2",
        "--strategy",
        "canary",
        "--steps",
        "setWeight=50,pause",
    ]);
    assert_eq!(paused.status.code(), Some(2), "{paused:?}");
    let status = c.run(&["deploy", "status", "--json"]);
    assert_eq!(status.status.code(), Some(2), "{status:?}");
    let state: serde_json::Value = serde_json::from_slice(&status.stdout).expect("json");
    assert_eq!(state["phase"], "Paused");
    assert_eq!(state["weight"], 50);
    assert_eq!(state["image"], "web:2");

    let promoted = c.run(&["deploy", "promote"]);
    assert_eq!(promoted.status.code(), Some(0), "{promoted:?}");

    let paused = c.run(&[
        "deploy",
        "apply",
        "--image",
        "web:3",
        "--strategy",
        "canary",
        "--steps",
        "setWeight=50,pause",
    ]);
    assert_eq!(paused.status.code(), Some(2), "{paused:?}");
    let aborted = c.run(&["deploy", "abort"]);
    assert_eq!(aborted.status.code(), Some(0), "{aborted:?}");
    let status = c.run(&["deploy", "status"]);
    assert_eq!(status.status.code(), Some(1), "Degraded: {status:?}");
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(
        text.contains("Degraded") && text.contains("Aborted"),
        "{text}"
    );

    let back = c.run(&["deploy", "rollback", "--to-revision", "1"]);
    assert_eq!(back.status.code(), Some(0), "{back:?}");
}

#[test]
fn apply_dry_run_prints_what_it_would_create() {
    let out = run(&[
        "deploy",
        "apply",
        "--dry-run",
        "--name",
        "api",
        "--image",
        "api:1",
        "--strategy",
        "canary",
        "--port",
        "80",
    ]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let yaml = String::from_utf8_lossy(&out.stdout);
    assert!(
        yaml.contains("kind: Deployment") && yaml.contains("image: api:1"),
        "{yaml}"
    );
    assert!(yaml.contains("kind: Service"), "{yaml}");
}

#[test]
fn apply_refuses_bad_input_naming_it() {
    fails_with(
        &[
            "deploy",
            "apply",
            "--dry-run",
            "--name",
            "a",
            "--image",
            "a:1",
            "--strategy",
            "zigzag",
        ],
        "--strategy",
    );
    let no_cluster = crate::slipway()
        .args([
            "deploy",
            "apply",
            "--name",
            "a",
            "--image",
            "a:1",
            "--strategy",
            "rolling",
        ])
        .env("KUBECONFIG", "/nonexistent/kubeconfig")
        .env_remove("KUBERNETES_SERVICE_HOST")
        .output()
        .expect("runs");
    assert_eq!(no_cluster.status.code(), Some(1), "{no_cluster:?}");
    assert!(
        String::from_utf8_lossy(&no_cluster.stderr).contains("kubeconfig"),
        "{no_cluster:?}"
    );
    fails_with(
        &[
            "deploy",
            "apply",
            "--dry-run",
            "--name",
            "a",
            "--image",
            "a:1",
            "--strategy",
            "canary",
            "--arg",
            "nokey",
        ],
        "--arg",
    );
}
