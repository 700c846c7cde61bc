//! structured-merge-diff's walks over an object and its type: the field set of a value, the
//! comparison of two values, the merge of an applied configuration into a live object, and the removal
//! of a set of paths. Without a schema (custom kinds) the type is deduced: objects are granular maps,
//! lists are atomic.

use std::collections::{HashMap, VecDeque};
use std::sync::OnceLock;

use serde_json::{Map, Value};

use super::set::{FieldSet, PathElement};
use crate::schema::{ListType, MapType, NodeKind, Schema};

/// The type of a value: a node of the built-in kinds' tree, or deduced from the value.
#[derive(Debug, Clone, Copy)]
pub enum Ty<'a> {
    /// A built-in type.
    Schema(&'a Schema),
    /// No schema: maps are granular, lists atomic.
    Deduced,
}

/// How a list relates its items.
#[derive(Debug, Clone, Copy)]
enum Relation<'a> {
    Atomic,
    Set,
    Map(&'a [String]),
}

/// What a pair of values is, for the walks.
enum Node<'a> {
    Map {
        ty: Ty<'a>,
        atomic: bool,
    },
    List {
        item: Ty<'a>,
        relation: Relation<'a>,
    },
    Leaf,
}

/// A value the walks cannot handle (the library's validation error): where and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeError {
    /// `.spec.template.spec.containers`.
    pub path: String,
    /// `element 0: associative list with keys has an element that omits key field "name" ...`.
    pub message: String,
}

fn path_string(path: &[PathElement]) -> String {
    super::set::path_text(path)
}

fn present(v: Option<&Value>) -> Option<&Value> {
    v.filter(|v| !v.is_null())
}

impl<'a> Ty<'a> {
    /// What `a` and `b` (either side may be absent) are under this type.
    fn node(self, a: Option<&Value>, b: Option<&Value>) -> Node<'a> {
        let sides = [present(a), present(b)];
        let all = |f: fn(&Value) -> bool| sides.iter().flatten().all(|v| f(v));
        let any = sides.iter().flatten().next().is_some();
        let objects = any && all(Value::is_object);
        let arrays = any && all(Value::is_array);
        match self {
            Ty::Deduced => {
                if objects {
                    Node::Map {
                        ty: Ty::Deduced,
                        atomic: false,
                    }
                } else if arrays {
                    Node::List {
                        item: Ty::Deduced,
                        relation: Relation::Atomic,
                    }
                } else {
                    Node::Leaf
                }
            }
            Ty::Schema(schema) => match schema.kind() {
                NodeKind::Struct | NodeKind::Map if objects => Node::Map {
                    ty: self,
                    atomic: schema.map_type() == MapType::Atomic,
                },
                NodeKind::List if arrays => Node::List {
                    item: schema.items().map_or(Ty::Deduced, Ty::Schema),
                    relation: match schema.list_type() {
                        ListType::Atomic => Relation::Atomic,
                        ListType::Set | ListType::Map([]) => Relation::Set,
                        ListType::Map(keys) => Relation::Map(keys),
                    },
                },
                NodeKind::Any => Ty::Deduced.node(a, b),
                _ => Node::Leaf,
            },
        }
    }

    /// The type of map entry `key`, and whether it is a named field of a struct.
    fn entry(self, key: &str) -> (Ty<'a>, bool) {
        match self {
            Ty::Deduced => (Ty::Deduced, false),
            Ty::Schema(schema) => match schema.kind() {
                NodeKind::Struct => match schema.field(key) {
                    Some(field) => (Ty::Schema(field), true),
                    None => (Ty::Deduced, false),
                },
                NodeKind::Map => (schema.values().map_or(Ty::Deduced, Ty::Schema), false),
                _ => (Ty::Deduced, false),
            },
        }
    }

    /// The type below a path element (for walks over sets, without values).
    fn below(self, pe: &PathElement) -> Ty<'a> {
        match (self, pe) {
            (Ty::Schema(schema), PathElement::Field(name)) if schema.kind() != NodeKind::List => {
                self.entry(name).0
            }
            (Ty::Schema(schema), _) => schema.items().map_or(Ty::Deduced, Ty::Schema),
            (Ty::Deduced, _) => Ty::Deduced,
        }
    }

    fn is_named_field(self, name: &str) -> bool {
        matches!(self, Ty::Schema(s) if s.kind() == NodeKind::Struct && s.field(name).is_some())
    }
}

