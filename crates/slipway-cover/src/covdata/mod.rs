//! Binary coverage data: the `GOCOVERDIR` directories Go >= 1.20 writes (`go build -cover` binaries, and
//! `go test -cover … -args -test.gocoverdir=DIR`), read and merged the way `go tool covdata` does.
//!
//! - [`MetaFile`] decodes a `covmeta.<hash>` file (header, string tables, packages, functions, units).
//! - [`CounterFile`] decodes a `covcounters.<hash>.<pid>.<nanotime>` file (both counter flavors, every
//!   segment).
//! - [`collect_pods`] groups the files of several directories into [`Pod`]s.
//! - [`read_dirs`] reads and merges everything into [`CovData`], which prints what
//!   `go tool covdata func`, `percent` and `textfmt` print ([`CovData::func_text`],
//!   [`CovData::percent_text`], [`CovData::write_textfmt`]), converts to a text [`Profile`], and — with
//!   [`Operation::Subtract`] / [`Operation::Intersect`] — computes what `go tool covdata subtract` /
//!   `intersect` write.
//!
//! Decoding never panics and never allocates from a length field more than the file could hold; errors
//! name the file, the byte offset and the field. [`read_dirs`] reads counter-data files piece by piece,
//! one function at a time: a function record may hold at most as many counters as the meta-data file
//! declares units for it, a segment's string tables at most [`MAX_SEGMENT_STRINGS`] bytes, and a
//! meta-data file must be as long as its header declares; so memory follows what the meta-data declares,
//! not the size of the files.
//!
//! ```
//! use slipway_cover::covdata::{self, ModePolicy, ReadOptions};
//!
//! // Two GOCOVERDIR directories written by runs of one `go build -cover -covermode=set` binary.
//! let data = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/covdata/data");
//! let dirs = [format!("{data}/set-a"), format!("{data}/set-b")];
//! let cov = covdata::read_dirs(&dirs, &ReadOptions::default().policy(ModePolicy::Relaxed))?;
//! // `go tool covdata percent -i=set-a,set-b`, line for line.
//! assert!(cov.percent_text().starts_with("\texample.com/covd/calc\t\tcoverage: "));
//! // `go tool covdata textfmt`, as a text profile.
//! let profile = cov.to_profile()?;
//! assert_eq!(profile.mode(), Some(slipway_cover::Mode::Set));
//! Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod counter;
mod meta;
mod pods;
mod reader;

use reader::Stream;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::io::Write;

pub use counter::{CounterFile, CounterFlavor, FuncCounters, MAX_SEGMENT_STRINGS, Segment};
pub use meta::{CounterGranularity, CounterMode, FuncMeta, MetaFile, PackageMeta, Unit};
pub use pods::{Pod, PodCounterFile, collect_pods};

use crate::profile::{Block, FileProfile, Profile};

