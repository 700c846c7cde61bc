//! Label selectors (`app=web,tier in (a,b),!canary`), selector objects (`matchLabels`/`matchExpressions`)
//! and field selectors, with the apiserver's answers for what it does not support.

use std::collections::BTreeMap;

use serde_json::Value;

/// One requirement of a label selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requirement {
    /// `key=value` / `key==value`, or `In` with the values.
    In(String, Vec<String>),
    /// `key!=value`, or `NotIn`.
    NotIn(String, Vec<String>),
    /// `key`.
    Exists(String),
    /// `!key`.
    DoesNotExist(String),
}

/// A parsed label selector: all requirements must hold. Empty selects everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelSelector {
    requirements: Vec<Requirement>,
}

impl LabelSelector {
    /// Parses the query-string form.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut requirements = Vec::new();
        let mut rest = text.trim();
        while !rest.is_empty() {
            let (req, after) = parse_requirement(rest)?;
            requirements.push(req);
            rest = after.trim_start();
            if let Some(after_comma) = rest.strip_prefix(',') {
                rest = after_comma.trim_start();
                if rest.is_empty() {
                    return Err(format!(
                        "unable to parse requirement: found '', expected: identifier in {text:?}"
                    ));
                }
            } else if !rest.is_empty() {
                return Err(format!(
                    "unable to parse requirement: found {rest:?}, expected: ','"
                ));
            }
        }
        Ok(LabelSelector { requirements })
    }

    /// From a `metav1.LabelSelector` object; `None` for a null selector (which selects nothing).
    pub fn from_object(selector: &Value) -> Result<Option<Self>, String> {
        if selector.is_null() {
            return Ok(None);
        }
        let mut requirements = Vec::new();
        if let Some(labels) = selector.get("matchLabels").and_then(Value::as_object) {
            for (k, v) in labels {
                let v = v
                    .as_str()
                    .ok_or_else(|| format!("matchLabels[{k}] must be a string"))?;
                requirements.push(Requirement::In(k.clone(), vec![v.to_owned()]));
            }
        }
        if let Some(exprs) = selector.get("matchExpressions").and_then(Value::as_array) {
            for e in exprs {
                let key = e
                    .get("key")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned();
                let values: Vec<String> = e
                    .get("values")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(|v| v.as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default();
                let req = match e.get("operator").and_then(Value::as_str) {
                    Some("In") => Requirement::In(key, values),
                    Some("NotIn") => Requirement::NotIn(key, values),
                    Some("Exists") => Requirement::Exists(key),
                    Some("DoesNotExist") => Requirement::DoesNotExist(key),
                    other => {
                        return Err(format!("{other:?} is not a valid label selector operator"));
                    }
                };
                requirements.push(req);
            }
        }
        Ok(Some(LabelSelector { requirements }))
    }

    /// Whether it selects everything.
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// Whether `labels` satisfy every requirement.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.requirements.iter().all(|r| match r {
            Requirement::In(k, vs) => labels.get(k).is_some_and(|v| vs.contains(v)),
            Requirement::NotIn(k, vs) => labels.get(k).is_none_or(|v| !vs.contains(v)),
            Requirement::Exists(k) => labels.contains_key(k),
            Requirement::DoesNotExist(k) => !labels.contains_key(k),
        })
    }

    /// Whether the object's `metadata.labels` satisfy it.
    pub fn matches_object(&self, object: &Value) -> bool {
        self.matches(&labels_of(object))
    }

    /// The `a=b,c in (d)` string form (as `kubectl` and `/scale`'s `status.selector` show it).
    pub fn to_query(&self) -> String {
        self.requirements
            .iter()
            .map(|r| match r {
                Requirement::In(k, vs) if vs.len() == 1 => format!("{k}={}", vs[0]),
                Requirement::In(k, vs) => format!("{k} in ({})", vs.join(",")),
                Requirement::NotIn(k, vs) if vs.len() == 1 => format!("{k}!={}", vs[0]),
                Requirement::NotIn(k, vs) => format!("{k} notin ({})", vs.join(",")),
                Requirement::Exists(k) => k.clone(),
                Requirement::DoesNotExist(k) => format!("!{k}"),
            })
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// An object's labels.
pub fn labels_of(object: &Value) -> BTreeMap<String, String> {
    object
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default()
}

fn is_key_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/')
}

fn take_ident(s: &str) -> (&str, &str) {
    let end = s.find(|c: char| !is_key_char(c)).unwrap_or(s.len());
    (&s[..end], &s[end..])
}

