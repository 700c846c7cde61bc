//! Reproducible images from files: a gzip layer tarball, an image config and a manifest.
//!
//! Reproducible by construction: entries are sorted by path, parent directories are added explicitly,
//! owner and group are fixed numbers with empty names, every mtime is the same (`SOURCE_DATE_EPOCH`, or
//! the Unix epoch), and gzip writes no file name and a zero timestamp. Building the same inputs twice
//! gives the same bytes, hence the same digests.
//!
//! Compression is gzip level 1 by default, as ko's layers are (go-containerregistry's `tarball` layers
//! default to `gzip.BestSpeed`): a Go binary barely shrinks at higher levels while compression time
//! grows several-fold. The deflate backend is always zlib-rs (flate2's `zlib-rs` feature, enabled by this
//! crate): gzip output differs between deflate implementations, so pinning one keeps the bytes, and so the
//! digests, the same on every machine and in every build of slipway. The uncompressed tar is digested
//! (diff ID) and the compressed stream digested and counted as it is written, in one pass.
//!
//! An image can sit on a base ([`ImageBuilder::base`]): the base's layers come first, its config is
//! the starting point (environment, working directory, user, labels and history kept; entrypoint and
//! command replaced), and its diff IDs and history entries precede ours.

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
    /// The base image's config lists another number of diff IDs than its manifest has layers.
    #[error("the base image has {layers} layers but its config lists {diff_ids} diff IDs")]
    BaseMismatch {
        /// Layers in the base manifest.
        layers: usize,
        /// Diff IDs in the base config.
        diff_ids: usize,
    },
    /// Writing to the store failed.
    #[error(transparent)]
    Store(#[from] store::Error),
}

/// Sets `key=value` in a `KEY=value` list, replacing the first entry for `key` in place (so the order of
/// a base's environment is kept) and dropping any later duplicates.
fn set_env(env: &mut Vec<String>, key: &str, value: &str) {
    let entry = format!("{key}={value}");
    let is_key = |e: &String| e.split_once('=').map_or(e.as_str(), |(k, _)| k) == key;
    match env.iter().position(is_key) {
        Some(first) => {
            env[first] = entry;
            let mut i = 0;
            env.retain(|e| {
                i += 1;
                i - 1 == first || !is_key(e)
            });
        }
        None => env.push(entry),
    }
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
            level: DEFAULT_LEVEL,
            flavor: Flavor::Oci,
        }
    }
}

/// The default gzip level: 1, as ko (go-containerregistry's `gzip.BestSpeed`).
pub const DEFAULT_LEVEL: u32 = 1;

/// How much of the tar stream is gathered before it is digested and handed to the compressor: large
/// writes keep the per-call overhead of SHA-256 and deflate negligible.
const STREAM_BUFFER: usize = 256 * 1024;

/// Uncompressed bytes per independently deflated piece of a layer. A constant, so the compressed bytes
/// never depend on how many threads did the work.
const PIECE: usize = 1 << 20;

/// Deflate's window: each piece is primed with this much of the data before it (as pigz does), so
/// splitting costs almost no compression.
const WINDOW: usize = 32 * 1024;

/// A gzip writer that deflates 1 MiB pieces in parallel, pigz-style: each piece is compressed on its own
/// (primed with the preceding 32 KiB as dictionary) and ends with a sync flush, which byte-aligns it, so
/// the pieces concatenate into one ordinary deflate stream inside one gzip member. The CRC-32 and size
/// of the trailer are computed over the uncompressed stream as it passes. Deterministic: the piece size
/// is fixed, the header has no name and a zero mtime, and the thread count only decides how many pieces
/// are in flight at once.
struct ParallelGz<W: Write> {
    out: W,
    level: u32,
    pending: Vec<u8>,
    /// The last [`WINDOW`] bytes before `pending`.
    window: Vec<u8>,
    crc: flate2::Crc,
    /// Pieces compressed per round: two per thread keeps every thread busy while staying bounded.
    batch: usize,
}

