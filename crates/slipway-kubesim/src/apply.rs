//! Server-side apply and field ownership, as the apiserver computes them (its field manager over
//! structured-merge-diff).
//!
//! - [`apply`] merges an applied configuration into the live object per the schema (associative lists
//!   by their keys, atomic lists and maps replaced, granular maps merged; without a schema lists are
//!   atomic and maps granular), removes what the manager applied before and no longer applies unless
//!   another manager owns it, and answers conflicts with other managers unless forced.
//! - [`record_update`] records every other write (create, update, patch): the writer takes the fields it
//!   changed from the other managers.
//!
//! Both keep `metadata.managedFields` in the apiserver's format: one entry per manager, operation
//! (`Apply`, or `Update` per apiVersion) and subresource, `fieldsV1` with `f:`, `k:{...}`, `v:`, `i:`
//! and `.`, entries sorted as the apiserver sorts them.
//!
//! ```
//! use serde_json::json;
//! use slipway_kubesim::apply::apply;
//! use slipway_kubesim::schema::Schema;
//!
//! let schema = Schema::for_kind("", "v1", "ConfigMap");
//! let config = json!({"apiVersion": "v1", "kind": "ConfigMap",
//!     "metadata": {"name": "c"}, "data": {"a": "1"}});
//! let made = apply(None, &config, "me", false, schema, "v1", "2025-01-01T00:00:00Z")?;
//! assert_eq!(made["metadata"]["managedFields"][0]["fieldsV1"], json!({"f:data": {"f:a": {}}}));
//! Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod set;
mod typed;

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::{Map, Value, json};

pub use set::{FieldSet, PathElement, path_text};
pub use typed::TypeError;
use typed::{Comparison, Ty};

use crate::schema::Schema;

/// The manager name kubectl's server-side apply uses; the apiserver treats it specially (it may
/// take over fields from client-side apply and keeps the last-applied annotation in step).
const KUBECTL: &str = "kubectl";
/// The client-side apply annotation.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";
/// How many `Update` entries an object keeps before the oldest are merged.
const MAX_UPDATE_MANAGERS: usize = 10;
/// The manager that takes the fields an object had before its first apply.
const BEFORE_FIRST_APPLY: &str = "before-first-apply";

/// Which part of an object a write addresses, which decides the fields its manager may own.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Scope {
    /// `status` or `scale` for writes to those subresources (the entry records it).
    pub subresource: Option<&'static str>,
    /// The kind has a status subresource: writes to the object itself do not own `.status`.
    pub status_subresource: bool,
}

impl Scope {
    /// A write to the object itself; `status_subresource` when its kind has one.
    pub fn main(status_subresource: bool) -> Scope {
        Scope {
            subresource: None,
            status_subresource,
        }
    }

    /// A write to a subresource (`status`, `scale`).
    pub fn subresource(name: &'static str) -> Scope {
        Scope {
            subresource: Some(name),
            status_subresource: true,
        }
    }

    /// The fields a write in this scope may own (the apiserver's reset fields left out).
    fn keep(self, set: &FieldSet) -> FieldSet {
        match self.subresource {
            Some("status") => set.only_field("status"),
            Some(_) => set.only_field("spec"),
            None if self.status_subresource => set.without_field("status"),
            None => set.clone(),
        }
    }
}

/// One field another manager owns that an apply would change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// The manager as the apiserver names it: `"kubectl-client-side-apply" using apps/v1`.
    pub manager: String,
    /// `.spec.replicas`.
    pub path: String,
}