fn parse_requirement(s: &str) -> Result<(Requirement, &str), String> {
    if let Some(rest) = s.strip_prefix('!') {
        let (key, after) = take_ident(rest.trim_start());
        if key.is_empty() {
            return Err("unable to parse requirement: expected a key after '!'".to_owned());
        }
        return Ok((Requirement::DoesNotExist(key.to_owned()), after));
    }
    let (key, after) = take_ident(s);
    if key.is_empty() {
        return Err(format!(
            "unable to parse requirement: found {s:?}, expected: identifier"
        ));
    }
    let key = key.to_owned();
    let after = after.trim_start();
    for (op, negate) in [("==", false), ("!=", true), ("=", false)] {
        if let Some(rest) = after.strip_prefix(op) {
            let (value, rest) = take_ident(rest.trim_start());
            let values = vec![value.to_owned()];
            let req = if negate {
                Requirement::NotIn(key, values)
            } else {
                Requirement::In(key, values)
            };
            return Ok((req, rest));
        }
    }
    for (word, negate) in [("notin", true), ("in", false)] {
        if let Some(rest) = after.strip_prefix(word)
            && rest.trim_start().starts_with('(')
        {
            let rest = rest.trim_start()[1..].trim_start();
            let close = rest
                .find(')')
                .ok_or_else(|| "unable to parse requirement: expected ')'".to_owned())?;
            let values: Vec<String> = rest[..close]
                .split(',')
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
                .collect();
            let req = if negate {
                Requirement::NotIn(key, values)
            } else {
                Requirement::In(key, values)
            };
            return Ok((req, &rest[close + 1..]));
        }
    }
    Ok((Requirement::Exists(key), after))
}

/// A field selector: `metadata.name=x,status.phase!=Running`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSelector {
    terms: Vec<(String, bool, String)>,
}

/// Fields a kind can be selected by beyond `metadata.name` and `metadata.namespace`.
fn extra_fields(group: &str, plural: &str) -> &'static [&'static str] {
    match (group, plural) {
        ("", "pods") => &[
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
            "status.phase",
            "status.podIP",
            "status.nominatedNodeName",
        ],
        ("", "events") => &[
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type",
        ],
        ("", "secrets") => &["type"],
        ("", "namespaces") => &["status.phase"],
        ("", "nodes") => &["spec.unschedulable"],
        ("apps", "replicasets") => &["status.replicas"],
        _ => &[],
    }
}

impl FieldSelector {
    /// Parses a field selector for a kind; unknown fields are refused as the apiserver refuses them.
    pub fn parse(text: &str, group: &str, plural: &str, custom: bool) -> Result<Self, String> {
        let mut terms = Vec::new();
        for term in text.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            let (field, negate, value) = if let Some((f, v)) = term.split_once("!=") {
                (f, true, v)
            } else if let Some((f, v)) = term.split_once("==") {
                (f, false, v)
            } else if let Some((f, v)) = term.split_once('=') {
                (f, false, v)
            } else {
                return Err(format!(
                    "invalid selector: '{text}'; can't understand '{term}'"
                ));
            };
            let field = field.trim();
            let known = matches!(field, "metadata.name" | "metadata.namespace")
                || extra_fields(group, plural).contains(&field);
            if !known {
                return Err(if custom {
                    format!(
                        "\"{field}\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\""
                    )
                } else {
                    format!("field label not supported: {field}")
                });
            }
            terms.push((field.to_owned(), negate, value.trim().to_owned()));
        }
        Ok(FieldSelector { terms })
    }

    /// Whether the object matches every term.
    pub fn matches(&self, object: &Value) -> bool {
        self.terms.iter().all(|(field, negate, want)| {
            let pointer = format!("/{}", field.replace('.', "/"));
            let have = match object.pointer(&pointer) {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Bool(b)) => b.to_string(),
                Some(Value::Number(n)) => n.to_string(),
                _ => String::new(),
            };
            (have == *want) != *negate
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn label_selectors() {
        let s = LabelSelector::parse("app=web, tier in (a, b),!canary,env!=prod,track")
            .expect("parses");
        assert!(s.matches(&labels(&[("app", "web"), ("tier", "a"), ("track", "x")])));
        assert!(!s.matches(&labels(&[("app", "web"), ("tier", "c"), ("track", "x")])));
        assert!(!s.matches(&labels(&[
            ("app", "web"),
            ("tier", "a"),
            ("track", "x"),
            ("canary", "1")
        ])));
        assert!(!s.matches(&labels(&[("app", "web"), ("tier", "a")])));
        assert!(LabelSelector::parse("app=web,").is_err());
        assert!(LabelSelector::parse("").expect("empty").is_empty());
        let o = LabelSelector::from_object(&json!({"matchLabels": {"app": "web"},
            "matchExpressions": [{"key": "t", "operator": "NotIn", "values": ["x"]}]}))
        .expect("valid")
        .expect("not null");
        assert_eq!(o.to_query(), "app=web,t!=x");
    }

    #[test]
    fn field_selectors() {
        let f = FieldSelector::parse("metadata.name=a,status.phase!=Running", "", "pods", false)
            .expect("ok");
        assert!(f.matches(&json!({"metadata": {"name": "a"}, "status": {"phase": "Pending"}})));
        assert!(!f.matches(&json!({"metadata": {"name": "a"}, "status": {"phase": "Running"}})));
        assert_eq!(
            FieldSelector::parse("spec.x=1", "apps", "deployments", false).expect_err("unknown"),
            "field label not supported: spec.x"
        );
    }
}
