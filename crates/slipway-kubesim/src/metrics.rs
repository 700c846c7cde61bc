//! A Prometheus HTTP API (`/api/v1/query`) on the apiserver's address.
//!
//! - Series injected by exact query text (whitespace aside) answer that query first.
//! - The NodePort proxy's counters are served as `kubesim_http_requests_total{namespace,service,pod,image,code}`
//!   (a counter of requests by the status code the client got). Each increment's moment is kept (the last
//!   [`MAX_SAMPLES_PER_SERIES`] per series; at most [`MAX_SERIES`] series), so a window ending at the
//!   evaluation time is answered exactly: `increase(m[W])` is the count at `t` minus the count at `t - W`,
//!   and `rate` is that over `W` seconds (no extrapolation, unlike Prometheus over scrapes). A window that
//!   reaches past the kept increments counts from the oldest kept one.
//! - The `PromQL` evaluated: selectors with `=`, `!=`, `=~`, `!~`; `rate` and `increase`; `sum`, `avg`,
//!   `min`, `max`, `count` with `by`/`without`; `+ - * / % ^` between scalars and vectors (one-to-one
//!   matching, `on`/`ignoring`), e.g. a 5xx ratio. Any other valid `PromQL` (other functions, comparisons,
//!   `offset`, subqueries, other metrics) answers an empty vector, never an invented number; a query that
//!   does not parse is a `bad_data` error (400) with the column, as Prometheus reports it.

use std::collections::HashMap;
use std::sync::Mutex;

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::{BodyExt, Full};
use serde_json::{Value, json};

use crate::server::Body;

mod counters;
mod eval;
mod promql;

pub use counters::{MAX_SAMPLES_PER_SERIES, MAX_SERIES, RequestLabels};
pub use eval::REQUESTS_TOTAL;

/// Removes whitespace outside quoted strings, so `sum(x{a="b c"}) ` and `sum( x{a="b c"})` are one query.
pub fn normalize(query: &str) -> String {
    let mut out = String::with_capacity(query.len());
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for c in query.chars() {
        match quote {
            Some(q) => {
                out.push(c);
                if escaped {
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == q {
                    quote = None;
                }
            }
            None if c.is_whitespace() => {}
            None => {
                if matches!(c, '"' | '\'' | '`') {
                    quote = Some(c);
                }
                out.push(c);
            }
        }
    }
    out
}

/// Parses `QUERY=VALUE` (split at the last `=`, so label matchers may appear in the query).
pub fn parse_injected(text: &str) -> Result<(String, f64), String> {
    let (query, value) = text
        .rsplit_once('=')
        .ok_or_else(|| format!("metric {text:?}: expected QUERY=VALUE"))?;
    let value: f64 = value
        .trim()
        .parse()
        .map_err(|_| format!("metric {text:?}: {:?} is not a number", value.trim()))?;
    if query.trim().is_empty() {
        return Err(format!("metric {text:?}: the query is empty"));
    }
    Ok((normalize(query), value))
}

/// The answers the Prometheus API gives.
#[derive(Debug, Default)]
pub struct Metrics {
    injected: Mutex<HashMap<String, f64>>,
    counters: counters::Counters,
}

fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

fn prom_number(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_owned()
    } else if v.is_infinite() {
        if v > 0.0 {
            "+Inf".to_owned()
        } else {
            "-Inf".to_owned()
        }
    } else {
        let s = format!("{v}");
        s.strip_suffix(".0").map_or(s.clone(), str::to_owned)
    }
}

fn response(code: StatusCode, value: &Value) -> Response<Body> {
    let mut resp = Response::new(Full::new(Bytes::from(value.to_string())).boxed_unsync());
    *resp.status_mut() = code;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

impl Metrics {
    /// Makes `query` answer `value` (replacing an earlier value).
    pub fn inject(&self, query: &str, value: f64) {
        self.injected
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(normalize(query), value);
    }

    /// Counts one request the proxy forwarded, now.
    pub fn record_request(&self, labels: RequestLabels) {
        self.counters.record_at(labels, unix_now());
    }

    /// Counts one request at `t` seconds since the Unix epoch.
    pub fn record_request_at(&self, labels: RequestLabels, t: f64) {
        self.counters.record_at(labels, t);
    }

    /// The injected value of an instant query, if one was injected.
    pub fn instant(&self, query: &str) -> Option<f64> {
        self.injected
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&normalize(query))
            .copied()
    }

    /// The answer to an instant query at `at`: the `data` of a successful response, or the text of a
    /// `bad_data` error when the query does not parse.
    pub fn query(&self, query: &str, at: f64) -> Result<Value, String> {
        if let Some(v) = self.instant(query) {
            return Ok(json!({"resultType": "vector",
                "result": [{"metric": {}, "value": [at, prom_number(v)]}]}));
        }
        let expr = promql::parse(query).map_err(|e| format!("invalid parameter \"query\": {e}"))?;
        Ok(match eval::eval(&expr, &self.counters, at) {
            Some(eval::Value::Scalar(v)) => {
                json!({"resultType": "scalar", "result": [at, prom_number(v)]})
            }
            Some(eval::Value::String(s)) => json!({"resultType": "string", "result": [at, s]}),
            Some(eval::Value::Vector(samples)) => json!({"resultType": "vector",
                "result": samples.into_iter().map(|s| json!({"metric": s.labels,
                    "value": [at, prom_number(s.value)]})).collect::<Vec<_>>()}),
            None => json!({"resultType": "vector", "result": []}),
        })
    }

    /// Serves `/api/v1/<endpoint>`.
    pub fn serve(&self, endpoint: &[&str], params: &HashMap<String, String>) -> Response<Body> {
        match endpoint {
            ["query"] => {
                let Some(query) = params.get("query").filter(|q| !q.trim().is_empty()) else {
                    return response(
                        StatusCode::BAD_REQUEST,
                        &json!({"status": "error", "errorType": "bad_data",
                            "error": "invalid parameter \"query\": unknown position: parse error: no expression found in input"}),
                    );
                };
                let at = params
                    .get("time")
                    .and_then(|t| t.parse::<f64>().ok())
                    .unwrap_or_else(unix_now);
                match self.query(query, at) {
                    Ok(data) => {
                        response(StatusCode::OK, &json!({"status": "success", "data": data}))
                    }
                    Err(error) => response(
                        StatusCode::BAD_REQUEST,
                        &json!({"status": "error", "errorType": "bad_data", "error": error}),
                    ),
                }
            }
            ["query_range"] => response(
                StatusCode::OK,
                &json!({"status": "success", "data": {"resultType": "matrix", "result": []}}),
            ),
            _ => response(
                StatusCode::NOT_FOUND,
                &json!({"status": "error", "errorType": "not_found", "error": "not found"}),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn injected_queries_split_at_the_last_equals() {
        let (q, v) = parse_injected("sum(rate(x{code=~\"5..\"}[1m])) / sum(rate(x[1m]))=0.02")
            .expect("parses");
        assert_eq!(q, "sum(rate(x{code=~\"5..\"}[1m]))/sum(rate(x[1m]))");
        assert!((v - 0.02).abs() < 1e-12);
        assert!(parse_injected("novalue").is_err());
        assert_eq!(normalize("a{b=\"c d\"} + 1"), "a{b=\"c d\"}+1");
        assert_eq!(prom_number(1.0), "1");
        assert_eq!(prom_number(0.25), "0.25");
    }
}
