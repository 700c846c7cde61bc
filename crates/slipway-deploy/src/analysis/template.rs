//! `AnalysisTemplate` and `ClusterAnalysisTemplate` documents (`argoproj.io/v1alpha1`), read as Argo
//! Rollouts reads them, and `{{args.NAME}}` substitution.
//!
//! Defaults are Argo's (`analysis_types.go`, `analysis/analysis.go`): `failureLimit` 0,
//! `inconclusiveLimit` 0, `consecutiveErrorLimit` 4; a metric without `interval` and without `count` is
//! measured once. `count`, `failureLimit`, `inconclusiveLimit` and `consecutiveErrorLimit` may be integers
//! or strings (`"{{args.count}}"`), resolved with the args.
//!
//! ```
//! use slipway_deploy::analysis::template::{AnalysisTemplate, ProviderSpec};
//! let t = AnalysisTemplate::parse(r#"
//! apiVersion: argoproj.io/v1alpha1
//! kind: AnalysisTemplate
//! metadata: {name: success-rate}
//! spec:
//!   args: [{name: service-name}]
//!   metrics:
//!   - name: success-rate
//!     interval: 5m
//!     successCondition: result[0] >= 0.95
//!     failureLimit: 3
//!     provider:
//!       prometheus:
//!         address: http://prometheus.example.com:9090
//!         query: sum(rate(requests{service="{{args.service-name}}"}[5m]))
//! "#)?;
//! let args = t.args(&[("service-name", "web")])?;
//! let metric = &t.metrics[0];
//! let ProviderSpec::Prometheus(p) = &metric.provider else { unreachable!() };
//! assert_eq!(args.substitute(&p.query, &metric.name, "query")?, r#"sum(rate(requests{service="web"}[5m]))"#);
//! Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

/// Argo's default `consecutiveErrorLimit`.
pub const DEFAULT_CONSECUTIVE_ERROR_LIMIT: u32 = 4;

/// An error reading a template or resolving its args.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The document is not valid YAML / JSON, or does not have the template's shape.
    #[error("the document does not parse as an analysis template: {message}")]
    Syntax {
        /// What the YAML/JSON reader said (it gives the line and column).
        message: String,
    },
    /// The document is another kind of object.
    #[error("expected kind AnalysisTemplate or ClusterAnalysisTemplate, found `{kind}`")]
    Kind {
        /// The document's `kind`.
        kind: String,
    },
    /// A field of a metric has an invalid value.
    #[error("metric `{metric}`, field `{field}`: {message}")]
    Field {
        /// The metric's name.
        metric: String,
        /// The field (`interval`, `failureLimit`, `provider`…).
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// `{{args.NAME}}` names an arg that has no value.
    #[error("metric `{metric}`, field `{field}`: arg `{arg}` has no value")]
    MissingArg {
        /// The metric's name.
        metric: String,
        /// The field in which the reference appears.
        field: String,
        /// The arg's name.
        arg: String,
    },
    /// An arg takes its value from a Secret (`valueFrom`), which slipway does not read: pass the value.
    #[error("arg `{arg}` takes its value from `valueFrom`; pass its value explicitly")]
    ValueFrom {
        /// The arg's name.
        arg: String,
    },
    /// A value was given for an arg the template does not declare.
    #[error("arg `{arg}` is not declared by the template")]
    UnknownArg {
        /// The arg's name.
        arg: String,
    },
}

/// Which kind of template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Kind {
    /// A namespaced `AnalysisTemplate`.
    AnalysisTemplate,
    /// A `ClusterAnalysisTemplate`.
    ClusterAnalysisTemplate,
}

/// An analysis template.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct AnalysisTemplate {
    /// Which kind of document it was.
    pub kind: Kind,
    /// `metadata.name`.
    pub name: Option<String>,
    /// `spec.args`.
    pub args: Vec<Arg>,
    /// `spec.metrics`.
    pub metrics: Vec<Metric>,
}

/// A declared arg.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Arg {
    /// Its name.
    pub name: String,
    /// Its default value.
    pub value: Option<String>,
    /// Whether it reads its value from a Secret (`valueFrom`).
    pub value_from: bool,
}

