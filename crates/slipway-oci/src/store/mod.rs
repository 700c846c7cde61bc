//! Where images live: content-addressed blobs ([`BlobStore`]) and manifests by tag or digest
//! ([`ManifestStore`]).
//!
//! Both traits are small, synchronous and object-safe, with blanket impls for `&T`, `Box<T>` and `Arc<T>`.
//! Each backend picks its own error type (`type Error`); the helpers in [`BlobStoreExt`] /
//! [`ManifestStoreExt`] and the operations built on them ([`copy`](crate::copy)) report [`Error`], which
//! keeps this crate's own errors as they are and boxes a foreign backend's under [`Error::Backend`].
//!
//! Implementations here: [`OciLayout`] (an OCI image layout directory, the embedded default),
//! [`MemoryStore`], and (feature `registry`) `registry::RegistryStore`, one repository of a registry.
//! `put_blob` takes the digest up front, as a registry upload's final `PUT ?digest=` needs; readers are
//! streams, so large layers never sit in memory.
//!
//! [`open`] turns any [`Reference`](crate::Reference) into an [`AnyStore`], so that commands treat layouts
//! and registries alike; [`Referrers`] lists the manifests whose `subject` is a given manifest, in any
//! store.

mod any;
mod layout;
mod memory;
#[cfg(feature = "registry")]
pub mod registry;

use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;

pub use any::{AnyStore, OpenOptions, open};
pub use layout::{OciLayout, Problem, VerifyReport};
pub use memory::MemoryStore;

use crate::digest::Digest;
use crate::manifest::{self, Descriptor, Manifest, RawManifest};
use crate::reference::{ManifestRef, Tag};

/// The largest manifest or index a store reads, whatever its descriptor declares, and the bound for one
/// read without a declared size (a layout manifest named by digest alone): 4 MiB, what Distribution
/// accepts on push and containers/image reads.
pub const MANIFEST_LIMIT: u64 = 4 << 20;

/// A boxed error from a backend this crate does not know.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What can go wrong reading or writing a store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A blob or manifest is not in the store.
    #[error("{what} {name} not found in {store}")]
    NotFound {
        /// `blob` or `manifest`.
        what: &'static str,
        /// The digest or tag asked for.
        name: String,
        /// Which store (a path or `memory`).
        store: String,
    },
    /// Content does not hash to the digest that names it.
    #[error("content for {expected} hashes to {actual}{}", location.as_ref().map(|p| format!(" ({})", p.display())).unwrap_or_default())]
    DigestMismatch {
        /// The digest the content was stored or fetched under.
        expected: Digest,
        /// What it hashes to.
        actual: Digest,
        /// The file, when there is one.
        location: Option<PathBuf>,
    },
    /// Content has another size than its descriptor says.
    #[error("content for {digest} is {actual} bytes, its descriptor says {expected}")]
    SizeMismatch {
        /// The digest.
        digest: Digest,
        /// The size the descriptor gives.
        expected: u64,
        /// The size found.
        actual: u64,
    },
    /// Content holds more bytes than it may: the size its descriptor declares, or the limit for its kind
    /// ([`MANIFEST_LIMIT`], [`OciLayout::INDEX_JSON_LIMIT`]). Reading stopped at `limit + 1` bytes.
    #[error("{}: more than {limit} bytes ({what})", path.display())]
    TooLarge {
        /// The file (or, where content has no file, its digest).
        path: PathBuf,
        /// The bound.
        limit: u64,
        /// What the bound is: `its descriptor's size`, `the manifest limit`, `the index.json limit`.
        what: &'static str,
    },
    /// A file that should hold content is something else (a FIFO, a device, a directory, a socket), which
    /// could block or never end; it is refused before it is read.
    #[error("{} is not a regular file ({kind})", path.display())]
    NotRegularFile {
        /// The file (symlinks followed).
        path: PathBuf,
        /// What it is: `a FIFO`, `a character device`, …
        kind: &'static str,
    },
    /// A manifest names content the store does not hold; it was not written.
    #[error(
        "manifest {manifest} names {missing} ({media_type}), which is not in {store}; push it first"
    )]
    MissingContent {
        /// The manifest being put.
        manifest: Digest,
        /// The missing child.
        missing: Digest,
        /// The child's media type.
        media_type: String,
        /// Which store.
        store: String,
    },
    /// A reference without tag or digest needs exactly one manifest in the layout's index.json.
    #[error("{path} holds {count} manifests in index.json; name one with :TAG or @DIGEST")]
    NoSoleManifest {
        /// The layout directory.
        path: PathBuf,
        /// How many entries index.json has.
        count: usize,
    },
    /// A manifest or index could not be decoded or is inconsistent.
    #[error("manifest {digest}")]
    Manifest {
        /// The manifest's digest.
        digest: Digest,
        /// The decoding fault.
        source: Box<manifest::Error>,
    },
    /// The directory is not an OCI image layout, or its index.json is malformed.
    #[error("{path}: {reason}")]
    InvalidLayout {
        /// The offending file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A file system operation failed.
    #[error("{action} {path}")]
    Io {
        /// What was being done (`reading`, `writing`, `locking`, …).
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A registry refused or failed a request (or could not be reached).
    #[error("{registry}/{repository}: {action} {name}: {message}{}", status.map(|s| format!(" (HTTP {s})")).unwrap_or_default())]
    Registry {
        /// The registry host, e.g. `127.0.0.1:5000`.
        registry: String,
        /// The repository.
        repository: String,
        /// What was being done (`pushing blob`, `fetching manifest`, …).
        action: &'static str,
        /// The digest or tag concerned.
        name: String,
        /// The HTTP status, when the registry answered.
        status: Option<u16>,
        /// What went wrong, with the registry's own error text when it gave one. Never holds credentials.
        message: String,
    },
    /// Credentials for a registry could not be read (a config file or credential helper failed).
    #[error("credentials for {registry} from {origin}: {reason}")]
    Credentials {
        /// The registry host.
        registry: String,
        /// Where they were looked up: a file path or `docker-credential-NAME`.
        origin: String,
        /// What is wrong. Never holds the secret itself.
        reason: String,
    },
    /// A registry reference was opened without the `registry` feature.
    #[error("{reference}: registry references need slipway-oci's `registry` feature")]
    RegistryDisabled {
        /// The reference.
        reference: String,
    },
    /// An error from another backend.
    #[error(transparent)]
    Backend(BoxError),
}

impl Error {
    /// Turns any backend error into an [`Error`], unwrapping it when it already is one.
    pub fn from_backend<E: std::error::Error + Send + Sync + 'static>(err: E) -> Self {
        let boxed: BoxError = Box::new(err);
        match boxed.downcast::<Error>() {
            Ok(own) => *own,
            Err(other) => Error::Backend(other),
        }
    }

    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        Error::Io {
            action,
            path: path.into(),
            source,
        }
    }
}

