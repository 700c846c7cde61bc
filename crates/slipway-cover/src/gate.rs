//! Coverage gates: minimum percentages for the total, each package and each file.
//!
//! The numbers are those of `go tool cover -func` (statements inside function declarations, see
//! [`FuncReport`](crate::FuncReport)), computed from what is left after three kinds of removal:
//! - **Excludes**: files whose profile name (`example.com/m/pkg/file.go`) matches an exclude regex are
//!   dropped before anything is counted, and their sources are never read.
//! - **Generated files**: a file with a line `// Code generated … DO NOT EDIT.` before its package
//!   clause (the Go convention, `^// Code generated .* DO NOT EDIT\.$`) is dropped too.
//! - **`//coverage:ignore`**: a function whose `func` line carries the comment, or whose preceding line
//!   is the comment (optionally followed by a reason: `//coverage:ignore only reached on SIGHUP`), does
//!   not count: its blocks leave the file, package and total numbers. The line is the one
//!   [`find_funcs`] reports, so under a `//line` directive it is the directive's line.
//!
//! Thresholds: `total` applies to the total, `package` to every package and `file` to every file. An
//! override (`REGEX=N`) replaces the package or file threshold for the packages and files whose path it
//! matches; the first matching override wins. Regexes match anywhere in the path unless anchored, as Go's
//! `regexp.MatchString` does. A package or file with no statements left is not gated. A gate fails when the
//! exact percentage is below the threshold (79.96% fails an 80% gate, though it prints as 80.0%).
//!
//! ```
//! use slipway_cover::gate::Gates;
//! use slipway_cover::{MemoryResolver, Profile};
//!
//! let source = "package p\n\nfunc Add(a, b int) int {\n\treturn a + b\n}\n\n//coverage:ignore\nfunc Debug() {\n\tprintln()\n}\n";
//! let profile = Profile::parse(
//!     "cover.out",
//!     "mode: set\nexample.com/p/p.go:3.24,5.2 1 1\nexample.com/p/p.go:8.14,10.2 1 0\n",
//! )?;
//! let resolver = MemoryResolver::new().with_file("example.com/p/p.go", source);
//! let report = Gates::new().total(90.0)?.check(&profile, &resolver)?;
//! assert!(report.passed());
//! assert_eq!(report.total.percent(), 100.0);
//! Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::BTreeMap;
use std::fmt::Write as _;

use regex::Regex;

use crate::funcs::find_funcs;
use crate::profile::{Profile, package_of};
use crate::resolve::SourceResolver;
use crate::summary::{Counts, func_counts};

pub mod diff;

#[cfg(feature = "git")]
pub use diff::GitChanges;
pub use diff::{
    ChangedLines, Changes, DiffError, DiffGate, DiffReport, FileDiff, module_repo_paths,
};

/// The comment that takes a function out of the numbers.
pub const IGNORE_COMMENT: &str = "//coverage:ignore";

/// A gate definition that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GateError {
    /// A threshold is not a number from 0 to 100.
    #[error(
        "{} threshold {} is not a percentage from 0 to 100",
        crate::quote::excerpt(what),
        crate::quote::quoted(value)
    )]
    Percent {
        /// Which threshold (`total`, `package`, `file` or the override's text).
        what: String,
        /// The value given.
        value: String,
    },
    /// A regex does not compile.
    #[error(
        "bad regex {}: {}",
        crate::quote::quoted(pattern),
        crate::quote::excerpt(message)
    )]
    Regex {
        /// The pattern.
        pattern: String,
        /// What the regex compiler said.
        message: String,
    },
    /// An override is not `REGEX=N`.
    #[error("bad override {}: want REGEX=N", crate::quote::quoted(text))]
    Override {
        /// The override as given.
        text: String,
    },
}

/// What a threshold applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    /// All statements left after excludes.
    Total,
    /// One package (import path).
    Package,
    /// One file (as the profile names it).
    File,
}

impl Scope {
    fn as_str(self) -> &'static str {
        match self {
            Scope::Total => "total",
            Scope::Package => "package",
            Scope::File => "file",
        }
    }
}

