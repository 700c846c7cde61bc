//! An OCI image layout directory: `oci-layout`, `index.json` and `blobs/<alg>/<hex>`.
//!
//! Every file is written to a temporary file in the layout directory and renamed into place, so a reader
//! never sees half a blob. A manifest is written only after the content it names is present, and
//! index.json (the only file that is ever replaced) is rewritten last, under an exclusive lock on
//! `index.json.lock`, so concurrent writers in several processes each see and keep the others' tags.

use std::collections::{BTreeSet, HashSet};
use std::fmt;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{
    BlobReader, BlobStore, Error, ManifestStore, Referrers, Result, referrer_descriptor,
    store_manifest_blob,
};
use crate::digest::{Algorithm, Digest, Digester};
use crate::manifest::{self, Descriptor, Flavor, ImageIndex, Manifest, RawManifest, annotation};
use crate::reference::{ManifestRef, Tag};

const LAYOUT_FILE: &str = "oci-layout";
const INDEX_FILE: &str = "index.json";
const LOCK_FILE: &str = "index.json.lock";
const LAYOUT_VERSION: &str = "1.0.0";

/// An OCI image layout directory.
#[derive(Debug, Clone)]
pub struct OciLayout {
    root: PathBuf,
}

impl OciLayout {
    /// Opens an existing layout; fails when `oci-layout` is missing or names another version.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct LayoutFile {
            image_layout_version: String,
        }
        let root = path.as_ref().to_path_buf();
        let layout_path = root.join(LAYOUT_FILE);
        let text = match fs::read(&layout_path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(Error::InvalidLayout {
                    path: root,
                    reason: "not an OCI image layout (no oci-layout file)".to_owned(),
                });
            }
            Err(e) => return Err(Error::io("reading", &layout_path, e)),
        };
        let parsed: LayoutFile =
            serde_json::from_slice(&text).map_err(|e| Error::InvalidLayout {
                path: layout_path.clone(),
                reason: format!("not an oci-layout file: {e}"),
            })?;
        if parsed.image_layout_version != LAYOUT_VERSION {
            return Err(Error::InvalidLayout {
                path: layout_path,
                reason: format!(
                    "imageLayoutVersion {:?} is not {LAYOUT_VERSION}",
                    parsed.image_layout_version
                ),
            });
        }
        Ok(OciLayout { root })
    }

    /// Opens the layout at `path`, creating the directory, `oci-layout` and an empty `index.json` when
    /// they do not exist.
    pub fn create(path: impl AsRef<Path>) -> Result<Self> {
        let root = path.as_ref().to_path_buf();
        let existing = root.join(LAYOUT_FILE).exists();
        let layout = if existing {
            OciLayout::open(root)?
        } else {
            fs::create_dir_all(root.join("blobs").join(Algorithm::Sha256.name()))
                .map_err(|e| Error::io("creating", &root, e))?;
            OciLayout { root }
        };
        let _lock = layout.lock()?;
        // index.json first: once oci-layout exists, readers take the directory for a layout.
        if !layout.root.join(INDEX_FILE).exists() {
            let empty = ImageIndex::new(Flavor::Oci);
            layout.write_atomic(
                &layout.root.join(INDEX_FILE),
                &manifest::encode_json(&empty),
            )?;
        }
        if !existing {
            let version = format!("{{\"imageLayoutVersion\":\"{LAYOUT_VERSION}\"}}");
            layout.write_atomic(&layout.root.join(LAYOUT_FILE), version.as_bytes())?;
        }
        Ok(layout)
    }

    /// The layout directory.
    pub fn path(&self) -> &Path {
        &self.root
    }

    /// Where a blob lives (whether or not it exists).
    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.root
            .join("blobs")
            .join(digest.algorithm().name())
            .join(digest.encoded())
    }

    /// The decoded index.json.
    pub fn index(&self) -> Result<ImageIndex> {
        let path = self.root.join(INDEX_FILE);
        let bytes = fs::read(&path).map_err(|e| Error::io("reading", &path, e))?;
        match Manifest::from_slice(&bytes, Some(manifest::media_type::OCI_INDEX)) {
            Ok(Manifest::Index(index)) => Ok(index),
            Ok(Manifest::Image(_)) => Err(Error::InvalidLayout {
                path,
                reason: "index.json is an image manifest, not an index".to_owned(),
            }),
            Err(e) => Err(Error::InvalidLayout {
                path,
                reason: e.to_string(),
            }),
        }
    }

    /// The index.json entry a reference names: by tag (`org.opencontainers.image.ref.name`), by digest,
    /// or, for `None`, the only entry (as skopeo resolves `oci:DIR`).
    pub fn resolve(&self, target: Option<&ManifestRef>) -> Result<Descriptor> {
        let index = self.index()?;
        let not_found = |name: String| Error::NotFound {
            what: "manifest",
            name,
            store: self.root.display().to_string(),
        };
        match target {
            Some(ManifestRef::Tag(tag)) => index
                .manifests
                .into_iter()
                .find(|d| d.ref_name() == Some(tag.as_str()))
                .ok_or_else(|| not_found(tag.to_string())),
            Some(ManifestRef::Digest(digest)) => {
                if let Some(d) = index.manifests.iter().find(|d| d.digest == *digest) {
                    return Ok(d.clone());
                }
                // Not at top level (a platform image inside an index): describe the blob itself.
                let raw = self.read_manifest_blob(digest, None)?;
                Ok(raw.descriptor())
            }
            None => {
                let count = index.manifests.len();
                match <[Descriptor; 1]>::try_from(index.manifests) {
                    Ok([only]) => Ok(only),
                    Err(_) => Err(Error::NoSoleManifest {
                        path: self.root.clone(),
                        count,
                    }),
                }
            }
        }
    }

    /// Removes `tag` from index.json; returns whether it was there. Blobs stay (they may be shared).
    pub fn untag(&self, tag: &Tag) -> Result<bool> {
        let mut removed = false;
        self.update_index(|index| {
            let before = index.manifests.len();
            index
                .manifests
                .retain(|d| d.ref_name() != Some(tag.as_str()));
            removed = index.manifests.len() != before;
        })?;
        Ok(removed)
    }

    /// Re-hashes every blob and walks everything index.json reaches, reporting every problem found
    /// (not only the first).
    pub fn verify(&self) -> Result<VerifyReport> {
        let mut report = VerifyReport::default();
        let mut present = HashSet::new();
        let blobs = self.root.join("blobs");
        let algs = fs::read_dir(&blobs).map_err(|e| Error::io("listing", &blobs, e))?;
        let mut alg_dirs: Vec<_> = algs
            .map(|e| e.map(|e| e.path()))
            .collect::<io::Result<_>>()
            .map_err(|e| Error::io("listing", &blobs, e))?;
        alg_dirs.sort();
        for dir in alg_dirs {
            let alg_name = dir.file_name().and_then(|n| n.to_str()).unwrap_or("");
            let mut files: Vec<_> = fs::read_dir(&dir)
                .map_err(|e| Error::io("listing", &dir, e))?
                .map(|e| e.map(|e| e.path()))
                .collect::<io::Result<_>>()
                .map_err(|e| Error::io("listing", &dir, e))?;
            files.sort();
            for path in files {
                let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
                let Ok(expected) = Digest::parse(&format!("{alg_name}:{name}")) else {
                    report.problems.push(Problem::UnexpectedFile { path });
                    continue;
                };
                let mut file = File::open(&path).map_err(|e| Error::io("reading", &path, e))?;
                let (actual, _) = crate::digest::digest_reader(expected.algorithm(), &mut file)
                    .map_err(|e| Error::io("reading", &path, e))?;
                report.blobs_checked += 1;
                if actual == expected {
                    present.insert(expected);
                } else {
                    report.problems.push(Problem::BadBlob {
                        path,
                        expected,
                        actual,
                    });
                }
            }
        }
        // Walk the graph from index.json; each manifest is visited once.
        let index = self.index()?;
        let mut queue: Vec<(Descriptor, String)> = index
            .manifests
            .into_iter()
            .map(|d| (d, "index.json".to_owned()))
            .collect();
        let mut seen = BTreeSet::new();
        while let Some((desc, parent)) = queue.pop() {
            if !seen.insert((desc.digest.clone(), parent.clone())) {
                continue;
            }
            let path = self.blob_path(&desc.digest);
            let Ok(meta) = fs::metadata(&path) else {
                if desc.urls.is_empty() {
                    report.problems.push(Problem::Missing {
                        digest: desc.digest,
                        referenced_by: parent,
                    });
                }
                continue;
            };
            if meta.len() != desc.size {
                report.problems.push(Problem::SizeMismatch {
                    digest: desc.digest.clone(),
                    referenced_by: parent.clone(),
                    expected: desc.size,
                    actual: meta.len(),
                });
            }
            if !(manifest::is_index(&desc.media_type) || manifest::is_manifest(&desc.media_type))
                || !present.contains(&desc.digest)
            {
                continue;
            }
            let bytes = fs::read(&path).map_err(|e| Error::io("reading", &path, e))?;
            let name = desc.digest.to_string();
            match Manifest::from_slice(&bytes, Some(&desc.media_type)) {
                Ok(Manifest::Index(i)) => {
                    queue.extend(i.manifests.into_iter().map(|d| (d, name.clone())));
                }
                Ok(Manifest::Image(m)) => {
                    queue.push((m.config, name.clone()));
                    queue.extend(m.layers.into_iter().map(|d| (d, name.clone())));
                }
                Err(e) => report.problems.push(Problem::BadManifest {
                    digest: desc.digest,
                    message: e.to_string(),
                }),
            }
        }
        Ok(report)
    }

    /// Lists an untagged manifest that has a `subject` (a referrer: SBOM, signature, attestation) in
    /// index.json without a tag, with its `artifactType`, as ORAS does, so that a layout's referrers are
    /// found without scanning every blob, and copying or garbage-collecting tools see them as roots.
    fn list_referrer(&self, manifest: &RawManifest) -> Result<()> {
        let Ok(decoded) = manifest.decode() else {
            // `store_manifest_blob` has decoded it already; nothing else can fail here.
            return Ok(());
        };
        let artifact_type = match &decoded {
            Manifest::Image(m) if m.subject.is_some() => m
                .artifact_type
                .clone()
                .unwrap_or_else(|| m.config.media_type.clone()),
            Manifest::Index(i) if i.subject.is_some() => match &i.artifact_type {
                Some(t) => t.clone(),
                None => String::new(),
            },
            _ => return Ok(()),
        };
        let mut entry = manifest.descriptor();
        entry.artifact_type = Some(artifact_type).filter(|t| !t.is_empty());
        self.update_index(|index| {
            if !index
                .manifests
                .iter()
                .any(|d| d.digest == entry.digest && d.ref_name().is_none())
            {
                index.manifests.push(entry);
            }
        })
    }

    fn lock(&self) -> Result<File> {
        let path = self.root.join(LOCK_FILE);
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| Error::io("opening lock file", &path, e))?;
        // An OS lock (flock), released when the file is closed, so a crashed writer never leaves the
        // layout locked.
        file.lock().map_err(|e| Error::io("locking", &path, e))?;
        Ok(file)
    }

    /// Reads index.json, applies `edit` and writes it back, all under the lock.
    fn update_index(&self, edit: impl FnOnce(&mut ImageIndex)) -> Result<()> {
        let _lock = self.lock()?;
        let mut index = self.index()?;
        edit(&mut index);
        if index.media_type.is_none() {
            index.media_type = Some(manifest::media_type::OCI_INDEX.to_owned());
        }
        self.write_atomic(&self.root.join(INDEX_FILE), &manifest::encode_json(&index))
    }

    fn write_atomic(&self, path: &Path, bytes: &[u8]) -> Result<()> {
        let mut tmp = tempfile::Builder::new()
            .prefix(".tmp-")
            .tempfile_in(&self.root)
            .map_err(|e| Error::io("creating a temporary file in", &self.root, e))?;
        tmp.write_all(bytes)
            .and_then(|()| tmp.as_file().sync_all())
            .map_err(|e| Error::io("writing", tmp.path().to_path_buf(), e))?;
        tmp.persist(path)
            .map_err(|e| Error::io("renaming into place", path, e.error))?;
        Ok(())
    }

    fn read_manifest_blob(&self, digest: &Digest, media_type: Option<&str>) -> Result<RawManifest> {
        let path = self.blob_path(digest);
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(Error::NotFound {
                    what: "manifest",
                    name: digest.to_string(),
                    store: self.root.display().to_string(),
                });
            }
            Err(e) => return Err(Error::io("reading", &path, e)),
        };
        let actual = Digest::of(digest.algorithm(), &bytes);
        if actual != *digest {
            return Err(Error::DigestMismatch {
                expected: digest.clone(),
                actual,
                location: Some(path),
            });
        }
        let decoded =
            Manifest::from_slice(&bytes, media_type).map_err(|source| Error::Manifest {
                digest: digest.clone(),
                source: Box::new(source),
            })?;
        let media_type = media_type.unwrap_or(decoded.media_type()).to_owned();
        Ok(RawManifest::from_verified(
            media_type,
            bytes,
            digest.clone(),
        ))
    }
}

