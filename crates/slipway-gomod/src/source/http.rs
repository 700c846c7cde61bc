//! The GOPROXY protocol over HTTP(S) (`GOPROXY=https://proxy.golang.org`), with ureq.
//!
//! Requests are the ones cmd/go sends: `$base/$escaped_path/@v/list`, `@v/$escaped_version.info|mod|zip`,
//! percent-encoded the way Go's `url.PathEscape` encodes a path (so `!` travels as `%21`). 404 and 410 mean
//! "not here" ([`Error::NotFound`]); anything else that is not 200 is an [`Error::Fetch`] naming the URL.
//! Credentials in the proxy URL (`https://user:pass@host/`) are sent as HTTP basic auth and never appear in
//! messages or `Debug` output.

use std::fmt;
use std::io::Read;
use std::thread;
use std::time::Duration;

use base64::Engine as _;

use super::{Artifact, Error, Info, ModuleSource, Result, path_escape};
use crate::{module, version};

/// The largest module zip cmd/go accepts (`codehost.MaxZipFile`, 500 MiB).
pub(crate) const MAX_ZIP_SIZE: u64 = 500 << 20;

/// The largest list, `.info` or `.mod` document read; far above anything a real proxy serves, it only keeps a
/// misbehaving server from exhausting memory.
const MAX_DOCUMENT_SIZE: u64 = 64 << 20;

/// How an [`HttpProxy`] talks to its server.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct HttpOptions {
    /// How long the server may stay silent: to connect, to start answering, and between two reads of the
    /// body (a large zip may take longer in total; a stalled one does not hang forever).
    pub timeout: Duration,
    /// How many times a request is repeated after a 5xx or 429 answer or a broken connection.
    pub retries: u32,
    /// The pause before the first retry; each further retry waits twice as long.
    pub backoff: Duration,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            timeout: Duration::from_secs(60),
            retries: 2,
            backoff: Duration::from_millis(200),
        }
    }
}

impl HttpOptions {
    /// Sets [`HttpOptions::timeout`].
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets [`HttpOptions::retries`].
    #[must_use]
    pub fn retries(mut self, retries: u32) -> Self {
        self.retries = retries;
        self
    }

    /// Sets [`HttpOptions::backoff`].
    #[must_use]
    pub fn backoff(mut self, backoff: Duration) -> Self {
        self.backoff = backoff;
        self
    }
}

/// A module proxy reached over HTTP or HTTPS.
///
/// One connection pool (ureq agent) serves every request, so parallel fetches reuse connections.
///
/// ```
/// use slipway_gomod::source::{HttpProxy, ModuleSource};
///
/// let proxy = HttpProxy::new("https://me:secret@proxy.example.com/go/")?;
/// assert_eq!(proxy.describe(), "https://proxy.example.com/go");
/// assert!(!format!("{proxy:?}").contains("secret"));
/// assert!(HttpProxy::new("ftp://proxy.example.com").is_err());
/// Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct HttpProxy {
    /// `scheme://host[:port]/path` without credentials, query or trailing slash.
    base: String,
    /// `?query` of the configured URL (sent with every request, as Go does), or empty.
    query: String,
    /// The `Authorization` header built from the URL's user information.
    authorization: Option<String>,
    agent: ureq::Agent,
    options: HttpOptions,
}

