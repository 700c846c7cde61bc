//! OCI annotations and goreleaser-style template values for a build.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::tags::{Build, TagSet};
use crate::template::rfc3339_utc;
use crate::version::TagVersion;

/// The `org.opencontainers.image.*` annotations of a build, sorted by key.
///
/// `version` is the main tag (as in metadata-action), `revision` the commit the image is built from (the
/// PR head for PRs), `created` is `SOURCE_DATE_EPOCH` or else the commit time, so rebuilding a commit
/// gives identical annotations (metadata-action uses the wall clock). Keys with no value are left out
/// rather than written empty.
///
/// Every value is one line: control characters (a newline in a description from the event payload or
/// `SLIPWAY_DESCRIPTION`) become spaces ([`crate::text::one_line`]), so no value can forge another
/// `key=value` line or a workflow command where annotations are printed, nor carry them into an image.
pub fn annotations(build: &Build, tags: &TagSet) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut put = |key: &str, value: Option<String>| {
        let value = value.map(|v| crate::text::one_line(&v).into_owned());
        if let Some(v) = value.filter(|v| !v.is_empty()) {
            out.insert(format!("org.opencontainers.image.{key}"), v);
        }
    };
    put("version", tags.version.clone());
    put("revision", build.sha.clone());
    put("created", Some(rfc3339_utc(build.created)));
    put("source", build.source_url.clone());
    put("url", build.source_url.clone());
    put("title", build.title.clone());
    put("description", build.description.clone());
    put("licenses", build.licenses.clone());
    out
}

/// goreleaser's template values, named as goreleaser names them.
///
/// `Version` is the built tag's version without its prefix or `v`. When HEAD is not a release tag
/// (`IsSnapshot`), it is the nearest version tag's version with the patch incremented, then
/// `-SNAPSHOT-<ShortCommit>` (`0.0.1-SNAPSHOT-…` with no version tag), goreleaser's snapshot convention.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct TemplateValues {
    /// The version (see above).
    pub version: String,
    /// Major part of the version.
    pub major: u64,
    /// Minor part.
    pub minor: u64,
    /// Patch part.
    pub patch: u64,
    /// Pre-release part (`rc.1`), empty for releases.
    pub prerelease: String,
    /// The tag built, or the nearest tag for snapshots.
    pub tag: String,
    /// Short commit id.
    pub short_commit: String,
    /// Full commit id.
    pub full_commit: String,
    /// The branch (for PRs, the PR's source branch).
    pub branch: String,
    /// Commit time, RFC 3339 UTC.
    pub commit_date: String,
    /// Whether this is not a release build (HEAD is not a version tag).
    pub is_snapshot: bool,
    /// Whether tracked files differ from HEAD.
    pub is_git_dirty: bool,
}

impl TemplateValues {
    /// Computes the values for a resolved build.
    pub fn new(build: &Build) -> Self {
        let short = build.short_sha().unwrap_or("").to_owned();
        let (version, tag, is_snapshot) = if let Some(tv) = &build.tag_version {
            (tv.version.clone(), tv.name.clone(), false)
        } else {
            let prefix = build.options().tag_prefix.as_deref();
            let nearest = build.nearest_tag.as_deref().and_then(|t| match prefix {
                Some(p) => TagVersion::parse_with_prefix(t, p),
                None => TagVersion::parse(t),
            });
            let mut v = nearest
                .as_ref()
                .map_or_else(|| semver::Version::new(0, 0, 0), |t| t.version.clone());
            // Like goreleaser's `incpatch`: a pre-release's patch is already the next one.
            if v.pre.is_empty() {
                v.patch += 1;
            }
            v.build = semver::BuildMetadata::EMPTY;
            v.pre = semver::Prerelease::new(&format!("SNAPSHOT-{short}"))
                .unwrap_or(semver::Prerelease::EMPTY);
            (v, build.nearest_tag.clone().unwrap_or_default(), true)
        };
        let branch = match build.event {
            crate::Event::Pr => build.pr_head_ref.clone().unwrap_or_default(),
            _ => build.branch().unwrap_or("").to_owned(),
        };
        let version_text = if version.pre.is_empty() {
            format!("{}.{}.{}", version.major, version.minor, version.patch)
        } else {
            format!(
                "{}.{}.{}-{}",
                version.major, version.minor, version.patch, version.pre
            )
        };
        Self {
            version: version_text,
            major: version.major,
            minor: version.minor,
            patch: version.patch,
            prerelease: if is_snapshot {
                String::new()
            } else {
                version.pre.to_string()
            },
            tag,
            short_commit: short,
            full_commit: build.sha.clone().unwrap_or_default(),
            branch,
            commit_date: build
                .commit_time
                .map(|t| rfc3339_utc(t.seconds))
                .unwrap_or_default(),
            is_snapshot,
            is_git_dirty: build.dirty,
        }
    }
}
