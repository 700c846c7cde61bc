//! Diff coverage: how many of the lines changed since a base revision ran under test.
//!
//! Three parts, each replaceable:
//! - a [`ChangedLines`] provider says which lines changed, as repository-relative paths and line
//!   numbers of the new version ([`Changes`]). `GitChanges` (feature `git`) computes them with libgit2;
//!   [`Changes::from_unified_diff`] reads `git diff` (or any unified diff) output; a tool may also build
//!   [`Changes`] itself.
//! - a path map turns a profile's file names (`example.com/m/pkg/file.go`) into repository-relative paths
//!   ([`module_repo_paths`] does it through a [`ModuleResolver`]: the module root relative to the
//!   repository root, plus the rest of the name).
//! - [`DiffGate`] maps changed lines onto the profile's blocks and checks a threshold.
//!
//! # Which lines count
//!
//! A line is **coverable** when a block with statements covers it, and **covered** when such a block ran
//! (count > 0): the line rule of [`line_hits`], the same as the LCOV and Cobertura
//! exports. A block covers its start line through its end line, except an end line it reaches only at
//! column 1. Where blocks overlap on a line (`if err != nil { return err }` on one line holds two), the
//! line is covered when any of them ran. Changed lines no block covers (comments, declarations, blank
//! lines, test files, files the profile does not know) are not coverable and do not count either way.
//! As in [`Gates`](super::Gates), excluded files, generated files and functions marked
//! `//coverage:ignore` are left out.
//!
//! # Which revision is the base
//!
//! `GitChanges` diffs against the **merge base** of the given revision and `HEAD` by default, as
//! diff-cover and Codecov do: on a feature branch, `--diff-base main` then measures the branch's own
//! changes, not the changes that landed on `main` since the branch was cut. The new side is the
//! **working tree** (staged and unstaged changes to tracked files, as `git diff MERGE_BASE` shows them),
//! because the profile was measured on the files as they are on disk; untracked files are left out
//! (as `git diff` leaves them out) unless asked for. Renames are detected as `git diff` detects them
//! (50% similarity), so a moved file counts only the lines that changed in it; deleted files contribute
//! nothing.
//!
//! ```
//! use slipway_cover::Profile;
//! use slipway_cover::MemoryResolver;
//! use slipway_cover::gate::{Changes, DiffGate};
//!
//! let source = "package p\n\nfunc Abs(x int) int {\n\tif x < 0 {\n\t\treturn -x\n\t}\n\treturn x\n}\n";
//! let profile = Profile::parse(
//!     "cover.out",
//!     "mode: set\nexample.com/m/p/abs.go:3.21,4.11 1 1\nexample.com/m/p/abs.go:4.11,6.3 1 0\nexample.com/m/p/abs.go:7.2,7.10 1 1\n",
//! )?;
//! let resolver = MemoryResolver::new().with_file("example.com/m/p/abs.go", source);
//! // Lines 4 to 7 changed (e.g. read from `git diff -U0 main`).
//! let changes = Changes::from_unified_diff(
//!     "--- a/p/abs.go\n+++ b/p/abs.go\n@@ -3,0 +4,4 @@\n+\tif x < 0 {\n+\t\treturn -x\n+\t}\n+\treturn x\n",
//! )?;
//! let to_repo = |name: &str| name.strip_prefix("example.com/m/").map(str::to_owned);
//! let report = DiffGate::new().threshold(75.0)?.check(&profile, &changes, &resolver, &to_repo)?;
//! assert_eq!((report.covered, report.coverable), (2, 4));
//! assert!(!report.passed());
//! assert_eq!(report.files[0].uncovered, [(5, 6)]);
//! Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use regex::Regex;

use super::{GateError, is_generated, is_ignored, percent, regex};
use crate::export::line_hits;
use crate::funcs::find_funcs;
use crate::profile::Profile;
use crate::resolve::{ModuleResolver, SourceResolver};
use crate::summary::Counts;

#[cfg(feature = "git")]
mod git;
#[cfg(feature = "git")]
pub use git::GitChanges;