/// Defaults of scalar fields in the embedded OpenAPI documents, by (type name, field): a list-map key
/// an item omits takes its default (`protocol` of a port is `TCP`), as the library does.
fn field_default(type_name: &str, field: &str) -> Option<&'static Value> {
    static DEFAULTS: OnceLock<HashMap<(String, String), Value>> = OnceLock::new();
    DEFAULTS
        .get_or_init(|| {
            let mut out = HashMap::new();
            for (path, _) in crate::schema::openapi_paths() {
                let Some(doc) = crate::schema::openapi_document(path)
                    .and_then(|bytes| serde_json::from_slice::<Value>(bytes).ok())
                else {
                    continue;
                };
                let Some(schemas) = doc
                    .pointer("/components/schemas")
                    .and_then(Value::as_object)
                else {
                    continue;
                };
                for (name, schema) in schemas {
                    let Some(props) = schema.get("properties").and_then(Value::as_object) else {
                        continue;
                    };
                    for (prop, def) in props {
                        if let Some(d) = def.get("default").filter(|d| !d.is_object()) {
                            out.insert((name.clone(), prop.clone()), d.clone());
                        }
                    }
                }
            }
            out
        })
        .get(&(type_name.to_owned(), field.to_owned()))
}

/// The path element of a list item.
fn item_element(
    item_ty: Ty<'_>,
    relation: Relation<'_>,
    item: &Value,
) -> Result<PathElement, String> {
    match relation {
        Relation::Atomic => Err("invalid indexing of non-associative list".to_owned()),
        Relation::Set => Ok(PathElement::Value(item.to_string())),
        Relation::Map(keys) => {
            let fields = match item {
                Value::Null => {
                    return Err("associative list with keys may not have a null element".to_owned());
                }
                Value::Object(fields) => fields,
                _ => {
                    return Err(
                        "associative list with keys may not have non-map elements".to_owned()
                    );
                }
            };
            let mut key = Map::new();
            for name in keys {
                let value = if let Some(v) = fields.get(name) {
                    v.clone()
                } else {
                    let default = match item_ty {
                        Ty::Schema(s) => s.name().and_then(|n| field_default(n, name)),
                        Ty::Deduced => None,
                    };
                    default.cloned().ok_or_else(|| {
                        format!(
                            "associative list with keys has an element that omits key field {name:?} (and doesn't have default value)"
                        )
                    })?
                };
                key.insert(name.clone(), value);
            }
            Ok(PathElement::Key(Value::Object(key).to_string()))
        }
    }
}

/// The items of a list with their path elements; an item whose element cannot be made is an error.
fn elements<'v>(
    item_ty: Ty<'_>,
    relation: Relation<'_>,
    items: &'v [Value],
    path: &[PathElement],
) -> Result<Vec<(PathElement, &'v Value)>, TypeError> {
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            item_element(item_ty, relation, item)
                .map(|pe| (pe, item))
                .map_err(|e| TypeError {
                    path: path_string(path),
                    message: format!("element {i}: {e}"),
                })
        })
        .collect()
}

/// The paths a value sets (`TypedValue.ToFieldSet`): leaves, items of granular lists, entries of maps
/// that are not named fields, empty or null entries, atomic lists and maps as a whole.
pub fn to_field_set(ty: Ty<'_>, value: &Value) -> Result<FieldSet, TypeError> {
    let mut set = FieldSet::default();
    field_set_into(ty, value, &mut Vec::new(), &mut set)?;
    Ok(set)
}

