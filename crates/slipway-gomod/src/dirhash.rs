//! `h1:` hashes (`golang.org/x/mod/sumdb/dirhash` Hash1), the hashes go.sum records.
//!
//! Hash1 of a file tree: sort the file names; for each file write `hex(sha256(content))`, two spaces, the
//! name and a newline into a summary; the hash is `h1:` + base64(sha256(summary)). A module zip's names
//! are `module@version/…`; a go.mod hash is Hash1 of a single file named `go.mod`.
//!
//! ```
//! use slipway_gomod::dirhash;
//!
//! // The go.mod hash go.sum records as `example.com/m v1.0.0/go.mod h1:…`.
//! let h = dirhash::hash_go_mod(b"module example.com/m\n");
//! assert!(h.starts_with("h1:") && h.len() == 47);
//!
//! let mut tree = dirhash::Hash1::new();
//! tree.add("example.com/m@v1.0.0/go.mod", b"module example.com/m\n")?;
//! tree.add("example.com/m@v1.0.0/m.go", b"package m\n")?;
//! assert!(tree.finish().starts_with("h1:"));
//! Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt::Write as _;
use std::fs;
use std::io::{Read, Seek};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use sha2::{Digest, Sha256};

use crate::module;

/// Result of the hashing functions.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Errors while hashing a file tree.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file name contains a newline, which would make the summary ambiguous (Go refuses it too).
    #[error("dirhash: filenames with newlines are not supported")]
    NewlineInName {
        /// The offending name.
        name: String,
    },
    /// Reading a file or directory failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A zip archive could not be read.
    #[error("{}: invalid zip archive: {message}", path.display())]
    Zip {
        /// The archive (or `<memory>`).
        path: PathBuf,
        /// What the zip reader reported.
        message: String,
    },
    /// The path given as a directory is not one.
    #[error("{} is not a directory", path.display())]
    NotADirectory {
        /// The path.
        path: PathBuf,
    },
    /// A file in a module directory has a name a module zip cannot hold.
    #[error("{}: {error}", path.display())]
    InvalidModuleFile {
        /// The file.
        path: PathBuf,
        /// Why its name is not allowed.
        error: module::Error,
    },
}

/// Incremental Hash1: add files in any order, then [`finish`](Hash1::finish).
#[derive(Debug, Clone, Default)]
pub struct Hash1 {
    entries: Vec<(String, [u8; 32])>,
}

impl Hash1 {
    /// An empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a file with its content.
    pub fn add(&mut self, name: &str, content: &[u8]) -> Result<()> {
        check_name(name)?;
        self.entries
            .push((name.to_owned(), Sha256::digest(content).into()));
        Ok(())
    }

    /// Adds a file whose content is read from `reader`; `path` names the source in errors.
    pub fn add_reader(&mut self, name: &str, mut reader: impl Read, path: &Path) -> Result<()> {
        check_name(name)?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = reader.read(&mut buf).map_err(|source| Error::Io {
                path: path.to_owned(),
                source,
            })?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
        self.entries
            .push((name.to_owned(), hasher.finalize().into()));
        Ok(())
    }

    /// The `h1:` hash of the files added so far.
    pub fn finish(mut self) -> String {
        // Go sorts names as byte strings; duplicates stay (each contributes a line).
        self.entries
            .sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        let mut summary = String::new();
        for (name, digest) in &self.entries {
            for byte in digest {
                let _ = write!(summary, "{byte:02x}");
            }
            summary.push_str("  ");
            summary.push_str(name);
            summary.push('\n');
        }
        let digest = Sha256::digest(summary.as_bytes());
        format!(
            "h1:{}",
            base64::engine::general_purpose::STANDARD.encode(digest)
        )
    }
}

fn check_name(name: &str) -> Result<()> {
    if name.contains('\n') {
        return Err(Error::NewlineInName {
            name: name.to_owned(),
        });
    }
    Ok(())
}

/// The `h1:` hash of a go.mod file's content, as go.sum records it under `version/go.mod`.
pub fn hash_go_mod(content: &[u8]) -> String {
    let mut tree = Hash1::new();
    tree.entries
        .push(("go.mod".to_owned(), Sha256::digest(content).into()));
    tree.finish()
}

/// The `h1:` hash of a module zip file (`dirhash.HashZip`): every entry, by its name in the archive.
pub fn hash_zip_file(path: &Path) -> Result<String> {
    let file = fs::File::open(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })?;
    hash_zip_reader(std::io::BufReader::new(file), path)
}

/// The `h1:` hash of a module zip held in memory.
pub fn hash_zip(data: &[u8]) -> Result<String> {
    hash_zip_reader(std::io::Cursor::new(data), Path::new("<memory>"))
}