/// Why changed lines could not be produced.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DiffError {
    /// A unified diff line is malformed.
    #[error("diff line {line}: {message}: {}", crate::quote::quoted(text))]
    Parse {
        /// The line (1-based).
        line: usize,
        /// Its text.
        text: String,
        /// What is wrong with it.
        message: String,
    },
    /// The directory is not inside a git working tree.
    #[error("{}: not inside a git working tree", path.display())]
    NotARepository {
        /// The directory searched from.
        path: PathBuf,
    },
    /// The base revision does not name a commit.
    #[error("{}: unknown revision {rev:?}", repo.display())]
    UnknownRevision {
        /// The repository.
        repo: PathBuf,
        /// The revision as given.
        rev: String,
    },
    /// The base revision and `HEAD` share no history.
    #[error("{}: {rev:?} and HEAD have no merge base", repo.display())]
    NoMergeBase {
        /// The repository.
        repo: PathBuf,
        /// The revision as given.
        rev: String,
    },
    /// libgit2 failed at some step.
    #[error("{}: git: {action}", repo.display())]
    Git {
        /// The repository.
        repo: PathBuf,
        /// What was being done.
        action: String,
        /// libgit2's error.
        #[source]
        error: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// Lines added or changed, per repository-relative path (`/`-separated), numbered as in the new version.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    files: BTreeMap<String, BTreeSet<u32>>,
    description: String,
}

impl Changes {
    /// No changes.
    pub fn new() -> Self {
        Changes::default()
    }

    /// Adds changed lines of `path`.
    pub fn add_lines(&mut self, path: &str, lines: impl IntoIterator<Item = u32>) {
        self.files.entry(path.to_owned()).or_default().extend(lines);
    }

    /// Adds changed lines of `path` (builder form).
    #[must_use]
    pub fn with_lines(mut self, path: &str, lines: impl IntoIterator<Item = u32>) -> Self {
        self.add_lines(path, lines);
        self
    }

    /// Says where the changes come from (shown in reports), e.g. `since merge-base 1a2b3c4 of main`.
    #[must_use]
    pub fn describe(mut self, description: impl Into<String>) -> Self {
        self.description = description.into();
        self
    }

    /// Where the changes come from (empty when not described).
    pub fn description(&self) -> &str {
        &self.description
    }

    /// The changed lines of `path`.
    pub fn lines(&self, path: &str) -> Option<&BTreeSet<u32>> {
        self.files.get(path)
    }

    /// Every file with changed lines and its lines, sorted by path.
    pub fn files(&self) -> impl Iterator<Item = (&str, &BTreeSet<u32>)> {
        self.files
            .iter()
            .filter(|(_, l)| !l.is_empty())
            .map(|(p, l)| (p.as_str(), l))
    }

    /// Reads the added lines of a unified diff (`git diff`, `diff -u`; any context size). A file's path
    /// is its `+++` line with git's `b/` prefix removed (C-quoted names are unquoted); `/dev/null`
    /// (a deleted file) adds nothing.
    pub fn from_unified_diff(text: &str) -> Result<Changes, DiffError> {
        let mut changes = Changes::new();
        let mut path: Option<String> = None;
        // Lines of the current hunk still to read: (old side, new side).
        let mut left = (0u64, 0u64);
        let mut new_line = 0u32;
        for (i, raw) in text.lines().enumerate() {
            let bad = |message: &str| DiffError::Parse {
                line: i + 1,
                text: raw.to_owned(),
                message: message.to_owned(),
            };
            if left.0 > 0 || left.1 > 0 {
                match raw.as_bytes().first() {
                    Some(b'+') => {
                        if left.1 == 0 {
                            return Err(bad("more added lines than the hunk header says"));
                        }
                        if let Some(p) = &path {
                            changes.add_lines(p, [new_line]);
                        }
                        new_line = new_line.saturating_add(1);
                        left.1 -= 1;
                    }
                    Some(b'-') => {
                        if left.0 == 0 {
                            return Err(bad("more removed lines than the hunk header says"));
                        }
                        left.0 -= 1;
                    }
                    // A context line (an empty one may have lost its leading space to an editor).
                    Some(b' ') | None => {
                        if left.0 == 0 || left.1 == 0 {
                            return Err(bad("more context lines than the hunk header says"));
                        }
                        new_line = new_line.saturating_add(1);
                        left.0 -= 1;
                        left.1 -= 1;
                    }
                    Some(b'\\') => {}
                    Some(_) => return Err(bad("unexpected line inside a hunk")),
                }
                continue;
            }
            if let Some(rest) = raw.strip_prefix("+++ ") {
                // `+++ b/path` may be followed by a tab and a timestamp (diff -u).
                let name = rest.split('\t').next().unwrap_or(rest).trim_end();
                path = if name == "/dev/null" {
                    None
                } else {
                    let name = unquote(name).ok_or_else(|| bad("bad quoted file name"))?;
                    Some(name.strip_prefix("b/").unwrap_or(&name).to_owned())
                };
            } else if let Some(rest) = raw.strip_prefix("@@ ") {
                let (old, new) = hunk_header(rest).ok_or_else(|| bad("bad hunk header"))?;
                left = (old, new.1);
                new_line = new.0;
            }
        }
        if left.0 > 0 || left.1 > 0 {
            return Err(DiffError::Parse {
                line: text.lines().count(),
                text: String::new(),
                message: "diff ends inside a hunk".to_owned(),
            });
        }
        Ok(changes)
    }
}