impl fmt::Debug for HttpProxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpProxy")
            .field("url", &self.base)
            .field(
                "credentials",
                &self.authorization.as_ref().map(|_| "<redacted>"),
            )
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl HttpProxy {
    /// A proxy at `url` (`http://` or `https://`, optionally with `user:password@`) with default options.
    ///
    /// # Errors
    /// [`Error::InvalidProxyList`] when `url` is not an absolute http(s) URL.
    pub fn new(url: &str) -> Result<HttpProxy> {
        HttpProxy::with_options(url, HttpOptions::default())
    }

    /// A proxy at `url` with explicit options.
    ///
    /// # Errors
    /// [`Error::InvalidProxyList`] when `url` is not an absolute http(s) URL.
    pub fn with_options(url: &str, options: HttpOptions) -> Result<HttpProxy> {
        let parts = split_url(url)?;
        let authorization = parts.userinfo.map(|userinfo| {
            let decoded = percent_decode(userinfo);
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(decoded)
            )
        });
        let host = match parts.authority.strip_prefix('[') {
            Some(v6) => v6.split_once(']').map_or(v6, |(h, _)| h),
            None => parts
                .authority
                .rsplit_once(':')
                .map_or(parts.authority, |(h, _)| h),
        };
        let mut config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(options.timeout))
            .timeout_recv_response(Some(options.timeout))
            .timeout_per_read(Some(options.timeout))
            .user_agent(concat!("slipway-gomod/", env!("CARGO_PKG_VERSION")));
        // Go's net/http never sends loopback traffic through HTTP_PROXY; neither do we.
        if is_loopback(host) {
            config = config.proxy(None);
        }
        Ok(HttpProxy {
            base: format!(
                "{}://{}{}",
                parts.scheme,
                parts.authority,
                parts.path.trim_end_matches('/')
            ),
            query: parts.query.map(|q| format!("?{q}")).unwrap_or_default(),
            authorization,
            agent: config.build().into(),
            options,
        })
    }

    /// The proxy URL without credentials, as messages name it.
    pub fn url(&self) -> &str {
        &self.base
    }

    /// The URL of one artifact, escaped as cmd/go escapes it.
    fn artifact_url(&self, path: &str, version: &str, what: Artifact) -> Result<String> {
        let fail = |message: String| Error::Fetch {
            module: path.to_owned(),
            version: version.to_owned(),
            location: self.base.clone(),
            message,
        };
        let escaped = module::escape_path(path).map_err(|e| fail(e.to_string()))?;
        if what == Artifact::Latest {
            return Ok(format!(
                "{}/{}/@latest{}",
                self.base,
                path_escape(&escaped),
                self.query
            ));
        }
        let file = if what == Artifact::List {
            "list".to_owned()
        } else {
            let v = module::escape_version(version).map_err(|e| fail(e.to_string()))?;
            let ext = match what {
                Artifact::Info => "info",
                Artifact::Zip => "zip",
                _ => "mod",
            };
            format!("{v}.{ext}")
        };
        Ok(format!(
            "{}/{}/@v/{}{}",
            self.base,
            path_escape(&escaped),
            path_escape(&file),
            self.query
        ))
    }

    /// GET with retries and exponential backoff on transient failures.
    fn get(&self, path: &str, version: &str, what: Artifact) -> Result<Vec<u8>> {
        let url = self.artifact_url(path, version, what)?;
        let limit = if matches!(what, Artifact::Zip) {
            MAX_ZIP_SIZE
        } else {
            MAX_DOCUMENT_SIZE
        };
        let fail = |message: String| Error::Fetch {
            module: path.to_owned(),
            version: version.to_owned(),
            location: url.clone(),
            message,
        };
        let mut attempt = 0;
        loop {
            let outcome = self.attempt(&url, limit);
            let retry = attempt < self.options.retries && matches!(outcome, Attempt::Transient(_));
            match outcome {
                Attempt::Body(body) => {
                    if body.len() as u64 > limit {
                        return Err(fail(if matches!(what, Artifact::Zip) {
                            "downloaded zip file too large".to_owned()
                        } else {
                            format!("response larger than {limit} bytes")
                        }));
                    }
                    return Ok(body);
                }
                Attempt::Gone => {
                    return Err(Error::NotFound {
                        module: path.to_owned(),
                        version: version.to_owned(),
                        what,
                        source_name: self.base.clone(),
                    });
                }
                Attempt::Transient(message) | Attempt::Fatal(message) if !retry => {
                    return Err(fail(message));
                }
                Attempt::Transient(_) | Attempt::Fatal(_) => {}
            }
            // Exponential backoff: backoff, 2*backoff, 4*backoff, ...
            thread::sleep(self.options.backoff.saturating_mul(1 << attempt.min(16)));
            attempt += 1;
        }
    }

    fn attempt(&self, url: &str, limit: u64) -> Attempt {
        let mut request = self.agent.get(url);
        if let Some(auth) = &self.authorization {
            request = request.header("Authorization", auth);
        }
        let mut response = match request.call() {
            Ok(response) => response,
            Err(e) => return classify_transport(&e),
        };
        let status = response.status();
        if status.as_u16() != 200 {
            // Reading a short error body to its end lets the agent reuse the connection.
            let mut sink = Vec::new();
            let _ = response
                .body_mut()
                .with_config()
                .limit(u64::MAX)
                .reader()
                .take(64 << 10)
                .read_to_end(&mut sink);
        }
        match status.as_u16() {
            200 => {}
            404 | 410 => return Attempt::Gone,
            code => {
                // Go's web package reports a failed GET as "<code> <reason>".
                let message = format!("{} {}", code, status.canonical_reason().unwrap_or(""))
                    .trim_end()
                    .to_owned();
                return if code == 429 || status.is_server_error() {
                    Attempt::Transient(message)
                } else {
                    Attempt::Fatal(message)
                };
            }
        }
        let mut body = Vec::new();
        // One byte past the limit is read so that an oversized body can be told apart from one that fits
        // exactly, and from a broken connection.
        match response
            .body_mut()
            .with_config()
            .limit(u64::MAX)
            .reader()
            .take(limit + 1)
            .read_to_end(&mut body)
        {
            Ok(_) => Attempt::Body(body),
            Err(e) => Attempt::Transient(format!("read: {e}")),
        }
    }
}