/// Thresholds, overrides and excludes; [`Gates::check`] applies them to a profile.
#[derive(Debug, Clone, Default)]
pub struct Gates {
    total: Option<f64>,
    package: Option<f64>,
    file: Option<f64>,
    overrides: Vec<(Regex, f64)>,
    excludes: Vec<Regex>,
}

fn percent(what: &str, value: f64) -> Result<f64, GateError> {
    if (0.0..=100.0).contains(&value) {
        Ok(value)
    } else {
        Err(GateError::Percent {
            what: what.to_owned(),
            value: value.to_string(),
        })
    }
}

fn regex(pattern: &str) -> Result<Regex, GateError> {
    Regex::new(pattern).map_err(|e| GateError::Regex {
        pattern: pattern.to_owned(),
        message: e.to_string(),
    })
}

impl Gates {
    /// No thresholds: every check passes.
    pub fn new() -> Self {
        Self::default()
    }

    /// Requires `value` percent of all statements covered.
    ///
    /// # Errors
    /// When `value` is not within 0..=100.
    pub fn total(mut self, value: f64) -> Result<Self, GateError> {
        self.total = Some(percent("total", value)?);
        Ok(self)
    }

    /// Requires `value` percent in every package (unless an override matches it).
    ///
    /// # Errors
    /// When `value` is not within 0..=100.
    pub fn package(mut self, value: f64) -> Result<Self, GateError> {
        self.package = Some(percent("package", value)?);
        Ok(self)
    }

    /// Requires `value` percent in every file (unless an override matches it).
    ///
    /// # Errors
    /// When `value` is not within 0..=100.
    pub fn file(mut self, value: f64) -> Result<Self, GateError> {
        self.file = Some(percent("file", value)?);
        Ok(self)
    }

    /// Adds an override `REGEX=N` (split at the last `=`, so the regex may contain `=`). Overrides are
    /// tried in the order added.
    ///
    /// # Errors
    /// When there is no `=`, N is not a percentage or the regex does not compile.
    pub fn with_override(mut self, spec: &str) -> Result<Self, GateError> {
        let (pattern, value) = spec.rsplit_once('=').ok_or_else(|| GateError::Override {
            text: spec.to_owned(),
        })?;
        let value: f64 = value.trim().parse().map_err(|_| GateError::Percent {
            what: spec.to_owned(),
            value: value.to_owned(),
        })?;
        let value = percent(spec, value)?;
        self.overrides.push((regex(pattern)?, value));
        Ok(self)
    }

    /// Drops files whose profile name matches `pattern` before anything is counted.
    ///
    /// # Errors
    /// When the regex does not compile.
    pub fn exclude(mut self, pattern: &str) -> Result<Self, GateError> {
        self.excludes.push(regex(pattern)?);
        Ok(self)
    }

    fn threshold(&self, scope: Scope, path: &str) -> Option<f64> {
        match scope {
            Scope::Total => self.total,
            Scope::Package | Scope::File => self
                .overrides
                .iter()
                .find(|(re, _)| re.is_match(path))
                .map(|&(_, value)| value)
                .or(if scope == Scope::Package {
                    self.package
                } else {
                    self.file
                }),
        }
    }

