//! The build information Go embeds in executables (`debug/buildinfo`, `runtime/debug.BuildInfo`): the Go
//! version, the main package path, the main module, dependencies with their replacements, and build
//! settings (`-ldflags`, `CGO_ENABLED`, `GOARCH`, `vcs.revision`, ...).
//!
//! Executables in ELF, PE and Mach-O (including universal) form are read without running them. Both layouts
//! of the `\xff Go buildinf:` header are understood: the inline strings of Go 1.18 and later, and the older
//! pointers to string headers. [`BuildInfo::to_go_version_m`] prints exactly what `go version -m FILE`
//! prints, and [`BuildInfo::to_json`] what `go version -m -json FILE` prints.
//!
//! ```
//! use slipway_gomod::buildinfo::BuildInfo;
//!
//! let mut info = BuildInfo::parse("path\texample.com/cmd\nmod\texample.com\t(devel)\t\nbuild\tGOOS=linux\n")?;
//! info.go_version = "go1.27.3".into();
//! assert_eq!(info.main.path, "example.com");
//! assert_eq!(
//!     info.to_go_version_m("app"),
//!     "app: go1.27.3\n\tpath\texample.com/cmd\n\tmod\texample.com\t(devel)\t\n\tbuild\tGOOS=linux\n"
//! );
//! Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt::{self, Write as _};
use std::path::Path;

use serde::Serialize;

use crate::modfile::chars::quote as go_quote;

/// Result of reading build information.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Errors reading build information; the texts are Go's.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Not an ELF, PE or Mach-O file, or its headers are broken.
    #[error("unrecognized file format")]
    UnrecognizedFormat,
    /// An executable without (readable) Go build information.
    #[error("not a Go executable")]
    NotGoExecutable,
    /// The module information text is malformed.
    #[error("could not parse Go build info: line {line}: {problem}")]
    Parse {
        /// 1-based line of the module information text.
        line: usize,
        /// What is wrong with it (Go's wording).
        problem: String,
    },
    /// Reading the file failed.
    #[error("could not read Go build info: {}: {source}", path.display())]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// An error about a particular file (Go's `could not read Go build info from FILE: …`).
    #[error("could not read Go build info from {}: {error}", path.display())]
    File {
        /// The file.
        path: std::path::PathBuf,
        /// What went wrong.
        error: Box<Error>,
    },
}

/// A module in the build: the main module, a dependency, or a replacement.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Module {
    /// The module path.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub path: String,
    /// The module version (`(devel)` for a main module built from source without VCS stamping).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub version: String,
    /// The `h1:` checksum (empty for the main module and directory replacements).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub sum: String,
    /// The module this one was replaced by.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replace: Option<Box<Module>>,
}

/// One `build key=value` setting.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct BuildSetting {
    /// The key, like `-ldflags`, `CGO_ENABLED`, `GOARCH` or `vcs.revision`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub key: String,
    /// The value.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub value: String,
}

/// Build information of a Go executable (`runtime/debug.BuildInfo`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct BuildInfo {
    /// The Go version that built the executable (`go1.27.3`).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub go_version: String,
    /// The main package's import path.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub path: String,
    /// The main module (empty when built outside a module).
    pub main: Module,
    /// Dependencies, in the order the executable lists them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub deps: Vec<Module>,
    /// Build settings, in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub settings: Vec<BuildSetting>,
}

impl BuildInfo {
    /// Parses the module information text (`runtime/debug.ParseBuildInfo`): `path`, `mod`, `dep`, `=>` and
    /// `build` lines. Unknown lines are ignored, as Go does; the Go version is not part of this text.
    pub fn parse(text: &str) -> Result<Self> {
        // Which module a `=>` line replaces: None after anything but a mod/dep line.
        enum Last {
            None,
            Main,
            Dep,
        }
        let mut info = BuildInfo::default();
        let mut last = Last::None;
        let mut rest = text;
        let mut line_no = 1;
        while !rest.is_empty() {
            // Go stops at a final line without newline.
            let Some((line, tail)) = rest.split_once('\n') else {
                break;
            };
            rest = tail;
            let fail = |problem: String| Error::Parse {
                line: line_no,
                problem,
            };
            if let Some(elem) = line.strip_prefix("path\t") {
                elem.clone_into(&mut info.path);
            } else if let Some(elem) = line.strip_prefix("mod\t") {
                info.main = module_line(elem).map_err(fail)?;
                last = Last::Main;
            } else if let Some(elem) = line.strip_prefix("dep\t") {
                info.deps.push(module_line(elem).map_err(fail)?);
                last = Last::Dep;
            } else if let Some(elem) = line.strip_prefix("=>\t") {
                let cols: Vec<&str> = elem.split('\t').collect();
                let [path, version, sum] = cols.as_slice() else {
                    return Err(fail(format!(
                        "expected 3 columns for replacement; got {}",
                        cols.len()
                    )));
                };
                let replacement = Some(Box::new(Module {
                    path: (*path).to_owned(),
                    version: (*version).to_owned(),
                    sum: (*sum).to_owned(),
                    replace: None,
                }));
                match last {
                    Last::Main => info.main.replace = replacement,
                    Last::Dep => {
                        if let Some(dep) = info.deps.last_mut() {
                            dep.replace = replacement;
                        }
                    }
                    Last::None => {
                        return Err(fail(
                            "replacement with no module on previous line".to_owned(),
                        ));
                    }
                }
                last = Last::None;
            } else if let Some(kv) = line.strip_prefix("build\t") {
                info.settings.push(build_line(kv).map_err(fail)?);
            }
            line_no += 1;
        }
        Ok(info)
    }

    /// Reads the build information of an executable held in memory (`debug/buildinfo.Read`).
    pub fn read(executable: &[u8]) -> Result<Self> {
        let (go_version, modinfo) = read_raw(executable)?;
        let mut info = Self::parse(&modinfo)?;
        info.go_version = go_version;
        Ok(info)
    }

