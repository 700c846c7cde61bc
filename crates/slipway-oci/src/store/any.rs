//! Any reference opened as a store: what commands use so that layouts and registries behave alike.

use std::io::Read;

use super::{
    BlobReader, BlobStore, Error, ManifestStore, ManifestStoreExt, OciLayout, Referrers, Result,
};
use crate::digest::Digest;
use crate::manifest::{Descriptor, RawManifest};
use crate::reference::{ManifestRef, Reference, Tag};

/// How [`open`] opens a reference.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct OpenOptions {
    /// Create a layout directory that does not exist yet (for destinations).
    pub create: bool,
    /// Talk plain HTTP to a registry that is not on loopback (loopback registries always get plain HTTP,
    /// as Docker does).
    pub plain_http: bool,
}

impl OpenOptions {
    /// Options that open existing stores only, over TLS except on loopback.
    pub fn new() -> Self {
        OpenOptions::default()
    }

    /// Create a missing layout directory.
    #[must_use]
    pub fn create(mut self, create: bool) -> Self {
        self.create = create;
        self
    }

    /// Plain HTTP for a non-loopback registry.
    #[must_use]
    pub fn plain_http(mut self, plain_http: bool) -> Self {
        self.plain_http = plain_http;
        self
    }
}

/// A store opened from a [`Reference`]: a layout directory or (feature `registry`) a registry repository.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum AnyStore {
    /// `oci:PATH`.
    Layout(OciLayout),
    /// `[docker://]HOST/REPO`.
    #[cfg(feature = "registry")]
    Registry(super::registry::RegistryStore),
}

/// Opens the store a reference names (its tag or digest is ignored here: see [`AnyStore::resolve`]).
///
/// A layout must exist unless [`OpenOptions::create`] is set. A registry store is opened lazily: nothing
/// is sent until the first request, and credentials come from the Docker/containers auth files.
///
/// ```
/// use slipway_oci::Reference;
/// use slipway_oci::store::{ManifestStore, OpenOptions, open};
///
/// let dir = tempfile::tempdir()?;
/// let reference = Reference::parse(&format!("oci:{}:v1", dir.path().display()))?;
/// let store = open(&reference, &OpenOptions::new().create(true))?;
/// assert!(store.tags()?.is_empty());
/// Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn open(reference: &Reference, options: &OpenOptions) -> Result<AnyStore> {
    match reference {
        Reference::Layout(l) => {
            let layout = if options.create {
                OciLayout::create(&l.path)?
            } else {
                OciLayout::open(&l.path)?
            };
            Ok(AnyStore::Layout(layout))
        }
        #[cfg(feature = "registry")]
        Reference::Registry(r) => {
            let registry_options =
                super::registry::RegistryOptions::default().plain_http(options.plain_http);
            Ok(AnyStore::Registry(super::registry::RegistryStore::new(
                r,
                registry_options,
            )?))
        }
        #[cfg(not(feature = "registry"))]
        Reference::Registry(r) => {
            let _ = options.plain_http;
            Err(Error::RegistryDisabled {
                reference: r.to_string(),
            })
        }
    }
}

impl AnyStore {
    /// The descriptor of the manifest `target` names. For a layout, `None` means the only manifest in
    /// index.json (as skopeo reads `oci:DIR`); for a registry, `latest`.
    pub fn resolve(&self, target: Option<&ManifestRef>) -> Result<Descriptor> {
        match self {
            AnyStore::Layout(l) => l.resolve(target),
            #[cfg(feature = "registry")]
            AnyStore::Registry(r) => {
                let target = target
                    .cloned()
                    .unwrap_or_else(|| ManifestRef::Tag(Tag::latest()));
                let raw = r.get_manifest(&target)?.ok_or_else(|| Error::NotFound {
                    what: "manifest",
                    name: target.to_string(),
                    store: r.to_string(),
                })?;
                Ok(raw.descriptor())
            }
        }
    }

    /// A name for messages: the layout path or `HOST/REPO`.
    pub fn name(&self) -> String {
        match self {
            AnyStore::Layout(l) => l.path().display().to_string(),
            #[cfg(feature = "registry")]
            AnyStore::Registry(r) => r.to_string(),
        }
    }

    /// Points `tag` at the manifest `edit` makes of the one it points at now (`None` when the tag is
    /// new), and returns it. A layout holds its lock throughout ([`OciLayout::update_tag`], whose rules
    /// for `edit` apply), so concurrent edits of one tag are not lost. A registry offers no lock or
    /// conditional write for tags: there the tag is read, edited and written back, and the last writer
    /// wins.
    pub fn update_tag<E>(
        &self,
        tag: &Tag,
        edit: impl FnOnce(Option<RawManifest>) -> std::result::Result<RawManifest, E>,
    ) -> std::result::Result<RawManifest, E>
    where
        E: From<Error>,
    {
        match self {
            AnyStore::Layout(l) => l.update_tag(tag, edit),
            #[cfg(feature = "registry")]
            AnyStore::Registry(r) => {
                let current = r.get_manifest(&ManifestRef::Tag(tag.clone()))?;
                let new = edit(current)?;
                r.put_manifest(&new, Some(tag))?;
                Ok(new)
            }
        }
    }

    /// The layout, when this is one.
    pub fn as_layout(&self) -> Option<&OciLayout> {
        match self {
            AnyStore::Layout(l) => Some(l),
            #[cfg(feature = "registry")]
            AnyStore::Registry(_) => None,
        }
    }
}

/// Dispatches to the variant; every variant reports this module's [`Error`].
macro_rules! each {
    ($self:expr, $s:ident => $body:expr) => {
        match $self {
            AnyStore::Layout($s) => $body,
            #[cfg(feature = "registry")]
            AnyStore::Registry($s) => $body,
        }
    };
}

impl BlobStore for AnyStore {
    type Error = Error;

    fn blob_size(&self, digest: &Digest) -> Result<Option<u64>> {
        each!(self, s => s.blob_size(digest))
    }

    fn open_blob(&self, digest: &Digest) -> Result<Option<BlobReader<'_>>> {
        each!(self, s => s.open_blob(digest))
    }

    fn put_blob(&self, digest: &Digest, size: Option<u64>, data: &mut dyn Read) -> Result<u64> {
        each!(self, s => s.put_blob(digest, size, data))
    }
}

impl ManifestStore for AnyStore {
    type Error = Error;

    fn get_manifest(&self, target: &ManifestRef) -> Result<Option<crate::manifest::RawManifest>> {
        each!(self, s => s.get_manifest(target))
    }

    fn put_manifest(
        &self,
        manifest: &crate::manifest::RawManifest,
        tag: Option<&Tag>,
    ) -> Result<()> {
        each!(self, s => s.put_manifest(manifest, tag))
    }

    fn tags(&self) -> Result<Vec<Tag>> {
        each!(self, s => s.tags())
    }
}

impl Referrers for AnyStore {
    type Error = Error;

    fn referrers(&self, subject: &Digest, artifact_type: Option<&str>) -> Result<Vec<Descriptor>> {
        each!(self, s => s.referrers(subject, artifact_type))
    }
}

// `require_manifest` reports "the store"; name the real one.
impl AnyStore {
    /// The manifest `target` names, or [`Error::NotFound`] naming this store.
    pub fn require(&self, target: &ManifestRef) -> Result<crate::manifest::RawManifest> {
        match self.require_manifest(target) {
            Err(Error::NotFound { what, name, .. }) => Err(Error::NotFound {
                what,
                name,
                store: self.name(),
            }),
            other => other,
        }
    }
}