/// What one request came to.
enum Attempt {
    Body(Vec<u8>),
    /// 404 or 410.
    Gone,
    /// Worth another try: 5xx, 429, a connection reset or refused mid-way.
    Transient(String),
    /// Not worth another try: 4xx other than 404/410/429, bad host name, timeouts, TLS failures.
    Fatal(String),
}

fn classify_transport(e: &ureq::Error) -> Attempt {
    match e {
        ureq::Error::Io(_) | ureq::Error::ConnectionFailed | ureq::Error::Protocol(_) => {
            Attempt::Transient(e.to_string())
        }
        _ => Attempt::Fatal(e.to_string()),
    }
}

impl ModuleSource for HttpProxy {
    fn list(&self, path: &str) -> Result<Vec<String>> {
        Ok(super::parse_list(&self.get(path, "", Artifact::List)?))
    }

    fn latest(&self, path: &str) -> Result<Info> {
        let data = self.get(path, "", Artifact::Latest)?;
        serde_json::from_slice(&data).map_err(|e| Error::Fetch {
            module: path.to_owned(),
            version: String::new(),
            location: self.base.clone(),
            message: format!("invalid response from proxy {:?}: {e}", self.base),
        })
    }

    fn info(&self, path: &str, version: &str) -> Result<Info> {
        let data = self.get(path, version, Artifact::Info)?;
        let info: Info = serde_json::from_slice(&data).map_err(|e| Error::Fetch {
            module: path.to_owned(),
            version: version.to_owned(),
            location: self.base.clone(),
            message: format!("invalid response from proxy {:?}: {e}", self.base),
        })?;
        // cmd/go insists that a proxy asked for a canonical, valid version answers with exactly that version.
        if info.version != version
            && version::canonical_module_version(version).as_deref() == Some(version)
            && module::check(path, version).is_ok()
        {
            return Err(Error::Fetch {
                module: path.to_owned(),
                version: version.to_owned(),
                location: self.base.clone(),
                message: format!(
                    "proxy returned info for version {} instead of requested version",
                    info.version
                ),
            });
        }
        Ok(info)
    }

    fn go_mod(&self, path: &str, version: &str) -> Result<Vec<u8>> {
        self.get(path, version, Artifact::GoMod)
    }

    fn zip(&self, path: &str, version: &str) -> Result<Vec<u8>> {
        self.get(path, version, Artifact::Zip)
    }

    fn describe(&self) -> String {
        self.base.clone()
    }
}

/// The pieces of an absolute http(s) URL this module needs.
struct UrlParts<'a> {
    scheme: String,
    userinfo: Option<&'a str>,
    authority: &'a str,
    path: &'a str,
    query: Option<&'a str>,
}

