//! A `file://` GOPROXY: a directory laid out as the proxy protocol (`$dir/$escaped_path/@v/list`,
//! `$version.info`, `$version.mod`, `$version.zip`).

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use super::{Artifact, Error, Info, ModuleSource, Result};
use crate::module;

/// A module proxy served from a local directory, as `GOPROXY=file:///dir` reads it.
///
/// Paths and versions are `!`-escaped on the way to the file system, as cmd/go does. A missing file is
/// [`Error::NotFound`]; any other failure (unreadable file, malformed `.info`) is [`Error::Fetch`].
///
/// ```
/// use slipway_gomod::source::{ModuleSource, ProxyDir};
///
/// let dir = tempfile::tempdir()?;
/// std::fs::create_dir_all(dir.path().join("example.com/!m/@v"))?;
/// std::fs::write(dir.path().join("example.com/!m/@v/list"), "v1.0.0\n")?;
/// std::fs::write(dir.path().join("example.com/!m/@v/v1.0.0.mod"), "module example.com/M\n")?;
/// let proxy = ProxyDir::new(dir.path());
/// assert_eq!(proxy.list("example.com/M")?, ["v1.0.0"]);
/// assert_eq!(proxy.go_mod("example.com/M", "v1.0.0")?, b"module example.com/M\n");
/// assert!(proxy.go_mod("example.com/M", "v2.0.0").unwrap_err().is_not_found());
/// Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct ProxyDir {
    root: PathBuf,
}

impl ProxyDir {
    /// A proxy rooted at `root` (the directory a `file://` GOPROXY URL names).
    pub fn new(root: impl Into<PathBuf>) -> ProxyDir {
        ProxyDir { root: root.into() }
    }

    /// A proxy from a `file://` URL as it appears in GOPROXY (`file:///srv/proxy`); `None` for other schemes.
    pub fn from_url(url: &str) -> Option<ProxyDir> {
        let path = url.strip_prefix("file://")?;
        // cmd/go accepts only absolute file URLs; a trailing slash is harmless.
        if !path.starts_with('/') {
            return None;
        }
        Some(ProxyDir::new(path.trim_end_matches('/').to_owned()))
    }

    /// The directory this proxy reads.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The file that holds `artifact` of `path@version`.
    fn file(&self, path: &str, version: &str, what: Artifact) -> Result<PathBuf> {
        let fail = |message: String| Error::Fetch {
            module: path.to_owned(),
            version: version.to_owned(),
            location: self.describe(),
            message,
        };
        let escaped = module::escape_path(path).map_err(|e| fail(e.to_string()))?;
        let dir = self.root.join(escaped).join("@v");
        if matches!(what, Artifact::List) {
            return Ok(dir.join("list"));
        }
        if matches!(what, Artifact::Latest) {
            return Ok(dir.with_file_name("@latest"));
        }
        let version_file = module::escape_version(version).map_err(|e| fail(e.to_string()))?;
        let ext = match what {
            Artifact::Info => "info",
            Artifact::Zip => "zip",
            // `List` returned above; the enum is non-exhaustive only for other crates.
            _ => "mod",
        };
        Ok(dir.join(format!("{version_file}.{ext}")))
    }

    fn read(&self, path: &str, version: &str, what: Artifact) -> Result<Vec<u8>> {
        let file = self.file(path, version, what)?;
        super::read_file(&file).map_err(|e| {
            if e.kind() == ErrorKind::NotFound {
                Error::NotFound {
                    module: path.to_owned(),
                    version: version.to_owned(),
                    what,
                    source_name: self.describe(),
                }
            } else {
                Error::Fetch {
                    module: path.to_owned(),
                    version: version.to_owned(),
                    location: format!("file://{}", file.display()),
                    message: e.to_string(),
                }
            }
        })
    }
}

impl ModuleSource for ProxyDir {
    fn list(&self, path: &str) -> Result<Vec<String>> {
        Ok(super::parse_list(&self.read(path, "", Artifact::List)?))
    }

    fn info(&self, path: &str, version: &str) -> Result<Info> {
        let data = self.read(path, version, Artifact::Info)?;
        serde_json::from_slice(&data).map_err(|e| Error::Fetch {
            module: path.to_owned(),
            version: version.to_owned(),
            location: self.describe(),
            message: format!("invalid .info document: {e}"),
        })
    }

