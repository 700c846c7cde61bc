//! Pulling a container's image for this host and unpacking it into a root directory.
//!
//! The image reference is what a pod spec gives: `[docker://]HOST[:PORT]/REPO[:TAG|@DIGEST]` (plain HTTP
//! to loopback registries) or `oci:PATH[:TAG|@DIGEST]`, an OCI image layout on this machine. An index
//! gives the host's platform; a single image must be for it. Layers are verified against their digests
//! and sizes as they are read, and unpacked in order ([`super::unpack`]).

use std::io::{self, Read};
use std::path::Path;

use slipway_oci::manifest::{ContainerConfig, Descriptor, ImageConfig, Manifest};
use slipway_oci::reference::ManifestRef;
use slipway_oci::store::{self, BlobStore, BlobStoreExt, MANIFEST_LIMIT};
use slipway_oci::{Digest, Platform, Reference};

use super::unpack::{self, Budget};

/// Why an image could not be pulled or unpacked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The image is not a reference slipway can read.
    #[error("image {image:?}")]
    Reference {
        /// The image as the pod gives it.
        image: String,
        /// Why it does not parse.
        source: slipway_oci::reference::Error,
    },
    /// The store (registry or layout) failed or lacks something.
    #[error("pulling {image}")]
    Store {
        /// The image.
        image: String,
        /// What the store said.
        source: Box<store::Error>,
    },
    /// A manifest or config does not decode.
    #[error("{image}: {what} {digest}")]
    Decode {
        /// The image.
        image: String,
        /// `manifest` or `config`.
        what: &'static str,
        /// Its digest.
        digest: Digest,
        /// The decoding fault.
        source: Box<slipway_oci::manifest::Error>,
    },
    /// The image's index has no image for this host.
    #[error("{image}: no image for {host} in its index (it has {available})")]
    NoPlatform {
        /// The image.
        image: String,
        /// This host's platform.
        host: String,
        /// The platforms the index offers.
        available: String,
    },
    /// The image is for another platform.
    #[error("{image}: the image is for {platform}, this node runs {host}")]
    WrongPlatform {
        /// The image.
        image: String,
        /// The image's platform.
        platform: String,
        /// This host's platform.
        host: String,
    },
    /// An index entry for this host is itself an index, or the config is too large to be one.
    #[error("{image}: {digest}: {reason}")]
    Unusable {
        /// The image.
        image: String,
        /// The manifest or blob.
        digest: Digest,
        /// What is wrong.
        reason: &'static str,
    },
    /// A layer is compressed in a way the runtime does not read (zstd).
    #[error(
        "{image}: layer {digest} has media type {media_type}, which the process runtime does not unpack"
    )]
    LayerMediaType {
        /// The image.
        image: String,
        /// The layer.
        digest: Digest,
        /// Its media type.
        media_type: String,
    },
    /// A layer's bytes are not what its descriptor says.
    #[error(
        "{image}: layer {digest} is {size} bytes hashing to {actual}, its descriptor says {expected_size} bytes"
    )]
    LayerContent {
        /// The image.
        image: String,
        /// The layer's digest (as the manifest names it).
        digest: Digest,
        /// What its bytes hash to.
        actual: Digest,
        /// How many bytes were read (at most one more than declared).
        size: u64,
        /// The size the descriptor declares.
        expected_size: u64,
    },
    /// A layer could not be unpacked.
    #[error("{image}: unpacking")]
    Unpack {
        /// The image.
        image: String,
        /// What went wrong.
        source: unpack::Error,
    },
    /// The pod went away while its image was being pulled.
    #[error("{image}: the pull was cancelled")]
    Cancelled {
        /// The image.
        image: String,
    },
}

/// `Result` with this module's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An image ready to run: its runtime defaults and the digest of the manifest that was unpacked.
#[derive(Debug, Clone)]
pub struct Pulled {
    /// Entrypoint, command, environment and working directory from the image config.
    pub config: ContainerConfig,
    /// The image manifest's digest (a container status's `imageID`).
    pub digest: Digest,
}

