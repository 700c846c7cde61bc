//! A Prometheus HTTP API (`/api/v1/query`) on the apiserver's address: series injected by exact query
//! text answer that query; anything else is an empty vector, never an invented number.

use std::collections::HashMap;
use std::sync::Mutex;

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::{BodyExt, Full};
use serde_json::{Value, json};

use crate::server::Body;

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

    /// The value of an instant query, if kubesim knows one.
    pub fn instant(&self, query: &str) -> Option<f64> {
        self.injected
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&normalize(query))
            .copied()
    }

    /// Serves `/api/v1/<endpoint>`.
    pub fn serve(&self, endpoint: &[&str], params: &HashMap<String, String>) -> Response<Body> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
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
                    .unwrap_or(now);
                let result: Vec<Value> = self
                    .instant(query)
                    .map(|v| json!({"metric": {}, "value": [at, prom_number(v)]}))
                    .into_iter()
                    .collect();
                response(
                    StatusCode::OK,
                    &json!({"status": "success", "data": {"resultType": "vector", "result": result}}),
                )
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
