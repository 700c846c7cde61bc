//! Delivering a change through git: the [`GitOpsTarget`] trait and [`GitRepo`], its git2 implementation.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::env;
use crate::error::{Error, Result};
use crate::files::{self, SetImage};

/// The error a [`GitOpsTarget`] reports; boxed so that backends keep their own error types.
pub type TargetError = Box<dyn std::error::Error + Send + Sync>;

/// An edit of a repository's work tree, re-applicable on any head.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Change {
    /// Write an image into a file (or the file a directory holds), relative to the work tree.
    SetImage {
        /// File or directory, relative to the repository root.
        path: PathBuf,
        /// What to write.
        request: SetImage,
    },
    /// Copy the images of environment `from` to environment `to` under a deploy directory.
    Promote {
        /// The deploy directory, relative to the repository root.
        deploy_dir: PathBuf,
        /// Source environment.
        from: String,
        /// Target environment.
        to: String,
    },
}

impl Change {
    /// Applies the change under `root`; the file written, or `None` when nothing changed.
    pub fn apply(&self, root: &Path) -> Result<Option<PathBuf>> {
        match self {
            Change::SetImage { path, request } => files::set_image_in(&root.join(path), request),
            Change::Promote {
                deploy_dir,
                from,
                to,
            } => env::promote(&root.join(deploy_dir), from, to),
        }
    }
}

/// A change with what the commit message says about it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Delivery {
    /// The edit.
    pub change: Change,
    /// The message template; `{image}`, `{name}`, `{tag}`, `{digest}`, `{source_commit}`, `{env}` and
    /// `{file}` are replaced (an absent value by `none`).
    pub message: String,
    /// The image written (for the message).
    pub image: String,
    /// The environment (for the message).
    pub env: Option<String>,
    /// The commit of the service's source the image was built from.
    pub source_commit: Option<String>,
}

/// The default message template.
pub const DEFAULT_MESSAGE: &str = "Deploy {image}{env}\n\nImage: {name}\nTag: {tag}\nDigest: {digest}\nSource commit: {source_commit}\nFile: {file}\n";

impl Delivery {
    /// A delivery of `change` for `image` with the default message.
    pub fn new(change: Change, image: impl Into<String>) -> Self {
        Delivery {
            change,
            message: DEFAULT_MESSAGE.to_owned(),
            image: image.into(),
            env: None,
            source_commit: None,
        }
    }

    /// The commit message for a change that wrote `file`.
    pub fn render_message(&self, file: &str) -> Result<String> {
        let (name, tag, digest) = crate::image::split(&self.image);
        let or_none = |s: &str| {
            if s.is_empty() {
                "none".to_owned()
            } else {
                s.to_owned()
            }
        };
        let mut out = String::new();
        let mut rest = self.message.as_str();
        while let Some(open) = rest.find('{') {
            out.push_str(&rest[..open]);
            let Some(close) = rest[open..].find('}') else {
                break;
            };
            let key = &rest[open + 1..open + close];
            out.push_str(&match key {
                "image" => self.image.clone(),
                "name" => name.to_owned(),
                "tag" => or_none(tag),
                "digest" => or_none(digest),
                "source_commit" => or_none(self.source_commit.as_deref().unwrap_or("")),
                "env" if self.message == DEFAULT_MESSAGE => self
                    .env
                    .as_ref()
                    .map(|e| format!(" to {e}"))
                    .unwrap_or_default(),
                "env" => or_none(self.env.as_deref().unwrap_or("")),
                "file" => file.to_owned(),
                other => {
                    return Err(Error::Template {
                        name: other.to_owned(),
                    });
                }
            });
            rest = &rest[open + close + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }
}

/// What a delivery did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// The repository already said so: no commit.
    Unchanged,
    /// A commit was made (and pushed, when asked).
    Committed {
        /// The commit id.
        commit: String,
        /// The branch it is on (the review branch when pushed for review).
        branch: String,
        /// Whether it reached the remote.
        pushed: bool,
        /// Push attempts made (0 without a push).
        attempts: u32,
    },
}

/// Hands a change to a `GitOps` repository.
///
/// One required method; implemented for `&T`, `Box<T>`, `Arc<T>` and closures through [`from_fn`].
///
/// ```
/// use slipway_gitops::{GitOpsTarget, Outcome, git::{from_fn, Delivery, Change}};
/// let dry = from_fn(|_d: &Delivery| Ok(Outcome::Unchanged));
/// let change = Change::Promote { deploy_dir: "deploy".into(), from: "staging".into(), to: "prod".into() };
/// assert_eq!(dry.deliver(&Delivery::new(change, "api:v1")).map_err(|e| e.to_string())?, Outcome::Unchanged);
/// Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait GitOpsTarget {
    /// Applies, records and (if configured) publishes one change.
    fn deliver(&self, delivery: &Delivery) -> Result<Outcome, TargetError>;
}

