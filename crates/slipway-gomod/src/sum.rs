//! go.sum files: read them as cmd/go does, write them sorted as cmd/go does, and verify downloads.
//!
//! Each line is `path version hash`; the version is `vX.Y.Z` for the module zip and `vX.Y.Z/go.mod` for
//! the module's go.mod. A module may carry several hashes (only `h1:` is known today).
//!
//! ```
//! use slipway_gomod::{dirhash, sum::{Check, GoSum}};
//!
//! let go_mod = b"module example.com/m\n";
//! let text = format!("example.com/m v1.0.0/go.mod {}\n", dirhash::hash_go_mod(go_mod));
//! let sums = GoSum::parse("go.sum", text.as_bytes())?;
//! assert_eq!(sums.check_go_mod("example.com/m", "v1.0.0", go_mod)?, Check::Verified);
//! assert_eq!(sums.check_go_mod("example.com/m", "v1.1.0", go_mod)?, Check::Missing);
//! assert_eq!(sums.to_string(), text);
//! Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use crate::dirhash;
use crate::module::{self, Version};

/// Result of go.sum operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The hash cmd/go once wrote for non-modules (Hash1 of an empty go.mod); it drops such lines on read.
pub const EMPTY_GO_MOD_HASH: &str = "h1:G7mAYYxgmS0lVkHyy2hEOLQCFB0DlQFTMLWggykrydY=";

const GO_SUM_MISMATCH: &str = "

SECURITY ERROR
This download does NOT match an earlier download recorded in go.sum.
The bits may have been replaced on the origin server, or an attacker may
have intercepted the download attempt.

For more information, see 'go help module-auth'.
";

/// go.sum errors; the texts are cmd/go's.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A non-blank line without exactly three fields.
    #[error("malformed go.sum:\n{file}:{line}: wrong number of fields {fields}")]
    WrongFieldCount {
        /// The go.sum file name, as given to the parser.
        file: String,
        /// 1-based line number.
        line: usize,
        /// How many fields the line has.
        fields: usize,
    },
    /// A download whose `h1:` hash differs from the one go.sum records.
    #[error(
        "verifying {path}@{version}: checksum mismatch\n\tdownloaded: {downloaded}\n\tgo.sum:     {recorded}{GO_SUM_MISMATCH}"
    )]
    Mismatch {
        /// The module path.
        path: String,
        /// The version, with `/go.mod` for a go.mod hash.
        version: String,
        /// The hash of what was downloaded.
        downloaded: String,
        /// The hash go.sum records.
        recorded: String,
    },
    /// Hashing the download failed.
    #[error("verifying {path}@{version}: {error}")]
    Hash {
        /// The module path.
        path: String,
        /// The module version.
        version: String,
        /// Why hashing failed.
        error: Box<dirhash::Error>,
    },
}

/// The outcome of checking a download against go.sum when nothing contradicts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// go.sum records this exact hash.
    Verified,
    /// go.sum has no `h1:` hash for the module (go would add one).
    Missing,
}

/// The contents of a go.sum file: hashes per module version, in file order until written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GoSum {
    entries: BTreeMap<(String, String), Vec<String>>,
}

impl GoSum {
    /// An empty go.sum.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads go.sum data as cmd/go does: blank lines are skipped, a line must have exactly three
    /// whitespace-separated fields, and the old empty-go.mod hash is dropped. `file` names the file in errors.
    pub fn parse(file: &str, data: &[u8]) -> Result<Self> {
        Self::read(file, data, false)
    }

    /// Like [`parse`](Self::parse) but skips malformed lines, as `go mod tidy` does so that it can repair
    /// the file.
    pub fn parse_lax(data: &[u8]) -> Self {
        // With `lax`, `read` has no error to return.
        Self::read("go.sum", data, true).unwrap_or_default()
    }

    fn read(file: &str, data: &[u8], lax: bool) -> Result<Self> {
        let mut sums = Self::new();
        for (index, line) in data.split(|&b| b == b'\n').enumerate() {
            let line = String::from_utf8_lossy(line);
            let fields: Vec<&str> = line.split_whitespace().collect();
            match fields.as_slice() {
                [] => {}
                [path, version, hash] => {
                    if *hash != EMPTY_GO_MOD_HASH {
                        sums.add(path, version, hash);
                    }
                }
                _ if lax => {}
                _ => {
                    return Err(Error::WrongFieldCount {
                        file: file.to_owned(),
                        line: index + 1,
                        fields: fields.len(),
                    });
                }
            }
        }
        Ok(sums)
    }

    /// Reads a go.sum file from disk.
    pub fn read_file(path: &Path) -> std::io::Result<Result<Self>> {
        let data = std::fs::read(path)?;
        Ok(Self::parse(&path.display().to_string(), &data))
    }

    /// Records `hash` for `path` at `version` (`vX.Y.Z` or `vX.Y.Z/go.mod`); a repeated hash is kept once
    /// when written.
    pub fn add(&mut self, path: &str, version: &str, hash: &str) {
        self.entries
            .entry((path.to_owned(), version.to_owned()))
            .or_default()
            .push(hash.to_owned());
    }

    /// The hashes recorded for `path` at `version`, in file order.
    pub fn hashes(&self, path: &str, version: &str) -> &[String] {
        self.entries
            .get(&(path.to_owned(), version.to_owned()))
            .map_or(&[], Vec::as_slice)
    }

