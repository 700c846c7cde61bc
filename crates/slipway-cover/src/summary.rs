//! Summaries: per function (`go tool cover -func`), per file, per package and in total.
//!
//! Two totals exist and both are Go's:
//! - [`FuncReport::total`] is the `total:` line of `go tool cover -func`: only blocks that lie inside a
//!   function declaration with a body count (closures count toward the function around them).
//! - [`Summary::total`] is what `go test -cover` prints as `coverage: X% of statements`: every block of
//!   the profile counts, including those in package-level function literals (`var f = func() {…}`).
//!
//! They differ exactly when statements sit outside function declarations.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::error::Result;
use crate::funcs::{FuncExtent, find_funcs};
use crate::profile::{Block, FileProfile, Profile, package_of};
use crate::resolve::SourceResolver;

/// Covered and total statements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    /// Statements in blocks that ran.
    pub covered: u64,
    /// All statements.
    pub total: u64,
}

impl Counts {
    /// The percentage as Go computes it (0 when there are no statements).
    pub fn percent(&self) -> f64 {
        // u64 -> f64 loses precision only beyond 2^53 statements.
        #[allow(clippy::cast_precision_loss)]
        let (covered, total) = (self.covered as f64, self.total.max(1) as f64);
        100.0 * covered / total
    }

    /// `go test`'s line for these counts: `coverage: 71.0% of statements`, or
    /// `coverage: [no statements]` when there are none.
    pub fn go_test_line(&self) -> String {
        if self.total == 0 {
            "coverage: [no statements]".to_owned()
        } else {
            format!("coverage: {:.1}% of statements", self.percent())
        }
    }

    fn add_block(&mut self, block: &Block) {
        self.total += u64::from(block.num_stmt);
        if block.count > 0 {
            self.covered += u64::from(block.num_stmt);
        }
    }

    fn add(&mut self, other: Counts) {
        self.covered += other.covered;
        self.total += other.total;
    }
}

/// Statement coverage per file, per package and in total (what `go test -cover` reports).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Summary {
    /// Per file, in profile order (sorted by name).
    pub files: Vec<(String, Counts)>,
    /// Per package (import path), sorted.
    pub packages: Vec<(String, Counts)>,
    /// All statements: `go test`'s `coverage: X% of statements`.
    pub total: Counts,
}

impl Summary {
    /// Summarises a profile.
    ///
    /// ```
    /// let profile = slipway_cover::Profile::parse("p", "mode: set\nm/p/a.go:3.2,4.3 3 1\nm/p/a.go:5.2,6.3 1 0\n")?;
    /// let summary = slipway_cover::Summary::of(&profile);
    /// assert_eq!(summary.total.go_test_line(), "coverage: 75.0% of statements");
    /// assert_eq!(summary.packages[0].0, "m/p");
    /// Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn of(profile: &Profile) -> Summary {
        let mut packages: BTreeMap<&str, Counts> = BTreeMap::new();
        let mut summary = Summary::default();
        for file in profile.files() {
            let mut counts = Counts::default();
            for block in &file.blocks {
                counts.add_block(block);
            }
            packages.entry(file.package()).or_default().add(counts);
            summary.total.add(counts);
            summary.files.push((file.name.clone(), counts));
        }
        summary.packages = packages
            .into_iter()
            .map(|(name, counts)| (name.to_owned(), counts))
            .collect();
        summary
    }
}

/// One function's line of `go tool cover -func`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FuncCoverage {
    /// The Go file as the profile names it.
    pub file: String,
    /// Where the function is and what it is called.
    pub extent: FuncExtent,
    /// Its statements.
    pub counts: Counts,
}

/// The whole of `go tool cover -func`: functions in file order, then the total.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FuncReport {
    /// Every function with a body in every file of the profile.
    pub funcs: Vec<FuncCoverage>,
    /// The `total:` line: statements inside functions only.
    pub total: Counts,
}

impl FuncReport {
    /// Builds the report, reading each file's source through `resolver`.
    pub fn new(profile: &Profile, resolver: &dyn SourceResolver) -> Result<FuncReport> {
        let mut report = FuncReport::default();
        for file in profile.files() {
            let source = resolver.resolve(&file.name)?;
            for extent in find_funcs(&source) {
                let counts = func_counts(&extent, file);
                report.total.add(counts);
                report.funcs.push(FuncCoverage {
                    file: file.name.clone(),
                    extent,
                    counts,
                });
            }
        }
        Ok(report)
    }

