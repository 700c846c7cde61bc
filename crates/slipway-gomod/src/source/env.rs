//! GOPROXY lists and the Go environment that configures them, as cmd/go reads both.
//!
//! `GOPROXY` is a list of proxy URLs separated by `,` (try the next entry only when this one says the
//! module or version is not there: HTTP 404/410, a missing file) or `|` (try the next entry after any
//! error). `off` fails every lookup ([`Error::Disabled`]); `direct` would fetch from version control, which
//! slipway does not do, so reaching it is [`Error::DirectUnsupported`]. Both end the list: entries after them
//! are ignored, as cmd/go ignores them. An entry without a scheme that looks like a host (`proxy.example.com`)
//! gets `https://`; other single words and bare paths are invalid. Modules matching `GONOPROXY` (default
//! `GOPRIVATE`) would be fetched `direct` and so fail with [`Error::DirectUnsupported`]. `GOINSECURE` only
//! affects `direct` fetches in cmd/go (an `http://` proxy entry is always allowed), so it changes nothing
//! here.
//!
//! Settings are looked up as cmd/go looks them up: the process environment (an empty variable counts as
//! unset), then the user's `go env -w` file (`$GOENV`, default `$XDG_CONFIG_HOME/go/env` or
//! `$HOME/.config/go/env`; `GOENV=off` disables it), then `$GOROOT/go.env`; an empty `GOPROXY` is
//! `https://proxy.golang.org,direct`, the value Go ships in go.env.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use super::{CachedSource, Error, Info, ModCache, ModuleSource, ProxyDir, Result};

/// The GOPROXY value Go ships in `$GOROOT/go.env`, used when nothing sets one.
pub const DEFAULT_GOPROXY: &str = "https://proxy.golang.org,direct";

/// One entry of a [`ProxyList`].
#[non_exhaustive]
pub enum ProxyEntry {
    /// `off`: every lookup fails with [`Error::Disabled`].
    Off,
    /// `direct`: every lookup fails with [`Error::DirectUnsupported`].
    Direct,
    /// A proxy.
    Source {
        /// Where modules come from.
        source: Box<dyn ModuleSource>,
        /// `true` after `|` (try the next entry on any error), `false` after `,` (only on not-found).
        fall_back_on_error: bool,
    },
}

impl fmt::Debug for ProxyEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProxyEntry::Off => f.write_str("Off"),
            ProxyEntry::Direct => f.write_str("Direct"),
            ProxyEntry::Source {
                source,
                fall_back_on_error,
            } => f
                .debug_struct("Source")
                .field("source", &source.describe())
                .field("fall_back_on_error", fall_back_on_error)
                .finish(),
        }
    }
}

/// A GOPROXY list: each request goes down the entries as cmd/go's `TryProxies` goes.
///
/// When every entry fails, the error returned is the most useful one, ranked as cmd/go ranks them:
/// a `direct` error first, then a proxy error other than not-found, then the last not-found.
///
/// ```
/// use slipway_gomod::source::{MemorySource, ModuleSource, ProxyEntry, ProxyList};
///
/// let list = ProxyList::parse("off")?;
/// assert!(list.go_mod("example.com/m", "v1.0.0").unwrap_err().to_string().contains("GOPROXY=off"));
/// assert!(ProxyList::parse("file:///srv/goproxy,direct").is_ok());
/// assert!(ProxyList::parse(",").is_err());
///
/// let mut mem = MemorySource::new();
/// mem.add("example.com/m", "v1.0.0", "module example.com/m\n");
/// let list = ProxyList::from_entries(vec![
///     ProxyEntry::Source { source: Box::new(MemorySource::new()), fall_back_on_error: false },
///     ProxyEntry::Source { source: Box::new(mem), fall_back_on_error: false },
///     ProxyEntry::Direct,
/// ])?;
/// assert_eq!(list.go_mod("example.com/m", "v1.0.0")?, b"module example.com/m\n");
/// assert!(list.go_mod("example.com/other", "v1.0.0").unwrap_err().to_string().contains("direct"));
/// Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct ProxyList {
    entries: Vec<ProxyEntry>,
    /// GONOPROXY patterns: matching modules go `direct`.
    noproxy: String,
    description: String,
}

impl ProxyList {
    /// Parses a GOPROXY value (empty means [`DEFAULT_GOPROXY`]).
    ///
    /// # Errors
    /// [`Error::InvalidProxyList`] for an entry cmd/go rejects (no scheme, unknown scheme, a `file:` URL
    /// with a host or query, a malformed URL), or a non-empty value with no entries (`","`). `http://` and
    /// `https://` entries need the crate's `http` feature.
    pub fn parse(goproxy: &str) -> Result<ProxyList> {
        let value = if goproxy.is_empty() {
            DEFAULT_GOPROXY
        } else {
            goproxy
        };
        let invalid = |reason: String| Error::InvalidProxyList {
            value: redact_list(value),
            reason,
        };
        let mut entries = Vec::new();
        let mut description = String::new();
        let mut rest = value;
        while !rest.is_empty() {
            let (item, fall_back_on_error) = match rest.find([',', '|']) {
                Some(i) => {
                    let sep = rest.as_bytes()[i];
                    let item = &rest[..i];
                    rest = &rest[i + 1..];
                    (item, sep == b'|')
                }
                None => (std::mem::take(&mut rest), false),
            };
            let item = item.trim();
            if item.is_empty() {
                continue;
            }
            if !description.is_empty() {
                description.push(
                    if matches!(
                        entries.last(),
                        Some(ProxyEntry::Source {
                            fall_back_on_error: true,
                            ..
                        })
                    ) {
                        '|'
                    } else {
                        ','
                    },
                );
            }
            if item == "off" {
                entries.push(ProxyEntry::Off);
                description.push_str("off");
                break;
            }
            if item == "direct" {
                entries.push(ProxyEntry::Direct);
                description.push_str("direct");
                break;
            }
            let url = with_implied_scheme(item);
            let source = open_proxy(&url).map_err(invalid)?;
            description.push_str(&source.describe());
            entries.push(ProxyEntry::Source {
                source,
                fall_back_on_error,
            });
        }
        if entries.is_empty() {
            return Err(invalid(
                "GOPROXY list is not the empty string, but contains no entries".to_owned(),
            ));
        }
        Ok(ProxyList {
            entries,
            noproxy: String::new(),
            description,
        })
    }

