//! Reports in the formats CI systems read: `go tool cover -func` text, LCOV, Cobertura XML, JSON for
//! tools ([`Json`]) and a self-contained HTML page ([`Html`]).
//!
//! Line data is derived from blocks: a block covers the lines from its start line to its end line,
//! except an end line it reaches only at column 1 (block ends are exclusive). A line's hit count is the
//! highest count among the blocks with statements that cover it, so a line is hit when any of its
//! statements ran. Function hit counts are the count of the function's first block (its entry). Blocks
//! spanning more than 2^20 lines (malformed input) contribute no line data.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{self, Write};
use std::sync::Arc;

use crate::error::Result;
use crate::profile::{FileProfile, Profile, package_of};
use crate::resolve::SourceResolver;
use crate::summary::{FuncCoverage, FuncReport, blocks_in};

mod html;
mod json;

pub use html::Html;
pub use json::{JSON_SCHEMA_VERSION, Json};

/// A profile with its functions and the on-disk path of each file: what every report is made from.
#[derive(Debug, Clone)]
pub struct Coverage {
    profile: Profile,
    funcs: FuncReport,
    paths: BTreeMap<String, String>,
}

impl Coverage {
    /// Reads each file's source through `resolver` to find its functions.
    pub fn new(profile: Profile, resolver: &dyn SourceResolver) -> Result<Coverage> {
        let funcs = FuncReport::new(&profile, resolver)?;
        Ok(Coverage {
            profile,
            funcs,
            paths: BTreeMap::new(),
        })
    }

    /// Names the source path reports should give for `file` (LCOV `SF:`, Cobertura `filename`);
    /// without one, the profile's name is used.
    #[must_use]
    pub fn with_source_path(mut self, file: impl Into<String>, path: impl Into<String>) -> Self {
        self.paths.insert(file.into(), path.into());
        self
    }

    /// The profile.
    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    /// The per-function report.
    pub fn funcs(&self) -> &FuncReport {
        &self.funcs
    }

    /// The path reports give for a profile file.
    pub fn source_path<'a>(&'a self, file: &'a str) -> &'a str {
        self.paths.get(file).map_or(file, String::as_str)
    }

    fn funcs_of<'a>(&'a self, file: &'a str) -> impl Iterator<Item = &'a FuncCoverage> + 'a {
        self.funcs.funcs.iter().filter(move |f| f.file == file)
    }
}

/// Hit counts per source line of one file, ascending by line (see the module docs for the rule).
pub fn line_hits(file: &FileProfile) -> Vec<(u32, u64)> {
    let mut lines: BTreeMap<u32, u64> = BTreeMap::new();
    for b in file.blocks.iter().filter(|b| b.num_stmt > 0) {
        let last = if b.end_line > b.start_line && b.end_col <= 1 {
            b.end_line - 1
        } else {
            b.end_line
        };
        // A block over a million lines is no real Go file's; expanding it would allocate per line.
        if last.saturating_sub(b.start_line) > 1 << 20 {
            continue;
        }
        for line in b.start_line..=last {
            let hits = lines.entry(line).or_insert(0);
            *hits = (*hits).max(b.count);
        }
    }
    lines.into_iter().collect()
}

/// How often a function was entered: the count of its first block.
fn entry_count(f: &FuncCoverage, file: &FileProfile) -> u64 {
    blocks_in(&f.extent, file).next().map_or(0, |b| b.count)
}

/// A function's name qualified by its receiver, as Go's tools print methods: `Rect.Area`, `(*Rect).Scale`.
fn qualified_name(f: &FuncCoverage) -> String {
    match f.extent.receiver.as_deref() {
        Some(r) if r.starts_with('*') => format!("({r}).{}", f.extent.name),
        Some(r) => format!("{r}.{}", f.extent.name),
        None => f.extent.name.clone(),
    }
}

/// Writes a report in one format.
pub trait ReportWriter {
    /// Writes `coverage` to `out`.
    fn write_report(&self, coverage: &Coverage, out: &mut dyn Write) -> io::Result<()>;
}

impl<T: ReportWriter + ?Sized> ReportWriter for &T {
    fn write_report(&self, coverage: &Coverage, out: &mut dyn Write) -> io::Result<()> {
        (**self).write_report(coverage, out)
    }
}

impl<T: ReportWriter + ?Sized> ReportWriter for Box<T> {
    fn write_report(&self, coverage: &Coverage, out: &mut dyn Write) -> io::Result<()> {
        (**self).write_report(coverage, out)
    }
}

impl<T: ReportWriter + ?Sized> ReportWriter for Arc<T> {
    fn write_report(&self, coverage: &Coverage, out: &mut dyn Write) -> io::Result<()> {
        (**self).write_report(coverage, out)
    }
}

/// `go tool cover -func` text.
#[derive(Debug, Clone, Copy, Default)]
pub struct GoFuncText;

