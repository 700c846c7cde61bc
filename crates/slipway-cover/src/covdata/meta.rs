//! Meta-data files (`covmeta.<hash>`): what the compiler recorded about every instrumented package.
//!
//! Layout (little-endian, see Go's `internal/coverage/defs.go`): a 56-byte header (magic `\0cvm`,
//! version, total length, package count, file hash, string table offset and length, counter mode and
//! granularity), one u64 offset and one u64 length per package, the file's string table, then one blob
//! per package. A package blob starts with a 44-byte header (length, string indices of the package name,
//! import path and module path, hash, file and function counts), then one u32 offset per function, the
//! package's string table, and the functions: ULEB128 unit count, name and file string indices, five
//! ULEB128 numbers per unit (start line, start column, end line, end column, statements) and a literal
//! flag.

use std::fmt;
use std::ops::Range;

use super::Error;
use super::reader::Reader;

const META_MAGIC: [u8; 4] = *b"\0cvm";
const META_FILE_VERSION: u32 = 1;
const META_FILE_HEADER_SIZE: usize = 56;
const PACKAGE_HEADER_SIZE: usize = 44;

/// Where the header's total length field ends: the bytes [`declared_length`] needs.
pub(crate) const TOTAL_LENGTH_END: usize = 16;

/// The total length a meta-data file's header declares, checking the magic and version first (with
/// [`MetaFile::decode`]'s errors); `None` when `head` is too short to hold it.
pub(crate) fn declared_length(file: &str, head: &[u8]) -> Result<Option<u64>, Error> {
    if head.len() < TOTAL_LENGTH_END {
        return Ok(None);
    }
    let mut r = Reader::new(file, head, 0);
    check_magic_and_version(file, &mut r)?;
    r.u64("header total length").map(Some)
}

fn check_magic_and_version(file: &str, r: &mut Reader<'_>) -> Result<(), Error> {
    let magic: [u8; 4] = r.array("header magic")?;
    if magic != META_MAGIC {
        return Err(Error::BadMagic {
            file: file.to_owned(),
            offset: 0,
            message: "invalid meta-data file magic string",
        });
    }
    let version = r.u32("header version")?;
    if version > META_FILE_VERSION {
        return Err(Error::UnsupportedVersion {
            file: file.to_owned(),
            offset: 4,
            message: format!(
                "meta-data file with an unknown version {version} (expected {META_FILE_VERSION})"
            ),
        });
    }
    Ok(())
}

/// How counters were kept (`-covermode`), as recorded in a meta-data file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CounterMode {
    /// `set`: whether each block ran.
    Set,
    /// `count`: how often each block ran.
    Count,
    /// `atomic`: `count` with atomic updates.
    Atomic,
    /// The registration-only pseudo-mode.
    RegOnly,
    /// The test-main pseudo-mode.
    TestMain,
    /// Any other byte (Go prints `<invalid>`).
    Invalid(u8),
}

impl CounterMode {
    /// The mode from its byte in the file.
    pub fn from_byte(b: u8) -> CounterMode {
        match b {
            1 => CounterMode::Set,
            2 => CounterMode::Count,
            3 => CounterMode::Atomic,
            4 => CounterMode::RegOnly,
            5 => CounterMode::TestMain,
            other => CounterMode::Invalid(other),
        }
    }

    /// The byte the file holds (Go orders modes by it when it relaxes a mode clash).
    pub fn to_byte(self) -> u8 {
        match self {
            CounterMode::Set => 1,
            CounterMode::Count => 2,
            CounterMode::Atomic => 3,
            CounterMode::RegOnly => 4,
            CounterMode::TestMain => 5,
            CounterMode::Invalid(b) => b,
        }
    }

    /// The profile mode, for the three modes a text profile can hold.
    pub fn profile_mode(self) -> Option<crate::Mode> {
        match self {
            CounterMode::Set => Some(crate::Mode::Set),
            CounterMode::Count => Some(crate::Mode::Count),
            CounterMode::Atomic => Some(crate::Mode::Atomic),
            _ => None,
        }
    }
}