    /// A list of explicit entries, tried in order.
    ///
    /// # Errors
    /// [`Error::InvalidProxyList`] when `entries` is empty.
    pub fn from_entries(entries: Vec<ProxyEntry>) -> Result<ProxyList> {
        if entries.is_empty() {
            return Err(Error::InvalidProxyList {
                value: String::new(),
                reason: "GOPROXY list is not the empty string, but contains no entries".to_owned(),
            });
        }
        let description = entries
            .iter()
            .map(|e| match e {
                ProxyEntry::Off => "off".to_owned(),
                ProxyEntry::Direct => "direct".to_owned(),
                ProxyEntry::Source { source, .. } => source.describe(),
            })
            .collect::<Vec<_>>()
            .join(",");
        Ok(ProxyList {
            entries,
            noproxy: String::new(),
            description,
        })
    }

    /// Sets the `GONOPROXY` patterns (comma-separated path globs, each matching a module path prefix):
    /// matching modules are fetched `direct`, which slipway reports as [`Error::DirectUnsupported`].
    #[must_use]
    pub fn with_noproxy(mut self, patterns: &str) -> ProxyList {
        patterns.clone_into(&mut self.noproxy);
        self
    }

    /// The entries, in order.
    pub fn entries(&self) -> &[ProxyEntry] {
        &self.entries
    }

    /// Runs `fetch` down the list as cmd/go's `TryProxies` does.
    fn try_each<T>(
        &self,
        path: &str,
        version: &str,
        fetch: impl Fn(&dyn ModuleSource) -> Result<T>,
    ) -> Result<T> {
        const NOT_EXIST: u8 = 0;
        const PROXY: u8 = 1;
        const DIRECT: u8 = 2;
        let direct = || Error::DirectUnsupported {
            module: path.to_owned(),
            version: version.to_owned(),
        };
        if match_prefix_patterns(&self.noproxy, path) {
            return Err(direct());
        }
        let mut best: Option<Error> = None;
        let mut best_rank = NOT_EXIST;
        for entry in &self.entries {
            let (err, fall_back_on_error, is_direct) = match entry {
                ProxyEntry::Off => (
                    Error::Disabled {
                        module: path.to_owned(),
                        version: version.to_owned(),
                    },
                    false,
                    false,
                ),
                ProxyEntry::Direct => (direct(), false, true),
                ProxyEntry::Source {
                    source,
                    fall_back_on_error,
                } => match fetch(source.as_ref()) {
                    Ok(value) => return Ok(value),
                    Err(e) => (e, *fall_back_on_error, false),
                },
            };
            // cmd/go's "off" error counts as not-exist, like a 404.
            let not_exist = err.is_not_found() || matches!(err, Error::Disabled { .. });
            let terminal = matches!(entry, ProxyEntry::Off | ProxyEntry::Direct);
            if is_direct {
                best = Some(err);
                best_rank = DIRECT;
            } else if best_rank <= PROXY && !not_exist {
                best = Some(err);
                best_rank = PROXY;
            } else if best_rank == NOT_EXIST {
                best = Some(err);
            }
            if terminal || (!fall_back_on_error && !not_exist) {
                break;
            }
        }
        Err(best.unwrap_or_else(|| Error::InvalidProxyList {
            value: self.description.clone(),
            reason: "GOPROXY list is not the empty string, but contains no entries".to_owned(),
        }))
    }
}

impl ModuleSource for ProxyList {
    fn list(&self, path: &str) -> Result<Vec<String>> {
        self.try_each(path, "", |s| s.list(path))
    }

    fn info(&self, path: &str, version: &str) -> Result<Info> {
        self.try_each(path, version, |s| s.info(path, version))
    }

    fn go_mod(&self, path: &str, version: &str) -> Result<Vec<u8>> {
        self.try_each(path, version, |s| s.go_mod(path, version))
    }

    fn zip(&self, path: &str, version: &str) -> Result<Vec<u8>> {
        self.try_each(path, version, |s| s.zip(path, version))
    }

    fn latest(&self, path: &str) -> Result<Info> {
        self.try_each(path, "", |s| s.latest(path))
    }

    fn describe(&self) -> String {
        format!("GOPROXY={}", self.description)
    }

