//! Server-side apply requests (`application/apply-patch+yaml`): the configuration merged into the
//! stored object with field ownership ([`crate::apply`]), created when absent, conflicts answered as
//! the apiserver answers them.
//!
//! The body is read as JSON (kubectl and kube-rs send JSON; YAML is a superset the workspace has no
//! parser for, so a YAML-only body is refused with the apiserver's decoding message).

use std::sync::Arc;

use serde_json::Value;

use crate::ops::{self, Ctx, Sub};
use crate::resource::ResourceType;
use crate::status::{ApiError, Cause};
use crate::store::{Key, Store};

/// Applies `body` as `ctx.manager`; returns the stored object and whether it was created.
///
/// `field_manager_sent` says whether the request named its manager (`?fieldManager=`), which apply
/// requires; `force` is `?force=true`.
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
    field_manager_sent: bool,
    ctx: &Ctx,
) -> Result<(Value, bool), ApiError> {
    if !field_manager_sent {
        let cause = Cause::required("fieldManager");
        return Err(ApiError {
            code: 422,
            reason: "Invalid",
            message: format!(
                "PatchOptions.meta.k8s.io \"\" is invalid: {}: {}: is required for apply patch",
                cause.field, cause.message
            ),
            details: Some(serde_json::json!({"name": "", "group": "meta.k8s.io",
                "kind": "PatchOptions", "causes": [{"reason": cause.reason,
                "message": format!("{}: is required for apply patch", cause.message),
                "field": cause.field}]})),
        });
    }
    if sub == Sub::Scale {
        return Err(ApiError::bad_request(
            "kubesim does not serve server-side apply to the scale subresource",
        ));
    }
    let config: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))?;
    if !config.is_object() {
        return Err(ApiError::bad_request(
            "error decoding YAML: the apply configuration is not an object",
        ));
    }
    let body_name = ops::name_of(&config);
    if !body_name.is_empty() && body_name != name {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({body_name}) does not match the name on the URL ({name})"
        )));
    }
    let api_version = crate::resource::api_version(&t.group, version);
    let mut state = store.lock();
    let key = Key::new(t, namespace, name);
    let live = state.get(&key).cloned();
    let schema = crate::managed::schema_of(t, version);
    let scope = crate::managed::scope_of(t, sub);
    let now = crate::clock::now_string();
    let object_name = format!(
        "{}/{name}; {}, Kind={}",
        if namespace.is_empty() {
            "<unknown>"
        } else {
            namespace
        },
        if t.group.is_empty() {
            format!("/{version}")
        } else {
            api_version.clone()
        },
        t.kind
    );
    let merged = crate::apply::apply_in(
        scope,
        live.as_ref(),
        &config,
        &ctx.manager,
        force,
        schema,
        &api_version,
        &now,
    )
    .map_err(|e| e.to_api_error(&object_name))?;
    let applied = Ctx {
        applied: true,
        ..ctx.clone()
    };
    match live {
        None => {
            let mut merged = merged;
            ops::meta_mut(&mut merged).insert("name".to_owned(), Value::from(name));
            let made = ops::create_locked(&mut state, t, version, namespace, merged, &applied)?;
            Ok((made, true))
        }
        Some(live) => {
            let mut merged = merged;
            // A configuration that names a resourceVersion makes it a precondition.
            if config.pointer("/metadata/resourceVersion").is_none() {
                ops::meta_mut(&mut merged).remove("resourceVersion");
            }
            let written = ops::write(&mut state, t, version, &key, &live, merged, sub, &applied)?;
            Ok((written, false))
        }
    }
}