fn hash_zip_reader(reader: impl Read + Seek, path: &Path) -> Result<String> {
    let zip_error = |e: zip::result::ZipError| Error::Zip {
        path: path.to_owned(),
        message: e.to_string(),
    };
    let mut archive = zip::ZipArchive::new(reader).map_err(zip_error)?;
    let mut tree = Hash1::new();
    for index in 0..archive.len() {
        let entry = archive.by_index(index).map_err(zip_error)?;
        // Go uses the raw name bytes; module zips are UTF-8 by construction.
        let name = String::from_utf8_lossy(entry.name_raw()).into_owned();
        let entry_path = path.join(&name);
        tree.add_reader(&name, entry, &entry_path)?;
    }
    Ok(tree.finish())
}

/// The `h1:` hash of every file under `dir`, named `prefix/relative/path` (`dirhash.HashDir`). Nothing is
/// left out; to hash a module's source tree the way its zip would be hashed use [`hash_module_dir`].
pub fn hash_dir(dir: &Path, prefix: &str) -> Result<String> {
    let mut files = Vec::new();
    walk(dir, "", &mut |rel, kind| {
        // Go's Walk sees a symbolic link as a file and hashes what it points to.
        if kind != EntryKind::Dir {
            files.push(rel.to_owned());
        }
        Ok(Walk::Continue)
    })?;
    hash_listed(dir, prefix, &files)
}

/// The files a module zip built from `dir` would hold (x/mod/zip's rules), as slash-separated relative
/// paths: version-control directories, nested modules (directories with their own go.mod), vendored
/// packages, `.hg_archival.txt`, symbolic links and other irregular files are left out.
pub fn module_files(dir: &Path) -> Result<Vec<String>> {
    let go_version = fs::read(dir.join("go.mod"))
        .ok()
        .and_then(|data| go_line_version(&String::from_utf8_lossy(&data)));
    // Go 1.24 changed which vendor paths count as vendored (and dropped vendor/modules.txt).
    let go124 = go_version.is_some_and(|v| at_least_go_1_24(&v));
    let mut files = Vec::new();
    walk(dir, "", &mut |rel, kind| {
        if is_vendored_package(rel, go124) {
            return Ok(if kind == EntryKind::Dir {
                Walk::Continue
            } else {
                Walk::Skip
            });
        }
        match kind {
            EntryKind::Dir => {
                let base = rel.rsplit('/').next().unwrap_or(rel);
                if matches!(base, ".bzr" | ".git" | ".hg" | ".svn") {
                    return Ok(Walk::Skip);
                }
                // Any go.mod entry that is not a directory (even a symbolic link) marks a nested module.
                let nested = dir.join(rel).join("go.mod");
                if fs::symlink_metadata(nested).is_ok_and(|m| !m.is_dir()) {
                    return Ok(Walk::Skip);
                }
            }
            EntryKind::File => {
                if rel != ".hg_archival.txt" {
                    module::check_file_path(rel).map_err(|error| Error::InvalidModuleFile {
                        path: dir.join(rel),
                        error,
                    })?;
                    files.push(rel.to_owned());
                }
            }
            EntryKind::Other => {}
        }
        Ok(Walk::Continue)
    })?;
    Ok(files)
}

/// The `h1:` hash of a module's source tree as `go mod download` would record it for `module@version`:
/// the files of [`module_files`] named `module@version/…`.
pub fn hash_module_dir(dir: &Path, module: &str, version: &str) -> Result<String> {
    let files = module_files(dir)?;
    hash_listed(dir, &format!("{module}@{version}"), &files)
}

fn hash_listed(dir: &Path, prefix: &str, files: &[String]) -> Result<String> {
    let mut tree = Hash1::new();
    for rel in files {
        let path = dir.join(rel);
        let file = fs::File::open(&path).map_err(|source| Error::Io {
            path: path.clone(),
            source,
        })?;
        let name = if prefix.is_empty() {
            rel.clone()
        } else {
            format!("{prefix}/{rel}")
        };
        tree.add_reader(&name, file, &path)?;
    }
    Ok(tree.finish())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EntryKind {
    Dir,
    File,
    Other,
}

enum Walk {
    Continue,
    Skip,
}

// Walks `dir` depth first without following symbolic links, calling `visit` with slash-separated relative
// paths. Symbolic links and other irregular entries are `Other`.
fn walk(
    root: &Path,
    rel: &str,
    visit: &mut dyn FnMut(&str, EntryKind) -> Result<Walk>,
) -> Result<()> {
    let dir = if rel.is_empty() {
        root.to_owned()
    } else {
        root.join(rel)
    };
    let io = |source, path: &Path| Error::Io {
        path: path.to_owned(),
        source,
    };
    if rel.is_empty() && !fs::metadata(&dir).map_err(|e| io(e, &dir))?.is_dir() {
        return Err(Error::NotADirectory { path: dir });
    }
    let mut names = Vec::new();
    for entry in fs::read_dir(&dir).map_err(|e| io(e, &dir))? {
        let entry = entry.map_err(|e| io(e, &dir))?;
        let file_type = entry.file_type().map_err(|e| io(e, &entry.path()))?;
        names.push((entry.file_name().to_string_lossy().into_owned(), file_type));
    }
    names.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, file_type) in names {
        let child = if rel.is_empty() {
            name
        } else {
            format!("{rel}/{name}")
        };
        let kind = if file_type.is_dir() {
            EntryKind::Dir
        } else if file_type.is_file() {
            EntryKind::File
        } else {
            EntryKind::Other
        };
        if matches!(visit(&child, kind)?, Walk::Continue) && kind == EntryKind::Dir {
            walk(root, &child, visit)?;
        }
    }
    Ok(())
}