    fn is_local(&self) -> bool {
        self.entries.iter().all(|e| match e {
            ProxyEntry::Off | ProxyEntry::Direct => true,
            ProxyEntry::Source { source, .. } => source.is_local(),
        })
    }
}

/// cmd/go's rule: single words are reserved, and anything with `:/` or an absolute path must be a full
/// URL; everything else that has a `.`, `:` or `/` is a host and gets `https://`.
fn with_implied_scheme(item: &str) -> String {
    let looks_like_host = item.contains(['.', ':', '/']);
    if looks_like_host
        && !item.contains(":/")
        && !Path::new(item).is_absolute()
        && !item.starts_with('/')
    {
        format!("https://{item}")
    } else {
        item.to_owned()
    }
}

/// Opens one proxy URL, with cmd/go's messages for the ones it refuses.
fn open_proxy(url: &str) -> Result<Box<dyn ModuleSource>, String> {
    let shown = super::redact_url(url);
    let Some((scheme, rest)) = split_scheme(url) else {
        return Err(format!("invalid proxy URL missing scheme: {shown}"));
    };
    check_escapes(url).map_err(|e| format!("parse {shown:?}: {e}"))?;
    match scheme.as_str() {
        "file" => {
            // Only `file:///abs/path` (or `file:/abs/path`): no host, user, query or fragment.
            let path = match rest.strip_prefix("//") {
                Some(after) if after.starts_with('/') => after,
                None if rest.starts_with('/') => rest,
                _ => {
                    return Err(format!(
                        "invalid file:// proxy URL with non-path elements: {shown}"
                    ));
                }
            };
            if path.contains(['?', '#']) {
                return Err(format!(
                    "invalid file:// proxy URL with non-path elements: {shown}"
                ));
            }
            let decoded = String::from_utf8(percent_decode(path))
                .map_err(|_| format!("invalid file:// proxy URL: {shown}"))?;
            Ok(Box::new(ProxyDir::new(
                decoded.trim_end_matches('/').to_owned(),
            )))
        }
        "http" | "https" => {
            check_authority(rest).map_err(|e| format!("parse {shown:?}: {e}"))?;
            open_http(url)
        }
        _ => Err(format!(
            "invalid proxy URL scheme (must be https, http, file): {shown}"
        )),
    }
}

#[cfg(feature = "http")]
fn open_http(url: &str) -> Result<Box<dyn ModuleSource>, String> {
    match super::HttpProxy::new(url) {
        Ok(proxy) => Ok(Box::new(proxy)),
        Err(Error::InvalidProxyList { reason, .. }) => Err(reason),
        Err(e) => Err(e.to_string()),
    }
}

#[cfg(not(feature = "http"))]
fn open_http(url: &str) -> Result<Box<dyn ModuleSource>, String> {
    Err(format!(
        "{}: http(s) proxies need slipway-gomod's `http` feature",
        super::redact_url(url)
    ))
}

/// `(lower-case scheme, rest after ':')` when `url` starts with a URL scheme.
fn split_scheme(url: &str) -> Option<(String, &str)> {
    let colon = url.find(':')?;
    let scheme = &url[..colon];
    let mut chars = scheme.chars();
    let first = chars.next()?;
    if !first.is_ascii_alphabetic()
        || !chars.all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    {
        return None;
    }
    Some((scheme.to_ascii_lowercase(), &url[colon + 1..]))
}

fn check_escapes(url: &str) -> Result<(), String> {
    let b = url.as_bytes();
    for (i, &c) in b.iter().enumerate() {
        if c == b'%' {
            let ok = b
                .get(i + 1..i + 3)
                .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit));
            if !ok {
                let end = (i + 3).min(url.len());
                return Err(format!(
                    "invalid URL escape {:?}",
                    url.get(i..end).unwrap_or("%")
                ));
            }
        }
        if c.is_ascii_control() {
            return Err("net/url: invalid control character in URL".to_owned());
        }
    }
    Ok(())
}

/// The host and port checks Go's url.Parse makes on `//[user@]host[:port]/…`.
fn check_authority(rest: &str) -> Result<(), String> {
    let Some(after) = rest.strip_prefix("//") else {
        return Ok(());
    };
    let end = after.find(['/', '?', '#']).unwrap_or(after.len());
    let authority = &after[..end];
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (host, port) = if let Some(v6) = host_port.strip_prefix('[') {
        match v6.split_once(']') {
            Some((h, p)) => (h, p.strip_prefix(':')),
            None => return Err("missing ']' in host".to_owned()),
        }
    } else {
        match host_port.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (host_port, None),
        }
    };
    if let Some(port) = port
        && !port.bytes().all(|c| c.is_ascii_digit())
    {
        return Err(format!("invalid port \":{port}\" after host"));
    }
    if let Some(c) = host
        .chars()
        .find(|c| c.is_whitespace() || "<>\"{}|\\^`".contains(*c))
    {
        return Err(format!(
            "invalid character {:?} in host name",
            c.to_string()
        ));
    }
    Ok(())
}

fn percent_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && let Some(v) = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

fn redact_list(value: &str) -> String {
    let mut out = String::new();
    let mut rest = value;
    while let Some(i) = rest.find([',', '|']) {
        out.push_str(&super::redact_url(&rest[..i]));
        out.push_str(&rest[i..=i]);
        rest = &rest[i + 1..];
    }
    out.push_str(&super::redact_url(rest));
    out
}

