//! Copying images between stores, as `skopeo copy` does: one platform's image by default, or an index
//! with everything it names (`all`).
//!
//! Order is what keeps the destination sound: blobs first (each verified by the destination against its
//! digest), then child manifests, then the top manifest with its tag. An interrupted copy leaves at most
//! unreferenced blobs, never a tag that points at missing content. Blobs move a few at a time in
//! parallel (the stores are `Sync`); manifests are written after all blobs, one by one.
//!
//! Indexes may name indexes; a source that nests them deeper than [`MAX_DEPTH`] levels is refused
//! ([`Error::TooDeep`]) instead of being walked until the stack runs out.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crate::digest::Digest;
use crate::index::select_platform;
use crate::manifest::{Descriptor, Manifest, RawManifest};
use crate::platform::Platform;
use crate::reference::{ManifestRef, Tag};
use crate::store::{self, BlobStore, ManifestStore, ManifestStoreExt};

/// Why a copy failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading the source failed.
    #[error("reading the source")]
    Source {
        /// The store error.
        source: store::Error,
    },
    /// Writing the destination failed.
    #[error("writing the destination")]
    Destination {
        /// The store error.
        source: store::Error,
    },
    /// The source nests indexes deeper than [`MAX_DEPTH`].
    #[error("manifest {digest} is nested more than {max} indexes deep")]
    TooDeep {
        /// The manifest at which the walk stopped, [`MAX_DEPTH`] + 1 indexes below the top.
        digest: Digest,
        /// The limit, [`MAX_DEPTH`].
        max: usize,
    },
    /// The source index has no image for the platform asked for.
    #[error("the index has no image for {platform} (it has: {available})")]
    NoMatchingPlatform {
        /// The platform asked for.
        platform: String,
        /// The platforms the index has, comma separated.
        available: String,
    },
}

/// `Result` with this module's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// How many indexes deep a copy follows an index's entries. Real images nest one or two levels (an index
/// of platform images, sometimes an index of such indexes); the limit only stops hostile chains.
pub const MAX_DEPTH: usize = 64;

/// How to copy.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct CopyOptions {
    /// Copy an index with all it names, instead of one platform's image.
    pub all: bool,
    /// The platform to pick from an index when not copying all (default: the host's).
    pub platform: Option<Platform>,
}

impl CopyOptions {
    /// Copy everything an index names.
    #[must_use]
    pub fn all(mut self, all: bool) -> Self {
        self.all = all;
        self
    }

    /// The platform to pick from an index.
    #[must_use]
    pub fn platform(mut self, platform: Platform) -> Self {
        self.platform = Some(platform);
        self
    }
}

/// What a copy did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyReport {
    /// The manifest written at the top (an index with `all`, else an image).
    pub manifest: Descriptor,
    /// Blobs transferred (manifests included).
    pub blobs_copied: usize,
    /// Blobs the destination already held.
    pub blobs_skipped: usize,
    /// Bytes transferred.
    pub bytes_copied: u64,
}

/// How many blobs move at once: registries take parallel uploads well (skopeo sends layers in parallel),
/// and a handful of streams is enough to hide round trips without swamping a small machine.
const PARALLEL_BLOBS: usize = 4;

/// What one blob transfer did.
enum Moved {
    Copied(u64),
    Skipped,
    /// A foreign layer the source does not hold: it stays where its `urls` say.
    Foreign,
}

/// What [`Copier::walk`] collected: manifests children first, blobs in the order met, each once.
#[derive(Default)]
struct Walked {
    manifests: Vec<RawManifest>,
    manifest_digests: HashSet<Digest>,
    blobs: Vec<Descriptor>,
    blob_digests: HashSet<Digest>,
}

struct Copier<'a, S: ?Sized, D: ?Sized> {
    src: &'a S,
    dst: &'a D,
    copied: usize,
    skipped: usize,
    bytes: u64,
}

fn src_err<E: std::error::Error + Send + Sync + 'static>(e: E) -> Error {
    Error::Source {
        source: store::Error::from_backend(e),
    }
}

fn dst_err<E: std::error::Error + Send + Sync + 'static>(e: E) -> Error {
    Error::Destination {
        source: store::Error::from_backend(e),
    }
}