    /// Reads the build information of an executable file (`debug/buildinfo.ReadFile`).
    pub fn read_file(path: &Path) -> Result<Self> {
        let data = std::fs::read(path).map_err(|source| Error::Io {
            path: path.to_owned(),
            source,
        })?;
        Self::read(&data).map_err(|error| Error::File {
            path: path.to_owned(),
            error: Box::new(error),
        })
    }

    /// What `go version -m FILE` prints for this executable, `file_name` as given on its command line.
    pub fn to_go_version_m(&self, file_name: &str) -> String {
        let mut out = format!("{file_name}: {}\n", self.go_version);
        let body = ModInfoText(self).to_string();
        if let Some(body) = body.strip_suffix('\n') {
            out.push('\t');
            out.push_str(&body.replace('\n', "\n\t"));
            out.push('\n');
        }
        out
    }

    /// What `go version -m -json FILE` prints: Go's `json.MarshalIndent` with tab indentation.
    pub fn to_json(&self) -> String {
        let mut buf = Vec::new();
        let formatter = serde_json::ser::PrettyFormatter::with_indent(b"\t");
        let mut ser = serde_json::Serializer::with_formatter(&mut buf, formatter);
        // Plain strings and vectors of them always serialize.
        let _ = self.serialize(&mut ser);
        let text = String::from_utf8_lossy(&buf);
        // encoding/json escapes HTML-significant characters and the JavaScript line separators; these can
        // only occur inside strings, so replacing them everywhere is safe.
        let mut out = String::with_capacity(text.len() + 1);
        for c in text.chars() {
            match c {
                '<' => out.push_str("\\u003c"),
                '>' => out.push_str("\\u003e"),
                '&' => out.push_str("\\u0026"),
                '\u{2028}' => out.push_str("\\u2028"),
                '\u{2029}' => out.push_str("\\u2029"),
                _ => out.push(c),
            }
        }
        out.push('\n');
        out
    }
}

/// The module information text, as `runtime/debug.BuildInfo.String` writes it (with a `go` line when the
/// Go version is set).
impl fmt::Display for BuildInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.go_version.is_empty() {
            writeln!(f, "go\t{}", self.go_version)?;
        }
        ModInfoText(self).fmt(f)
    }
}

// BuildInfo.String without the `go` line (what `go version -m` prints after the version).
struct ModInfoText<'a>(&'a BuildInfo);

impl fmt::Display for ModInfoText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn module(f: &mut fmt::Formatter<'_>, word: &str, m: &Module) -> fmt::Result {
            write!(f, "{word}\t{}\t{}", m.path, m.version)?;
            match &m.replace {
                None => write!(f, "\t{}", m.sum)?,
                Some(r) => {
                    writeln!(f)?;
                    module(f, "=>", r)?;
                }
            }
            // Go ends every module with a newline, so a replacement leaves an empty line after it.
            writeln!(f)
        }
        let info = self.0;
        if !info.path.is_empty() {
            writeln!(f, "path\t{}", info.path)?;
        }
        if info.main != Module::default() {
            module(f, "mod", &info.main)?;
        }
        for dep in &info.deps {
            module(f, "dep", dep)?;
        }
        for s in &info.settings {
            let key = if quote_key(&s.key) {
                go_quote(&s.key)
            } else {
                s.key.clone()
            };
            let value = if quote_value(&s.value) {
                go_quote(&s.value)
            } else {
                s.value.clone()
            };
            writeln!(f, "build\t{key}={value}")?;
        }
        Ok(())
    }
}

fn quote_key(key: &str) -> bool {
    key.is_empty() || key.contains(['=', ' ', '\t', '\r', '\n', '"', '`'])
}

fn quote_value(value: &str) -> bool {
    value.contains([' ', '\t', '\r', '\n', '"', '`'])
}

fn module_line(elem: &str) -> Result<Module, String> {
    let cols: Vec<&str> = elem.split('\t').collect();
    match cols.as_slice() {
        [path, version] => Ok(Module {
            path: (*path).to_owned(),
            version: (*version).to_owned(),
            ..Module::default()
        }),
        [path, version, sum] => Ok(Module {
            path: (*path).to_owned(),
            version: (*version).to_owned(),
            sum: (*sum).to_owned(),
            replace: None,
        }),
        _ => Err(format!("expected 2 or 3 columns; got {}", cols.len())),
    }
}

fn build_line(kv: &str) -> Result<BuildSetting, String> {
    let (key, raw_value) = match kv.as_bytes().first() {
        None => return Err("build line missing '='".to_owned()),
        Some(b'=') => return Err("build line with missing key".to_owned()),
        Some(b'`' | b'"') => {
            let Some(raw_key) = quoted_prefix(kv) else {
                return Err("invalid quoted key in build line".to_owned());
            };
            match kv.as_bytes().get(raw_key.len()) {
                None => return Err("build line missing '=' after quoted key".to_owned()),
                Some(b'=') => {}
                Some(&c) => {
                    return Err(format!(
                        "unexpected character after quoted key: {}",
                        go_quote_byte(c)
                    ));
                }
            }
            (
                unquote(raw_key).unwrap_or_default(),
                &kv[raw_key.len() + 1..],
            )
        }
        Some(_) => {
            let Some((key, value)) = kv.split_once('=') else {
                return Err("build line missing '=' after key".to_owned());
            };
            if quote_key(key) {
                return Err(format!("unquoted key {} must be quoted", go_quote(key)));
            }
            (key.to_owned(), value)
        }
    };
    let value = match raw_value.as_bytes().first() {
        None => String::new(),
        Some(b'`' | b'"') => {
            unquote(raw_value).ok_or_else(|| "invalid quoted value in build line".to_owned())?
        }
        Some(_) => {
            if quote_value(raw_value) {
                return Err(format!(
                    "unquoted value {} must be quoted",
                    go_quote(raw_value)
                ));
            }
            raw_value.to_owned()
        }
    };
    Ok(BuildSetting { key, value })
}