/// `Result` with this module's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong reading coverage directories.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An input directory could not be listed.
    #[error("reading inputs: open {dir}: {}", go_io_message(error))]
    ReadDir {
        /// The directory as given.
        dir: String,
        /// What the operating system said.
        #[source]
        error: std::io::Error,
    },
    /// A file could not be read.
    #[error("opening {file}: {}", go_io_message(error))]
    Io {
        /// The file.
        file: String,
        /// What the operating system said.
        #[source]
        error: std::io::Error,
    },
    /// The data ends before a field does.
    #[error("{file}: offset {offset}: {field}: need {need} bytes, only {have} left")]
    Truncated {
        /// The file.
        file: String,
        /// Byte offset of the field.
        offset: usize,
        /// The field being read.
        field: &'static str,
        /// Bytes the field needs.
        need: usize,
        /// Bytes left.
        have: usize,
    },
    /// The file does not start (or end) with the magic bytes of its kind.
    #[error("{file}: offset {offset}: {message}")]
    BadMagic {
        /// The file.
        file: String,
        /// Byte offset of the magic.
        offset: usize,
        /// Go's wording.
        message: &'static str,
    },
    /// The file is of a newer format version.
    #[error("{file}: offset {offset}: {message}")]
    UnsupportedVersion {
        /// The file.
        file: String,
        /// Byte offset of the version field.
        offset: usize,
        /// Go's wording, with the versions.
        message: String,
    },
    /// A field holds an impossible value.
    #[error("{file}: offset {offset}: {field}: {message}")]
    Malformed {
        /// The file.
        file: String,
        /// Byte offset of the field.
        offset: usize,
        /// The field.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// Two meta-data files disagree on the counter mode (with [`ModePolicy::Strict`]).
    #[error(
        "counter mode clash while reading meta-data file {file}: previous file had {previous}, new file has {new}"
    )]
    ModeClash {
        /// The meta-data file with the new mode.
        file: String,
        /// The mode seen first.
        previous: CounterMode,
        /// The new mode.
        new: CounterMode,
    },
    /// Two meta-data files disagree on the counter granularity.
    #[error(
        "counter granularity clash while reading meta-data file {file}: previous file had {previous}, new file has {new}"
    )]
    GranularityClash {
        /// The meta-data file with the new granularity.
        file: String,
        /// The granularity seen first.
        previous: CounterGranularity,
        /// The new granularity.
        new: CounterGranularity,
    },
    /// Two counter files hold a different number of counters for the same function.
    #[error(
        "{file}: merging counters of package {package} function {func}: len(dst)={dst} len(src)={src}"
    )]
    CounterCount {
        /// The counter-data file.
        file: String,
        /// Package index.
        package: u32,
        /// Function index.
        func: u32,
        /// Counters merged so far.
        dst: usize,
        /// Counters in this file.
        src: usize,
    },
    /// A function has fewer counters than coverable units.
    #[error(
        "{file}: package {package} function {func} ({name}) has {units} units but only {counters} counters"
    )]
    MissingCounters {
        /// The meta-data file.
        file: String,
        /// Package import path.
        package: String,
        /// Function index.
        func: usize,
        /// Function name.
        name: String,
        /// Units in the meta-data.
        units: usize,
        /// Counters in the counter data.
        counters: usize,
    },
    /// The data cannot be expressed as a text profile.
    #[error("counter mode {mode} cannot be written as a text profile")]
    ProfileMode {
        /// The mode.
        mode: CounterMode,
    },
    /// A `-pkg` pattern is not usable.
    #[error(
        "bad package pattern {}: {}",
        crate::quote::quoted(pattern),
        crate::quote::excerpt(message)
    )]
    BadPattern {
        /// The pattern.
        pattern: String,
        /// Why.
        message: String,
    },
}

/// Go's wording for an I/O error: the OS message without Rust's `(os error N)`, lower-cased first.
fn go_io_message(error: &std::io::Error) -> String {
    let text = error.to_string();
    let text = match text.rfind(" (os error ") {
        Some(i) => &text[..i],
        None => &text,
    };
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// What to do when meta-data files disagree on the counter mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ModePolicy {
    /// A clash is an error (`go tool covdata textfmt`, `merge`, `subtract`, `intersect`).
    #[default]
    Strict,
    /// The higher mode wins (`go tool covdata percent` and `func`).
    Relaxed,
}

/// How the counters of the second and later input directories combine with the first's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Operation {
    /// Everything merges (set mode: OR; count/atomic: saturating add).
    #[default]
    Merge,
    /// A counter of the first directory is zeroed where a counter file of a later directory has it
    /// non-zero (`go tool covdata subtract`).
    Subtract,
    /// A counter of the first directory is zeroed where a counter file of a later directory has it zero,
    /// and functions a later directory lacks are dropped (`go tool covdata intersect`).
    Intersect,
}

/// A `go tool covdata -pkg` pattern list: comma-separated import-path patterns where `...` matches
/// anything and a trailing `/...` also matches the path without it.
#[derive(Debug, Clone)]
pub struct PackageFilter {
    patterns: Vec<regex::Regex>,
}

impl PackageFilter {
    /// Parses a comma-separated pattern list (empty items are skipped, as Go skips them).
    ///
    /// # Errors
    /// [`Error::BadPattern`] when a pattern does not compile.
    pub fn new(list: &str) -> Result<PackageFilter> {
        let mut patterns = Vec::new();
        for pattern in list.split(',').filter(|p| !p.is_empty()) {
            let mut re = regex::escape(pattern);
            if let Some(stem) = re.strip_suffix(r"/\.\.\.") {
                re = format!(r"{stem}(/\.\.\.)?");
            }
            let re = re.replace(r"\.\.\.", ".*");
            let re = regex::Regex::new(&format!("^(?s:{re})$")).map_err(|e| Error::BadPattern {
                pattern: pattern.to_owned(),
                message: e.to_string(),
            })?;
            patterns.push(re);
        }
        Ok(PackageFilter { patterns })
    }

    /// Whether an import path matches one of the patterns.
    pub fn matches(&self, path: &str) -> bool {
        self.patterns.iter().any(|re| re.is_match(path))
    }
}

/// Options of [`read_dirs`].
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ReadOptions {
    /// What a counter mode clash does.
    pub policy: ModePolicy,
    /// How later directories combine with the first.
    pub operation: Operation,
    /// Only packages matching this filter are reported.
    pub packages: Option<PackageFilter>,
    /// Read every segment of a counter file; `go tool covdata` reads only the first.
    pub all_segments: bool,
}