/// Conveniences over [`GitOpsTarget`].
pub trait GitOpsTargetExt: GitOpsTarget {
    /// Delivers an image into `path` with the default message.
    fn set_image(&self, path: impl Into<PathBuf>, request: SetImage) -> Result<Outcome, TargetError>
    where
        Self: Sized,
    {
        let image = request.image.target();
        self.deliver(&Delivery::new(
            Change::SetImage {
                path: path.into(),
                request,
            },
            image,
        ))
    }
}

impl<T: GitOpsTarget + ?Sized> GitOpsTargetExt for T {}

/// A [`GitOpsTarget`] made from a closure: see [`from_fn`].
#[derive(Clone)]
pub struct FromFn<F>(F);

impl<F> fmt::Debug for FromFn<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FromFn")
    }
}

/// Wraps a closure as a [`GitOpsTarget`].
pub fn from_fn<F>(f: F) -> FromFn<F>
where
    F: Fn(&Delivery) -> Result<Outcome, TargetError>,
{
    FromFn(f)
}

impl<F> GitOpsTarget for FromFn<F>
where
    F: Fn(&Delivery) -> Result<Outcome, TargetError>,
{
    fn deliver(&self, delivery: &Delivery) -> Result<Outcome, TargetError> {
        (self.0)(delivery)
    }
}

impl<T: GitOpsTarget + ?Sized> GitOpsTarget for &T {
    fn deliver(&self, delivery: &Delivery) -> Result<Outcome, TargetError> {
        (**self).deliver(delivery)
    }
}

impl<T: GitOpsTarget + ?Sized> GitOpsTarget for Box<T> {
    fn deliver(&self, delivery: &Delivery) -> Result<Outcome, TargetError> {
        (**self).deliver(delivery)
    }
}

impl<T: GitOpsTarget + ?Sized> GitOpsTarget for Arc<T> {
    fn deliver(&self, delivery: &Delivery) -> Result<Outcome, TargetError> {
        (**self).deliver(delivery)
    }
}

/// How [`GitRepo`] commits and pushes.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PushOptions {
    /// Push after committing.
    pub push: bool,
    /// The remote (default `origin`).
    pub remote: String,
    /// Push to this new branch (for review) instead of the checked-out branch.
    pub review_branch: Option<String>,
    /// Push attempts on non-fast-forward (default 5).
    pub attempts: u32,
    /// Author and committer `(name, email)`; default: git config `user.name`/`user.email`, else
    /// `slipway <slipway@localhost>`.
    pub author: Option<(String, String)>,
}

impl Default for PushOptions {
    fn default() -> Self {
        PushOptions {
            push: false,
            remote: "origin".into(),
            review_branch: None,
            attempts: 5,
            author: None,
        }
    }
}

impl PushOptions {
    /// Push after committing.
    #[must_use]
    pub fn push(mut self, push: bool) -> Self {
        self.push = push;
        self
    }

    /// Push to a new branch for review.
    #[must_use]
    pub fn review_branch(mut self, branch: Option<String>) -> Self {
        self.review_branch = branch;
        self
    }

    /// Bounds the push attempts.
    #[must_use]
    pub fn attempts(mut self, attempts: u32) -> Self {
        self.attempts = attempts.max(1);
        self
    }

    /// Sets the author and committer.
    #[must_use]
    pub fn author(mut self, name: impl Into<String>, email: impl Into<String>) -> Self {
        self.author = Some((name.into(), email.into()));
        self
    }
}

/// A working clone, committed in place and pushed to its remote.
#[derive(Debug, Clone)]
pub struct GitRepo {
    workdir: PathBuf,
    options: PushOptions,
}

fn git_err<'a>(operation: &'static str, repo: &'a Path) -> impl Fn(git2::Error) -> Error + 'a {
    move |e| Error::Git {
        operation,
        repo: repo.to_owned(),
        message: e.message().to_owned(),
    }
}