/// `-A[,B] +C[,D] @@…` -> (old line count, (new start, new line count)); counts default to 1.
fn hunk_header(rest: &str) -> Option<(u64, (u32, u64))> {
    let mut parts = rest.split(' ');
    let old = parts.next()?.strip_prefix('-')?;
    let new = parts.next()?.strip_prefix('+')?;
    if parts.next() != Some("@@") {
        return None;
    }
    let range = |r: &str| -> Option<(u32, u64)> {
        match r.split_once(',') {
            Some((start, len)) => Some((start.parse().ok()?, len.parse().ok()?)),
            None => Some((r.parse().ok()?, 1)),
        }
    };
    Some((range(old)?.1, range(new)?))
}

/// Git's C-style quoting of unusual file names (`"b/caf\303\251.go"`); unquoted names pass through.
fn unquote(name: &str) -> Option<String> {
    let Some(inner) = name.strip_prefix('"').and_then(|n| n.strip_suffix('"')) else {
        return Some(name.to_owned());
    };
    let mut bytes = Vec::with_capacity(inner.len());
    let mut it = inner.bytes();
    while let Some(b) = it.next() {
        if b != b'\\' {
            bytes.push(b);
            continue;
        }
        let e = it.next()?;
        bytes.push(match e {
            b'n' => b'\n',
            b't' => b'\t',
            b'r' => b'\r',
            b'a' => 7,
            b'b' => 8,
            b'f' => 12,
            b'v' => 11,
            b'"' | b'\\' => e,
            b'0'..=b'7' => {
                let d2 = it.next()?;
                let d3 = it.next()?;
                let digits = [e, d2, d3];
                if !digits.iter().all(|d| (b'0'..=b'7').contains(d)) {
                    return None;
                }
                let value = digits
                    .iter()
                    .fold(0u32, |acc, d| acc * 8 + u32::from(d - b'0'));
                u8::try_from(value).ok()?
            }
            _ => return None,
        });
    }
    String::from_utf8(bytes).ok()
}

/// Says which lines changed.
pub trait ChangedLines {
    /// The changed lines.
    fn changed_lines(&self) -> Result<Changes, Box<dyn std::error::Error + Send + Sync>>;
}

impl ChangedLines for Changes {
    fn changed_lines(&self) -> Result<Changes, Box<dyn std::error::Error + Send + Sync>> {
        Ok(self.clone())
    }
}

impl<T: ChangedLines + ?Sized> ChangedLines for &T {
    fn changed_lines(&self) -> Result<Changes, Box<dyn std::error::Error + Send + Sync>> {
        (**self).changed_lines()
    }
}

impl<T: ChangedLines + ?Sized> ChangedLines for Box<T> {
    fn changed_lines(&self) -> Result<Changes, Box<dyn std::error::Error + Send + Sync>> {
        (**self).changed_lines()
    }
}

impl<T: ChangedLines + ?Sized> ChangedLines for Arc<T> {
    fn changed_lines(&self) -> Result<Changes, Box<dyn std::error::Error + Send + Sync>> {
        (**self).changed_lines()
    }
}

/// Maps profile file names to repository-relative paths through `resolver`: the file's location on disk
/// (see [`ModuleResolver::locate`]) relative to `repo_root`, with `/` separators. Files outside the
/// repository (the standard library, the module cache) map to nothing. Symbolic links are resolved on
/// both sides so that `/tmp` versus `/private/tmp` and similar do not matter.
pub fn module_repo_paths<'a>(
    resolver: &'a ModuleResolver,
    repo_root: &Path,
) -> impl Fn(&str) -> Option<String> + 'a {
    let root = std::fs::canonicalize(repo_root).unwrap_or_else(|_| repo_root.to_path_buf());
    move |file: &str| {
        let path = resolver.locate(file)?;
        let path = std::fs::canonicalize(&path).unwrap_or(path);
        let rest = path.strip_prefix(&root).ok()?;
        let parts: Vec<String> = rest
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        Some(parts.join("/"))
    }
}

