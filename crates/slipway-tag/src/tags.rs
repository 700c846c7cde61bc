//! From a [`BuildRef`] and rules to tags: the pure core.

use serde::Serialize;

use crate::ci::pr_number_from_ref;
use crate::error::{Error, Result};
use crate::rule::{Flavor, Latest, RefEvent, RuleKind, TagRule};
use crate::sanitize::sanitize_tag;
use crate::source::{BuildRef, CommitTime, Event};
use crate::template::{Template, render_date};
use crate::version::{Line, TagVersion, is_highest_in_line};

/// Settings for resolving a build (beyond what the sources say).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Options {
    /// Monorepo tag prefix (`services/api/`): only tags starting with it are this component's releases.
    /// Without it, a tag's prefix is everything up to its last `/`.
    pub tag_prefix: Option<String>,
    /// The current time (seconds since the epoch) for `{{date}}`; injected so results are reproducible.
    pub now: i64,
    /// Length of short commit ids (`sha-` tags, `{{sha}}`, `ShortCommit`).
    pub short_sha_len: usize,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            tag_prefix: None,
            now: 0,
            short_sha_len: 7,
        }
    }
}

impl Options {
    /// Sets [`Self::tag_prefix`].
    #[must_use]
    pub fn with_tag_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.tag_prefix = Some(prefix.into()).filter(|p| !p.is_empty());
        self
    }

    /// Sets [`Self::now`].
    #[must_use]
    pub fn with_now(mut self, unix_seconds: i64) -> Self {
        self.now = unix_seconds;
        self
    }
}

/// A build with every question answered: which event, which ref, which commit.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct Build {
    /// The event.
    pub event: Event,
    /// The ref built (`refs/heads/…`, `refs/tags/…`, `refs/pull/N/merge`); `None` for a detached HEAD
    /// with no tag.
    pub git_ref: Option<String>,
    /// The commit the image is built from. For a PR this is the PR's head commit, never CI's merge commit.
    pub sha: Option<String>,
    /// CI's merge commit for a PR, when it differs from [`Self::sha`].
    pub merge_sha: Option<String>,
    /// The PR number.
    pub pr_number: Option<u64>,
    /// The PR's target branch.
    pub pr_base_ref: Option<String>,
    /// The PR's source branch.
    pub pr_head_ref: Option<String>,
    /// The repository's default branch.
    pub default_branch: Option<String>,
    /// The version of the tag being built, when it is one.
    #[serde(serialize_with = "ser_tag_version")]
    pub tag_version: Option<TagVersion>,
    /// The nearest tag reachable from HEAD.
    pub nearest_tag: Option<String>,
    /// When the commit was made.
    pub commit_time: Option<CommitTime>,
    /// Whether tracked files differ from HEAD.
    pub dirty: bool,
    /// The repository's browsable URL (`source` and `url` annotations).
    pub source_url: Option<String>,
    /// The project name (`title` annotation).
    pub title: Option<String>,
    /// The project description (`description` annotation).
    pub description: Option<String>,
    /// SPDX licence expression (`licenses` annotation).
    pub licenses: Option<String>,
    /// The image creation time: `SOURCE_DATE_EPOCH`, else the commit time, else now.
    pub created: i64,
    #[serde(skip)]
    pub(crate) repo_tags: Vec<String>,
    #[serde(skip)]
    pub(crate) options: Options,
}

// serde's `serialize_with` hands a reference to the field.
#[allow(clippy::ref_option)]
fn ser_tag_version<S: serde::Serializer>(v: &Option<TagVersion>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => s.serialize_some(&v.name),
        None => s.serialize_none(),
    }
}

fn is_pull_ref(r: &str) -> bool {
    r.starts_with("refs/pull/") || r.starts_with("refs/merge-requests/")
}

