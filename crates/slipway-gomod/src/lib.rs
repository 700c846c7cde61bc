//! Go modules exactly as the Go toolchain reads them.
//!
//! Modules (each owns its `Error`):
//! - [`version`]: Go semver (`v1.2.3`, shorthands, `+incompatible`) and Go-version ordering for `go` lines.
//! - [`modfile`]: go.mod and go.work: lossless syntax tree, typed view, edits, `go mod edit -fmt`/`-json`.
//! - [`module`]: module paths (`check_path`, import and file paths), major-version suffixes, `!` case escaping.
//! - [`pseudo`]: pseudo-versions: build the three forms, read base, time and revision.
//! - [`dirhash`]: `h1:` hashes of module zips, directories and go.mod files.
//! - [`sum`]: go.sum read, write (sorted as Go writes it) and verify.
//! - [`buildinfo`]: the Go version, modules and build settings embedded in Go executables (ELF, PE, Mach-O),
//!   and [`buildinfo::go_version_m`], the whole of `go version -m ARG` (files that are not Go executables,
//!   directories walked).
//! - [`layout`]: a module tree's packages, main packages, `internal/` violations and go.mod tidiness.
//! - [`source`]: where module versions come from: GOPROXY over HTTP(S) (feature `http`) and `file://`, GOPROXY
//!   lists with `,`/`|`/`off`/`direct` and GONOPROXY, the module cache (read and populated byte for byte as
//!   `go mod download` writes it), `from_env()` as `go env` resolves it, parallel go.mod prefetch.
//! - [`mvs`]: minimal version selection as cmd/go computes it: `go list -m all` and `go mod graph` of a main
//!   module or go.work workspace (pruned and unpruned graphs, excludes, replacements, `go@`/`toolchain@`
//!   nodes, go's errors), plus retractions and deprecations of the selected versions.
//!
//! ```
//! use slipway_gomod::{modfile, version};
//!
//! // A go.mod as `go mod edit -json` reads it, and versions ordered as Go orders them.
//! let f = modfile::ModFile::parse("go.mod", "module example.com/m\n\ngo 1.22\n\nrequire golang.org/x/mod v0.20\n")?;
//! assert_eq!(f.require[0].module.version, "v0.20.0");
//! assert!(version::compare("v0.20.0", "v0.3.0").is_gt());
//! assert!(version::compare_go("1.22", "1.22rc1").is_lt());
//!
//! // Module paths as the proxy and the module cache spell them, and the go.sum hash of a go.mod.
//! assert_eq!(slipway_gomod::module::escape_path("github.com/Azure/go")?, "github.com/!azure/go");
//! let sum_line = format!("example.com/m v1.0.0/go.mod {}", slipway_gomod::dirhash::hash_go_mod(b"module example.com/m\n"));
//! assert!(slipway_gomod::sum::GoSum::parse("go.sum", sum_line.as_bytes()).is_ok());
//! Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Measured for [`mvs`] (`scripts/bench-gomod-list.sh 40`, 2 cores, other work paused, 2,000 module
//! versions, warm cache, medians of 40 interleaved runs): `slipway gomod list` 16.7 ms wall / 17.5 ms CPU
//! against `go list -m all` 97.0 ms / 165.8 ms (5.8x / 9.5x; 25.5 / 36.4 ms without the module cache
//! pack); `slipway gomod graph` 18.1 / 19.8 ms against `go mod graph` 78.1 / 134.7 ms (4.3x / 6.8x).

#![doc(html_root_url = "https://docs.rs/slipway-gomod")]

pub mod buildinfo;
pub mod dirhash;
pub mod layout;
pub mod modfile;
pub mod module;
pub mod mvs;
pub mod pseudo;
pub mod source;
pub mod sum;
pub mod version;
