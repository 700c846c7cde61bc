//! `GitOps` delivery for slipway: write a new image into a Git repository that Argo CD or Flux applies.
//!
//! - **Edits that change only what they must** ([`kustomize`], [`helm`], [`flux`], [`argocd`]): a small
//!   scanner finds the byte span of the value to change; only those bytes are replaced (in the value's own
//!   quoting style), or whole lines added or removed. Comments, key order, indentation, anchors and other
//!   documents stay byte for byte.
//! - **Environments** ([`env`](mod@env)): the `deploy/base` + `deploy/overlays/{dev,staging,prod}` layout, and
//!   promotion that copies exactly the image (digest) one environment runs to the next.
//! - **Git** ([`git`]): the [`GitOpsTarget`] trait and an implementation (git2 commits, `git` pushes) that commits with a message
//!   template, pushes, and on a non-fast-forward fetches, re-applies the edit on the new head and retries.
//!
//! ```
//! use slipway_gitops::{ImageSpec, kustomize};
//! let before = "images:\n- name: api # the service\n  newName: ghcr.io/acme/api\n  newTag: v1\n";
//! let spec = ImageSpec::parse("api=ghcr.io/acme/api:v2")?;
//! let after = kustomize::set_image("kustomization.yaml", before, &spec)?;
//! assert_eq!(after, before.replace("v1", "v2"));
//! Ok::<(), Box<dyn std::error::Error>>(())
//! ```

// Edits build a few short lines each; `push_str(&format!(..))` reads better than `write!` and its `Result`.
#![allow(clippy::format_push_string)]

mod edit;
mod error;
mod gitcmd;
mod image;
mod yaml;

pub mod argocd;
pub mod env;
pub mod files;
pub mod flux;
pub mod git;
pub mod helm;
pub mod kustomize;

pub use error::{Error, Result};
pub use files::{Format, SetImage};
pub use git::{Change, Delivery, GitOpsTarget, GitOpsTargetExt, GitRepo, Outcome, PushOptions};
pub use gitcmd::redact as redact_url;
pub use image::{ImageSpec, PRESERVE, split as split_image};