impl BlobStore for OciLayout {
    type Error = Error;

    fn blob_size(&self, digest: &Digest) -> Result<Option<u64>> {
        let path = self.blob_path(digest);
        match fs::metadata(&path) {
            Ok(m) => Ok(Some(m.len())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io("reading", path, e)),
        }
    }

    fn open_blob(&self, digest: &Digest) -> Result<Option<BlobReader<'_>>> {
        let path = self.blob_path(digest);
        match File::open(&path) {
            Ok(f) => Ok(Some(Box::new(f))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io("reading", path, e)),
        }
    }

    fn put_blob(&self, digest: &Digest, size: Option<u64>, data: &mut dyn Read) -> Result<u64> {
        let path = self.blob_path(digest);
        if let Ok(meta) = fs::metadata(&path)
            && size.is_none_or(|s| s == meta.len())
        {
            return Ok(meta.len());
        }
        let dir = path.parent().unwrap_or(&self.root);
        fs::create_dir_all(dir).map_err(|e| Error::io("creating", dir, e))?;
        let mut tmp = tempfile::Builder::new()
            .prefix(".tmp-")
            .tempfile_in(&self.root)
            .map_err(|e| Error::io("creating a temporary file in", &self.root, e))?;
        let mut digester = Digester::new(digest.algorithm());
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = match data.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::io("reading content for", path, e)),
            };
            digester.update(&buf[..n]);
            tmp.write_all(&buf[..n])
                .map_err(|e| Error::io("writing", tmp.path().to_path_buf(), e))?;
        }
        let written = digester.len();
        super::check_content(digest, size, digester.finish(), written)?;
        tmp.as_file()
            .sync_all()
            .map_err(|e| Error::io("syncing", tmp.path().to_path_buf(), e))?;
        tmp.persist(&path)
            .map_err(|e| Error::io("renaming into place", &path, e.error))?;
        Ok(written)
    }
}