// Go's %q of a byte value (it formats as a rune literal).
fn go_quote_byte(c: u8) -> String {
    crate::modfile::chars::quote_rune(char::from(c))
}

// strconv.QuotedPrefix: the quoted string at the start of `s`.
fn quoted_prefix(s: &str) -> Option<&str> {
    let bytes = s.as_bytes();
    let quote = *bytes.first()?;
    let mut i = 1;
    while i < bytes.len() {
        match bytes[i] {
            b if b == quote => {
                let prefix = &s[..=i];
                return unquote(prefix).map(|_| prefix);
            }
            b'\\' if quote == b'"' => i += 2,
            b'\n' if quote == b'"' => return None,
            _ => i += 1,
        }
    }
    None
}

// strconv.Unquote for "…" and `…` strings.
fn unquote(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    if bytes.len() < 2 {
        return None;
    }
    let quote = bytes[0];
    if !matches!(quote, b'"' | b'`') || bytes[bytes.len() - 1] != quote {
        return None;
    }
    // Both ends are the ASCII quote, so these are character boundaries.
    let body = &s[1..s.len() - 1];
    match quote {
        b'`' => (!body.contains('`')).then(|| body.replace('\r', "")),
        b'"' => crate::modfile::chars::unquote(s).ok(),
        _ => None,
    }
}

// ---- Executable formats -------------------------------------------------------------------------------

const MAGIC: &[u8] = b"\xff Go buildinf:";
const ALIGN: u64 = 16;
const ALIGN_USIZE: usize = 16;
const HEADER_SIZE: u64 = 32;
const SEARCH_CHUNK: u64 = 1 << 20;

/// A mapped range of the file: `len` bytes declared at virtual address `addr`, backed by `bytes`
/// (shorter when the file is truncated).
struct Region<'a> {
    addr: u64,
    len: u64,
    bytes: &'a [u8],
    // Mach-O's __PAGEZERO is never read.
    skip: bool,
}

struct Exe<'a> {
    data_start: u64,
    data_size: u64,
    regions: Vec<Region<'a>>,
}

impl<'a> Exe<'a> {
    /// The bytes from `addr` to the end of the region holding it (Go's `DataReader`).
    fn reader(&self, addr: u64) -> Result<&'a [u8]> {
        for r in &self.regions {
            let Some(last) = r.len.checked_sub(1).and_then(|l| r.addr.checked_add(l)) else {
                continue;
            };
            if r.addr <= addr && addr <= last {
                if r.skip {
                    continue;
                }
                let offset =
                    usize::try_from(addr - r.addr).map_err(|_| Error::UnrecognizedFormat)?;
                return Ok(r.bytes.get(offset..).unwrap_or(&[]));
            }
        }
        Err(Error::UnrecognizedFormat)
    }

    /// Exactly `size` bytes at `addr`, or `NotGoExecutable` when fewer are there (Go's `readData` + EOF).
    fn read_exact(&self, addr: u64, size: u64) -> Result<&'a [u8]> {
        let data = self.reader(addr)?;
        let size = usize::try_from(size).map_err(|_| Error::NotGoExecutable)?;
        data.get(..size).ok_or(Error::NotGoExecutable)
    }
}

fn read_raw(data: &[u8]) -> Result<(String, String)> {
    if data.len() < 16 {
        return Err(Error::UnrecognizedFormat);
    }
    let exe = if data.starts_with(b"\x7fELF") {
        elf(data)
    } else if data.starts_with(b"MZ") {
        pe(data)
    } else if data.starts_with(b"\xfe\xed\xfa") || data[1..].starts_with(b"\xfa\xed\xfe") {
        macho(data)
    } else if data.starts_with(b"\xca\xfe\xba\xbe") || data.starts_with(b"\xca\xfe\xba\xbf") {
        fat_macho(data)
    } else {
        None
    }
    .ok_or(Error::UnrecognizedFormat)?;
    if exe.data_size == 0 {
        return Err(Error::NotGoExecutable);
    }
    let addr = search_magic(&exe)?;
    let header = exe.read_exact(addr, HEADER_SIZE)?;
    let flags = header[15];
    let (version, modinfo) = if flags & 0x2 != 0 {
        let first = addr
            .checked_add(HEADER_SIZE)
            .ok_or(Error::NotGoExecutable)?;
        let (version, next) = decode_string(&exe, first)?;
        let (modinfo, _) = decode_string(&exe, next)?;
        (version, modinfo)
    } else {
        let ptr_size = header[14];
        let big_endian = flags & 0x1 != 0;
        if ptr_size != 4 && ptr_size != 8 {
            return Err(Error::NotGoExecutable);
        }
        let read_ptr = |b: &[u8]| read_uint(b, usize::from(ptr_size), big_endian);
        let ptr = usize::from(ptr_size);
        let version = read_string(&exe, ptr, &read_ptr, read_ptr(&header[16..]));
        let modinfo = read_string(&exe, ptr, &read_ptr, read_ptr(&header[16 + ptr..]));
        (version, modinfo)
    };
    if version.is_empty() {
        return Err(Error::NotGoExecutable);
    }
    // The module text sits between two 16-byte sentinels, which are not UTF-8: cut them off as bytes.
    let modinfo = if modinfo.len() >= 33 && modinfo[modinfo.len() - 17] == b'\n' {
        String::from_utf8_lossy(&modinfo[16..modinfo.len() - 16]).into_owned()
    } else {
        String::new()
    };
    Ok((String::from_utf8_lossy(version).into_owned(), modinfo))
}