/// Why an apply was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ApplyError {
    /// Other managers own fields the configuration changes (409).
    #[error("{}", conflicts_message(conflicts))]
    Conflicts {
        /// Each conflicting field with its manager, in the apiserver's order.
        conflicts: Vec<Conflict>,
    },
    /// The configuration's `apiVersion` is not the one the request addresses (400).
    #[error(
        "Incorrect version specified in apply patch. Specified patch version: {sent}, expected: {expected}"
    )]
    WrongVersion {
        /// The configuration's `apiVersion`.
        sent: String,
        /// The request's.
        expected: String,
    },
    /// The configuration carries `metadata.managedFields` (400).
    #[error("metadata.managedFields must be nil")]
    ManagedFieldsSent,
    /// The configuration or the live object does not fit the schema (500, as the apiserver answers).
    #[error("{}: {}", error.path, error.message)]
    Typed {
        /// Where and why.
        error: TypeError,
        /// Whether the configuration (not the live object) is at fault.
        in_config: bool,
    },
}

impl ApplyError {
    /// The `Status` the apiserver answers with; `object` is `namespace/name; group/version, Kind=Kind`
    /// as its internal errors name the object.
    pub fn to_api_error(&self, object: &str) -> crate::status::ApiError {
        use crate::status::ApiError;
        match self {
            ApplyError::Conflicts { conflicts } => ApiError {
                code: 409,
                reason: "Conflict",
                message: self.to_string(),
                details: Some(json!({"causes": conflicts.iter().map(|c| json!({
                    "reason": "FieldManagerConflict",
                    "message": format!("conflict with {}", c.manager),
                    "field": c.path,
                })).collect::<Vec<_>>()})),
            },
            ApplyError::WrongVersion { .. } | ApplyError::ManagedFieldsSent => {
                ApiError::bad_request(self.to_string())
            }
            ApplyError::Typed { error, in_config } => {
                let what = if *in_config {
                    "failed to create typed patch object"
                } else {
                    "failed to create typed live object"
                };
                ApiError {
                    code: 500,
                    reason: "",
                    message: format!("{what} ({object}): {}: {}", error.path, error.message),
                    details: None,
                }
            }
        }
    }
}

fn conflicts_message(conflicts: &[Conflict]) -> String {
    if let [one] = conflicts {
        return format!(
            "Apply failed with 1 conflict: conflict with {}: {}",
            one.manager, one.path
        );
    }
    let mut lines = Vec::new();
    let mut last: Option<&str> = None;
    for c in conflicts {
        if last != Some(c.manager.as_str()) {
            lines.push(format!("conflicts with {}:", c.manager));
            last = Some(&c.manager);
        }
        lines.push(format!("- {}", c.path));
    }
    format!(
        "Apply failed with {} conflicts: {}",
        conflicts.len(),
        lines.join("\n")
    )
}

/// What a manager owns.
#[derive(Debug, Clone)]
struct Owned {
    manager: String,
    subresource: Option<String>,
    api_version: String,
    applied: bool,
    time: Option<String>,
    set: FieldSet,
}

impl Owned {
    /// The apiserver's manager identifier (the entry without time and fields; appliers without their
    /// apiVersion), JSON as Go marshals it: managers are told apart and sorted by it.
    fn identifier(&self) -> String {
        identifier(
            &self.manager,
            self.applied,
            &self.api_version,
            self.subresource.as_deref(),
        )
    }

    /// `"m"`, `"m" with subresource "status"`, `"m" using apps/v1`.
    fn printed(&self) -> String {
        let mut out = format!("{:?}", self.manager);
        if let Some(sub) = &self.subresource {
            out = format!("{out} with subresource {sub:?}");
        }
        if !self.applied {
            out = format!("{out} using {}", self.api_version);
        }
        out
    }
}

fn identifier(
    manager: &str,
    applied: bool,
    api_version: &str,
    subresource: Option<&str>,
) -> String {
    let mut id = format!(
        "{{\"manager\":{},\"operation\":\"{}\"",
        Value::from(manager),
        if applied { "Apply" } else { "Update" }
    );
    if !applied {
        let _ = write!(id, ",\"apiVersion\":{}", Value::from(api_version));
    }
    if let Some(sub) = subresource {
        let _ = write!(id, ",\"subresource\":{}", Value::from(sub));
    }
    id.push('}');
    id
}

