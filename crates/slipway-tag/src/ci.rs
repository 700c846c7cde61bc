//! The build context from CI variables: GitHub Actions, GitLab CI, and `SLIPWAY_*` overrides.
//!
//! The variables are handed in (a map); nothing here reads the process environment, so tests and tools can
//! describe any CI run. The only I/O is reading GitHub's event payload file named by `GITHUB_EVENT_PATH`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::Value;

use crate::error::{Error, Result};
use crate::source::{BuildRef, Event, RefSource, SourceError};

/// CI variables as a [`RefSource`].
///
/// | CI | detected by | event from |
/// |---|---|---|
/// | GitHub Actions | `GITHUB_ACTIONS=true` | `GITHUB_EVENT_NAME`, `GITHUB_REF`; PR number and head SHA from the `GITHUB_EVENT_PATH` JSON |
/// | GitLab CI | `GITLAB_CI=true` | `CI_PIPELINE_SOURCE`, `CI_COMMIT_TAG`, `CI_COMMIT_BRANCH`, `CI_MERGE_REQUEST_*` |
/// | any | `SLIPWAY_*` set | `SLIPWAY_EVENT`, `SLIPWAY_REF`, `SLIPWAY_SHA`, `SLIPWAY_PR`, `SLIPWAY_PR_HEAD_SHA`, `SLIPWAY_DEFAULT_BRANCH` |
///
/// `SLIPWAY_*` variables override what the CI variables say. `SLIPWAY_REF` may be a full ref or a branch
/// name. `SLIPWAY_SOURCE_URL`, `SLIPWAY_TITLE`, `SLIPWAY_DESCRIPTION`, `SLIPWAY_LICENSES` and
/// `SOURCE_DATE_EPOCH` feed the OCI annotations.
///
/// ```
/// use slipway_tag::{CiEnv, Event};
/// let ci = CiEnv::from_vars([
///     ("GITLAB_CI", "true"),
///     ("CI_PIPELINE_SOURCE", "merge_request_event"),
///     ("CI_COMMIT_SHA", "0123456789abcdef0123456789abcdef01234567"),
///     ("CI_MERGE_REQUEST_IID", "42"),
/// ]);
/// let b = ci.read()?;
/// assert_eq!(b.event, Some(Event::Pr));
/// assert_eq!(b.pr_number, Some(42));
/// Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct CiEnv {
    vars: BTreeMap<String, String>,
}