fn search_magic(exe: &Exe<'_>) -> Result<u64> {
    let end = exe
        .data_start
        .checked_add(exe.data_size)
        .ok_or(Error::UnrecognizedFormat)?;
    let mut start = exe
        .data_start
        .checked_add(ALIGN - 1)
        .ok_or(Error::UnrecognizedFormat)?
        & !(ALIGN - 1);
    if start >= end {
        return Err(Error::NotGoExecutable);
    }
    while start < end {
        let remaining = end - start;
        let chunk = SEARCH_CHUNK.min(remaining);
        let available = exe.reader(start)?;
        if available.is_empty() {
            return Err(Error::NotGoExecutable);
        }
        let take = usize::try_from(chunk)
            .unwrap_or(usize::MAX)
            .min(available.len());
        let mut data = &available[..take];
        while let Some(i) = find(data, MAGIC) {
            if remaining - (i as u64) < HEADER_SIZE {
                return Err(Error::NotGoExecutable);
            }
            if !i.is_multiple_of(ALIGN_USIZE) {
                let next = (i + ALIGN_USIZE - 1) & !(ALIGN_USIZE - 1);
                if next > data.len() {
                    return Err(Error::NotGoExecutable);
                }
                data = &data[next..];
                continue;
            }
            // As Go does, the offset is taken relative to the (possibly advanced) slice; only an aligned
            // magic at a chunk's first match is found in practice.
            return Ok(start + i as u64);
        }
        start += chunk;
    }
    Err(Error::NotGoExecutable)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    // Scan for the first byte, then compare: far cheaper than comparing every window.
    let (&first, rest) = needle.split_first()?;
    let mut from = 0;
    while let Some(i) = haystack.get(from..)?.iter().position(|&b| b == first) {
        let at = from + i;
        if haystack.get(at + 1..at + needle.len()) == Some(rest) {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

fn decode_string<'a>(exe: &Exe<'a>, addr: u64) -> Result<(&'a [u8], u64)> {
    // Go reads a full MaxVarintLen64 (10) bytes for the length.
    let b = exe.read_exact(addr, 10)?;
    let (length, n) = uvarint(b).ok_or(Error::NotGoExecutable)?;
    let addr = addr.checked_add(n as u64).ok_or(Error::NotGoExecutable)?;
    let s = exe.read_exact(addr, length)?;
    Ok((s, addr.checked_add(length).ok_or(Error::NotGoExecutable)?))
}

fn uvarint(b: &[u8]) -> Option<(u64, usize)> {
    let mut x: u64 = 0;
    for (i, &byte) in b.iter().enumerate().take(10) {
        if i == 9 && byte > 1 {
            return None;
        }
        x |= u64::from(byte & 0x7f) << (7 * i);
        if byte < 0x80 {
            return Some((x, i + 1));
        }
    }
    None
}

fn read_string<'a>(
    exe: &Exe<'a>,
    ptr_size: usize,
    read_ptr: &dyn Fn(&[u8]) -> u64,
    addr: u64,
) -> &'a [u8] {
    let Ok(hdr) = exe.read_exact(addr, 2 * ptr_size as u64) else {
        return &[];
    };
    let data_addr = read_ptr(hdr);
    let data_len = read_ptr(&hdr[ptr_size..]);
    exe.read_exact(data_addr, data_len).unwrap_or_default()
}

fn read_uint(b: &[u8], size: usize, big_endian: bool) -> u64 {
    let b = &b[..size.min(b.len())];
    let fold = |acc: u64, &byte: &u8| (acc << 8) | u64::from(byte);
    if big_endian {
        b.iter().fold(0, fold)
    } else {
        b.iter().rev().fold(0, fold)
    }
}

/// Little helpers for reading fixed-width fields with bounds checks.
struct Reader<'a> {
    data: &'a [u8],
    big_endian: bool,
}

impl<'a> Reader<'a> {
    /// `off` when it lies inside the file: small constant offsets added to it then cannot overflow.
    fn within(&self, off: u64) -> Option<u64> {
        (off <= self.data.len() as u64).then_some(off)
    }
    fn bytes(&self, off: u64, len: u64) -> Option<&'a [u8]> {
        let off = usize::try_from(off).ok()?;
        let len = usize::try_from(len).ok()?;
        self.data.get(off..off.checked_add(len)?)
    }
    fn uint(&self, off: u64, size: usize) -> Option<u64> {
        Some(read_uint(
            self.bytes(off, size as u64)?,
            size,
            self.big_endian,
        ))
    }
    fn u16(&self, off: u64) -> Option<u64> {
        self.uint(off, 2)
    }
    fn u32(&self, off: u64) -> Option<u64> {
        self.uint(off, 4)
    }
    fn u64(&self, off: u64) -> Option<u64> {
        self.uint(off, 8)
    }
    /// The file bytes of `[off, off+len)`, cut at the end of the file.
    fn range(&self, off: u64, len: u64) -> &'a [u8] {
        let Ok(start) = usize::try_from(off) else {
            return &[];
        };
        let end = usize::try_from(off.saturating_add(len)).unwrap_or(usize::MAX);
        self.data
            .get(start..end.min(self.data.len()))
            .unwrap_or(&[])
    }
}

fn cstr(b: &[u8]) -> &[u8] {
    b.iter().position(|&c| c == 0).map_or(b, |i| &b[..i])
}

