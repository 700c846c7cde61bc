//! Versions read from tag names: `v1.2.3`, `1.2.3`, `services/api/v1.2.3`.

use std::cmp::Ordering;
use std::fmt;

/// A tag name that carries a semantic version, split into its parts.
///
/// A tag is `PREFIX` + optional `v` + a semver 2.0 version. Without an explicit prefix, everything up to
/// the last `/` is the prefix, which is how monorepos name per-component releases (`services/api/v1.2.3`).
///
/// ```
/// use slipway_tag::TagVersion;
/// let t = TagVersion::parse("services/api/v1.2.3-rc.1").unwrap();
/// assert_eq!(t.prefix, "services/api/");
/// assert!(t.v);
/// assert_eq!(t.version.to_string(), "1.2.3-rc.1");
/// assert!(t.is_prerelease());
/// assert!(TagVersion::parse("release-2024").is_none());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagVersion {
    /// The whole tag name.
    pub name: String,
    /// Everything before the version (and before its `v`), e.g. `services/api/`; empty for `v1.2.3`.
    pub prefix: String,
    /// Whether the version was written with a leading `v`.
    pub v: bool,
    /// The version itself.
    pub version: semver::Version,
}

impl TagVersion {
    /// Parses a tag name, taking everything up to the last `/` as the prefix.
    pub fn parse(name: &str) -> Option<Self> {
        let prefix_len = name.rfind('/').map_or(0, |i| i + 1);
        Self::parse_with_prefix(name, &name[..prefix_len])
    }

    /// Parses a tag name that must start with `prefix`; what follows is an optional `v` and a version.
    pub fn parse_with_prefix(name: &str, prefix: &str) -> Option<Self> {
        let rest = name.strip_prefix(prefix)?;
        let (v, text) = match rest.strip_prefix(['v', 'V']) {
            Some(text) => (true, text),
            None => (false, rest),
        };
        // Only the first character may be a `v`; `semver` rejects whitespace and leading zeros, matching
        // the strict (non-loose) check metadata-action applies before using a version.
        let version = semver::Version::parse(text).ok()?;
        Some(Self {
            name: name.to_owned(),
            prefix: prefix.to_owned(),
            v,
            version,
        })
    }

    /// Whether the version has a pre-release part (`-rc.1`).
    pub fn is_prerelease(&self) -> bool {
        !self.version.pre.is_empty()
    }

    /// The version without build metadata, as npm's semver (and so metadata-action's `{{version}}`)
    /// prints it: `1.2.3-rc.1` for `v1.2.3-rc.1+build.5`.
    pub fn version_string(&self) -> String {
        let v = &self.version;
        if v.pre.is_empty() {
            format!("{}.{}.{}", v.major, v.minor, v.patch)
        } else {
            format!("{}.{}.{}-{}", v.major, v.minor, v.patch, v.pre)
        }
    }
}

impl fmt::Display for TagVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

/// Orders versions by semver precedence (build metadata ignored, as the spec requires).
pub fn cmp_versions(a: &semver::Version, b: &semver::Version) -> Ordering {
    a.cmp_precedence(b)
}

/// How far a tag "moves": which release line a rendered semver pattern stands for.
///
/// A pattern naming the patch (or the full version) is pinned to one release; `{{major}}.{{minor}}` moves
/// along a minor line; `{{major}}` along a major line; a pattern with no version part at all (a constant)
/// stands for the whole repository, like `latest`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Line {
    /// Pinned to one version (`{{version}}`, `{{raw}}`, `{{patch}}`).
    Exact,
    /// Moves with the highest release of its `major.minor` line.
    Minor,
    /// Moves with the highest release of its major line.
    Major,
    /// Moves with the highest release of the repository.
    Repository,
}

/// Whether `current` is the highest stable release of its `line` among `others` (tag versions sharing its
/// prefix; pre-releases among them are ignored: a `v2.0.0-rc.1` tag does not stop `v1.9.0` being latest).
///
/// A pre-release `current` is never the highest of any moving line.
pub fn is_highest_in_line(
    current: &semver::Version,
    line: Line,
    others: &[semver::Version],
) -> bool {
    if !current.pre.is_empty() {
        return line == Line::Exact;
    }
    others
        .iter()
        .filter(|o| o.pre.is_empty())
        .filter(|o| match line {
            Line::Exact => false,
            Line::Minor => o.major == current.major && o.minor == current.minor,
            Line::Major => o.major == current.major,
            Line::Repository => true,
        })
        .all(|o| cmp_versions(o, current) != Ordering::Greater)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> semver::Version {
        semver::Version::parse(s).unwrap()
    }

    #[test]
    fn parses_with_and_without_v() {
        let a = TagVersion::parse("v1.2.3").unwrap();
        let b = TagVersion::parse("1.2.3").unwrap();
        assert!(a.v && !b.v);
        assert_eq!(a.version, b.version);
        assert!(TagVersion::parse("v1.2").is_none());
        assert!(TagVersion::parse("vv1.2.3").is_none());
        assert!(TagVersion::parse("v01.2.3").is_none());
        assert_eq!(
            TagVersion::parse("v1.2.3+b.1").unwrap().version_string(),
            "1.2.3"
        );
    }

    #[test]
    fn explicit_prefix_must_match() {
        assert!(TagVersion::parse_with_prefix("web/v1.0.0", "api/").is_none());
        let t = TagVersion::parse_with_prefix("api-v1.0.0", "api-").unwrap();
        assert!(t.v);
    }

    #[test]
    fn lines() {
        let tags = [v("1.2.0"), v("1.2.1"), v("1.3.0"), v("2.0.0-rc.1")];
        let patch = v("1.2.2");
        assert!(is_highest_in_line(&patch, Line::Minor, &tags));
        assert!(!is_highest_in_line(&patch, Line::Major, &tags));
        assert!(!is_highest_in_line(&patch, Line::Repository, &tags));
        assert!(is_highest_in_line(&v("1.3.1"), Line::Repository, &tags));
        assert!(!is_highest_in_line(&v("2.0.0-rc.2"), Line::Major, &tags));
    }
}
