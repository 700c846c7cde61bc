//! The crate's error type: every variant names the input (profile or Go file) and the place in it.

use std::path::PathBuf;

use crate::resolve::ResolveError;

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong reading, merging and summarising coverage.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file could not be opened, read or written.
    #[error("{}: {error}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        error: std::io::Error,
    },
    /// Reading a profile stream failed part-way.
    #[error("{profile}:{line}: read error: {error}")]
    Read {
        /// The profile being read.
        profile: String,
        /// The line that could not be read (1-based).
        line: usize,
        /// What the reader said.
        #[source]
        error: std::io::Error,
    },
    /// A profile line is not UTF-8.
    #[error("{profile}:{line}: line is not valid UTF-8")]
    NotUtf8 {
        /// The profile.
        profile: String,
        /// The line (1-based).
        line: usize,
    },
    /// The first line of a profile is not `mode: MODE`.
    #[error(
        "{profile}:{line}: bad mode line {} (want \"mode: set|count|atomic\")",
        crate::quote::quoted(text)
    )]
    BadModeLine {
        /// The profile.
        profile: String,
        /// The line (1-based).
        line: usize,
        /// The line's text.
        text: String,
    },
    /// A `mode:` line names a mode other than `set`, `count` or `atomic`.
    #[error(
        "{profile}:{line}: unknown coverage mode {} (want set, count or atomic)",
        crate::quote::quoted(mode)
    )]
    UnknownMode {
        /// The profile.
        profile: String,
        /// The line (1-based).
        line: usize,
        /// The mode found.
        mode: String,
    },
    /// A block line is malformed.
    #[error(
        "{profile}:{line}:{column}: {message} in {} (want \"file:SL.SC,EL.EC numStmt count\")",
        crate::quote::quoted(text)
    )]
    BadBlock {
        /// The profile.
        profile: String,
        /// The line (1-based).
        line: usize,
        /// The byte column (1-based) of the offending field.
        column: usize,
        /// What is wrong with it.
        message: String,
        /// The whole line.
        text: String,
    },
    /// Two profiles (or two `mode:` lines of one concatenated profile) disagree on the mode.
    #[error(
        "{profile}:{line}: mode {mode} does not match mode {first_mode} set at {first_profile}:{first_line}"
    )]
    ModeMismatch {
        /// Where the disagreeing mode line is.
        profile: String,
        /// Its line (1-based).
        line: usize,
        /// The disagreeing mode.
        mode: crate::Mode,
        /// Where the first mode line is.
        first_profile: String,
        /// Its line (1-based).
        first_line: usize,
        /// The first mode.
        first_mode: crate::Mode,
    },
    /// The same block range appears twice with different statement counts.
    #[error(
        "{}:{range}: inconsistent number of statements: {first_num_stmt} at {first_profile}:{first_line}, \
         {num_stmt} at {profile}:{line}",
        crate::quote::excerpt(file)
    )]
    NumStmtMismatch {
        /// The Go file (as named in the profile).
        file: String,
        /// The block's range, `SL.SC,EL.EC`.
        range: String,
        /// The first occurrence's profile.
        first_profile: String,
        /// The first occurrence's line (1-based).
        first_line: usize,
        /// The first occurrence's statement count.
        first_num_stmt: u32,
        /// The conflicting occurrence's profile.
        profile: String,
        /// The conflicting occurrence's line (1-based).
        line: usize,
        /// The conflicting occurrence's statement count.
        num_stmt: u32,
    },
    /// A profile's Go file could not be mapped to source text.
    #[error(transparent)]
    Resolve(#[from] ResolveError),
}