/// Whether `target` (a module path) matches one of the comma-separated `globs`, each matched against the
/// leading path elements of `target` (x/mod's `module.MatchPrefixPatterns`, as GOPRIVATE, GONOPROXY,
/// GONOSUMDB and GOINSECURE use it).
///
/// ```
/// use slipway_gomod::source::match_prefix_patterns;
///
/// assert!(match_prefix_patterns("*.corp.example.com,rsc.io/private", "git.corp.example.com/x/y"));
/// assert!(match_prefix_patterns("rsc.io/private", "rsc.io/private/quux"));
/// assert!(!match_prefix_patterns("rsc.io/private", "rsc.io/privateer"));
/// ```
pub fn match_prefix_patterns(globs: &str, target: &str) -> bool {
    for glob in globs.split(',') {
        let glob = glob.strip_suffix('/').unwrap_or(glob);
        if glob.is_empty() {
            continue;
        }
        let mut n = glob.matches('/').count();
        let mut prefix = target;
        for (i, c) in target.char_indices() {
            if c == '/' {
                if n == 0 {
                    prefix = &target[..i];
                    break;
                }
                n -= 1;
            }
        }
        if n > 0 {
            continue;
        }
        if path_match(glob, prefix) == Some(true) {
            return true;
        }
    }
    false
}

/// Go's `path.Match`: `*` (any run of non-`/`), `?` (one non-`/` character), `[class]` with ranges and `^`,
/// `\` escapes. `None` for a malformed pattern. Go's algorithm (greedy chunks, backtracking over the last
/// star only) is followed exactly, so the answers are Go's and the time stays polynomial.
fn path_match(pattern: &str, name: &str) -> Option<bool> {
    let mut pattern = pattern.as_bytes();
    let mut name = name.as_bytes();
    'pattern: while !pattern.is_empty() {
        let (star, chunk, rest) = scan_chunk(pattern);
        pattern = rest;
        if star && chunk.is_empty() {
            return Some(!name.contains(&b'/'));
        }
        let first = match_chunk(chunk, name);
        if let Ok(Some(t)) = first
            && (t.is_empty() || !pattern.is_empty())
        {
            name = t;
            continue;
        }
        first.ok()?;
        if star {
            let mut i = 0;
            while i < name.len() && name[i] != b'/' {
                if let Some(t) = match_chunk(chunk, &name[i + 1..]).ok()? {
                    if pattern.is_empty() && !t.is_empty() {
                        i += 1;
                        continue;
                    }
                    name = t;
                    continue 'pattern;
                }
                i += 1;
            }
        }
        // A mismatch still reports a malformed rest of the pattern, as Go does.
        while !pattern.is_empty() {
            let (_, chunk, rest) = scan_chunk(pattern);
            pattern = rest;
            match_chunk(chunk, b"").ok()?;
        }
        return Some(false);
    }
    Some(name.is_empty())
}

/// Leading stars, then the chunk up to the next star outside a class.
fn scan_chunk(mut pattern: &[u8]) -> (bool, &[u8], &[u8]) {
    let mut star = false;
    while let Some((b'*', rest)) = pattern.split_first() {
        pattern = rest;
        star = true;
    }
    let mut in_range = false;
    let mut i = 0;
    while i < pattern.len() {
        match pattern[i] {
            b'\\' if i + 1 < pattern.len() => i += 1,
            b'[' => in_range = true,
            b']' => in_range = false,
            b'*' if !in_range => return (star, &pattern[..i], &pattern[i..]),
            _ => {}
        }
        i += 1;
    }
    (star, pattern, &[])
}

/// Matches `chunk` at the start of `s`: `Ok(Some(rest of s))`, `Ok(None)` on a mismatch, `Err` when the
/// chunk is malformed.
fn match_chunk<'s>(mut chunk: &[u8], mut s: &'s [u8]) -> Result<Option<&'s [u8]>, ()> {
    let mut failed = false;
    while let Some(&c) = chunk.first() {
        failed = failed || s.is_empty();
        match c {
            b'[' => {
                let mut r = 0;
                if !failed {
                    let (decoded, n) = decode_rune(s);
                    r = decoded;
                    s = &s[n..];
                }
                chunk = &chunk[1..];
                let negated = chunk.first() == Some(&b'^');
                if negated {
                    chunk = &chunk[1..];
                }
                let mut matched = false;
                let mut ranges = 0;
                loop {
                    if chunk.first() == Some(&b']') && ranges > 0 {
                        chunk = &chunk[1..];
                        break;
                    }
                    let (lo, rest) = get_esc(chunk)?;
                    let (hi, rest) = if rest[0] == b'-' {
                        get_esc(&rest[1..])?
                    } else {
                        (lo, rest)
                    };
                    chunk = rest;
                    matched = matched || (lo <= r && r <= hi);
                    ranges += 1;
                }
                failed = failed || matched == negated;
            }
            b'?' => {
                if !failed {
                    failed = s[0] == b'/';
                    s = &s[decode_rune(s).1..];
                }
                chunk = &chunk[1..];
            }
            _ => {
                if c == b'\\' {
                    chunk = &chunk[1..];
                    if chunk.is_empty() {
                        return Err(());
                    }
                }
                if !failed {
                    failed = chunk[0] != s[0];
                    s = &s[1..];
                }
                chunk = &chunk[1..];
            }
        }
    }
    Ok(if failed { None } else { Some(s) })
}

