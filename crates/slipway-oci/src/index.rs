//! Multi-platform index assembly and editing, in the spirit of `docker buildx imagetools create` and
//! `crane index append`, with the faults users report in those tools designed out:
//!
//! - each entry's platform is read from the image's config blob, not guessed;
//! - two entries for one platform (after normalising: `arm64` = `arm64/v8`) never happen: the builder
//!   either replaces the old entry or fails, as chosen by [`OnDuplicate`];
//! - the index flavour (OCI index or Docker manifest list) is explicit or inferred from the entries, and
//!   every entry's media type must match it;
//! - buildx attestation entries (`unknown/unknown`, `vnd.docker.reference.digest`) travel with the image
//!   they describe: removing or replacing the image removes them, and an attestation whose image is absent
//!   is refused.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::digest::Digest;
use crate::manifest::{
    self, Descriptor, Flavor, ImageConfig, ImageIndex, Manifest, RawManifest, annotation,
};
use crate::platform::Platform;
use crate::reference::ManifestRef;
use crate::store::{self, BlobStore, BlobStoreExt, ManifestStore, ManifestStoreExt};

/// Why an index could not be assembled.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A second image for a platform already in the index, with [`OnDuplicate::Error`].
    #[error("the index already holds {existing} for platform {platform}; cannot add {new} too")]
    DuplicatePlatform {
        /// The platform (normalised).
        platform: String,
        /// The entry already there.
        existing: Digest,
        /// The entry being added.
        new: Digest,
    },
    /// An entry without a platform that is neither an index nor an attestation.
    #[error("entry {digest} ({media_type}) has no platform")]
    MissingPlatform {
        /// The entry.
        digest: Digest,
        /// Its media type.
        media_type: String,
    },
    /// Entries of both flavours and no explicit flavour to check them against.
    #[error(
        "entries mix OCI and Docker media types ({first} and {other} for {digest}); choose one flavour"
    )]
    MixedFlavors {
        /// The first entry's media type.
        first: String,
        /// The disagreeing entry's media type.
        other: String,
        /// The disagreeing entry.
        digest: Digest,
    },
    /// An attestation entry whose image is not in the index.
    #[error("attestation {attestation} describes {subject}, which is not in the index")]
    OrphanAttestation {
        /// The attestation entry.
        attestation: Digest,
        /// The image it names.
        subject: String,
    },
    /// The content given is not an image manifest or index.
    #[error("{digest} is {media_type}, not an image manifest or index")]
    NotAnImage {
        /// The content.
        digest: Digest,
        /// Its media type.
        media_type: String,
    },
    /// The assembled index breaks the flavour rules.
    #[error("inconsistent index")]
    Inconsistent {
        /// The rule broken.
        source: Box<manifest::Error>,
    },
    /// A config blob could not be decoded.
    #[error("config {digest} of image {image}")]
    Config {
        /// The config blob.
        digest: Digest,
        /// The image manifest.
        image: Digest,
        /// The decoding fault.
        source: Box<manifest::Error>,
    },
    /// Reading from the store failed.
    #[error(transparent)]
    Store(#[from] store::Error),
}

/// `Result` with this module's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What to do when an image for a platform already in the index is added.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum OnDuplicate {
    /// Fail with [`Error::DuplicatePlatform`].
    #[default]
    Error,
    /// Replace the old entry (and its attestations) in place.
    Replace,
}

/// Builds or edits an index.
#[derive(Debug, Clone, Default)]
pub struct IndexBuilder {
    flavor: Option<Flavor>,
    on_duplicate: OnDuplicate,
    manifests: Vec<Descriptor>,
    annotations: BTreeMap<String, String>,
    subject: Option<Descriptor>,
    artifact_type: Option<String>,
    extra: BTreeMap<String, Value>,
}

/// The key under which two entries count as the same platform.
fn platform_key(p: &Platform) -> (String, String, String, String) {
    let n = p.normalize();
    (n.os, n.architecture, n.variant, n.os_version)
}