impl fmt::Display for CounterMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CounterMode::Set => "set",
            CounterMode::Count => "count",
            CounterMode::Atomic => "atomic",
            CounterMode::RegOnly => "regonly",
            CounterMode::TestMain => "testmain",
            CounterMode::Invalid(_) => "<invalid>",
        })
    }
}

/// Whether there is a counter per block or per function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CounterGranularity {
    /// One counter per coverable unit (what `go build -cover` does).
    PerBlock,
    /// One counter per function.
    PerFunc,
    /// Any other byte (Go prints `<invalid>`).
    Invalid(u8),
}

impl CounterGranularity {
    /// The granularity from its byte in the file.
    pub fn from_byte(b: u8) -> CounterGranularity {
        match b {
            1 => CounterGranularity::PerBlock,
            2 => CounterGranularity::PerFunc,
            other => CounterGranularity::Invalid(other),
        }
    }
}

impl fmt::Display for CounterGranularity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CounterGranularity::PerBlock => "perblock",
            CounterGranularity::PerFunc => "perfunc",
            CounterGranularity::Invalid(_) => "<invalid>",
        })
    }
}

/// One coverable unit (a basic block): its source range and statement count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Unit {
    /// First line.
    pub start_line: u32,
    /// First column.
    pub start_col: u32,
    /// Last line.
    pub end_line: u32,
    /// Column just past the unit.
    pub end_col: u32,
    /// Number of statements.
    pub num_stmts: u32,
}

impl Unit {
    /// The order `go tool covdata` sorts units in within a file: start line, end line, start column,
    /// end column, statements.
    pub(crate) fn go_order_key(&self) -> (u32, u32, u32, u32, u32) {
        (
            self.start_line,
            self.end_line,
            self.start_col,
            self.end_col,
            self.num_stmts,
        )
    }
}

/// A decoded `covmeta.*` file.
#[derive(Debug, Clone)]
pub struct MetaFile {
    /// The counter mode.
    pub mode: CounterMode,
    /// The counter granularity.
    pub granularity: CounterGranularity,
    /// The file hash (the `<hash>` of `covmeta.<hash>`, as bytes).
    pub hash: [u8; 16],
    /// The instrumented packages, in file order (counter files refer to them by index).
    pub packages: Vec<PackageMeta>,
}

/// One package's meta-data.
#[derive(Debug, Clone)]
pub struct PackageMeta {
    /// Import path.
    pub path: String,
    /// Package name.
    pub name: String,
    /// Module path (empty outside modules).
    pub module_path: String,
    /// The package's meta-data hash.
    pub hash: [u8; 16],
    strings: Vec<String>,
    funcs: Vec<FuncRecord>,
    units: Vec<Unit>,
}

#[derive(Debug, Clone)]
struct FuncRecord {
    name: u32,
    file: u32,
    units: Range<usize>,
    literal: bool,
}

/// One function of a package, as [`PackageMeta::funcs`] yields it.
#[derive(Debug, Clone, Copy)]
pub struct FuncMeta<'a> {
    /// The name as Go's coverage tools print it (`F`, `T.M`, `*T.M`, `F.func1` for literals).
    pub name: &'a str,
    /// The source file as recorded (import path + file name, after `//line` directives).
    pub file: &'a str,
    /// Its coverable units; counter `i` of the function counts unit `i`.
    pub units: &'a [Unit],
    /// Whether it is a function literal.
    pub literal: bool,
}

impl PackageMeta {
    /// The number of functions.
    pub fn func_count(&self) -> usize {
        self.funcs.len()
    }

    /// The function with this index (the index counter files use).
    pub fn func(&self, index: usize) -> Option<FuncMeta<'_>> {
        let f = self.funcs.get(index)?;
        Some(FuncMeta {
            // Indices were checked against the string table while decoding.
            name: self.strings.get(f.name as usize).map_or("", String::as_str),
            file: self.strings.get(f.file as usize).map_or("", String::as_str),
            units: self.units.get(f.units.clone()).unwrap_or(&[]),
            literal: f.literal,
        })
    }

    /// The functions in index order.
    pub fn funcs(&self) -> impl Iterator<Item = FuncMeta<'_>> + '_ {
        (0..self.funcs.len()).filter_map(|i| self.func(i))
    }
}