/// One possibly escaped character of a class, and the rest (never empty on success).
fn get_esc(chunk: &[u8]) -> Result<(u32, &[u8]), ()> {
    let mut chunk = match chunk.first() {
        None | Some(b'-' | b']') => return Err(()),
        Some(_) => chunk,
    };
    if chunk[0] == b'\\' {
        chunk = &chunk[1..];
        if chunk.is_empty() {
            return Err(());
        }
    }
    let (r, n) = decode_rune(chunk);
    let rest = &chunk[n..];
    if (r == u32::from(char::REPLACEMENT_CHARACTER) && n == 1) || rest.is_empty() {
        return Err(());
    }
    Ok((r, rest))
}

/// The first UTF-8 character of `s` and its length; an invalid byte is U+FFFD of length 1, as Go decodes.
fn decode_rune(s: &[u8]) -> (u32, usize) {
    let len = match s.first() {
        None => return (u32::from(char::REPLACEMENT_CHARACTER), 0),
        Some(b) if *b < 0x80 => 1,
        Some(b) if *b >= 0xF0 => 4,
        Some(b) if *b >= 0xE0 => 3,
        Some(_) => 2,
    };
    match s
        .get(..len)
        .and_then(|p| std::str::from_utf8(p).ok())
        .and_then(|t| t.chars().next())
    {
        Some(c) => (u32::from(c), len),
        None => (u32::from(char::REPLACEMENT_CHARACTER), 1),
    }
}

/// The Go settings that decide where modules come from, resolved as cmd/go resolves them.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct GoEnv {
    /// `GOPROXY` (never empty: [`DEFAULT_GOPROXY`] when unset).
    pub goproxy: String,
    /// `GONOPROXY`, defaulting to `GOPRIVATE`.
    pub gonoproxy: String,
    /// `GOMODCACHE`, defaulting to the first `GOPATH` entry's `pkg/mod` (`GOPATH` defaulting to `$HOME/go`).
    pub gomodcache: PathBuf,
}

impl GoEnv {
    /// Reads the process environment, the user's `go env -w` file and `$GOROOT/go.env`.
    ///
    /// # Errors
    /// [`Error::Config`] when no module cache can be located or its path is relative.
    pub fn from_process() -> Result<GoEnv> {
        GoEnv::resolve(&|key| std::env::var(key).ok())
    }

    /// Like [`GoEnv::from_process`], with `vars` standing for the whole process environment (files named
    /// by `GOENV`, `HOME`, `XDG_CONFIG_HOME` and `GOROOT` in `vars` are still read).
    ///
    /// ```
    /// use slipway_gomod::source::GoEnv;
    ///
    /// let env = GoEnv::from_vars(&[("HOME", "/home/gopher"), ("GOENV", "off"), ("GOPRIVATE", "corp.example")])?;
    /// assert_eq!(env.goproxy, "https://proxy.golang.org,direct");
    /// assert_eq!(env.gonoproxy, "corp.example");
    /// assert_eq!(env.gomodcache, std::path::Path::new("/home/gopher/go/pkg/mod"));
    /// Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`GoEnv::from_process`].
    pub fn from_vars(vars: &[(&str, &str)]) -> Result<GoEnv> {
        let map: HashMap<&str, &str> = vars.iter().copied().collect();
        GoEnv::resolve(&|key| map.get(key).map(|v| (*v).to_owned()))
    }

    fn resolve(process: &dyn Fn(&str) -> Option<String>) -> Result<GoEnv> {
        let getenv_os = |key: &str| process(key).filter(|v| !v.is_empty());
        let user = env_file_path(&getenv_os)
            .map(|f| read_env_file(&f))
            .unwrap_or_default();
        let goroot =
            getenv_os("GOROOT").or_else(|| user.get("GOROOT").cloned().filter(|v| !v.is_empty()));
        let shipped = goroot
            .map(|root| read_env_file(&Path::new(&root).join("go.env")))
            .unwrap_or_default();
        let getenv = |key: &str| -> String {
            getenv_os(key)
                .or_else(|| user.get(key).cloned())
                .or_else(|| shipped.get(key).cloned())
                .unwrap_or_default()
        };
        let mut goproxy = getenv("GOPROXY");
        if goproxy.is_empty() {
            DEFAULT_GOPROXY.clone_into(&mut goproxy);
        }
        let mut gonoproxy = getenv("GONOPROXY");
        if gonoproxy.is_empty() {
            gonoproxy = getenv("GOPRIVATE");
        }
        let gomodcache = match getenv("GOMODCACHE") {
            dir if !dir.is_empty() => {
                if !Path::new(&dir).is_absolute() {
                    return Err(Error::Config {
                        variable: "GOMODCACHE".to_owned(),
                        reason: "GOMODCACHE entry is relative; must be absolute path".to_owned(),
                        value: dir,
                    });
                }
                PathBuf::from(dir)
            }
            _ => {
                let gopath = getenv("GOPATH");
                let first = std::env::split_paths(&gopath)
                    .next()
                    .filter(|p| !p.as_os_str().is_empty());
                let gopath = match first {
                    Some(p) => p,
                    None => {
                        match getenv_os(home_var()) {
                            Some(home) => Path::new(&home).join("go"),
                            None => {
                                return Err(Error::Config {
                                variable: "GOMODCACHE".to_owned(),
                                value: String::new(),
                                reason: "module cache not found: neither GOMODCACHE nor GOPATH is set".to_owned(),
                            });
                            }
                        }
                    }
                };
                if !gopath.is_absolute() {
                    return Err(Error::Config {
                        variable: "GOPATH".to_owned(),
                        value: gopath.display().to_string(),
                        reason: "GOPATH entry is relative; must be absolute path".to_owned(),
                    });
                }
                gopath.join("pkg").join("mod")
            }
        };
        Ok(GoEnv {
            goproxy,
            gonoproxy,
            gomodcache,
        })
    }

