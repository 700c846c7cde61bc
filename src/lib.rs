//! `slipway` takes a Go microservice from source to a running Kubernetes rollout.
//!
//! This package is the facade: it re-exports the slipway crates, each behind a cargo feature of the same
//! name (all on by default), so a tool author can depend on one package and choose capabilities. Each crate
//! also stands alone:
//!
//! | feature | module | crate |
//! |---|---|---|
//! | `gomod` | [`gomod`] | `slipway-gomod`: go.mod, go.work, go.sum, Go versions, build info |
//! | `cover` | [`cover`] | `slipway-cover`: Go coverage profiles, summaries, exports |
//! | `oci` | [`oci`] | `slipway-oci`: OCI references, layouts, indexes, Go image builds |
//! | `tag` | [`tag`] | `slipway-tag`: image tags and versions from git or CI |
//! | `deploy` (+ `kube`) | [`deploy`] | `slipway-deploy`: rolling, blue-green and canary rollouts, analysis |
//! | `kubesim` | [`kubesim`] | `slipway-kubesim`: a Kubernetes API on loopback whose pods really run |
//! | `gitops` | [`gitops`] | `slipway-gitops`: image edits in GitOps repositories, commits and pushes |
//!
//! ```
//! assert!(!slipway::VERSION.is_empty());
//! # #[cfg(feature = "oci")]
//! let platform = slipway::oci::Platform::parse("linux/aarch64")?;
//! # #[cfg(feature = "oci")]
//! assert_eq!(platform.to_string(), "linux/arm64");
//! Ok::<(), Box<dyn std::error::Error>>(())
//! ```

/// The version of the slipway workspace this facade was built from.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

#[cfg(feature = "cover")]
#[doc(inline)]
pub use slipway_cover as cover;
#[cfg(feature = "deploy")]
#[doc(inline)]
pub use slipway_deploy as deploy;
#[cfg(feature = "gitops")]
#[doc(inline)]
pub use slipway_gitops as gitops;
#[cfg(feature = "gomod")]
#[doc(inline)]
pub use slipway_gomod as gomod;
#[cfg(feature = "kubesim")]
#[doc(inline)]
pub use slipway_kubesim as kubesim;
#[cfg(feature = "oci")]
#[doc(inline)]
pub use slipway_oci as oci;
#[cfg(feature = "tag")]
#[doc(inline)]
pub use slipway_tag as tag;