impl Build {
    /// Answers every open question of `b`: infers the event when no source gave one (a tag at HEAD means a
    /// tag event, else a push), picks the ref matching the event, and the commit to name the image after.
    pub fn resolve(b: BuildRef, options: Options) -> Result<Self> {
        let prefix = options.tag_prefix.clone();
        let prefixed = |t: &&String| prefix.as_deref().is_none_or(|p| t.starts_with(p));
        let head_tags: Vec<&String> = b.tags_at_head.iter().filter(prefixed).collect();
        let event = b.event.unwrap_or_else(|| match b.git_ref.as_deref() {
            Some(r) if r.starts_with("refs/tags/") => Event::Tag,
            Some(r) if is_pull_ref(r) => Event::Pr,
            Some(r) if r.starts_with("refs/heads/") => Event::Push,
            _ if !head_tags.is_empty() => Event::Tag,
            _ => Event::Push,
        });
        let context = |reason: &str| Error::Context {
            event,
            reason: reason.to_owned(),
        };
        let mut pr_number = None;
        let git_ref = match event {
            Event::Tag => match b.git_ref.as_deref() {
                Some(r) if r.starts_with("refs/tags/") => Some(r.to_owned()),
                _ => {
                    let tag = best_tag(&head_tags, prefix.as_deref())
                        .ok_or_else(|| context("no tag points at HEAD"))?;
                    Some(format!("refs/tags/{tag}"))
                }
            },
            Event::Pr => {
                let n = b
                    .pr_number
                    .or_else(|| b.git_ref.as_deref().and_then(pr_number_from_ref))
                    .ok_or_else(|| context("no pull request number (give --pr N)"))?;
                pr_number = Some(n);
                match b.git_ref.as_deref() {
                    Some(r) if is_pull_ref(r) && pr_number_from_ref(r) == Some(n) => {
                        Some(r.to_owned())
                    }
                    _ => Some(format!("refs/pull/{n}/merge")),
                }
            }
            Event::Push | Event::Schedule => match b.git_ref.as_deref() {
                Some(r) if r.starts_with("refs/heads/") => Some(r.to_owned()),
                _ => b.branch.as_ref().map(|br| format!("refs/heads/{br}")),
            },
        };

        let ci_sha = b.sha.clone().or_else(|| b.head_commit.clone());
        let mut sha = ci_sha.clone();
        let mut merge_sha = None;
        if event == Event::Pr {
            // CI checks out a synthetic merge of the PR into its base; tagging that commit names an image
            // after a commit nobody pushed. The PR head is in the payload, or is the merge's second parent.
            let checked_out_merge = b.detached == Some(true)
                && b.head_parents.len() == 2
                && git_ref.as_deref().is_some_and(|r| r.ends_with("/merge"))
                && (b.sha.is_none() || b.sha == b.head_commit);
            let head = b.pr_head_sha.clone().or_else(|| {
                checked_out_merge
                    .then(|| b.head_parents.get(1).cloned())
                    .flatten()
            });
            if let Some(head) = head {
                if ci_sha.as_ref().is_some_and(|s| *s != head) {
                    merge_sha.clone_from(&ci_sha);
                }
                sha = Some(head);
            }
        }

        let tag_version = git_ref
            .as_deref()
            .and_then(|r| r.strip_prefix("refs/tags/"))
            .and_then(|t| parse_version(t, prefix.as_deref()));
        let created = b
            .source_date_epoch
            .or(b.commit_time.map(|t| t.seconds))
            .unwrap_or(options.now);
        Ok(Build {
            event,
            git_ref,
            sha,
            merge_sha,
            pr_number,
            pr_base_ref: b.pr_base_ref,
            pr_head_ref: b.pr_head_ref,
            default_branch: b.default_branch,
            tag_version,
            nearest_tag: b.nearest_tag,
            commit_time: b.commit_time,
            dirty: b.dirty.unwrap_or(false),
            source_url: b.source_url,
            title: b.title,
            description: b.description,
            licenses: b.licenses,
            created,
            repo_tags: b.repo_tags,
            options,
        })
    }

    /// The branch being built (`refs/heads/` stripped), if any.
    pub fn branch(&self) -> Option<&str> {
        self.git_ref.as_deref()?.strip_prefix("refs/heads/")
    }

    /// The tag being built (`refs/tags/` stripped), if any.
    pub fn tag(&self) -> Option<&str> {
        self.git_ref.as_deref()?.strip_prefix("refs/tags/")
    }

    /// The commit id shortened to [`Options::short_sha_len`].
    pub fn short_sha(&self) -> Option<&str> {
        let sha = self.sha.as_deref()?;
        Some(sha.get(..self.options.short_sha_len).unwrap_or(sha))
    }

    /// The options the build was resolved with.
    pub fn options(&self) -> &Options {
        &self.options
    }

