//! The web provider: a request to `url` (`method`, `headers`, `body` or `jsonBody`, `timeoutSeconds`),
//! a 2xx JSON answer, and the value `jsonPath` selects. As in Argo, a selected string that reads as a
//! number or a Go boolean (`true`, `False`, `t`, …) is that number or boolean; objects and arrays are
//! kept as they are. Without `jsonPath` the whole body is the result.

use std::time::Duration;

use reqwest::Method;
use reqwest::blocking::Client;

use super::http::{self, Error, HttpOptions};
use super::{Provider, ProviderError, jsonpath};
use crate::analysis::expr::Value;
use crate::analysis::template::{Args, Metric, ProviderSpec};

/// The web provider.
#[derive(Debug, Clone)]
pub struct Web {
    client: Client,
    options: HttpOptions,
}

impl Web {
    /// A provider with these options.
    pub fn new(options: HttpOptions) -> Result<Web, Error> {
        Ok(Web {
            client: http::client()?,
            options,
        })
    }

    /// Sends the metric's request, returning the value conditions see.
    pub fn request(&self, metric: &Metric, args: &Args) -> Result<Value, Error> {
        let ProviderSpec::Web(spec) = &metric.provider else {
            return Err(Error::UnsupportedProvider {
                metric: metric.name.clone(),
                provider: metric.provider.name().to_owned(),
            });
        };
        let sub = |text: &str, field: &str| {
            args.substitute(text, &metric.name, field)
                .map_err(|source| Error::Args { source })
        };
        let url = http::parse_url(&metric.name, &sub(&spec.url, "url")?)?;
        let method_text = spec.method.as_deref().unwrap_or("GET").to_ascii_uppercase();
        let method = Method::from_bytes(method_text.as_bytes()).map_err(|_| Error::Request {
            metric: metric.name.clone(),
            what: "method",
            name: method_text.clone(),
        })?;
        let mut request = self.client.request(method, url.clone());
        request = http::headers(request, metric, &spec.headers, args)?;
        if let Some(json) = &spec.json_body {
            // Substituted string by string, so that an arg holding quotes cannot change the JSON's shape.
            let json = substitute_json(json, &|text| sub(text, "jsonBody"))?;
            request = request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(json.to_string());
        } else if let Some(body) = &spec.body {
            request = request.body(sub(body, "body")?);
        }
        let timeout = spec
            .timeout_seconds
            .map_or(self.options.web_timeout, Duration::from_secs);
        let (status, body) = http::send(request, &url, timeout, self.options.max_body_bytes)?;
        let shown = http::shown(&url);
        if !(200..300).contains(&status) {
            return Err(Error::Status {
                url: shown,
                status,
                body: http::excerpt(&body),
            });
        }
        let doc: serde_json::Value = serde_json::from_slice(&body).map_err(|e| Error::Json {
            url: shown.clone(),
            message: e.to_string(),
        })?;
        let selected = match &spec.json_path {
            Some(path) => jsonpath::select(&doc, path)
                .map_err(|message| Error::JsonPath {
                    url: shown,
                    message,
                })?
                .clone(),
            None => doc,
        };
        Ok(argo_value(selected))
    }
}

fn substitute_json(
    v: &serde_json::Value,
    sub: &dyn Fn(&str) -> Result<String, Error>,
) -> Result<serde_json::Value, Error> {
    Ok(match v {
        serde_json::Value::String(s) => serde_json::Value::String(sub(s)?),
        serde_json::Value::Array(items) => serde_json::Value::Array(
            items
                .iter()
                .map(|i| substitute_json(i, sub))
                .collect::<Result<_, _>>()?,
        ),
        serde_json::Value::Object(map) => serde_json::Value::Object(
            map.iter()
                .map(|(k, v)| Ok((sub(k)?, substitute_json(v, sub)?)))
                .collect::<Result<_, Error>>()?,
        ),
        other => other.clone(),
    })
}

/// Argo renders the selected value as text and reads it back as a float, else a Go bool, else a string.
fn argo_value(v: serde_json::Value) -> Value {
    match v {
        serde_json::Value::Number(n) => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
        serde_json::Value::String(s) => {
            if let Ok(f) = s.trim().parse::<f64>() {
                Value::Float(f)
            } else {
                match s.as_str() {
                    "1" | "t" | "T" | "TRUE" | "true" | "True" => Value::Bool(true),
                    "0" | "f" | "F" | "FALSE" | "false" | "False" => Value::Bool(false),
                    _ => Value::String(s),
                }
            }
        }
        other => Value::from(other),
    }
}

impl Provider for Web {
    fn measure(&self, metric: &Metric, args: &Args) -> Result<Value, ProviderError> {
        self.request(metric, args).map_err(Into::into)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_as_argo_reads_them() {
        assert_eq!(argo_value(json!(true)), Value::Bool(true));
        assert_eq!(argo_value(json!(3)), Value::Float(3.0));
        assert_eq!(argo_value(json!("0.25")), Value::Float(0.25));
        assert_eq!(argo_value(json!("True")), Value::Bool(true));
        assert_eq!(argo_value(json!("ok")), Value::String("ok".into()));
        assert_eq!(argo_value(json!([1])), Value::Array(vec![Value::Int(1)]));
    }
}
