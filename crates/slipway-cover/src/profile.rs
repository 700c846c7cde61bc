//! Text coverage profiles (`go test -coverprofile`): streaming parse, merge and write.
//!
//! The format is a `mode: set|count|atomic` line followed by one line per block,
//! `file:SL.SC,EL.EC numStmt count`. Lines are parsed from the right, as `golang.org/x/tools/cover` does,
//! so file names may contain `:`; a trailing `\r` is dropped (CRLF files).
//!
//! Merging follows Go: blocks with the same file and range are one block whose count is the bitwise OR
//! (mode `set`) or the sum (`count`, `atomic`; saturating here where Go would wrap). The same range with a
//! different statement count is an error naming both places. Unlike `go tool cover`, a repeated `mode:`
//! line with the same mode is accepted, so concatenated profiles (`cat a.out b.out`) merge; a different
//! mode is an error. Blank lines are skipped.

use std::collections::HashMap;
use std::fmt;
use std::io::{BufRead, Write};
use std::path::Path;
use std::str::FromStr;

use crate::error::{Error, Result};

/// Largest count written back: Go reads counts as `int`, so sums saturate at `i64::MAX`.
const MAX_COUNT: u64 = i64::MAX as u64;

/// A profile's counter mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Whether each block ran (0 or 1).
    Set,
    /// How often each block ran.
    Count,
    /// Like `Count`, with counters updated atomically (`-race`).
    Atomic,
}

impl Mode {
    /// The mode as written in a profile's `mode:` line.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Set => "set",
            Mode::Count => "count",
            Mode::Atomic => "atomic",
        }
    }

    /// Combines two counts of the same block the way Go's profile reader does.
    pub fn combine(self, a: u64, b: u64) -> u64 {
        match self {
            Mode::Set => a | b,
            Mode::Count | Mode::Atomic => a.saturating_add(b).min(MAX_COUNT),
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text is not `set`, `count` or `atomic`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown coverage mode {}", crate::quote::quoted(.0))]
pub struct UnknownMode(pub String);

impl FromStr for Mode {
    type Err = UnknownMode;

    fn from_str(s: &str) -> Result<Self, UnknownMode> {
        match s {
            "set" => Ok(Mode::Set),
            "count" => Ok(Mode::Count),
            "atomic" => Ok(Mode::Atomic),
            other => Err(UnknownMode(other.to_owned())),
        }
    }
}

/// One block of a profile: a source range, its statement count and its execution count.
///
/// Lines and columns are what the Go compiler recorded: 1-based, columns in bytes, ignoring `//line`
/// directives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Block {
    /// First line.
    pub start_line: u32,
    /// First column.
    pub start_col: u32,
    /// Last line.
    pub end_line: u32,
    /// Column just past the block.
    pub end_col: u32,
    /// Number of statements in the block.
    pub num_stmt: u32,
    /// How often (mode `count`/`atomic`) or whether (mode `set`) the block ran.
    pub count: u64,
}

impl Block {
    /// The range as written in a profile: `SL.SC,EL.EC`.
    pub fn range(&self) -> String {
        format!(
            "{}.{},{}.{}",
            self.start_line, self.start_col, self.end_line, self.end_col
        )
    }

    fn range_key(&self) -> (u32, u32, u32, u32) {
        (self.start_line, self.start_col, self.end_line, self.end_col)
    }
}

/// The blocks of one Go file, sorted by start position, each range once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileProfile {
    /// The file as the profile names it: usually `import/path/file.go`.
    pub name: String,
    /// Its blocks.
    pub blocks: Vec<Block>,
}

impl FileProfile {
    /// The package import path: the file name up to its last `/` (like Go's `path.Dir`).
    pub fn package(&self) -> &str {
        package_of(&self.name)
    }
}

/// `path.Dir` as far as profiles need it: everything before the last `/`, or `.` without one.
pub(crate) fn package_of(name: &str) -> &str {
    match name.rfind('/') {
        Some(0) => "/",
        Some(i) => &name[..i],
        None => ".",
    }
}

/// A parsed (and merged) coverage profile.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Profile {
    mode: Option<Mode>,
    files: Vec<FileProfile>,
}