    /// Versions of the repository's tags that share `prefix` (the releases of the same component).
    pub(crate) fn versions_with_prefix(&self, prefix: &str) -> Vec<semver::Version> {
        self.repo_tags
            .iter()
            .filter_map(|t| TagVersion::parse_with_prefix(t, prefix))
            .map(|t| t.version)
            .collect()
    }

    fn is_default_branch(&self) -> bool {
        if self.event == Event::Schedule {
            // Scheduled runs always build the default branch (GitHub's rule, which metadata-action follows).
            return true;
        }
        match (self.branch(), self.default_branch.as_deref()) {
            (Some(b), Some(d)) => b == d,
            _ => false,
        }
    }

    /// Evaluates a global expression template (`{{branch}}`, `{{date 'YYYYMMDD'}}`, ...).
    pub(crate) fn expand(&self, rule: &str, field: &str, text: &str) -> Result<String> {
        let template = Template::parse(text).map_err(|(column, message)| Error::Template {
            rule: rule.to_owned(),
            field: field.to_owned(),
            template: text.to_owned(),
            column,
            message,
        })?;
        template
            .render(|name, args, hash| {
                let plain = || {
                    if args.is_empty() && hash.is_empty() {
                        Ok(())
                    } else {
                        Err(format!("`{name}` takes no arguments"))
                    }
                };
                match name {
                    "branch" => plain().map(|()| self.branch().unwrap_or("").to_owned()),
                    "tag" => plain().map(|()| self.tag().unwrap_or("").to_owned()),
                    "sha" => plain().map(|()| self.short_sha().unwrap_or("").to_owned()),
                    "base_ref" => plain().map(|()| match self.event {
                        Event::Pr => self.pr_base_ref.clone().unwrap_or_default(),
                        _ => String::new(),
                    }),
                    "is_default_branch" => plain().map(|()| self.is_default_branch().to_string()),
                    "date" => render_date(self.options.now, args, hash),
                    "commit_date" => render_date(
                        self.commit_time.map_or(self.options.now, |t| t.seconds),
                        args,
                        hash,
                    ),
                    other => Err(format!("unknown expression `{other}`")),
                }
            })
            .map_err(|(column, message)| Error::Template {
                rule: rule.to_owned(),
                field: field.to_owned(),
                template: text.to_owned(),
                column,
                message,
            })
    }
}

/// The tag at HEAD to build: with several, the highest version (a release tag beats others).
fn best_tag<'a>(tags: &[&'a String], prefix: Option<&str>) -> Option<&'a str> {
    let mut versions: Vec<(TagVersion, &String)> = tags
        .iter()
        .filter_map(|t| parse_version(t, prefix).map(|v| (v, *t)))
        .collect();
    versions.sort_by(|a, b| {
        a.0.version
            .cmp_precedence(&b.0.version)
            .then_with(|| a.1.cmp(b.1))
    });
    if let Some((_, t)) = versions.last() {
        return Some(t.as_str());
    }
    tags.iter().min().map(|t| t.as_str())
}

fn parse_version(tag: &str, prefix: Option<&str>) -> Option<TagVersion> {
    match prefix {
        Some(p) => TagVersion::parse_with_prefix(tag, p),
        None => TagVersion::parse(tag),
    }
}

/// The computed tags of one build.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct TagSet {
    /// The tags in output order: the main version first, then the others, then `latest` if given.
    pub tags: Vec<String>,
    /// The main version (the first tag), used as the `org.opencontainers.image.version` annotation.
    pub version: Option<String>,
    /// Whether `latest` (with the flavor's prefix/suffix when `onlatest`) was added.
    pub latest: bool,
    /// Why some rules produced nothing (not a semver, an older release line, ...), for the user; control
    /// characters in them are escaped ([`crate::text::escape_control`]).
    pub notes: Vec<String>,
}

impl TagSet {
    /// Full image references `IMAGE:TAG` (the image name lowercased, as registries require).
    pub fn references(&self, image: &str) -> Vec<String> {
        let image = image.to_lowercase();
        self.tags.iter().map(|t| format!("{image}:{t}")).collect()
    }
}

/// One rule's output: the tag text and whether it argues for `latest` under `latest=auto`.
struct Produced {
    value: String,
    auto_latest: bool,
}