impl IndexBuilder {
    /// An empty builder; the flavour is inferred from the entries unless set.
    pub fn new() -> Self {
        IndexBuilder::default()
    }

    /// A builder that edits `index`, keeping its flavour, annotations and unknown fields.
    pub fn from_index(index: ImageIndex) -> Self {
        IndexBuilder {
            flavor: Some(index.flavor()),
            on_duplicate: OnDuplicate::default(),
            manifests: index.manifests,
            annotations: index.annotations,
            subject: index.subject,
            artifact_type: index.artifact_type,
            extra: index.extra,
        }
    }

    /// Forces the flavour: an OCI index or a Docker manifest list.
    #[must_use]
    pub fn flavor(mut self, flavor: Flavor) -> Self {
        self.flavor = Some(flavor);
        self
    }

    /// Chooses what adding a second image for a platform does.
    #[must_use]
    pub fn on_duplicate(mut self, policy: OnDuplicate) -> Self {
        self.on_duplicate = policy;
        self
    }

    /// Sets an index-level annotation (OCI indexes only).
    #[must_use]
    pub fn annotation(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.annotations.insert(key.into(), value.into());
        self
    }

    /// Sets an index-level annotation in place.
    pub fn set_annotation(&mut self, key: impl Into<String>, value: impl Into<String>) {
        self.annotations.insert(key.into(), value.into());
    }

    /// Sets the `subject` (OCI indexes only).
    #[must_use]
    pub fn subject(mut self, subject: Descriptor) -> Self {
        self.subject = Some(subject);
        self
    }

    /// Sets the `artifactType` (OCI indexes only).
    #[must_use]
    pub fn artifact_type(mut self, artifact_type: impl Into<String>) -> Self {
        self.artifact_type = Some(artifact_type.into());
        self
    }

    /// The entries so far, in order.
    pub fn entries(&self) -> &[Descriptor] {
        &self.manifests
    }

    /// Adds an entry as given (its platform must be set, except for nested indexes and attestations).
    pub fn push(&mut self, entry: Descriptor) -> Result<()> {
        if self.manifests.iter().any(|d| d.digest == entry.digest) {
            // The same content twice is one entry; merge descriptor annotations.
            if let Some(existing) = self.manifests.iter_mut().find(|d| d.digest == entry.digest) {
                existing.annotations.extend(entry.annotations);
            }
            return Ok(());
        }
        if entry.is_attestation() {
            self.manifests.push(entry);
            return Ok(());
        }
        let Some(platform) = entry.platform.as_ref() else {
            if manifest::is_index(&entry.media_type) {
                self.manifests.push(entry);
                return Ok(());
            }
            return Err(Error::MissingPlatform {
                digest: entry.digest,
                media_type: entry.media_type,
            });
        };
        let key = platform_key(platform);
        let clash = self.manifests.iter().position(|d| {
            !d.is_attestation() && d.platform.as_ref().is_some_and(|p| platform_key(p) == key)
        });
        match (clash, self.on_duplicate) {
            (None, _) => self.manifests.push(entry),
            (Some(i), OnDuplicate::Error) => {
                return Err(Error::DuplicatePlatform {
                    platform: platform.normalize().to_string(),
                    existing: self.manifests[i].digest.clone(),
                    new: entry.digest,
                });
            }
            (Some(i), OnDuplicate::Replace) => {
                let old = std::mem::replace(&mut self.manifests[i], entry);
                self.drop_attestations_of(&old.digest);
            }
        }
        Ok(())
    }