impl ReportWriter for GoFuncText {
    fn write_report(&self, coverage: &Coverage, out: &mut dyn Write) -> io::Result<()> {
        out.write_all(coverage.funcs.to_go_text().as_bytes())
    }
}

/// LCOV tracefile (`genhtml`, Coveralls, `SonarQube`, …): `SF`, `FN`/`FNDA`/`FNF`/`FNH`, `DA`, `LF`/`LH`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Lcov;

impl ReportWriter for Lcov {
    fn write_report(&self, coverage: &Coverage, out: &mut dyn Write) -> io::Result<()> {
        let mut text = String::new();
        for file in coverage.profile.files() {
            text.push_str("TN:\n");
            push_line(&mut text, &["SF:", coverage.source_path(&file.name)]);
            let funcs: Vec<_> = coverage.funcs_of(&file.name).collect();
            let names = unique_names(&funcs);
            for (f, name) in funcs.iter().zip(&names) {
                let line = f.extent.start_line.to_string();
                push_line(&mut text, &["FN:", &line, ",", name]);
            }
            let mut hit_funcs = 0;
            for (f, name) in funcs.iter().zip(&names) {
                let count = entry_count(f, file);
                hit_funcs += usize::from(count > 0);
                push_line(&mut text, &["FNDA:", &count.to_string(), ",", name]);
            }
            push_line(&mut text, &["FNF:", &funcs.len().to_string()]);
            push_line(&mut text, &["FNH:", &hit_funcs.to_string()]);
            let lines = line_hits(file);
            for (line, hits) in &lines {
                push_line(
                    &mut text,
                    &["DA:", &line.to_string(), ",", &hits.to_string()],
                );
            }
            let hit = lines.iter().filter(|(_, h)| *h > 0).count();
            push_line(&mut text, &["LF:", &lines.len().to_string()]);
            push_line(&mut text, &["LH:", &hit.to_string()]);
            text.push_str("end_of_record\n");
        }
        out.write_all(text.as_bytes())
    }
}

/// Qualified names, made unique within a file: LCOV keys functions by name, and Go allows several
/// `init` functions per file. The n-th repeat of a name gets `#n` appended (`init`, `init#2`).
fn unique_names(funcs: &[&FuncCoverage]) -> Vec<String> {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    funcs
        .iter()
        .map(|f| {
            let name = qualified_name(f);
            let n = seen.entry(name.clone()).or_insert(0);
            *n += 1;
            if *n == 1 { name } else { format!("{name}#{n}") }
        })
        .collect()
}

fn push_line(text: &mut String, parts: &[&str]) {
    for p in parts {
        text.push_str(p);
    }
    text.push('\n');
}

/// Cobertura XML (Jenkins, GitLab, Azure DevOps): one `<package>` per Go package, one `<class>` per file,
/// one `<method>` per function, `<line number hits>` from [`line_hits`].
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Cobertura {
    /// The `timestamp` attribute (milliseconds since the epoch); 0 keeps output reproducible.
    pub timestamp: u64,
    /// `<sources><source>` entries: directories the `filename` attributes are relative to.
    pub sources: Vec<String>,
}

impl Cobertura {
    /// Sets the `timestamp` attribute.
    #[must_use]
    pub fn timestamp(mut self, millis: u64) -> Self {
        self.timestamp = millis;
        self
    }

    /// Adds a `<source>` directory.
    #[must_use]
    pub fn source(mut self, dir: impl Into<String>) -> Self {
        self.sources.push(dir.into());
        self
    }
}

/// Lines hit and lines found, with Cobertura's rate (1 when there are no lines).
#[derive(Debug, Clone, Copy, Default)]
struct LineRate {
    hit: u64,
    valid: u64,
}

impl LineRate {
    fn add(&mut self, lines: &[(u32, u64)]) {
        self.valid += lines.len() as u64;
        self.hit += lines.iter().filter(|(_, h)| *h > 0).count() as u64;
    }

    fn rate(self) -> String {
        if self.valid == 0 {
            return "1".to_owned();
        }
        // Four decimals are what Cobertura's own writer uses; precision loss beyond 2^53 lines is moot.
        #[allow(clippy::cast_precision_loss)]
        let rate = self.hit as f64 / self.valid as f64;
        format!("{rate:.4}")
    }
}