/// Applies `rules` (highest priority first, stable for equal priorities) to the build.
///
/// See the crate documentation for where this deliberately differs from metadata-action.
pub fn compute_tags(build: &Build, rules: &[TagRule], flavor: &Flavor) -> Result<TagSet> {
    let mut ordered: Vec<&TagRule> = rules.iter().collect();
    ordered.sort_by_key(|r| std::cmp::Reverse(r.priority));
    let mut set = TagSet::default();
    if let Some(tag) = build
        .tag()
        .filter(|t| !build.repo_tags.iter().any(|r| r == t))
    {
        // CI checkouts are often shallow and fetch only the built tag: "highest release" would then be
        // decided without the other releases, and an old line's patch could take `latest`.
        set.notes.push(format!(
            "tag {tag} is not among the repository's {} tags: fetch all tags (e.g. fetch-depth: 0) so \
             that `latest` and moving tags are decided against every release",
            build.repo_tags.len()
        ));
    }
    let mut auto_latest = false;
    let mut any = false;
    for rule in ordered {
        let enabled = build.expand(&rule.text, "enable", &rule.enable)?;
        match enabled.as_str() {
            "true" => {}
            "false" => continue,
            other => {
                return Err(Error::InvalidField {
                    rule: rule.text.clone(),
                    column: 1,
                    field: "enable".to_owned(),
                    value: other.to_owned(),
                    reason: "must evaluate to true or false".to_owned(),
                });
            }
        }
        let Some(produced) = apply_rule(build, rule, &mut set.notes)? else {
            continue;
        };
        let prefix = match &rule.prefix {
            Some(p) => build.expand(&rule.text, "prefix", p)?,
            None => build.expand("flavor", "prefix", &flavor.prefix)?,
        };
        let suffix = match &rule.suffix {
            Some(s) => build.expand(&rule.text, "suffix", s)?,
            None => build.expand("flavor", "suffix", &flavor.suffix)?,
        };
        let Some(tag) = sanitize_tag(&format!("{prefix}{}{suffix}", produced.value)) else {
            continue;
        };
        any = true;
        auto_latest |= produced.auto_latest;
        if !set.tags.contains(&tag) {
            set.tags.push(tag);
        }
    }
    set.version = set.tags.first().cloned();
    set.latest = any
        && match flavor.latest {
            Latest::True => true,
            Latest::False => false,
            Latest::Auto => auto_latest,
        };
    if set.latest {
        let prefix = if flavor.prefix_on_latest {
            build.expand("flavor", "prefix", &flavor.prefix)?
        } else {
            String::new()
        };
        let suffix = if flavor.suffix_on_latest {
            build.expand("flavor", "suffix", &flavor.suffix)?
        } else {
            String::new()
        };
        if let Some(latest) = sanitize_tag(&format!("{prefix}latest{suffix}"))
            && !set.tags.contains(&latest)
        {
            set.tags.push(latest);
        }
    }
    // Notes quote refs and rule text, which CI variables control: one line each, control characters
    // escaped, so printing them cannot forge workflow commands.
    for note in &mut set.notes {
        if let std::borrow::Cow::Owned(escaped) = crate::text::escape_control(note) {
            *note = escaped;
        }
    }
    Ok(set)
}

