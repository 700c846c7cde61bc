//! The semantics of the Kubernetes docs' "Server-Side Apply" page, on the apiserver's own answers.

use serde_json::{Value, json};

use super::*;

const T1: &str = "2025-01-01T00:00:01Z";
const T2: &str = "2025-01-01T00:00:02Z";

fn cm_schema() -> Option<&'static Schema> {
    Schema::for_kind("", "v1", "ConfigMap")
}

fn deploy_schema() -> Option<&'static Schema> {
    Schema::for_kind("apps", "v1", "Deployment")
}

fn entries(object: &Value) -> Vec<(String, String, Value)> {
    object["metadata"]["managedFields"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| {
                    (
                        e["manager"].as_str().unwrap_or_default().to_owned(),
                        e["operation"].as_str().unwrap_or_default().to_owned(),
                        e["fieldsV1"].clone(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn test_cm() -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "test-cm", "namespace": "default", "labels": {"test-label": "test"}},
        "data": {"key": "some value"}})
}

#[test]
fn the_docs_configmap_is_owned_by_its_applier() {
    let made = apply(None, &test_cm(), "kubectl", false, cm_schema(), "v1", T1).expect("applies");
    assert_eq!(
        made["metadata"]["managedFields"],
        json!([{"manager": "kubectl", "operation": "Apply", "apiVersion": "v1", "time": T1,
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:data": {"f:key": {}}, "f:metadata": {"f:labels": {"f:test-label": {}}}}}])
    );
    assert_eq!(made["data"]["key"], "some value");
}

#[test]
fn a_field_another_applier_owns_conflicts_unless_forced() {
    let made = apply(None, &test_cm(), "kubectl", false, cm_schema(), "v1", T1).expect("applies");
    let mut other = test_cm();
    other["data"]["key"] = json!("other value");
    let err =
        apply(Some(&made), &other, "other", false, cm_schema(), "v1", T2).expect_err("conflicts");
    assert_eq!(
        err.to_string(),
        "Apply failed with 1 conflict: conflict with \"kubectl\": .data.key"
    );
    let status = err.to_api_error("default/test-cm; /v1, Kind=ConfigMap");
    assert_eq!(status.code, 409);
    assert_eq!(
        status.details,
        Some(json!({"causes": [{"reason": "FieldManagerConflict",
            "message": "conflict with \"kubectl\"", "field": ".data.key"}]}))
    );
    let forced = apply(Some(&made), &other, "other", true, cm_schema(), "v1", T2).expect("forced");
    assert_eq!(forced["data"]["key"], "other value");
    let owners = entries(&forced);
    assert_eq!(owners.len(), 2);
    assert_eq!(owners[0].0, "kubectl");
    assert_eq!(
        owners[0].2,
        json!({"f:metadata": {"f:labels": {"f:test-label": {}}}})
    );
    assert_eq!(owners[1].0, "other");
}

#[test]
fn the_same_value_is_shared_and_stays_while_one_owner_applies_it() {
    let made = apply(None, &test_cm(), "kubectl", false, cm_schema(), "v1", T1).expect("applies");
    let shared = apply(
        Some(&made),
        &test_cm(),
        "second",
        false,
        cm_schema(),
        "v1",
        T2,
    )
    .expect("same values never conflict");
    assert_eq!(entries(&shared).len(), 2);
    // The second manager's entry has no time (the object did not change), so it sorts first.
    assert_eq!(shared["metadata"]["managedFields"][0]["manager"], "second");
    assert!(shared["metadata"]["managedFields"][0].get("time").is_none());
    let mut without = test_cm();
    without["data"] = json!({});
    let kept = apply(
        Some(&shared),
        &without,
        "kubectl",
        false,
        cm_schema(),
        "v1",
        T2,
    )
    .expect("applies");
    assert_eq!(kept["data"]["key"], "some value", "still owned by second");
    let gone = apply(
        Some(&kept),
        &without,
        "second",
        false,
        cm_schema(),
        "v1",
        T2,
    )
    .expect("applies");
    assert!(gone.get("data").is_none_or(|d| d.get("key").is_none()));
}

#[test]
fn fields_no_longer_applied_are_removed_but_not_fields_of_updaters() {
    let mut config = test_cm();
    config["data"]["other"] = json!("x");
    let made = apply(None, &config, "m", false, cm_schema(), "v1", T1).expect("applies");
    let mut edited = made.clone();
    edited["data"]["edited"] = json!("by hand");
    record_update(
        Some(&made),
        &mut edited,
        "kubectl-edit",
        "v1",
        T2,
        cm_schema(),
    );
    let again =
        apply(Some(&edited), &test_cm(), "m", false, cm_schema(), "v1", T2).expect("applies");
    assert_eq!(
        again["data"],
        json!({"key": "some value", "edited": "by hand"})
    );
}

#[test]
fn an_update_takes_the_fields_it_changes_from_the_applier() {
    let config = json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "nginx"},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "nginx"}},
            "template": {"metadata": {"labels": {"app": "nginx"}},
                "spec": {"containers": [{"name": "nginx", "image": "nginx:1.14.2"}]}}}});
    let made = apply(
        None,
        &config,
        "kubectl",
        false,
        deploy_schema(),
        "apps/v1",
        T1,
    )
    .expect("applies");
    let mut scaled = made.clone();
    scaled["spec"]["replicas"] = json!(5);
    record_update(
        Some(&made),
        &mut scaled,
        "kube-controller-manager",
        "apps/v1",
        T2,
        deploy_schema(),
    );
    let owners = entries(&scaled);
    assert_eq!(
        owners[1],
        (
            "kube-controller-manager".to_owned(),
            "Update".to_owned(),
            json!({"f:spec": {"f:replicas": {}}})
        )
    );
    assert!(owners[0].2["f:spec"].get("f:replicas").is_none());
    // Applying the old count again conflicts with the updater, named with its apiVersion.
    let err = apply(
        Some(&scaled),
        &config,
        "kubectl",
        false,
        deploy_schema(),
        "apps/v1",
        T2,
    )
    .expect_err("conflict");
    assert_eq!(
        err.to_string(),
        "Apply failed with 1 conflict: conflict with \"kube-controller-manager\" using apps/v1: .spec.replicas"
    );
}

