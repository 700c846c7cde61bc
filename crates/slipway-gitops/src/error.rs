//! The crate's one error type.

use std::path::PathBuf;

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why an edit, a promotion or a git operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A YAML file this crate cannot read (or not safely edit in place).
    #[error("{file}:{line}:{column}: {reason}")]
    Yaml {
        /// The file.
        file: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong there.
        reason: &'static str,
    },
    /// A value the edit needs has another shape than expected (a mapping where a sequence should be, …).
    #[error("{file}: `{key}` {reason}")]
    Shape {
        /// The file.
        file: String,
        /// The key path (`images`, `image.tag`).
        key: String,
        /// What was found instead.
        reason: &'static str,
    },
    /// An image argument that is not `NAME[=NEWNAME][:TAG][@DIGEST]`.
    #[error("image `{input}`: {reason}")]
    Image {
        /// The argument.
        input: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// An image's tag or digest breaks the OCI grammar.
    #[error("image `{input}`")]
    ImagePart {
        /// The argument.
        input: String,
        /// The tag or digest error.
        source: slipway_oci::reference::Error,
    },
    /// An image's digest breaks the OCI grammar.
    #[error("image `{input}`")]
    ImageDigest {
        /// The argument.
        input: String,
        /// The digest error.
        source: slipway_oci::digest::Error,
    },
    /// The file's format could not be told from its name or content.
    #[error("{}: cannot tell whether this is a kustomization, Helm values, Flux setters or an Argo CD write-back file; pass --format", path.display())]
    UnknownFormat {
        /// The file or directory.
        path: PathBuf,
    },
    /// A setting the edit needs is missing (a Flux file with no setter for the image, an Argo CD file with
    /// no application name).
    #[error("{}: {reason}", path.display())]
    NothingToEdit {
        /// The file.
        path: PathBuf,
        /// What is missing.
        reason: String,
    },
    /// Reading or writing a file failed.
    #[error("cannot {operation} {}", path.display())]
    Io {
        /// `read`, `write`, `create`.
        operation: &'static str,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A file larger than the edit limit (or not a regular file).
    #[error("{}: {reason} (limit {limit} bytes)", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The bound.
        limit: u64,
        /// `larger than the limit`, `not a regular file`.
        reason: &'static str,
    },
    /// A path that leads out of the repository's work tree (through a symbolic link or `..`).
    #[error("{} leads out of the work tree {}", path.display(), root.display())]
    OutsideWorkTree {
        /// The path as given, under the work tree.
        path: PathBuf,
        /// The work tree.
        root: PathBuf,
    },
    /// A file `deploy init` would write exists already.
    #[error("{} exists already (pass --force to overwrite)", path.display())]
    Exists {
        /// The file.
        path: PathBuf,
    },
    /// The source environment of a promotion pins no image.
    #[error("{}: environment `{env}` names no image in `images:`", path.display())]
    NoImageToPromote {
        /// The source environment.
        env: String,
        /// Its kustomization.
        path: PathBuf,
    },
    /// A git operation failed.
    #[error("git {operation} failed in {}: {message}", repo.display())]
    Git {
        /// `clone`, `commit`, `push`, `fetch`.
        operation: &'static str,
        /// The repository (its work tree, or its URL without user information).
        repo: PathBuf,
        /// libgit2's message, or the last lines git printed (URLs without user information).
        message: String,
    },
    /// The `git` executable could not be run (it is needed for clone, fetch and push).
    #[error("cannot run `git {operation}` in {}", dir.display())]
    GitSpawn {
        /// `clone`, `fetch`, `push`.
        operation: &'static str,
        /// The directory it was run in.
        dir: PathBuf,
        /// Why it could not start (not installed, not executable).
        source: std::io::Error,
    },
    /// A work tree with uncommitted changes to tracked files, which a retried push would discard.
    #[error("{}: uncommitted changes to tracked files (first: {file}); commit or stash them first", repo.display())]
    Dirty {
        /// The work tree.
        repo: PathBuf,
        /// The first modified file.
        file: String,
    },
    /// The remote refused the push for another reason than a non-fast-forward (hooks, protection).
    #[error("the remote refused {refname}: {status}")]
    PushRefused {
        /// The ref pushed.
        refname: String,
        /// The remote's status text.
        status: String,
    },
    /// The branch moved under every attempt.
    #[error("{refname} moved on the remote under each of {attempts} attempts")]
    Contended {
        /// The ref pushed.
        refname: String,
        /// How many pushes were tried.
        attempts: u32,
    },
    /// A message template names an unknown placeholder.
    #[error(
        "message template: unknown placeholder `{{{name}}}` (known: image, name, tag, digest, source_commit, env, file)"
    )]
    Template {
        /// The placeholder.
        name: String,
    },
}