impl Profile {
    /// Parses profile text; `name` is used in errors.
    pub fn parse(name: &str, text: &str) -> Result<Profile> {
        let mut merger = ProfileMerger::new();
        merger.add_reader(name, text.as_bytes())?;
        merger.finish()
    }

    /// Reads a profile file.
    pub fn open(path: impl AsRef<Path>) -> Result<Profile> {
        let mut merger = ProfileMerger::new();
        merger.add_file(path)?;
        merger.finish()
    }

    /// Merges profile files (as `go test` does for several packages, or as one would after several runs).
    pub fn merge_files<P: AsRef<Path>>(paths: impl IntoIterator<Item = P>) -> Result<Profile> {
        let mut merger = ProfileMerger::new();
        for path in paths {
            merger.add_file(path)?;
        }
        merger.finish()
    }

    /// A profile from parts already sorted and merged: files by name, blocks by start, each range once.
    pub(crate) fn from_parts(mode: Option<Mode>, files: Vec<FileProfile>) -> Profile {
        Profile { mode, files }
    }

    /// The mode, or `None` for an empty input (Go accepts an empty profile too).
    pub fn mode(&self) -> Option<Mode> {
        self.mode
    }

    /// The files, sorted by name (byte order, as `go tool cover` sorts them).
    pub fn files(&self) -> &[FileProfile] {
        &self.files
    }

    /// The total number of blocks.
    pub fn block_count(&self) -> usize {
        self.files.iter().map(|f| f.blocks.len()).sum()
    }

    /// Writes the profile in the order `go tool covdata textfmt` uses: by package, file, then start
    /// line, end line, start column, end column.
    pub fn write_to<W: Write>(&self, mut out: W) -> std::io::Result<()> {
        let Some(mode) = self.mode else {
            return Ok(());
        };
        writeln!(out, "mode: {mode}")?;
        let mut files: Vec<&FileProfile> = self.files.iter().collect();
        files.sort_by(|a, b| (a.package(), &a.name).cmp(&(b.package(), &b.name)));
        let mut blocks: Vec<&Block> = Vec::new();
        for file in files {
            blocks.clear();
            blocks.extend(file.blocks.iter());
            blocks.sort_by_key(|b| (b.start_line, b.end_line, b.start_col, b.end_col, b.num_stmt));
            for b in &blocks {
                writeln!(
                    out,
                    "{}:{}.{},{}.{} {} {}",
                    file.name,
                    b.start_line,
                    b.start_col,
                    b.end_line,
                    b.end_col,
                    b.num_stmt,
                    b.count
                )?;
            }
        }
        Ok(())
    }

    /// The profile as text (see [`Profile::write_to`]).
    pub fn to_text(&self) -> String {
        let mut out = Vec::with_capacity(self.block_count() * 48 + 16);
        // Writing to a Vec cannot fail, and every piece written is UTF-8.
        let _ = self.write_to(&mut out);
        String::from_utf8_lossy(&out).into_owned()
    }
}

/// Where a block came from, kept so that conflicts can name both places.
#[derive(Debug, Clone, Copy)]
struct Origin {
    source: u32,
    line: u32,
}

#[derive(Debug)]
struct Pending {
    block: Block,
    origin: Origin,
}

/// Streams any number of profiles into one, merging as Go does.
///
/// ```
/// use slipway_cover::{Mode, ProfileMerger};
///
/// let mut merger = ProfileMerger::new();
/// merger.add_reader("a.out", "mode: count\nm/p/f.go:3.2,4.10 2 1\n".as_bytes())?;
/// merger.add_reader("b.out", "mode: count\r\nm/p/f.go:3.2,4.10 2 5\r\n".as_bytes())?;
/// let profile = merger.finish()?;
/// assert_eq!(profile.mode(), Some(Mode::Count));
/// assert_eq!(profile.files()[0].blocks[0].count, 6);
/// Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Default)]
pub struct ProfileMerger {
    mode: Option<(Mode, Origin)>,
    sources: Vec<String>,
    index: HashMap<String, usize>,
    files: Vec<(String, Vec<Pending>)>,
}

impl ProfileMerger {
    /// An empty merger.
    pub fn new() -> Self {
        ProfileMerger::default()
    }