/// `Result` with this module's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A reader of one blob's bytes.
pub type BlobReader<'a> = Box<dyn Read + Send + 'a>;

/// Content-addressed blobs.
pub trait BlobStore {
    /// The backend's error.
    type Error: std::error::Error + Send + Sync + 'static;

    /// The size of the blob, or `None` when the store does not hold it.
    fn blob_size(&self, digest: &Digest) -> Result<Option<u64>, Self::Error>;

    /// A reader of the blob's bytes, or `None` when the store does not hold it. The bytes are as stored;
    /// [`BlobStoreExt::read_blob`] verifies them.
    fn open_blob(&self, digest: &Digest) -> Result<Option<BlobReader<'_>>, Self::Error>;

    /// Stores the bytes read from `data` under `digest`, verifying digest (and `size`, when given) before
    /// the blob becomes visible; returns the size. A blob already held is not read again.
    fn put_blob(
        &self,
        digest: &Digest,
        size: Option<u64>,
        data: &mut dyn Read,
    ) -> Result<u64, Self::Error>;
}

/// Manifests, by tag or digest.
pub trait ManifestStore {
    /// The backend's error.
    type Error: std::error::Error + Send + Sync + 'static;

    /// The manifest named by `target`, or `None`.
    fn get_manifest(&self, target: &ManifestRef) -> Result<Option<RawManifest>, Self::Error>;

    /// Stores a manifest, and points `tag` at it when given. The content it names (config, layers,
    /// child manifests) must already be in the store: a tag never points at missing content.
    fn put_manifest(&self, manifest: &RawManifest, tag: Option<&Tag>) -> Result<(), Self::Error>;

    /// The tags, sorted.
    fn tags(&self) -> Result<Vec<Tag>, Self::Error>;
}