impl ReadOptions {
    /// Sets the mode clash policy.
    #[must_use]
    pub fn policy(mut self, policy: ModePolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Sets the operation.
    #[must_use]
    pub fn operation(mut self, operation: Operation) -> Self {
        self.operation = operation;
        self
    }

    /// Restricts the packages reported.
    #[must_use]
    pub fn packages(mut self, filter: PackageFilter) -> Self {
        self.packages = Some(filter);
        self
    }

    /// Reads every segment of every counter file.
    #[must_use]
    pub fn all_segments(mut self, all: bool) -> Self {
        self.all_segments = all;
        self
    }
}

/// `FxHash` (rustc's hasher): the keys here are small integers and short strings from trusted data
/// already decoded, where `SipHash`'s flooding resistance buys nothing and costs a fifth of the run time.
#[derive(Default, Clone, Copy)]
struct FxHasher(u64);

impl std::hash::Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
        for &b in chunks.remainder() {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.write_u64(u64::from(i));
    }

    fn write_u32(&mut self, i: u32) {
        self.write_u64(u64::from(i));
    }

    fn write_u64(&mut self, i: u64) {
        self.0 = (self.0.rotate_left(5) ^ i).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }

    fn write_usize(&mut self, i: usize) {
        self.write_u64(i as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

type FastMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<FxHasher>>;

/// A function as `go tool covdata` keys it: file, name and whether it is a literal.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct FuncKey {
    file: String,
    name: String,
    literal: bool,
}

#[derive(Debug, Default)]
struct PackageUnits {
    funcs: Vec<FuncKey>,
    func_index: FastMap<FuncKey, u32>,
    units: FastMap<(u32, Unit), u32>,
}

/// One unit of [`CovData`] with its merged count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnitCount<'a> {
    /// The source file.
    pub file: &'a str,
    /// The function.
    pub func: &'a str,
    /// Whether the function is a package-level function literal.
    pub literal: bool,
    /// The unit.
    pub unit: Unit,
    /// Its count (0 or 1 in set mode).
    pub count: u32,
}

/// Coverage merged from one or more `GOCOVERDIR` directories, per package, as `go tool covdata` holds it.
#[derive(Debug, Default)]
pub struct CovData {
    mode: Option<CounterMode>,
    packages: BTreeMap<String, PackageUnits>,
    warnings: Vec<String>,
}

/// Reads and merges the coverage directories, as `go tool covdata` does for `-i=DIR,DIR…`.
///
/// # Errors
/// Any [`Error`]: a directory that cannot be listed, a file that cannot be read or decoded, mode or
/// granularity clashes, counters that do not fit the meta-data.
pub fn read_dirs<S: AsRef<str>>(dirs: &[S], options: &ReadOptions) -> Result<CovData> {
    let pods = collect_pods(dirs)?;
    let mut data = CovData::default();
    if pods.is_empty() {
        data.warnings
            .push("no applicable files found in input directories".to_owned());
    }
    let mut state = MergeState::default();
    for pod in &pods {
        let meta = read_meta_file(&pod.meta_file, &pod.meta_path)?;
        let counter_files: Vec<_> = pod
            .counter_files
            .iter()
            .map(|cf| CounterSource {
                name: &cf.name,
                origin: cf.origin,
                data: CounterData::Path(&cf.path),
            })
            .collect();
        data.add_pod(&pod.meta_file, &meta, &counter_files, options, &mut state)?;
    }
    Ok(data)
}

/// A counter-data file to merge: in memory, or on disk (read piece by piece).
struct CounterSource<'a> {
    name: &'a str,
    origin: usize,
    data: CounterData<'a>,
}

enum CounterData<'a> {
    Bytes(&'a [u8]),
    Path(&'a std::path::Path),
}

/// A pod already in memory: a meta-data file and its counter-data files (see [`read_pods`]).
#[derive(Debug, Clone)]
pub struct PodBytes<'a> {
    /// The meta-data file's name (used in messages).
    pub meta_file: &'a str,
    /// Its bytes.
    pub meta: &'a [u8],
    /// The counter-data files, in the order Go visits them (by input directory, then name).
    pub counter_files: Vec<CounterBytes<'a>>,
}

/// A counter-data file in memory.
#[derive(Debug, Clone, Copy)]
pub struct CounterBytes<'a> {
    /// Its name (used in messages).
    pub name: &'a str,
    /// The index of the input directory it came from (what subtract and intersect go by).
    pub origin: usize,
    /// Its bytes.
    pub bytes: &'a [u8],
}

