//! Changed lines from a git repository, with libgit2 (the `git` feature).

use std::cell::RefCell;
use std::path::{Path, PathBuf};

use super::{ChangedLines, Changes, DiffError};

/// Lines changed since a base revision in the git repository around a directory (see the
/// [`diff` module docs](super) for the choice of base and new side).
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let dir = tempfile::tempdir()?;
/// let err = slipway_cover::gate::GitChanges::new(dir.path(), "main").changes().unwrap_err();
/// assert!(err.to_string().contains("not inside a git working tree"));
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct GitChanges {
    dir: PathBuf,
    base: String,
    merge_base: bool,
    working_tree: bool,
    untracked: bool,
}

impl GitChanges {
    /// Changes since `base` (any revision git understands: branch, tag, commit, `HEAD~2`, …) in the
    /// repository that contains `dir`: merge base with `HEAD`, working tree included, untracked files not.
    pub fn new(dir: impl Into<PathBuf>, base: impl Into<String>) -> Self {
        GitChanges {
            dir: dir.into(),
            base: base.into(),
            merge_base: true,
            working_tree: true,
            untracked: false,
        }
    }

    /// `false` diffs against `base` itself rather than its merge base with `HEAD`.
    #[must_use]
    pub fn merge_base(mut self, yes: bool) -> Self {
        self.merge_base = yes;
        self
    }

    /// `false` takes the new side from the `HEAD` commit, leaving uncommitted changes out.
    #[must_use]
    pub fn working_tree(mut self, yes: bool) -> Self {
        self.working_tree = yes;
        self
    }

    /// `true` counts every line of untracked (not ignored) files as added (working tree only).
    #[must_use]
    pub fn include_untracked(mut self, yes: bool) -> Self {
        self.untracked = yes;
        self
    }

    fn open(&self) -> Result<git2::Repository, DiffError> {
        git2::Repository::discover(&self.dir).map_err(|_| DiffError::NotARepository {
            path: self.dir.clone(),
        })
    }

    /// The root of the working tree (what changed paths are relative to).
    pub fn repo_root(&self) -> Result<PathBuf, DiffError> {
        let repo = self.open()?;
        repo.workdir()
            .map(Path::to_path_buf)
            .ok_or_else(|| DiffError::NotARepository {
                path: self.dir.clone(),
            })
    }

    /// Computes the changed lines.
    pub fn changes(&self) -> Result<Changes, DiffError> {
        let repo = self.open()?;
        let root =
            repo.workdir()
                .map(Path::to_path_buf)
                .ok_or_else(|| DiffError::NotARepository {
                    path: self.dir.clone(),
                })?;
        let git = |action: &str| {
            let root = root.clone();
            let action = action.to_owned();
            move |error: git2::Error| DiffError::Git {
                repo: root,
                action,
                error: Box::new(error),
            }
        };
        let base = repo
            .revparse_single(&self.base)
            .and_then(|o| o.peel_to_commit())
            .map_err(|_| DiffError::UnknownRevision {
                repo: root.clone(),
                rev: self.base.clone(),
            })?;
        let head = repo
            .head()
            .and_then(|h| h.peel_to_commit())
            .map_err(git("read HEAD"))?;
        let (old, description) = if self.merge_base {
            let oid =
                repo.merge_base(base.id(), head.id())
                    .map_err(|_| DiffError::NoMergeBase {
                        repo: root.clone(),
                        rev: self.base.clone(),
                    })?;
            let commit = repo.find_commit(oid).map_err(git("read the merge base"))?;
            let short = short_id(oid);
            (
                commit,
                format!("merge-base {short} of {} and HEAD", self.base),
            )
        } else {
            let short = short_id(base.id());
            (base, format!("{} ({short})", self.base))
        };
        let old_tree = old.tree().map_err(git("read the base tree"))?;
        let mut options = git2::DiffOptions::new();
        options.context_lines(0);
        let mut diff = if self.working_tree {
            options
                .include_untracked(self.untracked)
                .recurse_untracked_dirs(self.untracked)
                .show_untracked_content(self.untracked);
            repo.diff_tree_to_workdir_with_index(Some(&old_tree), Some(&mut options))
                .map_err(git("diff against the working tree"))?
        } else {
            let new_tree = head.tree().map_err(git("read the HEAD tree"))?;
            repo.diff_tree_to_tree(Some(&old_tree), Some(&new_tree), Some(&mut options))
                .map_err(git("diff against HEAD"))?
        };
        // `git diff` detects renames by default (diff.renames); a moved file then counts only the lines
        // that changed in it.
        let mut find = git2::DiffFindOptions::new();
        find.renames(true);
        diff.find_similar(Some(&mut find))
            .map_err(git("detect renames"))?;

        let changes = RefCell::new(Changes::new());
        diff.foreach(
            &mut |_, _| true,
            None,
            None,
            Some(
                &mut |delta: git2::DiffDelta<'_>, _, line: git2::DiffLine<'_>| {
                    if line.origin() == '+'
                        && let (Some(path), Some(n)) = (delta.new_file().path(), line.new_lineno())
                    {
                        // Git paths are `/`-separated on every platform.
                        changes.borrow_mut().add_lines(&path.to_string_lossy(), [n]);
                    }
                    true
                },
            ),
        )
        .map_err(git("walk the diff"))?;
        let suffix = if self.working_tree {
            ", with uncommitted changes"
        } else {
            ""
        };
        Ok(changes
            .into_inner()
            .describe(format!("since {description}{suffix}")))
    }
}

/// The 7-character abbreviation `git log --oneline` shows for small repositories.
fn short_id(oid: git2::Oid) -> String {
    oid.to_string().chars().take(7).collect()
}

impl ChangedLines for GitChanges {
    fn changed_lines(&self) -> Result<Changes, Box<dyn std::error::Error + Send + Sync>> {
        Ok(self.changes()?)
    }
}
