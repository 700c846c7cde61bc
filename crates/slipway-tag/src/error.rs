//! The crate's error type.

use std::path::PathBuf;

use crate::text::{excerpt, quoted};

/// Everything that can go wrong while reading a build's context or computing its tags.
///
/// Rule and flavor errors carry the rule text and the 1-based column of the offending field in it. Messages
/// quote at most 200 bytes of any input (then `…` and its length), with control characters escaped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A `--rule`/`--flavor` entry is not a well-formed list of `key=value` fields.
    #[error("rule `{}`, column {column}: {}", excerpt(rule), excerpt(message))]
    Syntax {
        /// The whole rule or flavor text.
        rule: String,
        /// 1-based character column where the problem starts.
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// A field required by the rule's type is missing.
    #[error("rule `{}`: missing `{field}` field", excerpt(rule))]
    MissingField {
        /// The whole rule text.
        rule: String,
        /// The field that is required.
        field: &'static str,
    },
    /// A field has a value this rule type does not accept.
    #[error(
        "rule `{}`, column {column}: field `{}`: invalid value `{}`: {}",
        excerpt(rule),
        excerpt(field),
        excerpt(value),
        excerpt(reason)
    )]
    InvalidField {
        /// The whole rule or flavor text.
        rule: String,
        /// 1-based character column of the field in the rule.
        column: usize,
        /// The field name (`type`, `pattern`, `enable`, ...).
        field: String,
        /// The value given.
        value: String,
        /// Why it is rejected.
        reason: String,
    },
    /// A `{{…}}` expression could not be parsed or evaluated.
    #[error(
        "rule `{}`: field `{field}`: `{}`, column {column}: {}",
        excerpt(rule),
        excerpt(template),
        excerpt(message)
    )]
    Template {
        /// The whole rule text (or `flavor` for flavor prefixes/suffixes).
        rule: String,
        /// The field holding the template.
        field: String,
        /// The template text.
        template: String,
        /// 1-based character column inside the template.
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// A CI or `SLIPWAY_*` variable has a value that cannot be used.
    #[error("environment variable {variable}={}: {reason}", quoted(value))]
    Env {
        /// The variable name.
        variable: String,
        /// Its value.
        value: String,
        /// Why it is rejected.
        reason: String,
    },
    /// The CI event payload (`GITHUB_EVENT_PATH`) could not be read or parsed.
    #[error("event payload {}: line {line}, column {column}: {message}", path.display())]
    EventPayload {
        /// The payload file.
        path: PathBuf,
        /// 1-based line (0 when the file could not be read).
        line: usize,
        /// 1-based column (0 when the file could not be read).
        column: usize,
        /// What went wrong.
        message: String,
    },
    /// A git operation failed.
    #[error("git repository {}: {operation}: {message}", path.display())]
    Git {
        /// The repository path as given.
        path: PathBuf,
        /// What was being done (`open`, `read HEAD`, ...).
        operation: &'static str,
        /// libgit2's message.
        message: String,
    },
    /// The build context cannot support the requested event (a tag event with no tag at HEAD, a PR event
    /// with no PR number, ...).
    #[error("{event} event: {reason}")]
    Context {
        /// The event being resolved.
        event: crate::Event,
        /// What is missing.
        reason: String,
    },
    /// A [`crate::RefSource`] implementation failed.
    #[error("reading the build reference failed")]
    Source {
        /// What the source reported.
        #[source]
        source: crate::SourceError,
    },
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