impl ReportWriter for Cobertura {
    fn write_report(&self, coverage: &Coverage, out: &mut dyn Write) -> io::Result<()> {
        let mut packages: BTreeMap<&str, Vec<&FileProfile>> = BTreeMap::new();
        for file in coverage.profile.files() {
            packages
                .entry(package_of(&file.name))
                .or_default()
                .push(file);
        }
        let mut total = LineRate::default();
        let mut body = String::new();
        for (package, files) in &packages {
            let mut package_rate = LineRate::default();
            let mut classes = String::new();
            for file in files {
                let lines = line_hits(file);
                let mut file_rate = LineRate::default();
                file_rate.add(&lines);
                package_rate.add(&lines);
                let base = file.name.rsplit('/').next().unwrap_or(&file.name);
                let _ = write!(
                    classes,
                    "        <class name=\"{}\" filename=\"{}\" line-rate=\"{}\" branch-rate=\"0\" complexity=\"0\">\n          <methods>\n",
                    xml(base),
                    xml(coverage.source_path(&file.name)),
                    file_rate.rate()
                );
                for f in coverage.funcs_of(&file.name) {
                    let own: Vec<(u32, u64)> = lines
                        .iter()
                        .copied()
                        .filter(|(l, _)| (f.extent.start_line..=f.extent.end_line).contains(l))
                        .collect();
                    let mut rate = LineRate::default();
                    rate.add(&own);
                    let _ = write!(
                        classes,
                        "            <method name=\"{}\" signature=\"\" line-rate=\"{}\" branch-rate=\"0\" complexity=\"0\">\n              <lines>\n",
                        xml(&qualified_name(f)),
                        rate.rate()
                    );
                    for (line, hits) in &own {
                        let _ = writeln!(
                            classes,
                            "                <line number=\"{line}\" hits=\"{hits}\"/>"
                        );
                    }
                    classes.push_str("              </lines>\n            </method>\n");
                }
                classes.push_str("          </methods>\n          <lines>\n");
                for (line, hits) in &lines {
                    let _ = writeln!(
                        classes,
                        "            <line number=\"{line}\" hits=\"{hits}\"/>"
                    );
                }
                classes.push_str("          </lines>\n        </class>\n");
            }
            total.hit += package_rate.hit;
            total.valid += package_rate.valid;
            let _ = write!(
                body,
                "    <package name=\"{}\" line-rate=\"{}\" branch-rate=\"0\" complexity=\"0\">\n      <classes>\n{classes}      </classes>\n    </package>\n",
                xml(package),
                package_rate.rate()
            );
        }
        let mut text = String::from(
            "<?xml version=\"1.0\" ?>\n<!DOCTYPE coverage SYSTEM \"http://cobertura.sourceforge.net/xml/coverage-04.dtd\">\n",
        );
        let _ = write!(
            text,
            "<coverage line-rate=\"{}\" branch-rate=\"0\" lines-covered=\"{}\" lines-valid=\"{}\" branches-covered=\"0\" branches-valid=\"0\" complexity=\"0\" version=\"slipway-cover {}\" timestamp=\"{}\">\n  <sources>\n",
            total.rate(),
            total.hit,
            total.valid,
            env!("CARGO_PKG_VERSION"),
            self.timestamp
        );
        for source in &self.sources {
            let _ = writeln!(text, "    <source>{}</source>", xml(source));
        }
        text.push_str("  </sources>\n  <packages>\n");
        text.push_str(&body);
        text.push_str("  </packages>\n</coverage>\n");
        out.write_all(text.as_bytes())
    }
}

/// Escapes text for an XML attribute or element.
fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemoryResolver;

    fn sample() -> Coverage {
        let src = "package p\n\ntype R struct{}\n\nfunc (r *R) M(x int) int {\n\tif x > 0 {\n\t\treturn 1\n\t}\n\treturn 0\n}\n";
        let profile = Profile::parse(
            "p.out",
            "mode: count\nm/p/a&b.go:5.26,6.11 1 3\nm/p/a&b.go:6.11,8.3 1 0\nm/p/a&b.go:9.2,9.10 1 3\n",
        )
        .unwrap();
        Coverage::new(profile, &MemoryResolver::new().with_file("m/p/a&b.go", src)).unwrap()
    }

    #[test]
    fn lcov_lists_functions_and_lines() {
        let mut out = Vec::new();
        Lcov.write_report(&sample(), &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "TN:\nSF:m/p/a&b.go\nFN:5,(*R).M\nFNDA:3,(*R).M\nFNF:1\nFNH:1\nDA:5,3\nDA:6,3\nDA:7,0\nDA:8,0\nDA:9,3\nLF:5\nLH:3\nend_of_record\n"
        );
    }

    #[test]
    fn cobertura_escapes_and_rates() {
        let mut out = Vec::new();
        Cobertura::default()
            .source("/src")
            .write_report(&sample(), &mut out)
            .unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("<coverage line-rate=\"0.6000\" branch-rate=\"0\" lines-covered=\"3\" lines-valid=\"5\""), "{text}");
        assert!(
            text.contains(
                "<class name=\"a&amp;b.go\" filename=\"m/p/a&amp;b.go\" line-rate=\"0.6000\""
            ),
            "{text}"
        );
        assert!(text.contains("<method name=\"(*R).M\""), "{text}");
        assert!(text.contains("<source>/src</source>"), "{text}");
    }
}