/// Copies one blob unless the destination already holds it.
fn move_blob<S, D>(src: &S, dst: &D, desc: &Descriptor) -> Result<Moved>
where
    S: BlobStore + ?Sized,
    D: BlobStore + ?Sized,
{
    if dst.blob_size(&desc.digest).map_err(dst_err)? == Some(desc.size) {
        return Ok(Moved::Skipped);
    }
    let Some(mut reader) = src.open_blob(&desc.digest).map_err(src_err)? else {
        if !desc.urls.is_empty() {
            return Ok(Moved::Foreign);
        }
        return Err(Error::Source {
            source: store::Error::NotFound {
                what: "blob",
                name: desc.digest.to_string(),
                store: "the source".to_owned(),
            },
        });
    };
    let n = dst
        .put_blob(&desc.digest, Some(desc.size), &mut reader)
        .map_err(dst_err)?;
    Ok(Moved::Copied(n))
}

impl<S, D> Copier<'_, S, D>
where
    S: BlobStore + ManifestStore + Sync + ?Sized,
    D: BlobStore + ManifestStore + Sync + ?Sized,
{
    /// Reads the manifest `digest` and everything below it: the manifests it names (children first) go to
    /// `walked.manifests`, the blobs (each once) to `walked.blobs`; returns the manifest itself. `depth`
    /// is how many indexes lie above it.
    fn walk(&self, digest: &Digest, depth: usize, walked: &mut Walked) -> Result<RawManifest> {
        if depth > MAX_DEPTH {
            return Err(Error::TooDeep {
                digest: digest.clone(),
                max: MAX_DEPTH,
            });
        }
        let (raw, decoded) = self
            .src
            .get_decoded(&ManifestRef::Digest(digest.clone()))
            .map_err(|source| Error::Source { source })?;
        match &decoded {
            Manifest::Image(m) => {
                for desc in std::iter::once(&m.config).chain(&m.layers) {
                    if walked.blob_digests.insert(desc.digest.clone()) {
                        walked.blobs.push(desc.clone());
                    }
                }
            }
            Manifest::Index(i) => {
                for child in &i.manifests {
                    if !walked.manifest_digests.contains(&child.digest) {
                        let child = self.walk(&child.digest, depth + 1, walked)?;
                        walked.manifest_digests.insert(child.digest().clone());
                        walked.manifests.push(child);
                    }
                }
            }
        }
        Ok(raw)
    }

    /// Copies `blobs`, [`PARALLEL_BLOBS`] at a time; the first error wins once the others have stopped.
    fn blobs(&mut self, blobs: &[Descriptor]) -> Result<()> {
        let next = AtomicUsize::new(0);
        let failed = AtomicBool::new(false);
        let workers = PARALLEL_BLOBS.min(blobs.len());
        let results: Vec<Result<Vec<Moved>>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..workers)
                .map(|_| {
                    scope.spawn(|| {
                        let mut moved = Vec::new();
                        while !failed.load(Ordering::Relaxed) {
                            let i = next.fetch_add(1, Ordering::Relaxed);
                            let Some(desc) = blobs.get(i) else { break };
                            match move_blob(self.src, self.dst, desc) {
                                Ok(m) => moved.push(m),
                                Err(e) => {
                                    failed.store(true, Ordering::Relaxed);
                                    return Err(e);
                                }
                            }
                        }
                        Ok(moved)
                    })
                })
                .collect();
            crate::threads::join_all(handles)
        });
        for result in results {
            for moved in result? {
                match moved {
                    Moved::Copied(n) => {
                        self.copied += 1;
                        self.bytes += n;
                    }
                    Moved::Skipped => self.skipped += 1,
                    Moved::Foreign => {}
                }
            }
        }
        Ok(())
    }

    /// Writes a manifest whose content is already in the destination; the top one gets `tag`.
    fn put_manifest(&mut self, raw: &RawManifest, tag: Option<&Tag>) -> Result<()> {
        // Asked as a manifest, not as a blob: registries need not serve manifests from the blob endpoint.
        if tag.is_none()
            && self
                .dst
                .get_manifest(&ManifestRef::Digest(raw.digest().clone()))
                .map_err(dst_err)?
                .is_some()
        {
            self.skipped += 1;
        } else {
            self.dst.put_manifest(raw, tag).map_err(dst_err)?;
            self.copied += 1;
            self.bytes += raw.bytes().len() as u64;
        }
        Ok(())
    }

    /// Copies the manifest `digest` with everything it names: all blobs first, then the manifests
    /// children first, the top one last with its tag.
    fn manifest(&mut self, digest: &Digest, tag: Option<&Tag>) -> Result<RawManifest> {
        let mut walked = Walked::default();
        let top = self.walk(digest, 0, &mut walked)?;
        self.blobs(&walked.blobs)?;
        for child in &walked.manifests {
            self.put_manifest(child, None)?;
        }
        self.put_manifest(&top, tag)?;
        Ok(top)
    }
}