fn field_set_into(
    ty: Ty<'_>,
    value: &Value,
    path: &mut Vec<PathElement>,
    set: &mut FieldSet,
) -> Result<(), TypeError> {
    match ty.node(Some(value), None) {
        Node::Leaf => set.insert(path),
        Node::Map { atomic: true, .. }
        | Node::List {
            relation: Relation::Atomic,
            ..
        } => {
            set.insert(path);
        }
        Node::Map { ty, .. } => {
            let Some(map) = value.as_object() else {
                return Ok(());
            };
            for (key, sub) in map {
                let (sub_ty, named) = ty.entry(key);
                path.push(PathElement::Field(key.clone()));
                field_set_into(sub_ty, sub, path, set)?;
                let empty = sub.is_null() || sub.as_object().is_some_and(Map::is_empty);
                if empty || !named {
                    set.insert(path);
                }
                path.pop();
            }
        }
        Node::List { item, relation } => {
            let Some(items) = value.as_array() else {
                return Ok(());
            };
            let listed = elements(item, relation, items, path)?;
            let mut seen: HashMap<&PathElement, usize> = HashMap::new();
            for (pe, _) in &listed {
                *seen.entry(pe).or_default() += 1;
            }
            for (pe, sub) in &listed {
                path.push(pe.clone());
                if seen[pe] < 2 {
                    field_set_into(item, sub, path, set)?;
                }
                set.insert(path);
                path.pop();
            }
        }
    }
    Ok(())
}

/// What changed between two values (`TypedValue.Compare`).
#[derive(Debug, Default, Clone)]
pub struct Comparison {
    /// Paths only the new value has.
    pub added: FieldSet,
    /// Paths whose value changed.
    pub modified: FieldSet,
    /// Paths only the old value has.
    pub removed: FieldSet,
}

impl Comparison {
    /// Keeps what `keep` keeps of each set (the reset fields a write may not touch are filtered).
    pub fn filter(&self, keep: impl Fn(&FieldSet) -> FieldSet) -> Comparison {
        Comparison {
            added: keep(&self.added),
            modified: keep(&self.modified),
            removed: keep(&self.removed),
        }
    }
}

/// Compares `old` with `new`.
pub fn compare(ty: Ty<'_>, old: &Value, new: &Value) -> Result<Comparison, TypeError> {
    let mut out = Comparison::default();
    compare_into(ty, Some(old), Some(new), &mut Vec::new(), &mut out)?;
    Ok(out)
}

fn leaf_change(old: Option<&Value>, new: Option<&Value>, path: &[PathElement], c: &mut Comparison) {
    match (old, new) {
        (None, _) => c.added.insert(path),
        (_, None) => c.removed.insert(path),
        (Some(a), Some(b)) if a != b => c.modified.insert(path),
        _ => {}
    }
}