// x/mod/zip's isVendoredPackage.
fn is_vendored_package(name: &str, go124: bool) -> bool {
    if go124 && name == "vendor/modules.txt" {
        return true;
    }
    let start = if let Some(rest) = name.strip_prefix("vendor/") {
        name.len() - rest.len()
    } else if let Some(j) = name.find("/vendor/") {
        // Before Go 1.24 the offset ignored where "/vendor/" was found (golang.org/issue/37397); the
        // checksums of old modules depend on that.
        if go124 {
            j + "/vendor/".len()
        } else {
            "/vendor/".len()
        }
    } else {
        return false;
    };
    name.get(start..).is_some_and(|rest| rest.contains('/'))
}

// The version on a go.mod's `go` line, found by a line scan: module zips only need it to choose between the
// pre- and post-1.24 vendor rules, and a go.mod with a syntax error (which x/mod reads as "no version")
// virtually never reaches this point.
fn go_line_version(go_mod: &str) -> Option<String> {
    go_mod.lines().find_map(|line| {
        let line = line.split("//").next().unwrap_or("").trim();
        let mut fields = line.split_whitespace();
        (fields.next() == Some("go"))
            .then(|| fields.next())
            .flatten()
            .filter(|_| fields.next().is_none())
            .map(str::to_owned)
    })
}

fn at_least_go_1_24(v: &str) -> bool {
    let mut parts = v.split('.');
    let major = parts.next().and_then(|p| p.parse::<u32>().ok());
    let minor = parts.next().map(|p| {
        p.trim_end_matches(|c: char| !c.is_ascii_digit())
            .chars()
            .take_while(char::is_ascii_digit)
            .collect::<String>()
    });
    match (major, minor.and_then(|m| m.parse::<u32>().ok())) {
        (Some(major), Some(minor)) => major > 1 || (major == 1 && minor >= 24),
        (Some(major), None) => major > 1,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_go_mod_hash_is_the_one_go_drops() {
        // cmd/go's emptyGoModHash.
        assert_eq!(
            hash_go_mod(b""),
            "h1:G7mAYYxgmS0lVkHyy2hEOLQCFB0DlQFTMLWggykrydY="
        );
    }

    #[test]
    fn order_of_adding_does_not_matter() {
        let mut a = Hash1::new();
        a.add("b", b"2").unwrap();
        a.add("a", b"1").unwrap();
        let mut b = Hash1::new();
        b.add("a", b"1").unwrap();
        b.add("b", b"2").unwrap();
        assert_eq!(a.finish(), b.finish());
    }

    #[test]
    fn newline_names_are_refused() {
        let err = Hash1::new().add("a\nb", b"").unwrap_err();
        assert_eq!(
            err.to_string(),
            "dirhash: filenames with newlines are not supported"
        );
    }

    #[test]
    fn vendored_packages() {
        assert!(is_vendored_package("vendor/a/b.go", false));
        assert!(!is_vendored_package("vendor/modules.txt", false));
        assert!(is_vendored_package("vendor/modules.txt", true));
        assert!(!is_vendored_package("vendor/x.go", true));
        // The pre-1.24 offset bug: "pkg/vendor/vendor.go" counted as vendored.
        assert!(is_vendored_package("pkg/vendor/vendor.go", false));
        assert!(!is_vendored_package("pkg/vendor/vendor.go", true));
        assert!(is_vendored_package("pkg/vendor/foo/foo.go", true));
        assert!(!is_vendored_package("pkg/main.go", true));
    }

    #[test]
    fn go_line() {
        assert_eq!(
            go_line_version("module m\n\ngo 1.24 // x\n").as_deref(),
            Some("1.24")
        );
        assert!(at_least_go_1_24("1.24"));
        assert!(at_least_go_1_24("1.24rc1"));
        assert!(at_least_go_1_24("1.25.3"));
        assert!(!at_least_go_1_24("1.23.9"));
        assert!(!at_least_go_1_24("1.9"));
    }
}