    /// Adds the manifest `desc` names from `store`: an image gains its platform from its config blob
    /// (and keeps `desc`'s annotations, except a layout's `org.opencontainers.image.ref.name`); an index
    /// contributes all of its entries, attestations included.
    pub fn add_image<S>(&mut self, store: &S, desc: Descriptor) -> Result<()>
    where
        S: BlobStore + ManifestStore + ?Sized,
    {
        let (raw, decoded) = store.get_decoded(&ManifestRef::Digest(desc.digest.clone()))?;
        match decoded {
            Manifest::Image(m) => {
                let config_bytes = store.read_descriptor(&m.config)?;
                let config =
                    ImageConfig::from_slice(&config_bytes).map_err(|source| Error::Config {
                        digest: m.config.digest.clone(),
                        image: raw.digest().clone(),
                        source: Box::new(source),
                    })?;
                let mut entry = raw.descriptor();
                entry.annotations = desc.annotations;
                // A layout's tag annotation names the image in that layout, not in this index.
                entry.annotations.remove(annotation::REF_NAME);
                entry.artifact_type.clone_from(&m.artifact_type);
                // An attestation keeps the platform its index gave it (unknown/unknown).
                entry.platform = match desc.platform {
                    Some(p) if p.is_unknown() => Some(p),
                    _ => Some(config.platform()),
                };
                self.push(entry)
            }
            Manifest::Index(i) => {
                // Images first, so that each attestation finds its subject already present.
                let (attestations, images): (Vec<_>, Vec<_>) = i
                    .manifests
                    .into_iter()
                    .partition(Descriptor::is_attestation);
                for entry in images.into_iter().chain(attestations) {
                    self.push(entry)?;
                }
                Ok(())
            }
        }
    }

    /// Removes the entries for `platform` (and their attestations); returns how many images went.
    pub fn remove_platform(&mut self, platform: &Platform) -> usize {
        let gone: Vec<Digest> = self
            .manifests
            .iter()
            .filter(|d| {
                !d.is_attestation() && d.platform.as_ref().is_some_and(|p| platform.matches(p))
            })
            .map(|d| d.digest.clone())
            .collect();
        for digest in &gone {
            self.remove_digest(digest);
        }
        gone.len()
    }

    /// Removes the entry with `digest` (and, for an image, its attestations); returns whether it was
    /// there.
    pub fn remove_digest(&mut self, digest: &Digest) -> bool {
        let before = self.manifests.len();
        self.manifests.retain(|d| d.digest != *digest);
        let removed = self.manifests.len() != before;
        self.drop_attestations_of(digest);
        removed
    }

    /// Keeps only images matching one of `wanted` (with their attestations) and nested indexes.
    pub fn retain_platforms(&mut self, wanted: &[Platform]) {
        let gone: Vec<Digest> = self
            .manifests
            .iter()
            .filter(|d| {
                !d.is_attestation()
                    && d.platform
                        .as_ref()
                        .is_some_and(|p| !wanted.iter().any(|w| w.matches(p)))
            })
            .map(|d| d.digest.clone())
            .collect();
        for digest in &gone {
            self.remove_digest(digest);
        }
    }

    /// Sets a descriptor-level annotation on the images for `platform`; returns how many were changed.
    pub fn annotate_platform(
        &mut self,
        platform: &Platform,
        key: impl Into<String>,
        value: impl Into<String>,
    ) -> usize {
        let (key, value) = (key.into(), value.into());
        let mut n = 0;
        for d in &mut self.manifests {
            if !d.is_attestation() && d.platform.as_ref().is_some_and(|p| platform.matches(p)) {
                d.annotations.insert(key.clone(), value.clone());
                n += 1;
            }
        }
        n
    }

    fn drop_attestations_of(&mut self, subject: &Digest) {
        self.manifests
            .retain(|d| !(d.is_attestation() && d.attestation_subject() == Some(subject.as_str())));
    }

