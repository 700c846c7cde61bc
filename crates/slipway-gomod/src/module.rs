//! Module paths and versions as `golang.org/x/mod/module` defines them.
//!
//! - Path validation: [`check_path`] (module paths), [`check_import_path`] and [`check_file_path`], plus
//!   [`check`] for a path and version pair.
//! - Major-version suffixes: [`split_path_version`] (`/vN`, and gopkg.in's `.vN`), [`check_path_major`],
//!   [`match_path_major`], [`path_major_prefix`].
//! - Case escaping for the module proxy and cache (`!` + lowercase): [`escape_path`], [`unescape_path`],
//!   [`escape_version`], [`unescape_version`].
//!
//! Error messages read exactly like the Go toolchain's, because go.mod errors embed them:
//!
//! ```
//! use slipway_gomod::module;
//!
//! let err = module::check_path("example/m").unwrap_err();
//! assert_eq!(err.to_string(), r#"malformed module path "example/m": missing dot in first path element"#);
//! assert_eq!(module::split_path_version("example.com/m/v2"), Some(("example.com/m", "/v2")));
//! assert_eq!(module::escape_path("github.com/Azure/go")?, "github.com/!azure/go");
//! Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::cmp::Ordering;
use std::fmt;

// Go's %q, with Go's own printable-character tables, so messages match byte for byte.
use crate::modfile::chars::{quote, quote_rune};
use crate::version;

/// Result of the functions in this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A module path and version pair (`module.Version`), stored unescaped.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Version {
    /// The module path, like `golang.org/x/text` or `rsc.io/quote/v3`.
    pub path: String,
    /// A semantic version, usually canonical; empty for the main module or a directory replacement.
    pub version: String,
}

impl Version {
    /// A path and version pair.
    pub fn new(path: impl Into<String>, version: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            version: version.into(),
        }
    }
}

impl fmt::Display for Version {
    /// `path@version`, or just `path` when the version is empty (as Go logs it).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.version.is_empty() {
            f.write_str(&self.path)
        } else {
            write!(f, "{}@{}", self.path, self.version)
        }
    }
}

/// Which rules a path was checked against; named in the error text (`malformed module path ...`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PathKind {
    /// A module path ([`check_path`]).
    Module,
    /// A package import path ([`check_import_path`]).
    Import,
    /// A file path inside a module ([`check_file_path`]).
    File,
}

impl fmt::Display for PathKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PathKind::Module => "module",
            PathKind::Import => "import",
            PathKind::File => "file",
        })
    }
}

/// Why a path is malformed; each variant displays as Go's text for it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PathProblem {
    /// The path is empty.
    Empty,
    /// The path starts with `-` (module and import paths).
    LeadingDash,
    /// The path contains `//`.
    DoubleSlash,
    /// The path ends with `/`.
    TrailingSlash,
    /// Two slashes enclose nothing, or the path starts with a slash.
    EmptyElement,
    /// An element made only of dots, like `..`.
    DotsElement {
        /// The offending element.
        elem: String,
    },
    /// A module path element starts with `.`.
    LeadingDot,
    /// An element ends with `.`.
    TrailingDot,
    /// A character outside the allowed set for this kind of path.
    InvalidChar {
        /// The offending character.
        ch: char,
    },
    /// An element whose name before the first dot is reserved on Windows (`CON`, `com1`, ...).
    WindowsReserved {
        /// The reserved name as written.
        name: String,
    },
    /// An element that looks like a Windows short name (`~` followed by digits).
    WindowsShortName,
    /// A module path starting with `/`.
    LeadingSlash,
    /// The first element of a module path has no dot (it must look like a domain).
    MissingDotInFirstElement,
    /// The first element of a module path starts with `-`.
    LeadingDashInFirstElement,
    /// A character not allowed in the domain-like first element of a module path.
    InvalidCharInFirstElement {
        /// The offending character.
        ch: char,
    },
    /// A malformed major-version suffix such as `/v1`, `/v0`, `/v2.0` or a gopkg.in path without `.vN`.
    InvalidMajorSuffix,
}

impl fmt::Display for PathProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathProblem::Empty => f.write_str("empty string"),
            PathProblem::LeadingDash => f.write_str("leading dash"),
            PathProblem::DoubleSlash => f.write_str("double slash"),
            PathProblem::TrailingSlash => f.write_str("trailing slash"),
            PathProblem::EmptyElement => f.write_str("empty path element"),
            PathProblem::DotsElement { elem } => {
                write!(f, "invalid path element {}", quote(elem))
            }
            PathProblem::LeadingDot => f.write_str("leading dot in path element"),
            PathProblem::TrailingDot => f.write_str("trailing dot in path element"),
            PathProblem::InvalidChar { ch } => write!(f, "invalid char {}", quote_rune(*ch)),
            PathProblem::WindowsReserved { name } => write!(
                f,
                "{} disallowed as path element component on Windows",
                quote(name)
            ),
            PathProblem::WindowsShortName => {
                f.write_str("trailing tilde and digits in path element")
            }
            PathProblem::LeadingSlash => f.write_str("leading slash"),
            PathProblem::MissingDotInFirstElement => {
                f.write_str("missing dot in first path element")
            }
            PathProblem::LeadingDashInFirstElement => {
                f.write_str("leading dash in first path element")
            }
            PathProblem::InvalidCharInFirstElement { ch } => {
                write!(f, "invalid char {} in first path element", quote_rune(*ch))
            }
            PathProblem::InvalidMajorSuffix => f.write_str("invalid version"),
        }
    }
}