/// Managers by identifier.
type Managers = BTreeMap<String, Owned>;

fn managed_fields(object: &Value) -> Option<&Value> {
    object.pointer("/metadata/managedFields")
}

/// Reads `metadata.managedFields`; `None` when an entry is not one the apiserver accepts.
fn decode(entries: Option<&Value>) -> Option<Managers> {
    let mut out = Managers::new();
    let Some(entries) = entries.filter(|e| !e.is_null()) else {
        return Some(out);
    };
    for entry in entries.as_array()? {
        let applied = match entry.get("operation").and_then(Value::as_str) {
            Some("Apply") => true,
            Some("Update") => false,
            _ => return None,
        };
        let api_version = entry.get("apiVersion").and_then(Value::as_str)?;
        if api_version.is_empty()
            || entry.get("fieldsType").and_then(Value::as_str) != Some("FieldsV1")
        {
            return None;
        }
        let set = match entry.get("fieldsV1") {
            None | Some(Value::Null) => FieldSet::default(),
            Some(fields) => FieldSet::from_fields_v1(fields)?,
        };
        let owned = Owned {
            manager: entry
                .get("manager")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            subresource: entry
                .get("subresource")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_owned),
            api_version: api_version.to_owned(),
            applied,
            time: entry.get("time").and_then(Value::as_str).map(str::to_owned),
            set,
        };
        out.insert(owned.identifier(), owned);
    }
    Some(out)
}

/// Writes `metadata.managedFields` (removed when no manager is left), sorted as the apiserver sorts.
fn encode(object: &mut Value, managers: &Managers) {
    let mut entries: Vec<&Owned> = managers.values().collect();
    entries.sort_by(|p, q| {
        let op = |o: &Owned| if o.applied { "Apply" } else { "Update" };
        let seconds = |o: &Owned| {
            o.time
                .as_deref()
                .and_then(crate::clock::parse)
                .map_or(0, k8s_openapi::jiff::Timestamp::as_second)
        };
        op(p)
            .cmp(op(q))
            .then(seconds(p).cmp(&seconds(q)))
            .then(p.manager.cmp(&q.manager))
            .then(p.api_version.cmp(&q.api_version))
            .then(p.subresource.cmp(&q.subresource))
    });
    let meta = crate::ops::meta_mut(object);
    if entries.is_empty() {
        meta.remove("managedFields");
        return;
    }
    let encoded: Vec<Value> = entries
        .into_iter()
        .map(|o| {
            let mut e = Map::new();
            e.insert("manager".into(), json!(o.manager));
            e.insert(
                "operation".into(),
                json!(if o.applied { "Apply" } else { "Update" }),
            );
            e.insert("apiVersion".into(), json!(o.api_version));
            if let Some(t) = &o.time {
                e.insert("time".into(), json!(t));
            }
            e.insert("fieldsType".into(), json!("FieldsV1"));
            e.insert("fieldsV1".into(), o.set.to_fields_v1());
            if let Some(s) = &o.subresource {
                e.insert("subresource".into(), json!(s));
            }
            Value::Object(e)
        })
        .collect();
    meta.insert("managedFields".into(), Value::Array(encoded));
}

fn without_managed_fields(object: &Value) -> Value {
    let mut copy = object.clone();
    if let Some(meta) = copy.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("managedFields");
    }
    copy
}

/// The paths no manager ever owns (they are the apiserver's, not the writer's).
fn strip_meta(set: &FieldSet) -> FieldSet {
    let mut strip = FieldSet::default();
    let f = |s: &str| PathElement::Field(s.to_owned());
    strip.insert(&[f("apiVersion")]);
    strip.insert(&[f("kind")]);
    strip.insert(&[f("metadata")]);
    for name in [
        "name",
        "namespace",
        "creationTimestamp",
        "selfLink",
        "uid",
        "clusterName",
        "generation",
        "managedFields",
        "resourceVersion",
    ] {
        strip.insert(&[f("metadata"), f(name)]);
    }
    set.difference(&strip)
}

