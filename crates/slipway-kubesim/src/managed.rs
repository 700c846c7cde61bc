//! `metadata.managedFields` on every write.
//!
//! A client that sends no managedFields keeps the ones the object has (as the apiserver does); the
//! field-level ownership of server-side apply and of updates comes from [`crate::apply`].

use serde_json::Value;

use crate::ops::{meta, meta_mut};

/// Keeps the stored object's managedFields when the write does not carry its own.
pub fn record(old: Option<&Value>, new: &mut Value, _manager: &str, _api_version: &str) {
    let sent = meta(new).and_then(|m| m.get("managedFields")).is_some();
    if !sent && let Some(fields) = old.and_then(meta).and_then(|m| m.get("managedFields")) {
        meta_mut(new).insert("managedFields".to_owned(), fields.clone());
    }
}
