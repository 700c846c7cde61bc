//! Registry credentials as Docker and skopeo find them, and `WWW-Authenticate` challenges.
//!
//! Files, in the order containers/image (skopeo, podman) reads them: `$REGISTRY_AUTH_FILE` alone when it
//! is set; otherwise `$XDG_RUNTIME_DIR/containers/auth.json`, `$XDG_CONFIG_HOME/containers/auth.json`
//! (`~/.config/…`), then Docker's `$DOCKER_CONFIG/config.json` (`~/.docker/config.json`). The first file
//! that knows the registry wins. In a file, Docker's order holds: a `credHelpers` entry for the host, else
//! `credsStore`, else the `auths` entry (a helper that has nothing for the host falls through to `auths`).
//! Keys are normalised (`https://` and `/v1/` suffixes dropped, `index.docker.io` is `docker.io`), and a
//! containers-style key `HOST/NAMESPACE` applies to the repositories under it (the longest key wins).

use std::collections::BTreeMap;
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine;
use serde::Deserialize;

use crate::store::Error;

/// Credentials for one registry. `Debug` shows the user name only.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Credentials {
    /// A user name and password (or personal access token).
    Basic {
        /// The user name.
        username: String,
        /// The password; never printed.
        password: String,
    },
    /// An `OAuth2` refresh token (`identitytoken` in config.json, or a helper's `<token>` user).
    IdentityToken(String),
}

impl Credentials {
    /// User name and password.
    pub fn basic(username: impl Into<String>, password: impl Into<String>) -> Self {
        Credentials::Basic {
            username: username.into(),
            password: password.into(),
        }
    }

    /// `Authorization: Basic …` for these credentials, when they are a user and password.
    pub(crate) fn basic_header(&self) -> Option<String> {
        match self {
            Credentials::Basic { username, password } => Some(format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"))
            )),
            Credentials::IdentityToken(_) => None,
        }
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credentials::Basic { username, .. } => f
                .debug_struct("Basic")
                .field("username", username)
                .field("password", &"<redacted>")
                .finish(),
            Credentials::IdentityToken(_) => f.write_str("IdentityToken(<redacted>)"),
        }
    }
}

/// Where a registry store takes its credentials from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum CredentialSource {
    /// The auth files skopeo and Docker read, found from the environment (see the module docs).
    #[default]
    Environment,
    /// These auth files (`auth.json` or `config.json` format), in this order.
    Files(Vec<PathBuf>),
    /// These credentials.
    Explicit(Credentials),
    /// None: anonymous access only.
    Anonymous,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConfigFile {
    #[serde(default)]
    auths: BTreeMap<String, AuthEntry>,
    #[serde(default)]
    creds_store: Option<String>,
    #[serde(default)]
    cred_helpers: BTreeMap<String, String>,
}

#[derive(Default, Deserialize)]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    identitytoken: Option<String>,
}

// Hand-written so that a decoding failure's Debug output never carries a secret.
impl fmt::Debug for AuthEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AuthEntry(<redacted>)")
    }
}

/// The auth files to read for [`CredentialSource::Environment`].
pub(crate) fn environment_files() -> Vec<PathBuf> {
    let var = |name| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(file) = var("REGISTRY_AUTH_FILE") {
        return vec![PathBuf::from(file)];
    }
    let home = var("HOME").map(PathBuf::from);
    let mut files = Vec::new();
    if let Some(run) = var("XDG_RUNTIME_DIR") {
        files.push(Path::new(&run).join("containers/auth.json"));
    }
    match (var("XDG_CONFIG_HOME"), &home) {
        (Some(config), _) => files.push(Path::new(&config).join("containers/auth.json")),
        (None, Some(home)) => files.push(home.join(".config/containers/auth.json")),
        (None, None) => {}
    }
    match (var("DOCKER_CONFIG"), &home) {
        (Some(dir), _) => files.push(Path::new(&dir).join("config.json")),
        (None, Some(home)) => files.push(home.join(".docker/config.json")),
        (None, None) => {}
    }
    files
}

