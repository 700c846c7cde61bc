//! The build context from a git repository (libgit2 through git2), and the next version from its history.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::next::{NextOptions, highest_stable, next_version};
use crate::source::{BuildRef, CommitTime, RefSource, SourceError};
use crate::version::TagVersion;

/// A git repository as a [`RefSource`]: HEAD's commit, time and parents, the branch (or detached HEAD),
/// tags at HEAD, the nearest tag, every tag name, a dirty working tree, the default branch and the
/// `origin` URL.
///
/// The event it implies is a tag event when a tag points at HEAD, else a push (see [`crate::Build`]).
pub struct GitRepo {
    repo: git2::Repository,
    path: PathBuf,
}

impl std::fmt::Debug for GitRepo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitRepo")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// The result of [`GitRepo::next_version`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NextVersion {
    /// The next version.
    pub version: semver::Version,
    /// It as a tag name: the prefix, `v` when the last release used one (or when there is none), the
    /// version.
    pub tag: String,
    /// The release it follows, if any.
    pub base: Option<TagVersion>,
    /// How many commits since that release were considered (after the path filter; merges excluded).
    pub commits: usize,
}

impl GitRepo {
    /// Opens the repository containing `path` (searching parent directories, like `git -C`).
    pub fn discover(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let repo = git2::Repository::discover(&path).map_err(|e| Error::Git {
            path: path.clone(),
            operation: "open",
            message: e.message().to_owned(),
        })?;
        Ok(Self { repo, path })
    }

    fn err(&self, operation: &'static str) -> impl Fn(git2::Error) -> Error + '_ {
        move |e| Error::Git {
            path: self.path.clone(),
            operation,
            message: e.message().to_owned(),
        }
    }

    fn head_commit(&self) -> Result<git2::Commit<'_>> {
        let head = self.repo.head().map_err(self.err("read HEAD"))?;
        head.peel_to_commit().map_err(self.err("read HEAD commit"))
    }

    /// Every tag name with the commit it points at (annotated tags peeled; tags of non-commits skipped).
    fn tag_commits(&self) -> Result<Vec<(String, git2::Oid)>> {
        let mut out = Vec::new();
        let refs = self
            .repo
            .references_glob("refs/tags/*")
            .map_err(self.err("list tags"))?;
        for reference in refs {
            let reference = reference.map_err(self.err("list tags"))?;
            let Some(name) = reference
                .name()
                .ok()
                .and_then(|n| n.strip_prefix("refs/tags/"))
            else {
                continue;
            };
            if let Ok(commit) = reference.peel_to_commit() {
                out.push((name.to_owned(), commit.id()));
            }
        }
        out.sort();
        Ok(out)
    }