/// Returns whether the pair was compared as a leaf (then the caller records nothing more for it).
fn compare_into(
    ty: Ty<'_>,
    old: Option<&Value>,
    new: Option<&Value>,
    path: &mut Vec<PathElement>,
    changes: &mut Comparison,
) -> Result<bool, TypeError> {
    match ty.node(old, new) {
        Node::Leaf => {
            leaf_change(old, new, path, changes);
            Ok(true)
        }
        Node::Map { ty, atomic } => {
            let lhs = present(old).and_then(Value::as_object);
            let rhs = present(new).and_then(Value::as_object);
            if atomic || (lhs.is_none_or(Map::is_empty) && rhs.is_none_or(Map::is_empty)) {
                leaf_change(old, new, path, changes);
                return Ok(true);
            }
            let mut keys: Vec<&String> = lhs.into_iter().flat_map(Map::keys).collect();
            keys.extend(rhs.into_iter().flat_map(Map::keys));
            keys.sort();
            keys.dedup();
            for key in keys {
                let (sub_ty, _) = ty.entry(key);
                let (before, after) = (lhs.and_then(|m| m.get(key)), rhs.and_then(|m| m.get(key)));
                path.push(PathElement::Field(key.clone()));
                compare_child(sub_ty, before, after, path, changes)?;
                path.pop();
            }
            Ok(false)
        }
        Node::List { item, relation } => {
            let lhs = present(old).and_then(Value::as_array);
            let rhs = present(new).and_then(Value::as_array);
            if matches!(relation, Relation::Atomic)
                || (lhs.is_none_or(Vec::is_empty) && rhs.is_none_or(Vec::is_empty))
            {
                leaf_change(old, new, path, changes);
                return Ok(true);
            }
            let left = elements(item, relation, lhs.map_or(&[][..], Vec::as_slice), path)?;
            let right = elements(item, relation, rhs.map_or(&[][..], Vec::as_slice), path)?;
            let mut order: Vec<&PathElement> = Vec::new();
            let mut by_pe: HashMap<&PathElement, (Vec<&Value>, Vec<&Value>)> = HashMap::new();
            for (pe, v) in &left {
                let entry = by_pe.entry(pe).or_default();
                if entry.0.is_empty() {
                    order.push(pe);
                }
                entry.0.push(v);
            }
            for (pe, v) in &right {
                let entry = by_pe.entry(pe).or_default();
                if entry.0.is_empty() && entry.1.is_empty() {
                    order.push(pe);
                }
                entry.1.push(v);
            }
            for pe in order {
                let (ls, rs) = &by_pe[pe];
                path.push(pe.clone());
                match (ls.len(), rs.len()) {
                    (0..=1, 0..=1) => {
                        compare_child(
                            item,
                            ls.first().copied(),
                            rs.first().copied(),
                            path,
                            changes,
                        )?;
                    }
                    (2.., 2..) => {
                        if ls != rs {
                            changes.modified.insert(path);
                        }
                    }
                    (2.., _) => {
                        if let Some(r0) = rs.first() {
                            compare_child(item, None, Some(r0), path, changes)?;
                        }
                        changes.removed.insert(path);
                    }
                    (_, _) => {
                        if let Some(l0) = ls.first() {
                            compare_child(item, Some(l0), None, path, changes)?;
                        }
                        changes.added.insert(path);
                    }
                }
                path.pop();
            }
            Ok(false)
        }
    }
}

fn compare_child(
    ty: Ty<'_>,
    old: Option<&Value>,
    new: Option<&Value>,
    path: &mut Vec<PathElement>,
    c: &mut Comparison,
) -> Result<(), TypeError> {
    let leaf = compare_into(ty, old, new, path, c)?;
    if !leaf {
        if old.is_none() {
            c.added.insert(path);
        } else if new.is_none() {
            c.removed.insert(path);
        }
    }
    Ok(())
}

/// Merges `config` into `live` (`TypedValue.Merge`): the configuration's value wins at every leaf,
/// granular maps merge by key, associative lists by item, atomic lists and maps are replaced.
pub fn merge(ty: Ty<'_>, live: &Value, config: &Value) -> Result<Value, TypeError> {
    Ok(merge_into(ty, Some(live), Some(config), &mut Vec::new())?
        .unwrap_or_else(|| Value::Object(Map::new())))
}

