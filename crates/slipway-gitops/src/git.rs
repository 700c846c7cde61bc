//! Delivering a change through git: the [`GitOpsTarget`] trait and [`GitRepo`], its git2 implementation.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::env;
use crate::error::{Error, Result};
use crate::files::{self, SetImage};
use crate::gitcmd;

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
    ///
    /// A path that leads out of `root` (through `..` or a symbolic link the repository holds) is refused.
    pub fn apply(&self, root: &Path) -> Result<Option<PathBuf>> {
        match self {
            Change::SetImage { path, request } => {
                files::set_image_in(&within(root, path)?, request)
            }
            Change::Promote {
                deploy_dir,
                from,
                to,
            } => {
                let deploy = within(root, deploy_dir)?;
                within(root, &env::overlay(&deploy, from))?;
                within(root, &env::overlay(&deploy, to))?;
                env::promote(&deploy, from, to)
            }
        }
    }
}

/// `root.join(path)`, checked to resolve inside `root`: its deepest existing ancestor (the file itself when
/// it exists), with symbolic links resolved, must lie under `root`'s resolved path.
fn within(root: &Path, path: &Path) -> Result<PathBuf> {
    let joined = root.join(path);
    let outside = || Error::OutsideWorkTree {
        path: joined.clone(),
        root: root.to_owned(),
    };
    let io = |source| Error::Io {
        operation: "read",
        path: root.to_owned(),
        source,
    };
    let real_root = root.canonicalize().map_err(io)?;
    let mut existing = joined.as_path();
    loop {
        match existing.canonicalize() {
            Ok(real) if real.starts_with(&real_root) => break,
            Ok(_) => return Err(outside()),
            Err(_) => existing = existing.parent().ok_or_else(outside)?,
        }
    }
    // The part below the existing ancestor does not exist yet: it must not climb with `..`.
    let rest = joined.strip_prefix(existing).unwrap_or(Path::new(""));
    if rest
        .components()
        .any(|c| matches!(c, std::path::Component::ParentDir))
    {
        return Err(outside());
    }
    Ok(joined)
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

impl GitRepo {
    /// A working clone at `workdir`.
    pub fn open(workdir: impl Into<PathBuf>, options: PushOptions) -> Result<Self> {
        let workdir = workdir.into();
        git2::Repository::open(&workdir).map_err(git_err("open", &workdir))?;
        Ok(GitRepo { workdir, options })
    }

    /// Clones `url` (a path, `file://`, `ssh://`, `https://` or scp-like `host:path`; credentials from
    /// git's usual places) into `into` with the `git` executable, checking out `branch` or the remote's
    /// default branch. `into` must not exist or be empty.
    pub fn clone(
        url: &str,
        into: &Path,
        branch: Option<&str>,
        options: PushOptions,
    ) -> Result<Self> {
        let mut args: Vec<std::ffi::OsString> = vec!["clone".into(), "--quiet".into()];
        if let Some(branch) = branch {
            args.extend(["--branch".into(), branch.into()]);
        }
        args.extend(["--origin".into(), options.remote.clone().into()]);
        // `--` so that a URL starting with `-` is not an option.
        args.extend(["--".into(), url.into(), into.as_os_str().to_owned()]);
        let cwd = into
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let finished = gitcmd::run("clone", cwd, &args)?;
        if finished.code != Some(0) {
            return Err(gitcmd::failure("clone", url, &finished));
        }
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

    /// Pushes `HEAD` to `remote_ref` with `git push`, which updates the remote ref only if it still holds
    /// the value this clone last fetched (receive-pack checks the old value under the ref's lock).
    fn push(&self, remote_ref: &str) -> Result<gitcmd::PushStatus> {
        let remote = &self.options.remote;
        let refspec = format!("HEAD:{remote_ref}");
        let finished = gitcmd::run(
            "push",
            &self.workdir,
            ["push", "--porcelain", "--", remote, refspec.as_str()],
        )?;
        match gitcmd::push_status(&finished.stdout, remote_ref) {
            Some(gitcmd::PushStatus::Done) if finished.code == Some(0) => {
                Ok(gitcmd::PushStatus::Done)
            }
            Some(status @ (gitcmd::PushStatus::Behind | gitcmd::PushStatus::Refused(_))) => {
                Ok(status)
            }
            // No status line (the remote could not be reached) or a failure after it.
            _ => Err(gitcmd::failure(
                "push",
                &self.workdir.display().to_string(),
                &finished,
            )),
        }
    }

    /// Fetches `branch` with `git fetch` and returns the remote's head.
    fn fetch(&self, repo: &git2::Repository, branch: &str) -> Result<git2::Oid> {
        let tracking = format!("refs/remotes/{}/{branch}", self.options.remote);
        let refspec = format!("+refs/heads/{branch}:{tracking}");
        let finished = gitcmd::run(
            "fetch",
            &self.workdir,
            [
                "fetch",
                "--quiet",
                "--no-tags",
                "--no-write-fetch-head",
                "--",
                self.options.remote.as_str(),
                refspec.as_str(),
            ],
        )?;
        if finished.code != Some(0) {
            return Err(gitcmd::failure(
                "fetch",
                &self.workdir.display().to_string(),
                &finished,
            ));
        }
        repo.refname_to_id(&tracking)
            .map_err(git_err("fetch", &self.workdir))
    }

    /// The first tracked file with uncommitted changes, if any.
    fn first_modified(&self, repo: &git2::Repository) -> Result<Option<String>> {
        let mut options = git2::StatusOptions::new();
        options.include_untracked(false).include_ignored(false);
        let statuses = repo
            .statuses(Some(&mut options))
            .map_err(git_err("status", &self.workdir))?;
        Ok(statuses
            .iter()
            .find(|s| s.status() != git2::Status::CURRENT)
            .map(|s| s.path().unwrap_or("?").to_owned()))
    }
}

impl GitRepo {
    /// [`GitOpsTarget::deliver`] with this crate's error.
    pub fn deliver_change(&self, delivery: &Delivery) -> Result<Outcome> {
        let err = git_err("open", &self.workdir);
        let repo = git2::Repository::open(&self.workdir).map_err(&err)?;
        let branch = {
            let head = repo.head().map_err(&err)?;
            head.shorthand().unwrap_or("HEAD").to_owned()
        };
        let attempts = if self.options.push {
            self.options.attempts.max(1)
        } else {
            1
        };
        // A retry resets the work tree to the remote's head: refuse before editing rather than discard
        // someone's uncommitted work then.
        if self.options.push
            && let Some(file) = self.first_modified(&repo)?
        {
            return Err(Error::Dirty {
                repo: self.workdir.clone(),
                file,
            });
        }
        let target = self
            .options
            .review_branch
            .as_deref()
            .unwrap_or(&branch)
            .to_owned();
        let remote_ref = format!("refs/heads/{target}");
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
            let status = self.push(&remote_ref)?;
            match &status {
                gitcmd::PushStatus::Done => {
                    return Ok(Outcome::Committed {
                        commit: commit.to_string(),
                        branch: target,
                        pushed: true,
                        attempts: attempt,
                    });
                }
                gitcmd::PushStatus::Refused(status) if self.options.review_branch.is_some() => {
                    return Err(Error::PushRefused {
                        refname: remote_ref,
                        status: status.clone(),
                    });
                }
                // A review branch that exists already with other commits is not ours to rebuild.
                gitcmd::PushStatus::Behind if self.options.review_branch.is_some() => {
                    return Err(Error::PushRefused {
                        refname: remote_ref,
                        status: "[rejected] (the review branch exists with other commits)".into(),
                    });
                }
                gitcmd::PushStatus::Behind | gitcmd::PushStatus::Refused(_) => {}
            }
            let remote_head = self.fetch(&repo, &target)?;
            let moved = remote_head != commit
                && !repo
                    .graph_descendant_of(commit, remote_head)
                    .map_err(git_err("fetch", &self.workdir))?;
            // A pusher that loses the race inside receive-pack (after the ref was advertised, before its
            // compare-and-swap) is told `[remote rejected] (failed to update ref)`, the same words as for a
            // broken disk: what tells them apart is whether the branch moved past our base.
            if let gitcmd::PushStatus::Refused(status) = &status {
                if remote_head == commit {
                    return Ok(Outcome::Committed {
                        commit: commit.to_string(),
                        branch: target,
                        pushed: true,
                        attempts: attempt,
                    });
                }
                if !moved {
                    return Err(Error::PushRefused {
                        refname: remote_ref,
                        status: status.clone(),
                    });
                }
            }
            // Someone pushed first: drop our commit, move to the remote's head, make the edit again there.
            let object = repo
                .find_object(remote_head, None)
                .map_err(git_err("fetch", &self.workdir))?;
            repo.reset(&object, git2::ResetType::Hard, None)
                .map_err(git_err("fetch", &self.workdir))?;
        }
        Err(Error::Contended {
            refname: remote_ref,
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