// One arm per rule type, kept together so the types' differences are visible side by side.
#[allow(clippy::too_many_lines)]
fn apply_rule(build: &Build, rule: &TagRule, notes: &mut Vec<String>) -> Result<Option<Produced>> {
    let plain = |value: String| {
        Some(Produced {
            value,
            auto_latest: false,
        })
    };
    let prefix = build.options.tag_prefix.as_deref();
    Ok(match &rule.kind {
        RuleKind::Schedule { pattern } => {
            if build.event != Event::Schedule {
                return Ok(None);
            }
            plain(build.expand(&rule.text, "pattern", pattern)?)
        }
        RuleKind::Semver { pattern, value } => {
            let raw = match value {
                Some(v) => build.expand(&rule.text, "value", v)?,
                None if build.event == Event::Tag => match build.tag() {
                    Some(t) => t.to_owned(),
                    None => return Ok(None),
                },
                None => return Ok(None),
            };
            let Some(tv) = parse_version(&raw, prefix) else {
                notes.push(format!("{rule}: `{raw}` is not a semantic version"));
                return Ok(None);
            };
            let others = build.versions_with_prefix(&tv.prefix);
            let template =
                Template::parse(pattern).map_err(|(column, message)| Error::Template {
                    rule: rule.text.clone(),
                    field: "pattern".to_owned(),
                    template: pattern.clone(),
                    column,
                    message,
                })?;
            let raw_part = &tv.name[tv.prefix.len()..];
            let render = |t: &Template| {
                t.render(|name, _, _| {
                    let v = &tv.version;
                    Ok(match name {
                        "version" => tv.version_string(),
                        "major" => v.major.to_string(),
                        "minor" => v.minor.to_string(),
                        "patch" => v.patch.to_string(),
                        _ => raw_part.to_owned(),
                    })
                })
                .map_err(|(column, message)| Error::Template {
                    rule: rule.text.clone(),
                    field: "pattern".to_owned(),
                    template: pattern.clone(),
                    column,
                    message,
                })
            };
            if tv.is_prerelease() {
                // A pre-release only ever gets its own full version: short forms would move `1`/`1.2`
                // onto unfinished code.
                let value = if template.is_only("raw") {
                    raw_part.to_owned()
                } else {
                    tv.version_string()
                };
                plain(value)
            } else {
                let line = pattern_line(&template);
                if !is_highest_in_line(&tv.version, line, &others) {
                    notes.push(format!(
                        "{rule}: {} is not the highest release of its line; the moving tag stays where it is",
                        tv.name
                    ));
                    return Ok(None);
                }
                Some(Produced {
                    value: render(&template)?,
                    auto_latest: is_highest_in_line(&tv.version, Line::Repository, &others),
                })
            }
        }
        RuleKind::Match {
            pattern,
            group,
            value,
        } => {
            let raw = match value {
                Some(v) => build.expand(&rule.text, "value", v)?,
                None if build.event == Event::Tag => match build.tag() {
                    Some(t) => t.to_owned(),
                    None => return Ok(None),
                },
                None => return Ok(None),
            };
            let Some(found) = pattern.captures(&raw).and_then(|c| c.get(*group)) else {
                notes.push(format!("{rule}: no match in `{raw}`"));
                return Ok(None);
            };
            let auto_latest = parse_version(&raw, prefix).is_some_and(|tv| {
                is_highest_in_line(
                    &tv.version,
                    Line::Repository,
                    &build.versions_with_prefix(&tv.prefix),
                )
            });
            Some(Produced {
                value: found.as_str().to_owned(),
                auto_latest,
            })
        }
        RuleKind::Edge { branch } => {
            let wanted = branch.as_deref().or(build.default_branch.as_deref());
            match (build.branch(), wanted) {
                (Some(b), Some(w)) if b == w => plain("edge".to_owned()),
                _ => None,
            }
        }
        RuleKind::Ref {
            event: RefEvent::Branch,
        } => build.branch().and_then(|b| plain(b.to_owned())),
        RuleKind::Ref {
            event: RefEvent::Tag,
        } => match (build.tag(), &build.tag_version) {
            (Some(_), Some(tv)) => {
                // A monorepo's image is one component's: `services/api/v1.2.3` tags it `v1.2.3`.
                let others = build.versions_with_prefix(&tv.prefix);
                Some(Produced {
                    value: tv.name[tv.prefix.len()..].to_owned(),
                    auto_latest: is_highest_in_line(&tv.version, Line::Repository, &others),
                })
            }
            (Some(t), None) => plain(t.to_owned()),
            (None, _) => None,
        },
        RuleKind::Ref {
            event: RefEvent::Pr,
        } => match (build.event, build.pr_number) {
            (Event::Pr, Some(n)) => plain(n.to_string()),
            _ => None,
        },
        RuleKind::Raw { value } => plain(build.expand(&rule.text, "value", value)?),
        RuleKind::Sha { long } => {
            let sha = if *long {
                build.sha.as_deref()
            } else {
                build.short_sha()
            };
            sha.and_then(|s| plain(s.to_owned()))
        }
    })
}

/// Which release line a semver pattern's tag follows (see [`Line`]).
fn pattern_line(template: &Template) -> Line {
    let names: Vec<&str> = template.names().collect();
    if names
        .iter()
        .any(|n| matches!(*n, "version" | "raw" | "patch"))
    {
        Line::Exact
    } else if names.contains(&"minor") {
        Line::Minor
    } else if names.contains(&"major") {
        Line::Major
    } else {
        Line::Repository
    }
}