/// A config key reduced to `HOST[/PATH]`: scheme and Docker's `/v1/` suffix dropped, Docker Hub's
/// aliases mapped to `docker.io`.
pub(crate) fn normalize_key(key: &str) -> String {
    let key = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    let key = key.trim_end_matches('/');
    let key = key
        .strip_suffix("/v1")
        .or_else(|| key.strip_suffix("/v2"))
        .unwrap_or(key);
    let (host, rest) = match key.split_once('/') {
        Some((h, r)) => (h, Some(r)),
        None => (key, None),
    };
    let host = match host {
        "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" => "docker.io",
        other => other,
    };
    match rest {
        Some(r) => format!("{host}/{r}"),
        None => host.to_owned(),
    }
}

/// The longest key of `map` that is `registry` or a `/`-bounded prefix of `registry/repository`.
fn best_key<'m, V>(
    map: &'m BTreeMap<String, V>,
    registry: &str,
    repository: &str,
) -> Option<(&'m str, &'m V)> {
    let full = format!("{registry}/{repository}");
    map.iter()
        .filter_map(|(k, v)| {
            let norm = normalize_key(k);
            let applies = norm == registry
                || norm == full
                || (full.starts_with(&norm) && full.as_bytes().get(norm.len()) == Some(&b'/'));
            applies.then_some((norm.len(), k.as_str(), v))
        })
        .max_by_key(|(len, _, _)| *len)
        .map(|(_, k, v)| (k, v))
}

/// Looks up credentials for `registry` (a normalised host such as `docker.io` or `127.0.0.1:5000`).
pub(crate) fn lookup(
    source: &CredentialSource,
    registry: &str,
    repository: &str,
) -> Result<Option<Credentials>, Error> {
    let files = match source {
        CredentialSource::Anonymous => return Ok(None),
        CredentialSource::Explicit(c) => return Ok(Some(c.clone())),
        CredentialSource::Files(files) => files.clone(),
        CredentialSource::Environment => environment_files(),
    };
    for file in files {
        let text = match std::fs::read(&file) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                return Err(Error::Credentials {
                    registry: registry.to_owned(),
                    origin: file.display().to_string(),
                    reason: format!("cannot read it: {e}"),
                });
            }
        };
        let config: ConfigFile = serde_json::from_slice(&text).map_err(|e| Error::Credentials {
            registry: registry.to_owned(),
            origin: file.display().to_string(),
            // serde_json's message names the position only, never the content.
            reason: format!("not a valid auth file: {e}"),
        })?;
        if let Some(found) = from_config(&config, &file, registry, repository)? {
            return Ok(Some(found));
        }
    }
    Ok(None)
}

fn from_config(
    config: &ConfigFile,
    file: &Path,
    registry: &str,
    repository: &str,
) -> Result<Option<Credentials>, Error> {
    let helper = best_key(&config.cred_helpers, registry, repository)
        .map(|(_, name)| name.clone())
        .or_else(|| config.creds_store.clone())
        .filter(|name| !name.is_empty());
    if let Some(name) = helper
        && let Some(found) = run_helper(&name, registry)?
    {
        return Ok(Some(found));
    }
    from_auths(config, file, registry, repository)
}

/// The `auths` entry for the repository, decoded.
fn from_auths(
    config: &ConfigFile,
    file: &Path,
    registry: &str,
    repository: &str,
) -> Result<Option<Credentials>, Error> {
    let Some((key, entry)) = best_key(&config.auths, registry, repository) else {
        return Ok(None);
    };
    let bad = |reason: String| Error::Credentials {
        registry: registry.to_owned(),
        origin: format!("{} (auths entry {key:?})", file.display()),
        reason,
    };
    if let Some(token) = entry.identitytoken.as_deref().filter(|t| !t.is_empty()) {
        return Ok(Some(Credentials::IdentityToken(token.to_owned())));
    }
    if let Some(auth) = entry.auth.as_deref().filter(|a| !a.is_empty()) {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(auth.trim())
            .map_err(|_| bad("`auth` is not base64".to_owned()))?;
        let text = String::from_utf8(decoded).map_err(|_| bad("`auth` is not UTF-8".to_owned()))?;
        let (user, password) = text
            .split_once(':')
            .ok_or_else(|| bad("`auth` does not decode to USER:PASSWORD".to_owned()))?;
        return Ok(Some(Credentials::basic(user, password)));
    }
    match (&entry.username, &entry.password) {
        (Some(u), Some(p)) if !u.is_empty() => Ok(Some(Credentials::basic(u, p))),
        _ => Ok(None),
    }
}

