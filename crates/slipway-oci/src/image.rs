//! Reproducible images from files: a gzip layer tarball, an image config and a manifest.
//!
//! Reproducible by construction: entries are sorted by path, parent directories are added explicitly,
//! owner and group are fixed numbers with empty names, every mtime is the same (`SOURCE_DATE_EPOCH`, or
//! the Unix epoch), and gzip writes no file name and a zero timestamp. Building the same inputs twice
//! gives the same bytes, hence the same digests.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Component, Path, PathBuf};

use flate2::Compression;

use crate::digest::{Algorithm, Digest, Digester};
use crate::manifest::{
    self, ContainerConfig, Descriptor, Flavor, History, ImageConfig, ImageManifest, RawManifest,
    RootFs,
};
use crate::platform::Platform;
use crate::store::{self, BlobStore, ManifestStore};

/// Why a layer or image could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A path inside the image is empty, absolute-only or climbs out with `..`.
    #[error("image path {path:?} is invalid: {reason}")]
    InvalidPath {
        /// The path as given.
        path: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// Two entries for one path.
    #[error("image path {path:?} is added twice")]
    DuplicatePath {
        /// The normalised path.
        path: String,
    },
    /// `SOURCE_DATE_EPOCH` is not a whole number of seconds.
    #[error("SOURCE_DATE_EPOCH={value:?} is not a number of seconds since 1970")]
    SourceDateEpoch {
        /// The value found.
        value: String,
    },
    /// Reading a source file or writing the layer failed.
    #[error("{action} {path}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file (or `<layer>` for the output stream).
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// The layers' media types do not match the image's flavour.
    #[error("inconsistent image")]
    Inconsistent {
        /// The rule broken.
        source: Box<manifest::Error>,
    },
    /// Writing to the store failed.
    #[error(transparent)]
    Store(#[from] store::Error),
}

/// A path fault found while entries are added, reported when the layer is built.
#[derive(Debug, Clone)]
enum PathFault {
    Invalid { path: String, reason: &'static str },
    Duplicate { path: String },
}

impl From<PathFault> for Error {
    fn from(fault: PathFault) -> Self {
        match fault {
            PathFault::Invalid { path, reason } => Error::InvalidPath { path, reason },
            PathFault::Duplicate { path } => Error::DuplicatePath { path },
        }
    }
}

/// `Result` with this module's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// `SOURCE_DATE_EPOCH` from the environment: `None` when unset or empty.
pub fn source_date_epoch() -> Result<Option<u64>> {
    parse_source_date_epoch(std::env::var("SOURCE_DATE_EPOCH").ok().as_deref())
}

/// Parses a `SOURCE_DATE_EPOCH` value (whole seconds; surrounding blanks allowed, as in the
/// reproducible-builds specification's reference parsers). `None` or blank means unset.
pub fn parse_source_date_epoch(value: Option<&str>) -> Result<Option<u64>> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => v.parse().map(Some).map_err(|_| Error::SourceDateEpoch {
            value: v.to_owned(),
        }),
    }
}