/// Why a version is invalid; each variant displays as Go's text for it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum VersionProblem {
    /// The version's major does not fit the path's major-version suffix.
    ShouldBe {
        /// What the path allows: `v2`, or `v0 or v1` for a path without suffix.
        want: String,
        /// The version's major (`v1`), empty when the version is not valid semver.
        got: String,
    },
    /// Not usable as a proxy/cache file name (bad characters or `!`).
    Disallowed,
    /// Not a Go semantic version.
    NotSemantic,
    /// Not shaped like any of the pseudo-version forms.
    PseudoSyntax,
    /// A pseudo-version whose 14-digit timestamp is not a real time.
    MalformedTime {
        /// The timestamp digits.
        timestamp: String,
    },
    /// `vX.0.0-…+build`: no base version, yet build metadata.
    LacksBase {
        /// The build metadata, with its `+`.
        build: String,
    },
    /// `vX.Y.0-0.…`: the base version would need patch -1.
    NegativePatch {
        /// The base version as written.
        base: String,
    },
}

impl fmt::Display for VersionProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VersionProblem::ShouldBe { want, got } => write!(f, "should be {want}, not {got}"),
            VersionProblem::Disallowed => f.write_str("disallowed version string"),
            VersionProblem::NotSemantic => f.write_str("not a semantic version"),
            VersionProblem::PseudoSyntax => f.write_str("syntax error"),
            VersionProblem::MalformedTime { timestamp } => {
                write!(f, "malformed time {}", quote(timestamp))
            }
            VersionProblem::LacksBase { build } => write!(
                f,
                "lacks base version, but has build metadata {}",
                quote(build)
            ),
            VersionProblem::NegativePatch { base } => {
                write!(f, "version before {base} would have negative patch number")
            }
        }
    }
}

/// Errors of module path and version checks. The texts are Go's, byte for byte.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// `malformed module path "x": missing dot in first path element`.
    #[error("malformed {kind} path {}: {problem}", quote(path))]
    InvalidPath {
        /// Which rules were applied.
        kind: PathKind,
        /// The path as given.
        path: String,
        /// What is wrong with it.
        problem: PathProblem,
    },
    /// `version "v1.0.0" invalid: should be v2, not v1` (or `pseudo-version "…" invalid: …`).
    #[error("{} {} invalid: {problem}", version_noun(*pseudo), quote(version))]
    InvalidVersion {
        /// The version as given.
        version: String,
        /// Whether the version was read as a pseudo-version (changes the noun).
        pseudo: bool,
        /// What is wrong with it.
        problem: VersionProblem,
    },
    /// A version error about a known module: `example.com/m@v1.0.0: invalid version: …` (Go's `ModuleError`).
    #[error("{}", module_error_text(path, version, error))]
    Module {
        /// The module path.
        path: String,
        /// The module version; may be empty.
        version: String,
        /// The error about it. Its text is part of this one (Go prints them together), so it is not a `source`.
        error: Box<Error>,
    },
    /// An escaped path with a bad `!` sequence or an uppercase letter.
    #[error("invalid escaped module path {}", quote(escaped))]
    InvalidEscapedPath {
        /// The escaped path as given.
        escaped: String,
    },
    /// An escaped path that decodes to an invalid module path.
    #[error("invalid escaped module path {}: {error}", quote(escaped))]
    EscapedPathNotModulePath {
        /// The escaped path as given.
        escaped: String,
        /// Why the decoded path is invalid (Go prints it inline).
        error: Box<Error>,
    },
    /// An escaped version with a bad `!` sequence or an uppercase letter.
    #[error("invalid escaped version {}", quote(escaped))]
    InvalidEscapedVersion {
        /// The escaped version as given.
        escaped: String,
    },
    /// An escaped version that decodes to something that cannot be a file name. Go names the decoded version.
    #[error("invalid escaped version {}: {problem}", quote(version))]
    EscapedVersionNotFileName {
        /// The decoded version.
        version: String,
        /// Why it cannot be a file name.
        problem: PathProblem,
    },
}

fn version_noun(pseudo: bool) -> &'static str {
    if pseudo { "pseudo-version" } else { "version" }
}

fn module_error_text(path: &str, version: &str, error: &Error) -> String {
    match error {
        Error::InvalidVersion {
            version: v,
            pseudo,
            problem,
        } => format!("{path}@{v}: invalid {}: {problem}", version_noun(*pseudo)),
        _ if !version.is_empty() => format!("{path}@{version}: {error}"),
        _ => format!("module {path}: {error}"),
    }
}

