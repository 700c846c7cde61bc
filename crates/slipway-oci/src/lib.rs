//! OCI images without a daemon.
//!
//! - [`reference`](mod@reference): `oci:PATH[:TAG|@DIGEST]` and `[docker://]HOST[:PORT]/REPO[:TAG|@DIGEST]`.
//! - [`digest`]: validated `sha256:`/`sha512:` digests and a streaming digester.
//! - [`platform`]: platform specifiers parsed, normalised and matched as containerd does.
//! - [`manifest`]: OCI and Docker schema 2 manifests, indexes and configs; bytes digested once.
//! - [`store`]: the [`BlobStore`](store::BlobStore) / [`ManifestStore`](store::ManifestStore) /
//!   [`Referrers`](store::Referrers) traits, an OCI image layout directory, a memory store, and
//!   [`store::open`], which opens any [`Reference`] as a store.
//! - `store::registry` (feature `registry`): one repository of a registry as a store, on reqwest:
//!   Docker/containers auth files and credential helpers, basic, bearer
//!   and identity-token auth, cross-repository mounts, chunked uploads honouring `OCI-Chunk-Min-Length`
//!   with a monolithic fallback, bounded retries, digest verification of everything pulled, the referrers
//!   API with its tag-schema fallback, plain HTTP on loopback; credentials sent only to the registry's
//!   origin (and its token service), every answer read within a limit, each request within a deadline.
//! - [`index`]: multi-platform index assembly and editing.
//! - [`image`]: reproducible images from files: layer tarball, config, manifest.
//! - [`gobuild`]: images from Go main packages, ko-style (`go build` per platform, no daemon), on an
//!   empty base or a base image from any store, with `base.name`/`base.digest` annotations.
//! - `sbom` (feature `sbom`): SPDX 2.3 SBOMs of a binary's Go modules, attached as OCI referrers.
//! - [`copy`](mod@copy): moving images (and whole indexes) between stores.
//!
//! ```
//! use slipway_oci::image::{ImageBuilder, LayerBuilder};
//! use slipway_oci::index::IndexBuilder;
//! use slipway_oci::platform::Platform;
//! use slipway_oci::reference::Tag;
//! use slipway_oci::store::{ManifestStore, OciLayout};
//!
//! let dir = tempfile::tempdir()?;
//! let layout = OciLayout::create(dir.path())?;
//! let mut index = IndexBuilder::new();
//! for spec in ["linux/amd64", "linux/arm64"] {
//!     let platform = Platform::parse(spec)?;
//!     let layer = LayerBuilder::new()
//!         .file("app/hello", 0o755, format!("binary for {platform}").into_bytes())
//!         .build()?;
//!     let image = ImageBuilder::new(platform)
//!         .entrypoint(["/app/hello"])
//!         .layer(layer)
//!         .write_to(&layout)?;
//!     index.add_image(&layout, image.descriptor())?;
//! }
//! let index = index.build()?;
//! layout.put_manifest(&index, Some(&Tag::new("v1")?))?;
//! assert_eq!(layout.tags()?, vec![Tag::new("v1")?]);
//! assert!(layout.verify()?.is_ok());
//! Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod copy;
pub mod digest;
pub mod gobuild;
pub mod image;
pub mod index;
pub mod manifest;
pub mod platform;
mod quote;
pub mod reference;
#[cfg(feature = "sbom")]
pub mod sbom;
pub mod store;
mod threads;

pub use digest::Digest;
pub use platform::Platform;
pub use reference::Reference;
