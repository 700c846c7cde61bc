//! The JSON report: every number slipway computes, in a documented, versioned shape for tools.
//!
//! The schema is `docs/cover-json.schema.json` (JSON Schema draft 2020-12) and is described in prose in
//! the crate README. Output is deterministic: keys in a fixed order, packages and files sorted by name,
//! functions and blocks in source order, no timestamps.

use std::fmt::Write as _;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::{Coverage, ReportWriter, qualified_name};
use crate::profile::{FileProfile, package_of};
use crate::summary::{Counts, Summary};

/// The `schema` value this version writes. It changes only when a field changes meaning or goes away;
/// new fields may appear within a version, so readers should ignore keys they do not know.
pub const JSON_SCHEMA_VERSION: u32 = 1;

/// JSON report writer (schema [`JSON_SCHEMA_VERSION`], see `docs/cover-json.schema.json`).
///
/// ```
/// use slipway_cover::{Coverage, Json, MemoryResolver, Profile, ReportWriter};
///
/// let source = "package p\n\nfunc F() {\n\tprintln()\n}\n\nvar G = func() {\n\tprintln()\n}\n";
/// let profile = Profile::parse("c.out", "mode: set\nm/p/p.go:3.11,5.2 1 1\nm/p/p.go:7.16,9.2 1 0\n")?;
/// let resolver = MemoryResolver::new().with_file("m/p/p.go", source);
/// let mut out = Vec::new();
/// Json::default().write_report(&Coverage::new(profile, &resolver)?, &mut out)?;
/// let text = String::from_utf8(out)?;
/// assert!(text.starts_with("{\n  \"schema\": 1,\n"));
/// // go test's total counts the package-level literal; -func's does not.
/// assert!(text.contains("\"totals\": {\"statements\": {\"covered\": 1, \"total\": 2, \"percent\": 50}, \"functions\": {\"covered\": 1, \"total\": 1, \"percent\": 100}}"));
/// Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Json {
    /// Directory that resolved source paths are made relative to (when they lie under it).
    pub relative_to: Option<PathBuf>,
}

impl Json {
    /// Writes each file's resolved `path` relative to `dir` when it lies under `dir` (with `/`
    /// separators), so that reports do not depend on where the checkout is.
    #[must_use]
    pub fn relative_to(mut self, dir: impl Into<PathBuf>) -> Self {
        self.relative_to = Some(dir.into());
        self
    }

    fn path_of(&self, coverage: &Coverage, file: &str) -> Option<String> {
        let path = coverage.paths.get(file)?;
        Some(relative_path(self.relative_to.as_deref(), path))
    }

    /// One entry of a package's `files` array.
    fn write_file(
        &self,
        text: &mut String,
        coverage: &Coverage,
        file: &FileProfile,
        file_statements: Counts,
    ) {
        let file_funcs: Vec<_> = coverage.funcs_of(&file.name).collect();
        let file_func_counts = file_funcs.iter().fold(Counts::default(), |acc, f| Counts {
            covered: acc.covered + f.counts.covered,
            total: acc.total + f.counts.total,
        });
        let path = self
            .path_of(coverage, &file.name)
            .map_or_else(|| "null".to_owned(), |p| string(&p));
        let _ = write!(
            text,
            "        {{\n          \"name\": {},\n          \"path\": {path},\n          \"statements\": {},\n          \"functions\": {},\n          \"funcs\": [",
            string(&file.name),
            counts(file_statements),
            counts(file_func_counts),
        );
        for (i, f) in file_funcs.iter().enumerate() {
            text.push_str(if i == 0 { "\n" } else { ",\n" });
            let receiver = f
                .extent
                .receiver
                .as_deref()
                .map_or_else(|| "null".to_owned(), string);
            let _ = write!(
                text,
                "            {{\"name\": {}, \"receiver\": {receiver}, \"qualified\": {}, \"line\": {}, \"column\": {}, \"end_line\": {}, \"end_column\": {}, \"statements\": {}, \"covered\": {}, \"percent\": {}}}",
                string(&f.extent.name),
                string(&qualified_name(f)),
                f.extent.start_line,
                f.extent.start_col,
                f.extent.end_line,
                f.extent.end_col,
                f.counts.total,
                f.counts.covered,
                number(f.counts.percent()),
            );
        }
        text.push_str(if file_funcs.is_empty() {
            "],\n"
        } else {
            "\n          ],\n"
        });
        text.push_str("          \"blocks\": [");
        for (i, b) in file.blocks.iter().enumerate() {
            text.push_str(if i == 0 { "\n" } else { ",\n" });
            let _ = write!(
                text,
                "            {{\"start_line\": {}, \"start_column\": {}, \"end_line\": {}, \"end_column\": {}, \"statements\": {}, \"count\": {}}}",
                b.start_line, b.start_col, b.end_line, b.end_col, b.num_stmt, b.count
            );
        }
        text.push_str(if file.blocks.is_empty() {
            "]\n        }"
        } else {
            "\n          ]\n        }"
        });
    }
}

/// `path` relative to `base` when it lies under it, with `/` separators; otherwise `path` unchanged.
pub(crate) fn relative_path(base: Option<&Path>, path: &str) -> String {
    let Some(rest) = base.and_then(|b| Path::new(path).strip_prefix(b).ok()) else {
        return path.to_owned();
    };
    let parts: Vec<String> = rest
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    parts.join("/")
}

