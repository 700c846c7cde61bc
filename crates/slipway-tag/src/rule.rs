//! Tag rules and flavor, in docker/metadata-action's `key=value,…` syntax.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};
use crate::template::Template;

/// Names a semver `pattern` may use.
const SEMVER_NAMES: [&str; 5] = ["version", "major", "minor", "patch", "raw"];
/// Names every other template (values, prefixes, suffixes, `enable`) may use.
pub(crate) const GLOBAL_NAMES: [&str; 7] = [
    "branch",
    "tag",
    "sha",
    "base_ref",
    "is_default_branch",
    "date",
    "commit_date",
];

/// What a rule looks at.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum RuleKind {
    /// `type=schedule[,pattern=nightly]`: on scheduled builds.
    Schedule {
        /// The tag pattern (global expressions, e.g. `{{date 'YYYYMMDD'}}`).
        pattern: String,
    },
    /// `type=semver,pattern=…[,value=…]`: the version of the pushed tag (or of `value`).
    Semver {
        /// The pattern (`{{version}}`, `{{major}}.{{minor}}`, `v{{major}}`, `{{raw}}`, ...).
        pattern: String,
        /// A version to use instead of the pushed tag.
        value: Option<String>,
    },
    /// `type=match,pattern=REGEX[,group=N][,value=…]`: a regex group of the pushed tag.
    Match {
        /// The regular expression (`/…/flags` or plain).
        pattern: regex::Regex,
        /// The capture group to use (0 = whole match).
        group: usize,
        /// A value to match instead of the pushed tag.
        value: Option<String>,
    },
    /// `type=edge[,branch=…]`: `edge` for builds of the default (or given) branch.
    Edge {
        /// The branch; the repository's default branch when not given.
        branch: Option<String>,
    },
    /// `type=ref,event=branch|tag|pr`: the branch name, tag name, or `pr-<number>`.
    Ref {
        /// Which kind of ref.
        event: RefEvent,
    },
    /// `type=raw,value=…` (or a bare value): a fixed tag.
    Raw {
        /// The tag (global expressions allowed).
        value: String,
    },
    /// `type=sha[,format=short|long]`: the commit, `sha-` + 7 hex digits by default.
    Sha {
        /// Short (7 characters) or long (full commit id).
        long: bool,
    },
}

/// The `event=` of a `type=ref` rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefEvent {
    /// The branch name.
    Branch,
    /// The tag name.
    Tag,
    /// The pull-request number.
    Pr,
}

/// One parsed `--rule`: what it looks at plus the attributes every rule has.
///
/// ```
/// use slipway_tag::TagRule;
/// let r: TagRule = "type=semver,pattern={{major}}.{{minor}},priority=950".parse()?;
/// assert_eq!(r.priority, 950);
/// let err = "type=semver".parse::<TagRule>().unwrap_err();
/// assert_eq!(err.to_string(), "rule `type=semver`: missing `pattern` field");
/// Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct TagRule {
    /// The rule as written.
    pub text: String,
    /// The rule's type and its specific fields.
    pub kind: RuleKind,
    /// `enable=` expression (`true`, `false`, or e.g. `{{is_default_branch}}`).
    pub enable: String,
    /// Higher priorities come first; metadata-action's defaults: schedule 1000, semver 900, match 800,
    /// edge 700, ref 600, raw 200, sha 100.
    pub priority: i64,
    /// `prefix=`: replaces the flavor's prefix for this rule (even when empty).
    pub prefix: Option<String>,
    /// `suffix=`: replaces the flavor's suffix for this rule (even when empty).
    pub suffix: Option<String>,
}

impl TagRule {
    /// metadata-action's default rules: `type=schedule`, `type=ref,event=branch`, `type=ref,event=tag`,
    /// `type=ref,event=pr`.
    ///
    /// # Panics
    ///
    /// Never: the four rules are constants that parse.
    pub fn defaults() -> Vec<TagRule> {
        [
            "type=schedule",
            "type=ref,event=branch",
            "type=ref,event=tag",
            "type=ref,event=pr",
        ]
        .iter()
        .map(|r| r.parse().expect("the default rules are valid"))
        .collect()
    }

