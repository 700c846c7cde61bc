//! Field sets: the paths a manager owns, as structured-merge-diff keeps them, and their `FieldsV1`
//! encoding (`f:name`, `k:{"name":"x"}`, `v:"a"`, `i:0`, `.` for a node that is owned itself and has
//! owned children).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde_json::{Map, Value};

/// One step of a path: a field, a list item by its keys, a set item by its value, a list index.
///
/// Keys and values are kept as compact JSON with sorted keys (the apiserver's `k:`/`v:` text), so
/// equal items compare equal. The order (fields, then keys, values, indices) is the library's.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PathElement {
    /// `.name` (`f:name`).
    Field(String),
    /// `[name="x"]` (`k:{"name":"x"}`): the JSON object of the item's key fields.
    Key(String),
    /// `[="x"]` (`v:"x"`): the JSON of a set item.
    Value(String),
    /// `[0]` (`i:0`).
    Index(u64),
}

impl PathElement {
    /// The `FieldsV1` key of this element.
    fn encode(&self) -> String {
        match self {
            PathElement::Field(name) => format!("f:{name}"),
            PathElement::Key(json) => format!("k:{json}"),
            PathElement::Value(json) => format!("v:{json}"),
            PathElement::Index(i) => format!("i:{i}"),
        }
    }

    /// Reads a `FieldsV1` key; `None` for anything else.
    fn decode(text: &str) -> Option<PathElement> {
        let (kind, rest) = text.split_once(':')?;
        match kind {
            "f" => Some(PathElement::Field(rest.to_owned())),
            "k" => {
                let parsed: Value = serde_json::from_str(rest).ok()?;
                parsed
                    .is_object()
                    .then(|| PathElement::Key(parsed.to_string()))
            }
            "v" => {
                let parsed: Value = serde_json::from_str(rest).ok()?;
                Some(PathElement::Value(parsed.to_string()))
            }
            "i" => rest.parse().ok().map(PathElement::Index),
            _ => None,
        }
    }
}

/// Go's `%v` of a value as structured-merge-diff prints it in paths (strings quoted).
fn value_text(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::String(s) => format!("{s:?}"),
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(value_text).collect::<Vec<_>>().join(",")
        ),
        Value::Object(map) => map.iter().fold(String::new(), |mut out, (k, v)| {
            let _ = write!(out, "{k}={}", value_text(v));
            out
        }),
        other => other.to_string(),
    }
}

impl std::fmt::Display for PathElement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PathElement::Field(name) => write!(f, ".{name}"),
            PathElement::Key(json) => {
                let parsed: Map<String, Value> = serde_json::from_str(json).unwrap_or_default();
                let parts: Vec<String> = parsed
                    .iter()
                    .map(|(k, v)| format!("{k}={}", value_text(v)))
                    .collect();
                write!(f, "[{}]", parts.join(","))
            }
            PathElement::Value(json) => {
                let parsed: Value = serde_json::from_str(json).unwrap_or(Value::Null);
                write!(f, "[={}]", value_text(&parsed))
            }
            PathElement::Index(i) => write!(f, "[{i}]"),
        }
    }
}

/// A path as the apiserver prints it in conflicts: `.spec.template.spec.containers[name="app"].image`.
pub fn path_text(path: &[PathElement]) -> String {
    let mut out = String::new();
    for pe in path {
        let _ = write!(out, "{pe}");
    }
    out
}

/// A set of paths: members owned as a whole, and children with owned paths below them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSet {
    members: BTreeSet<PathElement>,
    children: BTreeMap<PathElement, FieldSet>,
}