fn split_url(url: &str) -> Result<UrlParts<'_>> {
    let invalid = |reason: &str| Error::InvalidProxyList {
        value: super::redact_url(url),
        reason: reason.to_owned(),
    };
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| invalid("not an absolute http(s) URL"))?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return Err(invalid(
            "invalid proxy URL scheme (must be https, http, file)",
        ));
    }
    // The fragment is never sent.
    let rest = rest.split_once('#').map_or(rest, |(r, _)| r);
    let (rest, query) = match rest.split_once('?') {
        Some((r, q)) => (r, Some(q)),
        None => (rest, None),
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let (userinfo, authority) = match authority.rsplit_once('@') {
        Some((u, a)) => (Some(u), a),
        None => (None, authority),
    };
    if authority.is_empty() {
        return Err(invalid("proxy URL has no host"));
    }
    if authority
        .chars()
        .any(|c| c.is_whitespace() || c.is_control())
        || path.chars().any(char::is_control)
    {
        return Err(invalid("invalid character in proxy URL"));
    }
    Ok(UrlParts {
        scheme,
        userinfo,
        authority,
        path,
        query,
    })
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn percent_decode(s: &str) -> Vec<u8> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(hex) = s.get(i + 1..i + 3)
            && let Ok(b) = u8::from_str_radix(hex, 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_escaped_like_cmd_go() {
        let p = HttpProxy::new("http://127.0.0.1:1/base/").unwrap();
        assert_eq!(
            p.artifact_url("github.com/Azure/x", "v1.0.0-RC1", Artifact::Info)
                .unwrap(),
            "http://127.0.0.1:1/base/github.com/%21azure/x/@v/v1.0.0-%21r%21c1.info"
        );
        assert_eq!(
            p.artifact_url("example.com/old", "v2.0.0+incompatible", Artifact::Zip)
                .unwrap(),
            "http://127.0.0.1:1/base/example.com/old/@v/v2.0.0+incompatible.zip"
        );
        assert_eq!(
            p.artifact_url("example.com/m", "", Artifact::List).unwrap(),
            "http://127.0.0.1:1/base/example.com/m/@v/list"
        );
        assert_eq!(
            p.artifact_url("github.com/Azure/x", "", Artifact::Latest)
                .unwrap(),
            "http://127.0.0.1:1/base/github.com/%21azure/x/@latest"
        );
        let q = HttpProxy::new("HTTPS://h/p?token=1#frag").unwrap();
        assert_eq!(
            q.artifact_url("a.b/c", "v1.0.0", Artifact::GoMod).unwrap(),
            "https://h/p/a.b/c/@v/v1.0.0.mod?token=1"
        );
    }

    #[test]
    fn credentials_become_basic_auth_and_never_show() {
        let p = HttpProxy::new("https://al%40ice:pa:ss@proxy.example.com").unwrap();
        assert_eq!(p.authorization.as_deref(), Some("Basic YWxAaWNlOnBhOnNz"));
        assert_eq!(p.describe(), "https://proxy.example.com");
        assert!(!format!("{p:?}").contains("pa:ss"));
        assert_eq!(
            super::super::redact_url("https://u:p@h/x@y"),
            "https://h/x@y"
        );
        assert_eq!(super::super::redact_url("https://h/x"), "https://h/x");
        let err = HttpProxy::new("gopher://u:secret@h")
            .unwrap_err()
            .to_string();
        assert!(!err.contains("secret"), "{err}");
    }

    #[test]
    fn rejects_what_is_not_an_http_url() {
        for bad in [
            "proxy.golang.org",
            "ftp://h",
            "https://",
            "https://u@/x",
            "https://h h/",
        ] {
            assert!(
                matches!(HttpProxy::new(bad), Err(Error::InvalidProxyList { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn loopback_hosts() {
        assert!(is_loopback("127.0.0.1"));
        assert!(is_loopback("::1"));
        assert!(is_loopback("LOCALHOST"));
        assert!(!is_loopback("proxy.golang.org"));
    }
}