/// Pulls `image` for this host's platform and unpacks its layers into `root` (which must exist), within
/// `limit` unpacked bytes. `cancelled` is asked between layers.
pub fn pull_into(
    image: &str,
    root: &Path,
    limit: u64,
    cancelled: &dyn Fn() -> bool,
) -> Result<Pulled> {
    let named = |source| Error::Store {
        image: image.to_owned(),
        source: Box::new(source),
    };
    let reference = Reference::parse(image).map_err(|source| Error::Reference {
        image: image.to_owned(),
        source,
    })?;
    let target = match &reference {
        Reference::Layout(l) => l.target.clone(),
        Reference::Registry(r) => Some(r.target()),
    };
    let store = store::open(&reference, &store::OpenOptions::new()).map_err(named)?;
    let top = store.resolve(target.as_ref()).map_err(named)?;
    let host = Platform::host();
    let mut digest = top.digest;
    let mut manifest = get_manifest(image, &store, &digest)?;
    if let Manifest::Index(index) = &manifest {
        let Some(entry) = slipway_oci::index::select_platform(index, &host) else {
            let available: Vec<String> = index
                .manifests
                .iter()
                .filter(|d| !d.is_attestation())
                .filter_map(|d| d.platform.as_ref().map(Platform::format_short))
                .collect();
            return Err(Error::NoPlatform {
                image: image.to_owned(),
                host: host.format_short(),
                available: if available.is_empty() {
                    "none".to_owned()
                } else {
                    available.join(", ")
                },
            });
        };
        digest = entry.digest.clone();
        manifest = get_manifest(image, &store, &digest)?;
    }
    let Manifest::Image(manifest) = manifest else {
        return Err(Error::Unusable {
            image: image.to_owned(),
            digest,
            reason: "an index inside an index",
        });
    };
    if manifest.config.size > MANIFEST_LIMIT {
        return Err(Error::Unusable {
            image: image.to_owned(),
            digest: manifest.config.digest.clone(),
            reason: "the config is larger than the manifest limit (4 MiB)",
        });
    }
    let config_bytes = store.read_descriptor(&manifest.config).map_err(named)?;
    let config = ImageConfig::from_slice(&config_bytes).map_err(|source| Error::Decode {
        image: image.to_owned(),
        what: "config",
        digest: manifest.config.digest.clone(),
        source: Box::new(source),
    })?;
    if !host.matches(&config.platform()) {
        return Err(Error::WrongPlatform {
            image: image.to_owned(),
            platform: config.platform().format_short(),
            host: host.format_short(),
        });
    }
    let mut budget = Budget::new(limit);
    for layer in &manifest.layers {
        if cancelled() {
            return Err(Error::Cancelled {
                image: image.to_owned(),
            });
        }
        apply(image, &store, layer, root, &mut budget)?;
    }
    Ok(Pulled {
        config: config.config.unwrap_or_default(),
        digest,
    })
}

/// Streams one layer from the store into `root`, verifying its digest and size.
fn apply(
    image: &str,
    store: &store::AnyStore,
    layer: &Descriptor,
    root: &Path,
    budget: &mut Budget,
) -> Result<()> {
    let media_type = layer.media_type.as_str();
    // Media types are lower case by definition (RFC 6838 registrations, the OCI and Docker specs).
    let gzip = if media_type.ends_with("+gzip") || media_type.ends_with(".tar.gzip") {
        true
    } else if media_type.ends_with("layer.v1.tar") || media_type.ends_with("diff.tar") {
        false
    } else {
        return Err(Error::LayerMediaType {
            image: image.to_owned(),
            digest: layer.digest.clone(),
            media_type: media_type.to_owned(),
        });
    };
    let store_err = |source| Error::Store {
        image: image.to_owned(),
        source: Box::new(source),
    };
    let reader = store
        .open_blob(&layer.digest)
        .map_err(store_err)?
        .ok_or_else(|| {
            store_err(store::Error::NotFound {
                what: "blob",
                name: layer.digest.to_string(),
                store: store.name(),
            })
        })?;
    let mut verified = Verifying {
        inner: reader.take(layer.size.saturating_add(1)),
        digester: slipway_oci::digest::Digester::new(layer.digest.algorithm()),
    };
    let name = layer.digest.to_string();
    let unpacked = if gzip {
        unpack::apply_layer(
            root,
            &name,
            flate2::read::GzDecoder::new(&mut verified),
            budget,
        )
    } else {
        unpack::apply_layer(root, &name, &mut verified, budget)
    };
    // Whatever the archive left unread still counts for the digest.
    let drained = io::copy(&mut verified, &mut io::sink());
    let unpack_err = |source| Error::Unpack {
        image: image.to_owned(),
        source,
    };
    unpacked.map_err(unpack_err)?;
    drained.map_err(|source| {
        unpack_err(unpack::Error::Archive {
            layer: name,
            source,
        })
    })?;
    let size = verified.digester.len();
    let actual = verified.digester.finish();
    if actual != layer.digest || size != layer.size {
        return Err(Error::LayerContent {
            image: image.to_owned(),
            digest: layer.digest.clone(),
            actual,
            size,
            expected_size: layer.size,
        });
    }
    Ok(())
}

fn get_manifest(image: &str, store: &store::AnyStore, digest: &Digest) -> Result<Manifest> {
    let raw = store
        .require(&ManifestRef::Digest(digest.clone()))
        .map_err(|source| Error::Store {
            image: image.to_owned(),
            source: Box::new(source),
        })?;
    raw.decode().map_err(|source| Error::Decode {
        image: image.to_owned(),
        what: "manifest",
        digest: digest.clone(),
        source: Box::new(source),
    })
}

/// Hashes what passes through.
struct Verifying<R> {
    inner: R,
    digester: slipway_oci::digest::Digester,
}

impl<R: Read> Read for Verifying<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.digester.update(&buf[..n]);
        Ok(n)
    }
}