impl MetaFile {
    /// Decodes a meta-data file; `file` names it in errors.
    ///
    /// # Errors
    /// [`Error::Truncated`], [`Error::BadMagic`], [`Error::UnsupportedVersion`] or [`Error::Malformed`],
    /// each with the byte offset and field.
    pub fn decode(file: &str, bytes: &[u8]) -> Result<MetaFile, Error> {
        let mut r = Reader::new(file, bytes, 0);
        check_magic_and_version(file, &mut r)?;
        let total_length = r.u64("header total length")?;
        let entries_at = r.offset();
        let entries = r.u64("header package count")?;
        let hash = r.array("header file hash")?;
        let _strtab_offset = r.u32("header string table offset")?;
        let strtab_length = r.u32("header string table length")?;
        let mode = CounterMode::from_byte(r.u8("header counter mode")?);
        let granularity = CounterGranularity::from_byte(r.u8("header counter granularity")?);
        r.bytes(6, "header padding")?;
        debug_assert_eq!(r.pos(), META_FILE_HEADER_SIZE);

        // Two u64 per package must follow: refuse counts the file cannot hold before allocating.
        let entries = usize::try_from(entries)
            .ok()
            .filter(|&n| n.checked_mul(16).is_some_and(|need| need <= r.remaining()))
            .ok_or_else(|| {
                r.malformed(
                    entries_at,
                    "header package count",
                    format!(
                        "{entries} packages cannot fit in the {} bytes left",
                        r.remaining()
                    ),
                )
            })?;
        let mut offsets = Vec::with_capacity(entries);
        for i in 0..entries {
            let at = r.offset();
            let off = r.u64("package offset")?;
            if off > total_length {
                return Err(r.malformed(
                    at,
                    "package offset",
                    format!("insane pkg offset {i}: {off} > totlen {total_length}"),
                ));
            }
            offsets.push(off);
        }
        let mut lengths = Vec::with_capacity(entries);
        for i in 0..entries {
            let at = r.offset();
            let len = r.u64("package length")?;
            if len > total_length {
                return Err(r.malformed(
                    at,
                    "package length",
                    format!("insane pkg length {i}: {len} > totlen {total_length}"),
                ));
            }
            lengths.push(len);
        }
        let table = r.bytes(strtab_length as usize, "file string table")?;
        let table_at = r.offset() - table.len();
        Reader::new(file, table, table_at).string_table("file string table")?;

        let mut packages = Vec::with_capacity(entries);
        for (index, (&off, &len)) in offsets.iter().zip(&lengths).enumerate() {
            let range = usize::try_from(off)
                .ok()
                .zip(usize::try_from(len).ok())
                .and_then(|(o, l)| Some(o..o.checked_add(l)?))
                .filter(|range| range.end <= bytes.len())
                .ok_or_else(|| Error::Malformed {
                    file: file.to_owned(),
                    offset: META_FILE_HEADER_SIZE + 8 * index,
                    field: "package offset",
                    message: format!(
                        "package {index} at {off} with length {len} runs past the end of the file ({} bytes)",
                        bytes.len()
                    ),
                })?;
            let start = range.start;
            packages.push(decode_package(file, &bytes[range], start)?);
        }
        Ok(MetaFile {
            mode,
            granularity,
            hash,
            packages,
        })
    }
}