/// The server name a credential helper is asked about: Docker Hub under its historic URL, others by host.
fn helper_server(registry: &str) -> &str {
    if registry == crate::reference::DOCKER_HUB {
        "https://index.docker.io/v1/"
    } else {
        registry
    }
}

/// Runs `docker-credential-NAME get` with the server on stdin. `Ok(None)` when the helper has nothing for
/// it (Docker's helpers say "credentials not found" and exit 1).
fn run_helper(name: &str, registry: &str) -> Result<Option<Credentials>, Error> {
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct HelperAnswer {
        #[serde(default)]
        username: String,
        #[serde(default)]
        secret: String,
    }
    let program = format!("docker-credential-{name}");
    let bad = |reason: String| Error::Credentials {
        registry: registry.to_owned(),
        origin: program.clone(),
        reason,
    };
    let mut child = Command::new(&program)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| bad(format!("cannot run it: {e}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A helper that exits without reading its input closes the pipe; its exit status tells.
        let _ = stdin.write_all(helper_server(registry).as_bytes());
    }
    let out = child
        .wait_with_output()
        .map_err(|e| bad(format!("waiting for it: {e}")))?;
    if !out.status.success() {
        let said = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        if said.to_ascii_lowercase().contains("credentials not found") {
            return Ok(None);
        }
        // Only the first line: a helper's diagnostics are short, and nothing secret is on a failed `get`.
        let first = said.lines().next().unwrap_or("").trim().to_owned();
        return Err(bad(format!("it failed ({}): {first}", out.status)));
    }
    let answer: HelperAnswer = serde_json::from_slice(&out.stdout)
        .map_err(|e| bad(format!("its answer is not the expected JSON: {e}")))?;
    if answer.username == "<token>" {
        return Ok(Some(Credentials::IdentityToken(answer.secret)));
    }
    if answer.username.is_empty() && answer.secret.is_empty() {
        return Ok(None);
    }
    Ok(Some(Credentials::basic(answer.username, answer.secret)))
}

/// Feeds `data` to the `WWW-Authenticate` parser and to the auth-file parser with its `auths` lookup
/// (credential helpers are never run). For the `oci_auth` fuzz target; not part of the API.
#[doc(hidden)]
pub fn fuzz_parsers(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data)
        && let Some(challenge) = parse_challenge(text)
    {
        // The parser's contract: a lowercased scheme and lowercased keys.
        assert_eq!(challenge.scheme, challenge.scheme.to_ascii_lowercase());
        assert!(
            challenge
                .params
                .keys()
                .all(|k| *k == k.to_ascii_lowercase())
        );
    }
    if let Ok(config) = serde_json::from_slice::<ConfigFile>(data) {
        for key in config.auths.keys().chain(config.cred_helpers.keys()) {
            let _ = normalize_key(key);
        }
        for (registry, repository) in [("docker.io", "library/alpine"), ("127.0.0.1:5000", "a/b")] {
            let _ = from_auths(&config, Path::new("fuzz.json"), registry, repository);
        }
    }
}

/// One `WWW-Authenticate` challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Challenge {
    /// `basic` or `bearer` (lowercased).
    pub scheme: String,
    /// Parameters, keys lowercased.
    pub params: BTreeMap<String, String>,
}

