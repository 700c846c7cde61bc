//! Go test coverage, with the Go toolchain's numbers.
//!
//! `slipway-cover` reads the text profiles `go test -coverprofile` writes, merges several of them the way
//! Go does, finds function extents in Go source without running the Go toolchain, and summarises coverage
//! per function, file, package and in total, line for line as `go tool cover -func` prints it.
//!
//! Roles:
//! - [`Profile`] / [`ProfileMerger`]: streaming parse of `mode:` + `file:SL.SC,EL.EC numStmt count` lines
//!   (parsed from the right, so file names may contain `:`; CRLF accepted), merging identical blocks (OR in
//!   `set` mode, saturating sum otherwise) across files and repeated `mode:` lines, and writing back in the
//!   order `go tool covdata textfmt` uses.
//! - [`covdata`]: binary coverage data (`GOCOVERDIR`, Go >= 1.20): meta-data and counter-data files
//!   decoded, directories merged as `go tool covdata` merges them (also `subtract` and `intersect`), and
//!   printed as `go tool covdata func`, `percent` and `textfmt` print them, or converted to a [`Profile`].
//! - [`find_funcs`]: every top-level function declaration with a body in a Go file, positioned as
//!   `go/token` positions it (including `//line` directives).
//! - [`SourceResolver`]: profile file name to Go source ([`ModuleResolver`] reads go.mod, go.work, vendor/
//!   and GOROOT/src; [`MemoryResolver`] holds sources in memory).
//! - [`FuncReport`] and [`Summary`]: the numbers.
//! - [`ReportWriter`]: [`GoFuncText`], [`Lcov`] (accepted by `genhtml`), [`Cobertura`] XML, [`Json`]
//!   (schema `docs/cover-json.schema.json`, described in the README) and [`Html`] (one self-contained
//!   page, sources highlighted as `go tool cover -html` does, plus package tables), written from a
//!   [`Coverage`] (a profile with its functions and source paths).
//! - [`gate::Gates`]: thresholds for the total, each package and each file (regex overrides, excludes,
//!   generated files skipped, `//coverage:ignore` functions left out), checked into a [`gate::GateReport`].
//! - [`gate::DiffGate`]: diff coverage, the changed lines (from a [`gate::ChangedLines`] provider such as
//!   `gate::GitChanges` (feature `git`) or a unified diff) mapped onto the profile's blocks, with a threshold.
//!
//! # Two totals
//!
//! Go prints two different coverage totals for the same profile, and both are available here:
//! - `go test -cover` prints `coverage: X% of statements`, computed over **every** block in the profile:
//!   [`Summary::total`] (and [`Counts::go_test_line`] for the exact text).
//! - `go tool cover -func` prints `total: (statements) X%`, computed over the blocks that fall **inside
//!   function declarations** only: [`FuncReport::total`].
//!
//! They differ when statements sit outside function declarations, as in package-level function literals
//! (`var handler = func(…) {…}`): `go test` counts those statements, `-func` does not.
//!
//! # Differences from `go tool cover`, on purpose
//!
//! - A repeated `mode:` line with the same mode is accepted, so concatenated profiles merge
//!   (`go tool cover` rejects the second line); a different mode is an error naming both places.
//! - Blank lines are skipped; counts that would overflow saturate at `i64::MAX` instead of wrapping.
//! - Errors name the profile and line (and both places for conflicting statement counts).
//! - Sources are found from the file system (go.mod, go.work, vendor/, GOROOT) instead of `go list`.
//!
//! # Speed
//!
//! Measured side by side with `go tool cover -func` and `go tool covdata` (several times faster, same
//! bytes out): the figures, machine and date are in the repository's `docs/performance.md`, with the
//! scripts that rerun them.
//!
//! # Example
//!
//! ```
//! use slipway_cover::{FuncReport, MemoryResolver, Profile, Summary};
//!
//! let source = "package p\n\nfunc Add(a, b int) int {\n\treturn a + b\n}\n\nvar Twice = func(x int) int {\n\treturn 2 * x\n}\n";
//! let profile = Profile::parse(
//!     "cover.out",
//!     "mode: set\nexample.com/p/p.go:3.24,5.2 1 1\nexample.com/p/p.go:7.29,9.2 1 0\n",
//! )?;
//! let resolver = MemoryResolver::new().with_file("example.com/p/p.go", source);
//! let report = FuncReport::new(&profile, &resolver)?;
//! assert_eq!(
//!     report.to_go_text(),
//!     "example.com/p/p.go:3:\tAdd\t\t100.0%\ntotal:\t\t\t(statements)\t100.0%\n"
//! );
//! // go test counts the package-level literal too.
//! assert_eq!(Summary::of(&profile).total.go_test_line(), "coverage: 50.0% of statements");
//! Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod covdata;
mod error;
mod export;
mod funcs;
pub mod gate;
mod profile;
mod quote;
mod resolve;
mod summary;

pub use error::{Error, Result};
pub use export::{
    Cobertura, Coverage, GoFuncText, Html, JSON_SCHEMA_VERSION, Json, Lcov, ReportWriter, line_hits,
};
pub use funcs::{FuncExtent, find_funcs};
pub use profile::{Block, FileProfile, Mode, Profile, ProfileMerger, UnknownMode};
pub use resolve::{MemoryResolver, Module, ModuleResolver, ResolveError, SourceResolver};
pub use summary::{Counts, FuncCoverage, FuncReport, Summary};