/// Merges pods already in memory, in the given order (Go sorts pods by meta-data file name), as
/// [`read_dirs`] merges the pods it finds.
///
/// # Errors
/// As [`read_dirs`], less the file system.
pub fn read_pods(pods: &[PodBytes<'_>], options: &ReadOptions) -> Result<CovData> {
    let mut data = CovData::default();
    if pods.is_empty() {
        data.warnings
            .push("no applicable files found in input directories".to_owned());
    }
    let mut state = MergeState::default();
    for pod in pods {
        let counter_files: Vec<_> = pod
            .counter_files
            .iter()
            .map(|cf| CounterSource {
                name: cf.name,
                origin: cf.origin,
                data: CounterData::Bytes(cf.bytes),
            })
            .collect();
        data.add_pod(pod.meta_file, pod.meta, &counter_files, options, &mut state)?;
    }
    Ok(data)
}

/// The mode and granularity seen so far (Go's `cmerge.Merger`).
#[derive(Default)]
struct MergeState {
    mode: Option<CounterMode>,
    granularity: Option<CounterGranularity>,
    dir: Option<usize>,
}

impl MergeState {
    /// Go's `SetModeAndGranularity`: the first file sets both; later ones must agree (a relaxed mode
    /// clash keeps the higher mode).
    fn check_mode(&mut self, file: &str, meta: &MetaFile, policy: ModePolicy) -> Result<()> {
        let (Some(previous), Some(granularity)) = (self.mode, self.granularity) else {
            self.mode = Some(meta.mode);
            self.granularity = Some(meta.granularity);
            return Ok(());
        };
        if granularity != meta.granularity {
            return Err(Error::GranularityClash {
                file: file.to_owned(),
                previous: granularity,
                new: meta.granularity,
            });
        }
        if previous != meta.mode {
            if policy == ModePolicy::Strict {
                return Err(Error::ModeClash {
                    file: file.to_owned(),
                    previous,
                    new: meta.mode,
                });
            }
            if previous.to_byte() < meta.mode.to_byte() {
                self.mode = Some(meta.mode);
            }
        }
        Ok(())
    }
}

/// Counters of one pod per package and function (`None`: no counter file had the function).
type PodCounters = Vec<Vec<Option<Vec<u32>>>>;

/// Reads a meta-data file whose header's total length is its size: a header declaring another length
/// is refused before the rest is read, so memory follows what the meta-data declares and the file holds.
fn read_meta_file(name: &str, path: &std::path::Path) -> Result<Vec<u8>> {
    use std::io::Read;
    let io = |error| Error::Io {
        file: name.to_owned(),
        error,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    let mut head = Vec::with_capacity(meta::TOTAL_LENGTH_END);
    (&file)
        .take(meta::TOTAL_LENGTH_END as u64)
        .read_to_end(&mut head)
        .map_err(io)?;
    let Some(declared) = meta::declared_length(name, &head)? else {
        // Too short to declare a length: the decoder names what is missing.
        return Ok(head);
    };
    if declared != len {
        return Err(Error::Malformed {
            file: name.to_owned(),
            offset: 8,
            field: "header total length",
            message: format!("{declared} bytes declared, but the file has {len}"),
        });
    }
    // The rest, as much as the header declares and no more (the file may grow while it is read); a
    // length the process cannot hold is an error, not an abort.
    let mut bytes = head;
    let rest = usize::try_from(len)
        .ok()
        .and_then(|len| len.checked_sub(bytes.len()))
        .ok_or_else(|| io(std::io::Error::from(std::io::ErrorKind::OutOfMemory)))?;
    bytes
        .try_reserve_exact(rest)
        .map_err(|_| io(std::io::Error::from(std::io::ErrorKind::OutOfMemory)))?;
    (&file)
        .take(rest as u64)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    Ok(bytes)
}

/// Go's `SaturatingAdd` on `uint32` counters.
fn saturating_add(a: u32, b: u32, overflow: &mut bool) -> u32 {
    a.checked_add(b).unwrap_or_else(|| {
        *overflow = true;
        u32::MAX
    })
}

impl CovData {
    fn add_pod(
        &mut self,
        meta_file: &str,
        meta: &[u8],
        counter_files: &[CounterSource<'_>],
        options: &ReadOptions,
        state: &mut MergeState,
    ) -> Result<()> {
        let meta = MetaFile::decode(meta_file, meta)?;
        state.check_mode(meta_file, &meta, options.policy)?;
        // Go's formatter keeps the mode of the first meta-data file it sees.
        let format_mode = *self.mode.get_or_insert(meta.mode);
        let counters = self.pod_counters(counter_files, &meta, options, state)?;

        for (pkg_index, pkg) in meta.packages.iter().enumerate() {
            if let Some(filter) = &options.packages
                && !filter.matches(&pkg.path)
            {
                continue;
            }
            let units = self.packages.entry(pkg.path.clone()).or_default();
            for (func_index, func) in pkg.funcs().enumerate() {
                let ctrs = counters
                    .get(pkg_index)
                    .and_then(|p| p.get(func_index))
                    .and_then(Option::as_ref);
                if let Some(c) = ctrs
                    && c.len() < func.units.len()
                {
                    return Err(Error::MissingCounters {
                        file: meta_file.to_owned(),
                        package: pkg.path.clone(),
                        func: func_index,
                        name: func.name.to_owned(),
                        units: func.units.len(),
                        counters: c.len(),
                    });
                }
                units.add_func(&func, ctrs.map(Vec::as_slice), format_mode);
            }
        }
        Ok(())
    }

    /// The counters of a pod's counter-data files, merged (or subtracted, intersected) per function.
    fn pod_counters(
        &mut self,
        counter_files: &[CounterSource<'_>],
        meta: &MetaFile,
        options: &ReadOptions,
        state: &mut MergeState,
    ) -> Result<PodCounters> {
        // counters[package][func]; one slot past the last function because Go accepts that index.
        let mut counters: PodCounters = meta
            .packages
            .iter()
            .map(|p| vec![None; p.func_count() + 1])
            .collect();
        let unseen = |counters: &PodCounters| -> Vec<Vec<bool>> {
            counters.iter().map(|p| vec![false; p.len()]).collect()
        };
        // Go's subtract/intersect state: the directory index of the last counter file (kept across
        // pods, as Go keeps it) and the functions a later directory had counters for.
        let mut seen = (options.operation == Operation::Intersect).then(|| unseen(&counters));
        let max_segments = if options.all_segments { usize::MAX } else { 1 };
        for cf in counter_files {
            if options.operation != Operation::Merge && state.dir != Some(cf.origin) {
                if cf.origin == 0 {
                    seen = None;
                } else if options.operation == Operation::Intersect {
                    if let Some(seen) = seen.take() {
                        prune(&mut counters, &seen);
                    }
                    seen = Some(unseen(&counters));
                }
                state.dir = Some(cf.origin);
            }
            let mut merge = MergeFile {
                file: cf.name,
                meta,
                counters: &mut counters,
                seen: seen.as_mut(),
                combine: options.operation == Operation::Merge || state.dir == Some(0),
                operation: options.operation,
                merge_set: state.mode == Some(CounterMode::Set),
                overflow: false,
                warnings: &mut self.warnings,
            };
            match cf.data {
                CounterData::Bytes(bytes) => {
                    let cursor = std::io::Cursor::new(bytes);
                    let mut stream = Stream::new(cf.name, cursor, bytes.len());
                    counter::visit(&mut stream, max_segments, &mut merge)?;
                }
                CounterData::Path(path) => {
                    let io = |error| Error::Io {
                        file: cf.name.to_owned(),
                        error,
                    };
                    let file = std::fs::File::open(path).map_err(io)?;
                    let len = file.metadata().map_err(io)?.len();
                    let len = usize::try_from(len).unwrap_or(usize::MAX);
                    let mut stream = Stream::new(cf.name, std::io::BufReader::new(file), len);
                    counter::visit(&mut stream, max_segments, &mut merge)?;
                }
            }
            if merge.overflow {
                self.warnings
                    .push("uint32 overflow during counter merge".to_owned());
            }
        }
        if let Some(seen) = &seen {
            prune(&mut counters, seen);
        }
        Ok(counters)
    }

    /// The counter mode (of the first meta-data file read), or `None` when no data was found.
    pub fn mode(&self) -> Option<CounterMode> {
        self.mode
    }

    /// Warnings Go prints to standard error (without the `warning: ` prefix).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The import paths of the packages, sorted.
    pub fn package_paths(&self) -> impl Iterator<Item = &str> + '_ {
        self.packages.keys().map(String::as_str)
    }

    /// The units of a package with their counts, in `go tool covdata textfmt` order (file, start line,
    /// end line, start column, end column, statements).
    pub fn units(&self, package: &str) -> Vec<UnitCount<'_>> {
        self.packages
            .get(package)
            .map(PackageUnits::sorted)
            .unwrap_or_default()
    }

    /// Writes the profile `go tool covdata textfmt` writes (nothing when no data was found).
    ///
    /// # Errors
    /// Whatever `out` returns.
    pub fn write_textfmt<W: Write>(&self, mut out: W) -> std::io::Result<()> {
        let Some(mode) = self.mode else {
            return Ok(());
        };
        let mut buf = Vec::with_capacity(64 * 1024);
        writeln!(buf, "mode: {mode}")?;
        for pkg in self.packages.values() {
            for u in pkg.sorted() {
                let n = &u.unit;
                // By hand rather than with `writeln!`: this loop is most of textfmt's run time.
                buf.extend_from_slice(u.file.as_bytes());
                for (sep, value) in [
                    (b':', n.start_line),
                    (b'.', n.start_col),
                    (b',', n.end_line),
                    (b'.', n.end_col),
                    (b' ', n.num_stmts),
                    (b' ', u.count),
                ] {
                    buf.push(sep);
                    push_decimal(&mut buf, value);
                }
                buf.push(b'\n');
                if buf.len() > 60 * 1024 {
                    out.write_all(&buf)?;
                    buf.clear();
                }
            }
        }
        out.write_all(&buf)
    }

    /// [`CovData::write_textfmt`] into a string.
    pub fn textfmt(&self) -> String {
        let mut out = Vec::new();
        // Writing to a Vec cannot fail, and every piece written is UTF-8.
        let _ = self.write_textfmt(&mut out);
        String::from_utf8(out)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
    }

    /// What `go tool covdata percent` prints: one line per package. A package without statements
    /// gets its name and no percentage — and, as in Go, no newline.
    pub fn percent_text(&self) -> String {
        let mut out = String::new();
        if self.mode.is_none() {
            return out;
        }
        for (path, pkg) in &self.packages {
            let (covered, total) = pkg.statements();
            let _ = write!(out, "\t{path}\t\t");
            if total != 0 {
                let _ = writeln!(
                    out,
                    "coverage: {:.1}% of statements",
                    percent(covered, total)
                );
            }
        }
        out
    }

    /// What `go tool covdata func` prints: a line per function (package-level function literals count
    /// in the total only) and the total, aligned with tabs as Go's `text/tabwriter` aligns them.
    pub fn func_text(&self) -> String {
        if self.mode.is_none() {
            return String::new();
        }
        let mut rows: Vec<[String; 3]> = Vec::new();
        let (mut all, mut covered_all) = (0u64, 0u64);
        for pkg in self.packages.values() {
            let units = pkg.sorted();
            let Some(first) = units.first() else {
                continue;
            };
            let mut current = *first;
            let (mut total, mut covered) = (0u64, 0u64);
            let mut emit = |current: &UnitCount<'_>, total: u64, covered: u64| {
                if !current.literal {
                    rows.push([
                        format!("{}:{}:", current.file, current.unit.start_line),
                        current.func.to_owned(),
                        format!("{:.1}%", percent(covered, total)),
                    ]);
                }
                all += total;
                covered_all += covered;
            };
            for u in &units {
                // Go starts a new function whenever the name changes (file and literal flag aside).
                if u.func != current.func {
                    emit(&current, total, covered);
                    current = *u;
                    total = 0;
                    covered = 0;
                }
                total += u64::from(u.unit.num_stmts);
                if u.count != 0 {
                    covered += u64::from(u.unit.num_stmts);
                }
            }
            emit(&current, total, covered);
        }
        rows.push([
            "total".to_owned(),
            "(statements)".to_owned(),
            format!("{:.1}%", percent(covered_all, all)),
        ]);
        crate::summary::tabwrite(&rows)
    }

    /// The data as a text [`Profile`]: blocks of different functions with the same range merge as a
    /// profile merges them (OR in set mode, saturating sum otherwise).
    ///
    /// # Errors
    /// [`Error::ProfileMode`] for a pseudo-mode a text profile cannot hold.
    pub fn to_profile(&self) -> Result<Profile> {
        let Some(mode) = self.mode else {
            return Ok(Profile::default());
        };
        let mode = mode.profile_mode().ok_or(Error::ProfileMode { mode })?;
        let mut files: BTreeMap<&str, HashMap<RangeKey, Block>> = BTreeMap::new();
        for pkg in self.packages.values() {
            for ((fid, unit), &count) in &pkg.units {
                let Some(func) = pkg.funcs.get(*fid as usize) else {
                    continue;
                };
                let blocks = files.entry(func.file.as_str()).or_default();
                let key = (unit.start_line, unit.start_col, unit.end_line, unit.end_col);
                blocks
                    .entry(key)
                    .and_modify(|b| b.count = mode.combine(b.count, u64::from(count)))
                    .or_insert(Block {
                        start_line: unit.start_line,
                        start_col: unit.start_col,
                        end_line: unit.end_line,
                        end_col: unit.end_col,
                        num_stmt: unit.num_stmts,
                        count: u64::from(count),
                    });
            }
        }
        let files = files
            .into_iter()
            .map(|(name, blocks)| {
                let mut blocks: Vec<Block> = blocks.into_values().collect();
                blocks.sort_by_key(|b| (b.start_line, b.start_col, b.end_line, b.end_col));
                FileProfile {
                    name: name.to_owned(),
                    blocks,
                }
            })
            .collect();
        Ok(Profile::from_parts(Some(mode), files))
    }
}

/// A unit ready for sorting: file rank, Go's order key, function index, the unit and its count.
type SortEntry<'a> = (u32, (u32, u32, u32, u32, u32), u32, &'a Unit, u32);