impl CiEnv {
    /// Wraps a set of variables (e.g. `std::env::vars()` at the edge of a program).
    pub fn from_vars<K: Into<String>, V: Into<String>>(
        vars: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Self {
            vars: vars
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    /// A variable's value; empty values count as unset (CI systems export many variables empty).
    fn get(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    fn owned(&self, name: &str) -> Option<String> {
        self.get(name).map(str::to_owned)
    }

    /// Which CI system the variables describe, if any.
    pub fn provider(&self) -> Option<&'static str> {
        if self.get("GITHUB_ACTIONS") == Some("true") {
            Some("github")
        } else if self.get("GITLAB_CI") == Some("true") {
            Some("gitlab")
        } else {
            None
        }
    }

    /// Reads the build context the variables describe.
    pub fn read(&self) -> Result<BuildRef> {
        let mut b = match self.provider() {
            Some("github") => self.github()?,
            Some(_) => self.gitlab()?,
            None => BuildRef::default(),
        };
        self.apply_overrides(&mut b)?;
        if let Some(epoch) = self.get("SOURCE_DATE_EPOCH") {
            b.source_date_epoch = Some(epoch.parse().map_err(|_| Error::Env {
                variable: "SOURCE_DATE_EPOCH".to_owned(),
                value: epoch.to_owned(),
                reason: "not a number of seconds".to_owned(),
            })?);
        }
        Ok(b)
    }

    fn github(&self) -> Result<BuildRef> {
        let mut b = BuildRef {
            git_ref: self.owned("GITHUB_REF"),
            sha: self.owned("GITHUB_SHA"),
            pr_head_ref: self.owned("GITHUB_HEAD_REF"),
            pr_base_ref: self.owned("GITHUB_BASE_REF"),
            ..BuildRef::default()
        };
        if let (Some(server), Some(repo)) =
            (self.get("GITHUB_SERVER_URL"), self.get("GITHUB_REPOSITORY"))
        {
            b.source_url = Some(format!("{}/{repo}", server.trim_end_matches('/')));
            b.title = repo.rsplit('/').next().map(str::to_owned);
        }
        let event_name = self.get("GITHUB_EVENT_NAME").unwrap_or("");
        let payload = match self.get("GITHUB_EVENT_PATH") {
            Some(path) => Some(read_payload(PathBuf::from(path))?),
            None => None,
        };
        if let Some(payload) = &payload {
            let repo = &payload["repository"];
            b.default_branch = str_at(repo, &["default_branch"]);
            b.description = str_at(repo, &["description"]);
            b.licenses = str_at(repo, &["license", "spdx_id"]).filter(|l| l != "NOASSERTION");
            if b.title.is_none() {
                b.title = str_at(repo, &["name"]);
            }
        }
        b.event = Some(match event_name {
            "pull_request" | "pull_request_target" => Event::Pr,
            "schedule" => Event::Schedule,
            _ if b
                .git_ref
                .as_deref()
                .is_some_and(|r| r.starts_with("refs/tags/")) =>
            {
                Event::Tag
            }
            _ => Event::Push,
        });
        if b.event == Some(Event::Pr) {
            if let Some(pr) = payload.as_ref().map(|p| &p["pull_request"]) {
                b.pr_number = pr["number"].as_u64();
                b.pr_head_sha = str_at(pr, &["head", "sha"]);
                b.pr_base_ref = str_at(pr, &["base", "ref"]).or(b.pr_base_ref);
                b.pr_head_ref = str_at(pr, &["head", "ref"]).or(b.pr_head_ref);
            }
            if b.pr_number.is_none() {
                b.pr_number = b.git_ref.as_deref().and_then(pr_number_from_ref);
            }
            // pull_request_target runs on the base branch: its GITHUB_REF/GITHUB_SHA are the base's, not
            // the PR's, so they must not be used as the PR's ref or commit.
            if event_name == "pull_request_target" {
                b.git_ref = b.pr_number.map(|n| format!("refs/pull/{n}/merge"));
                b.sha = None;
            }
        }
        Ok(b)
    }

    fn gitlab(&self) -> Result<BuildRef> {
        let mut b = BuildRef {
            sha: self.owned("CI_COMMIT_SHA"),
            default_branch: self.owned("CI_DEFAULT_BRANCH"),
            source_url: self.owned("CI_PROJECT_URL"),
            title: self.owned("CI_PROJECT_NAME"),
            description: self.owned("CI_PROJECT_DESCRIPTION"),
            pr_head_ref: self.owned("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME"),
            pr_base_ref: self.owned("CI_MERGE_REQUEST_TARGET_BRANCH_NAME"),
            ..BuildRef::default()
        };
        let source = self.get("CI_PIPELINE_SOURCE").unwrap_or("");
        if let Some(iid) = self.get("CI_MERGE_REQUEST_IID") {
            b.pr_number = Some(parse_number("CI_MERGE_REQUEST_IID", iid)?);
        }
        if source == "merge_request_event" || b.pr_number.is_some() {
            b.event = Some(Event::Pr);
            // In merged-results pipelines CI_COMMIT_SHA is GitLab's merge commit and the source branch's
            // commit is only in CI_MERGE_REQUEST_SOURCE_BRANCH_SHA (empty otherwise).
            b.pr_head_sha = self
                .owned("CI_MERGE_REQUEST_SOURCE_BRANCH_SHA")
                .or_else(|| b.sha.clone());
            b.git_ref = b.pr_number.map(|n| format!("refs/merge-requests/{n}/head"));
        } else if let Some(tag) = self.get("CI_COMMIT_TAG") {
            b.event = Some(Event::Tag);
            b.git_ref = Some(format!("refs/tags/{tag}"));
        } else {
            b.event = Some(if source == "schedule" {
                Event::Schedule
            } else {
                Event::Push
            });
            b.git_ref = self
                .get("CI_COMMIT_BRANCH")
                .map(|br| format!("refs/heads/{br}"));
        }
        Ok(b)
    }

    fn apply_overrides(&self, b: &mut BuildRef) -> Result<()> {
        if let Some(event) = self.get("SLIPWAY_EVENT") {
            b.event = Some(event.parse().map_err(|reason| Error::Env {
                variable: "SLIPWAY_EVENT".to_owned(),
                value: event.to_owned(),
                reason,
            })?);
        }
        if let Some(r) = self.get("SLIPWAY_REF") {
            b.git_ref = Some(if r.starts_with("refs/") {
                r.to_owned()
            } else {
                format!("refs/heads/{r}")
            });
        }
        if let Some(sha) = self.get("SLIPWAY_SHA") {
            b.sha = Some(check_sha("SLIPWAY_SHA", sha)?);
        }
        if let Some(pr) = self.get("SLIPWAY_PR") {
            b.pr_number = Some(parse_number("SLIPWAY_PR", pr)?);
        }
        if let Some(sha) = self.get("SLIPWAY_PR_HEAD_SHA") {
            b.pr_head_sha = Some(check_sha("SLIPWAY_PR_HEAD_SHA", sha)?);
        }
        for (var, field) in [
            ("SLIPWAY_DEFAULT_BRANCH", &mut b.default_branch),
            ("SLIPWAY_SOURCE_URL", &mut b.source_url),
            ("SLIPWAY_TITLE", &mut b.title),
            ("SLIPWAY_DESCRIPTION", &mut b.description),
            ("SLIPWAY_LICENSES", &mut b.licenses),
        ] {
            if let Some(v) = self.get(var) {
                *field = Some(v.to_owned());
            }
        }
        Ok(())
    }
}

impl RefSource for CiEnv {
    fn build_ref(&self) -> Result<BuildRef, SourceError> {
        Ok(self.read()?)
    }
}

fn parse_number(variable: &str, value: &str) -> Result<u64> {
    value.parse().map_err(|_| Error::Env {
        variable: variable.to_owned(),
        value: value.to_owned(),
        reason: "not a positive number".to_owned(),
    })
}

fn check_sha(variable: &str, value: &str) -> Result<String> {
    if (4..=64).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(value.to_ascii_lowercase())
    } else {
        Err(Error::Env {
            variable: variable.to_owned(),
            value: value.to_owned(),
            reason: "not a hexadecimal commit id".to_owned(),
        })
    }
}

/// `refs/pull/7/merge`, `refs/pull/7/head` and GitLab's `refs/merge-requests/7/head` -> 7.
pub(crate) fn pr_number_from_ref(git_ref: &str) -> Option<u64> {
    let rest = git_ref
        .strip_prefix("refs/pull/")
        .or_else(|| git_ref.strip_prefix("refs/merge-requests/"))?;
    rest.split('/').next()?.parse().ok()
}

/// The largest event payload read. GitHub's webhook payloads are capped at 25 MB; a file beyond that is
/// not an event, and an endless one (a FIFO, `/dev/zero`) must not be read to the end.
pub const EVENT_PAYLOAD_LIMIT: u64 = 25 << 20;

fn read_payload(path: PathBuf) -> Result<Value> {
    use std::io::Read as _;
    let unreadable = |message: String| Error::EventPayload {
        path: path.clone(),
        line: 0,
        column: 0,
        message,
    };
    let file = std::fs::File::open(&path).map_err(|e| unreadable(e.to_string()))?;
    let mut bytes = Vec::new();
    file.take(EVENT_PAYLOAD_LIMIT + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| unreadable(e.to_string()))?;
    if bytes.len() as u64 > EVENT_PAYLOAD_LIMIT {
        return Err(unreadable(format!(
            "larger than {EVENT_PAYLOAD_LIMIT} bytes (GitHub's limit for event payloads)"
        )));
    }
    let text = String::from_utf8(bytes).map_err(|e| unreadable(e.to_string()))?;
    serde_json::from_str(&text).map_err(|e| Error::EventPayload {
        path,
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    })
}

fn str_at(value: &Value, path: &[&str]) -> Option<String> {
    let mut v = value;
    for key in path {
        v = v.get(key)?;
    }
    v.as_str().filter(|s| !s.is_empty()).map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_push_and_tag() {
        let b = CiEnv::from_vars([
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_EVENT_NAME", "push"),
            ("GITHUB_REF", "refs/tags/v1.0.0"),
            ("GITHUB_SHA", "abc1234"),
            ("GITHUB_SERVER_URL", "https://github.com"),
            ("GITHUB_REPOSITORY", "acme/api"),
        ])
        .read()
        .unwrap();
        assert_eq!(b.event, Some(Event::Tag));
        assert_eq!(b.source_url.as_deref(), Some("https://github.com/acme/api"));
        assert_eq!(b.title.as_deref(), Some("api"));
    }

    #[test]
    fn github_pr_payload_gives_head_sha() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("event.json");
        std::fs::write(
            &path,
            r#"{"pull_request":{"number":7,"head":{"sha":"feedface","ref":"feat/x"},"base":{"ref":"main"}},
               "repository":{"default_branch":"main","license":{"spdx_id":"MIT"}}}"#,
        )
        .unwrap();
        let b = CiEnv::from_vars([
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_EVENT_NAME", "pull_request"),
            ("GITHUB_REF", "refs/pull/7/merge"),
            ("GITHUB_SHA", "0000merge"),
            ("GITHUB_EVENT_PATH", path.to_str().unwrap()),
        ])
        .read()
        .unwrap();
        assert_eq!(b.event, Some(Event::Pr));
        assert_eq!(b.pr_number, Some(7));
        assert_eq!(b.pr_head_sha.as_deref(), Some("feedface"));
        assert_eq!(b.default_branch.as_deref(), Some("main"));
        assert_eq!(b.licenses.as_deref(), Some("MIT"));
    }

    #[test]
    fn endless_payloads_stop_at_the_limit() {
        let err = CiEnv::from_vars([
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_EVENT_PATH", "/dev/zero"),
        ])
        .read()
        .unwrap_err();
        assert!(err.to_string().contains("/dev/zero"), "{err}");
        assert!(
            matches!(&err, Error::EventPayload { message, .. } if message.contains("larger than")),
            "{err}"
        );
    }

    #[test]
    fn broken_payload_names_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("event.json");
        std::fs::write(&path, "{\n  \"a\": }").unwrap();
        let err = CiEnv::from_vars([
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_EVENT_PATH", path.to_str().unwrap()),
        ])
        .read()
        .unwrap_err();
        assert!(matches!(err, Error::EventPayload { line: 2, .. }), "{err}");
    }

    #[test]
    fn gitlab_tag_and_overrides() {
        let b = CiEnv::from_vars([
            ("GITLAB_CI", "true"),
            ("CI_PIPELINE_SOURCE", "push"),
            ("CI_COMMIT_TAG", "v2.0.0"),
            ("CI_COMMIT_SHA", "abcdef0"),
            ("CI_DEFAULT_BRANCH", "trunk"),
            ("SLIPWAY_DEFAULT_BRANCH", "main"),
        ])
        .read()
        .unwrap();
        assert_eq!(b.event, Some(Event::Tag));
        assert_eq!(b.git_ref.as_deref(), Some("refs/tags/v2.0.0"));
        assert_eq!(b.default_branch.as_deref(), Some("main"));
    }

    #[test]
    fn bad_overrides_are_errors() {
        let err = CiEnv::from_vars([("SLIPWAY_EVENT", "release")])
            .read()
            .unwrap_err();
        assert!(err.to_string().contains("SLIPWAY_EVENT"), "{err}");
        assert!(CiEnv::from_vars([("SLIPWAY_PR", "x")]).read().is_err());
        assert!(
            CiEnv::from_vars([("SLIPWAY_SHA", "not-hex")])
                .read()
                .is_err()
        );
    }

    #[test]
    fn pr_numbers_from_refs() {
        assert_eq!(pr_number_from_ref("refs/pull/12/merge"), Some(12));
        assert_eq!(pr_number_from_ref("refs/merge-requests/3/head"), Some(3));
        assert_eq!(pr_number_from_ref("refs/heads/main"), None);
    }
}
