//! What is being built: the [`RefSource`] trait and the [`BuildRef`] it yields.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use serde::Serialize;

/// The error a [`RefSource`] implementation reports; boxed so that backends keep their own error types.
pub type SourceError = Box<dyn std::error::Error + Send + Sync>;

/// Why a build runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Event {
    /// A push to a branch (or any build of a branch, including a detached checkout with no tag).
    Push,
    /// A tag was pushed.
    Tag,
    /// A pull (merge) request.
    Pr,
    /// A scheduled (nightly) build.
    Schedule,
}

impl Event {
    /// The name used on the command line and in `SLIPWAY_EVENT`.
    pub fn as_str(self) -> &'static str {
        match self {
            Event::Push => "push",
            Event::Tag => "tag",
            Event::Pr => "pr",
            Event::Schedule => "schedule",
        }
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Event {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "push" => Ok(Event::Push),
            "tag" => Ok(Event::Tag),
            "pr" => Ok(Event::Pr),
            "schedule" => Ok(Event::Schedule),
            other => Err(format!(
                "unknown event `{other}` (expected push, tag, pr or schedule)"
            )),
        }
    }
}

/// A commit time: seconds since the Unix epoch and the committer's UTC offset in minutes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CommitTime {
    /// Seconds since 1970-01-01T00:00:00Z.
    pub seconds: i64,
    /// The committer's offset from UTC, in minutes.
    pub offset_minutes: i32,
}

/// Everything known about the build, as far as one source can tell. Every field is optional: sources are
/// layered with [`RefSourceExt::or`], the first one that knows a field wins.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct BuildRef {
    /// Why the build runs; when no source says, it is inferred (a tag at HEAD means a tag event).
    pub event: Option<Event>,
    /// The full ref being built: `refs/heads/main`, `refs/tags/v1.2.3`, `refs/pull/7/merge`.
    pub git_ref: Option<String>,
    /// The commit CI says it builds (for GitHub PRs this is the synthetic merge commit).
    pub sha: Option<String>,
    /// The commit checked out in the working copy (from git).
    pub head_commit: Option<String>,
    /// The parents of [`Self::head_commit`]; a two-parent detached HEAD on a `…/merge` ref is a CI merge
    /// commit whose second parent is the PR head.
    pub head_parents: Vec<String>,
    /// When [`Self::head_commit`] was committed.
    pub commit_time: Option<CommitTime>,
    /// The PR / MR number.
    pub pr_number: Option<u64>,
    /// The PR's head commit (the commit the author pushed, not CI's merge commit).
    pub pr_head_sha: Option<String>,
    /// The PR's source branch.
    pub pr_head_ref: Option<String>,
    /// The PR's target branch.
    pub pr_base_ref: Option<String>,
    /// The repository's default branch.
    pub default_branch: Option<String>,
    /// The checked-out branch; `None` on a detached HEAD.
    pub branch: Option<String>,
    /// Whether HEAD is detached.
    pub detached: Option<bool>,
    /// Tags pointing at HEAD.
    pub tags_at_head: Vec<String>,
    /// The nearest tag reachable from HEAD (`git describe --tags --abbrev=0`).
    pub nearest_tag: Option<String>,
    /// Every tag name of the repository (to decide which version is the highest).
    pub repo_tags: Vec<String>,
    /// Whether tracked files differ from HEAD.
    pub dirty: Option<bool>,
    /// A browsable URL of the repository (credentials removed).
    pub source_url: Option<String>,
    /// The project's name.
    pub title: Option<String>,
    /// The project's description.
    pub description: Option<String>,
    /// SPDX license expression.
    pub licenses: Option<String>,
    /// `SOURCE_DATE_EPOCH`: overrides the image creation time.
    pub source_date_epoch: Option<i64>,
}

