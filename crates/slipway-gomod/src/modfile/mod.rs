//! go.mod and go.work files exactly as `golang.org/x/mod/modfile` (and so `go mod edit`) reads and writes
//! them.
//!
//! - [`ModFile::parse`] (strict: the main module) and [`ModFile::parse_lax`] (dependencies: unknown and
//!   main-module-only directives ignored) build a typed view over a lossless [`FileSyntax`];
//! - [`WorkFile::parse`] does the same for go.work;
//! - edits ([`ModFile::add_require`], [`ModFile::add_replace`], …) change both, then
//!   [`ModFile::cleanup`] tidies the tree and [`ModFile::format`] prints it as `go mod edit -fmt` would;
//! - [`ModFile::to_json`] / [`WorkFile::to_json`] print what `go mod edit -json` / `go work edit -json` print.
//!
//! [`edit_fmt`] and [`edit_json`] run the whole `go mod edit -fmt` / `-json` pipeline on a file's text.
//!
//! ```
//! use slipway_gomod::modfile::ModFile;
//!
//! let mut f = ModFile::parse("go.mod", "module example.com/m\n\ngo 1.22\n\nrequire golang.org/x/mod v0.20\n")?;
//! assert_eq!(f.require[0].module.version, "v0.20.0"); // canonicalised, as Go does
//! f.add_require("golang.org/x/text", "v0.16.0")?;
//! f.set_indirect("golang.org/x/text", true);
//! f.cleanup();
//! assert_eq!(
//!     f.format(),
//!     "module example.com/m\n\ngo 1.22\n\nrequire (\n\tgolang.org/x/mod v0.20.0\n\tgolang.org/x/text v0.16.0 // indirect\n)\n"
//! );
//! Ok::<(), Box<dyn std::error::Error>>(())
//! ```

// Errors are built once per rejected file and are matched on by callers; keeping `Error` and `Problem`
// flat (no boxing) is worth their size on a cold path.
#![allow(clippy::result_large_err)]

pub(crate) mod chars;
mod json;
mod quick;
mod require;
mod rule;
mod syntax;
#[rustfmt::skip]
mod unicode_tables;
mod work;

use std::fmt;

pub use chars::{auto_quote, must_quote};
pub(crate) use quick::{LaxRef, lax_ref};
pub use quick::{LaxSummary, lax_summary};
pub use rule::{
    Exclude, FixError, GoStmt, Godebug, Ignore, ModFile, Module, ModuleVersion, Replace, Require,
    Retract, Tool, Toolchain, VersionFixer, VersionInterval, is_directory_path,
};
pub use syntax::{
    Comment, CommentBlock, Comments, FileSyntax, Line, LineBlock, LineId, Paren, Position, Stmt,
    format, parse,
};
pub use work::{Use, WorkFile};

use crate::module;

/// The result type of this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What is wrong with a go.mod or go.work file, or with an edit.
///
/// The `Display` text is Go's, byte for byte: `go.mod:3: unknown directive: foo`. Like Go, the column is
/// printed only when it is not 1 (directive errors point at the start of their line; inside a block that is
/// column 2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// One problem at one place.
    #[error("{}{problem}", location(file, *line, *column))]
    At {
        /// The file name given to the parser.
        file: String,
        /// 1-based line (0 when unknown).
        line: usize,
        /// 1-based column in characters (0 when unknown).
        column: usize,
        /// What is wrong.
        problem: Problem,
    },
    /// Every directive error of a file (Go reports them all, one per line).
    #[error("{}", join(errors))]
    List {
        /// The errors, in file order.
        errors: Vec<Error>,
    },
    /// An edit with a version that is not canonical or does not fit the module path.
    #[error("version {} invalid: {reason}", chars::quote(version))]
    InvalidVersion {
        /// The version given.
        version: String,
        /// Go's explanation (`must be of the form v1.2.3`).
        reason: String,
    },
    /// An edit setting a `go` line to something that is not a Go version.
    #[error("invalid language version {}", chars::quote(version))]
    InvalidLanguageVersion {
        /// The version given.
        version: String,
    },
    /// An edit setting a `toolchain` line to something that is not a toolchain name.
    #[error("invalid toolchain name {}", chars::quote(name))]
    InvalidToolchainName {
        /// The name given.
        name: String,
    },
}

impl Error {
    pub(crate) fn at(file: &str, pos: Position, problem: Problem) -> Error {
        Error::At {
            file: file.to_owned(),
            line: pos.line,
            column: pos.column,
            problem,
        }
    }