/// Manifests that refer to another one through their `subject` (signatures, SBOMs, attestations): the
/// OCI referrers API of a registry (or its `sha256-<hex>` tag fallback), the untagged entries of a layout's
/// index.json.
pub trait Referrers {
    /// The backend's error.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Descriptors of the manifests whose `subject` is `subject`, each with its `artifactType`; only those
    /// of `artifact_type` when given.
    fn referrers(
        &self,
        subject: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<Vec<Descriptor>, Self::Error>;
}

impl<T: Referrers + ?Sized> Referrers for &T {
    type Error = T::Error;
    fn referrers(
        &self,
        subject: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<Vec<Descriptor>, Self::Error> {
        (**self).referrers(subject, artifact_type)
    }
}

/// The descriptor a referrers listing gives for `manifest` when its `subject` is `subject`: media type,
/// digest, size, `artifactType` (the config's media type for an image without one) and annotations.
pub(crate) fn referrer_descriptor(manifest: &RawManifest, subject: &Digest) -> Option<Descriptor> {
    let decoded = manifest.decode().ok()?;
    let (artifact_type, annotations) = match decoded {
        Manifest::Image(m) if m.subject.as_ref().is_some_and(|s| s.digest == *subject) => (
            m.artifact_type.unwrap_or(m.config.media_type),
            m.annotations,
        ),
        Manifest::Index(i) if i.subject.as_ref().is_some_and(|s| s.digest == *subject) => {
            (i.artifact_type.unwrap_or_default(), i.annotations)
        }
        _ => return None,
    };
    let mut desc = manifest.descriptor();
    desc.artifact_type = Some(artifact_type).filter(|t| !t.is_empty());
    desc.annotations = annotations;
    Some(desc)
}

macro_rules! forward_impls {
    ($($wrapper:ty),*) => {$(
        impl<T: BlobStore + ?Sized> BlobStore for $wrapper {
            type Error = T::Error;
            fn blob_size(&self, digest: &Digest) -> Result<Option<u64>, Self::Error> {
                (**self).blob_size(digest)
            }
            fn open_blob(&self, digest: &Digest) -> Result<Option<BlobReader<'_>>, Self::Error> {
                (**self).open_blob(digest)
            }
            fn put_blob(
                &self,
                digest: &Digest,
                size: Option<u64>,
                data: &mut dyn Read,
            ) -> Result<u64, Self::Error> {
                (**self).put_blob(digest, size, data)
            }
        }

        impl<T: ManifestStore + ?Sized> ManifestStore for $wrapper {
            type Error = T::Error;
            fn get_manifest(&self, target: &ManifestRef) -> Result<Option<RawManifest>, Self::Error> {
                (**self).get_manifest(target)
            }
            fn put_manifest(&self, manifest: &RawManifest, tag: Option<&Tag>) -> Result<(), Self::Error> {
                (**self).put_manifest(manifest, tag)
            }
            fn tags(&self) -> Result<Vec<Tag>, Self::Error> {
                (**self).tags()
            }
        }
    )*};
}

forward_impls!(&T, Box<T>, Arc<T>);

/// Helpers over any [`BlobStore`].
pub trait BlobStoreExt: BlobStore {
    /// Whether the store holds the blob.
    fn has_blob(&self, digest: &Digest) -> Result<bool> {
        Ok(self
            .blob_size(digest)
            .map_err(Error::from_backend)?
            .is_some())
    }

    /// The blob `desc` names, verified against its digest and size. At most `desc.size + 1` bytes are read
    /// (one more than declared: [`Error::TooLarge`]), so a hostile store cannot make this allocate more
    /// than the descriptor promised; prefer it to [`read_blob`](Self::read_blob) for content named by a
    /// manifest.
    fn read_descriptor(&self, desc: &Descriptor) -> Result<Vec<u8>> {
        let digest = &desc.digest;
        let Some(reader) = self.open_blob(digest).map_err(Error::from_backend)? else {
            return Err(Error::NotFound {
                what: "blob",
                name: digest.to_string(),
                store: "the store".to_owned(),
            });
        };
        let mut bytes = Vec::new();
        reader
            .take(desc.size.saturating_add(1))
            .read_to_end(&mut bytes)
            .map_err(|e| Error::io("reading blob", digest.as_str(), e))?;
        let len = bytes.len() as u64;
        if len > desc.size {
            return Err(Error::TooLarge {
                path: digest.as_str().into(),
                limit: desc.size,
                what: "its descriptor's size",
            });
        }
        check_content(
            digest,
            Some(desc.size),
            Digest::of(digest.algorithm(), &bytes),
            len,
        )?;
        Ok(bytes)
    }