/// A diff-coverage threshold and excludes; [`DiffGate::check`] applies them.
#[derive(Debug, Clone, Default)]
pub struct DiffGate {
    threshold: Option<f64>,
    excludes: Vec<Regex>,
}

impl DiffGate {
    /// No threshold: the report is computed and always passes.
    pub fn new() -> Self {
        DiffGate::default()
    }

    /// Requires `value` percent of the coverable changed lines covered.
    ///
    /// # Errors
    /// When `value` is not within 0..=100.
    pub fn threshold(mut self, value: f64) -> Result<Self, GateError> {
        self.threshold = Some(percent("diff", value)?);
        Ok(self)
    }

    /// Leaves out files whose profile name matches `pattern`.
    ///
    /// # Errors
    /// When the regex does not compile.
    pub fn exclude(mut self, pattern: &str) -> Result<Self, GateError> {
        self.excludes.push(regex(pattern)?);
        Ok(self)
    }

    /// Maps `changes` onto `profile`. `to_repo` gives a profile file's repository-relative path (files
    /// it maps to nothing are outside the repository and cannot have changed); sources are read through
    /// `resolver` only for files with changed lines (to skip generated files and ignored functions).
    pub fn check(
        &self,
        profile: &Profile,
        changes: &Changes,
        resolver: &dyn SourceResolver,
        to_repo: &dyn Fn(&str) -> Option<String>,
    ) -> crate::Result<DiffReport> {
        let mut report = DiffReport {
            threshold: self.threshold,
            description: changes.description().to_owned(),
            ..DiffReport::default()
        };
        let mut profiled: BTreeSet<String> = BTreeSet::new();
        for file in profile.files() {
            let Some(path) = to_repo(&file.name) else {
                continue;
            };
            profiled.insert(path.clone());
            if self.excludes.iter().any(|re| re.is_match(&file.name)) {
                continue;
            }
            let Some(changed_here) = changes.lines(&path).filter(|l| !l.is_empty()) else {
                continue;
            };
            let source = resolver.resolve(&file.name)?;
            if is_generated(&source) {
                continue;
            }
            let lines: Vec<&[u8]> = source.split(|&b| b == b'\n').collect();
            let ignored: Vec<(u32, u32)> = find_funcs(&source)
                .into_iter()
                .filter(|f| is_ignored(&lines, f.start_line))
                .map(|f| (f.start_line, f.end_line))
                .collect();
            let hits: BTreeMap<u32, u64> = line_hits(file)
                .into_iter()
                .filter(|(l, _)| !ignored.iter().any(|&(s, e)| (s..=e).contains(l)))
                .collect();
            let mut entry = FileDiff {
                path,
                name: file.name.clone(),
                changed: changed_here.len() as u64,
                ..FileDiff::default()
            };
            let mut uncovered: Vec<u32> = Vec::new();
            for line in changed_here {
                if let Some(&count) = hits.get(line) {
                    entry.counts.total += 1;
                    if count > 0 {
                        entry.counts.covered += 1;
                    } else {
                        uncovered.push(*line);
                    }
                }
            }
            entry.uncovered = ranges(&uncovered);
            report.covered += entry.counts.covered;
            report.coverable += entry.counts.total;
            report.changed += entry.changed;
            report.files.push(entry);
        }
        // Changed Go files the profile never saw, in the directories of files it did (files without
        // statements, new files the run missed); other directories may belong to other modules entirely.
        let dirs: BTreeSet<&str> = profiled.iter().map(|p| parent_dir(p)).collect();
        report.unprofiled = changes
            .files()
            .map(|(p, _)| p)
            .filter(|p| {
                Path::new(p).extension().is_some_and(|e| e == "go")
                    && !p.ends_with("_test.go")
                    && !profiled.contains(*p)
                    && dirs.contains(parent_dir(p))
            })
            .map(str::to_owned)
            .collect();
        report.files.sort_by(|a, b| {
            b.missed()
                .cmp(&a.missed())
                .then_with(|| a.path.cmp(&b.path))
        });
        Ok(report)
    }
}

/// The directory part of a `/`-separated path (empty at the top).
fn parent_dir(path: &str) -> &str {
    path.rfind('/').map_or("", |i| &path[..i])
}

