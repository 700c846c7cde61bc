//! The real kubectl against a `Sim`: what it prints must be what it prints against a cluster.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::Value;
use slipway_kubesim::{Options, Sim};

pub struct Kubectl {
    #[allow(dead_code)]
    pub sim: Sim,
    dir: tempfile::TempDir,
}

fn kubectl_available() -> bool {
    Command::new("kubectl")
        .arg("version")
        .arg("--client")
        .output()
        .is_ok_and(|o| o.status.success())
}

impl Kubectl {
    /// A simulator and a kubeconfig for it; `None` (with a loud message) when kubectl is not installed.
    pub fn start(options: Options) -> Option<Self> {
        if !kubectl_available() {
            assert!(
                std::env::var_os("CI").is_none(),
                "kubectl is required in CI"
            );
            eprintln!(
                "SKIPPED: kubectl is not installed; the kubectl tests of slipway-kubesim did not run"
            );
            return None;
        }
        let sim = Sim::start(options).expect("simulator starts");
        let dir = tempfile::tempdir().expect("temp dir");
        sim.write_kubeconfig(&dir.path().join("config"))
            .expect("kubeconfig");
        Some(Kubectl { sim, dir })
    }

    fn kubeconfig(&self) -> PathBuf {
        self.dir.path().join("config")
    }

    /// Runs kubectl with `args`.
    pub fn run(&self, args: &[&str]) -> Output {
        Command::new("kubectl")
            .args(args)
            .env("KUBECONFIG", self.kubeconfig())
            .env("HOME", self.dir.path())
            .output()
            .expect("kubectl runs")
    }

