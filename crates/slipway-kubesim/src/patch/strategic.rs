//! Strategic merge patch, as the apiserver applies it to built-in kinds (apimachinery's
//! `strategicpatch.StrategicMergePatch` with the types' `patchStrategy`/`patchMergeKey` tags, which the
//! OpenAPI documents carry as `x-kubernetes-patch-strategy`/`x-kubernetes-patch-merge-key`).
//!
//! The order rules are the library's, quirks included: items only in the live list keep their
//! relative order and are interleaved with the patch's items by their live positions;
//! `$setElementOrder/<list>` orders the items it names; duplicates of scalars are removed by moving the
//! last item into the duplicate's place.

use serde_json::{Map, Value};

use super::{Error, gofmt};
use crate::schema::{NodeKind, Schema};

const DIRECTIVE: &str = "$patch";
const RETAIN_KEYS: &str = "$retainKeys";
const DELETE_FROM_PRIMITIVE_LIST: &str = "$deleteFromPrimitiveList";
const SET_ELEMENT_ORDER: &str = "$setElementOrder";

/// Applies a strategic merge patch to `doc`, an object of the kind `schema` describes.
pub fn strategic_merge_patch(doc: &Value, patch: &Value, schema: &Schema) -> Result<Value, Error> {
    let original = match doc {
        Value::Object(map) => map.clone(),
        Value::Null => Map::new(),
        _ => return Err(Error::StrategicMergeDocument),
    };
    let patch = match patch {
        Value::Object(map) => map.clone(),
        Value::Null => Map::new(),
        _ => return Err(Error::StrategicMergeDocument),
    };
    let mut at = String::new();
    merge_map(original, patch, schema, &mut at).map(Value::Object)
}

/// What a failure inside the merge becomes: the library's message and where it happened.
struct Failure {
    message: String,
    class: super::StrategicClass,
}

impl Failure {
    fn other(message: String) -> Failure {
        Failure {
            message,
            class: super::StrategicClass::Other,
        }
    }
    fn format(message: &str) -> Failure {
        Failure {
            message: message.to_owned(),
            class: super::StrategicClass::BadFormat,
        }
    }
}

type Step<T> = Result<T, Failure>;

fn located<T>(result: Step<T>, at: &str) -> Result<T, Error> {
    result.map_err(|f| Error::StrategicMerge {
        path: at.to_owned(),
        message: f.message,
        class: f.class,
    })
}

fn bad_arg_type(expected: &str, actual: &Value) -> Failure {
    Failure::other(format!(
        "expected a {expected}, but received a {}",
        gofmt::kind(actual)
    ))
}

fn no_merge_key(map: &Map<String, Value>, key: &str) -> Failure {
    Failure::other(format!(
        "map: {} does not contain declared merge key: {key}",
        gofmt::v(&Value::Object(map.clone()))
    ))
}

fn bad_patch_type(directive: &Value, map: &Map<String, Value>) -> Failure {
    Failure::other(format!(
        "unknown patch type: {} in map: {}",
        gofmt::s(directive),
        gofmt::v(&Value::Object(map.clone()))
    ))
}

/// Go's `==` on two decoded values (maps and slices never compare equal here; Go would panic).
fn go_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Array(_) | Value::Object(_), _) | (_, Value::Array(_) | Value::Object(_)) => false,
        _ => a == b,
    }
}

/// Go's reflect kind of a schema node, for the library's messages.
fn schema_kind(schema: &Schema) -> &'static str {
    match schema.kind() {
        NodeKind::Struct => "struct",
        NodeKind::Map => "map",
        NodeKind::List => "slice",
        NodeKind::Scalar => "string",
        NodeKind::Any => "interface",
    }
}