/// Credentials from the usual places: the SSH agent for ssh, git's credential helpers for https, then
/// libgit2's default (Negotiate/NTLM). Each kind is offered once, so a refused credential ends the attempt.
fn callbacks<'a>(config: Option<git2::Config>) -> git2::RemoteCallbacks<'a> {
    let mut callbacks = git2::RemoteCallbacks::new();
    let mut tried = git2::CredentialType::empty();
    callbacks.credentials(move |url, username, allowed| {
        if allowed.contains(git2::CredentialType::SSH_KEY)
            && !tried.contains(git2::CredentialType::SSH_KEY)
        {
            tried |= git2::CredentialType::SSH_KEY;
            return git2::Cred::ssh_key_from_agent(username.unwrap_or("git"));
        }
        if allowed.contains(git2::CredentialType::USER_PASS_PLAINTEXT)
            && !tried.contains(git2::CredentialType::USER_PASS_PLAINTEXT)
        {
            tried |= git2::CredentialType::USER_PASS_PLAINTEXT;
            if let Some(config) = &config {
                return git2::Cred::credential_helper(config, url, username);
            }
        }
        if allowed.contains(git2::CredentialType::DEFAULT)
            && !tried.contains(git2::CredentialType::DEFAULT)
        {
            tried |= git2::CredentialType::DEFAULT;
            return git2::Cred::default();
        }
        Err(git2::Error::from_str("no credentials were accepted"))
    });
    callbacks
}

impl GitRepo {
    /// A working clone at `workdir`.
    pub fn open(workdir: impl Into<PathBuf>, options: PushOptions) -> Result<Self> {
        let workdir = workdir.into();
        git2::Repository::open(&workdir).map_err(git_err("open", &workdir))?;
        Ok(GitRepo { workdir, options })
    }

    /// Clones `url` (a path, `file://`, or — with libgit2's transports built in — `ssh://`/`https://`) into
    /// `into`, checking out `branch` or the remote's default branch.
    pub fn clone(
        url: &str,
        into: &Path,
        branch: Option<&str>,
        options: PushOptions,
    ) -> Result<Self> {
        let mut fetch = git2::FetchOptions::new();
        fetch.remote_callbacks(callbacks(git2::Config::open_default().ok()));
        let mut builder = git2::build::RepoBuilder::new();
        builder.fetch_options(fetch);
        if let Some(branch) = branch {
            builder.branch(branch);
        }
        builder.clone(url, into).map_err(|e| Error::Git {
            operation: "clone",
            repo: PathBuf::from(url),
            message: e.message().to_owned(),
        })?;
        Ok(GitRepo {
            workdir: into.to_owned(),
            options,
        })
    }

    /// The work tree.
    pub fn workdir(&self) -> &Path {
        &self.workdir
    }

    fn commit(&self, repo: &git2::Repository, file: &Path, message: &str) -> Result<git2::Oid> {
        let err = git_err("commit", &self.workdir);
        let rel = file.strip_prefix(&self.workdir).unwrap_or(file);
        let mut index = repo.index().map_err(&err)?;
        index.add_path(rel).map_err(&err)?;
        index.write().map_err(&err)?;
        let tree = repo
            .find_tree(index.write_tree().map_err(&err)?)
            .map_err(&err)?;
        let signature = match &self.options.author {
            Some((name, email)) => git2::Signature::now(name, email),
            None => repo
                .signature()
                .or_else(|_| git2::Signature::now("slipway", "slipway@localhost")),
        }
        .map_err(&err)?;
        let parent = repo.head().and_then(|h| h.peel_to_commit()).ok();
        let parents: Vec<&git2::Commit<'_>> = parent.iter().collect();
        repo.commit(
            Some("HEAD"),
            &signature,
            &signature,
            message,
            &tree,
            &parents,
        )
        .map_err(&err)
    }

    /// Pushes `local` to `remote_ref`; `Ok(None)` on success, `Ok(Some(status))` when the remote refused.
    fn push(
        &self,
        repo: &git2::Repository,
        local: &str,
        remote_ref: &str,
    ) -> Result<Option<String>> {
        let err = git_err("push", &self.workdir);
        let mut remote = repo.find_remote(&self.options.remote).map_err(&err)?;
        let mut refused = None;
        let outcome = {
            let mut cbs = callbacks(repo.config().ok());
            cbs.push_update_reference(|_, status| {
                refused = status.map(str::to_owned);
                Ok(())
            });
            let mut opts = git2::PushOptions::new();
            opts.remote_callbacks(cbs);
            remote.push(&[format!("{local}:{remote_ref}")], Some(&mut opts))
        };
        match outcome {
            Ok(()) => Ok(refused),
            Err(e) if e.code() == git2::ErrorCode::NotFastForward => {
                Ok(Some(e.message().to_owned()))
            }
            Err(e) => Err(err(e)),
        }
    }