/// A block's range: start line and column, end line and column.
type RangeKey = (u32, u32, u32, u32);

/// Appends `value` in decimal.
fn push_decimal(buf: &mut Vec<u8>, mut value: u32) {
    let mut digits = [0u8; 10];
    let mut i = digits.len();
    loop {
        i -= 1;
        // A digit: always below 10.
        #[allow(clippy::cast_possible_truncation)]
        let digit = (value % 10) as u8;
        digits[i] = b'0' + digit;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    buf.extend_from_slice(&digits[i..]);
}

/// Go's `100.0 * covered / total`, with a total of 0 read as 1.
fn percent(covered: u64, total: u64) -> f64 {
    // Statement counts stay far below 2^53.
    #[allow(clippy::cast_precision_loss)]
    let (c, t) = (covered as f64, total.max(1) as f64);
    100.0 * c / t
}

/// Merges (or subtracts, intersects) one counter-data file's functions into a pod's counters as the
/// file is read.
struct MergeFile<'a> {
    file: &'a str,
    meta: &'a MetaFile,
    counters: &'a mut PodCounters,
    seen: Option<&'a mut Vec<Vec<bool>>>,
    /// Add the counters (merge, or the first directory of subtract/intersect).
    combine: bool,
    operation: Operation,
    merge_set: bool,
    overflow: bool,
    warnings: &'a mut Vec<String>,
}