    /// Counts the profile's statements (reading each kept file's source through `resolver`) and checks
    /// every threshold.
    ///
    /// # Errors
    /// When a kept file's source cannot be resolved.
    pub fn check(
        &self,
        profile: &Profile,
        resolver: &dyn SourceResolver,
    ) -> crate::Result<GateReport> {
        let mut report = GateReport::default();
        let mut packages: BTreeMap<&str, Counts> = BTreeMap::new();
        for file in profile.files() {
            if self.excludes.iter().any(|re| re.is_match(&file.name)) {
                report.excluded.push(file.name.clone());
                continue;
            }
            let source = resolver.resolve(&file.name)?;
            if is_generated(&source) {
                report.generated.push(file.name.clone());
                continue;
            }
            let lines: Vec<&[u8]> = source.split(|&b| b == b'\n').collect();
            let mut counts = Counts::default();
            for extent in find_funcs(&source) {
                if is_ignored(&lines, extent.start_line) {
                    report.ignored.push(format!(
                        "{}:{}: {}",
                        file.name, extent.start_line, extent.name
                    ));
                    continue;
                }
                add(&mut counts, func_counts(&extent, file));
            }
            add(packages.entry(package_of(&file.name)).or_default(), counts);
            add(&mut report.total, counts);
            report.files.push((file.name.clone(), counts));
        }
        report.packages = packages
            .into_iter()
            .map(|(name, counts)| (name.to_owned(), counts))
            .collect();

        let mut gate = |scope: Scope, name: &str, counts: Counts| {
            if counts.total == 0 {
                return;
            }
            if let Some(required) = self.threshold(scope, name) {
                report.checked += 1;
                if counts.percent() < required {
                    report.failures.push(Failure {
                        scope,
                        name: name.to_owned(),
                        counts,
                        required,
                    });
                }
            }
        };
        gate(Scope::Total, "total", report.total);
        for (name, counts) in &report.packages {
            gate(Scope::Package, name, *counts);
        }
        for (name, counts) in &report.files {
            gate(Scope::File, name, *counts);
        }
        report.failures.sort_by(|a, b| {
            b.shortfall()
                .total_cmp(&a.shortfall())
                .then(a.scope.cmp(&b.scope))
                .then_with(|| a.name.cmp(&b.name))
        });
        Ok(report)
    }
}

fn add(into: &mut Counts, counts: Counts) {
    into.covered += counts.covered;
    into.total += counts.total;
}

/// Go's rule (`go/ast.IsGenerated`): a `// Code generated … DO NOT EDIT.` line before the package clause.
fn is_generated(source: &[u8]) -> bool {
    const PREFIX: &[u8] = b"// Code generated ";
    const SUFFIX: &[u8] = b" DO NOT EDIT.";
    for line in source.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.len() >= PREFIX.len() + SUFFIX.len()
            && line.starts_with(PREFIX)
            && line.ends_with(SUFFIX)
        {
            return true;
        }
        let trimmed = line.trim_ascii_start();
        if trimmed.starts_with(b"package")
            && trimmed
                .get(b"package".len())
                .is_some_and(u8::is_ascii_whitespace)
        {
            return false;
        }
    }
    false
}

/// Whether `text` holds the ignore comment, as a whole word (so `//coverage:ignored` does not count).
fn has_ignore(text: &[u8]) -> bool {
    let marker = IGNORE_COMMENT.as_bytes();
    text.windows(marker.len()).enumerate().any(|(i, w)| {
        w == marker
            && text
                .get(i + marker.len())
                .is_none_or(u8::is_ascii_whitespace)
    })
}

fn is_ignored(lines: &[&[u8]], line: u32) -> bool {
    let Some(index) = usize::try_from(line).ok().and_then(|l| l.checked_sub(1)) else {
        return false;
    };
    if lines.get(index).is_some_and(|l| has_ignore(l)) {
        return true;
    }
    // The line before must be the comment alone, not code that happens to end with it.
    index
        .checked_sub(1)
        .and_then(|i| lines.get(i))
        .is_some_and(|l| {
            let l = l.trim_ascii();
            l.starts_with(IGNORE_COMMENT.as_bytes()) && has_ignore(l)
        })
}

/// One gate that failed.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    /// Total, package or file.
    pub scope: Scope,
    /// The package or file path (`total` for the total).
    pub name: String,
    /// Its statements.
    pub counts: Counts,
    /// The threshold it missed, in percent.
    pub required: f64,
}

impl Failure {
    /// How many percentage points are missing.
    pub fn shortfall(&self) -> f64 {
        self.required - self.counts.percent()
    }
}