fn merge_into(
    ty: Ty<'_>,
    l: Option<&Value>,
    r: Option<&Value>,
    path: &mut Vec<PathElement>,
) -> Result<Option<Value>, TypeError> {
    let leaf = || r.or(l).cloned();
    match ty.node(l, r) {
        Node::Leaf => Ok(leaf()),
        Node::Map { ty, atomic } => {
            let lm = present(l).and_then(Value::as_object);
            let rm = present(r).and_then(Value::as_object);
            if atomic || (lm.is_none_or(Map::is_empty) && rm.is_none_or(Map::is_empty)) {
                return Ok(leaf());
            }
            let mut out = Map::new();
            let mut keys: Vec<&String> = lm.into_iter().flat_map(Map::keys).collect();
            keys.extend(rm.into_iter().flat_map(Map::keys));
            keys.sort();
            keys.dedup();
            for key in keys {
                let (sub_ty, _) = ty.entry(key);
                path.push(PathElement::Field(key.clone()));
                let merged = merge_into(
                    sub_ty,
                    lm.and_then(|m| m.get(key)),
                    rm.and_then(|m| m.get(key)),
                    path,
                )?;
                path.pop();
                if let Some(v) = merged {
                    out.insert(key.clone(), v);
                }
            }
            Ok((!out.is_empty()).then_some(Value::Object(out)))
        }
        Node::List { item, relation } => {
            let la = present(l).and_then(Value::as_array);
            let ra = present(r).and_then(Value::as_array);
            if matches!(relation, Relation::Atomic)
                || (la.is_none_or(Vec::is_empty) && ra.is_none_or(Vec::is_empty))
            {
                return Ok(leaf());
            }
            let out = merge_lists(
                item,
                relation,
                la.map_or(&[][..], Vec::as_slice),
                ra.map_or(&[][..], Vec::as_slice),
                path,
            )?;
            Ok((!out.is_empty()).then_some(Value::Array(out)))
        }
    }
}

/// The library's order for a merged associative list: live items keep their places, the
/// configuration's items come in its order, items the configuration moved follow it.
fn merge_lists(
    item: Ty<'_>,
    relation: Relation<'_>,
    lhs: &[Value],
    rhs: &[Value],
    path: &mut Vec<PathElement>,
) -> Result<Vec<Value>, TypeError> {
    let rhs_pes = elements(item, relation, rhs, path)?;
    let mut observed_rhs: HashMap<PathElement, &Value> = HashMap::new();
    for (pe, v) in &rhs_pes {
        if observed_rhs.insert(pe.clone(), v).is_some() {
            return Err(TypeError {
                path: path_string(path),
                message: format!("duplicate entries for key {pe}"),
            });
        }
    }
    let lhs_pes = elements(item, relation, lhs, path)?;
    let mut observed_lhs: HashMap<PathElement, &Value> = HashMap::new();
    for (pe, v) in &lhs_pes {
        observed_lhs.entry(pe.clone()).or_insert(v);
    }
    let mut shared: VecDeque<&PathElement> = rhs_pes
        .iter()
        .map(|(pe, _)| pe)
        .filter(|pe| observed_lhs.contains_key(*pe))
        .collect();
    let mut next_shared = shared.pop_front();
    let mut merged_rhs: std::collections::HashSet<PathElement> = std::collections::HashSet::new();
    let mut out = Vec::new();
    let mut push = |pe: &PathElement,
                    l: Option<&Value>,
                    r: Option<&Value>,
                    path: &mut Vec<PathElement>|
     -> Result<(), TypeError> {
        path.push(pe.clone());
        let merged = merge_into(item, l, r, path)?;
        path.pop();
        if let Some(v) = merged {
            out.push(v);
        }
        Ok(())
    };
    let (mut li, mut ri) = (0, 0);
    while li < lhs_pes.len() || ri < rhs_pes.len() {
        if li < lhs_pes.len() && ri < rhs_pes.len() {
            let pe = &lhs_pes[li].0;
            if *pe == rhs_pes[ri].0 {
                merged_rhs.insert(pe.clone());
                push(
                    pe,
                    observed_lhs.get(pe).copied(),
                    observed_rhs.get(pe).copied(),
                    path,
                )?;
                li += 1;
                ri += 1;
                next_shared = shared.pop_front();
                continue;
            }
            if observed_rhs.contains_key(pe) && next_shared.is_some_and(|n| n != pe) {
                li += 1;
                continue;
            }
        }
        if li < lhs_pes.len() {
            let pe = &lhs_pes[li].0;
            if !observed_rhs.contains_key(pe) {
                push(pe, Some(lhs_pes[li].1), None, path)?;
                li += 1;
                continue;
            } else if merged_rhs.contains(pe) {
                li += 1;
            }
        }
        if ri < rhs_pes.len() {
            let pe = &rhs_pes[ri].0;
            merged_rhs.insert(pe.clone());
            push(
                pe,
                observed_lhs.get(pe).copied(),
                observed_rhs.get(pe).copied(),
                path,
            )?;
            ri += 1;
            if next_shared == Some(pe) {
                next_shared = shared.pop_front();
            }
        }
    }
    Ok(out)
}