impl BuildRef {
    /// Fills every field `self` lacks from `fallback`.
    #[must_use]
    pub fn fill_from(mut self, fallback: BuildRef) -> BuildRef {
        macro_rules! fill {
            ($($opt:ident),*; $($vec:ident),*) => {
                $( if self.$opt.is_none() { self.$opt = fallback.$opt; } )*
                $( if self.$vec.is_empty() { self.$vec = fallback.$vec; } )*
            };
        }
        fill!(event, git_ref, sha, head_commit, commit_time, pr_number, pr_head_sha, pr_head_ref,
              pr_base_ref, default_branch, branch, detached, nearest_tag, dirty, source_url, title,
              description, licenses, source_date_epoch;
              head_parents, tags_at_head, repo_tags);
        self
    }
}

/// Where the facts about a build come from: a git repository, CI variables, fixed values.
///
/// One required method; implemented for `&T`, `Box<T>` and `Arc<T>`, for closures through [`from_fn`],
/// and for [`BuildRef`] itself (a fixed answer). Layer sources with [`RefSourceExt::or`].
///
/// ```
/// use slipway_tag::{BuildRef, Event, RefSource, RefSourceExt, from_fn};
/// let mut fixed = BuildRef::default();
/// fixed.event = Some(Event::Push);
/// let from_closure = from_fn(|| {
///     let mut b = BuildRef::default();
///     b.branch = Some("main".into());
///     Ok(b)
/// });
/// let both = fixed.or(from_closure).build_ref().map_err(|e| e.to_string())?;
/// assert_eq!(both.event, Some(Event::Push));
/// assert_eq!(both.branch.as_deref(), Some("main"));
/// Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait RefSource {
    /// Reads what this source knows about the build.
    fn build_ref(&self) -> Result<BuildRef, SourceError>;
}

impl RefSource for BuildRef {
    fn build_ref(&self) -> Result<BuildRef, SourceError> {
        Ok(self.clone())
    }
}

/// A [`RefSource`] made from a closure: see [`from_fn`].
#[derive(Clone)]
pub struct FromFn<F>(F);

impl<F> fmt::Debug for FromFn<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FromFn")
    }
}

/// Wraps a closure as a [`RefSource`] (a blanket impl over closures would overlap the `&T`/`Box<T>` ones).
pub fn from_fn<F>(f: F) -> FromFn<F>
where
    F: Fn() -> Result<BuildRef, SourceError>,
{
    FromFn(f)
}

impl<F> RefSource for FromFn<F>
where
    F: Fn() -> Result<BuildRef, SourceError>,
{
    fn build_ref(&self) -> Result<BuildRef, SourceError> {
        (self.0)()
    }
}

impl<T: RefSource + ?Sized> RefSource for &T {
    fn build_ref(&self) -> Result<BuildRef, SourceError> {
        (**self).build_ref()
    }
}

impl<T: RefSource + ?Sized> RefSource for Box<T> {
    fn build_ref(&self) -> Result<BuildRef, SourceError> {
        (**self).build_ref()
    }
}

impl<T: RefSource + ?Sized> RefSource for Arc<T> {
    fn build_ref(&self) -> Result<BuildRef, SourceError> {
        (**self).build_ref()
    }
}

/// Combinators for every [`RefSource`].
pub trait RefSourceExt: RefSource {
    /// A source answering from `self` first and filling the gaps from `fallback` (e.g. CI variables over a
    /// git repository).
    fn or<S: RefSource>(self, fallback: S) -> Layered<Self, S>
    where
        Self: Sized,
    {
        Layered {
            first: self,
            fallback,
        }
    }
}

impl<T: RefSource + ?Sized> RefSourceExt for T {}

/// Two sources layered: see [`RefSourceExt::or`].
#[derive(Debug, Clone)]
pub struct Layered<A, B> {
    first: A,
    fallback: B,
}

impl<A: RefSource, B: RefSource> RefSource for Layered<A, B> {
    fn build_ref(&self) -> Result<BuildRef, SourceError> {
        Ok(self
            .first
            .build_ref()?
            .fill_from(self.fallback.build_ref()?))
    }
}