/// The outcome of [`Gates::check`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GateReport {
    /// Failed gates, worst (largest shortfall) first.
    pub failures: Vec<Failure>,
    /// How many gates were checked.
    pub checked: usize,
    /// Statements counted, in total.
    pub total: Counts,
    /// Per package, sorted.
    pub packages: Vec<(String, Counts)>,
    /// Per kept file, in profile order.
    pub files: Vec<(String, Counts)>,
    /// Files dropped by an exclude.
    pub excluded: Vec<String>,
    /// Files dropped as generated.
    pub generated: Vec<String>,
    /// Functions dropped by `//coverage:ignore`, as `file:line: name`.
    pub ignored: Vec<String>,
}

impl GateReport {
    /// Whether every gate passed.
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }

    /// The report as `slipway cover check` prints it: one line per failure, worst first, then a verdict.
    ///
    /// ```text
    /// FAIL package example.com/m/util: 40.0% < 80.0% (2 of 5 statements)
    /// coverage check failed: 1 of 4 gates; total 75.0% (15 of 20 statements), …
    /// ```
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for f in &self.failures {
            let name = if f.scope == Scope::Total {
                String::new()
            } else {
                format!(" {}", f.name)
            };
            let _ = writeln!(
                out,
                "FAIL {}{name}: {:.1}% < {:.1}% ({} of {} statements)",
                f.scope.as_str(),
                f.counts.percent(),
                f.required,
                f.counts.covered,
                f.counts.total,
            );
        }
        let verdict = if self.passed() {
            format!("coverage check passed: {} gates", self.checked)
        } else {
            format!(
                "coverage check failed: {} of {} gates",
                self.failures.len(),
                self.checked
            )
        };
        let _ = writeln!(
            out,
            "{verdict}; total {:.1}% ({} of {} statements), {} packages, {} files, \
             {} excluded, {} generated, {} ignored functions",
            self.total.percent(),
            self.total.covered,
            self.total.total,
            self.packages.len(),
            self.files.len(),
            self.excluded.len(),
            self.generated.len(),
            self.ignored.len(),
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemoryResolver;

    const A: &str =
        "package p\n\nfunc A() {\n\tprintln()\n\tprintln()\n}\n\nfunc B() {\n\tprintln()\n}\n";
    const GEN: &str =
        "// Code generated by stringer; DO NOT EDIT.\n\npackage q\n\nfunc G() {\n\tprintln()\n}\n";
    const IGN: &str = "package q\n\n//coverage:ignore reached on SIGHUP only\nfunc H() {\n\tprintln()\n}\n\nfunc I() { //coverage:ignore\n\tprintln()\n}\n\nfunc J() {\n\tprintln()\n}\n";

    fn setup() -> (Profile, MemoryResolver) {
        let profile = Profile::parse(
            "t.out",
            "mode: set\n\
             m/p/a.go:3.10,6.2 2 1\n\
             m/p/a.go:8.10,10.2 1 0\n\
             m/q/gen.go:5.10,7.2 1 0\n\
             m/q/ign.go:4.10,6.2 1 0\n\
             m/q/ign.go:8.30,10.2 1 0\n\
             m/q/ign.go:12.10,14.2 1 1\n",
        )
        .unwrap();
        let resolver = MemoryResolver::new()
            .with_file("m/p/a.go", A)
            .with_file("m/q/gen.go", GEN)
            .with_file("m/q/ign.go", IGN);
        (profile, resolver)
    }

    #[test]
    fn generated_files_and_ignored_functions_leave_the_numbers() {
        let (profile, resolver) = setup();
        let report = Gates::new().check(&profile, &resolver).unwrap();
        assert_eq!(report.generated, ["m/q/gen.go"]);
        assert_eq!(report.ignored, ["m/q/ign.go:4: H", "m/q/ign.go:8: I"]);
        assert_eq!(
            report.total,
            Counts {
                covered: 3,
                total: 4
            }
        );
        assert_eq!(
            report.packages,
            [
                (
                    "m/p".to_owned(),
                    Counts {
                        covered: 2,
                        total: 3
                    }
                ),
                (
                    "m/q".to_owned(),
                    Counts {
                        covered: 1,
                        total: 1
                    }
                )
            ]
        );
        assert!(report.passed());
        assert_eq!(report.checked, 0);
    }

    #[test]
    fn failures_come_worst_first_with_overrides_applied() {
        let (profile, resolver) = setup();
        let report = Gates::new()
            .total(80.0)
            .unwrap()
            .package(70.0)
            .unwrap()
            .file(90.0)
            .unwrap()
            .with_override("^m/q/=100")
            .unwrap()
            .with_override("^m/=10")
            .unwrap()
            .check(&profile, &resolver)
            .unwrap();
        // total 75 < 80 (short 5); m/p 66.7 passes its 10 override; m/p/a.go 66.7 passes 10;
        // m/q 100 and m/q/ign.go 100 pass 100.
        assert_eq!(report.checked, 5);
        assert_eq!(report.failures.len(), 1);
        assert_eq!(
            report.to_text(),
            "FAIL total: 75.0% < 80.0% (3 of 4 statements)\n\
             coverage check failed: 1 of 5 gates; total 75.0% (3 of 4 statements), 2 packages, 2 files, \
             0 excluded, 1 generated, 2 ignored functions\n"
        );

        let report = Gates::new()
            .total(50.0)
            .unwrap()
            .package(70.0)
            .unwrap()
            .file(95.0)
            .unwrap()
            .check(&profile, &resolver)
            .unwrap();
        let got: Vec<(Scope, &str)> = report
            .failures
            .iter()
            .map(|f| (f.scope, f.name.as_str()))
            .collect();
        assert_eq!(got, [(Scope::File, "m/p/a.go"), (Scope::Package, "m/p")]);
    }

    #[test]
    fn excluded_files_are_never_resolved() {
        let (profile, _) = setup();
        let resolver = MemoryResolver::new().with_file("m/p/a.go", A);
        assert!(Gates::new().check(&profile, &resolver).is_err());
        let report = Gates::new()
            .exclude("^m/q/")
            .unwrap()
            .total(66.0)
            .unwrap()
            .check(&profile, &resolver)
            .unwrap();
        assert_eq!(report.excluded, ["m/q/gen.go", "m/q/ign.go"]);
        assert!(report.passed(), "{}", report.to_text());
        assert!(
            report
                .to_text()
                .starts_with("coverage check passed: 1 gates")
        );
    }

    #[test]
    fn bad_definitions_are_errors() {
        assert!(matches!(
            Gates::new().total(101.0),
            Err(GateError::Percent { .. })
        ));
        assert!(matches!(
            Gates::new().with_override("nope"),
            Err(GateError::Override { .. })
        ));
        assert!(matches!(
            Gates::new().with_override("x=abc"),
            Err(GateError::Percent { .. })
        ));
        assert!(matches!(
            Gates::new().exclude("("),
            Err(GateError::Regex { .. })
        ));
        // The last `=` splits, so the regex keeps its own.
        assert!(Gates::new().with_override("a=b=50").is_ok());
    }

    #[test]
    fn generated_marker_must_precede_the_package_clause_and_match_exactly() {
        assert!(is_generated(
            b"// Code generated by x. DO NOT EDIT.\r\npackage p\n"
        ));
        assert!(!is_generated(
            b"package p\n// Code generated by x. DO NOT EDIT.\n"
        ));
        assert!(!is_generated(
            b"// Code generated by x. DO NOT EDIT\npackage p\n"
        ));
        assert!(!is_generated(
            b"// Code generated DO NOT EDIT.\npackage p\n"
        ));
        assert!(!is_generated(
            b"/* Code generated x DO NOT EDIT. */\npackage p\n"
        ));
    }

    #[test]
    fn ignore_comment_is_a_whole_word_on_the_func_line_or_alone_before_it() {
        let lines: Vec<&[u8]> = vec![
            b"x := 1 //coverage:ignore",
            b"func A() {",
            b"//coverage:ignored",
            b"func B() {",
            b"  //coverage:ignore",
            b"func C() {",
        ];
        assert!(!is_ignored(&lines, 2));
        assert!(!is_ignored(&lines, 4));
        assert!(is_ignored(&lines, 6));
        assert!(is_ignored(&lines, 1));
        assert!(!is_ignored(&lines, 0));
    }
}