    fn go_mod(&self, path: &str, version: &str) -> Result<Vec<u8>> {
        self.read(path, version, Artifact::GoMod)
    }

    fn zip(&self, path: &str, version: &str) -> Result<Vec<u8>> {
        self.read(path, version, Artifact::Zip)
    }

    fn describe(&self) -> String {
        format!("file://{}", self.root.display())
    }

    fn latest(&self, path: &str) -> Result<Info> {
        let data = self.read(path, "", Artifact::Latest)?;
        serde_json::from_slice(&data).map_err(|e| Error::Fetch {
            module: path.to_owned(),
            version: String::new(),
            location: self.describe(),
            message: format!("invalid @latest document: {e}"),
        })
    }

    fn is_local(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_escaped_layout_and_reports_missing_files_as_not_found() {
        let dir = tempfile::tempdir().unwrap();
        let v = dir.path().join("github.com/!azure/x/@v");
        std::fs::create_dir_all(&v).unwrap();
        std::fs::write(v.join("list"), "v1.0.0\n\nv1.1.0 extra\n").unwrap();
        std::fs::write(
            v.join("v1.0.0-!r!c1.info"),
            r#"{"Version":"v1.0.0-RC1","Time":"2023-01-02T03:04:05Z"}"#,
        )
        .unwrap();
        std::fs::write(v.join("v1.0.0.zip"), b"PK").unwrap();
        let p = ProxyDir::new(dir.path());
        assert_eq!(p.list("github.com/Azure/x").unwrap(), ["v1.0.0", "v1.1.0"]);
        let info = p.info("github.com/Azure/x", "v1.0.0-RC1").unwrap();
        assert_eq!(info.version, "v1.0.0-RC1");
        assert_eq!(info.time, "2023-01-02T03:04:05Z");
        assert_eq!(p.zip("github.com/Azure/x", "v1.0.0").unwrap(), b"PK");
        let err = p.go_mod("github.com/Azure/x", "v1.0.0").unwrap_err();
        assert!(err.is_not_found(), "{err}");
        assert!(p.list("example.com/none").unwrap_err().is_not_found());
        // A path that cannot be escaped is not something a proxy can hold.
        assert!(!p.list("-bad").unwrap_err().is_not_found());
    }

    #[test]
    fn latest_is_read_next_to_the_version_directory() {
        let dir = tempfile::tempdir().unwrap();
        let m = dir.path().join("example.com/!m");
        std::fs::create_dir_all(m.join("@v")).unwrap();
        std::fs::write(
            m.join("@latest"),
            r#"{"Version":"v0.0.0-20230101000000-abcdefabcdef","Time":"2023-01-01T00:00:00Z"}"#,
        )
        .unwrap();
        let p = ProxyDir::new(dir.path());
        let info = p.latest("example.com/M").unwrap();
        assert_eq!(info.version, "v0.0.0-20230101000000-abcdefabcdef");
        assert!(p.latest("example.com/none").unwrap_err().is_not_found());
        std::fs::write(m.join("@latest"), "{").unwrap();
        assert!(matches!(
            p.latest("example.com/M").unwrap_err(),
            Error::Fetch { .. }
        ));
    }

    #[test]
    fn malformed_info_is_a_fetch_error() {
        let dir = tempfile::tempdir().unwrap();
        let v = dir.path().join("example.com/m/@v");
        std::fs::create_dir_all(&v).unwrap();
        std::fs::write(v.join("v1.0.0.info"), "not json").unwrap();
        let err = ProxyDir::new(dir.path())
            .info("example.com/m", "v1.0.0")
            .unwrap_err();
        assert!(matches!(err, Error::Fetch { .. }), "{err}");
    }

    #[test]
    fn file_urls() {
        assert_eq!(
            ProxyDir::from_url("file:///srv/p/").unwrap().root(),
            Path::new("/srv/p")
        );
        assert!(ProxyDir::from_url("https://proxy.golang.org").is_none());
        assert!(ProxyDir::from_url("file://relative").is_none());
    }
}
