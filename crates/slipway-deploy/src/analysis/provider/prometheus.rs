//! The Prometheus provider: an instant query on the HTTP API (`GET ADDRESS/api/v1/query?query=…`).
//! A vector becomes an array of numbers (what Argo passes as `result`, so `result[0]` works), a scalar a
//! number; NaN and ±Inf samples stay floats. An empty vector is an empty array: no data, Inconclusive.

use std::time::Duration;

use reqwest::blocking::Client;
use serde::Deserialize;

use super::http::{self, Error, HttpOptions};
use super::{Provider, ProviderError};
use crate::analysis::expr::Value;
use crate::analysis::template::{Args, Metric, ProviderSpec};

/// The Prometheus provider.
#[derive(Debug, Clone)]
pub struct Prometheus {
    client: Client,
    options: HttpOptions,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Answer {
    status: String,
    data: Option<Data>,
    error_type: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Data {
    result_type: String,
    result: serde_json::Value,
}

#[derive(Deserialize)]
struct Sample {
    value: (serde_json::Value, String),
}

impl Prometheus {
    /// A provider with these options.
    pub fn new(options: HttpOptions) -> Result<Prometheus, Error> {
        Ok(Prometheus {
            client: http::client()?,
            options,
        })
    }

    /// Runs the metric's query, returning the value conditions see.
    pub fn query(&self, metric: &Metric, args: &Args) -> Result<Value, Error> {
        let ProviderSpec::Prometheus(spec) = &metric.provider else {
            return Err(Error::UnsupportedProvider {
                metric: metric.name.clone(),
                provider: metric.provider.name().to_owned(),
            });
        };
        let sub = |text: &str, field: &str| {
            args.substitute(text, &metric.name, field)
                .map_err(|source| Error::Args { source })
        };
        let address = sub(&spec.address, "address")?;
        let query = sub(&spec.query, "query")?;
        let mut url = http::parse_url(&metric.name, &address)?;
        let path = format!("{}/api/v1/query", url.path().trim_end_matches('/'));
        url.set_path(&path);
        url.query_pairs_mut().append_pair("query", &query);
        let timeout = spec
            .timeout
            .map_or(self.options.prometheus_timeout, Duration::from_secs);
        let request = http::headers(self.client.get(url.clone()), metric, &spec.headers, args)?;
        let (status, body) = http::send(request, &url, timeout, self.options.max_body_bytes)?;
        let shown = http::shown(&url);
        let answer: Answer = match serde_json::from_slice(&body) {
            Ok(a) => a,
            Err(_) if !(200..300).contains(&status) => {
                return Err(Error::Status {
                    url: shown,
                    status,
                    body: http::excerpt(&body),
                });
            }
            Err(e) => {
                return Err(Error::Json {
                    url: shown,
                    message: e.to_string(),
                });
            }
        };
        if answer.status != "success" {
            return Err(Error::Prometheus {
                url: shown,
                error_type: answer.error_type.unwrap_or_default(),
                error: answer.error.unwrap_or_default(),
            });
        }
        let data = answer.data.ok_or_else(|| Error::Json {
            url: shown.clone(),
            message: "no `data`".into(),
        })?;
        let json_err = |message: String| Error::Json {
            url: shown.clone(),
            message,
        };
        match data.result_type.as_str() {
            "vector" => {
                let samples: Vec<Sample> =
                    serde_json::from_value(data.result).map_err(|e| json_err(e.to_string()))?;
                samples
                    .into_iter()
                    .map(|s| number(&s.value.1).map_err(&json_err))
                    .collect::<Result<Vec<_>, _>>()
                    .map(Value::Array)
            }
            "scalar" => {
                let (_, v): (serde_json::Value, String) =
                    serde_json::from_value(data.result).map_err(|e| json_err(e.to_string()))?;
                number(&v).map_err(json_err)
            }
            other => Err(Error::ResultType {
                url: shown,
                result_type: other.to_owned(),
            }),
        }
    }
}

/// A sample's value as Prometheus writes it (`"0.5"`, `"NaN"`, `"+Inf"`).
fn number(text: &str) -> Result<Value, String> {
    text.parse::<f64>()
        .map(Value::Float)
        .map_err(|_| format!("sample value `{text}` is not a number"))
}

impl Provider for Prometheus {
    fn measure(&self, metric: &Metric, args: &Args) -> Result<Value, ProviderError> {
        self.query(metric, args).map_err(Into::into)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prometheus_numbers() {
        assert_eq!(number("0.5"), Ok(Value::Float(0.5)));
        assert_eq!(number("+Inf"), Ok(Value::Float(f64::INFINITY)));
        assert_eq!(number("-Inf"), Ok(Value::Float(f64::NEG_INFINITY)));
        assert!(matches!(number("NaN"), Ok(Value::Float(f)) if f.is_nan()));
        assert!(number("x").is_err());
    }
}
