//! The next version from conventional commits (the pure part; [`crate::GitRepo::next_version`] reads git).
//!
//! Rules, after svu, with the differences marked:
//!
//! - The base is the **highest** stable version tag reachable from HEAD (svu takes the nearest one, which
//!   after merging a maintenance branch can be an older line's tag).
//! - Every commit since the base counts and the largest bump wins (svu stops at the newest commit that
//!   matches anything, so a `fix:` on top of a `feat!:` gives a patch).
//! - `type!:` or a `BREAKING CHANGE:` / `BREAKING-CHANGE:` footer is a major bump, `feat:` minor, `fix:`
//!   patch; the type is case-insensitive and may carry a `(scope)`.
//! - **v0 rules**: while the major version is 0 a breaking change bumps the minor version (0.4.2 -> 0.5.0):
//!   semver gives 0.x no stability promise, and 1.0.0 is a decision, not an accident. This is svu's
//!   `--prevent-major-increment-on-v0` behaviour; set [`NextOptions::major_on_v0`] for svu's default.
//! - Commits exist but none is a feature, fix or breaking change: a patch bump (svu would repeat the current
//!   version, which is already taken by its tag). No commits since the tag: the tag's own version.
//! - No version tag at all: the base is 0.0.0, so a first `feat:` gives 0.1.0 and a first `fix:` 0.0.1.
//! - Pre-releases (`rc`): the next version gets `-rc.N` where N is one more than the highest existing
//!   `-rc.N` tag for that same version (starting at 1, where svu starts at 0).

use std::cmp::Ordering;

/// How much a set of commits changes the version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Bump {
    /// Nothing a user would notice (or no commits).
    None,
    /// Bug fixes.
    Patch,
    /// New features.
    Minor,
    /// Breaking changes.
    Major,
}

/// The bump one commit message asks for under Conventional Commits.
///
/// ```
/// use slipway_tag::{Bump, commit_bump};
/// assert_eq!(commit_bump("feat(api): add /v2"), Bump::Minor);
/// assert_eq!(commit_bump("fix!: drop old flag"), Bump::Major);
/// assert_eq!(commit_bump("chore: tidy\n\nBREAKING CHANGE: config moved"), Bump::Major);
/// assert_eq!(commit_bump("Fix typo"), Bump::None);
/// ```
pub fn commit_bump(message: &str) -> Bump {
    let header = message.lines().next().unwrap_or("").trim();
    let breaking_footer = message
        .lines()
        .skip(1)
        .any(|l| l.starts_with("BREAKING CHANGE:") || l.starts_with("BREAKING-CHANGE:"));
    let Some((head, _subject)) = header.split_once(':') else {
        return if breaking_footer {
            Bump::Major
        } else {
            Bump::None
        };
    };
    let (head, bang) = match head.strip_suffix('!') {
        Some(h) => (h, true),
        None => (head, false),
    };
    let ty = match head.split_once('(') {
        Some((ty, scope)) if scope.ends_with(')') => ty,
        Some(_) => return Bump::None,
        None => head,
    };
    let is_type = !ty.is_empty() && ty.bytes().all(|b| b.is_ascii_alphabetic());
    if !is_type {
        return if breaking_footer {
            Bump::Major
        } else {
            Bump::None
        };
    }
    if bang || breaking_footer {
        return Bump::Major;
    }
    match ty.to_ascii_lowercase().as_str() {
        "feat" => Bump::Minor,
        "fix" => Bump::Patch,
        _ => Bump::None,
    }
}

/// Options for [`next_version`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct NextOptions {
    /// Pre-release identifier (`rc`, `beta`): produce `X.Y.Z-rc.N`.
    pub prerelease: Option<String>,
    /// Let a breaking change on 0.x go to 1.0.0 (svu's default) instead of the next minor.
    pub major_on_v0: bool,
}

impl NextOptions {
    /// Sets [`Self::prerelease`].
    #[must_use]
    pub fn with_prerelease(mut self, id: impl Into<String>) -> Self {
        self.prerelease = Some(id.into()).filter(|p| !p.is_empty());
        self
    }
}