    /// The individual errors: the list's members, or this error alone.
    pub fn errors(&self) -> &[Error] {
        match self {
            Error::List { errors } => errors,
            other => std::slice::from_ref(other),
        }
    }
}

fn location(file: &str, line: usize, column: usize) -> String {
    if column > 1 {
        format!("{file}:{line}:{column}: ")
    } else if line > 0 {
        format!("{file}:{line}: ")
    } else if !file.is_empty() {
        format!("{file}: ")
    } else {
        String::new()
    }
}

fn join(errors: &[Error]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Why a quoted or unquoted token could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum QuoteProblem {
    /// A `"…"` token that is not a valid Go string literal.
    InvalidSyntax,
    /// An unquoted token containing `"`, `'` or a backquote.
    UnquotedQuote,
}

impl fmt::Display for QuoteProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            QuoteProblem::InvalidSyntax => "invalid syntax",
            QuoteProblem::UnquotedQuote => "unquoted string cannot contain quote",
        })
    }
}

/// What is wrong at a position; each variant displays as Go's message.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Problem {
    /// `/* */` comments are not allowed.
    BlockComment,
    /// A quoted string runs to the end of the file.
    EofInString,
    /// A quoted string runs to the end of its line.
    NewlineInString,
    /// A character that starts no token.
    UnexpectedCharacter {
        /// The character.
        ch: char,
    },
    /// A block without its `)`.
    UnterminatedBlock {
        /// The file name.
        file: String,
        /// Line of the block's verb.
        line: usize,
        /// Column of the block's verb.
        column: usize,
    },
    /// Something after a block's `)` on the same line.
    ExpectedNewlineAfterParen,
    /// An unknown verb.
    UnknownDirective {
        /// The verb.
        verb: String,
    },
    /// A block of an unknown verb (or with several tokens before `(`).
    UnknownBlockType {
        /// The tokens before `(`, space-separated.
        tokens: String,
    },
    /// A second `go`, `toolchain` or `module` statement.
    Repeated {
        /// The verb.
        verb: &'static str,
    },
    /// `go`, `toolchain`, `tool` or `ignore` with other than one argument.
    ExactlyOneArgument {
        /// The verb.
        verb: &'static str,
    },
    /// A directive with the wrong shape; `usage` is Go's usage text.
    Usage {
        /// Go's usage text, without `usage: `.
        usage: String,
    },
    /// A `go` line value that is not `1.N[.P][preK]`.
    InvalidGoVersion {
        /// The value.
        version: String,
    },
    /// A `toolchain` line value that is neither `default` nor `go1…`.
    InvalidToolchain {
        /// The value.
        version: String,
    },
    /// A path argument that cannot be read.
    InvalidQuotedString {
        /// Why.
        problem: QuoteProblem,
    },
    /// A version a [`VersionFixer`] could not resolve: its text, after `verb path: ` for a module error.
    Fixer {
        /// `verb path: ` or nothing.
        prefix: String,
        /// The fixer's text.
        message: String,
    },
    /// A version argument that cannot be read or is not a Go semantic version.
    InvalidVersion {
        /// The directive.
        verb: String,
        /// The module path it is about (empty for retract).
        path: String,
        /// The version as written.
        version: String,
        /// Go's reason (`must be of the form v1.2.3`, or a [`QuoteProblem`]'s text).
        reason: String,
    },
    /// A module path whose major-version suffix is malformed (`/v1`, `/v0`, `/v2.0`).
    InvalidModulePath {
        /// The directive and path, when Go names them (replace does, require and exclude do not).
        directive: Option<(String, String)>,
    },
    /// A version that does not fit the path's major-version suffix.
    PathMajor {
        /// The directive.
        verb: String,
        /// The module path.
        path: String,
        /// The module-level error (Go's text).
        error: module::Error,
    },
    /// `replace x => y@v1`.
    ReplacementAtVersion,
    /// `replace x => y` where `y` is not a directory path.
    ReplacementNotDirectory,
    /// `replace x => a\b` on a system with `/` separators.
    ReplacementWindowsPath,
    /// `replace x => ./dir v1.0.0`.
    ReplacementDirectoryWithVersion {
        /// The directory.
        path: String,
    },
    /// A malformed retract interval; `expected` is Go's text (`expected ',' after version`).
    RetractInterval {
        /// What Go expected.
        expected: &'static str,
    },
    /// Tokens after a retract version.
    UnexpectedTokenAfterVersion {
        /// The first extra token.
        token: String,
    },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::BlockComment => f.write_str("mod files must use // comments (not /* */ comments)"),
            Problem::EofInString => f.write_str("unexpected EOF in string"),
            Problem::NewlineInString => f.write_str("unexpected newline in string"),
            Problem::UnexpectedCharacter { ch } => {
                write!(f, "unexpected input character {}", chars::quote_rune(*ch))
            }
            Problem::UnterminatedBlock { file, line, column } => write!(
                f,
                "syntax error (unterminated block started at {file}:{line}:{column})"
            ),
            Problem::ExpectedNewlineAfterParen => {
                f.write_str("syntax error (expected newline after closing paren)")
            }
            Problem::UnknownDirective { verb } => write!(f, "unknown directive: {verb}"),
            Problem::UnknownBlockType { tokens } => write!(f, "unknown block type: {tokens}"),
            Problem::Repeated { verb } => write!(f, "repeated {verb} statement"),
            Problem::ExactlyOneArgument { verb } => {
                write!(f, "{verb} directive expects exactly one argument")
            }
            Problem::Usage { usage } => write!(f, "usage: {usage}"),
            Problem::InvalidGoVersion { version } => {
                write!(f, "invalid go version '{version}': must match format 1.23.0")
            }
            Problem::InvalidToolchain { version } => write!(
                f,
                "invalid toolchain version '{version}': must match format go1.23.0 or default"
            ),
            Problem::InvalidQuotedString { problem } => write!(f, "invalid quoted string: {problem}"),
            Problem::Fixer { prefix, message } => write!(f, "{prefix}{message}"),
            Problem::InvalidVersion {
                verb,
                path,
                version,
                reason,
            } => {
                if path.is_empty() {
                    write!(f, "{verb}: ")?;
                } else {
                    write!(f, "{verb} {path}: ")?;
                }
                write!(f, "version {} invalid: {reason}", chars::quote(version))
            }
            Problem::InvalidModulePath { directive } => {
                if let Some((verb, path)) = directive {
                    write!(f, "{verb} {path}: ")?;
                }
                f.write_str("invalid module path")
            }
            Problem::PathMajor { verb, path, error } => write!(f, "{verb} {path}: {error}"),
            Problem::ReplacementAtVersion => f.write_str(
                "replacement module must match format 'path version', not 'path@version'",
            ),
            Problem::ReplacementNotDirectory => f.write_str(
                "replacement module without version must be directory path (rooted or starting with . or ..)",
            ),
            Problem::ReplacementWindowsPath => f.write_str(
                "replacement directory appears to be Windows path (on a non-windows system)",
            ),
            Problem::ReplacementDirectoryWithVersion { path } => write!(
                f,
                "replacement module directory path {} cannot have version",
                chars::quote(path)
            ),
            Problem::RetractInterval { expected } => f.write_str(expected),
            Problem::UnexpectedTokenAfterVersion { token } => {
                write!(f, "unexpected token after version: {}", chars::quote(token))
            }
        }
    }
}

