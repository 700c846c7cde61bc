//! JSON patch (RFC 6902) and JSON merge patch (RFC 7386) as the apiserver applies them (the
//! `evanphx/json-patch` v4 rules, quirks included: `replace` of a missing object key adds it, `copy` of a
//! missing object key copies `null`, negative array indices count from the end).

use serde_json::{Map, Value};

use super::Error;

/// The most operations one JSON patch may hold (the apiserver's limit).
pub const MAX_JSON_PATCH_OPERATIONS: usize = 10_000;

/// Applies an RFC 6902 JSON patch (`[{"op": "add", "path": "/a/b", "value": 1}, ...]`) to `doc`.
pub fn json_patch(doc: &Value, patch: &Value) -> Result<Value, Error> {
    let operations = match patch {
        Value::Null => return Ok(doc.clone()),
        Value::Array(operations) => operations,
        other => {
            return Err(Error::JsonPatchDecode {
                message: format!(
                    "json: cannot unmarshal {} into Go value of type jsonpatch.Patch",
                    json_kind(other)
                ),
            });
        }
    };
    if operations.len() > MAX_JSON_PATCH_OPERATIONS {
        return Err(Error::TooManyOperations {
            count: operations.len(),
            limit: MAX_JSON_PATCH_OPERATIONS,
        });
    }
    // A `null` operation decodes as an empty one ("Unexpected kind: unknown").
    let empty = Map::new();
    let mut maps = Vec::with_capacity(operations.len());
    for operation in operations {
        match operation {
            Value::Object(map) => maps.push(map),
            Value::Null => maps.push(&empty),
            other => {
                return Err(Error::JsonPatchDecode {
                    message: format!(
                        "json: cannot unmarshal {} into Go value of type jsonpatch.Operation",
                        json_kind(other)
                    ),
                });
            }
        }
    }
    let mut doc = doc.clone();
    for (index, operation) in maps.into_iter().enumerate() {
        apply_operation(&mut doc, operation).map_err(|(path, message)| Error::JsonPatch {
            index,
            path,
            message,
        })?;
    }
    Ok(doc)
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

type OpResult = Result<(), (String, String)>;

const MISSING: &str = "missing value";
const INVALID_INDEX: &str = "invalid index referenced";

fn string_field(operation: &Map<String, Value>, field: &str) -> Option<String> {
    operation
        .get(field)
        .and_then(Value::as_str)
        .map(str::to_owned)
}

// One arm per operation, in the order RFC 6902 lists them: splitting it would scatter the messages.
#[allow(clippy::too_many_lines)]
fn apply_operation(doc: &mut Value, operation: &Map<String, Value>) -> OpResult {
    let kind = string_field(operation, "op").unwrap_or_else(|| "unknown".to_owned());
    let path = string_field(operation, "path");
    let shown = path.clone().unwrap_or_default();
    let fail = |message: String| Err((shown.clone(), message));
    // "value": null and no "value" at all both become null where a value is stored.
    let value = operation.get("value").cloned().unwrap_or(Value::Null);
    match kind.as_str() {
        "add" => {
            let Some(path) = path else {
                return fail(format!("add operation failed to decode path: {MISSING}"));
            };
            let Some((container, key)) = find_object(doc, &path) else {
                return fail(format!(
                    "add operation does not apply: doc is missing path: \"{path}\": {MISSING}"
                ));
            };
            add(container, &key, value)
                .or_else(|e| fail(format!("error in add for path: '{path}': {e}")))
        }
        "remove" => {
            let Some(path) = path else {
                return fail(format!("remove operation failed to decode path: {MISSING}"));
            };
            let Some((container, key)) = find_object(doc, &path) else {
                return fail(format!(
                    "remove operation does not apply: doc is missing path: \"{path}\": {MISSING}"
                ));
            };
            remove(container, &key)
                .map(drop)
                .or_else(|e| fail(format!("error in remove for path: '{path}': {e}")))
        }
        "replace" => {
            let Some(path) = path else {
                return fail(format!(
                    "replace operation failed to decode path: operation missing path field: {MISSING}"
                ));
            };
            if path.is_empty() {
                // A non-container value is silently ignored (the library wraps a nil error).
                if value.is_object() || value.is_array() {
                    *doc = value;
                }
                return Ok(());
            }
            let Some((container, key)) = find_object(doc, &path) else {
                return fail(format!(
                    "replace operation does not apply: doc is missing path: {path}: {MISSING}"
                ));
            };
            match container {
                Value::Object(map) => {
                    map.insert(key, value);
                    Ok(())
                }
                Value::Array(items) => match array_index(items.len(), &key, false) {
                    Ok(index) => {
                        items[index] = value;
                        Ok(())
                    }
                    Err(_) => fail(format!(
                        "replace operation does not apply: doc is missing key: {path}: {MISSING}"
                    )),
                },
                _ => fail(format!(
                    "replace operation does not apply: doc is missing path: {path}: {MISSING}"
                )),
            }
        }
        "move" => {
            let Some(from) = string_field(operation, "from") else {
                return fail(format!(
                    "move operation failed to decode from: operation, missing from field: {MISSING}"
                ));
            };
            let Some((container, key)) = find_object(doc, &from) else {
                return fail(format!(
                    "move operation does not apply: doc is missing from path: {from}: {MISSING}"
                ));
            };
            get(container, &key).map_err(|e| {
                (
                    shown.clone(),
                    format!("error in move for path: '{key}': {e}"),
                )
            })?;
            let moved = remove(container, &key).map_err(|e| {
                (
                    shown.clone(),
                    format!("error in move for path: '{key}': {e}"),
                )
            })?;
            let Some(path) = path else {
                return fail(format!(
                    "move operation failed to decode path: operation missing path field: {MISSING}"
                ));
            };
            let Some((container, key)) = find_object(doc, &path) else {
                return fail(format!(
                    "move operation does not apply: doc is missing destination path: {path}: {MISSING}"
                ));
            };
            add(container, &key, moved)
                .or_else(|e| fail(format!("error in move for path: '{path}': {e}")))
        }
        "copy" => {
            let Some(from) = string_field(operation, "from") else {
                return fail(format!(
                    "copy operation failed to decode from: operation, missing from field: {MISSING}"
                ));
            };
            let Some((container, key)) = find_object(doc, &from) else {
                return fail(format!(
                    "copy operation does not apply: doc is missing from path: {from}: {MISSING}"
                ));
            };
            let copied = get(container, &key)
                .map_err(|e| {
                    (
                        shown.clone(),
                        format!("error in copy for from: '{from}': {e}"),
                    )
                })?
                .cloned()
                .unwrap_or(Value::Null);
            let Some(path) = path else {
                return fail(format!("copy operation failed to decode path: {MISSING}"));
            };
            let Some((container, key)) = find_object(doc, &path) else {
                return fail(format!(
                    "copy operation does not apply: doc is missing destination path: {path}: {MISSING}"
                ));
            };
            add(container, &key, copied)
                .or_else(|e| fail(format!("error while adding value during copy: {e}")))
        }
        "test" => {
            let Some(path) = path else {
                return fail(format!(
                    "test operation failed to decode path: operation missing path field: {MISSING}"
                ));
            };
            let expected = operation.get("value");
            let failed = || format!("testing value {path} failed: test failed");
            if path.is_empty() {
                return if expected == Some(&*doc) {
                    Ok(())
                } else {
                    fail(failed())
                };
            }
            let Some((container, key)) = find_object(doc, &path) else {
                return fail(format!(
                    "test operation does not apply: is missing path: {path}: {MISSING}"
                ));
            };
            let actual = get(container, &key).map_err(|e| {
                (
                    shown.clone(),
                    format!("error in test for path: '{path}': {e}"),
                )
            })?;
            match (actual.filter(|v| !v.is_null()), expected) {
                (None, None | Some(Value::Null)) => Ok(()),
                (Some(actual), Some(expected)) if actual == expected => Ok(()),
                _ => fail(failed()),
            }
        }
        other => fail(format!("Unexpected kind: {other}")),
    }
}

/// The container that holds the last segment of `path`, and that segment (unescaped). Like the
/// library, the text before the first `/` is ignored and `null` or scalars on the way are missing.
fn find_object<'a>(doc: &'a mut Value, path: &str) -> Option<(&'a mut Value, String)> {
    let segments: Vec<&str> = path.split('/').collect();
    if segments.len() < 2 {
        return None;
    }
    let mut node = doc;
    for part in &segments[1..segments.len() - 1] {
        let part = unescape(part);
        node = match node {
            Value::Object(map) => map.get_mut(&part).filter(|v| !v.is_null())?,
            Value::Array(items) => {
                let index = array_index(items.len(), &part, false).ok()?;
                items.get_mut(index)?
            }
            _ => return None,
        };
        if !(node.is_object() || node.is_array()) {
            return None;
        }
    }
    if !(node.is_object() || node.is_array()) {
        return None;
    }
    Some((node, unescape(segments[segments.len() - 1])))
}