/// An integer or a string to resolve with the args (Kubernetes' `IntOrString`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum IntOrString {
    /// A literal integer.
    Int(i64),
    /// A string, such as `"{{args.count}}"`.
    String(String),
}

/// One metric of a template.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Metric {
    /// `name`.
    pub name: String,
    /// `interval`: the time between measurements (Go duration syntax).
    pub interval: Option<Duration>,
    /// `initialDelay`: the time before the first measurement.
    pub initial_delay: Option<Duration>,
    /// `count`: how many measurements (errors excluded) complete the metric.
    pub count: Option<IntOrString>,
    /// `successCondition`.
    pub success_condition: Option<String>,
    /// `failureCondition`.
    pub failure_condition: Option<String>,
    /// `failureLimit` (default 0).
    pub failure_limit: Option<IntOrString>,
    /// `inconclusiveLimit` (default 0).
    pub inconclusive_limit: Option<IntOrString>,
    /// `consecutiveErrorLimit` (default 4).
    pub consecutive_error_limit: Option<IntOrString>,
    /// `provider`.
    pub provider: ProviderSpec,
}

/// A metric's provider.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ProviderSpec {
    /// `prometheus`.
    Prometheus(PrometheusSpec),
    /// `web`.
    Web(WebSpec),
    /// Another provider (`datadog`, `job`, …): kept so that a custom [`Provider`](super::provider::Provider)
    /// can take it.
    Other {
        /// The provider's key.
        name: String,
        /// Its configuration as written.
        config: serde_json::Value,
    },
}

impl ProviderSpec {
    /// The provider's key in the template.
    pub fn name(&self) -> &str {
        match self {
            ProviderSpec::Prometheus(_) => "prometheus",
            ProviderSpec::Web(_) => "web",
            ProviderSpec::Other { name, .. } => name,
        }
    }
}

/// `provider.prometheus`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct PrometheusSpec {
    /// The server's base URL.
    pub address: String,
    /// The `PromQL` instant query.
    pub query: String,
    /// Request timeout in seconds.
    #[serde(default)]
    pub timeout: Option<u64>,
    /// Extra request headers (sent to the address's origin only).
    #[serde(default)]
    pub headers: Vec<Header>,
}

/// `provider.web`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct WebSpec {
    /// The URL.
    pub url: String,
    /// `GET` (default), `POST` or `PUT`.
    #[serde(default)]
    pub method: Option<String>,
    /// Request headers (sent to the URL's origin only).
    #[serde(default)]
    pub headers: Vec<Header>,
    /// A request body.
    #[serde(default)]
    pub body: Option<String>,
    /// A JSON request body (sent as JSON).
    #[serde(default)]
    pub json_body: Option<serde_json::Value>,
    /// Timeout in seconds (Argo's default is 10).
    #[serde(default)]
    pub timeout_seconds: Option<u64>,
    /// The k8s-style `JSONPath` selecting the result (`{$.data.ok}`); the whole body when absent.
    #[serde(default, rename = "jsonPath")]
    pub json_path: Option<String>,
}

/// A request header.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct Header {
    /// The header's name.
    pub key: String,
    /// Its value (may hold `{{args.NAME}}`).
    pub value: String,
}

#[derive(Deserialize)]
struct RawDoc {
    kind: Option<String>,
    #[serde(default)]
    metadata: RawMeta,
    spec: RawSpec,
}

#[derive(Deserialize, Default)]
struct RawMeta {
    name: Option<String>,
}