/// Consecutive line numbers folded into inclusive ranges.
fn ranges(lines: &[u32]) -> Vec<(u32, u32)> {
    let mut out: Vec<(u32, u32)> = Vec::new();
    for &l in lines {
        match out.last_mut() {
            Some((_, end)) if end.checked_add(1) == Some(l) => *end = l,
            _ => out.push((l, l)),
        }
    }
    out
}

/// Diff coverage of one file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FileDiff {
    /// Repository-relative path.
    pub path: String,
    /// The name the profile gives it.
    pub name: String,
    /// Changed lines in it (coverable or not).
    pub changed: u64,
    /// Coverable changed lines (`total`) and covered ones (`covered`).
    pub counts: Counts,
    /// Coverable changed lines that did not run, as inclusive ranges.
    pub uncovered: Vec<(u32, u32)>,
}

impl FileDiff {
    fn missed(&self) -> u64 {
        self.counts.total - self.counts.covered
    }
}

/// The outcome of [`DiffGate::check`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DiffReport {
    /// Files of the profile with changed lines, most uncovered changed lines first.
    pub files: Vec<FileDiff>,
    /// Changed lines in those files.
    pub changed: u64,
    /// Changed lines that a block covers.
    pub coverable: u64,
    /// Coverable changed lines that ran.
    pub covered: u64,
    /// Changed non-test `.go` files the profile does not list, in directories where it lists others
    /// (repository-relative): files without statements, or files the test run did not measure.
    pub unprofiled: Vec<String>,
    /// The threshold checked, if any.
    pub threshold: Option<f64>,
    /// Where the changes come from ([`Changes::description`]).
    pub description: String,
}

impl DiffReport {
    /// Covered and coverable changed lines as [`Counts`].
    pub fn counts(&self) -> Counts {
        Counts {
            covered: self.covered,
            total: self.coverable,
        }
    }

    /// Whether the threshold is met. With no coverable changed line there is nothing to miss: it passes.
    pub fn passed(&self) -> bool {
        match self.threshold {
            Some(t) if self.coverable > 0 => self.counts().percent() >= t,
            _ => true,
        }
    }

