//! Counter-data files (`covcounters.<metahash>.<pid>.<nanotime>`): the counters of one run.
//!
//! Layout (see Go's `internal/coverage/defs.go`): a 32-byte header (magic `\0cwm`, version, meta-file
//! hash, counter flavor, big-endian flag), then segments, each followed by a 16-byte footer (magic,
//! segment count). A segment is a 16-byte header (function count, string table length, args length),
//! the string table, the args table (ULEB128 pairs of string indices: `argc`, `argv0`…, `GOOS`,
//! `GOARCH`), padding to a multiple of four, then per function: counter count, package index,
//! function index and the counters — each a ULEB128 number or a raw u32, depending on the flavor.

use super::Error;
use super::reader::{Reader, Stream};

const COUNTER_MAGIC: [u8; 4] = *b"\0cwm";
const COUNTER_FILE_VERSION: u32 = 1;
const HEADER_SIZE: usize = 32;
const FOOTER_SIZE: usize = 16;

/// How counters are encoded in a counter-data file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CounterFlavor {
    /// Raw 32-bit numbers.
    Raw,
    /// ULEB128 numbers (what the Go runtime writes).
    Uleb128,
}

/// A decoded `covcounters.*` file.
#[derive(Debug, Clone)]
pub struct CounterFile {
    /// The hash of the meta-data file these counters belong to.
    pub meta_hash: [u8; 16],
    /// How the counters were encoded.
    pub flavor: CounterFlavor,
    /// The segments decoded (see [`CounterFile::decode`]).
    pub segments: Vec<Segment>,
    /// The segment count the footer declares.
    pub declared_segments: u32,
}

/// One segment of a counter-data file: the run's arguments and the counters of every function that ran.
#[derive(Debug, Clone, Default)]
pub struct Segment {
    /// The args table (`argc`, `argv0`…, `GOOS`, `GOARCH`), sorted by key as written.
    pub args: Vec<(String, String)>,
    funcs: Vec<(u32, u32, std::ops::Range<usize>)>,
    counters: Vec<u32>,
}

/// One function's counters in a segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FuncCounters<'a> {
    /// Index of the package in the meta-data file.
    pub package: u32,
    /// Index of the function in its package.
    pub func: u32,
    /// One counter per coverable unit of the function.
    pub counters: &'a [u32],
}

impl Segment {
    /// The functions with counters, in file order.
    pub fn funcs(&self) -> impl Iterator<Item = FuncCounters<'_>> + '_ {
        self.funcs
            .iter()
            .map(|(package, func, range)| FuncCounters {
                package: *package,
                func: *func,
                counters: self.counters.get(range.clone()).unwrap_or(&[]),
            })
    }

    /// The number of functions with counters.
    pub fn func_count(&self) -> usize {
        self.funcs.len()
    }

    /// The program arguments recorded for the run (`argv0`… up to `argc`).
    pub fn os_args(&self) -> Vec<&str> {
        let get = |key: &str| {
            self.args
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_str())
        };
        let argc = get("argc")
            .and_then(|n| n.parse::<usize>().ok())
            .unwrap_or(0);
        (0..argc)
            .map(|i| get(&format!("argv{i}")).unwrap_or(""))
            .collect()
    }
}

/// The most bytes a counter segment's string table and args table may take together. They hold the
/// program's arguments (`argv`), which the kernel already bounds far lower (`ARG_MAX`).
pub const MAX_SEGMENT_STRINGS: usize = 64 << 20;

/// What a counter-data file's header and footer say.
pub(crate) struct Header {
    pub(crate) meta_hash: [u8; 16],
    pub(crate) flavor: CounterFlavor,
    pub(crate) declared_segments: u32,
}

/// Receives a counter-data file's contents as they are decoded, one function at a time.
pub(crate) trait Visit {
    /// A segment starts, with its args table.
    fn segment(&mut self, args: Vec<(String, String)>) -> Result<(), Error>;
    /// How many counters the function `(package, func)` may have (a record declaring more is an error,
    /// raised before they are read), or `None` to skip its counters unread into memory.
    fn limit(&mut self, package: u32, func: u32) -> Option<usize>;
    /// A function's counters.
    fn func(&mut self, counters: FuncCounters<'_>) -> Result<(), Error>;
    /// A function whose counters were skipped (see [`Visit::limit`]); `count` is how many it had.
    fn skipped(&mut self, package: u32, func: u32, count: usize);
}

/// Collects everything into a [`CounterFile`]'s segments.
struct Collect(Vec<Segment>);

impl Visit for Collect {
    fn segment(&mut self, args: Vec<(String, String)>) -> Result<(), Error> {
        self.0.push(Segment {
            args,
            ..Segment::default()
        });
        Ok(())
    }