fn elf(data: &[u8]) -> Option<Exe<'_>> {
    let is64 = match data[4] {
        1 => false,
        2 => true,
        _ => return None,
    };
    let big_endian = match data[5] {
        1 => false,
        2 => true,
        _ => return None,
    };
    let r = Reader { data, big_endian };
    let (phoff, shoff, phentsize, phnum, shentsize, shnum, shstrndx) = if is64 {
        (
            r.u64(0x20)?,
            r.u64(0x28)?,
            r.u16(0x36)?,
            r.u16(0x38)?,
            r.u16(0x3a)?,
            r.u16(0x3c)?,
            r.u16(0x3e)?,
        )
    } else {
        (
            r.u32(0x1c)?,
            r.u32(0x20)?,
            r.u16(0x2a)?,
            r.u16(0x2c)?,
            r.u16(0x2e)?,
            r.u16(0x30)?,
            r.u16(0x32)?,
        )
    };
    let mut regions = Vec::new();
    for i in 0..phnum {
        let at = r.within(phoff.checked_add(i.checked_mul(phentsize)?)?)?;
        let (offset, vaddr, filesz) = if is64 {
            (r.u64(at + 8)?, r.u64(at + 0x10)?, r.u64(at + 0x20)?)
        } else {
            (r.u32(at + 4)?, r.u32(at + 8)?, r.u32(at + 0x10)?)
        };
        regions.push(Region {
            addr: vaddr,
            len: filesz,
            bytes: r.range(offset, filesz),
            skip: false,
        });
    }
    // (name offset, addr, size) of each section.
    let mut sections = Vec::new();
    for i in 0..shnum {
        let at = r.within(shoff.checked_add(i.checked_mul(shentsize)?)?)?;
        let section = if is64 {
            (
                r.u32(at)?,
                r.u64(at + 0x10)?,
                r.u64(at + 0x18)?,
                r.u64(at + 0x20)?,
            )
        } else {
            (
                r.u32(at)?,
                r.u32(at + 0xc)?,
                r.u32(at + 0x10)?,
                r.u32(at + 0x14)?,
            )
        };
        sections.push(section);
    }
    let strtab = sections
        .get(usize::try_from(shstrndx).ok()?)
        .map_or(&[][..], |&(_, _, off, size)| r.range(off, size));
    let (data_start, data_size) = sections
        .iter()
        .find(|&&(name, ..)| {
            usize::try_from(name)
                .ok()
                .and_then(|n| strtab.get(n..))
                .is_some_and(|s| cstr(s) == b".go.buildinfo")
        })
        .map_or((0, 0), |&(_, addr, _, size)| (addr, size));
    Some(Exe {
        data_start,
        data_size,
        regions,
    })
}

fn pe(data: &[u8]) -> Option<Exe<'_>> {
    // Initialized data, readable, writable; any 32-byte alignment bits are ignored (as Go does).
    const DATA_RW: u64 = 0x40 | 0x4000_0000 | 0x8000_0000;
    const ALIGN_32: u64 = 0x0060_0000;
    let r = Reader {
        data,
        big_endian: false,
    };
    let pe_off = r.u32(0x3c)?;
    if r.bytes(pe_off, 4)? != b"PE\0\0" {
        return None;
    }
    let coff = pe_off + 4;
    let nsections = r.u16(coff + 2)?;
    let opt_size = r.u16(coff + 16)?;
    let opt = coff + 20;
    let image_base = match r.u16(opt)? {
        0x10b => r.u32(opt + 28)?,
        0x20b => r.u64(opt + 24)?,
        _ => 0,
    };
    let mut regions = Vec::new();
    let mut data = None;
    for i in 0..nsections {
        let at = r.within(opt + opt_size + i * 40)?;
        let virtual_size = r.u32(at + 8)?;
        let virtual_address = r.u32(at + 12)?;
        let raw_size = r.u32(at + 16)?;
        let raw_ptr = r.u32(at + 20)?;
        let characteristics = r.u32(at + 36)?;
        regions.push(Region {
            addr: image_base.checked_add(virtual_address)?,
            len: raw_size,
            bytes: r.range(raw_ptr, raw_size),
            skip: false,
        });
        if data.is_none()
            && virtual_address != 0
            && raw_size != 0
            && characteristics & !ALIGN_32 == DATA_RW
        {
            data = Some((virtual_address.checked_add(image_base)?, virtual_size));
        }
    }
    let (data_start, data_size) = data.unwrap_or((0, 0));
    Some(Exe {
        data_start,
        data_size,
        regions,
    })
}

fn macho(data: &[u8]) -> Option<Exe<'_>> {
    let le = read_uint(&data[..4], 4, false);
    let (big_endian, is64) = match le {
        0xfeed_face => (false, false),
        0xfeed_facf => (false, true),
        _ => match read_uint(&data[..4], 4, true) {
            0xfeed_face => (true, false),
            0xfeed_facf => (true, true),
            _ => return None,
        },
    };
    let r = Reader { data, big_endian };
    let ncmds = r.u32(16)?;
    let mut at: u64 = if is64 { 32 } else { 28 };
    let mut regions = Vec::new();
    let (mut data_start, mut data_size) = (0, 0);
    let mut found = false;
    for _ in 0..ncmds {
        at = r.within(at)?;
        let cmd = r.u32(at)?;
        let cmdsize = r.u32(at + 4)?;
        if cmdsize < 8 {
            return None;
        }
        if (cmd == 0x19 && is64) || (cmd == 0x1 && !is64) {
            let name = cstr(r.bytes(at + 8, 16)?);
            let (vmaddr, fileoff, filesize, nsects, header, sect_size) = if is64 {
                (
                    r.u64(at + 24)?,
                    r.u64(at + 40)?,
                    r.u64(at + 48)?,
                    r.u32(at + 64)?,
                    72,
                    80,
                )
            } else {
                (
                    r.u32(at + 24)?,
                    r.u32(at + 32)?,
                    r.u32(at + 36)?,
                    r.u32(at + 48)?,
                    56,
                    68,
                )
            };
            regions.push(Region {
                addr: vmaddr,
                len: filesize,
                bytes: r.range(fileoff, filesize),
                skip: name == b"__PAGEZERO",
            });
            for s in 0..nsects {
                let sat = r.within(at + header + s * sect_size)?;
                let sectname = cstr(r.bytes(sat, 16)?);
                let (addr, size) = if is64 {
                    (r.u64(sat + 32)?, r.u64(sat + 40)?)
                } else {
                    (r.u32(sat + 32)?, r.u32(sat + 36)?)
                };
                if !found && sectname == b"__go_buildinfo" {
                    (data_start, data_size, found) = (addr, size, true);
                }
            }
        }
        at = at.checked_add(cmdsize)?;
    }
    Some(Exe {
        data_start,
        data_size,
        regions,
    })
}

