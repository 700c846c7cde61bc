//! Image tags, versions and OCI annotations for a build, from git or a CI environment.
//!
//! The rules are docker/metadata-action's (`type=semver,pattern={{major}}.{{minor}}`, `type=ref,event=branch`,
//! priorities, `enable=`, `prefix=`/`suffix=`, flavor `latest=auto`), computed by a pure core from a
//! [`BuildRef`] that a [`RefSource`] supplies: a git repository ([`GitRepo`]), CI variables ([`CiEnv`]:
//! GitHub Actions, GitLab CI, `SLIPWAY_*`), or fixed values, layered with [`RefSourceExt::or`].
//!
//! Where slipway deliberately differs from metadata-action:
//!
//! - **No moving backwards.** `latest` goes only to the highest stable version among the repository's tags
//!   (with the same monorepo prefix). A moving semver tag follows its line: `{{major}}.{{minor}}` only for the
//!   highest patch of that minor line, `{{major}}` only for the highest release of that major line. So
//!   releasing 1.2.5 after 1.3.0 moves `1.2`, but not `1` or `latest`; releasing 1.9.1 after 2.0.0 moves
//!   `1.9` and `1`, not `latest`. Patterns without any version part (`stable`) behave like `latest`.
//! - **Pre-releases** only ever get their full version, never `latest` or short forms, under `latest=auto`,
//!   whichever rule produced them (metadata-action gives `latest` to a pre-release tag through
//!   `type=ref,event=tag`). Only semantic-version tags count as releases: a non-version tag gets its own
//!   tag but not `latest` under `auto`.
//! - `latest=auto` asks every rule that produced a tag, not only the first in priority order.
//! - **PR builds** are named after the PR's head commit (the payload's head SHA, or the second parent of a
//!   CI merge commit), never the synthetic merge commit.
//! - **OCI grammar always**: see [`sanitize_tag`] (hash suffix for lossy or over-long names).
//! - **Monorepos**: `services/api/v1.2.3` is version 1.2.3 of the `services/api/` component; its tags are
//!   compared only with that component's tags, and `type=ref,event=tag` gives `v1.2.3`.
//! - Unknown `{{expressions}}` are errors, not empty strings; `created` is the commit time (or
//!   `SOURCE_DATE_EPOCH`), not the wall clock.
//!
//! ```
//! use slipway_tag::{Build, BuildRef, Event, Flavor, Options, TagRule, compute_tags};
//!
//! let mut b = BuildRef::default();
//! b.git_ref = Some("refs/tags/v1.2.5".into());
//! b.sha = Some("0123456789abcdef0123456789abcdef01234567".into());
//! b.repo_tags = vec!["v1.2.4".into(), "v1.2.5".into(), "v1.3.0".into()];
//! let build = Build::resolve(b, Options::default())?;
//! assert_eq!(build.event, Event::Tag);
//!
//! let rules: Vec<TagRule> = ["type=semver,pattern={{version}}", "type=semver,pattern={{major}}.{{minor}}",
//!     "type=semver,pattern={{major}}", "type=sha"]
//!     .iter().map(|r| r.parse()).collect::<Result<_, _>>()?;
//! let tags = compute_tags(&build, &rules, &Flavor::default())?;
//! // 1.3.0 exists: `1` and `latest` stay on it; the 1.2 line moves.
//! assert_eq!(tags.tags, ["1.2.5", "1.2", "sha-0123456"]);
//! Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod annotations;
mod ci;
mod error;
mod git;
pub mod next;
mod rule;
mod sanitize;
mod source;
mod tags;
mod template;
pub mod text;
mod version;

pub use annotations::{TemplateValues, annotations};
pub use ci::CiEnv;
pub use error::{Error, Result};
pub use git::{GitRepo, NextVersion, browsable_url};
pub use next::{Bump, NextOptions, commit_bump, is_valid_prerelease_id, next_version};
pub use rule::{Flavor, Latest, RefEvent, RuleKind, TagRule};
pub use sanitize::{MAX_TAG_LEN, is_valid_tag, sanitize_tag};
pub use source::{
    BuildRef, CommitTime, Event, FromFn, Layered, RefSource, RefSourceExt, SourceError, from_fn,
};
pub use tags::{Build, Options, TagSet, compute_tags};
pub use version::{Line, TagVersion, cmp_versions, is_highest_in_line};

/// Reads a source, resolves the build and computes its tags in one call.
///
/// ```
/// use slipway_tag::{BuildRef, Event, Flavor, Options, TagRule, tags_for};
/// let mut b = BuildRef::default();
/// b.event = Some(Event::Pr);
/// b.pr_number = Some(7);
/// b.pr_head_sha = Some("feedfacefeedfacefeedfacefeedfacefeedface".into());
/// let tags = tags_for(&b, &TagRule::defaults(), &Flavor::default(), Options::default())?;
/// assert_eq!(tags.1.tags, ["pr-7"]);
/// Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn tags_for(
    source: &dyn RefSource,
    rules: &[TagRule],
    flavor: &Flavor,
    options: Options,
) -> Result<(Build, TagSet)> {
    let build_ref = source
        .build_ref()
        .map_err(|source| Error::Source { source })?;
    let build = Build::resolve(build_ref, options)?;
    let tags = compute_tags(&build, rules, flavor)?;
    Ok((build, tags))
}