    /// Every `(path, version, hash)` line, in the order [`Display`](fmt::Display) writes them.
    pub fn lines(&self) -> Vec<(&str, &str, &str)> {
        let mut keys: Vec<Version> = self
            .entries
            .keys()
            .map(|(p, v)| Version::new(p.clone(), v.clone()))
            .collect();
        module::sort(&mut keys);
        let mut out = Vec::new();
        for key in keys {
            let Some(((path, version), hashes)) =
                self.entries.get_key_value(&(key.path, key.version))
            else {
                continue;
            };
            let mut hashes: Vec<&str> = hashes.iter().map(String::as_str).collect();
            hashes.sort_unstable();
            hashes.dedup();
            out.extend(
                hashes
                    .into_iter()
                    .map(|h| (path.as_str(), version.as_str(), h)),
            );
        }
        out
    }

    /// Whether nothing is recorded.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Checks a hash against go.sum as cmd/go does: an equal recorded hash verifies; a different `h1:`
    /// hash is a [`Error::Mismatch`]; no `h1:` hash at all is [`Check::Missing`]. `version` is `vX.Y.Z` for a
    /// zip and `vX.Y.Z/go.mod` for a go.mod.
    pub fn check(&self, path: &str, version: &str, hash: &str) -> Result<Check> {
        let recorded = self.hashes(path, version);
        if recorded.iter().any(|h| h == hash) {
            return Ok(Check::Verified);
        }
        if let Some(other) = recorded.iter().find(|h| h.starts_with("h1:")) {
            return Err(Error::Mismatch {
                path: path.to_owned(),
                version: version.to_owned(),
                downloaded: hash.to_owned(),
                recorded: other.clone(),
            });
        }
        Ok(Check::Missing)
    }

    /// Checks a module's go.mod content against its `version/go.mod` line.
    pub fn check_go_mod(&self, path: &str, version: &str, go_mod: &[u8]) -> Result<Check> {
        self.check(
            path,
            &format!("{version}/go.mod"),
            &dirhash::hash_go_mod(go_mod),
        )
    }

    /// Checks a module zip held in memory against its `version` line.
    pub fn check_zip(&self, path: &str, version: &str, zip: &[u8]) -> Result<Check> {
        let hash = dirhash::hash_zip(zip).map_err(|error| Error::Hash {
            path: path.to_owned(),
            version: version.to_owned(),
            error: Box::new(error),
        })?;
        self.check(path, version, &hash)
    }

    /// Checks a module zip file against its `version` line.
    pub fn check_zip_file(&self, path: &str, version: &str, zip: &Path) -> Result<Check> {
        let hash = dirhash::hash_zip_file(zip).map_err(|error| Error::Hash {
            path: path.to_owned(),
            version: version.to_owned(),
            error: Box::new(error),
        })?;
        self.check(path, version, &hash)
    }
}

impl fmt::Display for GoSum {
    /// go.sum text as cmd/go writes it: modules in `module.Sort` order, each module's hashes sorted and
    /// deduplicated, one `path version hash` line each.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (path, version, hash) in self.lines() {
            writeln!(f, "{path} {version} {hash}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrong_field_count_names_file_and_line() {
        let err = GoSum::parse("go.sum", b"a v1.0.0 h1:x\n\nb v1.0.0\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "malformed go.sum:\ngo.sum:3: wrong number of fields 2"
        );
        assert_eq!(
            GoSum::parse_lax(b"a v1.0.0 h1:x\n\nb v1.0.0\n").to_string(),
            "a v1.0.0 h1:x\n"
        );
    }

    #[test]
    fn writes_sorted_by_semver_then_go_mod_and_dedups() {
        let text = "b.com/m v1.10.0 h1:b\n\
                    a.com/m v1.2.0/go.mod h1:y\n\
                    b.com/m v1.9.0/go.mod h1:c\n\
                    a.com/m v1.2.0 h1:z\n\
                    a.com/m v1.2.0 h1:a\r\n\
                    a.com/m v1.2.0 h1:z\n\
                    c.com/m v1.0.0/go.mod h1:G7mAYYxgmS0lVkHyy2hEOLQCFB0DlQFTMLWggykrydY=\n";
        let sums = GoSum::parse("go.sum", text.as_bytes()).unwrap();
        assert_eq!(
            sums.to_string(),
            "a.com/m v1.2.0 h1:a\n\
             a.com/m v1.2.0 h1:z\n\
             a.com/m v1.2.0/go.mod h1:y\n\
             b.com/m v1.9.0/go.mod h1:c\n\
             b.com/m v1.10.0 h1:b\n"
        );
    }

    #[test]
    fn mismatch_reads_like_go() {
        let sums = GoSum::parse("go.sum", b"a.com/m v1.0.0 h1:old\n").unwrap();
        let err = sums.check("a.com/m", "v1.0.0", "h1:new").unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with(
                "verifying a.com/m@v1.0.0: checksum mismatch\n\tdownloaded: h1:new\n\tgo.sum:     h1:old\n\nSECURITY ERROR\n"
            ),
            "{text}"
        );
        // Hashes of unknown algorithms neither verify nor contradict.
        let sums = GoSum::parse("go.sum", b"a.com/m v1.0.0 h2:future\n").unwrap();
        assert_eq!(
            sums.check("a.com/m", "v1.0.0", "h1:new").unwrap(),
            Check::Missing
        );
    }
}