/// Copies the manifest `target` names from `src` to `dst`, tagging it `tag` there.
///
/// Without [`CopyOptions::all`], an index is resolved to the image for the chosen platform and only that
/// image is copied (as `skopeo copy` does); with it, the index and everything it names are copied.
pub fn copy<S, D>(
    src: &S,
    target: &ManifestRef,
    dst: &D,
    tag: Option<&Tag>,
    options: &CopyOptions,
) -> Result<CopyReport>
where
    S: BlobStore + ManifestStore + Sync + ?Sized,
    D: BlobStore + ManifestStore + Sync + ?Sized,
{
    let (raw, decoded) = src
        .get_decoded(target)
        .map_err(|source| Error::Source { source })?;
    let top = match decoded {
        Manifest::Index(index) if !options.all => {
            let platform = options.platform.clone().unwrap_or_else(Platform::host);
            let Some(entry) = select_platform(&index, &platform) else {
                let available = index
                    .manifests
                    .iter()
                    .filter(|d| !d.is_attestation())
                    .filter_map(|d| d.platform.as_ref().map(ToString::to_string))
                    .collect::<Vec<_>>()
                    .join(", ");
                return Err(Error::NoMatchingPlatform {
                    platform: platform.to_string(),
                    available,
                });
            };
            entry.digest.clone()
        }
        _ => raw.digest().clone(),
    };
    let mut copier = Copier {
        src,
        dst,
        copied: 0,
        skipped: 0,
        bytes: 0,
    };
    let written = copier.manifest(&top, tag)?;
    Ok(CopyReport {
        manifest: written.descriptor(),
        blobs_copied: copier.copied,
        blobs_skipped: copier.skipped,
        bytes_copied: copier.bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::{ImageBuilder, LayerBuilder};
    use crate::index::IndexBuilder;
    use crate::store::{BlobStoreExt, MemoryStore, OciLayout};

    fn multi_arch(store: &MemoryStore) -> RawManifest {
        let mut index = IndexBuilder::new();
        for p in ["linux/amd64", "linux/arm64", "linux/arm/v7"] {
            let platform = Platform::parse(p).unwrap();
            let layer = LayerBuilder::new()
                .file("bin/app", 0o755, p.as_bytes().to_vec())
                .build()
                .unwrap();
            let image = ImageBuilder::new(platform)
                .layer(layer)
                .write_to(store)
                .unwrap();
            index.add_image(store, image.descriptor()).unwrap();
        }
        let raw = index.build().unwrap();
        store
            .put_manifest(&raw, Some(&Tag::new("multi").unwrap()))
            .unwrap();
        raw
    }

    #[test]
    fn copy_all_then_again_skips_everything() {
        let src = MemoryStore::new();
        let index = multi_arch(&src);
        let dir = tempfile::tempdir().unwrap();
        let dst = OciLayout::create(dir.path()).unwrap();
        let tag = Tag::new("v1").unwrap();
        let target = ManifestRef::Tag(Tag::new("multi").unwrap());
        let opts = CopyOptions::default().all(true);
        let report = copy(&src, &target, &dst, Some(&tag), &opts).unwrap();
        assert_eq!(report.manifest.digest, *index.digest());
        // 3 × (layer + config + manifest) + index
        assert_eq!(report.blobs_copied, 10);
        assert!(dst.verify().unwrap().is_ok());
        let again = copy(&src, &target, &dst, Some(&tag), &opts).unwrap();
        assert_eq!((again.blobs_copied, again.blobs_skipped), (1, 9));
    }

    #[test]
    fn copy_one_platform() {
        let src = MemoryStore::new();
        multi_arch(&src);
        let dst = MemoryStore::new();
        let target = ManifestRef::Tag(Tag::new("multi").unwrap());
        let opts = CopyOptions::default().platform(Platform::parse("linux/armhf").unwrap());
        let report = copy(&src, &target, &dst, Some(&Tag::new("arm").unwrap()), &opts).unwrap();
        assert_eq!(report.blobs_copied, 3);
        assert!(dst.has_blob(&report.manifest.digest).unwrap());
        let opts = CopyOptions::default().platform(Platform::parse("linux/s390x").unwrap());
        let err = copy(&src, &target, &dst, None, &opts).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the index has no image for linux/s390x (it has: linux/amd64, linux/arm64, linux/arm/v7)"
        );
    }
}