impl ReportWriter for Json {
    fn write_report(&self, coverage: &Coverage, out: &mut dyn Write) -> io::Result<()> {
        let profile = coverage.profile();
        let summary = Summary::of(profile);
        let funcs = coverage.funcs();
        let func_packages = funcs.packages();
        let mut text = String::new();
        text.push_str("{\n");
        let _ = writeln!(text, "  \"schema\": {JSON_SCHEMA_VERSION},");
        let _ = writeln!(
            text,
            "  \"generator\": {},",
            string(concat!("slipway-cover ", env!("CARGO_PKG_VERSION")))
        );
        let mode = profile
            .mode()
            .map_or_else(|| "null".to_owned(), |m| string(m.as_str()));
        let _ = writeln!(text, "  \"mode\": {mode},");
        let _ = writeln!(
            text,
            "  \"totals\": {{\"statements\": {}, \"functions\": {}}},",
            counts(summary.total),
            counts(funcs.total)
        );
        text.push_str("  \"packages\": [");
        for (pi, (package, statements)) in summary.packages.iter().enumerate() {
            let in_funcs = func_packages
                .iter()
                .find(|(p, _)| p == package)
                .map(|(_, c)| *c)
                .unwrap_or_default();
            text.push_str(if pi == 0 { "\n" } else { ",\n" });
            let _ = write!(
                text,
                "    {{\n      \"path\": {},\n      \"statements\": {},\n      \"functions\": {},\n      \"files\": [",
                string(package),
                counts(*statements),
                counts(in_funcs)
            );
            let files = profile
                .files()
                .iter()
                .zip(&summary.files)
                .filter(|(f, _)| package_of(&f.name) == package);
            for (fi, (file, (_, file_statements))) in files.enumerate() {
                text.push_str(if fi == 0 { "\n" } else { ",\n" });
                self.write_file(&mut text, coverage, file, *file_statements);
            }
            text.push_str("\n      ]\n    }");
        }
        text.push_str(if summary.packages.is_empty() {
            "]\n}\n"
        } else {
            "\n  ]\n}\n"
        });
        out.write_all(text.as_bytes())
    }
}

/// `{"covered": C, "total": T, "percent": P}`.
fn counts(c: Counts) -> String {
    format!(
        "{{\"covered\": {}, \"total\": {}, \"percent\": {}}}",
        c.covered,
        c.total,
        number(c.percent())
    )
}

/// A finite float as a JSON number (Rust's shortest round-trip form; `100` rather than `100.0`).
fn number(x: f64) -> String {
    if x.is_finite() {
        format!("{x}")
    } else {
        // Percentages are always finite (the denominator is at least 1); JSON has no NaN anyway.
        "0".to_owned()
    }
}

/// A JSON string literal.
pub(crate) fn string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{MemoryResolver, Profile};

    #[test]
    fn strings_are_escaped() {
        assert_eq!(string("a\"b\\c\n\u{1}é"), "\"a\\\"b\\\\c\\n\\u0001é\"");
    }

    #[test]
    fn relative_paths_use_slashes_and_leave_outsiders_alone() {
        let base = Path::new("/repo");
        assert_eq!(relative_path(Some(base), "/repo/a/b.go"), "a/b.go");
        assert_eq!(
            relative_path(Some(base), "/elsewhere/b.go"),
            "/elsewhere/b.go"
        );
        assert_eq!(relative_path(None, "/repo/a/b.go"), "/repo/a/b.go");
    }

    #[test]
    fn report_has_both_totals_and_every_level() {
        let src =
            "package p\n\nfunc (r *R) M() {\n\tprintln()\n}\n\nvar f = func() {\n\tprintln()\n}\n";
        let profile = Profile::parse(
            "p.out",
            "mode: count\nm/p/a.go:3.18,5.2 1 4\nm/p/a.go:7.16,9.2 1 0\n",
        )
        .unwrap();
        let coverage = Coverage::new(profile, &MemoryResolver::new().with_file("m/p/a.go", src))
            .unwrap()
            .with_source_path("m/p/a.go", "/src/p/a.go");
        let mut out = Vec::new();
        Json::default()
            .relative_to("/src")
            .write_report(&coverage, &mut out)
            .unwrap();
        let text = String::from_utf8(out).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["schema"], 1);
        assert_eq!(v["mode"], "count");
        assert_eq!(v["totals"]["statements"]["percent"], 50.0);
        assert_eq!(v["totals"]["functions"]["percent"], 100.0);
        let file = &v["packages"][0]["files"][0];
        assert_eq!(file["path"], "p/a.go");
        assert_eq!(file["funcs"][0]["qualified"], "(*R).M");
        assert_eq!(file["funcs"][0]["receiver"], "*R");
        assert_eq!(file["blocks"][1]["count"], 0);
        assert_eq!(file["blocks"][0]["start_column"], 18);
    }

    #[test]
    fn empty_profile_is_valid_json() {
        let coverage = Coverage::new(Profile::default(), &MemoryResolver::new()).unwrap();
        let mut out = Vec::new();
        Json::default().write_report(&coverage, &mut out).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["mode"], serde_json::Value::Null);
        assert_eq!(v["packages"], serde_json::json!([]));
    }
}