    /// Fetches `branch` and returns the remote's head.
    fn fetch(&self, repo: &git2::Repository, branch: &str) -> Result<git2::Oid> {
        let err = git_err("fetch", &self.workdir);
        let mut remote = repo.find_remote(&self.options.remote).map_err(&err)?;
        let tracking = format!("refs/remotes/{}/{branch}", self.options.remote);
        let mut opts = git2::FetchOptions::new();
        opts.remote_callbacks(callbacks(repo.config().ok()));
        remote
            .fetch(
                &[format!("+refs/heads/{branch}:{tracking}")],
                Some(&mut opts),
                None,
            )
            .map_err(&err)?;
        repo.refname_to_id(&tracking).map_err(&err)
    }
}

impl GitRepo {
    /// [`GitOpsTarget::deliver`] with this crate's error.
    pub fn deliver_change(&self, delivery: &Delivery) -> Result<Outcome> {
        let err = git_err("open", &self.workdir);
        let repo = git2::Repository::open(&self.workdir).map_err(&err)?;
        let head = repo.head().map_err(&err)?;
        let branch = head.shorthand().unwrap_or("HEAD").to_owned();
        let local = head.name().unwrap_or("HEAD").to_owned();
        drop(head);
        let attempts = if self.options.push {
            self.options.attempts.max(1)
        } else {
            1
        };
        for attempt in 1..=attempts {
            let Some(file) = delivery.change.apply(&self.workdir)? else {
                return Ok(Outcome::Unchanged);
            };
            let rel = file
                .strip_prefix(&self.workdir)
                .unwrap_or(&file)
                .display()
                .to_string();
            let commit = self.commit(&repo, &file, &delivery.render_message(&rel)?)?;
            if !self.options.push {
                return Ok(Outcome::Committed {
                    commit: commit.to_string(),
                    branch,
                    pushed: false,
                    attempts: 0,
                });
            }
            let target = self
                .options
                .review_branch
                .as_deref()
                .unwrap_or(&branch)
                .to_owned();
            let refused = self.push(&repo, &local, &format!("refs/heads/{target}"))?;
            let remote_head = self.fetch(&repo, &target)?;
            if refused.is_none() {
                // Transports without a compare-and-swap on the old value (libgit2's local one) can report
                // success for a push another pusher then overwrote: success is the remote holding our
                // commit, read back after the push.
                let landed = remote_head == commit
                    || repo
                        .graph_descendant_of(remote_head, commit)
                        .map_err(git_err("fetch", &self.workdir))?;
                if landed {
                    return Ok(Outcome::Committed {
                        commit: commit.to_string(),
                        branch: target,
                        pushed: true,
                        attempts: attempt,
                    });
                }
            }
            // Refused or lost. Only a remote head our commit does not contain (someone pushed first) is
            // retried: the commit is dropped, the work tree moved to the remote's head, the edit made again.
            let raced = self.options.review_branch.is_none()
                && !repo
                    .graph_descendant_of(commit, remote_head)
                    .map_err(git_err("fetch", &self.workdir))?;
            if !raced {
                return Err(Error::PushRefused {
                    refname: format!("refs/heads/{target}"),
                    status: refused.unwrap_or_default(),
                });
            }
            let object = repo
                .find_object(remote_head, None)
                .map_err(git_err("fetch", &self.workdir))?;
            repo.reset(&object, git2::ResetType::Hard, None)
                .map_err(git_err("fetch", &self.workdir))?;
        }
        Err(Error::Contended {
            refname: format!("refs/heads/{branch}"),
            attempts,
        })
    }
}

impl GitOpsTarget for GitRepo {
    fn deliver(&self, delivery: &Delivery) -> Result<Outcome, TargetError> {
        self.deliver_change(delivery).map_err(Into::into)
    }
}

/// The commit checked out in the repository containing `dir` (the source commit of a build).
pub fn head_commit(dir: &Path) -> Option<String> {
    let repo = git2::Repository::discover(dir).ok()?;
    let commit = repo.head().ok()?.peel_to_commit().ok()?;
    Some(commit.id().to_string())
}
