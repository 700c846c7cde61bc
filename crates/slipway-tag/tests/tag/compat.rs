//! Cases from docker/metadata-action's README where slipway means to agree with it: one rule, one ref,
//! the tags the README documents (`latest` included where `latest=auto` gives it).

use slipway_tag::{Build, BuildRef, Event, Flavor, Options, TagRule, compute_tags};

const SHA: &str = "860c1904a1ce19322e91ac35af1ab07466440c37";

fn tags_for(rule: &str, event: Event, git_ref: &str) -> Vec<String> {
    let mut b = BuildRef::default();
    b.event = Some(event);
    b.git_ref = Some(git_ref.to_owned());
    b.sha = Some(SHA.to_owned());
    b.default_branch = Some("master".to_owned());
    if let Some(tag) = git_ref.strip_prefix("refs/tags/") {
        b.repo_tags = vec![tag.to_owned()];
    }
    // 2020-01-10T00:30:00Z, the date metadata-action's tests freeze.
    let build = Build::resolve(b, Options::default().with_now(1_578_616_200)).unwrap();
    let rule: TagRule = rule.parse().unwrap();
    compute_tags(&build, &[rule], &Flavor::default())
        .unwrap()
        .tags
}

/// (rule, event, ref, tags).
const CASES: &[(&str, Event, &str, &[&str])] = &[
    (
        "type=semver,pattern={{version}}",
        Event::Tag,
        "refs/tags/v1.2.3",
        &["1.2.3", "latest"],
    ),
    (
        "type=semver,pattern={{major}}.{{minor}}",
        Event::Tag,
        "refs/tags/v1.2.3",
        &["1.2", "latest"],
    ),
    (
        "type=semver,pattern={{major}}",
        Event::Tag,
        "refs/tags/v1.2.3",
        &["1", "latest"],
    ),
    (
        "type=semver,pattern=v{{major}}",
        Event::Tag,
        "refs/tags/v1.2.3",
        &["v1", "latest"],
    ),
    (
        "type=semver,pattern={{raw}}",
        Event::Tag,
        "refs/tags/v1.2.3",
        &["v1.2.3", "latest"],
    ),
    (
        "type=semver,pattern={{version}}",
        Event::Tag,
        "refs/tags/v2.0.8-beta.67",
        &["2.0.8-beta.67"],
    ),
    (
        "type=semver,pattern={{major}}.{{minor}}",
        Event::Tag,
        "refs/tags/v2.0.8-beta.67",
        &["2.0.8-beta.67"],
    ),
    (
        "type=semver,pattern={{raw}}",
        Event::Tag,
        "refs/tags/v2.0.8-beta.67",
        &["v2.0.8-beta.67"],
    ),
    (
        "type=semver,pattern={{version}},value=v1.0.0",
        Event::Push,
        "refs/heads/master",
        &["1.0.0", "latest"],
    ),
    (
        r"type=match,pattern=\d.\d.\d",
        Event::Tag,
        "refs/tags/v1.2.3",
        &["1.2.3", "latest"],
    ),
    (
        r"type=match,pattern=v(.*),group=1",
        Event::Tag,
        "refs/tags/v1.2.3",
        &["1.2.3", "latest"],
    ),
    (
        r"type=match,pattern=^v(\d+)\.(\d+),group=2",
        Event::Tag,
        "refs/tags/v1.2.3",
        &["2", "latest"],
    ),
    (
        "type=edge,branch=master",
        Event::Push,
        "refs/heads/master",
        &["edge"],
    ),
    ("type=edge", Event::Push, "refs/heads/dev", &[]),
    (
        "type=ref,event=branch",
        Event::Push,
        "refs/heads/master",
        &["master"],
    ),
    (
        "type=ref,event=tag",
        Event::Tag,
        "refs/tags/v1.2.3",
        &["v1.2.3", "latest"],
    ),
    (
        "type=ref,event=pr",
        Event::Pr,
        "refs/pull/2/merge",
        &["pr-2"],
    ),
    (
        "type=raw,value=foo",
        Event::Push,
        "refs/heads/master",
        &["foo"],
    ),
    (
        "type=raw,value={{branch}}-{{sha}}",
        Event::Push,
        "refs/heads/master",
        &["master-860c190"],
    ),
    (
        "type=sha",
        Event::Push,
        "refs/heads/master",
        &["sha-860c190"],
    ),
    (
        "type=sha,format=long",
        Event::Push,
        "refs/heads/master",
        &["sha-860c1904a1ce19322e91ac35af1ab07466440c37"],
    ),
    (
        "type=schedule",
        Event::Schedule,
        "refs/heads/master",
        &["nightly"],
    ),
    (
        "type=schedule,pattern={{date 'YYYYMMDD'}}",
        Event::Schedule,
        "refs/heads/master",
        &["20200110"],
    ),
    (
        "type=schedule,pattern={{date 'YYYYMMDD-hhmmss' tz='+09:00'}}",
        Event::Schedule,
        "refs/heads/master",
        &["20200110-093000"],
    ),
    (
        "type=raw,value=latest,enable={{is_default_branch}}",
        Event::Push,
        "refs/heads/master",
        &["latest"],
    ),
    (
        "type=raw,value=latest,enable={{is_default_branch}}",
        Event::Push,
        "refs/heads/dev",
        &[],
    ),
];

#[test]
fn readme_cases() {
    for (rule, event, git_ref, want) in CASES {
        assert_eq!(
            &tags_for(rule, *event, git_ref),
            want,
            "{rule} on {git_ref}"
        );
    }
}