    /// Reads a profile file into the merger.
    pub fn add_file(&mut self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let file = std::fs::File::open(path).map_err(|error| Error::Io {
            path: path.to_path_buf(),
            error,
        })?;
        self.add_reader(
            &path.display().to_string(),
            std::io::BufReader::with_capacity(1 << 16, file),
        )
    }

    /// Reads profile text from `reader`; `name` identifies it in errors.
    ///
    /// The first non-blank line must be a `mode:` line; later `mode:` lines must agree with the first
    /// mode seen by this merger.
    pub fn add_reader<R: BufRead>(&mut self, name: &str, mut reader: R) -> Result<()> {
        let source = u32::try_from(self.sources.len()).unwrap_or(u32::MAX);
        self.sources.push(name.to_owned());
        let mut buf = Vec::with_capacity(256);
        let mut line_no = 0usize;
        let mut saw_mode = false;
        // The last file looked up: profiles list a file's blocks together, so this skips most hashing.
        let mut last: Option<usize> = None;
        loop {
            buf.clear();
            line_no += 1;
            let n = reader
                .read_until(b'\n', &mut buf)
                .map_err(|error| Error::Read {
                    profile: name.to_owned(),
                    line: line_no,
                    error,
                })?;
            if n == 0 {
                break;
            }
            let mut bytes = buf.as_slice();
            if let Some(rest) = bytes.strip_suffix(b"\n") {
                bytes = rest;
            }
            if let Some(rest) = bytes.strip_suffix(b"\r") {
                bytes = rest;
            }
            if bytes.is_empty() {
                continue;
            }
            let line = std::str::from_utf8(bytes).map_err(|_| Error::NotUtf8 {
                profile: name.to_owned(),
                line: line_no,
            })?;
            let origin = Origin {
                source,
                line: u32::try_from(line_no).unwrap_or(u32::MAX),
            };
            if let Some(mode) = line.strip_prefix("mode: ") {
                self.set_mode(name, line_no, line, mode, origin)?;
                saw_mode = true;
                continue;
            }
            if !saw_mode {
                return Err(Error::BadModeLine {
                    profile: name.to_owned(),
                    line: line_no,
                    text: line.to_owned(),
                });
            }
            let (file, block) = parse_block(line).map_err(|(column, message)| Error::BadBlock {
                profile: name.to_owned(),
                line: line_no,
                column,
                message,
                text: line.to_owned(),
            })?;
            let slot = match last {
                Some(i) if self.files[i].0 == file => i,
                _ => {
                    let i = if let Some(&i) = self.index.get(file) {
                        i
                    } else {
                        self.files.push((file.to_owned(), Vec::new()));
                        self.index.insert(file.to_owned(), self.files.len() - 1);
                        self.files.len() - 1
                    };
                    last = Some(i);
                    i
                }
            };
            self.files[slot].1.push(Pending { block, origin });
        }
        Ok(())
    }

    fn set_mode(
        &mut self,
        name: &str,
        line_no: usize,
        line: &str,
        mode: &str,
        origin: Origin,
    ) -> Result<()> {
        if mode.is_empty() {
            return Err(Error::BadModeLine {
                profile: name.to_owned(),
                line: line_no,
                text: line.to_owned(),
            });
        }
        let mode: Mode = mode
            .parse()
            .map_err(|UnknownMode(mode)| Error::UnknownMode {
                profile: name.to_owned(),
                line: line_no,
                mode,
            })?;
        match self.mode {
            None => self.mode = Some((mode, origin)),
            Some((first, _)) if first == mode => {}
            Some((first, first_origin)) => {
                return Err(Error::ModeMismatch {
                    profile: name.to_owned(),
                    line: line_no,
                    mode,
                    first_profile: self.source_name(first_origin),
                    first_line: first_origin.line as usize,
                    first_mode: first,
                });
            }
        }
        Ok(())
    }

    fn source_name(&self, origin: Origin) -> String {
        self.sources
            .get(origin.source as usize)
            .cloned()
            .unwrap_or_default()
    }