/// Checks a module path and version pair (`module.Check`): a valid module path, a valid semantic version,
/// and a major version that fits the path's suffix.
pub fn check(path: &str, version: &str) -> Result<()> {
    check_path(path)?;
    if !version::is_valid(version) {
        return Err(Error::Module {
            path: path.to_owned(),
            version: String::new(),
            error: Box::new(Error::InvalidVersion {
                version: version.to_owned(),
                pseudo: false,
                problem: VersionProblem::NotSemantic,
            }),
        });
    }
    // check_path succeeded, so the suffix is well formed.
    let path_major = split_path_version(path).map_or("", |(_, major)| major);
    check_path_major(version, path_major).map_err(|error| Error::Module {
        path: path.to_owned(),
        version: String::new(),
        error: Box::new(error),
    })
}

/// Checks a module path (`module.CheckPath`): a valid import path whose first element looks like a lower-case
/// domain name with a dot, no element starting with a dot, and a well-formed major-version suffix.
pub fn check_path(path: &str) -> Result<()> {
    check_module_path(path).map_err(|problem| Error::InvalidPath {
        kind: PathKind::Module,
        path: path.to_owned(),
        problem,
    })
}

fn check_module_path(path: &str) -> Result<(), PathProblem> {
    check_general_path(path, PathKind::Module)?;
    let first = path.find('/').map_or(path, |i| &path[..i]);
    if first.is_empty() {
        return Err(PathProblem::LeadingSlash);
    }
    if !first.contains('.') {
        return Err(PathProblem::MissingDotInFirstElement);
    }
    if path.starts_with('-') {
        return Err(PathProblem::LeadingDashInFirstElement);
    }
    if let Some(ch) = first
        .chars()
        .find(|&c| !(c == '-' || c == '.' || c.is_ascii_digit() || c.is_ascii_lowercase()))
    {
        return Err(PathProblem::InvalidCharInFirstElement { ch });
    }
    if split_path_version(path).is_none() {
        return Err(PathProblem::InvalidMajorSuffix);
    }
    Ok(())
}

/// Checks a package import path (`module.CheckImportPath`): slash-separated non-empty elements of ASCII
/// letters, digits and `-._~+`, none ending in a dot, none reserved on Windows.
pub fn check_import_path(path: &str) -> Result<()> {
    check_general_path(path, PathKind::Import).map_err(|problem| Error::InvalidPath {
        kind: PathKind::Import,
        path: path.to_owned(),
        problem,
    })
}

/// Checks a slash-separated file path inside a module (`module.CheckFilePath`): like an import path, but
/// Unicode letters, spaces and more punctuation are allowed.
pub fn check_file_path(path: &str) -> Result<()> {
    check_general_path(path, PathKind::File).map_err(|problem| Error::InvalidPath {
        kind: PathKind::File,
        path: path.to_owned(),
        problem,
    })
}

fn check_general_path(path: &str, kind: PathKind) -> Result<(), PathProblem> {
    if path.is_empty() {
        return Err(PathProblem::Empty);
    }
    if path.starts_with('-') && kind != PathKind::File {
        return Err(PathProblem::LeadingDash);
    }
    if path.contains("//") {
        return Err(PathProblem::DoubleSlash);
    }
    if path.ends_with('/') {
        return Err(PathProblem::TrailingSlash);
    }
    path.split('/').try_for_each(|elem| check_elem(elem, kind))
}

const BAD_WINDOWS_NAMES: [&str; 22] = [
    "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8",
    "COM9", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9",
];

fn module_char_ok(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~')
}

fn file_char_ok(c: char) -> bool {
    if c.is_ascii() {
        // Go excludes shell-special characters and separators: " ' * < > ? ` | / : \
        c.is_ascii_alphanumeric()
            || matches!(
                c,
                '!' | '#'
                    | '$'
                    | '%'
                    | '&'
                    | '('
                    | ')'
                    | '+'
                    | ','
                    | '-'
                    | '.'
                    | '='
                    | '@'
                    | '['
                    | ']'
                    | '^'
                    | '_'
                    | '{'
                    | '}'
                    | '~'
                    | ' '
            )
    } else {
        // Go allows exactly unicode.IsLetter here.
        c.is_alphabetic() && !c.is_numeric() && !is_letter_like_mark(c)
    }
}

// Rust's `is_alphabetic` is the Unicode `Alphabetic` property, which is wider than Go's `unicode.IsLetter`
// (categories Lu, Ll, Lt, Lm, Lo): it also holds letter numbers (Nl) and some combining marks (Mn, Mc).
// Letter numbers are excluded by `is_numeric`; the marks that are Alphabetic sit in a few well-known
// blocks whose combining ranges we exclude here. The remaining differences are exotic scripts' vowel signs.
fn is_letter_like_mark(c: char) -> bool {
    matches!(c as u32, 0x0300..=0x036F | 0x0483..=0x0489 | 0x0591..=0x05C7 | 0x0610..=0x061A | 0x064B..=0x065F)
}