#[derive(Deserialize)]
struct RawSpec {
    #[serde(default)]
    args: Vec<RawArg>,
    metrics: Vec<RawMetric>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawArg {
    name: String,
    value: Option<String>,
    value_from: Option<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawMetric {
    name: String,
    interval: Option<String>,
    initial_delay: Option<String>,
    count: Option<IntOrString>,
    success_condition: Option<String>,
    failure_condition: Option<String>,
    failure_limit: Option<IntOrString>,
    inconclusive_limit: Option<IntOrString>,
    consecutive_error_limit: Option<IntOrString>,
    provider: RawProvider,
}

// The providers slipway implements, read with their types (so that YAML 1.1 words such as `n` or `yes`
// stay strings where a string is expected); others are kept untyped.
#[derive(Deserialize)]
struct RawProvider {
    prometheus: Option<PrometheusSpec>,
    web: Option<WebSpec>,
}

impl AnalysisTemplate {
    /// Reads a template from YAML or JSON (JSON is YAML). The `kind` may be absent (a bare spec document
    /// with `spec:`).
    pub fn parse(text: &str) -> Result<AnalysisTemplate, Error> {
        let syntax = |message: String| Error::Syntax { message };
        let raw: RawDoc = serde_saphyr::from_str(text).map_err(|e| syntax(e.to_string()))?;
        let untyped: serde_json::Value =
            serde_saphyr::from_str(text).map_err(|e| syntax(e.to_string()))?;
        let untyped_providers = untyped
            .pointer("/spec/metrics")
            .and_then(serde_json::Value::as_array)
            .map(|ms| {
                ms.iter()
                    .map(|m| m.get("provider").cloned())
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        let kind = match raw.kind.as_deref() {
            None | Some("AnalysisTemplate") => Kind::AnalysisTemplate,
            Some("ClusterAnalysisTemplate") => Kind::ClusterAnalysisTemplate,
            Some(other) => {
                return Err(Error::Kind {
                    kind: other.to_owned(),
                });
            }
        };
        let args = raw
            .spec
            .args
            .into_iter()
            .map(|a| Arg {
                name: a.name,
                value: a.value,
                value_from: a.value_from.is_some(),
            })
            .collect();
        let metrics = raw
            .spec
            .metrics
            .into_iter()
            .enumerate()
            .map(|(i, m)| metric_from_raw(m, untyped_providers.get(i).cloned().flatten()))
            .collect::<Result<_, _>>()?;
        Ok(AnalysisTemplate {
            kind,
            name: raw.metadata.name,
            args,
            metrics,
        })
    }

    /// The args' values: the template's defaults overridden by `given`. An arg without a value is left
    /// out (an error arises only where it is used); a `valueFrom` arg must be given.
    pub fn args(&self, given: &[(&str, &str)]) -> Result<Args, Error> {
        let mut values = BTreeMap::new();
        for (name, value) in given {
            if !self.args.iter().any(|a| a.name == *name) {
                return Err(Error::UnknownArg {
                    arg: (*name).to_owned(),
                });
            }
            values.insert((*name).to_owned(), (*value).to_owned());
        }
        for arg in &self.args {
            if values.contains_key(&arg.name) {
                continue;
            }
            if arg.value_from {
                return Err(Error::ValueFrom {
                    arg: arg.name.clone(),
                });
            }
            if let Some(v) = &arg.value {
                values.insert(arg.name.clone(), v.clone());
            }
        }
        Ok(Args { values })
    }
}

fn metric_from_raw(raw: RawMetric, untyped: Option<serde_json::Value>) -> Result<Metric, Error> {
    let field = |field: &'static str, message: String| Error::Field {
        metric: raw.name.clone(),
        field,
        message,
    };
    let interval = raw
        .interval
        .as_deref()
        .map(parse_duration)
        .transpose()
        .map_err(|m| field("interval", m))?;
    let initial_delay = raw
        .initial_delay
        .as_deref()
        .map(parse_duration)
        .transpose()
        .map_err(|m| field("initialDelay", m))?;
    let keys: Vec<(String, serde_json::Value)> = match untyped {
        Some(serde_json::Value::Object(map)) => map.into_iter().collect(),
        _ => Vec::new(),
    };
    let provider = match (raw.provider, keys.as_slice()) {
        (
            RawProvider {
                prometheus: Some(p),
                web: None,
            },
            [_],
        ) => ProviderSpec::Prometheus(p),
        (
            RawProvider {
                prometheus: None,
                web: Some(w),
            },
            [_],
        ) => ProviderSpec::Web(w),
        (
            RawProvider {
                prometheus: None,
                web: None,
            },
            [(name, config)],
        ) => ProviderSpec::Other {
            name: name.clone(),
            config: config.clone(),
        },
        _ => {
            return Err(field(
                "provider",
                "expected exactly one provider (prometheus, web, …)".into(),
            ));
        }
    };
    Ok(Metric {
        name: raw.name,
        interval,
        initial_delay,
        count: raw.count,
        success_condition: raw.success_condition.filter(|c| !c.trim().is_empty()),
        failure_condition: raw.failure_condition.filter(|c| !c.trim().is_empty()),
        failure_limit: raw.failure_limit,
        inconclusive_limit: raw.inconclusive_limit,
        consecutive_error_limit: raw.consecutive_error_limit,
        provider,
    })
}

/// Parses a Go duration (`30s`, `5m`, `1h30m`, `1.5s`, `100ms`), as Argo's `DurationString` does: an
/// optional `+`, no negative durations.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let s = text.trim();
    let s = s.strip_prefix('+').unwrap_or(s);
    if s.starts_with('-') {
        return Err(format!("invalid duration `{text}`"));
    }
    crate::duration::go_duration(s).map_err(|e| match e {
        crate::duration::DurationError::MissingUnit { .. } => {
            format!("missing unit in duration `{text}`")
        }
        crate::duration::DurationError::UnknownUnit { unit, .. } => {
            format!("unknown unit `{unit}` in duration `{text}`")
        }
        _ => format!("invalid duration `{text}`"),
    })
}

/// Resolved arg values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Args {
    values: BTreeMap<String, String>,
}

impl Args {
    /// Args from name/value pairs (without a template to check them against).
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Args {
        Args {
            values: pairs
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        }
    }

