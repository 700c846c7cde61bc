//! Patches of every kind never panic: the input is split into a document and a patch (both JSON), applied
//! as a JSON patch, a merge patch and a strategic merge patch of a Deployment.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use slipway_kubesim::{patch, schema::Schema, selector};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = selector::LabelSelector::parse(&text);
    let _ = selector::FieldSelector::parse(&text, "", "pods", false);
    let Some((doc, p)) = text.split_once('\n') else { return };
    let (Ok(doc), Ok(p)) = (serde_json::from_str::<Value>(doc), serde_json::from_str::<Value>(p)) else {
        return;
    };
    let _ = patch::json_patch(&doc, &p);
    let _ = patch::merge_patch(&doc, &p);
    if let Some(schema) = Schema::for_kind("apps", "v1", "Deployment") {
        let _ = patch::strategic_merge_patch(&doc, &p, schema);
    }
});
