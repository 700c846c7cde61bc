//! Where module versions come from: the GOPROXY protocol (HTTP(S) and `file://`), the module cache, memory.
//!
//! A [`ModuleSource`] answers the four questions minimal version selection and downloads ask of a proxy
//! (`$base/$module/@v/list`, `@v/$version.info`, `@v/$version.mod`, `@v/$version.zip`). Module paths and
//! versions are passed unescaped; each implementation applies the `!` case escaping its storage needs.
//!
//! A source says [`Error::NotFound`] only when the module or version does not exist there (HTTP 404/410, a
//! missing file): that is the one error a `,`-separated GOPROXY list falls through on, while `|` falls
//! through on any error, as cmd/go does.

use std::fmt;

mod cache;
mod dir;
mod env;
#[cfg(feature = "http")]
mod http;
mod memory;
mod pack;
mod prefetch;

pub use cache::{CachedSource, Download, ModCache};
pub use dir::ProxyDir;
pub use env::{
    DEFAULT_GOPROXY, GoEnv, ProxyEntry, ProxyList, from_env, from_vars, match_prefix_patterns,
};
#[cfg(feature = "http")]
pub use http::{HttpOptions, HttpProxy};
pub use memory::MemorySource;
pub use prefetch::fetch_go_mods;

/// Go's `url.PathEscape` with `/` kept: unreserved characters and `$&+:=@` stay, everything else
/// (including `!`) becomes `%XX`. cmd/go builds proxy URLs this way, for `file://` as for HTTP(S), so
/// its messages show `%21` where the proxy directory holds `!`.
pub(crate) fn path_escape(s: &str) -> String {
    use fmt::Write as _;
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~$&+:=@/".contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// Result of module source operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What a source knows about one version (`@v/$version.info`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Info {
    /// The canonical version, e.g. `v1.2.3`.
    #[serde(rename = "Version")]
    pub version: String,
    /// The commit time in RFC 3339 form, as the proxy serves it (may be empty).
    #[serde(rename = "Time", default, skip_serializing_if = "String::is_empty")]
    pub time: String,
}

/// A store of module versions: a proxy, the module cache, memory.
///
/// Implementations are shared between the threads that fetch in parallel, hence `Send + Sync`.
pub trait ModuleSource: Send + Sync {
    /// The versions listed for `path` (`@v/list`), in the order served; pseudo-versions are usually absent.
    ///
    /// # Errors
    /// [`Error::NotFound`] when the source does not know the module; other variants when it cannot answer.
    fn list(&self, path: &str) -> Result<Vec<String>>;

    /// The `.info` document of one version.
    ///
    /// # Errors
    /// [`Error::NotFound`] when the version does not exist in this source.
    fn info(&self, path: &str, version: &str) -> Result<Info>;

    /// The go.mod file of one version, byte for byte as served.
    ///
    /// # Errors
    /// [`Error::NotFound`] when the version does not exist in this source.
    fn go_mod(&self, path: &str, version: &str) -> Result<Vec<u8>>;

    /// The module zip of one version.
    ///
    /// # Errors
    /// [`Error::NotFound`] when the version does not exist in this source.
    fn zip(&self, path: &str, version: &str) -> Result<Vec<u8>>;

    /// A short name for messages, e.g. the proxy URL or cache directory.
    fn describe(&self) -> String;

    /// The `@latest` document: what a `latest` (or `upgrade`) query in a main go.mod resolves to when
    /// `@v/list` has no version for it (cmd/go's `Repo.Latest`).
    ///
    /// # Errors
    /// [`Error::NotFound`] when the source has no such answer, which is what the default says.
    fn latest(&self, path: &str) -> Result<Info> {
        Err(Error::NotFound {
            module: path.to_owned(),
            version: String::new(),
            what: Artifact::Latest,
            source_name: self.describe(),
        })
    }

    /// Whether every answer comes from local files or memory, never the network. Loaders then run no
    /// more fetches at once than there are cores (waiting on I/O is not what limits them); the default,
    /// `false`, is right for anything that may go remote.
    fn is_local(&self) -> bool {
        false
    }
}

impl<S: ModuleSource + ?Sized> ModuleSource for &S {
    fn list(&self, path: &str) -> Result<Vec<String>> {
        (**self).list(path)
    }
    fn info(&self, path: &str, version: &str) -> Result<Info> {
        (**self).info(path, version)
    }
    fn go_mod(&self, path: &str, version: &str) -> Result<Vec<u8>> {
        (**self).go_mod(path, version)
    }
    fn zip(&self, path: &str, version: &str) -> Result<Vec<u8>> {
        (**self).zip(path, version)
    }
    fn describe(&self) -> String {
        (**self).describe()
    }
    fn latest(&self, path: &str) -> Result<Info> {
        (**self).latest(path)
    }
    fn is_local(&self) -> bool {
        (**self).is_local()
    }
}