    /// The value of `name`, if it has one.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// Replaces every `{{args.NAME}}` (spaces inside the braces allowed, as in Argo's docs) in `text`.
    /// Other `{{…}}` text is left as is. `metric` and `field` locate the text in errors.
    pub fn substitute(&self, text: &str, metric: &str, field: &str) -> Result<String, Error> {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(open) = rest.find("{{") {
            let Some(close) = rest[open + 2..].find("}}") else {
                break;
            };
            let inner = rest[open + 2..open + 2 + close].trim();
            out.push_str(&rest[..open]);
            if let Some(name) = inner.strip_prefix("args.") {
                let value = self.get(name).ok_or_else(|| Error::MissingArg {
                    metric: metric.to_owned(),
                    field: field.to_owned(),
                    arg: name.to_owned(),
                })?;
                out.push_str(value);
            } else {
                out.push_str(&rest[open..open + 2 + close + 2]);
            }
            rest = &rest[open + 2 + close + 2..];
        }
        out.push_str(rest);
        Ok(out)
    }

    /// Resolves an [`IntOrString`] field to a non-negative integer.
    pub fn resolve_count(
        &self,
        value: &IntOrString,
        metric: &str,
        field: &'static str,
    ) -> Result<u32, Error> {
        let invalid = |shown: String| Error::Field {
            metric: metric.to_owned(),
            field,
            message: format!("expected a non-negative integer, found `{shown}`"),
        };
        match value {
            IntOrString::Int(i) => u32::try_from(*i).map_err(|_| invalid(i.to_string())),
            IntOrString::String(s) => {
                let s = self.substitute(s, metric, field)?;
                s.trim().parse().map_err(|_| invalid(s))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("100ms"), Ok(Duration::from_millis(100)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert!(parse_duration("5").is_err());
        assert!(parse_duration("5d").is_err());
        assert!(parse_duration("-5s").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn substitution() {
        let args = Args::from_pairs([("svc", "web"), ("ns", "prod")]);
        assert_eq!(
            args.substitute("{{args.svc}}.{{ args.ns }}.svc", "m", "url"),
            Ok("web.prod.svc".into())
        );
        assert_eq!(
            args.substitute("{{other}} {{args.svc}}", "m", "q"),
            Ok("{{other}} web".into())
        );
        assert_eq!(
            args.substitute("{{args.svc", "m", "q"),
            Ok("{{args.svc".into())
        );
        assert_eq!(
            args.substitute("x{{args.missing}}", "m", "headers[0]"),
            Err(Error::MissingArg {
                metric: "m".into(),
                field: "headers[0]".into(),
                arg: "missing".into()
            })
        );
        let count = IntOrString::String("{{args.n}}".into());
        let n = Args::from_pairs([("n", "3")]);
        assert_eq!(n.resolve_count(&count, "m", "count"), Ok(3));
        assert!(
            Args::from_pairs([("n", "x")])
                .resolve_count(&count, "m", "count")
                .is_err()
        );
        assert!(
            n.resolve_count(&IntOrString::Int(-1), "m", "failureLimit")
                .is_err()
        );
    }
}