fn check_elem(elem: &str, kind: PathKind) -> Result<(), PathProblem> {
    if elem.is_empty() {
        return Err(PathProblem::EmptyElement);
    }
    if elem.bytes().all(|b| b == b'.') {
        return Err(PathProblem::DotsElement {
            elem: elem.to_owned(),
        });
    }
    if elem.starts_with('.') && kind == PathKind::Module {
        return Err(PathProblem::LeadingDot);
    }
    if elem.ends_with('.') {
        return Err(PathProblem::TrailingDot);
    }
    let ok: fn(char) -> bool = match kind {
        PathKind::Module => module_char_ok,
        PathKind::Import => |c| module_char_ok(c) || c == '+',
        PathKind::File => file_char_ok,
    };
    if let Some(ch) = elem.chars().find(|&c| !ok(c)) {
        return Err(PathProblem::InvalidChar { ch });
    }
    let short = elem
        .bytes()
        .position(|b| b == b'.')
        .map_or(elem, |i| &elem[..i]);
    if matches!(short.len(), 3 | 4)
        && BAD_WINDOWS_NAMES
            .iter()
            .any(|bad| bad.eq_ignore_ascii_case(short))
    {
        return Err(PathProblem::WindowsReserved {
            name: short.to_owned(),
        });
    }
    // Windows short names only matter for import paths, not for file names.
    if kind != PathKind::File
        && let Some(tilde) = short.bytes().rposition(|b| b == b'~')
        && tilde < short.len() - 1
        && short[tilde + 1..].bytes().all(|b| b.is_ascii_digit())
    {
        return Err(PathProblem::WindowsShortName);
    }
    Ok(())
}

/// Splits a module path into prefix and major-version suffix (`module.SplitPathVersion`):
/// `("example.com/m", "/v2")`, `("gopkg.in/yaml", ".v3")`, or `(path, "")` when there is no suffix.
/// `None` when the last element looks like a suffix but is not a valid one (`/v1`, `/v0`, `/v2.0`, or a
/// gopkg.in path without `.vN`).
pub fn split_path_version(path: &str) -> Option<(&str, &str)> {
    if path.starts_with("gopkg.in/") {
        return split_gopkg_in(path);
    }
    let bytes = path.as_bytes();
    let mut i = bytes.len();
    let mut dot = false;
    while i > 0 && (bytes[i - 1].is_ascii_digit() || bytes[i - 1] == b'.') {
        dot |= bytes[i - 1] == b'.';
        i -= 1;
    }
    if i <= 1 || i == bytes.len() || bytes[i - 1] != b'v' || bytes[i - 2] != b'/' {
        return Some((path, ""));
    }
    let (prefix, major) = path.split_at(i - 2);
    if dot || major.len() <= 2 || major.as_bytes()[2] == b'0' || major == "/v1" {
        return None;
    }
    Some((prefix, major))
}

fn split_gopkg_in(path: &str) -> Option<(&str, &str)> {
    let bytes = path.as_bytes();
    let mut i = path.strip_suffix("-unstable").unwrap_or(path).len();
    while i > 0 && bytes[i - 1].is_ascii_digit() {
        i -= 1;
    }
    if i <= 1 || bytes[i - 1] != b'v' || bytes[i - 2] != b'.' {
        // Every gopkg.in path ends in .vN.
        return None;
    }
    let (prefix, major) = path.split_at(i - 2);
    if major.len() <= 2 || (major.as_bytes()[2] == b'0' && major != ".v0") {
        return None;
    }
    Some((prefix, major))
}

/// Whether `version` fits the path major suffix `path_major` (`module.MatchPathMajor`).
pub fn match_path_major(version: &str, path_major: &str) -> bool {
    check_path_major(version, path_major).is_ok()
}

/// Checks that `version` fits the path major suffix `path_major` ("", "/v2", ".v1", ".v1-unstable")
/// (`module.CheckPathMajor`): no suffix allows v0, v1 and `+incompatible`; a suffix allows its major only.
pub fn check_path_major(version: &str, path_major: &str) -> Result<()> {
    let mut path_major = path_major;
    if path_major.starts_with(".v")
        && let Some(stripped) = path_major.strip_suffix("-unstable")
    {
        path_major = stripped;
    }
    // Early tools generated v0.0.0- pseudo-versions for gopkg.in .v1 paths; go.mod files in the wild keep them.
    if version.starts_with("v0.0.0-") && path_major == ".v1" {
        return Ok(());
    }
    let major = version::major(version).unwrap_or("");
    let want = if path_major.is_empty() {
        if major == "v0" || major == "v1" || version::build(version) == Some("+incompatible") {
            return Ok(());
        }
        "v0 or v1"
    } else if path_major.starts_with(['/', '.']) {
        if major == &path_major[1..] {
            return Ok(());
        }
        &path_major[1..]
    } else {
        path_major
    };
    Err(Error::InvalidVersion {
        version: version.to_owned(),
        pseudo: false,
        problem: VersionProblem::ShouldBe {
            want: want.to_owned(),
            got: major.to_owned(),
        },
    })
}