impl<S: ModuleSource + ?Sized> ModuleSource for Box<S> {
    fn list(&self, path: &str) -> Result<Vec<String>> {
        (**self).list(path)
    }
    fn info(&self, path: &str, version: &str) -> Result<Info> {
        (**self).info(path, version)
    }
    fn go_mod(&self, path: &str, version: &str) -> Result<Vec<u8>> {
        (**self).go_mod(path, version)
    }
    fn zip(&self, path: &str, version: &str) -> Result<Vec<u8>> {
        (**self).zip(path, version)
    }
    fn describe(&self) -> String {
        (**self).describe()
    }
    fn latest(&self, path: &str) -> Result<Info> {
        (**self).latest(path)
    }
    fn is_local(&self) -> bool {
        (**self).is_local()
    }
}

/// Which file of a module version a request was for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Artifact {
    /// `@v/list`.
    List,
    /// `@v/$version.info`.
    Info,
    /// `@v/$version.mod`.
    GoMod,
    /// `@v/$version.zip`.
    Zip,
    /// `@latest`: the version a `latest` query falls back to.
    Latest,
}

impl fmt::Display for Artifact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Artifact::List => "list",
            Artifact::Info => "info",
            Artifact::GoMod => "go.mod",
            Artifact::Zip => "zip",
            Artifact::Latest => "latest",
        })
    }
}

/// Module source errors. Messages name the module, the version and the source.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The module or version does not exist in this source (HTTP 404/410, missing file).
    #[error("{module}{}: {what} not found in {source_name}", at(version))]
    NotFound {
        /// The module path.
        module: String,
        /// The version, empty for a list request.
        version: String,
        /// What was asked for.
        what: Artifact,
        /// The source that was asked.
        source_name: String,
    },
    /// `GOPROXY=off`: downloads are disabled.
    #[error("{module}{}: module lookup disabled by GOPROXY=off", at(version))]
    Disabled {
        /// The module path.
        module: String,
        /// The version, empty for a list request.
        version: String,
    },
    /// `direct` in GOPROXY: fetching from version control is not something slipway does.
    #[error(
        "{module}{}: GOPROXY entry \"direct\" (fetching from version control) is not supported by slipway; \
         use a module proxy or a populated module cache",
        at(version)
    )]
    DirectUnsupported {
        /// The module path.
        module: String,
        /// The version, empty for a list request.
        version: String,
    },
    /// A GOPROXY setting that cannot be read.
    #[error("invalid GOPROXY {value:?}: {reason}")]
    InvalidProxyList {
        /// The whole GOPROXY value.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A Go environment setting that cannot be used (a relative `GOMODCACHE`, no module cache at all).
    #[error("{variable}={value:?}: {reason}")]
    Config {
        /// The variable, e.g. `GOMODCACHE`.
        variable: String,
        /// Its value.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The source answered, but with an error (HTTP status, I/O failure, malformed document).
    #[error("{module}{}: reading {location}: {message}", at(version))]
    Fetch {
        /// The module path.
        module: String,
        /// The version, empty for a list request.
        version: String,
        /// The URL or file that was read.
        location: String,
        /// What went wrong.
        message: String,
    },
}

impl Error {
    /// Whether a `,`-separated GOPROXY list should try the next proxy (the module or version is not there).
    #[must_use]
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::NotFound { .. })
    }
}

fn at(version: &str) -> String {
    if version.is_empty() {
        String::new()
    } else {
        format!("@{version}")
    }
}

/// `url` without its `user:password@` part, for messages (credentials never reach errors or `Debug`).
pub(crate) fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..end].rsplit_once('@') {
        Some((_, host)) => format!("{scheme}://{host}{}", &rest[end..]),
        None => url.to_owned(),
    }
}

/// The versions in an `@v/list` document: as cmd/go reads it, the first field of each non-blank line (later
/// fields, such as timestamps, are informational).
pub(crate) fn parse_list(data: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(data)
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

/// Reads a whole file of the small kind sources hold (`.mod`, `.info`, `list`). Unlike `fs::read` (and
/// `File::read_to_end`) it does not ask for the file's size and position first: a go.mod world is
/// thousands of such reads, and those two extra system calls per file were a tenth of their time.
pub(crate) fn read_file(path: &std::path::Path) -> std::io::Result<Vec<u8>> {
    use std::io::{ErrorKind, Read};
    let mut file = std::fs::File::open(path)?;
    let mut data = vec![0; 4096];
    let mut len = 0;
    loop {
        if len == data.len() {
            data.resize(len * 2, 0);
        }
        match file.read(&mut data[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    data.truncate(len);
    Ok(data)
}