    fn limit(&mut self, _: u32, _: u32) -> Option<usize> {
        Some(usize::MAX)
    }

    fn func(&mut self, fc: FuncCounters<'_>) -> Result<(), Error> {
        if let Some(seg) = self.0.last_mut() {
            let first = seg.counters.len();
            seg.counters.extend_from_slice(fc.counters);
            seg.funcs
                .push((fc.package, fc.func, first..seg.counters.len()));
        }
        Ok(())
    }

    fn skipped(&mut self, _: u32, _: u32, _: usize) {}
}

impl CounterFile {
    /// Decodes every segment of a counter-data file; `file` names it in errors.
    ///
    /// # Errors
    /// [`Error::Truncated`], [`Error::BadMagic`], [`Error::UnsupportedVersion`] or [`Error::Malformed`],
    /// each with the byte offset and field.
    pub fn decode(file: &str, bytes: &[u8]) -> Result<CounterFile, Error> {
        Self::decode_segments(file, bytes, usize::MAX)
    }

    /// Decodes at most `max_segments` segments. `go tool covdata` reads only the first segment of each
    /// file, so data past it is not even looked at with `max_segments` 1.
    ///
    /// # Errors
    /// As [`CounterFile::decode`].
    pub fn decode_segments(
        file: &str,
        bytes: &[u8],
        max_segments: usize,
    ) -> Result<CounterFile, Error> {
        let mut stream = Stream::new(file, std::io::Cursor::new(bytes), bytes.len());
        let mut collect = Collect(Vec::new());
        let header = visit(&mut stream, max_segments, &mut collect)?;
        Ok(CounterFile {
            meta_hash: header.meta_hash,
            flavor: header.flavor,
            segments: collect.0,
            declared_segments: header.declared_segments,
        })
    }
}

/// Decodes at most `max_segments` segments of the counter-data file `r` reads, handing each function to
/// `v` as it is read: memory holds one function's counters (at most what `v` allows) and one segment's
/// string tables (at most [`MAX_SEGMENT_STRINGS`]), whatever the file's size.
pub(crate) fn visit<R: std::io::Read + std::io::Seek>(
    r: &mut Stream<'_, R>,
    max_segments: usize,
    v: &mut impl Visit,
) -> Result<Header, Error> {
    let file = r.file();
    let magic: [u8; 4] = r.array("header magic")?;
    if magic != COUNTER_MAGIC {
        return Err(Error::BadMagic {
            file: file.to_owned(),
            offset: 0,
            message: "invalid magic string: not a counter data file",
        });
    }
    let version = r.u32("header version")?;
    if version > COUNTER_FILE_VERSION {
        return Err(Error::UnsupportedVersion {
            file: file.to_owned(),
            offset: 4,
            message: format!(
                "version data incompatibility: reader is {COUNTER_FILE_VERSION} data is {version}"
            ),
        });
    }
    let meta_hash = r.array("header meta-data hash")?;
    let flavor_at = r.offset();
    let flavor_byte = r.u8("header counter flavor")?;
    let big_endian = r.u8("header big-endian flag")? != 0;
    r.array::<6>("header padding")?;
    debug_assert_eq!(r.offset(), HEADER_SIZE);

    // The footer at the end of the file holds the segment count.
    let Some(footer_at) = r.len().checked_sub(FOOTER_SIZE) else {
        return Err(r.truncated("footer", FOOTER_SIZE));
    };
    r.seek(footer_at)?;
    let footer_magic: [u8; 4] = r.array("footer magic")?;
    if footer_magic != COUNTER_MAGIC {
        return Err(Error::BadMagic {
            file: file.to_owned(),
            offset: footer_at,
            message: "invalid magic string (not a counter data file)",
        });
    }
    r.array::<4>("footer padding")?;
    let declared_segments = r.u32("footer segment count")?;
    if declared_segments == 0 {
        return Err(r.malformed(
            footer_at + 8,
            "footer segment count",
            "invalid counter data file (no segments)".to_owned(),
        ));
    }
    let flavor = match flavor_byte {
        1 => CounterFlavor::Raw,
        2 => CounterFlavor::Uleb128,
        other => {
            return Err(r.malformed(
                flavor_at,
                "header counter flavor",
                format!("unknown counter flavor {other}"),
            ));
        }
    };
    r.seek(HEADER_SIZE)?;

    let wanted = max_segments.min(declared_segments as usize);
    let mut buf = Vec::new();
    for k in 0..wanted {
        if k > 0 {
            r.array::<FOOTER_SIZE>("segment footer")?;
        }
        read_segment(r, flavor, big_endian, v, &mut buf)?;
    }
    Ok(Header {
        meta_hash,
        flavor,
        declared_segments,
    })
}

fn read_segment<R: std::io::Read + std::io::Seek>(
    r: &mut Stream<'_, R>,
    flavor: CounterFlavor,
    big_endian: bool,
    v: &mut impl Visit,
    buf: &mut Vec<u32>,
) -> Result<(), Error> {
    let entries_at = r.offset();
    let fcn_entries = r.u64("segment function count")?;
    let strtab_at = r.offset();
    let strtab_len = r.u32("segment string table length")? as usize;
    let args_len = r.u32("segment args length")? as usize;
    let table_at = r.offset();
    let table = r.bytes(
        strtab_len,
        MAX_SEGMENT_STRINGS,
        strtab_at,
        "segment string table",
    )?;
    let strings = Reader::new(r.file(), &table, table_at).string_table("segment string table")?;
    drop(table);
    let args_at = r.offset();
    let args_bytes = r.bytes(
        args_len,
        MAX_SEGMENT_STRINGS.saturating_sub(strtab_len),
        strtab_at + 4,
        "segment args table",
    )?;
    let args = read_args(&mut Reader::new(r.file(), &args_bytes, args_at), &strings)?;
    drop((args_bytes, strings));
    v.segment(args)?;
    // Go pads to a multiple of four of the file offset, not of the segment's.
    let rem = r.offset() % 4;
    if rem != 0 {
        r.skip(4 - rem, "segment padding")?;
    }

    // Every function takes at least three bytes: a count the file cannot hold is refused up front.
    let min_size = match flavor {
        CounterFlavor::Raw => 12,
        CounterFlavor::Uleb128 => 3,
    };
    let fcn_entries = usize::try_from(fcn_entries).unwrap_or(usize::MAX);
    if fcn_entries > r.remaining() / min_size {
        return Err(r.malformed(
            entries_at,
            "segment function count",
            format!(
                "{fcn_entries} functions cannot fit in the {} bytes left",
                r.remaining()
            ),
        ));
    }
    let read = |r: &mut Stream<'_, R>, field: &'static str| -> Result<u32, Error> {
        match flavor {
            CounterFlavor::Uleb128 => r.uleb128_u32(field),
            CounterFlavor::Raw if big_endian => Ok(u32::from_be_bytes(r.array(field)?)),
            CounterFlavor::Raw => r.u32(field),
        }
    };
    let per = match flavor {
        CounterFlavor::Raw => 4,
        CounterFlavor::Uleb128 => 1,
    };
    for _ in 0..fcn_entries {
        let nc_at = r.offset();
        let nc = read(r, "function counter count")? as usize;
        let package = read(r, "function package index")?;
        let func = read(r, "function index")?;
        if nc > r.remaining() / per {
            return Err(r.malformed(
                nc_at,
                "function counter count",
                format!(
                    "{nc} counters cannot fit in the {} bytes left",
                    r.remaining()
                ),
            ));
        }
        match v.limit(package, func) {
            Some(limit) if nc > limit => {
                return Err(r.malformed(
                    nc_at,
                    "function counter count",
                    format!(
                        "{nc} counters for package {package} function {func}, which has {limit} units in the meta-data file"
                    ),
                ));
            }
            Some(_) => {
                buf.clear();
                for _ in 0..nc {
                    buf.push(read(r, "counter")?);
                }
                v.func(FuncCounters {
                    package,
                    func,
                    counters: buf,
                })?;
            }
            None => {
                for _ in 0..nc {
                    read(r, "counter")?;
                }
                v.skipped(package, func, nc);
            }
        }
    }
    Ok(())
}

/// The args table: ULEB128 count, then key and value string indices per entry.
fn read_args(a: &mut Reader<'_>, strings: &[String]) -> Result<Vec<(String, String)>, Error> {
    let nents = a.uleb128("args count")?;
    let mut args: Vec<(String, String)> = Vec::new();
    for _ in 0..nents {
        let mut pair = [String::new(), String::new()];
        for slot in &mut pair {
            let at = a.offset();
            let idx = a.uleb128("args string index")?;
            usize::try_from(idx)
                .ok()
                .and_then(|i| strings.get(i))
                .ok_or_else(|| {
                    a.malformed(
                        at,
                        "args string index",
                        "malformed string table ref".to_owned(),
                    )
                })?
                .clone_into(slot);
        }
        let [k, v] = pair;
        if args.iter().any(|(key, _)| *key == k) {
            return Err(a.malformed(
                a.base_offset(),
                "args table",
                "malformed args table".to_owned(),
            ));
        }
        args.push((k, v));
    }
    if let Some((_, argc)) = args.iter().find(|(k, _)| k == "argc")
        && argc.parse::<i64>().is_err()
    {
        return Err(a.malformed(
            a.base_offset(),
            "args table",
            "malformed argc in counter data file args section".to_owned(),
        ));
    }
    Ok(args)
}