#[test]
fn several_conflicts_are_listed_per_manager() {
    let config = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
        "data": {"a": "1", "b": "1"}});
    let made = apply(None, &config, "m", false, cm_schema(), "v1", T1).expect("applies");
    let other = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
        "data": {"a": "2", "b": "2"}});
    let err = apply(Some(&made), &other, "n", false, cm_schema(), "v1", T2).expect_err("conflicts");
    assert_eq!(
        err.to_string(),
        "Apply failed with 2 conflicts: conflicts with \"m\":\n- .data.a\n- .data.b"
    );
}

#[test]
fn kubectl_takes_over_from_client_side_apply_when_the_annotation_agrees() {
    let last = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "c", "namespace": "default"}, "data": {"a": "1"}});
    let mut created = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "c", "namespace": "default",
            "annotations": {LAST_APPLIED: format!("{last}\n")}},
        "data": {"a": "1"}});
    record_update(
        None,
        &mut created,
        "kubectl-client-side-apply",
        "v1",
        T1,
        cm_schema(),
    );
    let config = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "c", "namespace": "default"}, "data": {"a": "2"}});
    let err = apply(
        Some(&created),
        &config,
        "other",
        false,
        cm_schema(),
        "v1",
        T2,
    )
    .expect_err("other managers conflict");
    assert_eq!(
        err.to_string(),
        "Apply failed with 1 conflict: conflict with \"kubectl-client-side-apply\" using v1: .data.a"
    );
    let upgraded = apply(
        Some(&created),
        &config,
        "kubectl",
        false,
        cm_schema(),
        "v1",
        T2,
    )
    .expect("kubectl upgrades");
    assert_eq!(upgraded["data"]["a"], "2");
    let annotation = upgraded["metadata"]["annotations"][LAST_APPLIED]
        .as_str()
        .expect("kept in step");
    let parsed: Value = serde_json::from_str(annotation).expect("JSON");
    assert_eq!(parsed["data"]["a"], "2");
}

