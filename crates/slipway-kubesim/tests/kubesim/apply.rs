//! Server-side apply through the real clients: kubectl 1.32 (`apply --server-side`,
//! `--force-conflicts`, client-side apply, `get --show-managed-fields`) and kube-rs (`Patch::Apply`),
//! against what the Kubernetes docs' "Server-Side Apply" page shows a cluster answering.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};
use slipway_kubesim::{Options, Sim};

struct Cluster {
    sim: Sim,
    dir: tempfile::TempDir,
}

impl Cluster {
    fn start() -> Option<Cluster> {
        if Command::new("kubectl")
            .arg("version")
            .arg("--client")
            .output()
            .is_err()
        {
            eprintln!("SKIPPED: kubectl is not installed");
            return None;
        }
        let sim = Sim::start(Options::default()).expect("starts");
        let dir = tempfile::tempdir().expect("tempdir");
        sim.write_kubeconfig(&dir.path().join("config"))
            .expect("kubeconfig");
        Some(Cluster { sim, dir })
    }

    fn file(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).expect("write");
        path
    }

    /// Runs kubectl; returns (success, stdout, stderr).
    fn kubectl(&self, args: &[&str]) -> (bool, String, String) {
        let out = Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(self.dir.path().join("config"))
            .args(args)
            .env("HOME", self.dir.path())
            .output()
            .expect("kubectl runs");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    fn ok(&self, args: &[&str]) -> String {
        let (ok, out, err) = self.kubectl(args);
        assert!(ok, "kubectl {args:?} failed: {err}");
        out
    }

    fn get(&self, what: &str) -> Value {
        let text = self.ok(&["get", what, "-o", "json", "--show-managed-fields"]);
        serde_json::from_str(&text).expect("JSON")
    }
}

fn manifest(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

/// (manager, operation, fieldsV1) of each entry.
fn owners(object: &Value) -> Vec<(String, String, Value)> {
    object["metadata"]["managedFields"]
        .as_array()
        .expect("managedFields")
        .iter()
        .map(|e| {
            (
                e["manager"].as_str().expect("manager").to_owned(),
                e["operation"].as_str().expect("operation").to_owned(),
                e["fieldsV1"].clone(),
            )
        })
        .collect()
}

const CONFIGMAP: &str = r#"{"apiVersion": "v1", "kind": "ConfigMap",
  "metadata": {"name": "test-cm", "namespace": "default", "labels": {"test-label": "test"}},
  "data": {"key": "some value"}}"#;

#[test]
fn kubectl_server_side_apply_records_the_docs_managed_fields() {
    let Some(c) = Cluster::start() else { return };
    let cm = c.file("cm.json", CONFIGMAP);
    let out = c.ok(&["apply", "--server-side", "-f", manifest(&cm)]);
    assert_eq!(out.trim(), "configmap/test-cm serverside-applied");
    let got = c.get("configmap/test-cm");
    let entries = got["metadata"]["managedFields"]
        .as_array()
        .expect("entries");
    assert_eq!(entries.len(), 1, "{entries:?}");
    let e = &entries[0];
    assert_eq!(e["manager"], "kubectl");
    assert_eq!(e["operation"], "Apply");
    assert_eq!(e["apiVersion"], "v1");
    assert_eq!(e["fieldsType"], "FieldsV1");
    assert!(e["time"].is_string());
    assert_eq!(
        e["fieldsV1"],
        json!({"f:data": {"f:key": {}}, "f:metadata": {"f:labels": {"f:test-label": {}}}})
    );
    // Without --show-managed-fields kubectl hides them, as against a real cluster.
    let plain: Value =
        serde_json::from_str(&c.ok(&["get", "configmap/test-cm", "-o", "json"])).expect("JSON");
    assert!(plain["metadata"].get("managedFields").is_none());
    // Applying the same configuration again changes nothing.
    let rv = got["metadata"]["resourceVersion"].clone();
    c.ok(&["apply", "--server-side", "-f", manifest(&cm)]);
    assert_eq!(
        c.get("configmap/test-cm")["metadata"]["resourceVersion"],
        rv
    );
}