fn ty(schema: Option<&Schema>) -> Ty<'_> {
    schema.map_or(Ty::Deduced, Ty::Schema)
}

/// The library's `update`: other managers lose the fields this write changes (a conflict unless
/// `force`) and the fields it removes; managers left with nothing are dropped.
fn take_changed(
    ty: Ty<'_>,
    scope: Scope,
    old: &Value,
    new: &Value,
    managers: &mut Managers,
    me: &str,
    force: bool,
) -> Result<Comparison, ApplyError> {
    let compare = typed::compare(ty, old, new)
        .map_err(|error| ApplyError::Typed {
            error,
            in_config: false,
        })?
        .filter(|s| scope.keep(s));
    let changed = compare.modified.union(&compare.added);
    let mut conflicts: Vec<(String, FieldSet)> = Vec::new();
    for (id, owned) in managers.iter() {
        if id == me {
            continue;
        }
        let clash = owned.set.intersection(&changed);
        if !clash.is_empty() {
            conflicts.push((id.clone(), clash));
        }
    }
    if !force && !conflicts.is_empty() {
        let mut out = Vec::new();
        for (id, clash) in &conflicts {
            let printed = managers[id].printed();
            for path in clash.paths() {
                out.push(Conflict {
                    manager: printed.clone(),
                    path: path_text(&path),
                });
            }
        }
        return Err(ApplyError::Conflicts { conflicts: out });
    }
    for (id, clash) in conflicts {
        if let Some(owned) = managers.get_mut(&id) {
            owned.set = owned.set.difference(&clash);
        }
    }
    if !compare.removed.is_empty() {
        for (id, owned) in managers.iter_mut() {
            if id != me {
                owned.set = owned.set.difference(&compare.removed);
            }
        }
    }
    managers.retain(|_, o| !o.set.is_empty());
    Ok(compare)
}

/// A non-apply write by `manager` under `me` (the library's `Update`), stripped of the apiserver's
/// metadata; the entry is dropped when it owns nothing.
fn update_as(
    ty: Ty<'_>,
    scope: Scope,
    old: &Value,
    new: &Value,
    managers: &mut Managers,
    me: Owned,
) -> Result<(), ApplyError> {
    let id = me.identifier();
    let compare = take_changed(ty, scope, old, new, managers, &id, true)?;
    let previous = managers.get(&id).map(|o| o.set.clone()).unwrap_or_default();
    let set = previous
        .difference(&compare.removed)
        .union(&compare.modified)
        .union(&compare.added);
    let set = strip_meta(&scope.keep(&set));
    if set.is_empty() {
        managers.remove(&id);
    } else {
        managers.insert(id, Owned { set, ..me });
    }
    Ok(())
}

/// The apiserver's `prune`: fields the manager applied last time and no longer applies go, unless a
/// manager (this one's new configuration included) owns them.
fn prune(ty: Ty<'_>, merged: Value, managers: &Managers, last: Option<&FieldSet>) -> Value {
    let Some(last) = last.filter(|l| !l.is_empty()) else {
        return merged;
    };
    let ensure = |s: &FieldSet| typed::ensure_named_fields_are_members(ty, s);
    let set_of = |v: &Value| {
        typed::to_field_set(ty, v)
            .map(|s| ensure(&s))
            .unwrap_or_default()
    };
    let empty = || Value::Object(Map::new());
    let last = ensure(last);
    let pruned = typed::remove_items(ty, &merged, &last).unwrap_or_else(empty);
    let owned = managers
        .values()
        .fold(FieldSet::default(), |acc, o| acc.union(&o.set));
    let merged_set = set_of(&merged);
    let add_back = merged_set.difference(&set_of(&pruned).union(&ensure(&owned)));
    let pruned = typed::remove_items(ty, &merged, &add_back).unwrap_or_else(empty);
    let dangling = merged_set.difference(&set_of(&pruned)).intersection(&last);
    typed::remove_items(ty, &merged, &dangling).unwrap_or_else(empty)
}