    /// Runs kubectl and returns stdout; panics with stderr when it fails.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "kubectl {args:?} failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs kubectl, expects failure, returns stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            !out.status.success(),
            "kubectl {args:?} should fail: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    /// `kubectl apply -f -` with `yaml` on stdin.
    pub fn apply(&self, yaml: &str, extra: &[&str]) -> String {
        use std::io::Write as _;
        let mut child = Command::new("kubectl")
            .args(["apply", "-f", "-"])
            .args(extra)
            .env("KUBECONFIG", self.kubeconfig())
            .env("HOME", self.dir.path())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("kubectl runs");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(yaml.as_bytes())
            .expect("write");
        let out = child.wait_with_output().expect("kubectl finishes");
        assert!(
            out.status.success(),
            "kubectl apply failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `kubectl get ... -o json` parsed.
    pub fn json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.extend(["-o", "json"]);
        serde_json::from_str(&self.ok(&all)).expect("kubectl printed JSON")
    }

    /// Polls `f` until it is true (the controllers work asynchronously); panics after `limit`.
    pub fn eventually(&self, limit: Duration, what: &str, mut f: impl FnMut(&Self) -> bool) {
        let start = Instant::now();
        while !f(self) {
            assert!(start.elapsed() < limit, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

pub fn deployment(name: &str, image: &str, replicas: u32) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\n  labels: {{app: {name}}}\nspec:\n  replicas: {replicas}\n  selector:\n    matchLabels: {{app: {name}}}\n  template:\n    metadata:\n      labels: {{app: {name}}}\n    spec:\n      containers:\n      - name: app\n        image: {image}\n        ports:\n        - containerPort: 8080\n          name: http\n"
    )
}

fn service(name: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: {name}\nspec:\n  type: NodePort\n  selector: {{app: {name}}}\n  ports:\n  - port: 80\n    targetPort: http\n"
    )
}

fn quick() -> Options {
    Options::default().ready_after(Duration::from_millis(100))
}

#[test]
fn discovery_and_version() {
    let Some(k) = Kubectl::start(quick()) else {
        return;
    };
    let version = k.ok(&["version", "-o", "json"]);
    let v: Value = serde_json::from_str(&version).expect("json");
    assert!(
        v["serverVersion"]["gitVersion"]
            .as_str()
            .expect("version")
            .ends_with("-kubesim")
    );
    let resources = k.ok(&["api-resources", "--no-headers"]);
    for line in [
        "deployments",
        "replicasets",
        "pods",
        "services",
        "endpointslices",
        "customresourcedefinitions",
    ] {
        assert!(
            resources.lines().any(|l| l.starts_with(line)),
            "{line} missing from\n{resources}"
        );
    }
    assert!(
        resources
            .lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>()
                == ["deployments", "deploy", "apps/v1", "true", "Deployment"])
    );
    assert_eq!(k.ok(&["auth", "can-i", "create", "deployments"]), "yes\n");
    assert!(
        k.ok(&["cluster-info"])
            .starts_with("Kubernetes control plane is running at http://127.0.0.1:")
    );
    let explain = k.ok(&["explain", "deployment.spec.strategy"]);
    assert!(
        explain.contains("FIELD: strategy <DeploymentStrategy>"),
        "{explain}"
    );
    let ns = k.ok(&["get", "ns", "-o", "name"]);
    assert_eq!(
        ns.lines().collect::<Vec<_>>(),
        [
            "namespace/default",
            "namespace/kube-node-lease",
            "namespace/kube-public",
            "namespace/kube-system"
        ]
    );
}

#[test]
fn apply_rollout_set_image_history_undo() {
    let Some(k) = Kubectl::start(quick()) else {
        return;
    };
    let out = k.apply(
        &format!(
            "{}---\n{}",
            deployment("web", "reg.example/web:1", 3),
            service("web")
        ),
        &[],
    );
    assert_eq!(out, "deployment.apps/web created\nservice/web created\n");
    let status = k.ok(&["rollout", "status", "deploy/web", "--timeout=30s"]);
    assert!(
        status.ends_with("deployment \"web\" successfully rolled out\n"),
        "{status}"
    );
    let d = k.json(&["get", "deploy", "web"]);
    assert_eq!(d["status"]["availableReplicas"], 3);
    assert_eq!(d["status"]["observedGeneration"], 1);
    assert_eq!(
        d["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
        "1"
    );
    let ep = k.json(&["get", "endpoints", "web"]);
    assert_eq!(
        ep["subsets"][0]["addresses"].as_array().map(Vec::len),
        Some(3)
    );
    assert_eq!(
        ep["subsets"][0]["ports"][0]["port"], 8080,
        "named targetPort resolved"
    );

    assert_eq!(
        k.ok(&["set", "image", "deploy/web", "app=reg.example/web:2"]),
        "deployment.apps/web image updated\n"
    );
    k.ok(&["rollout", "status", "deploy/web", "--timeout=30s"]);
    let rs = k.json(&["get", "rs", "-l", "app=web"]);
    let items = rs["items"].as_array().expect("items");
    assert_eq!(items.len(), 2);
    let history = k.ok(&["rollout", "history", "deploy/web"]);
    assert!(
        history.contains("1         <none>") && history.contains("2         <none>"),
        "{history}"
    );
    assert_eq!(
        k.ok(&["rollout", "undo", "deploy/web"]),
        "deployment.apps/web rolled back\n"
    );
    k.ok(&["rollout", "status", "deploy/web", "--timeout=30s"]);
    let d = k.json(&["get", "deploy", "web"]);
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["image"],
        "reg.example/web:1"
    );
    assert_eq!(
        d["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
        "3"
    );
    let pods = k.json(&["get", "pods", "-l", "app=web"]);
    k.eventually(Duration::from_secs(10), "old pods gone", |k| {
        let pods = k.json(&["get", "pods", "-l", "app=web"]);
        pods["items"].as_array().is_some_and(|a| {
            a.len() == 3
                && a.iter()
                    .all(|p| p["spec"]["containers"][0]["image"] == "reg.example/web:1")
        })
    });
    drop(pods);
}

#[test]
fn scale_wait_pause_resume_restart() {
    let Some(k) = Kubectl::start(quick()) else {
        return;
    };
    k.apply(&deployment("api", "reg.example/api:1", 1), &[]);
    assert_eq!(
        k.ok(&["scale", "deploy/api", "--replicas=4"]),
        "deployment.apps/api scaled\n"
    );
    assert_eq!(
        k.ok(&[
            "wait",
            "--for=condition=Available",
            "deploy/api",
            "--timeout=30s"
        ]),
        "deployment.apps/api condition met\n"
    );
    k.ok(&["rollout", "status", "deploy/api", "--timeout=30s"]);
    assert_eq!(
        k.json(&["get", "deploy", "api"])["status"]["readyReplicas"],
        4
    );
    assert_eq!(
        k.ok(&["rollout", "pause", "deploy/api"]),
        "deployment.apps/api paused\n"
    );
    k.ok(&["set", "image", "deploy/api", "app=reg.example/api:2"]);
    std::thread::sleep(Duration::from_millis(500));
    let rs = k.json(&["get", "rs", "-l", "app=api"]);
    assert_eq!(
        rs["items"].as_array().map(Vec::len),
        Some(1),
        "paused: no new ReplicaSet"
    );
    let d = k.json(&["get", "deploy", "api"]);
    let progressing = d["status"]["conditions"]
        .as_array()
        .expect("conditions")
        .iter()
        .find(|c| c["type"] == "Progressing")
        .cloned()
        .expect("progressing");
    assert_eq!(progressing["reason"], "DeploymentPaused");
    k.ok(&["rollout", "resume", "deploy/api"]);
    k.ok(&["rollout", "status", "deploy/api", "--timeout=30s"]);
    assert_eq!(
        k.ok(&["rollout", "restart", "deploy/api"]),
        "deployment.apps/api restarted\n"
    );
    k.ok(&["rollout", "status", "deploy/api", "--timeout=30s"]);
    let d = k.json(&["get", "deploy", "api"]);
    assert!(
        d["spec"]["template"]["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"]
            .is_string()
    );
    assert_eq!(
        d["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
        "3"
    );
}

#[test]
fn errors_read_as_against_a_cluster() {
    let Some(k) = Kubectl::start(quick()) else {
        return;
    };
    let err = k.fails(&["get", "deploy", "nope"]);
    assert_eq!(
        err,
        "Error from server (NotFound): deployments.apps \"nope\" not found\n"
    );
    k.apply(&deployment("web", "img:1", 1), &[]);
    let err = k.fails(&["create", "-f", "-"]);
    assert!(err.contains("error") || err.contains("Error"), "{err}");
    let bad = deployment("bad", "img:1", 1).replace(
        "    metadata:\n      labels: {app: bad}",
        "    metadata:\n      labels: {app: other}",
    );
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("bad.yaml");
    std::fs::write(&file, bad).expect("write");
    let err = k.fails(&["apply", "-f", file.to_str().expect("utf-8")]);
    assert!(
        err.contains("The Deployment \"bad\" is invalid: spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"other\"}: `selector` does not match template `labels`"),
        "{err}"
    );
    let web = dir.path().join("web.yaml");
    std::fs::write(&web, deployment("web", "img:1", 1)).expect("write");
    let err = k.fails(&["create", "-f", web.to_str().expect("utf-8")]);
    assert_eq!(
        err,
        "Error from server (AlreadyExists): error when creating \"".to_owned()
            + web.to_str().expect("utf-8")
            + "\": deployments.apps \"web\" already exists\n"
    );
    let err = k.fails(&["get", "pods", "--field-selector", "spec.bogus=1"]);
    assert!(
        err.contains("field label not supported: spec.bogus"),
        "{err}"
    );
}

#[test]
fn progress_deadline_and_faults() {
    let Some(k) = Kubectl::start(
        quick()
            .never_ready("*:stuck")
            .crash_loop("*:crash")
            .pull_error("*:missing"),
    ) else {
        return;
    };
    let d = deployment("web", "img:stuck", 2).replace(
        "spec:\n  replicas",
        "spec:\n  progressDeadlineSeconds: 2\n  replicas",
    );
    k.apply(&d, &[]);
    let out = k.run(&["rollout", "status", "deploy/web", "--timeout=30s"]);
    assert!(!out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: deployment \"web\" exceeded its progress deadline\n"
    );
    k.apply(&deployment("crash", "img:crash", 1), &[]);
    k.eventually(Duration::from_secs(15), "a crash loop", |k| {
        let pods = k.ok(&["get", "pods", "-l", "app=crash", "--no-headers"]);
        pods.contains("CrashLoopBackOff") && !pods.contains(" 0 ")
    });
    k.apply(&deployment("gone", "img:missing", 1), &[]);
    k.eventually(Duration::from_secs(10), "a pull error", |k| {
        let pods = k.ok(&["get", "pods", "-l", "app=gone", "--no-headers"]);
        pods.contains("ErrImagePull") || pods.contains("ImagePullBackOff")
    });
}

#[test]
fn delete_cascades_and_orphans() {
    let Some(k) = Kubectl::start(quick()) else {
        return;
    };
    k.apply(&deployment("a", "img:1", 2), &[]);
    k.apply(&deployment("b", "img:1", 2), &[]);
    k.ok(&["rollout", "status", "deploy/a", "--timeout=30s"]);
    k.ok(&["rollout", "status", "deploy/b", "--timeout=30s"]);
    assert_eq!(
        k.ok(&["delete", "deploy", "a"]),
        "deployment.apps \"a\" deleted\n"
    );
    k.eventually(Duration::from_secs(10), "a's pods gone", |k| {
        k.ok(&["get", "rs,pods", "-l", "app=a", "-o", "name"])
            .is_empty()
    });
    k.ok(&["delete", "deploy", "b", "--cascade=orphan"]);
    std::thread::sleep(Duration::from_millis(500));
    let rs = k.json(&["get", "rs", "-l", "app=b"]);
    let items = rs["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "orphaned ReplicaSet kept");
    assert!(items[0]["metadata"].get("ownerReferences").is_none());
    assert_eq!(
        k.json(&["get", "pods", "-l", "app=b"])["items"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
}

#[test]
fn custom_resources_serve_at_once() {
    let Some(k) = Kubectl::start(quick()) else {
        return;
    };
    let crd = "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: virtualservices.networking.istio.io\nspec:\n  group: networking.istio.io\n  scope: Namespaced\n  names:\n    plural: virtualservices\n    singular: virtualservice\n    kind: VirtualService\n    shortNames: [vs]\n  versions:\n  - name: v1\n    served: true\n    storage: true\n    schema:\n      openAPIV3Schema:\n        type: object\n        x-kubernetes-preserve-unknown-fields: true\n";
    assert_eq!(
        k.apply(crd, &[]),
        "customresourcedefinition.apiextensions.k8s.io/virtualservices.networking.istio.io created\n"
    );
    let vs = "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: web\nspec:\n  hosts: [web]\n  http:\n  - route:\n    - destination: {host: web-stable}\n      weight: 80\n    - destination: {host: web-canary}\n      weight: 20\n";
    assert_eq!(
        k.apply(vs, &[]),
        "virtualservice.networking.istio.io/web created\n"
    );
    let got = k.json(&["get", "vs", "web"]);
    assert_eq!(got["spec"]["http"][0]["route"][1]["weight"], 20);
    k.ok(&[
        "patch",
        "vs",
        "web",
        "--type=merge",
        "-p",
        r#"{"spec":{"hosts":["web","web.example"]}}"#,
    ]);
    assert_eq!(
        k.json(&["get", "virtualservice", "web"])["spec"]["hosts"][1],
        "web.example"
    );
    let names = k.ok(&["get", "virtualservices", "-o", "name"]);
    assert_eq!(names, "virtualservice.networking.istio.io/web\n");
    k.ok(&["delete", "crd", "virtualservices.networking.istio.io"]);
    k.eventually(Duration::from_secs(5), "the kind gone", |k| {
        !k.run(&["get", "vs"]).status.success()
    });
}

#[test]
fn labels_limits_and_watch_streams() {
    let Some(k) = Kubectl::start(quick()) else {
        return;
    };
    for i in 0..5 {
        k.apply(&format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c{i}\n  labels: {{tier: t{}}}\ndata:\n  k: v\n", i % 2), &[]);
    }
    assert_eq!(
        k.ok(&["get", "cm", "-l", "tier=t0", "-o", "name"])
            .lines()
            .count(),
        3
    );
    assert_eq!(
        k.ok(&["get", "cm", "-l", "tier in (t0,t1),tier!=t1", "-o", "name"])
            .lines()
            .count(),
        3
    );
    // Paged lists: kubectl asks with limit=N and follows continue tokens.
    let names = k.ok(&["get", "cm", "--chunk-size=2", "-o", "name"]);
    assert_eq!(
        names
            .lines()
            .filter(|l| l.starts_with("configmap/c"))
            .count(),
        5
    );
    let out = k.run(&["get", "cm", "-w", "--request-timeout=1s", "-o", "name"]);
    let seen = String::from_utf8_lossy(&out.stdout);
    assert!(seen.contains("configmap/c4"), "{seen}");
}

#[test]
fn typed_create_commands_and_namespace_deletion() {
    // kubectl's `create <kind>` commands send protobuf bodies.
    let Some(k) = Kubectl::start(quick()) else {
        return;
    };
    assert_eq!(
        k.ok(&["create", "namespace", "team"]),
        "namespace/team created\n"
    );
    assert_eq!(
        k.ok(&[
            "-n",
            "team",
            "create",
            "deployment",
            "web",
            "--image=reg.example/web:1",
            "--replicas=2",
            "--port=8080"
        ]),
        "deployment.apps/web created\n"
    );
    assert_eq!(
        k.ok(&[
            "-n",
            "team",
            "create",
            "configmap",
            "cfg",
            "--from-literal=greeting=héllo wörld"
        ]),
        "configmap/cfg created\n"
    );
    assert_eq!(
        k.ok(&[
            "-n",
            "team",
            "create",
            "secret",
            "generic",
            "s",
            "--from-literal=token=s3cr3t"
        ]),
        "secret/s created\n"
    );
    assert_eq!(
        k.ok(&[
            "-n",
            "team",
            "create",
            "service",
            "nodeport",
            "web",
            "--tcp=80:8080"
        ]),
        "service/web created\n"
    );
    assert_eq!(
        k.ok(&["-n", "team", "create", "serviceaccount", "bot"]),
        "serviceaccount/bot created\n"
    );
    k.ok(&[
        "-n",
        "team",
        "rollout",
        "status",
        "deploy/web",
        "--timeout=30s",
    ]);
    assert_eq!(
        k.json(&["-n", "team", "get", "cm", "cfg"])["data"]["greeting"],
        "héllo wörld"
    );
    assert_eq!(
        k.json(&["-n", "team", "get", "secret", "s"])["data"]["token"],
        "czNjcjN0"
    );
    let svc = k.json(&["-n", "team", "get", "svc", "web"]);
    let node_port = svc["spec"]["ports"][0]["nodePort"]
        .as_i64()
        .expect("a node port");
    assert!((30_000..=32_767).contains(&node_port));
    assert_eq!(svc["spec"]["ports"][0]["targetPort"], 8080);
    k.eventually(
        Duration::from_secs(10),
        "endpoints for the created service",
        |k| {
            k.json(&["-n", "team", "get", "endpoints", "web"])["subsets"][0]["addresses"]
                .as_array()
                .map(Vec::len)
                == Some(2)
        },
    );
    delete_namespace(&k, "team");
}

fn delete_namespace(k: &Kubectl, name: &str) {
    assert_eq!(
        k.ok(&["delete", "namespace", name]),
        format!("namespace \"{name}\" deleted\n")
    );
    assert!(
        k.fails(&["get", "namespace", name])
            .contains(&format!("namespaces \"{name}\" not found"))
    );
    let err = k.fails(&["-n", name, "create", "configmap", "again"]);
    assert!(
        err.contains(&format!("namespaces \"{name}\" not found")),
        "{err}"
    );
}

#[test]
fn server_side_tables_and_describe() {
    let Some(k) = Kubectl::start(quick()) else {
        return;
    };
    k.apply(
        &format!(
            "{}---\n{}",
            deployment("web", "reg.example/web:1", 2),
            service("web")
        ),
        &[],
    );
    k.ok(&["rollout", "status", "deploy/web", "--timeout=30s"]);
    let table = k.ok(&["get", "deploy"]);
    let mut lines = table.lines();
    assert_eq!(
        lines
            .next()
            .map(|l| l.split_whitespace().collect::<Vec<_>>()),
        Some(vec!["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"])
    );
    let row: Vec<&str> = lines.next().expect("a row").split_whitespace().collect();
    assert_eq!(&row[..4], ["web", "2/2", "2", "2"]);
    let svc = k.ok(&["get", "svc", "web", "--no-headers"]);
    let cols: Vec<&str> = svc.split_whitespace().collect();
    assert_eq!(cols[1], "NodePort");
    assert!(
        cols[4].starts_with("80:") && cols[4].ends_with("/TCP"),
        "{svc}"
    );
    let pods = k.ok(&["get", "pods", "-o", "wide", "--no-headers"]);
    assert!(
        pods.lines()
            .all(|l| l.contains("Running") && l.contains("kubesim")),
        "{pods}"
    );
    let describe = k.ok(&["describe", "deploy", "web"]);
    assert!(
        describe.contains(
            "Replicas:               2 desired | 2 updated | 2 total | 2 available | 0 unavailable"
        ),
        "{describe}"
    );
    assert!(describe.contains("ScalingReplicaSet"), "{describe}");
}

#[test]
fn unknown_fields_follow_field_validation() {
    let Some(k) = Kubectl::start(quick()) else {
        return;
    };
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("bad.yaml");
    std::fs::write(
        &file,
        deployment("web", "img:1", 1).replace("spec:\n  replicas", "spec:\n  bogus: 1\n  replicas"),
    )
    .expect("write");
    let path = file.to_str().expect("utf-8");
    let err = k.fails(&["apply", "-f", path]);
    assert_eq!(
        err,
        format!(
            "Error from server (BadRequest): error when creating \"{path}\": Deployment in version \"v1\" cannot be handled as a Deployment: strict decoding error: unknown field \"spec.bogus\"\n"
        )
    );
    let out = k.run(&["apply", "-f", path, "--validate=warn"]);
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "Warning: unknown field \"spec.bogus\"\n"
    );
    assert!(
        k.json(&["get", "deploy", "web"])["spec"]
            .get("bogus")
            .is_none()
    );
}

#[test]
fn recreate_history_limit_and_min_ready() {
    let Some(k) = Kubectl::start(quick()) else {
        return;
    };
    let recreate = deployment("rec", "img:1", 2).replace(
        "spec:\n  replicas",
        "spec:\n  strategy: {type: Recreate}\n  revisionHistoryLimit: 1\n  minReadySeconds: 1\n  replicas",
    );
    k.apply(&recreate, &[]);
    k.ok(&["rollout", "status", "deploy/rec", "--timeout=30s"]);
    let d = k.json(&["get", "deploy", "rec"]);
    assert!(d["spec"]["strategy"].get("rollingUpdate").is_none());
    // minReadySeconds: ready pods count as available only a second later.
    let ready_at = d["status"]["conditions"]
        .as_array()
        .expect("conditions")
        .iter()
        .any(|c| c["type"] == "Available" && c["status"] == "True");
    assert!(ready_at);
    for image in ["img:2", "img:3", "img:4"] {
        k.ok(&["set", "image", "deploy/rec", &format!("app={image}")]);
        // Recreate: the old pods are gone before any new one exists.
        let mut saw_mixed = false;
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let pods = k.json(&["get", "pods", "-l", "app=rec"]);
            let images: std::collections::BTreeSet<String> = pods["items"]
                .as_array()
                .expect("items")
                .iter()
                .filter(|p| p["metadata"].get("deletionTimestamp").is_none())
                .map(|p| {
                    p["spec"]["containers"][0]["image"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned()
                })
                .collect();
            saw_mixed |= images.len() > 1;
            let d = k.json(&["get", "deploy", "rec"]);
            if d["status"]["updatedReplicas"] == 2
                && d["status"]["availableReplicas"] == 2
                && d["status"]["replicas"] == 2
            {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "Recreate rollout to {image} did not finish"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(!saw_mixed, "Recreate never runs two versions at once");
    }
    // revisionHistoryLimit 1: the current ReplicaSet and one old one.
    k.eventually(Duration::from_secs(10), "old ReplicaSets cleaned up", |k| {
        k.json(&["get", "rs", "-l", "app=rec"])["items"]
            .as_array()
            .map(Vec::len)
            == Some(2)
    });
    let yaml = k.ok(&["get", "deploy", "rec", "-o", "yaml"]);
    assert!(
        yaml.contains("deployment.kubernetes.io/revision: \"4\""),
        "{yaml}"
    );
    assert!(yaml.contains("  strategy:\n    type: Recreate\n"), "{yaml}");
}