    /// Reads everything this repository can say about the build.
    pub fn read(&self) -> Result<BuildRef> {
        let head = self.repo.head().map_err(self.err("read HEAD"))?;
        let detached = self.repo.head_detached().map_err(self.err("read HEAD"))?;
        let branch = if detached {
            None
        } else {
            head.name()
                .ok()
                .and_then(|n| n.strip_prefix("refs/heads/"))
                .map(str::to_owned)
        };
        let commit = self.head_commit()?;
        let id = commit.id();
        let time = commit.time();
        let tags = self.tag_commits()?;
        let tags_at_head = tags
            .iter()
            .filter(|(_, oid)| *oid == id)
            .map(|(n, _)| n.clone())
            .collect();
        let mut describe = git2::DescribeOptions::new();
        describe.describe_tags();
        let nearest_tag = self
            .repo
            .describe(&describe)
            .and_then(|d| d.format(Some(git2::DescribeFormatOptions::new().abbreviated_size(0))))
            .ok();
        let mut status = git2::StatusOptions::new();
        // Like `git describe --dirty`: changes to tracked files count, untracked build output does not.
        status
            .include_untracked(false)
            .include_ignored(false)
            .exclude_submodules(true);
        let dirty = !self
            .repo
            .statuses(Some(&mut status))
            .map_err(self.err("read status"))?
            .is_empty();
        let source_url = self
            .repo
            .find_remote("origin")
            .ok()
            .and_then(|r| r.url().ok().map(browsable_url));
        let title = source_url
            .as_deref()
            .and_then(|u| u.rsplit('/').next())
            .map(str::to_owned)
            .or_else(|| {
                self.repo
                    .workdir()
                    .and_then(|w| w.file_name())
                    .map(|n| n.to_string_lossy().into_owned())
            });
        Ok(BuildRef {
            event: None,
            git_ref: None,
            sha: None,
            head_commit: Some(id.to_string()),
            head_parents: commit.parent_ids().map(|p| p.to_string()).collect(),
            commit_time: Some(CommitTime {
                seconds: time.seconds(),
                offset_minutes: time.offset_minutes(),
            }),
            branch,
            detached: Some(detached),
            tags_at_head,
            nearest_tag,
            repo_tags: tags.into_iter().map(|(n, _)| n).collect(),
            dirty: Some(dirty),
            default_branch: self.default_branch(),
            source_url,
            title,
            ..BuildRef::default()
        })
    }

    /// `origin/HEAD`'s target; without a remote, the local `main` or `master` when exactly one exists.
    fn default_branch(&self) -> Option<String> {
        if let Ok(r) = self.repo.find_reference("refs/remotes/origin/HEAD")
            && let Ok(Some(target)) = r.symbolic_target()
            && let Some(b) = target.strip_prefix("refs/remotes/origin/")
        {
            return Some(b.to_owned());
        }
        let local: Vec<&str> = ["main", "master"]
            .into_iter()
            .filter(|b| self.repo.find_reference(&format!("refs/heads/{b}")).is_ok())
            .collect();
        match local.as_slice() {
            [one] => Some((*one).to_owned()),
            _ => None,
        }
    }

    /// The next version after the highest release reachable from HEAD, from the conventional commits since
    /// it (see [`crate::next`] for the rules).
    ///
    /// `prefix` selects the component's tags (`services/api/`); without it only unprefixed tags (`v1.2.3`,
    /// `1.2.3`) count. `path` (relative to the repository root) limits the commits to those touching it.
    pub fn next_version(
        &self,
        prefix: Option<&str>,
        path: Option<&Path>,
        options: &NextOptions,
    ) -> Result<NextVersion> {
        let prefix = prefix.unwrap_or("");
        let head = self.head_commit()?.id();
        let mut by_commit: HashMap<git2::Oid, Vec<TagVersion>> = HashMap::new();
        let mut existing = Vec::new();
        for (name, oid) in self.tag_commits()? {
            if let Some(tv) = TagVersion::parse_with_prefix(&name, prefix) {
                existing.push(tv.version.clone());
                by_commit.entry(oid).or_default().push(tv);
            }
        }
        let mut reachable: Vec<(TagVersion, git2::Oid)> = Vec::new();
        for (oid, tvs) in &by_commit {
            let is_ancestor = *oid == head
                || self
                    .repo
                    .graph_descendant_of(head, *oid)
                    .map_err(self.err("walk history"))?;
            if is_ancestor {
                reachable.extend(
                    tvs.iter()
                        .filter(|t| !t.is_prerelease())
                        .map(|t| (t.clone(), *oid)),
                );
            }
        }
        let versions: Vec<semver::Version> =
            reachable.iter().map(|(t, _)| t.version.clone()).collect();
        let base = highest_stable(&versions).and_then(|best| {
            reachable
                .iter()
                .filter(|(t, _)| t.version == *best)
                .min_by(|a, b| a.0.name.cmp(&b.0.name))
                .cloned()
        });

        let mut walk = self.repo.revwalk().map_err(self.err("walk history"))?;
        walk.push(head).map_err(self.err("walk history"))?;
        if let Some((_, oid)) = &base {
            walk.hide(*oid).map_err(self.err("walk history"))?;
        }
        let mut messages = Vec::new();
        for oid in walk {
            let oid = oid.map_err(self.err("walk history"))?;
            let commit = self
                .repo
                .find_commit(oid)
                .map_err(self.err("read commit"))?;
            // A merge's changes are its parents' commits, which the walk visits on their own.
            if commit.parent_count() > 1 {
                continue;
            }
            if let Some(path) = path
                && !self.touches(&commit, path)?
            {
                continue;
            }
            messages.push(String::from_utf8_lossy(commit.message_bytes()).into_owned());
        }
        let version = next_version(
            base.as_ref().map(|(t, _)| &t.version),
            &messages,
            &existing,
            options,
        );
        let v = base.as_ref().is_none_or(|(t, _)| t.v);
        let tag = format!("{prefix}{}{version}", if v { "v" } else { "" });
        Ok(NextVersion {
            version,
            tag,
            base: base.map(|(t, _)| t),
            commits: messages.len(),
        })
    }