#[test]
fn creates_record_new_maps_and_items_with_a_dot() {
    let zero = json!({"metadata": {"creationTimestamp": null},
        "spec": {"selector": null, "strategy": {},
            "template": {"metadata": {"creationTimestamp": null}, "spec": {"containers": null}}},
        "status": {}});
    let mut made = json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "labels": {"app": "web"}, "uid": "u"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%"}},
            "template": {"metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "c", "image": "i"}]}}},
        "status": {"replicas": 0}});
    record_update_in(
        Scope::main(true),
        None,
        &zero,
        &mut made,
        "kubectl-create",
        "apps/v1",
        T1,
        deploy_schema(),
    );
    assert_eq!(
        made["metadata"]["managedFields"],
        json!([{"manager": "kubectl-create", "operation": "Update", "apiVersion": "apps/v1",
            "time": T1, "fieldsType": "FieldsV1", "fieldsV1": {
                "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
                "f:spec": {"f:replicas": {}, "f:selector": {},
                    "f:strategy": {"f:rollingUpdate": {".": {}, "f:maxSurge": {}}, "f:type": {}},
                    "f:template": {"f:metadata": {"f:labels": {".": {}, "f:app": {}}},
                        "f:spec": {"f:containers": {"k:{\"name\":\"c\"}": {
                            ".": {}, "f:image": {}, "f:name": {}}}}}}}}])
    );
    // A status write gets its own entry.
    let mut status = made.clone();
    status["status"] = json!({"replicas": 1});
    record_update_in(
        Scope::subresource("status"),
        Some(&made),
        &zero,
        &mut status,
        "kube-controller-manager",
        "apps/v1",
        T2,
        deploy_schema(),
    );
    let last = &status["metadata"]["managedFields"][1];
    assert_eq!(last["subresource"], "status");
    assert_eq!(last["fieldsV1"], json!({"f:status": {"f:replicas": {}}}));
    // An unchanged write adds no entry and keeps the times.
    let mut same = status.clone();
    record_update(
        Some(&status),
        &mut same,
        "someone",
        "apps/v1",
        T2,
        deploy_schema(),
    );
    assert_eq!(same, status);
}

#[test]
fn custom_kinds_without_a_schema_have_atomic_lists_and_granular_maps() {
    let config = json!({"apiVersion": "example.com/v1", "kind": "Thing", "metadata": {"name": "t"},
        "spec": {"list": [1, 2], "map": {"a": 1}}});
    let made = apply(None, &config, "m", false, None, "example.com/v1", T1).expect("applies");
    assert_eq!(
        made["metadata"]["managedFields"][0]["fieldsV1"],
        json!({"f:spec": {".": {}, "f:list": {}, "f:map": {".": {}, "f:a": {}}}})
    );
    let other = json!({"apiVersion": "example.com/v1", "kind": "Thing", "metadata": {"name": "t"},
        "spec": {"list": [3], "map": {"b": 2}}});
    let merged = apply(Some(&made), &other, "n", true, None, "example.com/v1", T2).expect("forced");
    assert_eq!(
        merged["spec"],
        json!({"list": [3], "map": {"a": 1, "b": 2}})
    );
}

#[test]
fn requests_the_apiserver_refuses() {
    let mut config = test_cm();
    config["apiVersion"] = json!("v2");
    assert_eq!(
        apply(None, &config, "m", false, cm_schema(), "v1", T1)
            .expect_err("version")
            .to_string(),
        "Incorrect version specified in apply patch. Specified patch version: v2, expected: v1"
    );
    let mut config = test_cm();
    config["metadata"]["managedFields"] = json!([]);
    assert_eq!(
        apply(None, &config, "m", false, cm_schema(), "v1", T1).expect_err("mf"),
        ApplyError::ManagedFieldsSent
    );
    let twice = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
        "spec": {"template": {"spec": {"containers": [{"name": "a"}, {"name": "a"}]}}}});
    let err = apply(None, &twice, "m", false, deploy_schema(), "apps/v1", T1).expect_err("typed");
    assert_eq!(
        err.to_api_error("default/d; apps/v1, Kind=Deployment")
            .message,
        "failed to create typed patch object (default/d; apps/v1, Kind=Deployment): .spec.template.spec.containers: duplicate entries for key [name=\"a\"]"
    );
}