fn apply_once(
    ty: Ty<'_>,
    scope: Scope,
    live: &Value,
    config: &Value,
    mut managers: Managers,
    me: &Owned,
    force: bool,
) -> Result<(Value, Managers), ApplyError> {
    let as_config = |error| ApplyError::Typed {
        error,
        in_config: true,
    };
    let merged = typed::merge(ty, live, config).map_err(as_config)?;
    let id = me.identifier();
    let last = managers.get(&id).map(|o| o.set.clone());
    let set = scope.keep(&typed::to_field_set(ty, config).map_err(as_config)?);
    managers.insert(id.clone(), Owned { set, ..me.clone() });
    let new = prune(ty, merged, &managers, last.as_ref());
    take_changed(ty, scope, live, &new, &mut managers, &id, force)?;
    if let Some(owned) = managers.get_mut(&id) {
        owned.set = strip_meta(&owned.set);
        if owned.set.is_empty() {
            managers.remove(&id);
        }
    }
    Ok((new, managers))
}

/// The fields kubectl's own client-side apply set to what the object still has: a `kubectl` apply may
/// take them over without a conflict (the upgrade from client-side to server-side apply).
fn last_applied_fields(ty: Ty<'_>, live: &Value, api_version: &str) -> Option<FieldSet> {
    let text = live
        .pointer("/metadata/annotations")?
        .get(LAST_APPLIED)?
        .as_str()
        .filter(|t| !t.is_empty())?;
    let last: Value = serde_json::from_str(text).ok()?;
    if last.get("apiVersion").and_then(Value::as_str) != Some(api_version) {
        return None;
    }
    let set = typed::to_field_set(ty, &last).ok()?;
    let c = typed::compare(ty, &last, live).ok()?;
    Some(
        set.difference(&c.modified)
            .difference(&c.added)
            .difference(&c.removed),
    )
}

/// kubectl's apply keeps the client-side apply annotation, where the object has one, equal to the
/// configuration it applied (so a later client-side apply computes from it).
fn sync_last_applied(new: &mut Value, config: &Value) {
    let has = new
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(LAST_APPLIED))
        .and_then(Value::as_str)
        .is_some_and(|t| !t.is_empty());
    if !has {
        return;
    }
    let mut last = config.clone();
    if let Some(annotations) = last
        .pointer_mut("/metadata/annotations")
        .and_then(Value::as_object_mut)
    {
        annotations.remove(LAST_APPLIED);
    }
    let text = format!("{last}\n");
    if let Some(annotations) = new
        .pointer_mut("/metadata/annotations")
        .and_then(Value::as_object_mut)
    {
        annotations.insert(LAST_APPLIED.to_owned(), json!(text));
    }
}

/// Applies `config` as `manager` to `live` (`None`: the object is created by this apply) and returns
/// the object to store, with its managedFields.
///
/// `api_version` is the request's (`apps/v1`); `now` the time for the manager's entry (RFC 3339).
/// Conflicts come back as [`ApplyError::Conflicts`] unless `force`, which moves the fields to
/// `manager`.
pub fn apply(
    live: Option<&Value>,
    config: &Value,
    manager: &str,
    force: bool,
    schema: Option<&Schema>,
    api_version: &str,
    now: &str,
) -> Result<Value, ApplyError> {
    apply_in(
        Scope::default(),
        live,
        config,
        manager,
        force,
        schema,
        api_version,
        now,
    )
}