/// RFC 3339 UTC time for seconds since the epoch (`1970-01-01T00:00:00Z`).
pub fn rfc3339(secs: u64) -> String {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    // Days to civil date (proleptic Gregorian), after Howard Hinnant's algorithm; 719_468 moves the
    // epoch to 0000-03-01 so leap days fall at the end of each year.
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[derive(Debug, Clone)]
enum Content {
    Bytes(Vec<u8>),
    File(PathBuf),
    Dir,
    Symlink(String),
}

#[derive(Debug, Clone)]
struct Entry {
    mode: u32,
    content: Content,
}

/// Builds one layer from files.
#[derive(Debug, Clone)]
pub struct LayerBuilder {
    entries: BTreeMap<String, Entry>,
    faults: Vec<PathFault>,
    mtime: u64,
    uid: u64,
    gid: u64,
    level: u32,
    flavor: Flavor,
}

impl Default for LayerBuilder {
    fn default() -> Self {
        LayerBuilder {
            entries: BTreeMap::new(),
            faults: Vec::new(),
            mtime: 0,
            uid: 0,
            gid: 0,
            level: 6,
            flavor: Flavor::Oci,
        }
    }
}

fn normalize_image_path(path: &str) -> Result<String, PathFault> {
    let bad = |reason| PathFault::Invalid {
        path: path.to_owned(),
        reason,
    };
    let mut parts = Vec::new();
    for c in Path::new(path).components() {
        match c {
            Component::Normal(p) => parts.push(p.to_str().ok_or_else(|| bad("not UTF-8"))?),
            Component::RootDir | Component::CurDir => {}
            Component::ParentDir => return Err(bad("`..` is not allowed")),
            Component::Prefix(_) => return Err(bad("drive prefixes are not allowed")),
        }
    }
    if parts.is_empty() {
        return Err(bad("it names the root"));
    }
    Ok(parts.join("/"))
}

impl LayerBuilder {
    /// An empty layer: mtime 0, owner 0:0, OCI media type, gzip level 6.
    pub fn new() -> Self {
        LayerBuilder::default()
    }

    /// Like [`new`](Self::new), with the mtime taken from `SOURCE_DATE_EPOCH` when set.
    pub fn from_env() -> Result<Self> {
        Ok(LayerBuilder::new().mtime(source_date_epoch()?.unwrap_or(0)))
    }

    /// The mtime of every entry.
    #[must_use]
    pub fn mtime(mut self, secs: u64) -> Self {
        self.mtime = secs;
        self
    }

    /// The numeric owner of every entry (e.g. 65532 for a non-root image).
    #[must_use]
    pub fn owner(mut self, uid: u64, gid: u64) -> Self {
        self.uid = uid;
        self.gid = gid;
        self
    }

    /// The gzip level (0–9).
    #[must_use]
    pub fn compression_level(mut self, level: u32) -> Self {
        self.level = level.min(9);
        self
    }

    /// The media type flavour of the layer.
    #[must_use]
    pub fn flavor(mut self, flavor: Flavor) -> Self {
        self.flavor = flavor;
        self
    }

    fn insert(&mut self, path: &str, entry: Entry) {
        match normalize_image_path(path) {
            Ok(p) if self.entries.contains_key(&p) => {
                self.faults.push(PathFault::Duplicate { path: p });
            }
            Ok(p) => {
                self.entries.insert(p, entry);
            }
            Err(fault) => self.faults.push(fault),
        }
    }

    /// A regular file with `contents`.
    #[must_use]
    pub fn file(mut self, path: &str, mode: u32, contents: Vec<u8>) -> Self {
        self.insert(
            path,
            Entry {
                mode,
                content: Content::Bytes(contents),
            },
        );
        self
    }

    /// A regular file whose contents are read from `source` when the layer is built.
    #[must_use]
    pub fn file_from(mut self, path: &str, mode: u32, source: impl Into<PathBuf>) -> Self {
        self.insert(
            path,
            Entry {
                mode,
                content: Content::File(source.into()),
            },
        );
        self
    }

    /// A directory.
    #[must_use]
    pub fn dir(mut self, path: &str, mode: u32) -> Self {
        self.insert(
            path,
            Entry {
                mode,
                content: Content::Dir,
            },
        );
        self
    }

    /// A symbolic link to `target`.
    #[must_use]
    pub fn symlink(mut self, path: &str, target: &str) -> Self {
        self.insert(
            path,
            Entry {
                mode: 0o777,
                content: Content::Symlink(target.to_owned()),
            },
        );
        self
    }

    /// Writes the gzip tarball to `out`, returning its descriptor and diff ID.
    pub fn write_to(&self, out: &mut dyn Write) -> Result<LayerInfo> {
        if let Some(fault) = self.faults.first() {
            return Err(fault.clone().into());
        }
        // Every parent directory gets an explicit entry, so extraction never invents one with
        // arbitrary metadata.
        let mut all: BTreeMap<String, Entry> = self.entries.clone();
        for path in self.entries.keys() {
            let mut parent = Path::new(path).parent();
            while let Some(p) = parent.filter(|p| !p.as_os_str().is_empty()) {
                all.entry(p.to_string_lossy().into_owned())
                    .or_insert(Entry {
                        mode: 0o755,
                        content: Content::Dir,
                    });
                parent = p.parent();
            }
        }
        let layer_err = |e| Error::Io {
            action: "writing",
            path: PathBuf::from("<layer>"),
            source: e,
        };
        let compressed = HashingWriter::new(out);
        let gz = flate2::GzBuilder::new()
            .mtime(0)
            .write(compressed, Compression::new(self.level));
        let mut tar = tar::Builder::new(HashingWriter::new(gz));
        for (path, entry) in &all {
            let mut header = tar::Header::new_gnu();
            header.set_mtime(self.mtime);
            header.set_uid(self.uid);
            header.set_gid(self.gid);
            header.set_mode(entry.mode);
            // Empty names: numeric ids are the whole truth, and the host's user database stays out.
            header.set_username("").map_err(layer_err)?;
            header.set_groupname("").map_err(layer_err)?;
            match &entry.content {
                Content::Dir => {
                    header.set_entry_type(tar::EntryType::Directory);
                    header.set_size(0);
                    tar.append_data(&mut header, format!("{path}/"), io::empty())
                        .map_err(layer_err)?;
                }
                Content::Bytes(bytes) => {
                    header.set_entry_type(tar::EntryType::Regular);
                    header.set_size(bytes.len() as u64);
                    tar.append_data(&mut header, path, &bytes[..])
                        .map_err(layer_err)?;
                }
                Content::File(source) => {
                    let file = File::open(source).map_err(|e| Error::Io {
                        action: "reading",
                        path: source.clone(),
                        source: e,
                    })?;
                    let len = file
                        .metadata()
                        .map_err(|e| Error::Io {
                            action: "reading",
                            path: source.clone(),
                            source: e,
                        })?
                        .len();
                    header.set_entry_type(tar::EntryType::Regular);
                    header.set_size(len);
                    // `take` guards against a file that grows while we read it.
                    tar.append_data(&mut header, path, file.take(len))
                        .map_err(|e| Error::Io {
                            action: "archiving",
                            path: source.clone(),
                            source: e,
                        })?;
                }
                Content::Symlink(target) => {
                    header.set_entry_type(tar::EntryType::Symlink);
                    header.set_size(0);
                    tar.append_link(&mut header, path, target)
                        .map_err(layer_err)?;
                }
            }
        }
        let uncompressed = tar.into_inner().map_err(layer_err)?;
        let (gz, diff_id, _) = uncompressed.finish();
        let compressed = gz.finish().map_err(layer_err)?;
        let (_, digest, size) = compressed.finish();
        Ok(LayerInfo {
            descriptor: Descriptor::new(self.flavor.gzip_layer_media_type(), digest, size),
            diff_id,
        })
    }

    /// Builds the layer in memory.
    pub fn build(&self) -> Result<Layer> {
        let mut bytes = Vec::new();
        let info = self.write_to(&mut bytes)?;
        Ok(Layer { info, bytes })
    }
}

/// A writer that digests and counts what passes through.
struct HashingWriter<W> {
    inner: W,
    digester: Digester,
}

impl<W: Write> HashingWriter<W> {
    fn new(inner: W) -> Self {
        HashingWriter {
            inner,
            digester: Digester::new(Algorithm::Sha256),
        }
    }

    fn finish(self) -> (W, Digest, u64) {
        let len = self.digester.len();
        (self.inner, self.digester.finish(), len)
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.digester.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// A layer's descriptor and diff ID (the digest of the uncompressed tar).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerInfo {
    /// The compressed blob.
    pub descriptor: Descriptor,
    /// The digest of the uncompressed tarball.
    pub diff_id: Digest,
}

/// A layer built in memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layer {
    info: LayerInfo,
    bytes: Vec<u8>,
}

impl Layer {
    /// The descriptor and diff ID.
    pub fn info(&self) -> &LayerInfo {
        &self.info
    }

    /// The compressed bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

/// Assembles an image (config + manifest) for one platform from layers.
#[derive(Debug, Clone)]
pub struct ImageBuilder {
    platform: Platform,
    flavor: Flavor,
    layers: Vec<Layer>,
    config: ContainerConfig,
    created: u64,
    annotations: BTreeMap<String, String>,
}

impl ImageBuilder {
    /// An image for `platform` (OCI media types, created at the epoch).
    pub fn new(platform: Platform) -> Self {
        ImageBuilder {
            platform,
            flavor: Flavor::Oci,
            layers: Vec::new(),
            config: ContainerConfig::default(),
            created: 0,
            annotations: BTreeMap::new(),
        }
    }

    /// The media type flavour of config and manifest (layers carry their own).
    #[must_use]
    pub fn flavor(mut self, flavor: Flavor) -> Self {
        self.flavor = flavor;
        self
    }

    /// Appends a layer (base first).
    #[must_use]
    pub fn layer(mut self, layer: Layer) -> Self {
        self.layers.push(layer);
        self
    }

    /// The entrypoint.
    #[must_use]
    pub fn entrypoint<I: IntoIterator<Item = S>, S: Into<String>>(mut self, args: I) -> Self {
        self.config.entrypoint = args.into_iter().map(Into::into).collect();
        self
    }

    /// The default arguments.
    #[must_use]
    pub fn cmd<I: IntoIterator<Item = S>, S: Into<String>>(mut self, args: I) -> Self {
        self.config.cmd = args.into_iter().map(Into::into).collect();
        self
    }

    /// Adds `KEY=value` to the environment.
    #[must_use]
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.config.env.push(format!("{key}={value}"));
        self
    }

    /// The user (`65532`, `65532:65532`, `nonroot`).
    #[must_use]
    pub fn user(mut self, user: &str) -> Self {
        self.config.user = Some(user.to_owned());
        self
    }

    /// The working directory.
    #[must_use]
    pub fn working_dir(mut self, dir: &str) -> Self {
        self.config.working_dir = Some(dir.to_owned());
        self
    }

    /// A config label.
    #[must_use]
    pub fn label(mut self, key: &str, value: &str) -> Self {
        self.config.labels.insert(key.to_owned(), value.to_owned());
        self
    }

    /// A manifest annotation (OCI flavour only; Docker manifests have none).
    #[must_use]
    pub fn annotation(mut self, key: &str, value: &str) -> Self {
        self.annotations.insert(key.to_owned(), value.to_owned());
        self
    }

    /// The creation time, seconds since the epoch (use [`source_date_epoch`]).
    #[must_use]
    pub fn created(mut self, secs: u64) -> Self {
        self.created = secs;
        self
    }

    /// Builds config and manifest in memory.
    pub fn build(&self) -> Result<BuiltImage> {
        let created = rfc3339(self.created);
        let config = ImageConfig {
            created: Some(created.clone()),
            architecture: self.platform.architecture.clone(),
            os: self.platform.os.clone(),
            os_version: Some(self.platform.os_version.clone()).filter(|v| !v.is_empty()),
            os_features: self.platform.os_features.clone(),
            variant: Some(self.platform.variant.clone()).filter(|v| !v.is_empty()),
            config: Some(self.config.clone()),
            rootfs: Some(RootFs {
                kind: "layers".to_owned(),
                diff_ids: self.layers.iter().map(|l| l.info.diff_id.clone()).collect(),
            }),
            history: self
                .layers
                .iter()
                .map(|_| History {
                    created: Some(created.clone()),
                    created_by: Some("slipway".to_owned()),
                    ..History::default()
                })
                .collect(),
            ..ImageConfig::default()
        };
        let config_bytes = manifest::encode_json(&config);
        let config_desc = Descriptor::of_bytes(self.flavor.config_media_type(), &config_bytes);
        let mut image = ImageManifest::new(
            self.flavor,
            config_desc,
            self.layers
                .iter()
                .map(|l| l.info.descriptor.clone())
                .collect(),
        );
        if self.flavor == Flavor::Oci {
            image.annotations = self.annotations.clone();
        }
        image
            .check_consistency()
            .map_err(|source| Error::Inconsistent {
                source: Box::new(source),
            })?;
        let manifest = RawManifest::encode_image(&image);
        Ok(BuiltImage {
            platform: self.platform.clone(),
            config_bytes,
            manifest,
            layers: self.layers.clone(),
        })
    }

    /// Builds and stores layers, config and manifest, in that order (untagged).
    pub fn write_to<S>(&self, store: &S) -> Result<BuiltImage>
    where
        S: BlobStore + ManifestStore + ?Sized,
    {
        let built = self.build()?;
        built.write_to(store)?;
        Ok(built)
    }
}

/// An image built in memory.
#[derive(Debug, Clone)]
pub struct BuiltImage {
    platform: Platform,
    config_bytes: Vec<u8>,
    manifest: RawManifest,
    layers: Vec<Layer>,
}

impl BuiltImage {
    /// The manifest.
    pub fn manifest(&self) -> &RawManifest {
        &self.manifest
    }

    /// The config bytes.
    pub fn config_bytes(&self) -> &[u8] {
        &self.config_bytes
    }

    /// The layers.
    pub fn layers(&self) -> &[Layer] {
        &self.layers
    }

    /// The manifest's descriptor with its platform, ready for an index.
    pub fn descriptor(&self) -> Descriptor {
        let mut d = self.manifest.descriptor();
        d.platform = Some(self.platform.clone());
        d
    }

    /// Stores layers, config and manifest (untagged), blobs first.
    pub fn write_to<S>(&self, store: &S) -> Result<()>
    where
        S: BlobStore + ManifestStore + ?Sized,
    {
        for layer in &self.layers {
            let d = &layer.info.descriptor;
            store
                .put_blob(&d.digest, Some(d.size), &mut layer.bytes())
                .map_err(store::Error::from_backend)?;
        }
        let config = Digest::sha256(&self.config_bytes);
        store
            .put_blob(
                &config,
                Some(self.config_bytes.len() as u64),
                &mut &self.config_bytes[..],
            )
            .map_err(store::Error::from_backend)?;
        store
            .put_manifest(&self.manifest, None)
            .map_err(store::Error::from_backend)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_date_epoch_values() {
        assert_eq!(parse_source_date_epoch(None).unwrap(), None);
        assert_eq!(parse_source_date_epoch(Some(" ")).unwrap(), None);
        assert_eq!(
            parse_source_date_epoch(Some("1700000000\n")).unwrap(),
            Some(1_700_000_000)
        );
        let err = parse_source_date_epoch(Some("-1")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "SOURCE_DATE_EPOCH=\"-1\" is not a number of seconds since 1970"
        );
        assert!(parse_source_date_epoch(Some("1.5")).is_err());
    }

    #[test]
    fn rfc3339_matches_known_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(4_102_444_799), "2099-12-31T23:59:59Z");
    }

    fn sample() -> LayerBuilder {
        LayerBuilder::new()
            .mtime(1_700_000_000)
            .file("/app/bin/hello", 0o755, b"#!/bin/true\n".to_vec())
            .file("etc/motd", 0o644, b"hi\n".to_vec())
            .symlink("app/current", "bin")
    }

    #[test]
    fn layers_are_reproducible_and_sorted() {
        let a = sample().build().unwrap();
        let b = sample().build().unwrap();
        assert_eq!(a, b);
        let mut gz = flate2::read::GzDecoder::new(a.bytes());
        let mut tar_bytes = Vec::new();
        gz.read_to_end(&mut tar_bytes).unwrap();
        assert_eq!(Digest::sha256(&tar_bytes), a.info().diff_id);
        let mut archive = tar::Archive::new(&tar_bytes[..]);
        let mut names = Vec::new();
        for e in archive.entries().unwrap() {
            let e = e.unwrap();
            let h = e.header();
            assert_eq!(h.mtime().unwrap(), 1_700_000_000);
            assert_eq!((h.uid().unwrap(), h.gid().unwrap()), (0, 0));
            names.push(e.path().unwrap().display().to_string());
        }
        assert_eq!(
            names,
            [
                "app/",
                "app/bin/",
                "app/bin/hello",
                "app/current",
                "etc/",
                "etc/motd"
            ]
        );
        // Another mtime is another layer.
        let c = sample().mtime(1).build().unwrap();
        assert_ne!(c.info().diff_id, a.info().diff_id);
    }

    #[test]
    fn bad_paths_are_refused() {
        let err = LayerBuilder::new()
            .file("../x", 0o644, vec![])
            .build()
            .unwrap_err();
        assert!(matches!(err, Error::InvalidPath { .. }), "{err}");
        let err = LayerBuilder::new()
            .file("a", 0o644, vec![])
            .file("/a", 0o644, vec![])
            .build()
            .unwrap_err();
        assert!(matches!(err, Error::DuplicatePath { ref path } if path == "a"));
        assert!(LayerBuilder::new().dir("/", 0o755).build().is_err());
    }

    #[test]
    fn images_are_reproducible() {
        let build = || {
            ImageBuilder::new(Platform::parse("linux/arm/v7").unwrap())
                .layer(sample().build().unwrap())
                .entrypoint(["/app/bin/hello"])
                .user("65532")
                .env("PATH", "/app/bin")
                .created(1_700_000_000)
                .build()
                .unwrap()
        };
        let (a, b) = (build(), build());
        assert_eq!(a.manifest(), b.manifest());
        let config = ImageConfig::from_slice(a.config_bytes()).unwrap();
        assert_eq!(config.platform().to_string(), "linux/arm/v7");
        assert_eq!(config.created.as_deref(), Some("2023-11-14T22:13:20Z"));
        assert_eq!(config.rootfs.unwrap().diff_ids.len(), 1);
        let docker = ImageBuilder::new(Platform::parse("linux/amd64").unwrap())
            .flavor(Flavor::Docker)
            .layer(sample().flavor(Flavor::Docker).build().unwrap())
            .build()
            .unwrap();
        match docker.manifest().decode().unwrap() {
            manifest::Manifest::Image(m) => m.check_consistency().unwrap(),
            manifest::Manifest::Index(_) => panic!("image expected"),
        }
    }
}
