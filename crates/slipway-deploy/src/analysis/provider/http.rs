//! What the HTTP providers share: options, errors, the client (redirects kept to the first URL's
//! origin, so headers never reach another origin), bounded body reads.

use std::io::Read;
use std::time::Duration;

use reqwest::Url;
use reqwest::blocking::{Client, RequestBuilder, Response};
use reqwest::redirect::Policy;

use super::{Provider, ProviderError, prometheus::Prometheus, web::Web};
use crate::analysis::expr::Value;
use crate::analysis::template::{self, Args, Metric, ProviderSpec};

/// The most redirects followed (all within one origin).
const MAX_REDIRECTS: usize = 5;

/// Options of the HTTP providers.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct HttpOptions {
    /// The largest response body read, in bytes (default 4 MiB); a larger one is an error.
    pub max_body_bytes: u64,
    /// The Prometheus request timeout when the metric sets none (default 30 s).
    pub prometheus_timeout: Duration,
    /// The web request timeout when the metric sets none (default 10 s, Argo's).
    pub web_timeout: Duration,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            max_body_bytes: 4 << 20,
            prometheus_timeout: Duration::from_secs(30),
            web_timeout: Duration::from_secs(10),
        }
    }
}

impl HttpOptions {
    /// Sets the body limit.
    #[must_use]
    pub fn max_body_bytes(mut self, limit: u64) -> Self {
        self.max_body_bytes = limit;
        self
    }

    /// Sets the default Prometheus timeout.
    #[must_use]
    pub fn prometheus_timeout(mut self, timeout: Duration) -> Self {
        self.prometheus_timeout = timeout;
        self
    }

    /// Sets the default web timeout.
    #[must_use]
    pub fn web_timeout(mut self, timeout: Duration) -> Self {
        self.web_timeout = timeout;
        self
    }
}

/// An error of the Prometheus or web provider. URLs are shown without credentials, query or fragment.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The HTTP client could not be built (TLS set-up).
    #[error("building the HTTP client")]
    Client {
        /// The cause.
        #[source]
        source: ProviderError,
    },
    /// An `{{args.NAME}}` in the request has no value.
    #[error("resolving the request's args")]
    Args {
        /// The missing arg.
        #[source]
        source: template::Error,
    },
    /// The metric's provider is not this one.
    #[error("metric `{metric}`: provider `{provider}` is not supported here")]
    UnsupportedProvider {
        /// The metric.
        metric: String,
        /// Its provider's key.
        provider: String,
    },
    /// The URL (or Prometheus address) is not a valid http(s) URL.
    #[error("metric `{metric}`: invalid URL `{url}`: {message}")]
    Url {
        /// The metric.
        metric: String,
        /// The URL as written (after substitution).
        url: String,
        /// What is wrong.
        message: String,
    },
    /// A header name or value, or the method, is invalid.
    #[error("metric `{metric}`: invalid {what} `{name}`")]
    Request {
        /// The metric.
        metric: String,
        /// `header` or `method`.
        what: &'static str,
        /// The header's name or the method.
        name: String,
    },
    /// The request did not complete in time.
    #[error("{url}: no answer within {seconds} s")]
    Timeout {
        /// The URL.
        url: String,
        /// The timeout.
        seconds: u64,
    },
    /// The request failed (connection, TLS, protocol).
    #[error("{url}: request failed")]
    Send {
        /// The URL.
        url: String,
        /// The cause.
        #[source]
        source: ProviderError,
    },
    /// A redirect pointed at another origin: refused, so that headers stay with their origin.
    #[error("{url}: redirected to another origin ({location}); not followed")]
    CrossOriginRedirect {
        /// The URL.
        url: String,
        /// Where it pointed.
        location: String,
    },
    /// The answer's status was not 2xx.
    #[error("{url}: HTTP status {status}: {body}")]
    Status {
        /// The URL.
        url: String,
        /// The status code.
        status: u16,
        /// The start of the body (control characters removed).
        body: String,
    },
    /// The body exceeded the limit.
    #[error("{url}: response body larger than {limit} bytes")]
    BodyTooLarge {
        /// The URL.
        url: String,
        /// The limit.
        limit: u64,
    },
    /// Reading the body failed.
    #[error("{url}: reading the response body")]
    Body {
        /// The URL.
        url: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The body is not the JSON expected.
    #[error("{url}: unexpected response: {message}")]
    Json {
        /// The URL.
        url: String,
        /// What is wrong.
        message: String,
    },
    /// Prometheus answered with an error.
    #[error("{url}: Prometheus error ({error_type}): {error}")]
    Prometheus {
        /// The URL.
        url: String,
        /// `bad_data`, `execution`, `timeout`, …
        error_type: String,
        /// Its message.
        error: String,
    },
    /// Prometheus answered with a result type that has no value for conditions (`matrix`, `string`).
    #[error(
        "{url}: result type `{result_type}` is not supported (use an instant vector or scalar query)"
    )]
    ResultType {
        /// The URL.
        url: String,
        /// The type.
        result_type: String,
    },
    /// The web provider's `jsonPath` selected nothing.
    #[error("{url}: jsonPath: {message}")]
    JsonPath {
        /// The URL.
        url: String,
        /// What was not found.
        message: String,
    },
}