/// [`apply`] to a part of the object: the scope decides which fields the manager may own.
#[allow(clippy::too_many_arguments)]
pub fn apply_in(
    scope: Scope,
    live: Option<&Value>,
    config: &Value,
    manager: &str,
    force: bool,
    schema: Option<&Schema>,
    api_version: &str,
    now: &str,
) -> Result<Value, ApplyError> {
    if let Some(sent) = config.get("apiVersion").and_then(Value::as_str)
        && sent != api_version
    {
        return Err(ApplyError::WrongVersion {
            sent: sent.to_owned(),
            expected: api_version.to_owned(),
        });
    }
    if managed_fields(config).is_some_and(|m| !m.is_null()) {
        return Err(ApplyError::ManagedFieldsSent);
    }
    let ty = ty(schema);
    let empty = Value::Object(Map::new());
    let live_object = live.map_or_else(|| empty.clone(), without_managed_fields);
    let mut managers = live.map_or_else(Managers::new, |l| {
        decode(managed_fields(l)).unwrap_or_default()
    });
    if managers.is_empty() && live.is_some() {
        // An object nobody owns yet: what it has belongs to a manager of its own, so an apply
        // does not remove it.
        let before = Owned {
            manager: BEFORE_FIRST_APPLY.to_owned(),
            subresource: scope.subresource.map(str::to_owned),
            api_version: api_version.to_owned(),
            applied: false,
            time: None,
            set: FieldSet::default(),
        };
        update_as(ty, scope, &empty, &live_object, &mut managers, before)?;
    }
    let me = Owned {
        manager: if manager.is_empty() {
            "unknown"
        } else {
            manager
        }
        .to_owned(),
        subresource: scope.subresource.map(str::to_owned),
        api_version: api_version.to_owned(),
        applied: true,
        time: None,
        set: FieldSet::default(),
    };
    let id = me.identifier();
    let mut me = me;
    me.time = managers.get(&id).and_then(|o| o.time.clone());
    let first = apply_once(
        ty,
        scope,
        &live_object,
        config,
        managers.clone(),
        &me,
        force,
    );
    let (mut new, mut managers) = match first {
        Err(ApplyError::Conflicts { conflicts }) if manager == KUBECTL => {
            let allowed = live
                .and_then(|l| last_applied_fields(ty, l, api_version))
                .unwrap_or_default();
            let allowed_paths: Vec<String> = allowed.paths().iter().map(|p| path_text(p)).collect();
            let left: Vec<Conflict> = conflicts
                .iter()
                .filter(|c| !allowed_paths.contains(&c.path))
                .cloned()
                .collect();
            if live.is_none() || !left.is_empty() {
                return Err(ApplyError::Conflicts {
                    conflicts: if live.is_some() { left } else { conflicts },
                });
            }
            apply_once(ty, scope, &live_object, config, managers, &me, true)?
        }
        other => other?,
    };
    if new != live_object
        && let Some(owned) = managers.get_mut(&id)
    {
        owned.time = Some(now.to_owned());
    }
    if manager == KUBECTL {
        sync_last_applied(&mut new, config);
    }
    encode(&mut new, &managers);
    Ok(new)
}

/// Records a non-apply write (create, update, patch; operation `Update`) by `manager` in `new`'s
/// managedFields. `old` is the stored object (`None` for a create).
pub fn record_update(
    old: Option<&Value>,
    new: &mut Value,
    manager: &str,
    api_version: &str,
    now: &str,
    schema: Option<&Schema>,
) {
    record_update_in(
        Scope::default(),
        old,
        &Value::Object(Map::new()),
        new,
        manager,
        api_version,
        now,
        schema,
    );
}