fn unescape(segment: &str) -> String {
    // Left to right, as strings.Replacer does: "~01" is "~1".
    let mut out = String::with_capacity(segment.len());
    let mut chars = segment.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '~' {
            match chars.peek() {
                Some('1') => {
                    chars.next();
                    out.push('/');
                }
                Some('0') => {
                    chars.next();
                    out.push('~');
                }
                _ => out.push('~'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Go's `strconv.Atoi`: an optional sign and decimal digits.
fn atoi(key: &str) -> Result<i64, String> {
    let digits = key.strip_prefix(['+', '-']).unwrap_or(key);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("strconv.Atoi: parsing {key:?}: invalid syntax"));
    }
    key.trim_start_matches('+')
        .parse::<i64>()
        .map_err(|_| format!("strconv.Atoi: parsing {key:?}: value out of range"))
}

/// An index into an array of `len` items (`len + 1` places when inserting); negative ones count from
/// the end.
fn array_index(len: usize, key: &str, inserting: bool) -> Result<usize, String> {
    let index = atoi(key)?;
    let size = i64::try_from(if inserting { len + 1 } else { len }).unwrap_or(i64::MAX);
    let invalid = || format!("Unable to access invalid index: {index}: {INVALID_INDEX}");
    if index >= size {
        return Err(invalid());
    }
    let resolved = if index < 0 {
        if index < -size {
            return Err(invalid());
        }
        index + size
    } else {
        index
    };
    usize::try_from(resolved).map_err(|_| invalid())
}

fn get<'a>(container: &'a Value, key: &str) -> Result<Option<&'a Value>, String> {
    match container {
        Value::Object(map) => Ok(map.get(key)),
        Value::Array(items) => array_index(items.len(), key, false).map(|i| items.get(i)),
        _ => Ok(None),
    }
}