#[test]
fn kubectl_conflicts_with_another_manager_and_forces() {
    let Some(c) = Cluster::start() else { return };
    let cm = c.file("cm.json", CONFIGMAP);
    c.ok(&["apply", "--server-side", "-f", manifest(&cm)]);
    let changed = c.file("changed.json", &CONFIGMAP.replace("some value", "other"));
    let (ok, _, err) = c.kubectl(&[
        "apply",
        "--server-side",
        "--field-manager=second",
        "-f",
        manifest(&changed),
    ]);
    assert!(!ok);
    assert!(
        err.contains(r#"Apply failed with 1 conflict: conflict with "kubectl": .data.key"#),
        "{err}"
    );
    c.ok(&[
        "apply",
        "--server-side",
        "--field-manager=second",
        "--force-conflicts",
        "-f",
        manifest(&changed),
    ]);
    let got = c.get("configmap/test-cm");
    assert_eq!(got["data"]["key"], "other");
    let o = owners(&got);
    assert_eq!(
        o,
        [
            (
                "kubectl".to_owned(),
                "Apply".to_owned(),
                json!({"f:metadata": {"f:labels": {"f:test-label": {}}}})
            ),
            (
                "second".to_owned(),
                "Apply".to_owned(),
                json!({"f:data": {"f:key": {}}, "f:metadata": {"f:labels": {"f:test-label": {}}}})
            ),
        ]
    );
    // The first manager stops applying the label: the second still owns it, so it stays.
    let unlabelled = c.file(
        "unlabelled.json",
        r#"{"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "test-cm", "namespace": "default"}}"#,
    );
    c.ok(&["apply", "--server-side", "-f", manifest(&unlabelled)]);
    let got = c.get("configmap/test-cm");
    assert_eq!(got["metadata"]["labels"]["test-label"], "test");
    // Once the second stops applying it too, it is removed.
    c.ok(&[
        "apply",
        "--server-side",
        "--field-manager=second",
        "-f",
        manifest(&unlabelled),
    ]);
    let got = c.get("configmap/test-cm");
    assert!(got["metadata"].get("labels").is_none(), "{got}");
    assert!(got.get("data").is_none(), "{got}");
}

const DEPLOYMENT: &str = r#"{"apiVersion": "apps/v1", "kind": "Deployment",
  "metadata": {"name": "nginx", "namespace": "default"},
  "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "nginx"}},
    "template": {"metadata": {"labels": {"app": "nginx"}},
      "spec": {"containers": [{"name": "nginx", "image": "nginx:1.14.2"}]}}}}"#;