pub(super) fn client() -> Result<Client, Error> {
    let policy = Policy::custom(|attempt| {
        let same_origin = attempt
            .previous()
            .first()
            .is_none_or(|first| first.origin() == attempt.url().origin());
        if !same_origin {
            attempt.stop()
        } else if attempt.previous().len() > MAX_REDIRECTS {
            attempt.error("too many redirects")
        } else {
            attempt.follow()
        }
    });
    Client::builder()
        .redirect(policy)
        .build()
        .map_err(|e| Error::Client {
            source: Box::new(e),
        })
}

/// `scheme://host[:port]/path`, without credentials, query or fragment.
pub(super) fn shown(url: &Url) -> String {
    let mut u = url.clone();
    let _ = u.set_username("");
    let _ = u.set_password(None);
    u.set_query(None);
    u.set_fragment(None);
    u.to_string()
}

pub(super) fn parse_url(metric: &str, text: &str) -> Result<Url, Error> {
    let url = Url::parse(text).map_err(|e| Error::Url {
        metric: metric.to_owned(),
        url: text.to_owned(),
        message: e.to_string(),
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Error::Url {
            metric: metric.to_owned(),
            url: text.to_owned(),
            message: "expected an http or https URL".into(),
        });
    }
    Ok(url)
}

/// Sends the request and reads at most `limit` bytes of the body, whatever the status (the caller
/// interprets it). A redirect that was not followed (another origin) is an error.
pub(super) fn send(
    request: RequestBuilder,
    url: &Url,
    timeout: Duration,
    limit: u64,
) -> Result<(u16, Vec<u8>), Error> {
    let shown_url = shown(url);
    let response = request.timeout(timeout).send().map_err(|e| {
        if e.is_timeout() {
            Error::Timeout {
                url: shown_url.clone(),
                seconds: timeout.as_secs(),
            }
        } else {
            Error::Send {
                url: shown_url.clone(),
                source: Box::new(e),
            }
        }
    })?;
    let status = response.status();
    if status.is_redirection() {
        let location = response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|l| l.to_str().ok())
            .and_then(|l| response.url().join(l).ok())
            .map_or_else(|| "?".to_owned(), |l| shown(&l));
        return Err(Error::CrossOriginRedirect {
            url: shown_url,
            location,
        });
    }
    let body = read_bounded(response, &shown_url, limit)?;
    Ok((status.as_u16(), body))
}

fn read_bounded(response: Response, url: &str, limit: u64) -> Result<Vec<u8>, Error> {
    if response.content_length().is_some_and(|n| n > limit) {
        return Err(Error::BodyTooLarge {
            url: url.to_owned(),
            limit,
        });
    }
    let mut body = Vec::new();
    response
        .take(limit.saturating_add(1))
        .read_to_end(&mut body)
        .map_err(|source| Error::Body {
            url: url.to_owned(),
            source,
        })?;
    if body.len() as u64 > limit {
        return Err(Error::BodyTooLarge {
            url: url.to_owned(),
            limit,
        });
    }
    Ok(body)
}

/// The start of a body, for error messages: at most 200 characters, control characters replaced.
pub(super) fn excerpt(body: &[u8]) -> String {
    String::from_utf8_lossy(body)
        .chars()
        .take(200)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .trim()
        .to_owned()
}

pub(super) fn headers(
    mut request: RequestBuilder,
    metric: &Metric,
    headers: &[template::Header],
    args: &Args,
) -> Result<RequestBuilder, Error> {
    for (i, h) in headers.iter().enumerate() {
        let value = args
            .substitute(&h.value, &metric.name, &format!("headers[{i}]"))
            .map_err(|source| Error::Args { source })?;
        let name = reqwest::header::HeaderName::from_bytes(h.key.as_bytes()).map_err(|_| {
            Error::Request {
                metric: metric.name.clone(),
                what: "header",
                name: h.key.clone(),
            }
        })?;
        let mut value =
            reqwest::header::HeaderValue::from_str(&value).map_err(|_| Error::Request {
                metric: metric.name.clone(),
                what: "header",
                name: h.key.clone(),
            })?;
        value.set_sensitive(true);
        request = request.header(name, value);
    }
    Ok(request)
}

/// The Prometheus and web providers together: measures a metric with the one its template names.
#[derive(Debug, Clone)]
pub struct HttpProviders {
    prometheus: Prometheus,
    web: Web,
}

impl HttpProviders {
    /// Both providers with these options.
    pub fn new(options: HttpOptions) -> Result<HttpProviders, Error> {
        Ok(HttpProviders {
            prometheus: Prometheus::new(options.clone())?,
            web: Web::new(options)?,
        })
    }
}

impl Provider for HttpProviders {
    fn measure(&self, metric: &Metric, args: &Args) -> Result<Value, ProviderError> {
        match &metric.provider {
            ProviderSpec::Prometheus(_) => self.prometheus.measure(metric, args),
            ProviderSpec::Web(_) => self.web.measure(metric, args),
            other => Err(Box::new(Error::UnsupportedProvider {
                metric: metric.name.clone(),
                provider: other.name().to_owned(),
            })),
        }
    }
}