    /// The index, checked (flavour, orphan attestations) but not yet encoded.
    pub fn to_index(&self) -> Result<ImageIndex> {
        let flavor = match self.flavor {
            Some(f) => f,
            None => self.infer_flavor()?,
        };
        for d in &self.manifests {
            if d.is_attestation()
                && let Some(subject) = d.attestation_subject()
                && !self.manifests.iter().any(|m| m.digest.as_str() == subject)
            {
                return Err(Error::OrphanAttestation {
                    attestation: d.digest.clone(),
                    subject: subject.to_owned(),
                });
            }
        }
        let index = ImageIndex {
            schema_version: 2,
            media_type: Some(flavor.index_media_type().to_owned()),
            artifact_type: self.artifact_type.clone(),
            manifests: self.manifests.clone(),
            subject: self.subject.clone(),
            annotations: self.annotations.clone(),
            extra: self.extra.clone(),
        };
        index
            .check_consistency()
            .map_err(|source| Error::Inconsistent {
                source: Box::new(source),
            })?;
        Ok(index)
    }

    /// The index, checked and encoded once.
    pub fn build(&self) -> Result<RawManifest> {
        Ok(RawManifest::encode_index(&self.to_index()?))
    }

    fn infer_flavor(&self) -> Result<Flavor> {
        let mut found: Option<&Descriptor> = None;
        for d in &self.manifests {
            let Some(flavor) = Flavor::of(&d.media_type) else {
                continue;
            };
            match found {
                None => found = Some(d),
                Some(first) if Flavor::of(&first.media_type) != Some(flavor) => {
                    return Err(Error::MixedFlavors {
                        first: first.media_type.clone(),
                        other: d.media_type.clone(),
                        digest: d.digest.clone(),
                    });
                }
                Some(_) => {}
            }
        }
        Ok(found
            .and_then(|d| Flavor::of(&d.media_type))
            .unwrap_or(Flavor::Oci))
    }
}