impl counter::Visit for MergeFile<'_> {
    fn segment(&mut self, _: Vec<(String, String)>) -> Result<()> {
        Ok(())
    }

    /// A function of the meta-data file may have as many counters as it has units (more would be read
    /// into memory the meta-data does not account for); others (Go warns and ignores them, and accepts
    /// the index one past the last function silently) are skipped.
    fn limit(&mut self, package: u32, func: u32) -> Option<usize> {
        let pkg = self.meta.packages.get(package as usize)?;
        pkg.func(func as usize).map(|f| f.units.len())
    }

    fn skipped(&mut self, package: u32, func: u32, count: usize) {
        let in_range = self
            .counters
            .get(package as usize)
            .is_some_and(|p| (func as usize) < p.len());
        if !in_range {
            let nf = self
                .meta
                .packages
                .get(package as usize)
                .map_or(0, PackageMeta::func_count);
            self.warnings.push(format!(
                "func payload inconsistency: id [p={package},f={func}] nf={nf} len(ctrs)={count} in VisitFuncCounterData, ignored"
            ));
        }
    }

    fn func(&mut self, fc: FuncCounters<'_>) -> Result<()> {
        let Some(slot) = self
            .counters
            .get_mut(fc.package as usize)
            .and_then(|p| p.get_mut(fc.func as usize))
        else {
            return Ok(());
        };
        if self.combine {
            let dst = slot.get_or_insert_with(Vec::new);
            if dst.len() < fc.counters.len() {
                dst.resize(fc.counters.len(), 0);
            }
            if dst.len() != fc.counters.len() {
                return Err(Error::CounterCount {
                    file: self.file.to_owned(),
                    package: fc.package,
                    func: fc.func,
                    dst: dst.len(),
                    src: fc.counters.len(),
                });
            }
            for (d, &s) in dst.iter_mut().zip(fc.counters) {
                *d = if self.merge_set {
                    u32::from(s != 0 || *d != 0)
                } else {
                    saturating_add(*d, s, &mut self.overflow)
                };
            }
        } else if let Some(dst) = slot {
            for (d, &s) in dst.iter_mut().zip(fc.counters) {
                if (s != 0) == (self.operation == Operation::Subtract) {
                    *d = 0;
                }
            }
            if let Some(flag) = self
                .seen
                .as_mut()
                .and_then(|seen| seen.get_mut(fc.package as usize))
                .and_then(|p| p.get_mut(fc.func as usize))
            {
                *flag = true;
            }
        }
        Ok(())
    }
}