    /// The type name as written in rules.
    pub fn type_name(&self) -> &'static str {
        match self.kind {
            RuleKind::Schedule { .. } => "schedule",
            RuleKind::Semver { .. } => "semver",
            RuleKind::Match { .. } => "match",
            RuleKind::Edge { .. } => "edge",
            RuleKind::Ref { .. } => "ref",
            RuleKind::Raw { .. } => "raw",
            RuleKind::Sha { .. } => "sha",
        }
    }
}

impl fmt::Display for TagRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// One `key=value` (or bare value) field of a rule, with its 1-based column.
struct Field {
    key: Option<String>,
    value: String,
    column: usize,
}

/// Splits a rule into fields the way metadata-action's CSV reader does: commas separate fields, a field
/// may be double-quoted (`""` inside quotes is a quote), keys are case-insensitive and trimmed.
fn split_fields(text: &str) -> Result<Vec<Field>> {
    let syntax = |column: usize, message: &str| Error::Syntax {
        rule: text.to_owned(),
        column,
        message: message.to_owned(),
    };
    let mut fields = Vec::new();
    let mut chars = text.chars().enumerate().peekable();
    while chars.peek().is_some() {
        let column = chars.peek().map_or(0, |(i, _)| i + 1);
        let mut raw = String::new();
        let mut quoted = false;
        let mut in_quotes = false;
        while let Some((i, c)) = chars.next() {
            match c {
                '"' if in_quotes => {
                    if chars.peek().is_some_and(|(_, n)| *n == '"') {
                        chars.next();
                        raw.push('"');
                    } else {
                        in_quotes = false;
                    }
                }
                '"' if raw.trim().is_empty() && !quoted => {
                    raw.clear();
                    in_quotes = true;
                    quoted = true;
                }
                '"' => return Err(syntax(i + 1, "a quote may only open a field")),
                ',' if !in_quotes => break,
                c => {
                    if quoted && !in_quotes && !c.is_whitespace() {
                        return Err(syntax(i + 1, "text after a closing quote"));
                    }
                    raw.push(c);
                }
            }
        }
        if in_quotes {
            return Err(syntax(column, "unterminated quote"));
        }
        if raw.trim().is_empty() && !quoted {
            continue;
        }
        let (key, value) = match raw.split_once('=') {
            Some((k, v)) => (Some(k.trim().to_ascii_lowercase()), v.trim().to_owned()),
            None => (None, raw.trim().to_owned()),
        };
        fields.push(Field { key, value, column });
    }
    Ok(fields)
}

fn invalid(rule: &str, field: &Field, name: &str, reason: impl Into<String>) -> Error {
    Error::InvalidField {
        rule: rule.to_owned(),
        column: field.column,
        field: name.to_owned(),
        value: field.value.clone(),
        reason: reason.into(),
    }
}

/// Checks a template's syntax and names now, so that a bad rule fails before any tag is computed.
pub(crate) fn check_template(rule: &str, field: &str, text: &str, allowed: &[&str]) -> Result<()> {
    let template = Template::parse(text).map_err(|(column, message)| Error::Template {
        rule: rule.to_owned(),
        field: field.to_owned(),
        template: text.to_owned(),
        column,
        message,
    })?;
    for segment in &template.segments {
        if let crate::template::Segment::Expr { name, column, .. } = segment
            && !allowed.contains(&name.as_str())
        {
            return Err(Error::Template {
                rule: rule.to_owned(),
                field: field.to_owned(),
                template: text.to_owned(),
                column: *column,
                message: format!(
                    "unknown expression `{name}` (known: {})",
                    allowed.join(", ")
                ),
            });
        }
    }
    Ok(())
}

impl FromStr for TagRule {
    type Err = Error;