fn add(container: &mut Value, key: &str, value: Value) -> Result<(), String> {
    match container {
        Value::Object(map) => {
            map.insert(key.to_owned(), value);
            Ok(())
        }
        Value::Array(items) => {
            if key == "-" {
                items.push(value);
                return Ok(());
            }
            let index = array_index(items.len(), key, true).map_err(|e| {
                if e.starts_with("strconv") {
                    format!("value was not a proper array index: '{key}': {e}")
                } else {
                    e
                }
            })?;
            items.insert(index, value);
            Ok(())
        }
        _ => Ok(()),
    }
}

fn remove(container: &mut Value, key: &str) -> Result<Value, String> {
    match container {
        Value::Object(map) => map
            .remove(key)
            .ok_or_else(|| format!("Unable to remove nonexistent key: {key}: {MISSING}")),
        Value::Array(items) => {
            let index = array_index(items.len(), key, false)?;
            Ok(items.remove(index))
        }
        _ => Ok(Value::Null),
    }
}

/// Applies an RFC 7386 JSON merge patch to `doc`: objects merge key by key, `null` deletes, anything
/// else replaces (nulls inside replacing objects are dropped, as the apiserver does).
pub fn merge_patch(doc: &Value, patch: &Value) -> Result<Value, Error> {
    if doc.is_null() {
        return Err(Error::MergePatchDocument);
    }
    match (doc, patch) {
        (Value::Object(doc), Value::Object(patch)) => {
            let mut doc = doc.clone();
            merge_docs(&mut doc, patch);
            Ok(Value::Object(doc))
        }
        (_, Value::Object(_) | Value::Array(_)) => {
            let mut patch = patch.clone();
            prune_nulls(&mut patch);
            Ok(patch)
        }
        _ => Err(Error::MergePatchNotObject),
    }
}

fn merge_docs(doc: &mut Map<String, Value>, patch: &Map<String, Value>) {
    for (key, value) in patch {
        if value.is_null() {
            doc.remove(key);
            continue;
        }
        match doc.get_mut(key) {
            Some(current) if !current.is_null() => match (current, value) {
                (Value::Object(current), Value::Object(patch)) => merge_docs(current, patch),
                (current @ Value::Object(_), value) => *current = value.clone(),
                (current, value) => {
                    let mut value = value.clone();
                    prune_nulls(&mut value);
                    *current = value;
                }
            },
            _ => {
                let mut value = value.clone();
                prune_nulls(&mut value);
                doc.insert(key.clone(), value);
            }
        }
    }
}

fn prune_nulls(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|_, v| !v.is_null());
            map.values_mut().for_each(prune_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(prune_nulls),
        _ => {}
    }
}
