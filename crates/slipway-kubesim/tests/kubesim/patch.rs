//! `slipway_kubesim::patch` against `kubectl patch --local` (the apiserver's own patch code): the
//! fixtures are random objects and patches that scripts/gen-kubesim-patch-fixtures.sh ran through
//! kubectl 1.32. `SLIPWAY_KUBESIM_PATCH_FIXTURES=DIR` points the test at another run's fixtures.

use std::collections::HashMap;
use std::path::PathBuf;

use serde_json::{Value, json};
use slipway_kubesim::patch::{self, Error};
use slipway_kubesim::schema::Schema;

fn fixture_dir() -> PathBuf {
    std::env::var_os("SLIPWAY_KUBESIM_PATCH_FIXTURES").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/kubesim/fixtures/patch"),
        PathBuf::from,
    )
}

fn lines(name: &str) -> Vec<Value> {
    let path = fixture_dir().join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

/// kubectl rewrites one JSON-patch message before printing it; the apiserver does not.
fn as_kubectl_prints(kind: &str, error: &Error) -> String {
    let message = error.to_string();
    match message.find("key:") {
        Some(ix) if kind == "json" && message.contains("doc is missing key") => {
            format!(
                "Object to be patched is missing field ({})",
                &message[ix + 5..]
            )
        }
        _ => message,
    }
}

fn apply(kind: &str, object: &Value, patch_value: &Value) -> Result<Value, Error> {
    match kind {
        "json" => patch::json_patch(object, patch_value),
        "merge" => patch::merge_patch(object, patch_value),
        _ => {
            let api_version = object["apiVersion"].as_str().expect("apiVersion");
            let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
            let schema = Schema::for_kind(group, version, object["kind"].as_str().expect("kind"))
                .expect("a built-in kind");
            patch::strategic_merge_patch(object, patch_value, schema)
        }
    }
}

#[test]
fn patches_agree_with_kubectl() {
    let objects: HashMap<u64, Value> = lines("objects.jsonl")
        .into_iter()
        .map(|o| (o["id"].as_u64().expect("id"), o["object"].clone()))
        .collect();
    let cases = lines("cases.jsonl");
    let mut disagreements = Vec::new();
    let mut counts: HashMap<String, usize> = HashMap::new();
    for (n, case) in cases.iter().enumerate() {
        let kind = case["type"].as_str().expect("type");
        *counts.entry(kind.to_owned()).or_default() += 1;
        let object = &objects[&case["object"].as_u64().expect("object")];
        let ours = apply(kind, object, &case["patch"]);
        let agree = match (&ours, case.get("result"), case.get("error")) {
            (Ok(ours), Some(theirs), _) => ours == theirs,
            (Err(e), _, Some(Value::String(theirs))) => {
                as_kubectl_prints(kind, e).trim_end() == theirs
            }
            _ => false,
        };
        if !agree {
            disagreements.push(format!(
                "case {n} ({kind}) of object {}:\n  patch: {}\n  kubectl: {}\n  ours: {}",
                case["object"],
                case["patch"],
                case.get("result")
                    .or(case.get("error"))
                    .unwrap_or(&Value::Null),
                match &ours {
                    Ok(v) => v.to_string(),
                    Err(e) => format!("error: {e}"),
                }
            ));
        }
    }
    eprintln!(
        "{} cases {counts:?}, {} disagreements",
        cases.len(),
        disagreements.len()
    );
    assert!(
        cases.len() >= 100,
        "too few fixtures in {}",
        fixture_dir().display()
    );
    assert!(
        disagreements.is_empty(),
        "{} of {} cases disagree with kubectl:\n{}",
        disagreements.len(),
        cases.len(),
        disagreements
            .iter()
            .take(15)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn json_patch_pointers_and_limits() {
    let doc = json!({"metadata": {"annotations": {}}, "spec": {"list": [1, 2]}});
    let patched = patch::json_patch(
        &doc,
        &json!([
            {"op": "add", "path": "/metadata/annotations/a~1b~0c", "value": "x"},
            {"op": "add", "path": "/spec/list/-", "value": 3},
            {"op": "add", "path": "/spec/list/-1", "value": 9},
            {"op": "move", "from": "/spec/list/0", "path": "/spec/first"},
            {"op": "test", "path": "/spec/first", "value": 1},
        ]),
    )
    .expect("applies");
    assert_eq!(patched["metadata"]["annotations"]["a/b~c"], "x");
    assert_eq!(patched["spec"]["list"], json!([2, 3, 9]));
    let failed = patch::json_patch(
        &doc,
        &json!([{"op": "test", "path": "/spec/list/0", "value": 5}]),
    )
    .expect_err("the test fails");
    assert_eq!(
        failed.to_string(),
        "testing value /spec/list/0 failed: test failed"
    );
    assert_eq!(failed.http_status(), 422);
    assert!(matches!(failed, Error::JsonPatch { index: 0, .. }));
    let many = Value::Array(vec![
        json!({"op": "test", "path": "/spec"});
        patch::MAX_JSON_PATCH_OPERATIONS + 1
    ]);
    assert_eq!(
        patch::json_patch(&doc, &many)
            .expect_err("too many")
            .http_status(),
        413
    );
    let not_a_list = patch::json_patch(&doc, &json!({"op": "add"})).expect_err("not a list");
    assert_eq!(not_a_list.http_status(), 400);
}

#[test]
fn strategic_merge_errors_carry_where_and_how() {
    let deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "spec": {"template": {"spec": {"containers": [{"name": "a", "image": "a"}]}}}});
    let schema = Schema::for_kind("apps", "v1", "Deployment").expect("built-in");
    let no_key = patch::strategic_merge_patch(
        &deployment,
        &json!({"spec": {"template": {"spec": {"containers": [{"image": "b"}]}}}}),
        schema,
    )
    .expect_err("no merge key");
    assert_eq!(
        no_key.to_string(),
        "map: map[image:b] does not contain declared merge key: name"
    );
    assert!(
        matches!(&no_key, Error::StrategicMerge { path, .. } if path == "spec.template.spec.containers")
    );
    assert_eq!(no_key.http_status(), 500);
    let bad_retain = patch::strategic_merge_patch(
        &deployment,
        &json!({"spec": {"strategy": {"$retainKeys": "type"}}}),
        schema,
    );
    // strategy is not in the live object: the new value is taken as given (directives and all).
    assert!(bad_retain.is_ok());
    let bad_retain = patch::strategic_merge_patch(
        &json!({"spec": {"strategy": {"type": "Recreate"}}}),
        &json!({"spec": {"strategy": {"$retainKeys": "type"}}}),
        schema,
    )
    .expect_err("retainKeys must be a list");
    assert_eq!(bad_retain.to_string(), "invalid patch format of retainKeys");
    assert_eq!(bad_retain.http_status(), 400);
}