    // One match over the rule types reads better than seven helpers passing the same field lookups around.
    #[allow(clippy::too_many_lines)]
    fn from_str(text: &str) -> Result<Self> {
        let fields = split_fields(text)?;
        let mut ty: Option<&Field> = None;
        let mut attrs: Vec<(&str, &Field)> = Vec::new();
        let mut bare: Option<&Field> = None;
        for field in &fields {
            match field.key.as_deref() {
                Some("type") => ty = Some(field),
                Some(key) => {
                    if attrs.iter().any(|(k, _)| *k == key) {
                        return Err(invalid(text, field, key, "given twice"));
                    }
                    attrs.push((key, field));
                }
                None => bare = Some(field),
            }
        }
        let attr = |key: &str| attrs.iter().find(|(k, _)| *k == key).map(|(_, f)| *f);
        let type_name = ty.map_or("raw", |f| f.value.as_str());
        let allowed: &[&str] = match type_name {
            "schedule" => &["pattern"],
            "semver" => &["pattern", "value"],
            "match" => &["pattern", "group", "value"],
            "edge" => &["branch"],
            "ref" => &["event"],
            "raw" => &["value"],
            "sha" => &["format"],
            other => {
                let field = ty.expect("only an explicit type can be unknown");
                return Err(invalid(
                    text,
                    field,
                    "type",
                    format!(
                        "unknown type `{other}` (expected schedule, semver, match, edge, ref, raw or sha)"
                    ),
                ));
            }
        };
        for (key, field) in &attrs {
            let common = ["enable", "priority", "prefix", "suffix"];
            if !allowed.contains(key) && !common.contains(key) {
                return Err(invalid(
                    text,
                    field,
                    key,
                    format!("`{key}` is not a field of type={type_name}"),
                ));
            }
        }
        // A bare value is metadata-action's shorthand for `value=`; only types with a value accept it.
        let value_field = attr("value").or(bare);
        if let Some(field) = bare
            && (attr("value").is_some() || !allowed.contains(&"value"))
        {
            return Err(invalid(
                text,
                field,
                "value",
                "a bare value is only allowed once, for types with a value",
            ));
        }
        let missing = |field: &'static str| Error::MissingField {
            rule: text.to_owned(),
            field,
        };
        let value_of = |f: Option<&Field>| f.map(|f| f.value.clone()).filter(|v| !v.is_empty());

        let kind = match type_name {
            "schedule" => {
                let pattern = attr("pattern").map_or("nightly".to_owned(), |f| f.value.clone());
                check_template(text, "pattern", &pattern, &GLOBAL_NAMES)?;
                RuleKind::Schedule { pattern }
            }
            "semver" => {
                let pattern = attr("pattern")
                    .ok_or_else(|| missing("pattern"))?
                    .value
                    .clone();
                check_template(text, "pattern", &pattern, &SEMVER_NAMES)?;
                let value = value_of(value_field);
                if let Some(v) = &value {
                    check_template(text, "value", v, &GLOBAL_NAMES)?;
                }
                RuleKind::Semver { pattern, value }
            }
            "match" => {
                let field = attr("pattern").ok_or_else(|| missing("pattern"))?;
                let pattern = compile_js_regex(&field.value)
                    .map_err(|reason| invalid(text, field, "pattern", reason))?;
                let group = match attr("group") {
                    None => 0,
                    Some(f) => f
                        .value
                        .parse()
                        .map_err(|_| invalid(text, f, "group", "not a group number"))?,
                };
                if group >= pattern.captures_len() {
                    let f = attr("group").unwrap_or(field);
                    return Err(invalid(
                        text,
                        f,
                        "group",
                        format!("the pattern has only {} groups", pattern.captures_len() - 1),
                    ));
                }
                let value = value_of(value_field);
                if let Some(v) = &value {
                    check_template(text, "value", v, &GLOBAL_NAMES)?;
                }
                RuleKind::Match {
                    pattern,
                    group,
                    value,
                }
            }
            "edge" => RuleKind::Edge {
                branch: value_of(attr("branch")),
            },
            "ref" => {
                let field = attr("event").ok_or_else(|| missing("event"))?;
                let event = match field.value.as_str() {
                    "branch" => RefEvent::Branch,
                    "tag" => RefEvent::Tag,
                    "pr" => RefEvent::Pr,
                    _ => {
                        return Err(invalid(text, field, "event", "expected branch, tag or pr"));
                    }
                };
                RuleKind::Ref { event }
            }
            "raw" => {
                let value = value_field.ok_or_else(|| missing("value"))?.value.clone();
                check_template(text, "value", &value, &GLOBAL_NAMES)?;
                RuleKind::Raw { value }
            }
            _ => {
                let long = match attr("format") {
                    None => false,
                    Some(f) if f.value == "short" => false,
                    Some(f) if f.value == "long" => true,
                    Some(f) => return Err(invalid(text, f, "format", "expected short or long")),
                };
                RuleKind::Sha { long }
            }
        };