/// Drops the counters of functions not marked in `seen` (Go's `pruneCounters`).
fn prune(counters: &mut PodCounters, seen: &[Vec<bool>]) {
    for (pkg, seen) in counters.iter_mut().zip(seen) {
        for (slot, &seen) in pkg.iter_mut().zip(seen) {
            if !seen {
                *slot = None;
            }
        }
    }
}

impl PackageUnits {
    fn add_func(&mut self, func: &FuncMeta<'_>, counters: Option<&[u32]>, mode: CounterMode) {
        let key = FuncKey {
            file: func.file.to_owned(),
            name: func.name.to_owned(),
            literal: func.literal,
        };
        let next = u32::try_from(self.funcs.len()).unwrap_or(u32::MAX);
        let fid = *self.func_index.entry(key).or_insert_with_key(|key| {
            self.funcs.push(key.clone());
            next
        });
        for (i, unit) in func.units.iter().enumerate() {
            let count = counters.and_then(|c| c.get(i)).copied().unwrap_or(0);
            let slot = self.units.entry((fid, *unit)).or_insert(0);
            *slot = if mode == CounterMode::Set {
                u32::from(count != 0 || *slot != 0)
            } else {
                slot.saturating_add(count)
            };
        }
    }

    fn statements(&self) -> (u64, u64) {
        let (mut covered, mut total) = (0u64, 0u64);
        for ((_, unit), &count) in &self.units {
            total += u64::from(unit.num_stmts);
            if count != 0 {
                covered += u64::from(unit.num_stmts);
            }
        }
        (covered, total)
    }