/// [`record_update`] in a scope; `zero` is the kind's empty object, what a create is compared with.
#[allow(clippy::too_many_arguments)]
pub fn record_update_in(
    scope: Scope,
    old: Option<&Value>,
    zero: &Value,
    new: &mut Value,
    manager: &str,
    api_version: &str,
    now: &str,
    schema: Option<&Schema>,
) {
    let old_fields = old.and_then(managed_fields).cloned();
    let sent = managed_fields(new).cloned();
    let reset = match &sent {
        Some(Value::Array(entries)) => {
            entries.is_empty()
                || (entries.len() == 1 && entries[0].as_object().is_some_and(Map::is_empty))
        }
        _ => false,
    };
    let mut managers = if reset {
        Managers::new()
    } else {
        let from_request = if scope.subresource.is_none() {
            decode(sent.as_ref()).filter(|m| !m.is_empty())
        } else {
            None
        };
        from_request
            .or_else(|| decode(old_fields.as_ref()))
            .unwrap_or_default()
    };
    let old_object = old.map_or_else(|| zero.clone(), without_managed_fields);
    let new_object = without_managed_fields(new);
    let ty = ty(schema);
    let me = Owned {
        manager: if manager.is_empty() {
            "unknown"
        } else {
            manager
        }
        .to_owned(),
        subresource: scope.subresource.map(str::to_owned),
        api_version: api_version.to_owned(),
        applied: false,
        time: None,
        set: FieldSet::default(),
    };
    let current = Owned {
        manager: "current-operation".to_owned(),
        ..me.clone()
    };
    let current_id = current.identifier();
    if update_as(ty, scope, &old_object, &new_object, &mut managers, current).is_err() {
        // As the apiserver does when it cannot compute ownership: keep what the object had.
        let meta = crate::ops::meta_mut(new);
        match old_fields {
            Some(fields) => meta.insert("managedFields".to_owned(), fields),
            None => meta.remove("managedFields"),
        };
        return;
    }
    if let Some(taken) = managers.remove(&current_id) {
        let id = me.identifier();
        let owned_now = match managers.get(&id) {
            Some(previous) => taken.set.union(&previous.set),
            None => taken.set,
        };
        managers.insert(
            id,
            Owned {
                set: owned_now,
                time: Some(now.to_owned()),
                ..me
            },
        );
    }
    cap_update_managers(&mut managers);
    encode(new, &managers);
}

/// Merges the oldest `Update` entries into `ancient-changes` (one per apiVersion) so at most
/// [`MAX_UPDATE_MANAGERS`] are kept.
fn cap_update_managers(managers: &mut Managers) {
    let mut updaters: Vec<(i64, String)> = managers
        .iter()
        .filter(|(_, o)| !o.applied)
        .map(|(id, o)| {
            let seconds = o
                .time
                .as_deref()
                .and_then(crate::clock::parse)
                .map_or(0, k8s_openapi::jiff::Timestamp::as_second);
            (seconds, id.clone())
        })
        .collect();
    if updaters.len() <= MAX_UPDATE_MANAGERS {
        return;
    }
    updaters.sort();
    let mut length = updaters.len();
    let mut first_of_version: BTreeMap<String, String> = BTreeMap::new();
    for (_, id) in updaters {
        if length <= MAX_UPDATE_MANAGERS {
            break;
        }
        let Some(owned) = managers.get(&id).cloned() else {
            continue;
        };
        let bucket = identifier("ancient-changes", false, &owned.api_version, None);
        match first_of_version.get(&owned.api_version) {
            None => {
                first_of_version.insert(owned.api_version.clone(), id);
            }
            Some(first) => {
                if !managers.contains_key(&bucket)
                    && let Some(mut moved) = managers.remove(first)
                {
                    "ancient-changes".clone_into(&mut moved.manager);
                    moved.subresource = None;
                    managers.insert(bucket.clone(), moved);
                }
                if let Some(b) = managers.get_mut(&bucket) {
                    b.set = owned.set.union(&b.set);
                    b.time.clone_from(&owned.time);
                }
                managers.remove(&id);
                length -= 1;
            }
        }
    }
}

#[cfg(test)]
mod tests;
