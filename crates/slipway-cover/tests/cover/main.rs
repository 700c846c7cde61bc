//! Integration tests for slipway-cover: every output is compared with what the real Go toolchain produced
//! (fixtures written by `scripts/gen-cover-fixtures.sh`), or with the Go toolchain run at test time.

mod covdata;
#[cfg(feature = "git")]
mod diff;
mod export;
mod fixtures;
mod goroot;
mod props;
mod quotes;
mod resolve;

use std::path::PathBuf;

/// `crates/slipway-cover/tests/fixtures/out/<name>`.
pub fn out(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/out")
        .join(name)
}

/// The fixture Go module.
pub fn module_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/src")
}

/// A fixture file's text.
///
/// # Panics
/// When the fixture is missing (run `scripts/gen-cover-fixtures.sh`).
pub fn read(name: &str) -> String {
    std::fs::read_to_string(out(name)).unwrap_or_else(|e| panic!("{}: {e}", out(name).display()))
}