/// Whether a file name names a go.work file (`go.work` or `*.work`) rather than a go.mod file.
pub fn is_work_file_name(name: &str) -> bool {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    // Go's own name is lower case; other names are ours to define, and `.work` is the one we chose.
    base == "go.work"
        || std::path::Path::new(base)
            .extension()
            .is_some_and(|e| e == "work")
}

/// What `go mod edit -fmt FILE` (or `go work edit -fmt FILE` for [`is_work_file_name`] names) writes:
/// strict parse, duplicate removal and block sorting, clean-up, formatting.
pub fn edit_fmt(file: &str, src: &str) -> Result<String> {
    if is_work_file_name(file) {
        let mut w = WorkFile::parse(file, src)?;
        w.sort_blocks();
        w.cleanup();
        Ok(w.format())
    } else {
        let mut f = ModFile::parse(file, src)?;
        f.sort_blocks();
        f.cleanup();
        Ok(f.format())
    }
}

/// What `go mod edit -json FILE` (or `go work edit -json FILE` for [`is_work_file_name`] names) prints.
pub fn edit_json(file: &str, src: &str) -> Result<String> {
    if is_work_file_name(file) {
        let mut w = WorkFile::parse(file, src)?;
        w.sort_blocks();
        w.cleanup();
        Ok(w.to_json())
    } else {
        let mut f = ModFile::parse(file, src)?;
        f.sort_blocks();
        f.cleanup();
        Ok(f.to_json())
    }
}