    /// Whether `commit` changes anything under `path` compared with its parent.
    fn touches(&self, commit: &git2::Commit<'_>, path: &Path) -> Result<bool> {
        let tree = commit.tree().map_err(self.err("read tree"))?;
        let parent_tree = match commit.parent(0) {
            Ok(p) => Some(p.tree().map_err(self.err("read tree"))?),
            Err(_) => None,
        };
        let mut opts = git2::DiffOptions::new();
        let spec = path.to_string_lossy().trim_end_matches('/').to_owned();
        opts.pathspec(spec);
        let diff = self
            .repo
            .diff_tree_to_tree(parent_tree.as_ref(), Some(&tree), Some(&mut opts))
            .map_err(self.err("diff"))?;
        Ok(diff.deltas().len() > 0)
    }

    /// The repository's working directory, if it has one.
    pub fn workdir(&self) -> Option<&Path> {
        self.repo.workdir()
    }
}

impl RefSource for GitRepo {
    fn build_ref(&self) -> Result<BuildRef, SourceError> {
        Ok(self.read()?)
    }
}

/// A remote URL as a browsable `https://` URL without credentials: `git@host:o/r.git` ->
/// `https://host/o/r`, `https://user:token@host/o/r.git` -> `https://host/o/r`.
pub fn browsable_url(url: &str) -> String {
    let url = url.trim();
    let without_git = |s: &str| s.trim_end_matches('/').trim_end_matches(".git").to_owned();
    if let Some((scheme, rest)) = url.split_once("://") {
        let rest = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
        let scheme = match scheme {
            "ssh" | "git" | "git+ssh" | "ssh+git" => "https",
            other => other,
        };
        // ssh URLs may carry a port that the web server does not use.
        let rest = if scheme == "https" && url.starts_with("ssh") {
            match rest.split_once('/') {
                Some((host, path)) => format!("{}/{path}", host.split(':').next().unwrap_or(host)),
                None => rest.to_owned(),
            }
        } else {
            rest.to_owned()
        };
        return without_git(&format!("{scheme}://{rest}"));
    }
    // scp-like `user@host:path`.
    if let Some((host, path)) = url.split_once(':')
        && !host.contains('/')
    {
        let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
        return without_git(&format!("https://{host}/{}", path.trim_start_matches('/')));
    }
    without_git(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            browsable_url("git@github.com:acme/api.git"),
            "https://github.com/acme/api"
        );
        assert_eq!(
            browsable_url("https://x:tok@gitlab.example/acme/api.git"),
            "https://gitlab.example/acme/api"
        );
        assert_eq!(
            browsable_url("ssh://git@host.example:2222/acme/api.git"),
            "https://host.example/acme/api"
        );
        assert_eq!(browsable_url("/srv/git/api.git"), "/srv/git/api");
    }
}