/// `LookupPatchMetadata`: the field's schema, its strategy (without `retainKeys`) and merge key.
fn lookup<'s>(schema: &'s Schema, key: &str) -> Step<(&'s Schema, Strategy, String)> {
    match schema.kind() {
        NodeKind::Map => {
            let values = schema.values().unwrap_or(schema);
            Ok((values, Strategy::Default, String::new()))
        }
        NodeKind::Struct => match schema.field(key) {
            Some(field) => {
                let tag = field.patch_strategy();
                if tag.invalid {
                    return Err(Failure::other("unexpected patch strategy".to_owned()));
                }
                let strategy = if tag.merge {
                    Strategy::Merge
                } else if tag.replace {
                    Strategy::Replace
                } else {
                    Strategy::Default
                };
                Ok((
                    field,
                    strategy,
                    field.patch_merge_key().unwrap_or_default().to_owned(),
                ))
            }
            None => Err(Failure::other(format!(
                "unable to find api field in struct {} for the json field {key:?}",
                schema.type_name()
            ))),
        },
        NodeKind::Any if schema.name().is_some() => Err(Failure::other(format!(
            "unable to find api field in struct {} for the json field {key:?}",
            schema.type_name()
        ))),
        _ => Err(Failure::other(format!(
            "merging an object in json but data type is not map or struct, instead is: {}",
            schema_kind(schema)
        ))),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Strategy {
    Default,
    Merge,
    Replace,
}

fn push_path(at: &mut String, key: &str) -> usize {
    let len = at.len();
    if !at.is_empty() {
        at.push('.');
    }
    at.push_str(key);
    len
}

fn merge_map(
    mut original: Map<String, Value>,
    mut patch: Map<String, Value>,
    schema: &Schema,
    at: &mut String,
) -> Result<Map<String, Value>, Error> {
    if let Some(directive) = patch.get(DIRECTIVE) {
        return match directive.as_str() {
            Some("replace") => {
                patch.remove(DIRECTIVE);
                Ok(patch)
            }
            Some("delete") => Ok(Map::new()),
            _ => located(Err(bad_patch_type(directive, &patch)), at),
        };
    }
    located(apply_retain_keys(&mut original, &mut patch), at)?;
    merge_set_element_order(&mut original, &mut patch, schema, at)?;

    // Go visits the keys in random order; deletion lists go last here, so that an item both added and
    // deleted by one patch is deleted (one of the two outcomes the apiserver can give).
    let (deletions, others): (Vec<_>, Vec<_>) = patch
        .into_iter()
        .partition(|(key, _)| key.starts_with(DELETE_FROM_PRIMITIVE_LIST));
    for (key, patch_value) in others.into_iter().chain(deletions) {
        let (key, delete_list) = if key.starts_with(DELETE_FROM_PRIMITIVE_LIST) {
            let stripped = located(
                extract_key(
                    &key,
                    DELETE_FROM_PRIMITIVE_LIST,
                    "invalid patch format of primitive list",
                ),
                at,
            )?;
            (stripped, true)
        } else {
            (key, false)
        };
        if patch_value.is_null() {
            original.remove(&key);
            continue;
        }
        let Some(current) = original.get(&key) else {
            // A new value is taken without its nulls and directives; a deletion list for a list that
            // is not there does nothing.
            if !delete_list && let Some(value) = without_directives(without_nulls(patch_value)) {
                original.insert(key, value);
            }
            continue;
        };
        let same_type = gofmt::type_name(current) == gofmt::type_name(&patch_value);
        if !same_type || !(current.is_object() || current.is_array()) {
            if same_type || !delete_list {
                let value = if same_type {
                    patch_value
                } else {
                    without_nulls(patch_value)
                };
                match without_directives(value) {
                    Some(value) => original.insert(key, value),
                    None => original.remove(&key),
                };
            }
            continue;
        }
        let Some(current) = original.get_mut(&key) else {
            continue;
        };
        let (field, strategy, merge_key) = located(lookup(schema, &key), at)?;
        let len = push_path(at, &key);
        let merged = match (current.take(), patch_value) {
            (Value::Object(current), Value::Object(patch_value)) => {
                if strategy == Strategy::Replace {
                    Ok(Value::Object(patch_value))
                } else {
                    merge_map(current, patch_value, field, at).map(Value::Object)
                }
            }
            (Value::Array(current), Value::Array(patch_value)) => {
                if field.kind() != NodeKind::List && field.kind() != NodeKind::Any {
                    Err(Error::StrategicMerge {
                        path: at.clone(),
                        message: format!(
                            "expected slice or array type, but got: {}",
                            schema_kind(schema)
                        ),
                        class: super::StrategicClass::Other,
                    })
                } else if strategy == Strategy::Merge {
                    merge_slice(
                        current,
                        patch_value,
                        field.items(),
                        &merge_key,
                        delete_list,
                        at,
                    )
                    .map(Value::Array)
                } else {
                    Ok(Value::Array(patch_value))
                }
            }
            (_, patch_value) => Ok(patch_value),
        };
        at.truncate(len);
        original.insert(key, merged?);
    }
    Ok(original)
}

/// The patch value with the nulls of its objects dropped (at any depth, through lists).
fn without_nulls(mut value: Value) -> Value {
    fn discard(value: &mut Value) {
        match value {
            Value::Object(map) => {
                map.retain(|_, v| !v.is_null());
                map.values_mut().for_each(discard);
            }
            Value::Array(items) => items.iter_mut().for_each(discard),
            _ => {}
        }
    }
    discard(&mut value);
    value
}

/// The value without the maps that carry a `$patch` directive (`None` if it is one itself).
fn without_directives(value: Value) -> Option<Value> {
    match value {
        Value::Object(map) => {
            if map.contains_key(DIRECTIVE) {
                return None;
            }
            Some(Value::Object(
                map.into_iter()
                    .filter_map(|(k, v)| without_directives(v).map(|v| (k, v)))
                    .collect(),
            ))
        }
        Value::Array(items) => Some(Value::Array(
            items.into_iter().filter_map(without_directives).collect(),
        )),
        other => Some(other),
    }
}

fn extract_key(key: &str, prefix: &str, format_error: &str) -> Step<String> {
    match key.split_once('/') {
        Some((head, rest)) if head == prefix => Ok(rest.to_owned()),
        _ => Err(Failure::format(format_error)),
    }
}

fn apply_retain_keys(
    original: &mut Map<String, Value>,
    patch: &mut Map<String, Value>,
) -> Step<()> {
    let Some(retain) = patch.remove(RETAIN_KEYS) else {
        return Ok(());
    };
    let Value::Array(retain) = retain else {
        return Err(Failure::format("invalid patch format of retainKeys"));
    };
    let listed = |key: &str| retain.iter().any(|k| k.as_str() == Some(key));
    for (key, value) in patch.iter() {
        if value.is_null()
            || key.starts_with(DELETE_FROM_PRIMITIVE_LIST)
            || key.starts_with(SET_ELEMENT_ORDER)
        {
            continue;
        }
        if !listed(key) {
            return Err(Failure::format("invalid patch format of retainKeys"));
        }
    }
    original.retain(|key, _| listed(key));
    Ok(())
}

/// `$setElementOrder/<list>`: merges the list (if the patch has it) and orders it as the directive says.
fn merge_set_element_order(
    original: &mut Map<String, Value>,
    patch: &mut Map<String, Value>,
    schema: &Schema,
    at: &mut String,
) -> Result<(), Error> {
    let keys: Vec<String> = patch
        .keys()
        .filter(|k| k.starts_with(SET_ELEMENT_ORDER))
        .cloned()
        .collect();
    for key in keys {
        let Some(order) = patch.remove(&key) else {
            continue;
        };
        let Value::Array(order) = order else {
            return located(Err(bad_arg_type("slice", &order)), at);
        };
        let list_key = located(
            extract_key(
                &key,
                SET_ELEMENT_ORDER,
                "invalid patch format of setElementOrder list",
            ),
            at,
        )?;
        let original_list = match original.get(&list_key) {
            None => None,
            Some(Value::Array(items)) => Some(items.clone()),
            Some(other) => return located(Err(bad_arg_type("slice", other)), at),
        };
        let patch_list = match patch.get(&list_key) {
            None => None,
            Some(Value::Array(items)) => Some(items.clone()),
            Some(other) => return located(Err(bad_arg_type("slice", other)), at),
        };
        let (field, strategy, merge_key) = located(lookup(schema, &list_key), at)?;
        let len = push_path(at, &list_key);
        let result = order_list(
            original_list,
            patch_list,
            &order,
            field,
            strategy,
            &merge_key,
            at,
        );
        at.truncate(len);
        if let Some(list) = result? {
            // A list the live object did not have is taken without its directive items.
            let list = list.into_iter().filter_map(without_directives).collect();
            original.insert(list_key.clone(), Value::Array(list));
            patch.remove(&list_key);
        }
    }
    Ok(())
}

fn order_list(
    original_list: Option<Vec<Value>>,
    patch_list: Option<Vec<Value>>,
    order: &[Value],
    field: &Schema,
    strategy: Strategy,
    merge_key: &str,
    at: &mut String,
) -> Result<Option<Vec<Value>>, Error> {
    let original_items = original_list.clone().unwrap_or_default();
    let patch_items = patch_list.clone().unwrap_or_default();
    located(validate_order(&patch_items, order, merge_key), at)?;
    // The live list as the library sees it afterwards: deleting entries shifts the items left in
    // place, and items the merge appends land in the freed places (Go slices share one array).
    let mut server_order = original_items.clone();
    let merged = match (original_list, patch_list) {
        (Some(original), None) => original,
        (None, Some(patch)) => patch,
        (Some(original), Some(patch)) => {
            if strategy == Strategy::Merge {
                server_order = shared_array_after_merge(&original, &patch, merge_key);
                merge_slice(original, patch, field.items(), merge_key, false, at)?
            } else {
                patch
            }
        }
        (None, None) => return Ok(None),
    };
    let step = || -> Step<Vec<Value>> {
        let (in_order, server_only) = if merge_key.is_empty() {
            partition_primitives(&merged, order)
        } else {
            partition_maps(&merged, order, merge_key)?
        };
        let kind = element_kind(&[&original_items, &patch_items])?;
        normalize_element_order(in_order, server_only, order, &server_order, merge_key, kind)
    };
    located(step(), at).map(Some)
}

fn shared_array_after_merge(original: &[Value], patch: &[Value], merge_key: &str) -> Vec<Value> {
    if original.is_empty()
        || !original.iter().all(Value::is_object)
        || !patch.iter().all(Value::is_object)
    {
        return original.to_vec();
    }
    let key_of = |v: &Value| v.get(merge_key).cloned();
    let mut backing = original.to_vec();
    let mut len = backing.len();
    let mut replace = false;
    for item in patch {
        match item.get(DIRECTIVE).and_then(Value::as_str) {
            Some("delete") => {
                let Some(value) = key_of(item) else {
                    return backing;
                };
                while let Some(index) = backing[..len]
                    .iter()
                    .position(|o| o.get(merge_key).is_some_and(|k| go_eq(k, &value)))
                {
                    // append(s[:i], s[i+1:]...): the tail moves left; the last place keeps its item.
                    for p in index..len - 1 {
                        backing[p] = backing[p + 1].clone();
                    }
                    len -= 1;
                }
            }
            Some("replace") => replace = true,
            _ => {}
        }
    }
    if replace {
        return backing;
    }
    for item in patch.iter().filter(|i| i.get(DIRECTIVE).is_none()) {
        let Some(value) = key_of(item) else {
            return backing;
        };
        let found = backing[..len]
            .iter()
            .any(|o| o.get(merge_key).is_some_and(|k| go_eq(k, &value)));
        if !found && len < backing.len() {
            backing[len] = item.clone();
            len += 1;
        }
    }
    backing
}

fn validate_order(patch: &[Value], order: &[Value], merge_key: &str) -> Step<()> {
    if order.is_empty() || patch.is_empty() {
        return Ok(());
    }
    let non_delete: Vec<&Value> = if merge_key.is_empty() {
        patch.iter().collect()
    } else {
        let mut kept = Vec::new();
        for item in patch {
            let Value::Object(map) = item else {
                return Err(bad_arg_type("map", item));
            };
            if map.get(DIRECTIVE).and_then(Value::as_str) != Some("delete") {
                kept.push(item);
            }
        }
        kept
    };
    let (mut p, mut s) = (0, 0);
    while p < non_delete.len() && s < order.len() {
        if non_delete[p].get(DIRECTIVE).is_some() {
            p += 1;
            continue;
        }
        if merge_key_equal(non_delete[p], &order[s], merge_key)? {
            p += 1;
        }
        s += 1;
    }
    if p < non_delete.len() && s >= order.len() {
        return Err(Failure::other(format!(
            "The order in patch list:\n{}\n doesn't match {SET_ELEMENT_ORDER} list:\n{}\n",
            gofmt::v(&Value::Array(patch.to_vec())),
            gofmt::v(&Value::Array(order.to_vec()))
        )));
    }
    Ok(())
}

fn merge_key_equal(left: &Value, right: &Value, merge_key: &str) -> Step<bool> {
    if merge_key.is_empty() {
        return Ok(go_eq(left, right));
    }
    let Value::Object(l) = left else {
        return Err(bad_arg_type("map", left));
    };
    let Value::Object(r) = right else {
        return Err(bad_arg_type("map", right));
    };
    let lk = l.get(merge_key).ok_or_else(|| no_merge_key(l, merge_key))?;
    let rk = r.get(merge_key).ok_or_else(|| no_merge_key(r, merge_key))?;
    Ok(go_eq(lk, rk))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ElementKind {
    Map,
    Other,
}

/// `sliceElementType`: every element has one Go type, and none is a list.
fn element_kind(lists: &[&[Value]]) -> Step<ElementKind> {
    let mut first: Option<&'static str> = None;
    for list in lists {
        for item in *list {
            let t = gofmt::type_name(item);
            match first {
                None => {
                    if item.is_array() {
                        return Err(Failure {
                            message: "lists of lists are not supported".to_owned(),
                            class: super::StrategicClass::Unprocessable,
                        });
                    }
                    first = Some(t);
                }
                Some(f) if f != t => {
                    let all: Vec<Value> = lists.iter().map(|l| Value::Array(l.to_vec())).collect();
                    return Err(Failure::other(format!(
                        "list element types are not identical: {}",
                        gofmt::v(&Value::Array(all))
                    )));
                }
                Some(_) => {}
            }
        }
    }
    match first {
        None => Err(Failure::other(
            "no elements in any of the given slices".to_owned(),
        )),
        Some("map[string]interface {}") => Ok(ElementKind::Map),
        Some(_) => Ok(ElementKind::Other),
    }
}

fn merge_slice(
    original: Vec<Value>,
    patch: Vec<Value>,
    items: Option<&Schema>,
    merge_key: &str,
    delete_list: bool,
    at: &mut String,
) -> Result<Vec<Value>, Error> {
    if original.is_empty() && patch.is_empty() {
        return Ok(original);
    }
    let kind = located(element_kind(&[&original, &patch]), at)?;
    let (merged, original, patch) = if kind == ElementKind::Map {
        if merge_key.is_empty() {
            let what = items.map_or("interface", schema_kind);
            return located(
                Err(Failure::other(format!(
                    "cannot merge lists without merge key for type {what}"
                ))),
                at,
            );
        }
        let (original, patch) = located(merge_special_elements(original, patch, merge_key), at)?;
        let merged =
            merge_without_special_elements(original.clone(), &patch, merge_key, items, at)?;
        (merged, original, patch)
    } else {
        if delete_list {
            return Ok(original
                .into_iter()
                .filter(|item| !patch.iter().any(|d| go_eq(d, item)))
                .collect());
        }
        let mut both = original.clone();
        both.extend(patch.iter().cloned());
        (deduplicate_scalars(both), original, patch)
    };
    let step = || -> Step<Vec<Value>> {
        let (in_patch, server_only) = if merge_key.is_empty() {
            partition_primitives(&merged, &patch)
        } else {
            partition_maps(&merged, &patch, merge_key)?
        };
        normalize_element_order(in_patch, server_only, &patch, &original, merge_key, kind)
    };
    located(step(), at)
}

/// Deletions (`$patch: delete`) and `$patch: replace` among a list's patch items.
fn merge_special_elements(
    mut original: Vec<Value>,
    patch: Vec<Value>,
    merge_key: &str,
) -> Step<(Vec<Value>, Vec<Value>)> {
    let mut plain = Vec::new();
    let mut replace = false;
    for item in patch {
        let Value::Object(map) = &item else {
            plain.push(item);
            continue;
        };
        let Some(directive) = map.get(DIRECTIVE) else {
            plain.push(item);
            continue;
        };
        match directive.as_str() {
            Some("delete") => {
                let Some(value) = map.get(merge_key) else {
                    return Err(no_merge_key(map, merge_key));
                };
                for o in &original {
                    if !o.is_object() {
                        return Err(Failure::other("value for key 0 is not a map.".to_owned()));
                    }
                }
                original.retain(|o| !o.get(merge_key).is_some_and(|k| go_eq(k, value)));
            }
            Some("replace") => replace = true,
            Some("merge") => {
                return Err(Failure::other(
                    "merging lists cannot yet be specified in the patch".to_owned(),
                ));
            }
            _ => return Err(bad_patch_type(directive, map)),
        }
    }
    if replace {
        Ok((plain, Vec::new()))
    } else {
        Ok((original, plain))
    }
}

fn merge_without_special_elements(
    mut original: Vec<Value>,
    patch: &[Value],
    merge_key: &str,
    items: Option<&Schema>,
    at: &mut String,
) -> Result<Vec<Value>, Error> {
    for item in patch {
        let Value::Object(map) = item else {
            return located(Err(bad_arg_type("map", item)), at);
        };
        let Some(value) = map.get(merge_key) else {
            return located(Err(no_merge_key(map, merge_key)), at);
        };
        let mut found = None;
        for (index, o) in original.iter().enumerate() {
            let Value::Object(o) = o else {
                return located(
                    Err(Failure::other(format!(
                        "value for key {index} is not a map."
                    ))),
                    at,
                );
            };
            if o.get(merge_key).is_some_and(|k| go_eq(k, value)) {
                found = Some(index);
                break;
            }
        }
        match found {
            Some(index) => {
                let Value::Object(current) = original[index].take() else {
                    continue;
                };
                let Some(schema) = items else {
                    return located(Err(Failure::other("merging an object in json but data type is not map or struct, instead is: interface".to_owned())), at);
                };
                original[index] = Value::Object(merge_map(current, map.clone(), schema, at)?);
            }
            None => original.push(item.clone()),
        }
    }
    Ok(original)
}

/// The library's in-place deduplication: a later duplicate is replaced by the last item.
fn deduplicate_scalars(mut items: Vec<Value>) -> Vec<Value> {
    let mut i = 0;
    while i + 1 < items.len() {
        let mut j = i + 1;
        while j < items.len() {
            if go_eq(&items[i], &items[j]) {
                let last = items.len() - 1;
                items.swap(j, last);
                items.truncate(last);
            } else {
                j += 1;
            }
        }
        i += 1;
    }
    items
}

fn partition_primitives(items: &[Value], by: &[Value]) -> (Vec<Value>, Vec<Value>) {
    items
        .iter()
        .cloned()
        .partition(|item| by.iter().any(|b| go_eq(b, item)))
}

fn partition_maps(
    items: &[Value],
    by: &[Value],
    merge_key: &str,
) -> Step<(Vec<Value>, Vec<Value>)> {
    let mut in_by = Vec::new();
    let mut rest = Vec::new();
    for item in items {
        let Value::Object(map) = item else {
            return Err(bad_arg_type("map", item));
        };
        let Some(value) = map.get(merge_key) else {
            return Err(no_merge_key(map, merge_key));
        };
        let mut found = false;
        for (index, b) in by.iter().enumerate() {
            let Value::Object(b) = b else {
                return Err(Failure::other(format!(
                    "value for key {index} is not a map."
                )));
            };
            if b.get(merge_key).is_some_and(|k| go_eq(k, value)) {
                found = true;
                break;
            }
        }
        if found {
            in_by.push(item.clone());
        } else {
            rest.push(item.clone());
        }
    }
    Ok((in_by, rest))
}

/// Position of `item` in `list` (by merge key for maps, a missing key matching a missing key).
fn index_of(list: &[Value], item: &Value, merge_key: &str, kind: ElementKind) -> Option<usize> {
    if kind == ElementKind::Map {
        let wanted = item.get(merge_key);
        list.iter().position(|v| match (v.get(merge_key), wanted) {
            (None, None) => true,
            (Some(a), Some(b)) => go_eq(a, b),
            _ => false,
        })
    } else {
        list.iter().position(|v| go_eq(v, item))
    }
}

fn normalize_element_order(
    patch: Vec<Value>,
    server_only: Vec<Value>,
    patch_order: &[Value],
    server_order: &[Value],
    merge_key: &str,
    kind: ElementKind,
) -> Step<Vec<Value>> {
    let patch = normalize_slice_order(patch, patch_order, merge_key, kind)?;
    let server_only = normalize_slice_order(server_only, server_order, merge_key, kind)?;
    Ok(merge_sorted(
        server_only,
        patch,
        server_order,
        merge_key,
        kind,
    ))
}

fn normalize_slice_order(
    to_sort: Vec<Value>,
    order: &[Value],
    merge_key: &str,
    kind: ElementKind,
) -> Step<Vec<Value>> {
    let (mut to_sort, to_delete) = if kind == ElementKind::Map {
        for item in to_sort.iter().chain(order) {
            let Value::Object(map) = item else {
                return Err(bad_arg_type("map", item));
            };
            if !map.contains_key(merge_key) {
                return Err(no_merge_key(map, merge_key));
            }
        }
        to_sort
            .into_iter()
            .partition(|item| item.get(DIRECTIVE).and_then(Value::as_str) != Some("delete"))
    } else {
        (to_sort, Vec::new())
    };
    // sort.SliceStable's insertion sort (exact for the short lists of real objects), with the
    // library's comparison: an item not in `order` sorts before anything.
    let less = |a: &Value, b: &Value| match (
        index_of(order, a, merge_key, kind),
        index_of(order, b, merge_key, kind),
    ) {
        (Some(i), Some(j)) => i < j,
        _ => true,
    };
    for i in 1..to_sort.len() {
        let mut j = i;
        while j > 0 && less(&to_sort[j], &to_sort[j - 1]) {
            to_sort.swap(j, j - 1);
            j -= 1;
        }
    }
    to_sort.extend(to_delete);
    Ok(to_sort)
}

fn merge_sorted(
    left: Vec<Value>,
    right: Vec<Value>,
    server_order: &[Value],
    merge_key: &str,
    kind: ElementKind,
) -> Vec<Value> {
    let mut out = Vec::with_capacity(left.len() + right.len());
    let mut left = left.into_iter().peekable();
    let mut right = right.into_iter().peekable();
    loop {
        let take_left = match (left.peek(), right.peek()) {
            (None, None) => break,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some(l), Some(r)) => match (
                index_of(server_order, l, merge_key, kind),
                index_of(server_order, r, merge_key, kind),
            ) {
                (Some(li), Some(ri)) => li < ri,
                _ => false,
            },
        };
        let next = if take_left { left.next() } else { right.next() };
        out.extend(next);
    }
    out
}