    /// The whole blob, verified against its digest. Reads until the store's reader ends: for content
    /// whose size is known, [`read_descriptor`](Self::read_descriptor) bounds the read.
    fn read_blob(&self, digest: &Digest) -> Result<Vec<u8>> {
        let Some(mut reader) = self.open_blob(digest).map_err(Error::from_backend)? else {
            return Err(Error::NotFound {
                what: "blob",
                name: digest.to_string(),
                store: "the store".to_owned(),
            });
        };
        let mut bytes = Vec::new();
        reader
            .read_to_end(&mut bytes)
            .map_err(|e| Error::io("reading blob", digest.as_str(), e))?;
        let actual = Digest::of(digest.algorithm(), &bytes);
        if actual != *digest {
            return Err(Error::DigestMismatch {
                expected: digest.clone(),
                actual,
                location: None,
            });
        }
        Ok(bytes)
    }

    /// Stores bytes, returning their descriptor with `media_type`.
    fn put_blob_bytes(&self, media_type: &str, data: &[u8]) -> Result<Descriptor> {
        let desc = Descriptor::of_bytes(media_type, data);
        self.put_blob(&desc.digest, Some(desc.size), &mut &data[..])
            .map_err(Error::from_backend)?;
        Ok(desc)
    }
}

impl<T: BlobStore + ?Sized> BlobStoreExt for T {}

/// Helpers over any [`ManifestStore`].
pub trait ManifestStoreExt: ManifestStore {
    /// The manifest named by `target`, or [`Error::NotFound`].
    fn require_manifest(&self, target: &ManifestRef) -> Result<RawManifest> {
        self.get_manifest(target)
            .map_err(Error::from_backend)?
            .ok_or_else(|| Error::NotFound {
                what: "manifest",
                name: target.to_string(),
                store: "the store".to_owned(),
            })
    }

    /// The manifest named by `target`, decoded.
    fn get_decoded(&self, target: &ManifestRef) -> Result<(RawManifest, Manifest)> {
        let raw = self.require_manifest(target)?;
        let decoded = raw.decode().map_err(|source| Error::Manifest {
            digest: raw.digest().clone(),
            source: Box::new(source),
        })?;
        Ok((raw, decoded))
    }
}

impl<T: ManifestStore + ?Sized> ManifestStoreExt for T {}

/// What every [`ManifestStore::put_manifest`] does before tagging: refuse a manifest that names content the
/// store lacks (so a tag never points at missing content; foreign layers with `urls` are fetched from
/// elsewhere by design), then store the manifest's bytes as a blob. `store_name` names the store in the error.
pub(crate) fn store_manifest_blob<S>(
    store: &S,
    manifest: &RawManifest,
    store_name: impl FnOnce() -> String,
) -> Result<()>
where
    S: BlobStore<Error = Error> + ?Sized,
{
    for child in children(manifest)? {
        if child.urls.is_empty() && store.blob_size(&child.digest)?.is_none() {
            return Err(Error::MissingContent {
                manifest: manifest.digest().clone(),
                missing: child.digest,
                media_type: child.media_type,
                store: store_name(),
            });
        }
    }
    store.put_blob(
        manifest.digest(),
        Some(manifest.bytes().len() as u64),
        &mut manifest.bytes(),
    )?;
    Ok(())
}

/// The descriptors a manifest names directly: config and layers of an image, entries of an index. Used
/// to check that a manifest's content is present before the manifest is stored (a `subject` may live
/// elsewhere, so it is not included).
pub fn children(raw: &RawManifest) -> Result<Vec<Descriptor>> {
    let decoded = raw.decode().map_err(|source| Error::Manifest {
        digest: raw.digest().clone(),
        source: Box::new(source),
    })?;
    Ok(match decoded {
        Manifest::Image(m) => std::iter::once(m.config).chain(m.layers).collect(),
        Manifest::Index(i) => i.manifests,
    })
}

/// Checks content a store received against the digest and size its writer promised: the digest of what
/// arrived must equal `expected`, and its length `size` when given.
pub(crate) fn check_content(
    expected: &Digest,
    size: Option<u64>,
    actual: Digest,
    len: u64,
) -> Result<()> {
    if actual != *expected {
        return Err(Error::DigestMismatch {
            expected: expected.clone(),
            actual,
            location: None,
        });
    }
    if let Some(size) = size
        && size != len
    {
        return Err(Error::SizeMismatch {
            digest: expected.clone(),
            expected: size,
            actual: len,
        });
    }
    Ok(())
}