    /// The GOPROXY list with the GONOPROXY patterns applied.
    ///
    /// # Errors
    /// [`Error::InvalidProxyList`] as [`ProxyList::parse`].
    pub fn proxy_list(&self) -> Result<ProxyList> {
        Ok(ProxyList::parse(&self.goproxy)?.with_noproxy(&self.gonoproxy))
    }

    /// The module cache.
    pub fn mod_cache(&self) -> ModCache {
        let pack = std::env::var_os("SLIPWAY_MODCACHE_PACK").is_none_or(|v| v != "off");
        ModCache::new(&self.gomodcache).with_pack(pack)
    }

    /// What cmd/go reads modules from: the module cache, then the GOPROXY list (filling the cache).
    ///
    /// # Errors
    /// As [`GoEnv::proxy_list`].
    pub fn source(&self) -> Result<CachedSource<ProxyList>> {
        Ok(CachedSource::new(self.mod_cache(), self.proxy_list()?))
    }
}

/// The module source the `go` command would use in this process's environment: the module cache, then
/// the GOPROXY list.
pub fn from_env() -> Result<Box<dyn ModuleSource>> {
    Ok(Box::new(GoEnv::from_process()?.source()?))
}

/// Like [`from_env`] with explicit variables (see [`GoEnv::from_vars`]); tests use it instead of mutating
/// the process environment.
pub fn from_vars(vars: &[(&str, &str)]) -> Result<Box<dyn ModuleSource>> {
    Ok(Box::new(GoEnv::from_vars(vars)?.source()?))
}

fn home_var() -> &'static str {
    if cfg!(windows) { "USERPROFILE" } else { "HOME" }
}

/// The user's `go env -w` file (cmd/go's `cfg.EnvFile`), or `None` when there is none to read.
fn env_file_path(getenv: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    if let Some(file) = getenv("GOENV") {
        return (file != "off").then(|| PathBuf::from(file));
    }
    // os.UserConfigDir.
    let config = if cfg!(windows) {
        PathBuf::from(getenv("AppData")?)
    } else if cfg!(target_os = "macos") {
        Path::new(&getenv("HOME")?).join("Library/Application Support")
    } else if let Some(xdg) = getenv("XDG_CONFIG_HOME") {
        let xdg = PathBuf::from(xdg);
        // Go refuses a relative XDG_CONFIG_HOME (and then reads no file).
        if !xdg.is_absolute() {
            return None;
        }
        xdg
    } else {
        Path::new(&getenv("HOME")?).join(".config")
    };
    Some(config.join("go").join("env"))
}