    /// Sorts and merges everything read so far into a [`Profile`].
    pub fn finish(self) -> Result<Profile> {
        let Some((mode, _)) = self.mode else {
            return Ok(Profile::default());
        };
        let mut files = Vec::with_capacity(self.files.len());
        for (name, mut pending) in self.files {
            // Stable, so the first occurrence of a range stays first and is the one errors call "first".
            pending.sort_by_key(|p| p.block.range_key());
            let mut blocks: Vec<Block> = Vec::with_capacity(pending.len());
            // Where the last pushed block was first seen.
            let mut first_origin = Origin { source: 0, line: 0 };
            for p in &pending {
                if let Some(last) = blocks.last_mut()
                    && last.range_key() == p.block.range_key()
                {
                    if last.num_stmt != p.block.num_stmt {
                        let first = first_origin;
                        return Err(Error::NumStmtMismatch {
                            file: name,
                            range: p.block.range(),
                            first_profile: self
                                .sources
                                .get(first.source as usize)
                                .cloned()
                                .unwrap_or_default(),
                            first_line: first.line as usize,
                            first_num_stmt: last.num_stmt,
                            profile: self
                                .sources
                                .get(p.origin.source as usize)
                                .cloned()
                                .unwrap_or_default(),
                            line: p.origin.line as usize,
                            num_stmt: p.block.num_stmt,
                        });
                    }
                    last.count = mode.combine(last.count, p.block.count);
                    continue;
                }
                first_origin = p.origin;
                blocks.push(p.block);
            }
            files.push(FileProfile { name, blocks });
        }
        files.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(Profile {
            mode: Some(mode),
            files,
        })
    }
}

/// Parses `file:SL.SC,EL.EC numStmt count` from the right. On error returns the 1-based column of the
/// offending field and a message.
fn parse_block(line: &str) -> Result<(&str, Block), (usize, String)> {
    let bytes = line.as_bytes();
    let end = bytes.len();
    let (count, end) = seek_back(bytes, b' ', end, "count")?;
    let (num_stmt, end) = seek_back(bytes, b' ', end, "number of statements")?;
    let (end_col, end) = seek_back(bytes, b'.', end, "end column")?;
    let (end_line, end) = seek_back(bytes, b',', end, "end line")?;
    let (start_col, end) = seek_back(bytes, b'.', end, "start column")?;
    let (start_line, end) = seek_back(bytes, b':', end, "start line")?;
    if end == 0 {
        return Err((1, "empty file name".to_owned()));
    }
    let narrow = |v: u64, at: usize, what: &str| {
        u32::try_from(v).map_err(|_| (at, format!("{what} {v} is too large")))
    };
    let block = Block {
        start_line: narrow(start_line, 0, "start line")?,
        start_col: narrow(start_col, 0, "start column")?,
        end_line: narrow(end_line, 0, "end line")?,
        end_col: narrow(end_col, 0, "end column")?,
        num_stmt: narrow(num_stmt, 0, "number of statements")?,
        count,
    };
    // `line[..end]` ends right before the ASCII ':' found above, so it is a char boundary.
    Ok((&line[..end], block))
}

