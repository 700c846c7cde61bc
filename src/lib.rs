//! `slipway` takes a Go microservice from source to a running Kubernetes rollout.
//!
//! This package is the facade: it re-exports the slipway crates, each behind a cargo feature of the same
//! name, so a tool author can depend on one package and choose capabilities. Each crate also stands alone.
//!
//! ```
//! assert!(!slipway::VERSION.is_empty());
//! Ok::<(), Box<dyn std::error::Error>>(())
//! ```

/// The version of the slipway workspace this facade was built from.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
