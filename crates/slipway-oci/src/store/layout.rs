//! An OCI image layout directory: `oci-layout`, `index.json` and `blobs/<alg>/<hex>`.
//!
//! Every file is written to a temporary file in the layout directory and renamed into place, so a reader
//! never sees half a blob. A manifest is written only after the content it names is present, and
//! index.json (the only file that is ever replaced) is rewritten last, under an exclusive lock on
//! `index.json.lock`, so concurrent writers in several processes each see and keep the others' tags;
//! [`OciLayout::update_tag`] holds that lock from reading a tag to writing it back.
//!
//! Files are created as `open(2)` creates them: `0666 & !umask` (directories `0777 & !umask`), as skopeo
//! does, so that other users can read a layout when the umask lets them.
//!
//! A layout may come from someone else, so reading one is bounded: only regular files are read (a FIFO or
//! a device such as `/dev/zero` is refused before a byte is read, and opening never blocks), a blob is
//! read up to the size its descriptor declares, a manifest up to [`MANIFEST_LIMIT`](super::MANIFEST_LIMIT),
//! index.json up to [`OciLayout::INDEX_JSON_LIMIT`].
//!
//! A writer killed mid-write leaves its temporary (`.tmp-*`) behind. Each writer holds an OS lock (flock)
//! on its temporary until it is renamed into place or removed; the OS drops it when the writer dies. Under
//! the layout lock, [`OciLayout::create`] and every rewrite of index.json remove the temporaries that no
//! one holds locked and that have not been modified for a minute (the minute covers the instant between
//! a writer creating its temporary and locking it), so a live writer's temporary is never removed.

use std::collections::{BTreeSet, HashSet};
use std::fmt;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::Deserialize;

use super::{
    BlobReader, BlobStore, Error, MANIFEST_LIMIT, ManifestStore, Referrers, Result,
    referrer_descriptor, store_manifest_blob,
};
use crate::digest::{Algorithm, Digest, Digester};
use crate::manifest::{self, Descriptor, Flavor, ImageIndex, Manifest, RawManifest, annotation};
use crate::reference::{ManifestRef, Tag};

const LAYOUT_FILE: &str = "oci-layout";
const INDEX_FILE: &str = "index.json";
const LOCK_FILE: &str = "index.json.lock";
const LAYOUT_VERSION: &str = "1.0.0";
/// `oci-layout` holds one short JSON object.
const LAYOUT_FILE_LIMIT: u64 = 64 << 10;
/// How long an unlocked temporary must have been left alone before it counts as abandoned.
const STALE_TEMPORARY_AGE: Duration = Duration::from_secs(60);
const TEMPORARY_PREFIX: &str = ".tmp-";

/// An OCI image layout directory.
#[derive(Debug, Clone)]
pub struct OciLayout {
    root: PathBuf,
}

impl OciLayout {
    /// The largest index.json read: 32 MiB, some 100,000 entries.
    pub const INDEX_JSON_LIMIT: u64 = 32 << 20;