/// Finds `sep` searching back from `end` and parses the number between it and `end` (Go's `seekBack`,
/// including `strconv.Atoi`'s optional sign and its `int` range).
fn seek_back(
    bytes: &[u8],
    sep: u8,
    end: usize,
    what: &str,
) -> Result<(u64, usize), (usize, String)> {
    let Some(at) = bytes[..end].iter().rposition(|&b| b == sep) else {
        return Err((1, format!("no {:?} before the {what}", char::from(sep))));
    };
    let field = &bytes[at + 1..end];
    let column = at + 2;
    let bad = || {
        (
            column,
            format!(
                "{what} {} is not a number",
                crate::quote::quoted(&String::from_utf8_lossy(field))
            ),
        )
    };
    let (negative, digits) = match field.split_first() {
        Some((b'+', rest)) => (false, rest),
        Some((b'-', rest)) => (true, rest),
        _ => (false, field),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(bad());
    }
    let mut value: u64 = 0;
    for &d in digits {
        value = value
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(d - b'0')))
            .filter(|&v| v <= MAX_COUNT)
            .ok_or_else(bad)?;
    }
    if negative && value != 0 {
        return Err((column, format!("negative {what} {value}")));
    }
    Ok((value, at))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_from_the_right_so_names_may_hold_colons() {
        let (name, b) = parse_block("a:b/c:d.go:10.2,12.3 4 7").unwrap();
        assert_eq!(name, "a:b/c:d.go");
        assert_eq!(
            b,
            Block {
                start_line: 10,
                start_col: 2,
                end_line: 12,
                end_col: 3,
                num_stmt: 4,
                count: 7
            }
        );
    }

    #[test]
    fn numbers_follow_atoi() {
        assert_eq!(parse_block("f.go:+1.2,3.4 5 -0").unwrap().1.start_line, 1);
        let err = parse_block("f.go:1.2,3.4 5 -3").unwrap_err();
        assert_eq!(err.0, 16);
        assert!(err.1.contains("negative"), "{err:?}");
        assert!(parse_block("f.go:1.2,3.4 5 9223372036854775808").is_err());
        assert_eq!(
            parse_block("f.go:1.2,3.4 5 9223372036854775807")
                .unwrap()
                .1
                .count,
            MAX_COUNT
        );
        assert!(parse_block(":1.2,3.4 5 1").is_err());
        assert!(parse_block("f.go:1.2,3.4 5 x").is_err());
        assert!(parse_block("f.go:1.2,3.4 5").is_err());
    }

    #[test]
    fn errors_name_the_place() {
        let err =
            Profile::parse("p.out", "mode: set\nf.go:1.2,3.4 1 1\nf.go:1.2;3.4 1 1\n").unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("p.out:3:"), "{text}");
        let err = Profile::parse("p.out", "f.go:1.2,3.4 1 1\n").unwrap_err();
        assert!(matches!(err, Error::BadModeLine { line: 1, .. }), "{err}");
        let err = Profile::parse("p.out", "mode: sometimes\n").unwrap_err();
        assert!(matches!(err, Error::UnknownMode { .. }), "{err}");
        let err = Profile::parse("p.out", "mode: \n").unwrap_err();
        assert!(matches!(err, Error::BadModeLine { .. }), "{err}");
    }

    #[test]
    fn merges_identical_blocks_by_mode() {
        let set = Profile::parse("p", "mode: set\nf.go:1.2,3.4 1 1\nf.go:1.2,3.4 1 0\n").unwrap();
        assert_eq!(set.files()[0].blocks[0].count, 1);
        let count = Profile::parse(
            "p",
            "mode: count\nf.go:1.2,3.4 1 9223372036854775807\nmode: count\nf.go:1.2,3.4 1 5\n",
        )
        .unwrap();
        assert_eq!(count.files()[0].blocks[0].count, MAX_COUNT);
    }

    #[test]
    fn conflicting_statement_counts_name_both_places() {
        let mut m = ProfileMerger::new();
        m.add_reader("a.out", "mode: set\nm/f.go:1.2,3.4 1 1\n".as_bytes())
            .unwrap();
        m.add_reader("b.out", "mode: set\n\nm/f.go:1.2,3.4 2 1\n".as_bytes())
            .unwrap();
        let text = m.finish().unwrap_err().to_string();
        assert_eq!(
            text,
            "m/f.go:1.2,3.4: inconsistent number of statements: 1 at a.out:2, 2 at b.out:3"
        );
    }

    #[test]
    fn mismatched_modes_are_an_error() {
        let err = Profile::parse("p", "mode: set\nf.go:1.2,3.4 1 1\nmode: count\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "p:3: mode count does not match mode set set at p:1"
        );
    }

    #[test]
    fn empty_input_is_an_empty_profile() {
        let p = Profile::parse("p", "").unwrap();
        assert_eq!(p.mode(), None);
        assert_eq!(p.to_text(), "");
        let p = Profile::parse("p", "mode: atomic\n").unwrap();
        assert_eq!(p.to_text(), "mode: atomic\n");
    }

    #[test]
    fn writes_in_covdata_order() {
        let p = Profile::parse(
            "p",
            "mode: set\na/b/x.go:5.1,6.1 1 1\na/b-c/y.go:1.1,2.1 1 0\na/b/x.go:1.9,9.1 1 0\na/b/x.go:1.2,3.1 1 1\n",
        )
        .unwrap();
        assert_eq!(
            p.to_text(),
            "mode: set\na/b/x.go:1.2,3.1 1 1\na/b/x.go:1.9,9.1 1 0\na/b/x.go:5.1,6.1 1 1\na/b-c/y.go:1.1,2.1 1 0\n"
        );
    }
}