fn fat_macho(data: &[u8]) -> Option<Exe<'_>> {
    let r = Reader {
        data,
        big_endian: true,
    };
    let is64 = data[3] == 0xbf;
    if r.u32(4)? == 0 {
        return None;
    }
    // Go reads the first architecture.
    let (offset, size) = if is64 {
        (r.u64(8 + 8)?, r.u64(8 + 16)?)
    } else {
        (r.u32(8 + 8)?, r.u32(8 + 12)?)
    };
    let inner = r.bytes(offset, size)?;
    if inner.len() < 16 {
        return None;
    }
    let exe = macho(inner)?;
    Some(exe)
}

/// What `go version -m [-json] ARG` writes for one command-line argument, and whether its exit status is
/// 0 (cmd/go's `runVersion` for that argument).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionOutput {
    /// Standard output: the report of each Go executable found.
    pub stdout: String,
    /// Standard error: go's messages about the argument.
    pub stderr: String,
    /// Whether go exits with status 0.
    pub success: bool,
}

/// Runs `go version -m ARG` (`-json` too when `json`) without `go`: a file is read and reported (a file
/// that is not a Go executable is an error, printed only when it looks like an executable, as go does); a
/// directory is walked in lexical order and every Go executable in it reported, the rest silently skipped.
#[must_use]
pub fn go_version_m(arg: &str, json: bool) -> VersionOutput {
    let mut out = VersionOutput {
        stdout: String::new(),
        stderr: String::new(),
        success: true,
    };
    match std::fs::metadata(arg) {
        Err(e) => {
            out.stderr = format!("stat {arg}: {}\n", go_errno_text(&e));
            out.success = false;
        }
        Ok(meta) if meta.is_dir() => scan_dir(arg, json, &mut out),
        Ok(meta) => out.success = scan_file(arg, &meta, true, json, &mut out),
    }
    out
}

// scanDir: filepath.WalkDir (lexical order, symlinked directories not followed); errors are not printed.
fn scan_dir(dir: &str, json: bool, out: &mut VersionOutput) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut names: Vec<String> = entries
        .filter_map(std::result::Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    for name in names {
        let path = clean_path(&format!("{dir}/{name}"));
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if meta.is_dir() {
            scan_dir(&path, json, out);
        } else if meta.is_file() || meta.file_type().is_symlink() {
            scan_file(&path, &meta, false, json, out);
        }
    }
}

// scanFile: reports one file; `must_print` (a file named on the command line) makes errors visible.
fn scan_file(
    file: &str,
    meta: &std::fs::Metadata,
    must_print: bool,
    json: bool,
    out: &mut VersionOutput,
) -> bool {
    let mut meta = meta.clone();
    if meta.file_type().is_symlink() {
        match std::fs::metadata(file) {
            Ok(m) if m.is_file() => meta = m,
            _ => {
                if must_print {
                    out.stderr.push_str(file);
                    out.stderr.push_str(": symlink\n");
                }
                return false;
            }
        }
    }
    let Ok(data) = std::fs::read(file) else {
        // debug/buildinfo's error is then the *fs.PathError of opening the file: go prints the name.
        if must_print {
            out.stderr.push_str(file);
            out.stderr.push('\n');
        }
        return false;
    };
    match BuildInfo::read(&data) {
        Ok(info) => {
            if json {
                out.stdout.push_str(&info.to_json());
            } else {
                out.stdout.push_str(&info.to_go_version_m(file));
            }
            true
        }
        Err(e) => {
            if must_print && is_go_binary_candidate(file, &meta) {
                let _ = writeln!(
                    out.stderr,
                    "{file}: could not read Go build info from {file}: {e}"
                );
            }
            false
        }
    }
}

// isGoBinaryCandidate: executable by mode, or named like a library or Windows executable.
fn is_go_binary_candidate(file: &str, meta: &std::fs::Metadata) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        if meta.is_file() && meta.permissions().mode() & 0o111 != 0 {
            return true;
        }
    }
    #[cfg(not(unix))]
    let _ = meta;
    let name = file.to_lowercase();
    let base = name.rsplit('/').next().unwrap_or(&name);
    let ext = base.rfind('.').map_or("", |i| &base[i..]);
    matches!(ext, ".so" | ".exe" | ".dll") || name.contains(".so.")
}

