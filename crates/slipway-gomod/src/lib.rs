//! Go modules exactly as the Go toolchain reads them.
//!
//! Modules (each owns its `Error`):
//! - [`version`]: Go semver (`v1.2.3`, shorthands, `+incompatible`) and Go-version ordering for `go` lines.
// (further modules register here as they land)

#![doc(html_root_url = "https://docs.rs/slipway-gomod")]