impl ManifestStore for OciLayout {
    type Error = Error;

    fn get_manifest(&self, target: &ManifestRef) -> Result<Option<RawManifest>> {
        let desc = match self.resolve(Some(target)) {
            Ok(d) => d,
            Err(Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        if !(manifest::is_index(&desc.media_type) || manifest::is_manifest(&desc.media_type)) {
            return Err(Error::Manifest {
                digest: desc.digest,
                source: Box::new(manifest::Error::UnsupportedMediaType {
                    media_type: desc.media_type,
                }),
            });
        }
        let raw = self.read_manifest_blob(&desc.digest, Some(&desc.media_type))?;
        if raw.bytes().len() as u64 != desc.size {
            return Err(Error::SizeMismatch {
                digest: desc.digest,
                expected: desc.size,
                actual: raw.bytes().len() as u64,
            });
        }
        Ok(Some(raw))
    }

    fn put_manifest(&self, manifest: &RawManifest, tag: Option<&Tag>) -> Result<()> {
        store_manifest_blob(self, manifest, || self.root.display().to_string())?;
        let Some(tag) = tag else {
            return self.list_referrer(manifest);
        };
        let mut entry = manifest.descriptor();
        entry
            .annotations
            .insert(annotation::REF_NAME.to_owned(), tag.to_string());
        self.update_index(|index| {
            index
                .manifests
                .retain(|d| d.ref_name() != Some(tag.as_str()));
            index.manifests.push(entry);
        })
    }

    fn tags(&self) -> Result<Vec<Tag>> {
        let mut tags: Vec<Tag> = self
            .index()?
            .manifests
            .iter()
            .filter_map(|d| d.ref_name().and_then(|n| Tag::new(n).ok()))
            .collect();
        tags.sort();
        tags.dedup();
        Ok(tags)
    }
}

/// A layout's referrers are the manifests listed in index.json (tagged or not: [`ManifestStore::put_manifest`]
/// lists an untagged referrer there, as ORAS does) whose `subject` is the manifest asked about, in
/// index.json order.
impl Referrers for OciLayout {
    type Error = Error;

    fn referrers(&self, subject: &Digest, artifact_type: Option<&str>) -> Result<Vec<Descriptor>> {
        let mut found: Vec<Descriptor> = Vec::new();
        for entry in self.index()?.manifests {
            if !manifest::is_manifest(&entry.media_type) && !manifest::is_index(&entry.media_type) {
                continue;
            }
            if found.iter().any(|d| d.digest == entry.digest) {
                continue;
            }
            let raw = self.read_manifest_blob(&entry.digest, Some(&entry.media_type))?;
            if let Some(desc) = referrer_descriptor(&raw, subject)
                && artifact_type.is_none_or(|t| desc.artifact_type.as_deref() == Some(t))
            {
                found.push(desc);
            }
        }
        Ok(found)
    }
}

/// What [`OciLayout::verify`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifyReport {
    /// How many blob files were re-hashed.
    pub blobs_checked: usize,
    /// Every problem found, in a stable order.
    pub problems: Vec<Problem>,
}

impl VerifyReport {
    /// Whether nothing is wrong.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// One problem [`OciLayout::verify`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Problem {
    /// A blob's content does not hash to its file name.
    BadBlob {
        /// The file.
        path: PathBuf,
        /// The digest its name states.
        expected: Digest,
        /// What it hashes to.
        actual: Digest,
    },
    /// A file under `blobs/` whose name is not a digest.
    UnexpectedFile {
        /// The file.
        path: PathBuf,
    },
    /// Content named by index.json or a manifest is absent.
    Missing {
        /// The missing digest.
        digest: Digest,
        /// `index.json` or the digest of the manifest naming it.
        referenced_by: String,
    },
    /// A blob's size differs from its descriptor's.
    SizeMismatch {
        /// The blob.
        digest: Digest,
        /// Who names it.
        referenced_by: String,
        /// The descriptor's size.
        expected: u64,
        /// The file's size.
        actual: u64,
    },
    /// A manifest blob does not decode.
    BadManifest {
        /// The manifest.
        digest: Digest,
        /// Why.
        message: String,
    },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::BadBlob {
                path,
                expected,
                actual,
            } => write!(
                f,
                "{}: content hashes to {actual}, not {expected}",
                path.display()
            ),
            Problem::UnexpectedFile { path } => {
                write!(f, "{}: not a blob (name is not a digest)", path.display())
            }
            Problem::Missing {
                digest,
                referenced_by,
            } => write!(f, "{digest} (named by {referenced_by}) is missing"),
            Problem::SizeMismatch {
                digest,
                referenced_by,
                expected,
                actual,
            } => write!(
                f,
                "{digest} is {actual} bytes, {referenced_by} says {expected}"
            ),
            Problem::BadManifest { digest, message } => write!(f, "manifest {digest}: {message}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{ImageManifest, media_type};
    use crate::store::{BlobStoreExt, ManifestStoreExt};

    fn image(layout: &OciLayout, seed: &str) -> RawManifest {
        let config = layout
            .put_blob_bytes(
                media_type::OCI_CONFIG,
                format!("{{\"seed\":\"{seed}\"}}").as_bytes(),
            )
            .unwrap();
        let layer = layout
            .put_blob_bytes(media_type::OCI_LAYER, seed.as_bytes())
            .unwrap();
        RawManifest::encode_image(&ImageManifest::new(Flavor::Oci, config, vec![layer]))
    }

    #[test]
    fn put_get_tag_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let layout = OciLayout::create(dir.path()).unwrap();
        let raw = image(&layout, "a");
        let tag = Tag::new("v1").unwrap();
        layout.put_manifest(&raw, Some(&tag)).unwrap();
        let got = layout
            .require_manifest(&ManifestRef::Tag(tag.clone()))
            .unwrap();
        assert_eq!(got, raw);
        let by_digest = layout
            .require_manifest(&ManifestRef::Digest(raw.digest().clone()))
            .unwrap();
        assert_eq!(by_digest.bytes(), raw.bytes());
        assert_eq!(layout.tags().unwrap(), vec![tag.clone()]);
        assert_eq!(layout.resolve(None).unwrap().digest, *raw.digest());
        // Re-tagging moves the tag instead of adding a second entry.
        let raw2 = image(&layout, "b");
        layout.put_manifest(&raw2, Some(&tag)).unwrap();
        assert_eq!(layout.index().unwrap().manifests.len(), 1);
        assert!(layout.untag(&tag).unwrap());
        assert!(layout.tags().unwrap().is_empty());
        assert!(layout.verify().unwrap().is_ok());
    }