/// The major-version tag prefix a path major suffix implies (`module.PathMajorPrefix`): `"/v2"` -> `"v2"`,
/// `".v1-unstable"` -> `"v1"`, `""` -> `""` (either v0 or v1). `None` for a malformed suffix (Go panics).
pub fn path_major_prefix(path_major: &str) -> Option<&str> {
    if path_major.is_empty() {
        return Some("");
    }
    if !path_major.starts_with(['/', '.']) {
        return None;
    }
    let mut path_major = path_major;
    if path_major.starts_with(".v")
        && let Some(stripped) = path_major.strip_suffix("-unstable")
    {
        path_major = stripped;
    }
    let m = &path_major[1..];
    (version::major(m) == Some(m)).then_some(m)
}

/// Sorts module versions by path, then by semantic version (`module.Sort`). A version may carry a
/// `/suffix` (as go.sum's `v1.0.0/go.mod`) that breaks ties by plain string order.
pub fn sort(list: &mut [Version]) {
    list.sort_by(compare_versions);
}

/// The order [`sort`] uses.
pub fn compare_versions(a: &Version, b: &Version) -> Ordering {
    compare_path_versions((&a.path, &a.version), (&b.path, &b.version), |_, x, y| {
        version::compare(x, y)
    })
}

/// `module.Sort`'s order with the version comparison supplied (cmd/go's `gover.ModSort` compares the
/// `go` and `toolchain` pseudo-modules' versions as Go versions): by path, then by version, a `/suffix`
/// breaking ties as a plain string.
pub(crate) fn compare_path_versions(
    (path_a, a): (&str, &str),
    (path_b, b): (&str, &str),
    compare: impl Fn(&str, &str, &str) -> Ordering,
) -> Ordering {
    path_a.cmp(path_b).then_with(|| {
        let (va, fa) = a.split_at(a.find('/').unwrap_or(a.len()));
        let (vb, fb) = b.split_at(b.find('/').unwrap_or(b.len()));
        if va == vb {
            fa.cmp(fb)
        } else {
            compare(path_a, va, vb)
        }
    })
}

/// The escaped form of a module path for the proxy protocol and the module cache (`module.EscapePath`):
/// each uppercase letter becomes `!` and its lowercase. The path must be a valid module path.
pub fn escape_path(path: &str) -> Result<String> {
    check_path(path)?;
    Ok(escape_string(path))
}

/// The escaped form of a version (`module.EscapeVersion`). Versions need not be semver but must be valid file
/// names without `!`.
pub fn escape_version(version: &str) -> Result<String> {
    // `vN.N.N`: a valid file name with nothing to escape.
    if crate::version::is_plain_release(version) {
        return Ok(version.to_owned());
    }
    if check_elem(version, PathKind::File).is_err() || version.contains('!') || !version.is_ascii()
    {
        return Err(Error::InvalidVersion {
            version: version.to_owned(),
            pseudo: false,
            problem: VersionProblem::Disallowed,
        });
    }
    Ok(escape_string(version))
}