    /// Per-package counts over functions only (the `-func` view of a package).
    pub fn packages(&self) -> Vec<(String, Counts)> {
        let mut packages: BTreeMap<&str, Counts> = BTreeMap::new();
        for f in &self.funcs {
            packages
                .entry(package_of(&f.file))
                .or_default()
                .add(f.counts);
        }
        packages
            .into_iter()
            .map(|(name, counts)| (name.to_owned(), counts))
            .collect()
    }

    /// The report exactly as `go tool cover -func` prints it (tab-aligned the way Go's `text/tabwriter`
    /// aligns it, padding with tabs).
    pub fn to_go_text(&self) -> String {
        let mut rows: Vec<[String; 3]> = Vec::with_capacity(self.funcs.len() + 1);
        for f in &self.funcs {
            rows.push([
                format!("{}:{}:", f.file, f.extent.start_line),
                f.extent.name.clone(),
                format!("{:.1}%", f.counts.percent()),
            ]);
        }
        rows.push([
            "total:".to_owned(),
            "(statements)".to_owned(),
            format!("{:.1}%", self.total.percent()),
        ]);
        tabwrite(&rows)
    }
}

/// Go's `FuncExtent.coverage`.
pub(crate) fn func_counts(f: &FuncExtent, file: &FileProfile) -> Counts {
    let mut counts = Counts::default();
    for b in blocks_in(f, file) {
        counts.add_block(b);
    }
    counts
}

/// The blocks `go tool cover -func` attributes to `f`: those overlapping its extent. Blocks are sorted
/// by start, so the scan stops at the first one past the end.
pub(crate) fn blocks_in<'a>(
    f: &FuncExtent,
    file: &'a FileProfile,
) -> impl Iterator<Item = &'a Block> {
    let (start_line, start_col, end_line, end_col) =
        (f.start_line, f.start_col, f.end_line, f.end_col);
    file.blocks
        .iter()
        .take_while(move |b| {
            !(b.start_line > end_line || (b.start_line == end_line && b.start_col >= end_col))
        })
        .filter(move |b| {
            !(b.end_line < start_line || (b.end_line == start_line && b.end_col <= start_col))
        })
}

/// `text/tabwriter` with `NewWriter(w, 1, 8, 1, '\t', 0)` over rows whose cells all end in a tab except
/// the last: every row has the same cells, so there is one column block per column. A column is as wide
/// as its widest cell (in characters) plus one, rounded up to a multiple of 8, and each cell is padded
/// with as many tabs as cover the rest, counted in steps of 8.
pub(crate) fn tabwrite(rows: &[[String; 3]]) -> String {
    const TAB_WIDTH: usize = 8;
    let width = |column: usize| {
        rows.iter()
            .map(|r| r[column].chars().count() + 1)
            .max()
            .unwrap_or(1)
            .max(1)
    };
    let widths = [width(0), width(1)];
    let mut out = String::with_capacity(rows.len() * 64);
    for row in rows {
        for (cell, &w) in row.iter().zip(&widths) {
            out.push_str(cell);
            let cell_width = w.div_ceil(TAB_WIDTH) * TAB_WIDTH;
            let padding = cell_width - cell.chars().count();
            for _ in 0..padding.div_ceil(TAB_WIDTH) {
                out.push('\t');
            }
        }
        let _ = writeln!(out, "{}", row[2]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_round_like_go() {
        // Go's %.1f rounds exact ties to even, as Rust's formatting does.
        for (value, want) in [
            (6.25, "6.2"),
            (43.75, "43.8"),
            (0.05, "0.1"),
            (99.95, "100.0"),
        ] {
            assert_eq!(format!("{value:.1}"), want);
        }
        let c = Counts {
            covered: 1,
            total: 16,
        };
        assert_eq!(format!("{:.1}", c.percent()), "6.2");
        assert_eq!(format!("{:.1}", Counts::default().percent()), "0.0");
        assert_eq!(
            Counts::default().go_test_line(),
            "coverage: [no statements]"
        );
    }

    #[test]
    fn tabwriter_pads_with_tabs_per_cell() {
        let rows = [
            ["a/b.go:3:".to_owned(), "F".to_owned(), "100.0%".to_owned()],
            [
                "total:".to_owned(),
                "(statements)".to_owned(),
                "50.0%".to_owned(),
            ],
        ];
        // Widest cells plus padding: 10 and 13 characters, both rounded up to 16.
        assert_eq!(
            tabwrite(&rows),
            "a/b.go:3:\tF\t\t100.0%\ntotal:\t\t(statements)\t50.0%\n"
        );
    }
}