/// `KEY=value` lines as cmd/go's readEnvFile takes them: lines without `=` or not starting with an
/// upper-case letter are ignored, values are taken verbatim.
fn read_env_file(file: &Path) -> HashMap<String, String> {
    let Ok(data) = std::fs::read(file) else {
        return HashMap::new();
    };
    String::from_utf8_lossy(&data)
        .split('\n')
        .filter(|line| line.as_bytes().first().is_some_and(u8::is_ascii_uppercase))
        .filter_map(|line| line.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::MemorySource;

    fn reason(goproxy: &str) -> String {
        match ProxyList::parse(goproxy) {
            Err(Error::InvalidProxyList { reason, .. }) => reason,
            other => panic!("{goproxy:?}: expected InvalidProxyList, got {other:?}"),
        }
    }

    #[test]
    fn invalid_entries_are_rejected_with_go_messages() {
        // Messages as `go mod download` prints them for the same GOPROXY values.
        assert_eq!(reason("foo"), "invalid proxy URL missing scheme: foo");
        assert_eq!(reason("/srv/p"), "invalid proxy URL missing scheme: /srv/p");
        assert_eq!(
            reason("noproxy"),
            "invalid proxy URL missing scheme: noproxy"
        );
        assert_eq!(
            reason(","),
            "GOPROXY list is not the empty string, but contains no entries"
        );
        assert_eq!(
            reason(" | "),
            "GOPROXY list is not the empty string, but contains no entries"
        );
        assert_eq!(
            reason("ftp://x"),
            "invalid proxy URL scheme (must be https, http, file): ftp://x"
        );
        assert_eq!(
            reason("file://host/p"),
            "invalid file:// proxy URL with non-path elements: file://host/p"
        );
        assert_eq!(
            reason("file:///tmp/x?y"),
            "invalid file:// proxy URL with non-path elements: file:///tmp/x?y"
        );
        assert_eq!(
            reason("file:rel"),
            "parse \"https://file:rel\": invalid port \":rel\" after host"
        );
        assert_eq!(
            reason("HTTPS://h:bad"),
            "parse \"HTTPS://h:bad\": invalid port \":bad\" after host"
        );
        assert_eq!(
            reason("http://a b"),
            "parse \"http://a b\": invalid character \" \" in host name"
        );
        assert_eq!(
            reason("https://%zz"),
            "parse \"https://%zz\": invalid URL escape \"%zz\""
        );
        // An invalid entry after `off` or `direct` is never looked at, as in cmd/go.
        assert!(ProxyList::parse("off,foo").is_ok());
        assert!(ProxyList::parse("direct|ftp://x").is_ok());
        // Credentials never reach the message.
        let err = ProxyList::parse("gopher://u:secret@h")
            .unwrap_err()
            .to_string();
        assert!(!err.contains("secret"), "{err}");
    }

    #[test]
    fn parsing_keeps_separators_and_stops_at_off_and_direct() {
        let l = ProxyList::parse(" file:///a , file:///b|file:/c ,direct,file:///d").unwrap();
        assert_eq!(l.describe(), "GOPROXY=file:///a,file:///b|file:///c,direct");
        let fall: Vec<_> = l
            .entries()
            .iter()
            .map(|e| {
                matches!(
                    e,
                    ProxyEntry::Source {
                        fall_back_on_error: true,
                        ..
                    }
                )
            })
            .collect();
        assert_eq!(fall, [false, true, false, false]);
        #[cfg(feature = "http")]
        assert_eq!(
            ProxyList::parse("").unwrap().describe(),
            "GOPROXY=https://proxy.golang.org,direct"
        );
        #[cfg(not(feature = "http"))]
        assert!(reason("").contains("`http` feature"));
        assert!(matches!(
            ProxyList::parse("off").unwrap().entries(),
            [ProxyEntry::Off]
        ));
        let dir = ProxyList::parse("file:///srv/my%20proxy/").unwrap();
        assert_eq!(dir.describe(), "GOPROXY=file:///srv/my proxy");
    }

    /// A source that fails every request with a fixed error.
    struct Failing(fn() -> Error);
    impl ModuleSource for Failing {
        fn list(&self, _: &str) -> Result<Vec<String>> {
            Err((self.0)())
        }
        fn info(&self, _: &str, _: &str) -> Result<Info> {
            Err((self.0)())
        }
        fn go_mod(&self, _: &str, _: &str) -> Result<Vec<u8>> {
            Err((self.0)())
        }
        fn zip(&self, _: &str, _: &str) -> Result<Vec<u8>> {
            Err((self.0)())
        }
        fn describe(&self) -> String {
            "failing".to_owned()
        }
    }

    fn broken() -> Error {
        Error::Fetch {
            module: "m".into(),
            version: String::new(),
            location: "x".into(),
            message: "500".into(),
        }
    }

    fn good() -> Box<dyn ModuleSource> {
        let mut m = MemorySource::new();
        m.add("example.com/m", "v1.0.0", "module example.com/m\n");
        Box::new(m)
    }

    fn entry(source: Box<dyn ModuleSource>, fall_back_on_error: bool) -> ProxyEntry {
        ProxyEntry::Source {
            source,
            fall_back_on_error,
        }
    }

    #[test]
    fn comma_falls_through_only_on_not_found_and_pipe_on_any_error() {
        let get = |entries| {
            ProxyList::from_entries(entries)
                .unwrap()
                .go_mod("example.com/m", "v1.0.0")
        };
        assert!(
            get(vec![
                entry(Box::new(MemorySource::new()), false),
                entry(good(), false)
            ])
            .is_ok()
        );
        let err = get(vec![
            entry(Box::new(Failing(broken)), false),
            entry(good(), false),
        ])
        .unwrap_err();
        assert!(matches!(err, Error::Fetch { .. }), "{err}");
        assert!(
            get(vec![
                entry(Box::new(Failing(broken)), true),
                entry(good(), false)
            ])
            .is_ok()
        );
        // The most useful error wins: a proxy failure over a later not-found, direct over everything.
        let err = get(vec![
            entry(Box::new(Failing(broken)), true),
            entry(Box::new(MemorySource::new()), false),
        ])
        .unwrap_err();
        assert!(matches!(err, Error::Fetch { .. }), "{err}");
        let err = get(vec![
            entry(Box::new(MemorySource::new()), false),
            ProxyEntry::Off,
        ])
        .unwrap_err();
        assert!(matches!(err, Error::Disabled { .. }), "{err}");
        let err = get(vec![
            entry(Box::new(Failing(broken)), true),
            ProxyEntry::Off,
        ])
        .unwrap_err();
        assert!(matches!(err, Error::Fetch { .. }), "{err}");
        let err = get(vec![
            entry(Box::new(Failing(broken)), true),
            ProxyEntry::Direct,
        ])
        .unwrap_err();
        assert!(matches!(err, Error::DirectUnsupported { .. }), "{err}");
        // Nothing after off or direct is tried.
        let err = get(vec![ProxyEntry::Direct, entry(good(), false)]).unwrap_err();
        assert!(matches!(err, Error::DirectUnsupported { .. }), "{err}");
        assert!(ProxyList::from_entries(Vec::new()).is_err());
    }

    #[test]
    fn gonoproxy_modules_go_direct() {
        let list = ProxyList::from_entries(vec![entry(good(), false)])
            .unwrap()
            .with_noproxy("example.com/m,other");
        let err = list.go_mod("example.com/m", "v1.0.0").unwrap_err();
        assert!(matches!(err, Error::DirectUnsupported { .. }), "{err}");
        let list = ProxyList::from_entries(vec![entry(good(), false)])
            .unwrap()
            .with_noproxy("*.corp");
        assert!(list.go_mod("example.com/m", "v1.0.0").is_ok());
    }

    #[test]
    fn prefix_patterns_match_as_x_mod_does() {
        assert!(match_prefix_patterns("example.com", "example.com/a/b"));
        assert!(match_prefix_patterns("example.com/", "example.com/a"));
        assert!(match_prefix_patterns("*.example.com", "git.example.com/a"));
        assert!(!match_prefix_patterns("*.example.com", "example.com/a"));
        assert!(match_prefix_patterns(
            "example.com/*/b",
            "example.com/a/b/c"
        ));
        assert!(!match_prefix_patterns("example.com/*/b", "example.com/a"));
        assert!(match_prefix_patterns(
            ",,example.com/[a-c]?",
            "example.com/bz"
        ));
        assert!(!match_prefix_patterns(
            "example.com/[^a-c]",
            "example.com/b"
        ));
        assert!(match_prefix_patterns("ex\\ample.com", "example.com"));
        assert!(!match_prefix_patterns("example.com/[", "example.com/["));
        assert!(!match_prefix_patterns("", "example.com"));
        assert!(match_prefix_patterns("*", "anything/at/all"));
        assert!(match_prefix_patterns(
            "example.com/x*y*z",
            "example.com/xayaz/q"
        ));
        assert!(match_prefix_patterns("ex[^x]mple.com/é?", "example.com/éz"));
        assert!(!match_prefix_patterns("example.com/*[", "example.com/x"));
        // Long runs of stars stay fast (Go's algorithm backtracks over the last star only).
        assert!(!match_prefix_patterns(&"*a".repeat(40), &"a".repeat(39)));
    }

    #[test]
    fn environment_resolution_follows_cmd_go() {
        let dir = tempfile::tempdir().unwrap();
        let goroot = dir.path().join("goroot");
        std::fs::create_dir_all(&goroot).unwrap();
        std::fs::write(
            goroot.join("go.env"),
            "# shipped\nGOPROXY=https://shipped.example\nGOPRIVATE=shipped\n",
        )
        .unwrap();
        let user = dir.path().join("user.env");
        std::fs::write(
            &user,
            "GOPROXY=file:///user\nbad line\nlower=1\nGOMODCACHE=/user/cache\n",
        )
        .unwrap();
        let goroot_s = goroot.to_str().unwrap();
        let user_s = user.to_str().unwrap();

        let env = GoEnv::from_vars(&[("GOROOT", goroot_s), ("GOENV", user_s)]).unwrap();
        assert_eq!(env.goproxy, "file:///user");
        assert_eq!(env.gonoproxy, "shipped");
        assert_eq!(env.gomodcache, Path::new("/user/cache"));

        // The process environment wins; an empty variable counts as unset.
        let env = GoEnv::from_vars(&[
            ("GOROOT", goroot_s),
            ("GOENV", user_s),
            ("GOPROXY", "off"),
            ("GOMODCACHE", ""),
            ("GOPATH", "/gp1:/gp2"),
            ("GONOPROXY", "none"),
        ])
        .unwrap();
        assert_eq!(env.goproxy, "off");
        assert_eq!(env.gonoproxy, "none");
        assert_eq!(env.gomodcache, Path::new("/user/cache"));

        let env = GoEnv::from_vars(&[
            ("GOENV", "off"),
            ("GOPATH", "/gp1:/gp2"),
            ("GOROOT", goroot_s),
        ])
        .unwrap();
        assert_eq!(env.gomodcache, Path::new("/gp1/pkg/mod"));
        assert_eq!(env.goproxy, "https://shipped.example");

        // The default user file location.
        let home = dir.path().join("home");
        std::fs::create_dir_all(home.join(".config/go")).unwrap();
        std::fs::write(home.join(".config/go/env"), "GOPROXY=file:///from/home\n").unwrap();
        let env = GoEnv::from_vars(&[("HOME", home.to_str().unwrap())]).unwrap();
        assert_eq!(env.goproxy, "file:///from/home");
        assert_eq!(env.gomodcache, home.join("go/pkg/mod"));
        let env = GoEnv::from_vars(&[
            ("HOME", home.to_str().unwrap()),
            ("XDG_CONFIG_HOME", "/nonexistent"),
        ])
        .unwrap();
        assert_eq!(env.goproxy, DEFAULT_GOPROXY);

        for (vars, variable) in [
            (&[("GOMODCACHE", "rel/cache")][..], "GOMODCACHE"),
            (&[("GOPATH", "rel")][..], "GOPATH"),
            (&[][..], "GOMODCACHE"),
        ] {
            match GoEnv::from_vars(vars) {
                Err(Error::Config { variable: v, .. }) => assert_eq!(v, variable),
                other => panic!("{vars:?}: {other:?}"),
            }
        }
        assert!(from_vars(&[("GOMODCACHE", "/c"), ("GOPROXY", "ftp://x")]).is_err());
        assert!(from_vars(&[("GOMODCACHE", "/c"), ("GOPROXY", "file:///p")]).is_ok());
    }
}