/// The entry of `index` for `platform` (attestations never match).
pub fn select_platform<'a>(index: &'a ImageIndex, platform: &Platform) -> Option<&'a Descriptor> {
    index
        .manifests
        .iter()
        .filter(|d| !d.is_attestation())
        .find(|d| d.platform.as_ref().is_some_and(|p| platform.matches(p)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::media_type;

    fn entry(n: u8, platform: &str) -> Descriptor {
        let mut d = Descriptor::new(media_type::OCI_MANIFEST, Digest::sha256(&[n]), 100);
        d.platform = Some(Platform::parse(platform).unwrap());
        d
    }

    fn attestation(n: u8, subject: &Descriptor) -> Descriptor {
        let mut d = Descriptor::new(media_type::OCI_MANIFEST, Digest::sha256(&[n, n]), 50);
        d.platform = Some(Platform::unknown());
        d.annotations.insert(
            annotation::DOCKER_REFERENCE_TYPE.into(),
            annotation::ATTESTATION_MANIFEST.into(),
        );
        d.annotations.insert(
            annotation::DOCKER_REFERENCE_DIGEST.into(),
            subject.digest.to_string(),
        );
        d
    }

    #[test]
    fn duplicate_platforms_error_or_replace_never_both() {
        let mut b = IndexBuilder::new();
        b.push(entry(1, "linux/arm64")).unwrap();
        let err = b.push(entry(2, "linux/arm64/v8")).unwrap_err();
        assert!(matches!(err, Error::DuplicatePlatform { .. }), "{err}");
        assert_eq!(
            err.to_string(),
            format!(
                "the index already holds {} for platform linux/arm64; cannot add {} too",
                Digest::sha256(&[1]),
                Digest::sha256(&[2])
            )
        );
        let mut b = b.on_duplicate(OnDuplicate::Replace);
        b.push(entry(3, "linux/amd64")).unwrap();
        let att = attestation(9, &b.entries()[0].clone());
        b.push(att).unwrap();
        b.push(entry(2, "linux/aarch64")).unwrap();
        let idx = b.to_index().unwrap();
        // Replaced in place; the old image's attestation went with it.
        let digests: Vec<_> = idx.manifests.iter().map(|d| d.digest.clone()).collect();
        assert_eq!(digests, vec![Digest::sha256(&[2]), Digest::sha256(&[3])]);
    }

    #[test]
    fn attestations_follow_their_subject() {
        let mut b = IndexBuilder::new();
        let amd = entry(1, "linux/amd64");
        let arm = entry(2, "linux/arm/v7");
        b.push(amd.clone()).unwrap();
        b.push(arm.clone()).unwrap();
        b.push(attestation(10, &amd)).unwrap();
        b.push(attestation(20, &arm)).unwrap();
        b.retain_platforms(&[Platform::parse("linux/armhf").unwrap()]);
        let idx = b.to_index().unwrap();
        assert_eq!(idx.manifests.len(), 2);
        assert_eq!(idx.manifests[0].digest, arm.digest);
        assert!(idx.manifests[1].is_attestation());
        assert_eq!(b.remove_platform(&Platform::parse("linux/arm").unwrap()), 1);
        assert!(b.entries().is_empty());

        let mut orphan = IndexBuilder::new();
        orphan.push(attestation(10, &amd)).unwrap();
        assert!(matches!(
            orphan.build(),
            Err(Error::OrphanAttestation { .. })
        ));
    }

    #[test]
    fn flavour_is_inferred_or_enforced() {
        let mut docker = entry(1, "linux/amd64");
        docker.media_type = media_type::DOCKER_MANIFEST.to_owned();
        let mut b = IndexBuilder::new();
        b.push(docker.clone()).unwrap();
        let idx = b.to_index().unwrap();
        assert_eq!(
            idx.media_type.as_deref(),
            Some(media_type::DOCKER_MANIFEST_LIST)
        );
        b.push(entry(2, "linux/arm64")).unwrap();
        assert!(matches!(b.build(), Err(Error::MixedFlavors { .. })));
        let forced = b.clone().flavor(Flavor::Oci);
        assert!(matches!(forced.build(), Err(Error::Inconsistent { .. })));
        let mut only_docker = IndexBuilder::new().annotation("k", "v");
        only_docker.push(docker).unwrap();
        assert!(matches!(
            only_docker.build(),
            Err(Error::Inconsistent { source }) if matches!(*source, manifest::Error::OciOnlyField { .. })
        ));
    }

    #[test]
    fn annotations_subject_and_artifact_type_are_written() {
        let subject = entry(7, "linux/amd64");
        let mut b = IndexBuilder::new()
            .annotation("org.opencontainers.image.version", "1.2.3")
            .artifact_type("application/vnd.example+type")
            .subject(Descriptor::new(
                media_type::OCI_MANIFEST,
                subject.digest.clone(),
                subject.size,
            ));
        b.push(entry(1, "linux/amd64")).unwrap();
        assert_eq!(
            b.annotate_platform(&Platform::parse("linux/amd64").unwrap(), "k", "v"),
            1
        );
        let raw = b.build().unwrap();
        let text = std::str::from_utf8(raw.bytes()).unwrap();
        assert!(text.contains(r#""artifactType":"application/vnd.example+type""#));
        assert!(text.contains(r#""subject":{"#));
        assert!(text.contains(r#""annotations":{"k":"v"}"#));
        assert!(text.contains(r#""org.opencontainers.image.version":"1.2.3""#));
        let again = IndexBuilder::from_index(match raw.decode().unwrap() {
            Manifest::Index(i) => i,
            Manifest::Image(_) => unreachable!(),
        })
        .build()
        .unwrap();
        assert_eq!(again.bytes(), raw.bytes());
    }

    #[test]
    fn select_platform_skips_attestations() {
        let mut idx = ImageIndex::new(Flavor::Oci);
        let amd = entry(1, "linux/amd64");
        idx.manifests.push(attestation(3, &amd));
        idx.manifests.push(amd.clone());
        assert_eq!(
            select_platform(&idx, &Platform::parse("linux/x86_64").unwrap()),
            Some(&amd)
        );
        assert!(select_platform(&idx, &Platform::parse("linux/arm64").unwrap()).is_none());
    }
}
