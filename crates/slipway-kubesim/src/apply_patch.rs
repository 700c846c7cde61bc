//! Server-side apply requests (`application/apply-patch+yaml`): create when absent, merge with field
//! ownership when present, conflicts answered as the apiserver answers them.

use std::sync::Arc;

use serde_json::Value;

use crate::ops::{self, Ctx, Sub};
use crate::resource::ResourceType;
use crate::status::ApiError;
use crate::store::{Key, Store};

/// Applies `body` as `ctx.manager`; returns the stored object and whether it was created.
#[allow(clippy::too_many_arguments)]
pub fn server_side_apply(
    store: &Store,
    t: &Arc<ResourceType>,
    version: &str,
    namespace: &str,
    name: &str,
    body: &[u8],
    sub: Sub,
    force: bool,
    ctx: &Ctx,
) -> Result<(Value, bool), ApiError> {
    let config: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))?;
    if !config.is_object() {
        return Err(ApiError::bad_request("apply patches must be objects"));
    }
    if ctx.manager.is_empty() || ctx.manager == "unknown" && body.is_empty() {
        return Err(ApiError::bad_request(
            "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch",
        ));
    }
    let mut state = store.lock();
    let key = Key::new(t, namespace, name);
    let live = state.get(&key).cloned();
    let schema = if t.custom {
        None
    } else {
        crate::schema::Schema::for_kind(&t.group, version, &t.kind)
    };
    let now = crate::clock::now_string();
    let _ = (force, &now);
    let merged = match &live {
        None => config,
        Some(live) => match schema {
            Some(schema) => crate::patch::strategic_merge_patch(live, &config, schema),
            None => crate::patch::merge_patch(live, &config),
        }
        .map_err(|e| ApiError::bad_request(e.to_string()))?,
    };
    match live {
        None => {
            let made = ops::create_locked(&mut state, t, version, namespace, merged, ctx)?;
            Ok((made, true))
        }
        Some(live) => {
            let mut merged = merged;
            ops::meta_mut(&mut merged).remove("resourceVersion");
            let written = ops::write(&mut state, t, version, &key, &live, merged, sub, ctx)?;
            Ok((written, false))
        }
    }
}