impl<W: Write> ParallelGz<W> {
    fn new(mut out: W, level: u32) -> io::Result<Self> {
        // XFL as zlib sets it: 2 = slowest, 4 = fastest; OS 255 = unknown (the host stays out).
        let xfl = match level {
            1 => 4,
            9 => 2,
            _ => 0,
        };
        out.write_all(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, xfl, 255])?;
        let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        Ok(ParallelGz {
            out,
            level,
            pending: Vec::new(),
            window: Vec::new(),
            crc: flate2::Crc::new(),
            batch: 2 * threads,
        })
    }

    /// Compresses the pending data: every whole piece, or with `last` everything, ending the stream.
    fn compress_pending(&mut self, last: bool) -> io::Result<()> {
        let whole = self.pending.len() / PIECE * PIECE;
        let take = if last { self.pending.len() } else { whole };
        if take == 0 && !last {
            return Ok(());
        }
        let data = &self.pending[..take];
        let mut pieces: Vec<(&[u8], &[u8])> = Vec::new();
        let mut start = 0;
        loop {
            let end = (start + PIECE).min(data.len());
            let dict = if start == 0 {
                &self.window[..]
            } else {
                &data[start.saturating_sub(WINDOW)..start]
            };
            pieces.push((dict, &data[start..end]));
            start = end;
            if start >= data.len() {
                break;
            }
        }
        let count = pieces.len();
        let level = self.level;
        let compressed: Vec<io::Result<Vec<u8>>> = if count == 1 {
            vec![deflate_piece(level, pieces[0].0, pieces[0].1, last)]
        } else {
            std::thread::scope(|scope| {
                let handles: Vec<_> = pieces
                    .iter()
                    .enumerate()
                    .map(|(i, &(dict, piece))| {
                        let end = last && i + 1 == count;
                        scope.spawn(move || deflate_piece(level, dict, piece, end))
                    })
                    .collect();
                crate::threads::join_all(handles)
            })
        };
        for piece in compressed {
            self.out.write_all(&piece?)?;
        }
        let keep_from = take.saturating_sub(WINDOW);
        if take >= WINDOW {
            self.window.clear();
        } else {
            let drop = (self.window.len() + take).saturating_sub(WINDOW);
            self.window.drain(..drop);
        }
        self.window
            .extend_from_slice(&self.pending[keep_from..take]);
        self.pending.drain(..take);
        Ok(())
    }

    /// Ends the stream and writes the trailer; returns the inner writer.
    fn finish(mut self) -> io::Result<W> {
        self.compress_pending(true)?;
        let mut trailer = [0u8; 8];
        trailer[..4].copy_from_slice(&self.crc.sum().to_le_bytes());
        trailer[4..].copy_from_slice(&self.crc.amount().to_le_bytes());
        self.out.write_all(&trailer)?;
        Ok(self.out)
    }
}

impl<W: Write> Write for ParallelGz<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.crc.update(buf);
        self.pending.extend_from_slice(buf);
        if self.pending.len() >= self.batch * PIECE {
            self.compress_pending(false)?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        // Pieces are cut at fixed offsets whatever the caller's flushes, so the output stays the same.
        Ok(())
    }
}