    /// The report as `slipway cover check --diff-base` prints it: a verdict line, then each file with
    /// uncovered changed lines, worst first.
    ///
    /// ```text
    /// FAIL diff: 50.0% < 80.0% (2 of 4 coverable changed lines covered) since merge-base 1a2b3c4 of main
    ///   pkg/abs.go: 2 of 4 covered; not covered: 5-6
    /// ```
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let since = if self.description.is_empty() {
            String::new()
        } else {
            format!(" {}", self.description)
        };
        let counts = self.counts();
        let measured = if self.coverable == 0 {
            "no coverable changed lines".to_owned()
        } else {
            format!(
                "{:.1}% ({} of {} coverable changed lines covered)",
                counts.percent(),
                self.covered,
                self.coverable
            )
        };
        let verdict = match self.threshold {
            Some(t) if !self.passed() => format!("FAIL diff: {measured} < {t:.1}%"),
            Some(t) if self.coverable > 0 => format!("ok diff: {measured} >= {t:.1}%"),
            Some(_) => format!("ok diff: {measured}"),
            None => format!("diff: {measured}"),
        };
        let _ = writeln!(
            out,
            "{verdict}{since}; {} changed lines in {} profiled files",
            self.changed,
            self.files.len()
        );
        for f in self.files.iter().filter(|f| !f.uncovered.is_empty()) {
            let list: Vec<String> = f
                .uncovered
                .iter()
                .map(|&(a, b)| {
                    if a == b {
                        a.to_string()
                    } else {
                        format!("{a}-{b}")
                    }
                })
                .collect();
            let _ = writeln!(
                out,
                "  {}: {} of {} covered; not covered: {}",
                f.path,
                f.counts.covered,
                f.counts.total,
                list.join(", ")
            );
        }
        if !self.unprofiled.is_empty() {
            let _ = writeln!(
                out,
                "  changed Go files not in the profile (no statements, or not tested): {}",
                self.unprofiled.join(", ")
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemoryResolver;

    #[test]
    fn unified_diff_with_context_and_renames() {
        let diff = "diff --git a/x.go b/y.go\nsimilarity index 90%\nrename from x.go\nrename to y.go\n--- a/x.go\n+++ b/y.go\n@@ -1,4 +1,5 @@\n package p\n-var a = 1\n+var a = 2\n+var b = 3\n \n func f() {}\n\\ No newline at end of file\ndiff --git a/gone.go b/gone.go\ndeleted file mode 100644\n--- a/gone.go\n+++ /dev/null\n@@ -1 +0,0 @@\n-package p\n--- a/\"caf\\303\\251.go\"\n+++ \"b/caf\\303\\251.go\"\n@@ -0,0 +1 @@\n+x\n";
        let c = Changes::from_unified_diff(diff).unwrap();
        let files: Vec<(&str, Vec<u32>)> = c
            .files()
            .map(|(p, l)| (p, l.iter().copied().collect()))
            .collect();
        assert_eq!(files, [("café.go", vec![1]), ("y.go", vec![2, 3])]);
    }

    #[test]
    fn malformed_diffs_are_errors_with_lines() {
        let err = Changes::from_unified_diff("+++ b/a.go\n@@ -1 +1,x @@\n").unwrap_err();
        assert!(matches!(err, DiffError::Parse { line: 2, .. }), "{err:?}");
        let err = Changes::from_unified_diff("+++ b/a.go\n@@ -0,0 +1,2 @@\n+a\n").unwrap_err();
        assert!(err.to_string().contains("ends inside a hunk"), "{err}");
        let err = Changes::from_unified_diff("+++ b/a.go\n@@ -0,0 +1 @@\n?\n").unwrap_err();
        assert!(matches!(err, DiffError::Parse { line: 3, .. }), "{err:?}");
    }

    #[test]
    fn ranges_fold() {
        assert_eq!(ranges(&[1, 2, 3, 5, 7, 8]), [(1, 3), (5, 5), (7, 8)]);
        assert_eq!(ranges(&[]), []);
    }

    const SRC: &str = "package p\n\nfunc A(x int) int {\n\tif x > 0 {\n\t\treturn 1\n\t}\n\treturn 0\n}\n\n//coverage:ignore\nfunc B() {\n\tprintln()\n}\n";

    fn profile() -> Profile {
        Profile::parse(
            "t",
            "mode: set\nm/p/a.go:3.19,4.11 1 1\nm/p/a.go:4.11,6.3 1 0\nm/p/a.go:7.2,7.10 1 1\nm/p/a.go:11.10,13.2 1 0\n",
        )
        .unwrap()
    }

    fn check(gate: &DiffGate, changes: &Changes) -> DiffReport {
        let resolver = MemoryResolver::new().with_file("m/p/a.go", SRC);
        let to_repo = |n: &str| n.strip_prefix("m/").map(str::to_owned);
        gate.check(&profile(), changes, &resolver, &to_repo)
            .unwrap()
    }

    #[test]
    fn maps_lines_to_blocks_and_skips_ignored_functions() {
        let changes = Changes::new()
            .with_lines("p/a.go", [1, 2, 4, 5, 6, 7, 12])
            .with_lines("p/new.go", [1])
            .with_lines("q/other.go", [1])
            .with_lines("p/new_test.go", [1])
            .describe("since test");
        let report = check(&DiffGate::new().threshold(60.0).unwrap(), &changes);
        // 1 and 2 are not coverable, 12 is in an ignored function; 4 and 7 ran, 5 and 6 did not.
        assert_eq!(
            (report.changed, report.coverable, report.covered),
            (7, 4, 2)
        );
        assert!(!report.passed());
        assert_eq!(report.files[0].uncovered, [(5, 6)]);
        assert_eq!(report.unprofiled, ["p/new.go"]);
        assert_eq!(
            report.to_text(),
            "FAIL diff: 50.0% (2 of 4 coverable changed lines covered) < 60.0% since test; 7 changed lines in 1 profiled files\n  p/a.go: 2 of 4 covered; not covered: 5-6\n  changed Go files not in the profile (no statements, or not tested): p/new.go\n"
        );
    }

    #[test]
    fn nothing_coverable_passes_and_excludes_apply() {
        let changes = Changes::new().with_lines("p/a.go", [1, 2]);
        let report = check(&DiffGate::new().threshold(100.0).unwrap(), &changes);
        assert!(report.passed());
        assert_eq!(report.coverable, 0);
        assert!(
            report
                .to_text()
                .starts_with("ok diff: no coverable changed lines")
        );

        let changes = Changes::new().with_lines("p/a.go", [5]);
        let gate = DiffGate::new()
            .threshold(100.0)
            .unwrap()
            .exclude("a\\.go$")
            .unwrap();
        let report = check(&gate, &changes);
        assert!(report.files.is_empty() && report.passed());
        assert!(DiffGate::new().threshold(101.0).is_err());
    }
}