/// Removes the paths of `remove` from `value` (`TypedValue.RemoveItems`): a member goes with
/// everything below it; a map or list left empty goes too (`None` when nothing is left).
pub fn remove_items(ty: Ty<'_>, value: &Value, remove: &FieldSet) -> Option<Value> {
    match ty.node(Some(value), None) {
        Node::Leaf => Some(value.clone()),
        Node::Map { atomic: true, .. }
        | Node::List {
            relation: Relation::Atomic,
            ..
        } => None,
        Node::Map { ty, .. } => {
            let map = value.as_object()?;
            let mut out = Map::new();
            for (key, sub) in map {
                let pe = PathElement::Field(key.clone());
                if remove.has_member(&pe) {
                    continue;
                }
                let kept = match remove.with_prefix(&pe) {
                    Some(below) => remove_items(ty.entry(key).0, sub, below),
                    None => Some(sub.clone()),
                };
                if let Some(v) = kept {
                    out.insert(key.clone(), v);
                }
            }
            (!out.is_empty()).then_some(Value::Object(out))
        }
        Node::List { item, relation } => {
            let items = value.as_array()?;
            let mut out = Vec::new();
            for sub in items {
                let Ok(pe) = item_element(item, relation, sub) else {
                    out.push(sub.clone());
                    continue;
                };
                if remove.has_member(&pe) {
                    continue;
                }
                let kept = match remove.with_prefix(&pe) {
                    Some(below) => remove_items(item, sub, below),
                    None => Some(sub.clone()),
                };
                if let Some(v) = kept {
                    out.push(v);
                }
            }
            (!out.is_empty()).then_some(Value::Array(out))
        }
    }
}