    #[test]
    fn refuses_manifests_whose_content_is_missing() {
        let dir = tempfile::tempdir().unwrap();
        let layout = OciLayout::create(dir.path()).unwrap();
        let config = Descriptor::of_bytes(media_type::OCI_CONFIG, b"{}");
        let raw = RawManifest::encode_image(&ImageManifest::new(Flavor::Oci, config, vec![]));
        let err = layout
            .put_manifest(&raw, Some(&Tag::new("x").unwrap()))
            .unwrap_err();
        assert!(matches!(err, Error::MissingContent { .. }), "{err}");
        assert!(layout.index().unwrap().manifests.is_empty());
        assert!(!layout.blob_path(raw.digest()).exists());
    }

    #[test]
    fn put_blob_verifies_before_the_blob_appears() {
        let dir = tempfile::tempdir().unwrap();
        let layout = OciLayout::create(dir.path()).unwrap();
        let wrong = Digest::sha256(b"other");
        let err = layout
            .put_blob(&wrong, None, &mut &b"data"[..])
            .unwrap_err();
        assert!(matches!(err, Error::DigestMismatch { .. }));
        assert!(!layout.blob_path(&wrong).exists());
        let right = Digest::sha256(b"data");
        let err = layout
            .put_blob(&right, Some(5), &mut &b"data"[..])
            .unwrap_err();
        assert!(matches!(err, Error::SizeMismatch { actual: 4, .. }));
        // No temporary files are left behind.
        let leftovers: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| {
                let name = e.unwrap().file_name().into_string().unwrap();
                name.starts_with(".tmp-").then_some(name)
            })
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    #[test]
    fn verify_reports_every_problem() {
        let dir = tempfile::tempdir().unwrap();
        let layout = OciLayout::create(dir.path()).unwrap();
        let a = image(&layout, "a");
        let b = image(&layout, "b");
        layout
            .put_manifest(&a, Some(&Tag::new("a").unwrap()))
            .unwrap();
        layout
            .put_manifest(&b, Some(&Tag::new("b").unwrap()))
            .unwrap();
        let layer_a = layout.blob_path(&Digest::sha256(b"a"));
        let layer_b = layout.blob_path(&Digest::sha256(b"b"));
        fs::write(&layer_a, b"A").unwrap();
        fs::remove_file(&layer_b).unwrap();
        fs::write(layout.path().join("blobs/sha256/not-a-digest"), b"").unwrap();
        let report = layout.verify().unwrap();
        assert_eq!(report.problems.len(), 3, "{:#?}", report.problems);
        assert!(
            report
                .problems
                .iter()
                .any(|p| matches!(p, Problem::BadBlob { path, .. } if *path == layer_a))
        );
        assert!(report.problems.iter().any(
            |p| matches!(p, Problem::Missing { digest, referenced_by } if *digest == Digest::sha256(b"b") && referenced_by == b.digest().as_str())
        ));
        assert!(
            report
                .problems
                .iter()
                .any(|p| matches!(p, Problem::UnexpectedFile { .. }))
        );
    }

    #[test]
    fn sole_manifest_needs_exactly_one_entry() {
        let dir = tempfile::tempdir().unwrap();
        let layout = OciLayout::create(dir.path()).unwrap();
        assert!(matches!(
            layout.resolve(None),
            Err(Error::NoSoleManifest { count: 0, .. })
        ));
        assert!(OciLayout::open(dir.path().join("nope")).is_err());
    }
}