impl FieldSet {
    /// Whether no path is in the set.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty() && self.children.is_empty()
    }

    /// Adds a path (the empty path is ignored).
    pub fn insert(&mut self, path: &[PathElement]) {
        match path {
            [] => {}
            [last] => {
                self.members.insert(last.clone());
            }
            [first, rest @ ..] => self.children.entry(first.clone()).or_default().insert(rest),
        }
    }

    /// Whether `path` itself is in the set.
    pub fn has(&self, path: &[PathElement]) -> bool {
        match path {
            [] => false,
            [last] => self.members.contains(last),
            [first, rest @ ..] => self.children.get(first).is_some_and(|c| c.has(rest)),
        }
    }

    /// Whether `pe` is a member (owned as a whole).
    pub(crate) fn has_member(&self, pe: &PathElement) -> bool {
        self.members.contains(pe)
    }

    /// The paths below `pe` (without `pe`).
    pub(crate) fn with_prefix(&self, pe: &PathElement) -> Option<&FieldSet> {
        self.children.get(pe).filter(|c| !c.is_empty())
    }

    /// Paths in either set.
    #[must_use]
    pub fn union(&self, other: &FieldSet) -> FieldSet {
        let mut out = self.clone();
        out.members.extend(other.members.iter().cloned());
        for (pe, child) in &other.children {
            let merged = match out.children.get(pe) {
                Some(mine) => mine.union(child),
                None => child.clone(),
            };
            out.children.insert(pe.clone(), merged);
        }
        out
    }

    /// Paths in both sets.
    #[must_use]
    pub fn intersection(&self, other: &FieldSet) -> FieldSet {
        let members = self.members.intersection(&other.members).cloned().collect();
        let children = self
            .children
            .iter()
            .filter_map(|(pe, mine)| {
                let both = mine.intersection(other.children.get(pe)?);
                (!both.is_empty()).then(|| (pe.clone(), both))
            })
            .collect();
        FieldSet { members, children }
    }

    /// Paths of this set that are not in `other` (path by path: a member of `other` does not remove
    /// the paths below it).
    #[must_use]
    pub fn difference(&self, other: &FieldSet) -> FieldSet {
        let members = self.members.difference(&other.members).cloned().collect();
        let children = self
            .children
            .iter()
            .filter_map(|(pe, mine)| {
                let left = match other.children.get(pe) {
                    Some(theirs) => mine.difference(theirs),
                    None => mine.clone(),
                };
                (!left.is_empty()).then(|| (pe.clone(), left))
            })
            .collect();
        FieldSet { members, children }
    }

    /// Only the paths at or below the top-level field `name`.
    #[must_use]
    pub(crate) fn only_field(&self, name: &str) -> FieldSet {
        let pe = PathElement::Field(name.to_owned());
        let mut out = FieldSet::default();
        if self.members.contains(&pe) {
            out.members.insert(pe.clone());
        }
        if let Some(child) = self.children.get(&pe) {
            out.children.insert(pe, child.clone());
        }
        out
    }

    /// Without the top-level field `name` and everything below it.
    #[must_use]
    pub(crate) fn without_field(&self, name: &str) -> FieldSet {
        let pe = PathElement::Field(name.to_owned());
        let mut out = self.clone();
        out.members.remove(&pe);
        out.children.remove(&pe);
        out
    }

    /// Every path, members of a node before its children, each in order (the library's order).
    pub fn paths(&self) -> Vec<Vec<PathElement>> {
        let mut out = Vec::new();
        self.collect_paths(&mut Vec::new(), &mut out);
        out
    }

    fn collect_paths(&self, prefix: &mut Vec<PathElement>, out: &mut Vec<Vec<PathElement>>) {
        for pe in &self.members {
            let mut path = prefix.clone();
            path.push(pe.clone());
            out.push(path);
        }
        for (pe, child) in &self.children {
            prefix.push(pe.clone());
            child.collect_paths(prefix, out);
            prefix.pop();
        }
    }

    pub(crate) fn members(&self) -> impl Iterator<Item = &PathElement> {
        self.members.iter()
    }

    pub(crate) fn children(&self) -> impl Iterator<Item = (&PathElement, &FieldSet)> {
        self.children.iter()
    }

    pub(crate) fn from_parts(
        members: BTreeSet<PathElement>,
        children: BTreeMap<PathElement, FieldSet>,
    ) -> FieldSet {
        FieldSet { members, children }
    }

    /// The `fieldsV1` object.
    pub fn to_fields_v1(&self) -> Value {
        let mut out = Map::new();
        for pe in &self.members {
            if !self.children.contains_key(pe) {
                out.insert(pe.encode(), Value::Object(Map::new()));
            }
        }
        for (pe, child) in &self.children {
            let mut inner = match child.to_fields_v1() {
                Value::Object(map) => map,
                _ => Map::new(),
            };
            if self.members.contains(pe) {
                inner.insert(".".to_owned(), Value::Object(Map::new()));
            }
            out.insert(pe.encode(), Value::Object(inner));
        }
        Value::Object(out)
    }

    /// Reads a `fieldsV1` object; `None` when it is not one.
    pub fn from_fields_v1(fields: &Value) -> Option<FieldSet> {
        let map = fields.as_object()?;
        let mut set = FieldSet::default();
        for (key, sub) in map {
            if key == "." {
                continue;
            }
            let pe = PathElement::decode(key)?;
            let inner = sub.as_object()?;
            if inner.is_empty() || inner.contains_key(".") {
                set.members.insert(pe.clone());
            }
            let child = FieldSet::from_fields_v1(sub)?;
            if !child.is_empty() {
                set.children.insert(pe, child);
            }
        }
        Some(set)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn f(name: &str) -> PathElement {
        PathElement::Field(name.to_owned())
    }

    #[test]
    fn fields_v1_round_trip_with_dots_keys_and_values() {
        let fields = json!({
            "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
            "f:spec": {"f:replicas": {}, "f:template": {"f:spec": {"f:containers": {
                "k:{\"name\":\"nginx\"}": {".": {}, "f:image": {}, "f:name": {}}}}},
                "f:finalizers": {"v:\"a\"": {}}, "f:list": {"i:0": {}}}
        });
        let set = FieldSet::from_fields_v1(&fields).expect("decodes");
        assert_eq!(set.to_fields_v1(), fields);
        let key = PathElement::Key(r#"{"name":"nginx"}"#.to_owned());
        assert!(set.has(&[
            f("spec"),
            f("template"),
            f("spec"),
            f("containers"),
            key.clone()
        ]));
        assert!(set.has(&[f("metadata"), f("labels")]));
        assert!(!set.has(&[f("spec"), f("template")]));
        let texts: Vec<String> = set.paths().iter().map(|p| path_text(p)).collect();
        assert_eq!(
            texts,
            [
                ".metadata.labels",
                ".metadata.labels.app",
                ".spec.replicas",
                ".spec.finalizers[=\"a\"]",
                ".spec.list[0]",
                ".spec.template.spec.containers[name=\"nginx\"]",
                ".spec.template.spec.containers[name=\"nginx\"].image",
                ".spec.template.spec.containers[name=\"nginx\"].name",
            ]
        );
        assert!(FieldSet::from_fields_v1(&json!({"x:y": {}})).is_none());
    }

    #[test]
    fn set_algebra_is_path_by_path() {
        let mut a = FieldSet::default();
        a.insert(&[f("spec")]);
        a.insert(&[f("spec"), f("replicas")]);
        a.insert(&[f("spec"), f("paused")]);
        let mut b = FieldSet::default();
        b.insert(&[f("spec"), f("replicas")]);
        let diff = a.difference(&b);
        assert!(diff.has(&[f("spec")]));
        assert!(diff.has(&[f("spec"), f("paused")]));
        assert!(!diff.has(&[f("spec"), f("replicas")]));
        assert_eq!(a.intersection(&b), b);
        assert_eq!(b.union(&diff), a);
        assert!(a.difference(&a).is_empty());
        let key = PathElement::Key(r#"{"containerPort":80,"protocol":"TCP"}"#.to_owned());
        assert_eq!(key.to_string(), r#"[containerPort=80,protocol="TCP"]"#);
    }
}