        let enable = attr("enable").map_or("true".to_owned(), |f| f.value.clone());
        check_template(text, "enable", &enable, &GLOBAL_NAMES)?;
        let priority = match attr("priority") {
            None => default_priority(&kind),
            Some(f) => f
                .value
                .parse()
                .map_err(|_| invalid(text, f, "priority", "not an integer"))?,
        };
        let mut prefix = attr("prefix").map(|f| f.value.clone());
        let suffix = attr("suffix").map(|f| f.value.clone());
        // metadata-action's own per-type prefixes, which a rule's `prefix=` (even empty) replaces.
        if prefix.is_none() {
            prefix = match kind {
                RuleKind::Ref {
                    event: RefEvent::Pr,
                } => Some("pr-".to_owned()),
                RuleKind::Sha { .. } => Some("sha-".to_owned()),
                _ => None,
            };
        }
        for (name, v) in [("prefix", &prefix), ("suffix", &suffix)] {
            if let Some(v) = v {
                check_template(text, name, v, &GLOBAL_NAMES)?;
            }
        }
        Ok(TagRule {
            text: text.to_owned(),
            kind,
            enable,
            priority,
            prefix,
            suffix,
        })
    }
}

fn default_priority(kind: &RuleKind) -> i64 {
    match kind {
        RuleKind::Schedule { .. } => 1000,
        RuleKind::Semver { .. } => 900,
        RuleKind::Match { .. } => 800,
        RuleKind::Edge { .. } => 700,
        RuleKind::Ref { .. } => 600,
        RuleKind::Raw { .. } => 200,
        RuleKind::Sha { .. } => 100,
    }
}

/// metadata-action takes JavaScript regexes, either `/body/flags` or a bare body. The `i`, `m` and `s`
/// flags map onto the regex crate's; `g` and `u` do not change a first match.
fn compile_js_regex(text: &str) -> Result<regex::Regex, String> {
    let (body, flags) = match text.strip_prefix('/').and_then(|t| t.rsplit_once('/')) {
        Some((body, flags)) if !body.is_empty() => (body, flags),
        _ => (text, ""),
    };
    let mut inline = String::new();
    for flag in flags.chars() {
        match flag {
            'i' | 'm' | 's' => inline.push(flag),
            'g' | 'u' => {}
            other => return Err(format!("unsupported regex flag `{other}`")),
        }
    }
    let source = if inline.is_empty() {
        body.to_owned()
    } else {
        format!("(?{inline}){body}")
    };
    regex::Regex::new(&source).map_err(|e| e.to_string())
}

/// When `latest` is added.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Latest {
    /// Only for the highest stable release of the repository (see the crate docs).
    #[default]
    Auto,
    /// Always (when any tag is produced).
    True,
    /// Never.
    False,
}

/// Global settings: `latest=auto|true|false`, `prefix=`, `suffix=`, `onlatest=`.
///
/// ```
/// use slipway_tag::{Flavor, Latest};
/// let f = Flavor::parse(["latest=false,prefix=api-,onlatest=true"])?;
/// assert_eq!(f.latest, Latest::False);
/// assert_eq!(f.prefix, "api-");
/// assert!(f.prefix_on_latest);
/// Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Flavor {
    /// When to add `latest`.
    pub latest: Latest,
    /// Prefix for every tag of rules without their own `prefix=`.
    pub prefix: String,
    /// Whether `latest` gets the prefix too.
    pub prefix_on_latest: bool,
    /// Suffix for every tag of rules without their own `suffix=`.
    pub suffix: String,
    /// Whether `latest` gets the suffix too.
    pub suffix_on_latest: bool,
}