// Go's syscall error text: the C library's message with a lower-case first letter ("no such file or
// directory"), without Rust's "(os error N)".
fn go_errno_text(e: &std::io::Error) -> String {
    let text = e.to_string();
    let text = text
        .rfind(" (os error ")
        .map_or(text.as_str(), |i| &text[..i]);
    let mut chars = text.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

// Go's path.Clean for the slash-separated paths filepath.Join builds while walking.
fn clean_path(p: &str) -> String {
    let rooted = p.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            s => parts.push(s),
        }
    }
    let body = parts.join("/");
    match (rooted, body.is_empty()) {
        (true, _) => format!("/{body}"),
        (false, true) => ".".to_owned(),
        (false, false) => body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MODINFO: &str = "path\texample.com/cmd/app\n\
        mod\texample.com\t(devel)\t\n\
        dep\texample.com/dep\tv1.2.3\th1:abc=\n\
        dep\texample.com/old\tv1.0.0\n\
        =>\t../old\t(devel)\t\n\
        build\t-ldflags=\"-X main.version=1.0 -s\"\n\
        build\tCGO_ENABLED=0\n\
        build\t\"we=ird\"=`raw`\n";

    fn wrapped(text: &str) -> Vec<u8> {
        // Go wraps the text in two 16-byte sentinels that are not valid UTF-8.
        let mut v = vec![0xafu8; 16];
        v.extend_from_slice(text.as_bytes());
        v.extend_from_slice(&[0xf2u8; 16]);
        v
    }

    #[test]
    fn parses_and_prints_like_go() {
        let mut info = BuildInfo::parse(MODINFO).unwrap();
        assert_eq!(info.deps.len(), 2);
        assert_eq!(info.deps[1].replace.as_ref().unwrap().path, "../old");
        assert_eq!(info.settings[0].value, "-X main.version=1.0 -s");
        assert_eq!(info.settings[2].key, "we=ird");
        assert_eq!(info.settings[2].value, "raw");
        info.go_version = "go1.27.3".into();
        assert_eq!(
            info.to_go_version_m("bin/app"),
            "bin/app: go1.27.3\n\
             \tpath\texample.com/cmd/app\n\
             \tmod\texample.com\t(devel)\t\n\
             \tdep\texample.com/dep\tv1.2.3\th1:abc=\n\
             \tdep\texample.com/old\tv1.0.0\n\
             \t=>\t../old\t(devel)\t\n\
             \t\n\
             \tbuild\t-ldflags=\"-X main.version=1.0 -s\"\n\
             \tbuild\tCGO_ENABLED=0\n\
             \tbuild\t\"we=ird\"=raw\n"
        );
        assert_eq!(
            BuildInfo {
                go_version: "go1.2".into(),
                ..BuildInfo::default()
            }
            .to_go_version_m("x"),
            "x: go1.2\n"
        );
    }

    #[test]
    fn parse_errors_read_like_go() {
        let err = |t: &str| BuildInfo::parse(t).unwrap_err().to_string();
        assert_eq!(
            err("path\tp\nmod\ta\n"),
            "could not parse Go build info: line 2: expected 2 or 3 columns; got 1"
        );
        assert_eq!(
            err("=>\ta\tb\tc\n"),
            "could not parse Go build info: line 1: replacement with no module on previous line"
        );
        assert_eq!(
            err("build\tkey\n"),
            "could not parse Go build info: line 1: build line missing '=' after key"
        );
        assert_eq!(
            err("build\ta b=c\n"),
            "could not parse Go build info: line 1: unquoted key \"a b\" must be quoted"
        );
        assert_eq!(
            err("build\t\"k\"x\n"),
            "could not parse Go build info: line 1: unexpected character after quoted key: 'x'"
        );
        assert_eq!(
            err("build\tk=\"open\n"),
            "could not parse Go build info: line 1: invalid quoted value in build line"
        );
    }

    #[test]
    fn json_like_encoding_json() {
        let mut info = BuildInfo::parse("path\tp\nbuild\tk=<&>\n").unwrap();
        info.go_version = "go1.27.3".into();
        assert_eq!(
            info.to_json(),
            "{\n\t\"GoVersion\": \"go1.27.3\",\n\t\"Path\": \"p\",\n\t\"Main\": {},\n\t\"Settings\": [\n\t\t{\n\t\t\t\"Key\": \"k\",\n\t\t\t\"Value\": \"\\u003c\\u0026\\u003e\"\n\t\t}\n\t]\n}\n"
        );
    }

    #[test]
    fn unquoting() {
        assert_eq!(
            unquote(r#""a\tb\x41\101\u00e9\U0001F600\"""#).unwrap(),
            "a\tbAAé😀\""
        );
        assert_eq!(unquote("`a\r\\b`").unwrap(), "a\\b");
        assert_eq!(unquote(r#""\'""#), None);
        assert_eq!(unquote(r#""\400""#), None);
        assert_eq!(unquote("\u{e9}x\u{e9}"), None);
        assert_eq!(unquote("\"\u{e9}"), None);
        assert_eq!(quoted_prefix(r#""a\"b"=c"#), Some(r#""a\"b""#));
    }

    /// A minimal ELF executable: one `PT_LOAD` segment mapping the whole file at `base`, and sections
    /// (null, `.go.buildinfo`, `.shstrtab`). `payload(addr_of_buildinfo)` returns the section's content.
    fn elf_with(is64: bool, big_endian: bool, payload: &dyn Fn(u64) -> Vec<u8>) -> Vec<u8> {
        let base: u64 = 0x40_0000;
        let put = |v: &mut Vec<u8>, at: usize, value: u64, size: usize| {
            let bytes = value.to_le_bytes();
            let field: Vec<u8> = if big_endian {
                bytes[..size].iter().rev().copied().collect()
            } else {
                bytes[..size].to_vec()
            };
            v[at..at + size].copy_from_slice(&field);
        };
        let (ehsize, phentsize, shentsize): (usize, usize, usize) =
            if is64 { (64, 56, 64) } else { (52, 32, 40) };
        let bi_off = 0x100usize; // 16-aligned
        let bi = payload(base + bi_off as u64);
        let strtab = b"\0.go.buildinfo\0.shstrtab\0";
        let str_off = bi_off + bi.len();
        let sh_off = (str_off + strtab.len() + 7) & !7;
        let total = sh_off + 3 * shentsize;
        let mut f = vec![0u8; total];
        f[..4].copy_from_slice(b"\x7fELF");
        f[4] = if is64 { 2 } else { 1 };
        f[5] = if big_endian { 2 } else { 1 };
        f[6] = 1;
        let ph_off = ehsize;
        if is64 {
            put(&mut f, 0x20, ph_off as u64, 8);
            put(&mut f, 0x28, sh_off as u64, 8);
            put(&mut f, 0x36, phentsize as u64, 2);
            put(&mut f, 0x38, 1, 2);
            put(&mut f, 0x3a, shentsize as u64, 2);
            put(&mut f, 0x3c, 3, 2);
            put(&mut f, 0x3e, 2, 2);
            put(&mut f, ph_off, 1, 4); // PT_LOAD
            put(&mut f, ph_off + 8, 0, 8);
            put(&mut f, ph_off + 0x10, base, 8);
            put(&mut f, ph_off + 0x20, total as u64, 8);
            put(&mut f, ph_off + 0x28, total as u64, 8);
        } else {
            put(&mut f, 0x1c, ph_off as u64, 4);
            put(&mut f, 0x20, sh_off as u64, 4);
            put(&mut f, 0x2a, phentsize as u64, 2);
            put(&mut f, 0x2c, 1, 2);
            put(&mut f, 0x2e, shentsize as u64, 2);
            put(&mut f, 0x30, 3, 2);
            put(&mut f, 0x32, 2, 2);
            put(&mut f, ph_off, 1, 4);
            put(&mut f, ph_off + 4, 0, 4);
            put(&mut f, ph_off + 8, base, 4);
            put(&mut f, ph_off + 0x10, total as u64, 4);
            put(&mut f, ph_off + 0x14, total as u64, 4);
        }
        f[bi_off..bi_off + bi.len()].copy_from_slice(&bi);
        f[str_off..str_off + strtab.len()].copy_from_slice(strtab);
        // Section 1: .go.buildinfo (name at 1); section 2: .shstrtab (name at 15).
        for (index, name, addr, off, size) in [
            (1, 1u64, base + bi_off as u64, bi_off, bi.len()),
            (2, 15, 0, str_off, strtab.len()),
        ] {
            let at = sh_off + index * shentsize;
            put(&mut f, at, name, 4);
            if is64 {
                put(&mut f, at + 0x10, addr, 8);
                put(&mut f, at + 0x18, off as u64, 8);
                put(&mut f, at + 0x20, size as u64, 8);
            } else {
                put(&mut f, at + 0xc, addr, 4);
                put(&mut f, at + 0x10, off as u64, 4);
                put(&mut f, at + 0x14, size as u64, 4);
            }
        }
        f
    }

    /// The pre-1.18 layout: after the magic, pointer size and flags, two pointers to Go string headers
    /// (data pointer, length), here placed right after the 32-byte header.
    fn pointer_format(is64: bool, big_endian: bool) -> impl Fn(u64) -> Vec<u8> {
        move |addr: u64| {
            let ptr = if is64 { 8 } else { 4 };
            let word = |v: u64| {
                let b = v.to_le_bytes();
                if big_endian {
                    b[..ptr].iter().rev().copied().collect::<Vec<u8>>()
                } else {
                    b[..ptr].to_vec()
                }
            };
            let version = b"go1.16.15".to_vec();
            let modinfo = wrapped(MODINFO);
            let hdrs = addr + 32;
            let version_at = hdrs + 4 * ptr as u64;
            let modinfo_at = version_at + version.len() as u64;
            let mut v = MAGIC.to_vec();
            v.push(u8::try_from(ptr).unwrap());
            v.push(u8::from(big_endian)); // flags: pointer layout, endianness
            v.extend(word(hdrs));
            v.extend(word(hdrs + 2 * ptr as u64));
            v.resize(32, 0);
            v.extend(word(version_at));
            v.extend(word(version.len() as u64));
            v.extend(word(modinfo_at));
            v.extend(word(modinfo.len() as u64));
            v.extend(version);
            v.extend(modinfo);
            v
        }
    }

    fn inline_format(addr: u64) -> Vec<u8> {
        let _ = addr;
        let mut v = MAGIC.to_vec();
        v.push(8);
        v.push(0x2);
        v.resize(32, 0);
        for s in [b"go1.27.3".to_vec(), wrapped(MODINFO)] {
            let mut n = s.len();
            while n >= 0x80 {
                v.push(u8::try_from(n & 0x7f).unwrap() | 0x80);
                n >>= 7;
            }
            v.push(u8::try_from(n).unwrap());
            v.extend(s);
        }
        v
    }

    #[test]
    fn reads_the_old_pointer_format() {
        for (is64, big_endian) in [(true, false), (false, false), (false, true), (true, true)] {
            let elf = elf_with(is64, big_endian, &pointer_format(is64, big_endian));
            let info = BuildInfo::read(&elf).unwrap_or_else(|e| panic!("{is64} {big_endian}: {e}"));
            assert_eq!(info.go_version, "go1.16.15");
            assert_eq!(info.path, "example.com/cmd/app");
            assert_eq!(info.deps.len(), 2);
        }
    }

    #[test]
    fn reads_the_inline_format() {
        let elf = elf_with(true, false, &inline_format);
        let info = BuildInfo::read(&elf).unwrap();
        assert_eq!(info.go_version, "go1.27.3");
        assert_eq!(info.main.version, "(devel)");
    }

    #[test]
    fn rejects_non_go_files() {
        assert!(matches!(
            BuildInfo::read(b"short"),
            Err(Error::UnrecognizedFormat)
        ));
        assert!(matches!(
            BuildInfo::read(b"#!/bin/sh\necho hello world\n"),
            Err(Error::UnrecognizedFormat)
        ));
        // An ELF without .go.buildinfo.
        let mut elf = elf_with(true, false, &inline_format);
        let name = elf.windows(13).position(|w| w == b".go.buildinfo").unwrap();
        elf[name + 1] = b'x';
        assert!(matches!(BuildInfo::read(&elf), Err(Error::NotGoExecutable)));
        // Every truncation of a valid file fails cleanly.
        let elf = elf_with(true, false, &inline_format);
        for len in 0..elf.len() {
            let _ = BuildInfo::read(&elf[..len]);
        }
    }

    proptest::proptest! {
        #[test]
        fn corrupted_executables_never_panic(
            flips in proptest::collection::vec((0usize..4096, proptest::num::u8::ANY), 1..16),
            cut in 0usize..4096,
            inline in proptest::bool::ANY,
        ) {
            let mut elf = if inline {
                elf_with(true, false, &inline_format)
            } else {
                elf_with(false, true, &pointer_format(false, true))
            };
            let len = elf.len();
            for (at, byte) in flips {
                elf[at % len] = byte;
            }
            let _ = BuildInfo::read(&elf);
            let _ = BuildInfo::read(&elf[..cut % len]);
        }

        #[test]
        fn arbitrary_text_never_panics(text in ".{0,200}", lines in proptest::collection::vec(
            "(path|mod|dep|=>|build)\t[ -~\t]{0,30}", 0..8)) {
            let _ = BuildInfo::parse(&text);
            let joined = lines.join("\n") + "\n";
            if let Ok(info) = BuildInfo::parse(&joined) {
                let _ = info.to_go_version_m("f");
                let _ = info.to_json();
            }
        }
    }
}