#[test]
fn kubectl_server_side_apply_after_client_side_apply() {
    let Some(c) = Cluster::start() else { return };
    let d = c.file("d.json", DEPLOYMENT);
    c.ok(&["apply", "-f", manifest(&d)]);
    let got = c.get("deployment/nginx");
    let o = owners(&got);
    let csa = o
        .iter()
        .find(|e| e.0 == "kubectl-client-side-apply")
        .expect("client-side apply's entry");
    assert_eq!(csa.1, "Update");
    assert_eq!(csa.2["f:spec"]["f:replicas"], json!({}));
    assert_eq!(
        csa.2["f:metadata"]["f:annotations"],
        json!({".": {}, "f:kubectl.kubernetes.io/last-applied-configuration": {}})
    );
    assert_eq!(
        csa.2["f:spec"]["f:template"]["f:spec"]["f:containers"],
        json!({"k:{\"name\":\"nginx\"}": {".": {}, "f:image": {}, "f:imagePullPolicy": {},
            "f:name": {}, "f:resources": {}, "f:terminationMessagePath": {},
            "f:terminationMessagePolicy": {}}})
    );
    // Another manager changing a field client-side apply set conflicts, named with its apiVersion.
    let scaled = c.file(
        "scaled.json",
        &DEPLOYMENT.replace("\"replicas\": 2", "\"replicas\": 3"),
    );
    let (ok, _, err) = c.kubectl(&[
        "apply",
        "--server-side",
        "--field-manager=other",
        "-f",
        manifest(&scaled),
    ]);
    assert!(!ok);
    assert!(
        err.contains(
            r#"Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using apps/v1: .spec.replicas"#
        ),
        "{err}"
    );
    // kubectl itself takes the fields over (the last-applied annotation agrees with the object)
    // and keeps the annotation in step.
    c.ok(&["apply", "--server-side", "-f", manifest(&scaled)]);
    let got = c.get("deployment/nginx");
    assert_eq!(got["spec"]["replicas"], 3);
    let last: Value = serde_json::from_str(
        got["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
            .as_str()
            .expect("annotation"),
    )
    .expect("JSON");
    assert_eq!(last["spec"]["replicas"], 3);
    let o = owners(&got);
    let applied = o
        .iter()
        .find(|e| e.0 == "kubectl")
        .expect("kubectl's entry");
    assert_eq!(applied.1, "Apply");
    assert_eq!(applied.2["f:spec"]["f:replicas"], json!({}));
    // kubectl scale is an update through the scale subresource: its own entry.
    c.ok(&["scale", "deployment/nginx", "--replicas=4"]);
    let got = c.get("deployment/nginx");
    let scale = got["metadata"]["managedFields"]
        .as_array()
        .expect("entries")
        .iter()
        .find(|e| e["subresource"] == "scale")
        .expect("scale entry")
        .clone();
    assert_eq!(scale["manager"], "kubectl");
    assert_eq!(scale["operation"], "Update");
    assert_eq!(scale["fieldsV1"], json!({"f:spec": {"f:replicas": {}}}));
}

#[test]
fn kubectl_server_side_apply_removes_what_it_no_longer_applies() {
    let Some(c) = Cluster::start() else { return };
    let first = c.file(
        "first.json",
        &DEPLOYMENT.replace(
            r#"{"name": "nginx", "image": "nginx:1.14.2"}"#,
            r#"{"name": "nginx", "image": "nginx:1.14.2"}, {"name": "sidecar", "image": "busybox"}"#,
        ),
    );
    c.ok(&["apply", "--server-side", "-f", manifest(&first)]);
    let got = c.get("deployment/nginx");
    assert_eq!(
        got["spec"]["template"]["spec"]["containers"]
            .as_array()
            .expect("containers")
            .len(),
        2
    );
    assert_eq!(
        owners(&got)[0].2["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"sidecar\"}"],
        json!({".": {}, "f:image": {}, "f:name": {}})
    );
    let second = c.file("second.json", DEPLOYMENT);
    c.ok(&["apply", "--server-side", "-f", manifest(&second)]);
    let got = c.get("deployment/nginx");
    let names: Vec<&str> = got["spec"]["template"]["spec"]["containers"]
        .as_array()
        .expect("containers")
        .iter()
        .map(|c| c["name"].as_str().expect("name"))
        .collect();
    assert_eq!(names, ["nginx"]);
}

#[test]
fn apply_requires_a_field_manager() {
    let Some(c) = Cluster::start() else { return };
    let url = format!("{}/api/v1/namespaces/default/configmaps/x", c.sim.url());
    let out = Command::new("curl")
        .args([
            "-s",
            "-X",
            "PATCH",
            "-H",
            "Content-Type: application/apply-patch+yaml",
        ])
        .arg("--data")
        .arg(r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"}}"#)
        .arg(&url)
        .output();
    let Ok(out) = out else {
        eprintln!("SKIPPED: curl is not installed");
        return;
    };
    let status: Value = serde_json::from_slice(&out.stdout).expect("a Status");
    assert_eq!(status["code"], 422);
    assert_eq!(status["reason"], "Invalid");
    assert_eq!(
        status["message"],
        "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch"
    );
}

#[test]
fn kube_rs_apply_conflict_and_force() {
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::api::{Api, Patch, PatchParams};

    let sim = Sim::start(Options::default()).expect("starts");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let client = sim.client().expect("client");
        let cms: Api<ConfigMap> = Api::namespaced(client, "default");
        let config = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "cfg"}, "data": {"a": "1"}});
        let made = cms
            .patch(
                "cfg",
                &PatchParams::apply("slipway"),
                &Patch::Apply(&config),
            )
            .await
            .expect("created by apply");
        let mf = made.metadata.managed_fields.expect("managedFields");
        assert_eq!(mf.len(), 1);
        assert_eq!(mf[0].manager.as_deref(), Some("slipway"));
        assert_eq!(mf[0].operation.as_deref(), Some("Apply"));
        let other = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "cfg"}, "data": {"a": "2"}});
        let err = cms
            .patch("cfg", &PatchParams::apply("other"), &Patch::Apply(&other))
            .await
            .expect_err("conflict");
        let kube::Error::Api(status) = err else {
            panic!("not a Status: {err}")
        };
        assert_eq!(status.code, 409);
        assert_eq!(status.reason, "Conflict");
        assert_eq!(
            status.message,
            "Apply failed with 1 conflict: conflict with \"slipway\": .data.a"
        );
        let forced = cms
            .patch(
                "cfg",
                &PatchParams::apply("other").force(),
                &Patch::Apply(&other),
            )
            .await
            .expect("forced");
        assert_eq!(
            forced.data.and_then(|d| d.get("a").cloned()).as_deref(),
            Some("2")
        );
        let managers: Vec<String> = forced
            .metadata
            .managed_fields
            .expect("managedFields")
            .into_iter()
            .filter_map(|e| e.manager)
            .collect();
        assert_eq!(managers, ["other"], "slipway lost its only field");
    });
}
