//! The garbage collector (dependents of deleted owners; foreground and orphan deletion) and the namespace
//! controller (a deleted namespace's contents go first).

use std::collections::HashSet;

use serde_json::{Value, json};

use super::Ctl;
use crate::ops;
use crate::store::Key;

fn owner_uids(object: &Value) -> Vec<String> {
    object
        .pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .map(|refs| {
            refs.iter()
                .filter_map(|r| r.get("uid").and_then(Value::as_str).map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn has_finalizer(object: &Value, name: &str) -> bool {
    object
        .pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .is_some_and(|f| f.iter().any(|v| v == name))
}

fn without_finalizer(object: &Value, name: &str) -> Value {
    let mut o = object.clone();
    if let Some(f) = o
        .pointer_mut("/metadata/finalizers")
        .and_then(Value::as_array_mut)
    {
        f.retain(|v| v != name);
    }
    o
}

/// Deletes dependents whose owners are gone; finishes foreground and orphan deletions.
pub fn collect(ctl: &mut Ctl<'_, '_>) {
    let all: Vec<(Key, Value)> = ctl
        .state()
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let uids: HashSet<String> = all.iter().map(|(_, v)| ops::uid_of(v).to_owned()).collect();
    for (key, object) in &all {
        let owners = owner_uids(object);
        if owners.is_empty()
            || ops::meta(object).is_some_and(|m| m.contains_key("deletionTimestamp"))
        {
            continue;
        }
        if owners.iter().all(|u| !uids.contains(u)) {
            ctl.delete(&key.group, &key.plural, object);
        }
    }
    for (key, owner) in &all {
        let deleting = ops::meta(owner).is_some_and(|m| m.contains_key("deletionTimestamp"));
        if !deleting {
            continue;
        }
        let uid = ops::uid_of(owner).to_owned();
        let dependents: Vec<&(Key, Value)> = all
            .iter()
            .filter(|(_, v)| owner_uids(v).contains(&uid))
            .collect();
        if has_finalizer(owner, "orphan") {
            for (dkey, dep) in &dependents {
                let mut updated = dep.clone();
                if let Some(refs) = updated
                    .pointer_mut("/metadata/ownerReferences")
                    .and_then(Value::as_array_mut)
                {
                    refs.retain(|r| r.get("uid").and_then(Value::as_str) != Some(uid.as_str()));
                }
                if updated
                    .pointer("/metadata/ownerReferences")
                    .and_then(Value::as_array)
                    .is_some_and(Vec::is_empty)
                    && let Some(m) = updated.get_mut("metadata").and_then(Value::as_object_mut)
                {
                    m.remove("ownerReferences");
                }
                ctl.update(&dkey.group, &dkey.plural, dep, updated);
            }
            let (group, plural) = (key.group.clone(), key.plural.clone());
            ctl.update(&group, &plural, owner, without_finalizer(owner, "orphan"));
        } else if has_finalizer(owner, "foregroundDeletion") {
            let blocking: Vec<&&(Key, Value)> = dependents.iter().collect();
            for (dkey, dep) in &dependents {
                if !ops::meta(dep).is_some_and(|m| m.contains_key("deletionTimestamp")) {
                    let options = ops::DeleteOptions {
                        propagation: Some("Foreground".to_owned()),
                        ..ops::DeleteOptions::default()
                    };
                    ctl.delete_with(&dkey.group, &dkey.plural, dep, &options);
                }
            }
            if blocking.is_empty() {
                let (group, plural) = (key.group.clone(), key.plural.clone());
                ctl.update(
                    &group,
                    &plural,
                    owner,
                    without_finalizer(owner, "foregroundDeletion"),
                );
            }
        }
    }
}

/// Empties and then removes namespaces being deleted.
pub fn namespaces(ctl: &mut Ctl<'_, '_>) {
    for ns in ctl.list_all("", "namespaces") {
        if !ops::meta(&ns).is_some_and(|m| m.contains_key("deletionTimestamp")) {
            continue;
        }
        let name = ops::name_of(&ns).to_owned();
        let contents: Vec<(Key, Value)> = ctl
            .state()
            .iter()
            .filter(|(k, _)| k.namespace == name)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        for (key, object) in &contents {
            if !ops::meta(object).is_some_and(|m| m.contains_key("deletionTimestamp")) {
                ctl.delete(&key.group, &key.plural, object);
            }
        }
        if contents.is_empty() {
            let mut updated = ns.clone();
            updated["spec"]["finalizers"] = json!([]);
            if let Some(t) = ctl.state().registry.get("", "v1", "namespaces") {
                let key = Key::new(&t, "", &name);
                ctl.state().put(key.clone(), updated);
                ops::remove_now(ctl.state(), &t, &key);
            }
        }
    }
}