impl Flavor {
    /// Parses one or more `--flavor` entries; later entries override earlier ones. As in metadata-action,
    /// `onlatest=` applies to the `prefix=` or `suffix=` written just before it.
    pub fn parse<S: AsRef<str>>(entries: impl IntoIterator<Item = S>) -> Result<Self> {
        let mut flavor = Flavor::default();
        for entry in entries {
            let text = entry.as_ref();
            let mut last: Option<&str> = None;
            for field in split_fields(text)? {
                let Some(key) = field.key.as_deref() else {
                    return Err(invalid(text, &field, "flavor", "expected key=value"));
                };
                match key {
                    "latest" => {
                        flavor.latest = match field.value.as_str() {
                            "auto" => Latest::Auto,
                            "true" => Latest::True,
                            "false" => Latest::False,
                            _ => {
                                return Err(invalid(
                                    text,
                                    &field,
                                    "latest",
                                    "expected auto, true or false",
                                ));
                            }
                        };
                    }
                    "prefix" | "suffix" => {
                        check_template(text, key, &field.value, &GLOBAL_NAMES)?;
                        if key == "prefix" {
                            flavor.prefix.clone_from(&field.value);
                            last = Some("prefix");
                        } else {
                            flavor.suffix.clone_from(&field.value);
                            last = Some("suffix");
                        }
                    }
                    "onlatest" => {
                        let on = match field.value.as_str() {
                            "true" => true,
                            "false" => false,
                            _ => {
                                return Err(invalid(
                                    text,
                                    &field,
                                    "onlatest",
                                    "expected true or false",
                                ));
                            }
                        };
                        match last {
                            Some("prefix") => flavor.prefix_on_latest = on,
                            Some(_) => flavor.suffix_on_latest = on,
                            None => {
                                return Err(invalid(
                                    text,
                                    &field,
                                    "onlatest",
                                    "must follow prefix= or suffix=",
                                ));
                            }
                        }
                    }
                    other => {
                        return Err(invalid(
                            text,
                            &field,
                            other,
                            "unknown flavor field (expected latest, prefix, suffix, onlatest)",
                        ));
                    }
                }
            }
        }
        Ok(flavor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(rule: &str) -> String {
        rule.parse::<TagRule>().unwrap_err().to_string()
    }

    #[test]
    fn defaults_and_priorities() {
        let r: Vec<_> = TagRule::defaults().iter().map(|r| r.priority).collect();
        assert_eq!(r, [1000, 600, 600, 600]);
        let sha: TagRule = "type=sha,format=long".parse().unwrap();
        assert_eq!(sha.prefix.as_deref(), Some("sha-"));
        let pr: TagRule = "type=ref,event=pr,prefix=".parse().unwrap();
        assert_eq!(pr.prefix.as_deref(), Some(""));
        let raw: TagRule = "foo".parse().unwrap();
        assert!(matches!(raw.kind, RuleKind::Raw { ref value } if value == "foo"));
        let quoted: TagRule = r#"type=raw,"value=a,b""#.parse().unwrap();
        assert!(matches!(quoted.kind, RuleKind::Raw { ref value } if value == "a,b"));
    }

    #[test]
    fn errors_name_rule_and_field() {
        assert_eq!(err("type=ref"), "rule `type=ref`: missing `event` field");
        assert_eq!(
            err("type=ref,event=foo"),
            "rule `type=ref,event=foo`, column 10: field `event`: invalid value `foo`: expected branch, tag or pr"
        );
        assert!(err("type=nope").contains("field `type`"));
        assert!(err("type=sha,format=medium").contains("field `format`"));
        assert!(err("type=sha,priority=high").contains("field `priority`"));
        assert!(err("type=semver,pattern={{majr}}").contains("unknown expression `majr`"));
        assert!(err("type=raw,value=x,pattern=y").contains("field `pattern`"));
        assert!(err("type=match,pattern=(a),group=2").contains("field `group`"));
        assert!(err("type=raw,\"value=x").contains("unterminated quote"));
        assert!(err("type=raw,value=\"x").contains("column 16"));
    }

    #[test]
    fn flavors() {
        let f = Flavor::parse(["prefix=a-,onlatest=true,suffix=-z"]).unwrap();
        assert!(f.prefix_on_latest && !f.suffix_on_latest);
        assert!(
            Flavor::parse(["latest=maybe"])
                .unwrap_err()
                .to_string()
                .contains("latest")
        );
        assert!(Flavor::parse(["onlatest=true"]).is_err());
        assert!(Flavor::parse(["colour=blue"]).is_err());
    }

    #[test]
    fn js_regexes() {
        let r = compile_js_regex(r"/V(\d+)/i").unwrap();
        assert!(r.is_match("v12"));
        assert!(compile_js_regex("/x/y").is_err());
    }
}