    fn sorted(&self) -> Vec<UnitCount<'_>> {
        // Rank the functions by file name once, so the sort compares integers only.
        let mut by_file: Vec<u32> =
            (0..u32::try_from(self.funcs.len()).unwrap_or(u32::MAX)).collect();
        by_file.sort_unstable_by(|&a, &b| {
            let file = |fid: u32| self.funcs.get(fid as usize).map_or("", |f| f.file.as_str());
            file(a).cmp(file(b))
        });
        let mut rank = vec![0u32; self.funcs.len()];
        let mut current = 0u32;
        for (i, &fid) in by_file.iter().enumerate() {
            if i > 0
                && self.funcs.get(by_file[i - 1] as usize).map(|f| &f.file)
                    != self.funcs.get(fid as usize).map(|f| &f.file)
            {
                current += 1;
            }
            if let Some(slot) = rank.get_mut(fid as usize) {
                *slot = current;
            }
        }
        let mut units: Vec<SortEntry<'_>> = self
            .units
            .iter()
            .map(|((fid, unit), &count)| {
                let file_rank = rank.get(*fid as usize).copied().unwrap_or(0);
                (file_rank, unit.go_order_key(), *fid, unit, count)
            })
            .collect();
        // Ties (the same range in two functions) are ordered by first appearance; Go leaves them in
        // map order.
        units.sort_unstable_by_key(|&(file_rank, key, fid, _, _)| (file_rank, key, fid));
        units
            .into_iter()
            .filter_map(|(_, _, fid, unit, count)| {
                let f = self.funcs.get(fid as usize)?;
                Some(UnitCount {
                    file: &f.file,
                    func: &f.name,
                    literal: f.literal,
                    unit: *unit,
                    count,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_patterns_match_like_go() {
        let f = PackageFilter::new("example.com/a/...,,fmt").unwrap();
        assert!(f.matches("example.com/a"));
        assert!(f.matches("example.com/a/b/c"));
        assert!(!f.matches("example.com/ab"));
        assert!(f.matches("fmt"));
        assert!(!f.matches("fmt/x"));
        let f = PackageFilter::new("net/.../http").unwrap();
        assert!(f.matches("net/x/y/http"));
        assert!(!f.matches("net/http"));
    }

    #[test]
    fn io_messages_read_like_go() {
        let e = std::io::Error::from_raw_os_error(2);
        assert_eq!(go_io_message(&e), "no such file or directory");
    }

    #[test]
    fn decimals() {
        let mut buf = Vec::new();
        for n in [0, 7, 10, 4_294_967_295] {
            push_decimal(&mut buf, n);
            buf.push(b' ');
        }
        assert_eq!(buf, b"0 7 10 4294967295 ");
    }

    #[test]
    fn counters_saturate() {
        let mut overflow = false;
        assert_eq!(saturating_add(u32::MAX - 1, 5, &mut overflow), u32::MAX);
        assert!(overflow);
    }
}