/// The set with every named struct field that has owned paths below it made a member too
/// (`Set.EnsureNamedFieldsAreMembers`).
pub fn ensure_named_fields_are_members(ty: Ty<'_>, set: &FieldSet) -> FieldSet {
    let mut members: std::collections::BTreeSet<PathElement> = set.members().cloned().collect();
    let mut children = std::collections::BTreeMap::new();
    for (pe, child) in set.children() {
        if let PathElement::Field(name) = pe
            && ty.is_named_field(name)
        {
            members.insert(pe.clone());
        }
        children.insert(
            pe.clone(),
            ensure_named_fields_are_members(ty.below(pe), child),
        );
    }
    FieldSet::from_parts(members, children)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment() -> Ty<'static> {
        Ty::Schema(Schema::for_kind("apps", "v1", "Deployment").expect("Deployment"))
    }

    #[test]
    fn field_sets_as_the_apiserver_records_them() {
        let config = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "x", "labels": {"app": "x"}},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "x"}},
                "template": {"metadata": {"labels": {"app": "x"}}, "spec": {"containers": [
                    {"name": "c", "image": "i", "ports": [{"containerPort": 80}], "resources": {}}]}}}});
        let set = to_field_set(deployment(), &config).expect("typed");
        assert_eq!(
            set.to_fields_v1(),
            json!({"f:apiVersion": {}, "f:kind": {}, "f:metadata": {"f:labels": {"f:app": {}}, "f:name": {}},
                "f:spec": {"f:replicas": {}, "f:selector": {}, "f:template": {
                    "f:metadata": {"f:labels": {"f:app": {}}},
                    "f:spec": {"f:containers": {"k:{\"name\":\"c\"}": {".": {}, "f:image": {}, "f:name": {},
                        "f:ports": {"k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {".": {}, "f:containerPort": {}}},
                        "f:resources": {}}}}}}})
        );
        let crd = to_field_set(
            Ty::Deduced,
            &json!({"spec": {"a": {"b": 1}, "list": [1, 2]}}),
        )
        .expect("deduced");
        assert_eq!(
            crd.to_fields_v1(),
            json!({"f:spec": {".": {}, "f:a": {".": {}, "f:b": {}}, "f:list": {}}})
        );
        let err = to_field_set(
            deployment(),
            &json!({"spec": {"template": {"spec": {"containers": ["i"]}}}}),
        )
        .expect_err("not an object");
        assert_eq!(err.path, ".spec.template.spec.containers");
        assert_eq!(
            err.message,
            "element 0: associative list with keys may not have non-map elements"
        );
    }

    #[test]
    fn compare_marks_new_granular_nodes() {
        let old = json!({"metadata": {"creationTimestamp": null}, "spec": {"template": {"spec": {"containers": null}}}});
        let new = json!({"metadata": {"labels": {"a": "b"}}, "spec": {"replicas": 1,
            "template": {"spec": {"containers": [{"name": "c", "image": "i"}]}}}});
        let c = compare(deployment(), &old, &new).expect("typed");
        assert_eq!(
            c.added.to_fields_v1(),
            json!({"f:metadata": {"f:labels": {".": {}, "f:a": {}}}, "f:spec": {"f:replicas": {},
                "f:template": {"f:spec": {"f:containers": {"k:{\"name\":\"c\"}": {".": {}, "f:image": {}, "f:name": {}}}}}}})
        );
        assert_eq!(
            c.removed.to_fields_v1(),
            json!({"f:metadata": {"f:creationTimestamp": {}}})
        );
    }

    #[test]
    fn merge_keeps_live_items_and_follows_the_configuration() {
        let live = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "a", "image": "1"}, {"name": "b", "image": "1"}, {"name": "c", "image": "1"}]}}}});
        let config = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "d", "image": "2"}, {"name": "b", "image": "2"}]}}}});
        let merged = merge(deployment(), &live, &config).expect("merges");
        let names: Vec<(&str, &str)> = merged["spec"]["template"]["spec"]["containers"]
            .as_array()
            .expect("list")
            .iter()
            .map(|c| {
                (
                    c["name"].as_str().expect("name"),
                    c["image"].as_str().expect("image"),
                )
            })
            .collect();
        assert_eq!(names, [("a", "1"), ("d", "2"), ("b", "2"), ("c", "1")]);
        let dup =
            json!({"spec": {"template": {"spec": {"containers": [{"name": "a"}, {"name": "a"}]}}}});
        let err = merge(deployment(), &live, &dup).expect_err("duplicate");
        assert_eq!(err.message, "duplicate entries for key [name=\"a\"]");
    }

    #[test]
    fn remove_items_drops_members_and_emptied_nodes() {
        let value =
            json!({"metadata": {"labels": {"a": "1"}}, "spec": {"replicas": 2, "paused": true}});
        let mut set = FieldSet::default();
        set.insert(&[
            PathElement::Field("metadata".into()),
            PathElement::Field("labels".into()),
            PathElement::Field("a".into()),
        ]);
        set.insert(&[
            PathElement::Field("spec".into()),
            PathElement::Field("replicas".into()),
        ]);
        assert_eq!(
            remove_items(deployment(), &value, &set),
            Some(json!({"spec": {"paused": true}}))
        );
        let ensured = ensure_named_fields_are_members(deployment(), &set);
        assert!(ensured.has(&[PathElement::Field("spec".into())]));
        assert!(ensured.has(&[
            PathElement::Field("metadata".into()),
            PathElement::Field("labels".into())
        ]));
    }
}