/// Decodes one package blob that starts at file offset `base`.
fn decode_package(file: &str, blob: &[u8], base: usize) -> Result<PackageMeta, Error> {
    let mut r = Reader::new(file, blob, base);
    let length = r.u32("package header length")?;
    let name_idx = r.u32("package header name")?;
    let path_idx = r.u32("package header path")?;
    let module_idx = r.u32("package header module path")?;
    let hash = r.array("package header hash")?;
    r.bytes(4, "package header padding")?;
    let _num_files = r.u32("package header file count")?;
    let funcs_at = r.offset();
    let num_funcs = r.u32("package header function count")? as usize;
    debug_assert_eq!(r.pos(), PACKAGE_HEADER_SIZE);
    if num_funcs
        .checked_mul(4)
        .is_none_or(|need| need > r.remaining())
    {
        return Err(r.malformed(
            funcs_at,
            "package header function count",
            format!(
                "{num_funcs} functions cannot fit in the {} bytes left",
                r.remaining()
            ),
        ));
    }
    let mut func_offsets = Vec::with_capacity(num_funcs);
    for _ in 0..num_funcs {
        func_offsets.push(r.u32("function offset")?);
    }
    let strings = r.string_table("package string table")?;
    let count = strings.len();
    check_string(&r, base + 4, name_idx, count, "package header name")?;
    check_string(&r, base + 8, path_idx, count, "package header path")?;
    check_string(
        &r,
        base + 12,
        module_idx,
        count,
        "package header module path",
    )?;

    let mut funcs = Vec::with_capacity(num_funcs);
    let mut units = Vec::new();
    for (i, &foff) in func_offsets.iter().enumerate() {
        let table_pos = PACKAGE_HEADER_SIZE + 4 * i;
        if (foff as usize) < table_pos || foff > length {
            return Err(r.malformed(
                base + table_pos,
                "function offset",
                format!("malformed func offset {foff}"),
            ));
        }
        r.seek(foff as usize, "function offset")?;
        funcs.push(decode_func(&mut r, count, &mut units)?);
    }
    let get = |idx: u32| strings[idx as usize].clone();
    Ok(PackageMeta {
        path: get(path_idx),
        name: get(name_idx),
        module_path: get(module_idx),
        hash,
        funcs,
        units,
        strings,
    })
}

/// Decodes the function at the reader's position, appending its units to `units`.
fn decode_func(
    r: &mut Reader<'_>,
    strings: usize,
    units: &mut Vec<Unit>,
) -> Result<FuncRecord, Error> {
    let at = r.offset();
    let num_units = r.uleb128("function unit count")?;
    // Each unit takes at least five bytes: refuse counts the blob cannot hold before allocating.
    let num_units = usize::try_from(num_units)
        .ok()
        .filter(|&n| n.checked_mul(5).is_some_and(|need| need <= r.remaining()))
        .ok_or_else(|| {
            r.malformed(
                at,
                "function unit count",
                format!(
                    "{num_units} units cannot fit in the {} bytes left",
                    r.remaining()
                ),
            )
        })?;
    let name_at = r.offset();
    let name_idx = r.uleb128_u32("function name")?;
    let name = check_string(r, name_at, name_idx, strings, "function name")?;
    let file_at = r.offset();
    let file_idx = r.uleb128_u32("function file")?;
    let src = check_string(r, file_at, file_idx, strings, "function file")?;
    let first = units.len();
    units.reserve(num_units);
    for _ in 0..num_units {
        units.push(Unit {
            start_line: r.uleb128_u32("unit start line")?,
            start_col: r.uleb128_u32("unit start column")?,
            end_line: r.uleb128_u32("unit end line")?,
            end_col: r.uleb128_u32("unit end column")?,
            num_stmts: r.uleb128_u32("unit statements")?,
        });
    }
    let literal = r.uleb128("function literal flag")? != 0;
    Ok(FuncRecord {
        name,
        file: src,
        units: first..units.len(),
        literal,
    })
}

/// `idx` if it names one of the `count` strings of the table.
fn check_string(
    r: &Reader<'_>,
    at: usize,
    idx: u32,
    count: usize,
    field: &'static str,
) -> Result<u32, Error> {
    if (idx as usize) < count {
        Ok(idx)
    } else {
        Err(r.malformed(
            at,
            field,
            format!("string index {idx} out of range ({count} strings)"),
        ))
    }
}