/// Parses `Scheme k="v", k2=v2` (RFC 7235 auth-params; quoted strings with `\` escapes).
pub(crate) fn parse_challenge(header: &str) -> Option<Challenge> {
    let header = header.trim();
    let (scheme, rest) = match header.split_once(char::is_whitespace) {
        Some((s, r)) => (s, r),
        None => (header, ""),
    };
    if scheme.is_empty() {
        return None;
    }
    let mut params = BTreeMap::new();
    let mut chars = rest.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace() || *c == ',') {
            chars.next();
        }
        let key: String = chars
            .by_ref()
            .take_while(|c| *c != '=')
            .collect::<String>()
            .trim()
            .to_ascii_lowercase();
        if key.is_empty() {
            break;
        }
        let mut raw = String::new();
        let value = if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => {
                        if let Some(escaped) = chars.next() {
                            raw.push(escaped);
                        }
                    }
                    '"' => break,
                    c => raw.push(c),
                }
            }
            raw
        } else {
            while let Some(c) = chars.peek() {
                if *c == ',' {
                    break;
                }
                raw.push(*c);
                chars.next();
            }
            raw.trim().to_owned()
        };
        params.insert(key, value);
    }
    Some(Challenge {
        scheme: scheme.to_ascii_lowercase(),
        params,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn keys_normalise_like_docker() {
        assert_eq!(normalize_key("https://index.docker.io/v1/"), "docker.io");
        assert_eq!(normalize_key("registry-1.docker.io"), "docker.io");
        assert_eq!(normalize_key("http://127.0.0.1:5000/"), "127.0.0.1:5000");
        assert_eq!(normalize_key("quay.io/team"), "quay.io/team");
    }

    #[test]
    fn auths_entries_in_every_form() {
        let dir = tempfile::tempdir().unwrap();
        let file = write(
            dir.path(),
            "config.json",
            r#"{"auths":{
                "https://index.docker.io/v1/":{"auth":"aHViOnNlY3JldA=="},
                "127.0.0.1:5000":{"username":"u","password":"p:w"},
                "quay.io":{"auth":"cXVheTpvbmU="},
                "quay.io/team":{"auth":"dGVhbTp0d28="},
                "token.example":{"identitytoken":"refresh"}
            }}"#,
        );
        let source = CredentialSource::Files(vec![file]);
        let get = |reg: &str, repo: &str| lookup(&source, reg, repo).unwrap();
        assert_eq!(
            get("docker.io", "library/alpine"),
            Some(Credentials::basic("hub", "secret"))
        );
        assert_eq!(
            get("127.0.0.1:5000", "x"),
            Some(Credentials::basic("u", "p:w"))
        );
        assert_eq!(
            get("quay.io", "team/app"),
            Some(Credentials::basic("team", "two"))
        );
        assert_eq!(
            get("quay.io", "teams/app"),
            Some(Credentials::basic("quay", "one"))
        );
        assert_eq!(
            get("token.example", "a"),
            Some(Credentials::IdentityToken("refresh".into()))
        );
        assert_eq!(get("other.example", "a"), None);
    }

    #[test]
    fn first_file_that_knows_the_host_wins_and_bad_files_say_where() {
        let dir = tempfile::tempdir().unwrap();
        let a = write(
            dir.path(),
            "a.json",
            r#"{"auths":{"one.example":{"auth":"YTpi"}}}"#,
        );
        let b = write(
            dir.path(),
            "b.json",
            r#"{"auths":{"two.example":{"auth":"YzpkZQ=="}}}"#,
        );
        let source = CredentialSource::Files(vec![dir.path().join("missing.json"), a, b]);
        assert_eq!(
            lookup(&source, "two.example", "r").unwrap(),
            Some(Credentials::basic("c", "de"))
        );
        let broken = write(
            dir.path(),
            "broken.json",
            r#"{"auths":{"x":{"auth":"!!"}}}"#,
        );
        let err = lookup(&CredentialSource::Files(vec![broken]), "x", "r").unwrap_err();
        assert!(err.to_string().contains("`auth` is not base64"), "{err}");
    }

    #[test]
    fn debug_never_shows_secrets() {
        let c = Credentials::basic("alice", "hunter2");
        let t = Credentials::IdentityToken("tok-secret".into());
        let text = format!("{c:?} {t:?} {:?}", CredentialSource::Explicit(c.clone()));
        assert!(
            !text.contains("hunter2") && !text.contains("tok-secret"),
            "{text}"
        );
        assert!(text.contains("alice"));
    }

    #[test]
    fn challenges_parse() {
        let c = parse_challenge(
            r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push""#,
        )
        .unwrap();
        assert_eq!(c.scheme, "bearer");
        assert_eq!(c.params["realm"], "https://auth.example/token");
        assert_eq!(c.params["scope"], "repository:a/b:pull,push");
        let b = parse_challenge(r#"Basic realm="Registry Realm""#).unwrap();
        assert_eq!(b.scheme, "basic");
        assert_eq!(b.params["realm"], "Registry Realm");
        let odd = parse_challenge(r#"Bearer realm=plain , error="a\"b""#).unwrap();
        assert_eq!(odd.params["realm"], "plain");
        assert_eq!(odd.params["error"], "a\"b");
    }
}