/// Raw deflate of one piece, primed with `dict`; ends with a sync flush, or the final block when `last`.
fn deflate_piece(level: u32, dict: &[u8], piece: &[u8], last: bool) -> io::Result<Vec<u8>> {
    let fail = |e: flate2::CompressError| io::Error::other(e.to_string());
    let mut deflate = flate2::Compress::new(Compression::new(level), false);
    if !dict.is_empty() {
        deflate.set_dictionary(dict).map_err(fail)?;
    }
    let flush = if last {
        flate2::FlushCompress::Finish
    } else {
        flate2::FlushCompress::Sync
    };
    let mut out = Vec::with_capacity(piece.len() / 2 + 1024);
    loop {
        if out.capacity() - out.len() < 1024 {
            out.reserve(out.capacity().max(64 * 1024));
        }
        let consumed = usize::try_from(deflate.total_in()).unwrap_or(usize::MAX);
        let status = deflate
            .compress_vec(&piece[consumed.min(piece.len())..], &mut out, flush)
            .map_err(fail)?;
        let all_in = usize::try_from(deflate.total_in()).is_ok_and(|n| n == piece.len());
        let room_left = out.len() < out.capacity();
        match status {
            flate2::Status::StreamEnd => return Ok(out),
            // A sync flush is complete once all input is in and the output did not fill up.
            _ if !last && all_in && room_left => return Ok(out),
            _ => {}
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
    /// An empty layer: mtime 0, owner 0:0, OCI media type, gzip level [`DEFAULT_LEVEL`].
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
        let compressed = HashingWriter::new(io::BufWriter::with_capacity(STREAM_BUFFER, out));
        let gz = ParallelGz::new(compressed, self.level).map_err(layer_err)?;
        let mut tar = tar::Builder::new(io::BufWriter::with_capacity(
            STREAM_BUFFER,
            HashingWriter::new(gz),
        ));
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
        let uncompressed = tar
            .into_inner()
            .map_err(layer_err)?
            .into_inner()
            .map_err(|e| layer_err(e.into_error()))?;
        let (gz, diff_id, _) = uncompressed.finish();
        let compressed = gz.finish().map_err(layer_err)?;
        let (out, digest, size) = compressed.finish();
        out.into_inner().map_err(|e| layer_err(e.into_error()))?;
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

/// The base an image is built on: its config and its layers' descriptors (the layer blobs themselves
/// stay where they are; whoever writes the image copies them to the destination first).
#[derive(Debug, Clone)]
struct Base {
    config: ImageConfig,
    layers: Vec<Descriptor>,
}

/// Assembles an image (config + manifest) for one platform from layers.
#[derive(Debug, Clone)]
pub struct ImageBuilder {
    platform: Platform,
    flavor: Flavor,
    base: Option<Base>,
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
            base: None,
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

    /// Builds on a base image: `config` is the base's decoded config blob and `layers` its manifest's
    /// layer descriptors, which come before this builder's layers. The result keeps the base config's
    /// fields (environment, working directory, user, labels, history, and fields this crate does not
    /// model); what this builder sets replaces them: the entrypoint (which also clears the base's
    /// command, as ko does, so the base's arguments are not passed to another program), environment
    /// variables by name, user, working directory, labels by key. The builder's
    /// [`flavor`](Self::flavor) must be the base's: layers of both flavours in one manifest are refused.
    #[must_use]
    pub fn base(mut self, config: ImageConfig, layers: Vec<Descriptor>) -> Self {
        self.base = Some(Base { config, layers });
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

    /// Sets `KEY=value` in the environment, replacing an earlier value of `KEY` (here or in the base).
    #[must_use]
    pub fn env(mut self, key: &str, value: &str) -> Self {
        set_env(&mut self.config.env, key, value);
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

    /// The image config: the base's with this builder's settings on top, or a fresh one.
    fn config(&self, created: &str) -> Result<ImageConfig> {
        let ours = self.layers.iter().map(|l| l.info.diff_id.clone());
        let history = self.layers.iter().map(|_| History {
            created: Some(created.to_owned()),
            created_by: Some("slipway".to_owned()),
            ..History::default()
        });
        let Some(base) = &self.base else {
            return Ok(ImageConfig {
                created: Some(created.to_owned()),
                architecture: self.platform.architecture.clone(),
                os: self.platform.os.clone(),
                os_version: Some(self.platform.os_version.clone()).filter(|v| !v.is_empty()),
                os_features: self.platform.os_features.clone(),
                variant: Some(self.platform.variant.clone()).filter(|v| !v.is_empty()),
                config: Some(self.config.clone()),
                rootfs: Some(RootFs {
                    kind: "layers".to_owned(),
                    diff_ids: ours.collect(),
                }),
                history: history.collect(),
                ..ImageConfig::default()
            });
        };
        let mut config = base.config.clone();
        let mut rootfs = config.rootfs.take().unwrap_or_else(|| RootFs {
            kind: "layers".to_owned(),
            diff_ids: Vec::new(),
        });
        // A base whose config lists other layers than its manifest would give an image whose layers and
        // diff IDs disagree, which runtimes reject at pull time; refuse it now.
        if rootfs.diff_ids.len() != base.layers.len() {
            return Err(Error::BaseMismatch {
                layers: base.layers.len(),
                diff_ids: rootfs.diff_ids.len(),
            });
        }
        rootfs.diff_ids.extend(ours);
        config.rootfs = Some(rootfs);
        config.history.extend(history);
        config.created = Some(created.to_owned());
        let mut runtime = config.config.take().unwrap_or_default();
        if !self.config.entrypoint.is_empty() {
            runtime.entrypoint.clone_from(&self.config.entrypoint);
            runtime.cmd.clear();
        }
        if !self.config.cmd.is_empty() {
            runtime.cmd.clone_from(&self.config.cmd);
        }
        for entry in &self.config.env {
            let (key, value) = entry.split_once('=').unwrap_or((entry, ""));
            set_env(&mut runtime.env, key, value);
        }
        if self.config.user.is_some() {
            runtime.user.clone_from(&self.config.user);
        }
        if self.config.working_dir.is_some() {
            runtime.working_dir.clone_from(&self.config.working_dir);
        }
        runtime.labels.extend(
            self.config
                .labels
                .iter()
                .map(|(k, v)| (k.clone(), v.clone())),
        );
        config.config = Some(runtime);
        Ok(config)
    }

    /// Builds config and manifest in memory.
    pub fn build(&self) -> Result<BuiltImage> {
        let created = rfc3339(self.created);
        let config = self.config(&created)?;
        let config_bytes = manifest::encode_json(&config);
        let config_desc = Descriptor::of_bytes(self.flavor.config_media_type(), &config_bytes);
        let base_layers = self.base.iter().flat_map(|b| b.layers.iter().cloned());
        let mut image = ImageManifest::new(
            self.flavor,
            config_desc,
            base_layers
                .chain(self.layers.iter().map(|l| l.info.descriptor.clone()))
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

    /// Stores this image's own layers, config and manifest (untagged), blobs first. A base's layers must
    /// already be in `store` (the manifest is refused otherwise, so nothing points at missing content).
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

    /// Several pieces' worth of data that compresses somewhat, like a binary.
    fn bulky(len: usize) -> Vec<u8> {
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        (0..len)
            .map(|i| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                if i % 3 == 0 {
                    b'a'
                } else {
                    (state >> 58) as u8
                }
            })
            .collect()
    }

    fn parallel_gzip(data: &[u8], level: u32, batch: usize, write_size: usize) -> Vec<u8> {
        let mut gz = ParallelGz::new(Vec::new(), level).unwrap();
        gz.batch = batch;
        for chunk in data.chunks(write_size) {
            gz.write_all(chunk).unwrap();
        }
        gz.finish().unwrap()
    }

    #[test]
    fn parallel_gzip_is_one_valid_member_whatever_the_thread_count() {
        let data = bulky(3 * PIECE + PIECE / 3);
        let one = parallel_gzip(&data, 1, 1, 8192);
        assert_eq!(
            one,
            parallel_gzip(&data, 1, 8, 100_000),
            "batch size changed the bytes"
        );
        assert_eq!(
            one,
            parallel_gzip(&data, 1, 3, PIECE),
            "write sizes changed the bytes"
        );
        for (level, gz) in [(1, one), (6, parallel_gzip(&data, 6, 2, 65_536))] {
            let mut back = Vec::new();
            flate2::read::GzDecoder::new(&gz[..])
                .read_to_end(&mut back)
                .unwrap();
            assert!(back == data, "level {level}: round trip differs");
            assert!(gz.len() < data.len(), "level {level} did not compress");
        }
        // Empty input is a valid empty member too.
        let empty = parallel_gzip(&[], 1, 2, 1);
        let mut back = Vec::new();
        flate2::read::GzDecoder::new(&empty[..])
            .read_to_end(&mut back)
            .unwrap();
        assert!(back.is_empty());
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