/// Computes the next version.
///
/// `base` is the last release (`None`: no release yet), `messages` the commit messages since it, and
/// `existing` every version already tagged (to continue pre-release counters).
///
/// ```
/// use slipway_tag::{NextOptions, next_version};
/// let base = semver::Version::new(1, 2, 3);
/// let next = next_version(Some(&base), &["fix: a", "feat: b"], &[], &NextOptions::default());
/// assert_eq!(next.to_string(), "1.3.0");
/// let rc = next_version(Some(&base), &["fix: a"], &[semver::Version::parse("1.2.4-rc.1")?],
///     &NextOptions::default().with_prerelease("rc"));
/// assert_eq!(rc.to_string(), "1.2.4-rc.2");
/// Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn next_version<S: AsRef<str>>(
    base: Option<&semver::Version>,
    messages: &[S],
    existing: &[semver::Version],
    options: &NextOptions,
) -> semver::Version {
    let bump = messages
        .iter()
        .map(|m| commit_bump(m.as_ref()))
        .max()
        .unwrap_or(Bump::None);
    let zero = semver::Version::new(0, 0, 0);
    let base_version = base.unwrap_or(&zero);
    let mut next = semver::Version::new(base_version.major, base_version.minor, base_version.patch);
    let bump = match bump {
        // Something changed (or nothing was ever released): a new version is needed.
        Bump::None if !messages.is_empty() || base.is_none() => Bump::Patch,
        Bump::Major if next.major == 0 && !options.major_on_v0 => Bump::Minor,
        other => other,
    };
    match bump {
        Bump::None => {}
        Bump::Patch => next.patch += 1,
        Bump::Minor => {
            next.minor += 1;
            next.patch = 0;
        }
        Bump::Major => {
            next.major += 1;
            next.minor = 0;
            next.patch = 0;
        }
    }
    // Nothing to release: the base is the answer, and a pre-release of it would sort below it.
    let prerelease = options.prerelease.as_ref().filter(|_| bump != Bump::None);
    if let Some(id) = prerelease {
        let counter = existing
            .iter()
            .filter(|v| v.major == next.major && v.minor == next.minor && v.patch == next.patch)
            .filter_map(|v| {
                let (name, n) = v.pre.as_str().rsplit_once('.')?;
                (name == id).then(|| n.parse::<u64>().ok()).flatten()
            })
            .max()
            .map_or(1, |n| n + 1);
        // `id` is validated by the caller; an invalid one leaves the version without pre-release.
        next.pre = semver::Prerelease::new(&format!("{id}.{counter}")).unwrap_or_default();
    }
    next
}

/// Whether `id` can be a pre-release identifier (`rc`, `beta`, `alpha.x`).
pub fn is_valid_prerelease_id(id: &str) -> bool {
    semver::Prerelease::new(&format!("{id}.1")).is_ok()
}

/// The highest stable version of `versions`, ordered by precedence.
pub(crate) fn highest_stable(versions: &[semver::Version]) -> Option<&semver::Version> {
    versions
        .iter()
        .filter(|v| v.pre.is_empty())
        .max_by(|a, b| match a.cmp_precedence(b) {
            Ordering::Equal => a.build.cmp(&b.build),
            o => o,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> semver::Version {
        semver::Version::parse(s).unwrap()
    }

    fn next(base: Option<&str>, msgs: &[&str]) -> String {
        let base = base.map(v);
        next_version(base.as_ref(), msgs, &[], &NextOptions::default()).to_string()
    }

    #[test]
    fn bumps() {
        assert_eq!(next(Some("1.2.3"), &["fix: x"]), "1.2.4");
        assert_eq!(next(Some("1.2.3"), &["feat(ui): x", "fix: y"]), "1.3.0");
        assert_eq!(next(Some("1.2.3"), &["fix: y", "feat!: x"]), "2.0.0");
        assert_eq!(next(Some("1.2.3"), &["docs: y"]), "1.2.4");
        assert_eq!(next(Some("1.2.3"), &[]), "1.2.3");
    }

    #[test]
    fn v0_rules() {
        assert_eq!(next(Some("0.4.2"), &["feat!: x"]), "0.5.0");
        assert_eq!(next(Some("0.4.2"), &["feat: x"]), "0.5.0");
        assert_eq!(next(Some("0.4.2"), &["fix: x"]), "0.4.3");
        assert_eq!(next(None, &["feat: x"]), "0.1.0");
        assert_eq!(next(None, &[]), "0.0.1");
        let opts = NextOptions {
            major_on_v0: true,
            ..NextOptions::default()
        };
        assert_eq!(
            next_version(Some(&v("0.4.2")), &["x!: y"], &[], &opts).to_string(),
            "1.0.0"
        );
    }

    #[test]
    fn headers() {
        assert_eq!(commit_bump("FEAT: shout"), Bump::Minor);
        assert_eq!(commit_bump("feat(a)!: x"), Bump::Major);
        assert_eq!(commit_bump("feat(a: x"), Bump::None);
        assert_eq!(commit_bump("Merge branch 'x': y"), Bump::None);
        assert_eq!(
            commit_bump("refactor: x\n\nBREAKING-CHANGE: y"),
            Bump::Major
        );
        assert_eq!(commit_bump("feature: x"), Bump::None);
    }

    #[test]
    fn prerelease_counters() {
        let opts = NextOptions::default().with_prerelease("rc");
        let existing = [
            v("1.3.0-rc.1"),
            v("1.3.0-rc.2"),
            v("1.3.0-beta.7"),
            v("1.2.0-rc.9"),
        ];
        let n = next_version(Some(&v("1.2.0")), &["feat: x"], &existing, &opts);
        assert_eq!(n.to_string(), "1.3.0-rc.3");
        let n = next_version(Some(&v("1.2.0")), &["fix: x"], &existing, &opts);
        assert_eq!(n.to_string(), "1.2.1-rc.1");
        assert!(is_valid_prerelease_id("rc") && !is_valid_prerelease_id("r c"));
        assert_eq!(highest_stable(&existing[..]), None);
    }
}