// Callers have checked that `s` is ASCII without `!`, which is what makes this escaping reversible.
// (Go's EscapeVersion lets Unicode letters through its file-name check and then fails with an internal error;
// we report those as disallowed instead.)
fn escape_string(s: &str) -> String {
    if !s.bytes().any(|b| b.is_ascii_uppercase()) {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if c.is_ascii_uppercase() {
            out.push('!');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// The module path an escaped path stands for (`module.UnescapePath`); the result must be a valid module path.
pub fn unescape_path(escaped: &str) -> Result<String> {
    let Some(path) = unescape_string(escaped) else {
        return Err(Error::InvalidEscapedPath {
            escaped: escaped.to_owned(),
        });
    };
    check_path(&path).map_err(|error| Error::EscapedPathNotModulePath {
        escaped: escaped.to_owned(),
        error: Box::new(error),
    })?;
    Ok(path)
}

/// The version an escaped version stands for (`module.UnescapeVersion`); the result must be a valid file name.
pub fn unescape_version(escaped: &str) -> Result<String> {
    let Some(version) = unescape_string(escaped) else {
        return Err(Error::InvalidEscapedVersion {
            escaped: escaped.to_owned(),
        });
    };
    if let Err(problem) = check_elem(&version, PathKind::File) {
        return Err(Error::EscapedVersionNotFileName { version, problem });
    }
    Ok(version)
}

fn unescape_string(escaped: &str) -> Option<String> {
    let mut out = String::with_capacity(escaped.len());
    let mut bang = false;
    for c in escaped.chars() {
        if !c.is_ascii() {
            return None;
        }
        if bang {
            bang = false;
            if !c.is_ascii_lowercase() {
                return None;
            }
            out.push(c.to_ascii_uppercase());
        } else if c == '!' {
            bang = true;
        } else if c.is_ascii_uppercase() {
            return None;
        } else {
            out.push(c);
        }
    }
    (!bang).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    // (path, module ok, import ok, file ok), from x/mod's module_test.go checkPathTests. The invalid-UTF-8 case
    // cannot be a Rust `&str`. The x/mod vendored in Go 1.27 rejects a leading dot in module paths only, so
    // `.x/z`, `.gitignore` and `.github/ISSUE_TEMPLATE` are valid import paths there, and a leading dash is a
    // valid file path (older tables said no; scripts/gen-gomod-module-fixtures.sh confirms with Go itself).
    const CHECK_PATH: &[(&str, bool, bool, bool)] = &[
        ("x.y/z", true, true, true),
        ("x.y", true, true, true),
        ("", false, false, false),
        ("/x.y/z", false, false, false),
        ("x./z", false, false, false),
        (".x/z", false, true, true),
        ("-x/z", false, false, true),
        ("x..y/z", true, true, true),
        ("x.y/z/../../w", false, false, false),
        ("x.y//z", false, false, false),
        ("x.y/z//w", false, false, false),
        ("x.y/z/", false, false, false),
        ("x.y/z/v0", false, true, true),
        ("x.y/z/v1", false, true, true),
        ("x.y/z/v2", true, true, true),
        ("x.y/z/v2.0", false, true, true),
        ("X.y/z", false, true, true),
        ("!x.y/z", false, false, true),
        ("_x.y/z", false, true, true),
        ("x.y!/z", false, false, true),
        ("x.y\"/z", false, false, false),
        ("x.y#/z", false, false, true),
        ("x.y$/z", false, false, true),
        ("x.y%/z", false, false, true),
        ("x.y&/z", false, false, true),
        ("x.y'/z", false, false, false),
        ("x.y(/z", false, false, true),
        ("x.y)/z", false, false, true),
        ("x.y*/z", false, false, false),
        ("x.y+/z", false, true, true),
        ("x.y,/z", false, false, true),
        ("x.y-/z", true, true, true),
        ("x.y./zt", false, false, false),
        ("x.y:/z", false, false, false),
        ("x.y;/z", false, false, false),
        ("x.y</z", false, false, false),
        ("x.y=/z", false, false, true),
        ("x.y>/z", false, false, false),
        ("x.y?/z", false, false, false),
        ("x.y@/z", false, false, true),
        ("x.y[/z", false, false, true),
        ("x.y\\/z", false, false, false),
        ("x.y]/z", false, false, true),
        ("x.y^/z", false, false, true),
        ("x.y_/z", false, true, true),
        ("x.y`/z", false, false, false),
        ("x.y{/z", false, false, true),
        ("x.y}/z", false, false, true),
        ("x.y~/z", false, true, true),
        ("x.y/z!", false, false, true),
        ("x.y/z\"", false, false, false),
        ("x.y/z#", false, false, true),
        ("x.y/z$", false, false, true),
        ("x.y/z%", false, false, true),
        ("x.y/z&", false, false, true),
        ("x.y/z'", false, false, false),
        ("x.y/z(", false, false, true),
        ("x.y/z)", false, false, true),
        ("x.y/z*", false, false, false),
        ("x.y/z+", false, true, true),
        ("x.y/z,", false, false, true),
        ("x.y/z-", true, true, true),
        ("x.y/z.t", true, true, true),
        ("x.y/z/t", true, true, true),
        ("x.y/z:", false, false, false),
        ("x.y/z;", false, false, false),
        ("x.y/z<", false, false, false),
        ("x.y/z=", false, false, true),
        ("x.y/z>", false, false, false),
        ("x.y/z?", false, false, false),
        ("x.y/z@", false, false, true),
        ("x.y/z[", false, false, true),
        ("x.y/z\\", false, false, false),
        ("x.y/z]", false, false, true),
        ("x.y/z^", false, false, true),
        ("x.y/z_", true, true, true),
        ("x.y/z`", false, false, false),
        ("x.y/z{", false, false, true),
        ("x.y/z}", false, false, true),
        ("x.y/z~", true, true, true),
        ("x.y/x.foo", true, true, true),
        ("x.y/aux.foo", false, false, false),
        ("x.y/prn", false, false, false),
        ("x.y/prn2", true, true, true),
        ("x.y/com", true, true, true),
        ("x.y/com1", false, false, false),
        ("x.y/com1.txt", false, false, false),
        ("x.y/calm1", true, true, true),
        ("github.com/!123/logrus", false, false, true),
        ("github.com/user/unicode/испытание", false, false, true),
        ("../x", false, false, false),
        ("./y", false, false, false),
        ("x:y", false, false, false),
        ("\\temp\\foo", false, false, false),
        (".gitignore", false, true, true),
        (".github/ISSUE_TEMPLATE", false, true, true),
        ("x☺y", false, false, false),
    ];

    #[test]
    fn check_path_table() {
        for &(path, module_ok, import_ok, file_ok) in CHECK_PATH {
            assert_eq!(check_path(path).is_ok(), module_ok, "check_path({path:?})");
            assert_eq!(
                check_import_path(path).is_ok(),
                import_ok,
                "check_import_path({path:?})"
            );
            assert_eq!(
                check_file_path(path).is_ok(),
                file_ok,
                "check_file_path({path:?})"
            );
            // A split always adds back up to the input.
            if let Some((prefix, major)) = split_path_version(path) {
                assert_eq!(format!("{prefix}{major}"), path);
            }
            if !module_ok {
                assert!(escape_path(path).is_err(), "escape_path({path:?})");
                assert!(unescape_path(path).is_err(), "unescape_path({path:?})");
            }
        }
    }

    #[test]
    fn check_table() {
        let cases = [
            ("rsc.io/quote", "0.1.0", false),
            ("rsc io/quote", "v1.0.0", false),
            ("github.com/go-yaml/yaml", "v0.8.0", true),
            ("github.com/go-yaml/yaml", "v1.0.0", true),
            ("github.com/go-yaml/yaml", "v2.0.0", false),
            ("github.com/go-yaml/yaml", "v2.1.5", false),
            ("github.com/go-yaml/yaml", "v3.0.0", false),
            ("github.com/go-yaml/yaml/v2", "v1.0.0", false),
            ("github.com/go-yaml/yaml/v2", "v2.0.0", true),
            ("github.com/go-yaml/yaml/v2", "v2.1.5", true),
            ("github.com/go-yaml/yaml/v2", "v3.0.0", false),
            ("gopkg.in/yaml.v0", "v0.8.0", true),
            ("gopkg.in/yaml.v0", "v1.0.0", false),
            ("gopkg.in/yaml.v0", "v2.0.0", false),
            ("gopkg.in/yaml.v0", "v2.1.5", false),
            ("gopkg.in/yaml.v0", "v3.0.0", false),
            ("gopkg.in/yaml.v1", "v0.8.0", false),
            ("gopkg.in/yaml.v1", "v1.0.0", true),
            ("gopkg.in/yaml.v1", "v2.0.0", false),
            ("gopkg.in/yaml.v1", "v2.1.5", false),
            ("gopkg.in/yaml.v1", "v3.0.0", false),
            ("gopkg.in/check.v1", "v0.0.0", false),
            (
                "gopkg.in/check.v1",
                "v0.0.0-20160102150405-abcdef123456",
                true,
            ),
            ("gopkg.in/yaml.v2", "v1.0.0", false),
            ("gopkg.in/yaml.v2", "v2.0.0", true),
            ("gopkg.in/yaml.v2", "v2.1.5", true),
            ("gopkg.in/yaml.v2", "v3.0.0", false),
            ("rsc.io/quote", "v17.0.0", false),
            ("rsc.io/quote", "v17.0.0+incompatible", true),
        ];
        for (path, version, ok) in cases {
            assert_eq!(
                check(path, version).is_ok(),
                ok,
                "check({path:?}, {version:?})"
            );
        }
    }

    #[test]
    fn split_path_version_table() {
        for (prefix, major) in [
            ("x.y/z", ""),
            ("x.y/z", "/v2"),
            ("x.y/z", "/v3"),
            ("x.y/v", ""),
            ("gopkg.in/yaml", ".v0"),
            ("gopkg.in/yaml", ".v1"),
            ("gopkg.in/yaml", ".v2"),
            ("gopkg.in/yaml", ".v3"),
        ] {
            let path = format!("{prefix}{major}");
            assert_eq!(split_path_version(&path), Some((prefix, major)), "{path}");
        }
        assert_eq!(
            split_path_version("gopkg.in/yaml.v1-unstable"),
            Some(("gopkg.in/yaml", ".v1-unstable"))
        );
        assert_eq!(split_path_version("gopkg.in/yaml"), None);
        assert_eq!(split_path_version("x.y/z/v1"), None);
        assert_eq!(split_path_version("x.y/z/v02"), None);
    }

    #[test]
    fn match_path_major_table() {
        for (v, major, want) in [
            ("v0.0.0", "", true),
            ("v0.0.0", "/v2", false),
            ("v0.0.0", ".v0", true),
            ("v0.0.0-20190510104115-cbcb75029529", ".v1", true),
            ("v1.0.0", "/v2", false),
            ("v1.0.0", ".v1", true),
            ("v1.0.0", ".v1-unstable", true),
            ("v2.0.0+incompatible", "", true),
            ("v2.0.0", "", false),
            ("v2.0.0", "/v2", true),
            ("v2.0.0", ".v2", true),
        ] {
            assert_eq!(match_path_major(v, major), want, "({v:?}, {major:?})");
        }
    }

    #[test]
    fn path_major_prefixes() {
        assert_eq!(path_major_prefix(""), Some(""));
        assert_eq!(path_major_prefix("/v2"), Some("v2"));
        assert_eq!(path_major_prefix(".v1-unstable"), Some("v1"));
        assert_eq!(path_major_prefix("v2"), None);
        assert_eq!(path_major_prefix("/x"), None);
    }

    #[test]
    fn escaping_round_trips() {
        for (path, esc) in [
            (
                "ascii.com/abcdefghijklmnopqrstuvwxyz.-+/~_0123456789",
                "ascii.com/abcdefghijklmnopqrstuvwxyz.-+/~_0123456789",
            ),
            (
                "github.com/GoogleCloudPlatform/omega",
                "github.com/!google!cloud!platform/omega",
            ),
        ] {
            // The `+` is not a module path character, so only the escaping itself applies to the first case.
            assert_eq!(escape_string(path), esc);
            assert_eq!(unescape_string(esc).as_deref(), Some(path));
        }
        assert_eq!(
            escape_path("github.com/GoogleCloudPlatform/omega").unwrap(),
            "github.com/!google!cloud!platform/omega"
        );
        assert_eq!(
            unescape_path("github.com/!google!cloud!platform/omega").unwrap(),
            "github.com/GoogleCloudPlatform/omega"
        );
        for bad in [
            "github.com/GoogleCloudPlatform/omega",
            "github.com/!google!cloud!platform!/omega",
            "github.com/!0google!cloud!platform/omega",
            "github.com/!_google!cloud!platform/omega",
            "github.com/!!google!cloud!platform/omega",
            "",
        ] {
            assert!(unescape_path(bad).is_err(), "{bad:?}");
        }
        assert_eq!(escape_version("v1.0.0-RC1").unwrap(), "v1.0.0-!r!c1");
        assert_eq!(unescape_version("v1.0.0-!r!c1").unwrap(), "v1.0.0-RC1");
        assert!(escape_version("v1!").is_err());
        assert!(unescape_version("v1.0.0-!").is_err());
    }

    #[test]
    fn messages_match_go() {
        let text = |r: Result<()>| r.unwrap_err().to_string();
        assert_eq!(
            text(check_path("x.y/z/v1")),
            r#"malformed module path "x.y/z/v1": invalid version"#
        );
        assert_eq!(
            text(check_path("X.y/z")),
            r#"malformed module path "X.y/z": invalid char 'X' in first path element"#
        );
        assert_eq!(
            text(check_import_path("x.y/com1.txt")),
            r#"malformed import path "x.y/com1.txt": "com1" disallowed as path element component on Windows"#
        );
        assert_eq!(
            text(check_file_path("a/b\"c")),
            r#"malformed file path "a/b\"c": invalid char '"'"#
        );
        assert_eq!(
            text(check_path("x.y/a~1")),
            r#"malformed module path "x.y/a~1": trailing tilde and digits in path element"#
        );
        assert_eq!(
            text(check_path_major("v1.0.0", "/v2")),
            r#"version "v1.0.0" invalid: should be v2, not v1"#
        );
        assert_eq!(
            text(check_path_major("v2.0.0", "")),
            r#"version "v2.0.0" invalid: should be v0 or v1, not v2"#
        );
        assert_eq!(
            text(check("example.com/m/v2", "v1.0.0")),
            "example.com/m/v2@v1.0.0: invalid version: should be v2, not v1"
        );
        assert_eq!(
            text(check("example.com/m", "1.0")),
            "example.com/m@1.0: invalid version: not a semantic version"
        );
        assert_eq!(
            unescape_path("x.y/!!a").unwrap_err().to_string(),
            r#"invalid escaped module path "x.y/!!a""#
        );
        assert_eq!(
            unescape_path("xy/a").unwrap_err().to_string(),
            r#"invalid escaped module path "xy/a": malformed module path "xy/a": missing dot in first path element"#
        );
    }

    #[test]
    fn go_quoting() {
        assert_eq!(
            quote("a\"b\\c\n\u{1}\u{7f}é\u{200b}"),
            r#""a\"b\\c\n\x01\x7fé\u200b""#
        );
        assert_eq!(quote_rune('\''), r"'\''");
        assert_eq!(quote_rune('"'), "'\"'");
        assert_eq!(quote_rune('☺'), "'☺'");
    }

    #[test]
    fn sort_orders_semver_then_suffix() {
        let mut list = vec![
            Version::new("b.com/m", "v1.10.0"),
            Version::new("a.com/m", "v1.2.0/go.mod"),
            Version::new("a.com/m", "v1.2.0"),
            Version::new("a.com/m", "v1.10.0"),
            Version::new("b.com/m", "v1.9.0"),
        ];
        sort(&mut list);
        let shown: Vec<String> = list.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "a.com/m@v1.2.0",
                "a.com/m@v1.2.0/go.mod",
                "a.com/m@v1.10.0",
                "b.com/m@v1.9.0",
                "b.com/m@v1.10.0"
            ]
        );
    }
}