    /// Opens an existing layout; fails when `oci-layout` is missing or names another version.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct LayoutFile {
            image_layout_version: String,
        }
        let root = path.as_ref().to_path_buf();
        let layout_path = root.join(LAYOUT_FILE);
        let Some(text) = read_limited(&layout_path, LAYOUT_FILE_LIMIT, "the oci-layout limit")?
        else {
            return Err(Error::InvalidLayout {
                path: root,
                reason: "not an OCI image layout (no oci-layout file)".to_owned(),
            });
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
        layout.remove_stale_temporaries();
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

    /// The decoded index.json (at most [`INDEX_JSON_LIMIT`](Self::INDEX_JSON_LIMIT) bytes).
    pub fn index(&self) -> Result<ImageIndex> {
        let path = self.root.join(INDEX_FILE);
        let Some(bytes) = read_limited(&path, Self::INDEX_JSON_LIMIT, "the index.json limit")?
        else {
            return Err(Error::io(
                "reading",
                path,
                io::Error::from(io::ErrorKind::NotFound),
            ));
        };
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
                let raw = self.read_manifest_blob(digest, None, None)?;
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
        let present = self.hash_blobs(&mut report)?;
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
            let bytes = match read_limited(&path, MANIFEST_LIMIT, "the manifest limit") {
                Ok(Some(bytes)) => bytes,
                Ok(None) => continue,
                Err(e @ Error::TooLarge { .. }) => {
                    report.problems.push(Problem::BadManifest {
                        digest: desc.digest,
                        message: e.to_string(),
                    });
                    continue;
                }
                Err(e) => return Err(e),
            };
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

    /// Re-hashes every file under `blobs/` for [`verify`](Self::verify), reporting problems in `report`;
    /// returns the digests whose blobs are sound.
    fn hash_blobs(&self, report: &mut VerifyReport) -> Result<HashSet<Digest>> {
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
                let (file, len) = match open_regular(&path) {
                    Ok(Some(opened)) => opened,
                    // Removed since it was listed.
                    Ok(None) => continue,
                    Err(Error::NotRegularFile { path, kind }) => {
                        report.problems.push(Problem::NotRegularFile { path, kind });
                        continue;
                    }
                    Err(e) => return Err(e),
                };
                let (actual, _) =
                    crate::digest::digest_reader(expected.algorithm(), &mut file.take(len))
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
        Ok(present)
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

    /// Points `tag` at the manifest `edit` makes of the one it points at now (`None` when the tag is
    /// new), and returns it. The layout lock is held from reading the tag to writing index.json back, so
    /// concurrent edits of one tag (threads, or processes such as CI matrix jobs each appending their
    /// platform to one index) apply one after another and none is lost.
    ///
    /// `edit` may read the layout and put blobs, but must not write index.json itself (put a tagged
    /// manifest or a referrer, untag): that would wait for the lock this call holds. Copy what the new
    /// manifest names into the layout first; the manifest itself is stored here, after `edit`, and is
    /// refused (as by [`put_manifest`](ManifestStore::put_manifest)) when it names missing content.
    pub fn update_tag<E>(
        &self,
        tag: &Tag,
        edit: impl FnOnce(Option<RawManifest>) -> std::result::Result<RawManifest, E>,
    ) -> std::result::Result<RawManifest, E>
    where
        E: From<Error>,
    {
        let lock = self.lock()?;
        let current = self.get_manifest(&ManifestRef::Tag(tag.clone()))?;
        let new = edit(current)?;
        store_manifest_blob(self, &new, || self.root.display().to_string())?;
        self.update_index_locked(&lock, |index| tag_entry(index, &new, tag))?;
        Ok(new)
    }

    /// Reads index.json, applies `edit` and writes it back, all under the lock.
    fn update_index(&self, edit: impl FnOnce(&mut ImageIndex)) -> Result<()> {
        let lock = self.lock()?;
        self.update_index_locked(&lock, edit)
    }

    /// [`update_index`](Self::update_index) for a caller that holds the lock (`_lock`, from
    /// [`lock`](Self::lock)).
    fn update_index_locked(&self, _lock: &File, edit: impl FnOnce(&mut ImageIndex)) -> Result<()> {
        self.remove_stale_temporaries();
        let mut index = self.index()?;
        edit(&mut index);
        if index.media_type.is_none() {
            index.media_type = Some(manifest::media_type::OCI_INDEX.to_owned());
        }
        self.write_atomic(&self.root.join(INDEX_FILE), &manifest::encode_json(&index))
    }

    /// A new temporary file in the layout directory, created `0666 & !umask` (the mode the file it
    /// becomes should have) and locked, so that [`remove_stale_temporaries`](Self::remove_stale_temporaries)
    /// leaves it alone while this process lives.
    fn temporary(&self) -> Result<tempfile::NamedTempFile> {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::Builder::new()
            .prefix(TEMPORARY_PREFIX)
            .permissions(fs::Permissions::from_mode(0o666))
            .tempfile_in(&self.root)
            .map_err(|e| Error::io("creating a temporary file in", &self.root, e))?;
        tmp.as_file()
            .lock()
            .map_err(|e| Error::io("locking", tmp.path().to_path_buf(), e))?;
        Ok(tmp)
    }

    /// Removes temporaries left by writers that died (see the module docs for the rule). Best effort:
    /// a temporary that cannot be inspected or removed now stays for a later run, and the write that
    /// triggered the cleaning goes on.
    fn remove_stale_temporaries(&self) {
        let Ok(entries) = fs::read_dir(&self.root) else {
            return;
        };
        let now = SystemTime::now();
        for entry in entries.flatten() {
            if !entry
                .file_name()
                .as_encoded_bytes()
                .starts_with(TEMPORARY_PREFIX.as_bytes())
            {
                continue;
            }
            let path = entry.path();
            let Ok(meta) = fs::symlink_metadata(&path) else {
                continue;
            };
            let abandoned = meta.is_file()
                && meta
                    .modified()
                    .ok()
                    .and_then(|m| now.duration_since(m).ok())
                    .is_some_and(|age| age >= STALE_TEMPORARY_AGE);
            if !abandoned {
                continue;
            }
            let Ok(Some(file)) = open_nonblocking(&path, rustix::fs::OFlags::NOFOLLOW) else {
                continue;
            };
            // A live writer holds its lock until the temporary is renamed or removed.
            if file.try_lock().is_ok() {
                let _ = fs::remove_file(&path);
            }
        }
    }

    fn write_atomic(&self, path: &Path, bytes: &[u8]) -> Result<()> {
        let mut tmp = self.temporary()?;
        tmp.write_all(bytes)
            .and_then(|()| tmp.as_file().sync_all())
            .map_err(|e| Error::io("writing", tmp.path().to_path_buf(), e))?;
        tmp.persist(path)
            .map_err(|e| Error::io("renaming into place", path, e.error))?;
        Ok(())
    }

    /// Reads a manifest blob: at most `declared` bytes when its descriptor gives a size, and never more
    /// than [`MANIFEST_LIMIT`].
    fn read_manifest_blob(
        &self,
        digest: &Digest,
        media_type: Option<&str>,
        declared: Option<u64>,
    ) -> Result<RawManifest> {
        let path = self.blob_path(digest);
        let (limit, what) = match declared {
            Some(size) if size <= MANIFEST_LIMIT => (size, "its descriptor's size"),
            _ => (MANIFEST_LIMIT, "the manifest limit"),
        };
        let Some(bytes) = read_limited(&path, limit, what)? else {
            return Err(Error::NotFound {
                what: "manifest",
                name: digest.to_string(),
                store: self.root.display().to_string(),
            });
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
            Ok(m) => {
                check_regular(&path, m.file_type())?;
                Ok(Some(m.len()))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io("reading", path, e)),
        }
    }

    /// The blob's bytes, up to the size the file had when opened (a file that grows while it is read is
    /// not followed). Anything but a regular file is refused.
    fn open_blob(&self, digest: &Digest) -> Result<Option<BlobReader<'_>>> {
        Ok(open_regular(&self.blob_path(digest))?
            .map(|(file, len)| -> BlobReader<'_> { Box::new(file.take(len)) }))
    }

    /// Reads `data` up to one byte more than `size` (when given): content larger than declared fails
    /// as soon as that byte arrives, with [`Error::TooLarge`].
    fn put_blob(&self, digest: &Digest, size: Option<u64>, data: &mut dyn Read) -> Result<u64> {
        let path = self.blob_path(digest);
        if let Some(held) = self.blob_size(digest)?
            && size.is_none_or(|s| s == held)
        {
            return Ok(held);
        }
        let dir = path.parent().unwrap_or(&self.root);
        fs::create_dir_all(dir).map_err(|e| Error::io("creating", dir, e))?;
        let mut tmp = self.temporary()?;
        let mut data = data.take(size.map_or(u64::MAX, |s| s.saturating_add(1)));
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
        if let Some(size) = size
            && written > size
        {
            return Err(Error::TooLarge {
                path,
                limit: size,
                what: "its descriptor's size",
            });
        }
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
        let raw =
            match self.read_manifest_blob(&desc.digest, Some(&desc.media_type), Some(desc.size)) {
                Ok(raw) => raw,
                // index.json may list a manifest whose blob is gone (a tag whose blob was lost): by digest,
                // the layout does not hold it, and a copy may supply it again.
                Err(Error::NotFound { .. }) if matches!(target, ManifestRef::Digest(_)) => {
                    return Ok(None);
                }
                Err(e) => return Err(e),
            };
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
        self.update_index(|index| tag_entry(index, manifest, tag))
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
            let raw =
                self.read_manifest_blob(&entry.digest, Some(&entry.media_type), Some(entry.size))?;
            if let Some(desc) = referrer_descriptor(&raw, subject)
                && artifact_type.is_none_or(|t| desc.artifact_type.as_deref() == Some(t))
            {
                found.push(desc);
            }
        }
        Ok(found)
    }
}

/// Points `tag` at `manifest` in `index`, replacing the entry it had.
fn tag_entry(index: &mut ImageIndex, manifest: &RawManifest, tag: &Tag) {
    let mut entry = manifest.descriptor();
    entry
        .annotations
        .insert(annotation::REF_NAME.to_owned(), tag.to_string());
    index
        .manifests
        .retain(|d| d.ref_name() != Some(tag.as_str()));
    index.manifests.push(entry);
}

/// Opens `path` for reading with `O_NONBLOCK` (and `extra` flags): opening a FIFO for reading would
/// otherwise wait for a writer forever. `None` when there is no such file.
fn open_nonblocking(path: &Path, extra: rustix::fs::OFlags) -> Result<Option<File>> {
    use rustix::fs::{Mode, OFlags};
    match rustix::fs::open(
        path,
        OFlags::RDONLY | OFlags::NONBLOCK | OFlags::CLOEXEC | extra,
        Mode::empty(),
    ) {
        Ok(fd) => Ok(Some(File::from(fd))),
        Err(e) if e == rustix::io::Errno::NOENT => Ok(None),
        Err(e) => Err(Error::io("opening", path, e.into())),
    }
}

/// Opens a file of the layout for reading, refusing anything but a regular file (symlinks followed:
/// a symlink to `/dev/zero` is a character device) before a byte is read; returns it with its size.
fn open_regular(path: &Path) -> Result<Option<(File, u64)>> {
    let Some(file) = open_nonblocking(path, rustix::fs::OFlags::empty())? else {
        return Ok(None);
    };
    let meta = file.metadata().map_err(|e| Error::io("reading", path, e))?;
    check_regular(path, meta.file_type())?;
    Ok(Some((file, meta.len())))
}

/// [`Error::NotRegularFile`] unless `file_type` is a regular file's.
fn check_regular(path: &Path, file_type: fs::FileType) -> Result<()> {
    use std::os::unix::fs::FileTypeExt;
    let kind = if file_type.is_file() {
        return Ok(());
    } else if file_type.is_fifo() {
        "a FIFO"
    } else if file_type.is_char_device() {
        "a character device"
    } else if file_type.is_block_device() {
        "a block device"
    } else if file_type.is_socket() {
        "a socket"
    } else if file_type.is_dir() {
        "a directory"
    } else {
        "not a file"
    };
    Err(Error::NotRegularFile {
        path: path.to_path_buf(),
        kind,
    })
}

/// All of the regular file `path` (`None` when it does not exist), failing with [`Error::TooLarge`] as
/// soon as it holds more than `limit` bytes: at most `limit + 1` bytes are read.
fn read_limited(path: &Path, limit: u64, what: &'static str) -> Result<Option<Vec<u8>>> {
    let Some((file, len)) = open_regular(path)? else {
        return Ok(None);
    };
    let mut bytes = Vec::with_capacity(usize::try_from(len.min(limit)).unwrap_or(0));
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io("reading", path, e))?;
    if bytes.len() as u64 > limit {
        return Err(Error::TooLarge {
            path: path.to_path_buf(),
            limit,
            what,
        });
    }
    Ok(Some(bytes))
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
    /// A file under `blobs/` is not a regular file (a FIFO, a device, a directory); it was not read.
    NotRegularFile {
        /// The file.
        path: PathBuf,
        /// What it is: `a FIFO`, `a character device`, …
        kind: &'static str,
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
            Problem::NotRegularFile { path, kind } => {
                write!(f, "{} is not a regular file ({kind})", path.display())
            }
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
