//! A store in memory: for tests, and for assembling images before they go anywhere.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::sync::{Arc, PoisonError, RwLock};

use super::{BlobReader, BlobStore, Error, ManifestStore, Result, store_manifest_blob};
use crate::digest::Digest;
use crate::manifest::RawManifest;
use crate::reference::{ManifestRef, Tag};

/// Blobs and manifests held in memory; cheap to clone (clones share content).
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    blobs: RwLock<HashMap<Digest, Arc<[u8]>>>,
    manifests: RwLock<HashMap<Digest, RawManifest>>,
    tags: RwLock<BTreeMap<Tag, Digest>>,
}

const STORE_NAME: &str = "memory";

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        MemoryStore::default()
    }

    /// How many blobs (manifests included) the store holds.
    pub fn blob_count(&self) -> usize {
        self.inner
            .blobs
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

// A panic while holding one of these locks cannot leave a map half-updated (each update is one insert),
// so a poisoned lock is still safe to use.
impl BlobStore for MemoryStore {
    type Error = Error;

    fn blob_size(&self, digest: &Digest) -> Result<Option<u64>> {
        let blobs = self
            .inner
            .blobs
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        Ok(blobs.get(digest).map(|b| b.len() as u64))
    }

    fn open_blob(&self, digest: &Digest) -> Result<Option<BlobReader<'_>>> {
        let blobs = self
            .inner
            .blobs
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        Ok(blobs.get(digest).map(|b| {
            let reader: BlobReader<'_> = Box::new(std::io::Cursor::new(Arc::clone(b)));
            reader
        }))
    }

    fn put_blob(&self, digest: &Digest, size: Option<u64>, data: &mut dyn Read) -> Result<u64> {
        if let Some(held) = self.blob_size(digest)? {
            return Ok(held);
        }
        let mut bytes = Vec::new();
        // One byte more than declared is enough to know the content is too large.
        data.take(size.map_or(u64::MAX, |s| s.saturating_add(1)))
            .read_to_end(&mut bytes)
            .map_err(|e| Error::io("reading content for", digest.as_str(), e))?;
        let len = bytes.len() as u64;
        if let Some(size) = size
            && len > size
        {
            return Err(Error::TooLarge {
                path: digest.as_str().into(),
                limit: size,
                what: "its descriptor's size",
            });
        }
        super::check_content(digest, size, Digest::of(digest.algorithm(), &bytes), len)?;
        self.inner
            .blobs
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(digest.clone(), bytes.into());
        Ok(len)
    }
}

impl ManifestStore for MemoryStore {
    type Error = Error;

    fn get_manifest(&self, target: &ManifestRef) -> Result<Option<RawManifest>> {
        let digest = match target {
            ManifestRef::Digest(d) => d.clone(),
            ManifestRef::Tag(t) => {
                let tags = self
                    .inner
                    .tags
                    .read()
                    .unwrap_or_else(PoisonError::into_inner);
                match tags.get(t) {
                    Some(d) => d.clone(),
                    None => return Ok(None),
                }
            }
        };
        if let Some(raw) = self
            .inner
            .manifests
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&digest)
        {
            return Ok(Some(raw.clone()));
        }
        // A manifest stored as a plain blob (e.g. copied by `put_blob`) is still a manifest.
        let blobs = self
            .inner
            .blobs
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        let Some(bytes) = blobs.get(&digest) else {
            return Ok(None);
        };
        let decoded = crate::manifest::Manifest::from_slice(bytes, None).map_err(|source| {
            Error::Manifest {
                digest: digest.clone(),
                source: Box::new(source),
            }
        })?;
        Ok(Some(RawManifest::from_verified(
            decoded.media_type().to_owned(),
            bytes.to_vec(),
            digest,
        )))
    }

    fn put_manifest(&self, manifest: &RawManifest, tag: Option<&Tag>) -> Result<()> {
        store_manifest_blob(self, manifest, || STORE_NAME.to_owned())?;
        self.inner
            .manifests
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(manifest.digest().clone(), manifest.clone());
        if let Some(tag) = tag {
            self.inner
                .tags
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(tag.clone(), manifest.digest().clone());
        }
        Ok(())
    }

    fn tags(&self) -> Result<Vec<Tag>> {
        let tags = self
            .inner
            .tags
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        Ok(tags.keys().cloned().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{Flavor, ImageManifest, media_type};
    use crate::store::{BlobStoreExt, ManifestStoreExt};

    #[test]
    fn memory_round_trip_and_missing_content() {
        let store = MemoryStore::new();
        let config = store.put_blob_bytes(media_type::OCI_CONFIG, b"{}").unwrap();
        let raw = RawManifest::encode_image(&ImageManifest::new(Flavor::Oci, config, vec![]));
        let tag = Tag::new("t").unwrap();
        store.put_manifest(&raw, Some(&tag)).unwrap();
        assert_eq!(store.require_manifest(&ManifestRef::Tag(tag)).unwrap(), raw);
        assert_eq!(store.read_blob(raw.digest()).unwrap(), raw.bytes());
        let missing = RawManifest::encode_image(&ImageManifest::new(
            Flavor::Oci,
            crate::manifest::Descriptor::of_bytes(media_type::OCI_CONFIG, b"x"),
            vec![],
        ));
        assert!(matches!(
            store.put_manifest(&missing, None),
            Err(Error::MissingContent { .. })
        ));
        // A manifest put as a plain blob is found by digest too.
        let as_blob = RawManifest::encode_image(&ImageManifest::new(
            Flavor::Oci,
            crate::manifest::Descriptor::of_bytes(media_type::OCI_CONFIG, b"{}"),
            vec![],
        ));
        let mut annotated = as_blob.clone();
        if let crate::manifest::Manifest::Image(mut m) = as_blob.decode().unwrap() {
            m.annotations.insert("k".into(), "v".into());
            annotated = RawManifest::encode_image(&m);
        }
        store
            .put_blob_bytes(media_type::OCI_MANIFEST, annotated.bytes())
            .unwrap();
        let found = store
            .require_manifest(&ManifestRef::Digest(annotated.digest().clone()))
            .unwrap();
        assert_eq!(found, annotated);
        // Trait objects work through the blanket impls.
        let dyn_store: &dyn BlobStore<Error = Error> = &store;
        assert!(dyn_store.has_blob(raw.digest()).unwrap());
        let boxed: Box<dyn ManifestStore<Error = Error>> = Box::new(store.clone());
        assert_eq!(boxed.tags().unwrap().len(), 1);
    }
}
