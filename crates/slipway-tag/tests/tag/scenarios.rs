//! Tag lists for real repositories, one scenario per test.

use slipway_tag::{
    BuildRef, Event, Flavor, Options, TemplateValues, annotations, compute_tags, is_valid_tag,
};

use crate::repo::{Repo, build, rules, tags, tags_ci};

/// The usual release set: full version, minor line, major line, commit.
const SEMVER: [&str; 4] = [
    "type=semver,pattern={{version}}",
    "type=semver,pattern={{major}}.{{minor}}",
    "type=semver,pattern={{major}}",
    "type=sha",
];

fn list(t: &slipway_tag::TagSet) -> Vec<&str> {
    t.tags.iter().map(String::as_str).collect()
}

#[test]
fn semver_tag_with_v_moves_everything() {
    let r = Repo::new();
    r.commit("feat: one");
    r.tag("v1.0.0");
    let head = r.commit("feat: two");
    r.tag("v1.1.0");
    let t = tags(&r, &SEMVER);
    assert_eq!(
        list(&t),
        ["1.1.0", "1.1", "1", &Repo::short(&head), "latest"]
    );
    assert_eq!(list(&tags(&r, &[])), ["v1.1.0", "latest"]);
}

#[test]
fn semver_tag_without_v() {
    let r = Repo::new();
    let head = r.commit("feat: one");
    r.tag("2.0.0");
    assert_eq!(
        list(&tags(&r, &SEMVER)),
        ["2.0.0", "2.0", "2", &Repo::short(&head), "latest"]
    );
    assert_eq!(list(&tags(&r, &[])), ["2.0.0", "latest"]);
}

#[test]
fn prerelease_gets_only_its_version() {
    let r = Repo::new();
    r.commit("feat: one");
    r.tag("v1.1.0");
    let head = r.commit("feat: two");
    r.tag("v1.2.0-rc.1");
    assert_eq!(
        list(&tags(&r, &SEMVER)),
        ["1.2.0-rc.1", &Repo::short(&head)]
    );
    // metadata-action's ref/tag rule would add `latest` here.
    assert_eq!(list(&tags(&r, &[])), ["v1.2.0-rc.1"]);
    // `{{raw}}` keeps the tag as written.
    assert_eq!(
        list(&tags(&r, &["type=semver,pattern={{raw}}"])),
        ["v1.2.0-rc.1"]
    );
    // Explicit latest=true is the user's decision and is honoured.
    let forced = tags_ci(
        &r,
        &["type=semver,pattern={{version}}"],
        &["latest=true"],
        &[],
    );
    assert_eq!(list(&forced), ["1.2.0-rc.1", "latest"]);
}

#[test]
fn patch_on_an_old_minor_line_moves_only_that_line() {
    let r = Repo::new();
    r.commit("feat: one");
    r.tag("v1.2.0");
    r.git(&["branch", "release-1.2"]);
    r.commit("feat: two");
    r.tag("v1.3.0");
    r.git(&["checkout", "-q", "release-1.2"]);
    let head = r.commit("fix: backport");
    r.tag("v1.2.1");
    assert_eq!(
        list(&tags(&r, &SEMVER)),
        ["1.2.1", "1.2", &Repo::short(&head)]
    );
    assert_eq!(list(&tags(&r, &[])), ["v1.2.1"]);
    let t = tags(&r, &SEMVER);
    assert_eq!(
        t.notes,
        [
            "type=semver,pattern={{major}}: v1.2.1 is not the highest release of its line; \
          the moving tag stays where it is"
        ]
    );
}

#[test]
fn patch_on_an_old_major_line_moves_its_major_but_not_latest() {
    let r = Repo::new();
    r.commit("feat: one");
    r.tag("v1.0.0");
    r.git(&["branch", "v1"]);
    r.commit("feat!: two");
    r.tag("v2.0.0");
    r.git(&["checkout", "-q", "v1"]);
    let head = r.commit("fix: backport");
    r.tag("v1.0.1");
    assert_eq!(
        list(&tags(&r, &SEMVER)),
        ["1.0.1", "1.0", "1", &Repo::short(&head)]
    );
    assert!(!tags(&r, &SEMVER).latest);
}

#[test]
fn detached_head_without_a_tag_has_no_ref_tags() {
    let r = Repo::new();
    let first = r.commit("feat: one");
    r.commit("feat: two");
    r.git(&["checkout", "-q", "--detach", &first]);
    assert!(list(&tags(&r, &[])).is_empty());
    assert_eq!(
        list(&tags(&r, &["type=ref,event=branch", "type=sha"])),
        [Repo::short(&first)]
    );
    let b = build(&r, BuildRef::default(), &[], Options::default());
    assert_eq!(b.event, Event::Push);
    assert_eq!(b.git_ref, None);
}

#[test]
fn detached_head_at_a_tag_is_a_tag_event() {
    let r = Repo::new();
    r.commit("feat: one");
    r.tag("v0.3.0");
    r.commit("feat: two");
    r.git(&["checkout", "-q", "--detach", "v0.3.0"]);
    assert_eq!(
        list(&tags(&r, &SEMVER[..3])),
        ["0.3.0", "0.3", "0", "latest"]
    );
}

#[test]
fn dirty_tree_is_reported_untracked_files_are_not() {
    let r = Repo::new();
    let head = r.commit("feat: one");
    r.tag("v1.0.0");
    std::fs::write(r.path().join("untracked.txt"), "x").unwrap();
    let clean = TemplateValues::new(&build(&r, BuildRef::default(), &[], Options::default()));
    assert!(!clean.is_git_dirty);
    std::fs::write(r.path().join("README"), "changed").unwrap();
    let b = build(&r, BuildRef::default(), &[], Options::default());
    let v = TemplateValues::new(&b);
    assert!(v.is_git_dirty);
    assert!(!v.is_snapshot);
    assert_eq!(v.version, "1.0.0");
    assert_eq!(v.full_commit, head);
    assert_eq!(v.commit_date, "2024-01-02T03:00:02Z");
    // Tags do not change with a dirty tree.
    assert_eq!(list(&tags(&r, &[])), ["v1.0.0", "latest"]);
}

#[test]
fn snapshot_template_values() {
    let r = Repo::new();
    r.commit("feat: one");
    r.tag("v1.4.2");
    let head = r.commit("fix: two");
    let v = TemplateValues::new(&build(&r, BuildRef::default(), &[], Options::default()));
    assert!(v.is_snapshot);
    assert_eq!(v.version, format!("1.4.3-SNAPSHOT-{}", &head[..7]));
    assert_eq!((v.major, v.minor, v.patch), (1, 4, 3));
    assert_eq!(v.branch, "main");
    assert_eq!(v.tag, "v1.4.2");
    assert_eq!(v.short_commit, &head[..7]);
}

/// A PR head commit `feature` and the merge commit CI would build, checked out detached.
fn pr_repo() -> (Repo, String, String) {
    let r = Repo::new();
    r.commit("feat: base");
    r.git(&["checkout", "-q", "-b", "feature"]);
    let head = r.commit_in("src/a", "fix: in the PR");
    r.git(&["checkout", "-q", "main"]);
    r.commit_in("src/b", "feat: on main meanwhile");
    r.git(&["checkout", "-q", "--detach"]);
    r.git(&[
        "merge",
        "-q",
        "--no-ff",
        "-m",
        "Merge abc into def",
        "feature",
    ]);
    let merge = r.head();
    (r, head, merge)
}

#[test]
fn pr_build_is_named_after_the_head_commit_not_the_merge() {
    let (r, head, merge) = pr_repo();
    let ci = [
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_EVENT_NAME", "pull_request"),
        ("GITHUB_REF", "refs/pull/5/merge"),
        ("GITHUB_SHA", merge.as_str()),
    ];
    let with_sha = [
        "type=ref,event=pr",
        "type=sha",
        "type=sha,format=long,prefix=",
    ];
    let t = tags_ci(&r, &with_sha, &[], &ci);
    assert_eq!(list(&t), ["pr-5", &Repo::short(&head), head.as_str()]);
    let b = build(&r, BuildRef::default(), &ci, Options::default());
    assert_eq!(b.sha.as_deref(), Some(head.as_str()));
    assert_eq!(b.merge_sha.as_deref(), Some(merge.as_str()));
    let ann = annotations(&b, &t);
    assert_eq!(ann["org.opencontainers.image.revision"], head);
    assert_eq!(ann["org.opencontainers.image.version"], "pr-5");
}

#[test]
fn pr_payload_head_sha_wins() {
    let (r, head, merge) = pr_repo();
    let payload = r.path().join("event.json");
    std::fs::write(
        &payload,
        format!(r#"{{"pull_request":{{"number":9,"head":{{"sha":"{head}","ref":"feature"}},"base":{{"ref":"main"}}}}}}"#),
    )
    .unwrap();
    let ci = [
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_EVENT_NAME", "pull_request"),
        ("GITHUB_REF", "refs/pull/9/merge"),
        ("GITHUB_SHA", merge.as_str()),
        ("GITHUB_EVENT_PATH", payload.to_str().unwrap()),
    ];
    let t = tags_ci(&r, &["type=ref,event=pr", "type=sha"], &[], &ci);
    assert_eq!(list(&t), ["pr-9", &Repo::short(&head)]);
    let v = TemplateValues::new(&build(&r, BuildRef::default(), &ci, Options::default()));
    assert_eq!(v.branch, "feature");
}

#[test]
fn pr_event_given_on_the_branch_itself_uses_head() {
    let (r, head, _) = pr_repo();
    r.git(&["checkout", "-q", "feature"]);
    let mut cli = BuildRef::default();
    cli.event = Some(Event::Pr);
    cli.pr_number = Some(3);
    let b = build(&r, cli, &[], Options::default());
    let t = compute_tags(
        &b,
        &rules(&["type=ref,event=pr", "type=sha"]),
        &Flavor::default(),
    )
    .unwrap();
    assert_eq!(list(&t), ["pr-3", &Repo::short(&head)]);
}

#[test]
fn gitlab_merge_request() {
    let (r, head, merge) = pr_repo();
    let ci = [
        ("GITLAB_CI", "true"),
        ("CI_PIPELINE_SOURCE", "merge_request_event"),
        ("CI_COMMIT_SHA", merge.as_str()),
        ("CI_MERGE_REQUEST_IID", "12"),
        ("CI_MERGE_REQUEST_SOURCE_BRANCH_SHA", head.as_str()),
        ("CI_PROJECT_URL", "https://gitlab.example/acme/api"),
    ];
    let t = tags_ci(&r, &["type=ref,event=pr", "type=sha"], &[], &ci);
    assert_eq!(list(&t), ["pr-12", &Repo::short(&head)]);
}

#[test]
fn branch_names_with_slashes_and_unicode() {
    let r = Repo::new();
    r.commit("feat: one");
    r.git(&["checkout", "-q", "-b", "feature/login/v2"]);
    assert_eq!(list(&tags(&r, &[])), ["feature-login-v2"]);
    r.git(&["checkout", "-q", "-b", "feat/ünïcode"]);
    let a = tags(&r, &[]);
    r.git(&["checkout", "-q", "-b", "feat/ünícode"]);
    let b = tags(&r, &[]);
    // Lossy mapping: readable part plus a hash of the real name, so the two stay apart.
    assert_eq!(list(&a), ["feat-n-code-f198321b"]);
    assert_eq!(list(&b), ["feat-n-code-dab136ae"]);
}

#[test]
fn branch_names_of_300_characters() {
    let r = Repo::new();
    r.commit("feat: one");
    // A 300-character ref needs `/`: no file system takes a 300-byte file name for the loose ref.
    let stem = format!("{}/{}/", "x".repeat(100), "y".repeat(100));
    let long_a = format!("{stem}{}a", "z".repeat(97));
    let long_b = format!("{stem}{}b", "z".repeat(97));
    assert_eq!(long_a.chars().count(), 300);
    r.git(&["checkout", "-q", "-b", &long_a]);
    let a = tags(
        &r,
        &["type=ref,event=branch", "type=raw,value={{branch}}-build"],
    );
    r.git(&["checkout", "-q", "-b", &long_b]);
    let b = tags(&r, &["type=ref,event=branch"]);
    assert_eq!(a.tags.len(), 2);
    let readable = format!("{}-{}-", "x".repeat(100), "y".repeat(18));
    for t in a.tags.iter().chain(&b.tags) {
        assert_eq!(t.len(), 128, "{t}");
        assert!(is_valid_tag(t), "{t}");
        assert!(t.starts_with(&readable), "{t}");
    }
    assert_ne!(a.tags[0], b.tags[0]);
    assert_ne!(a.tags[0], a.tags[1]);
}

#[test]
fn monorepo_prefixes_compare_within_a_component() {
    let r = Repo::new();
    r.commit("feat: api");
    r.tag("services/api/v1.0.0");
    r.commit("feat: web");
    r.tag("services/web/v3.0.0");
    r.commit("feat: api again");
    r.tag("services/api/v1.1.0");
    let rules = [
        "type=semver,pattern={{version}}",
        "type=semver,pattern={{major}}",
        "type=ref,event=tag",
    ];
    assert_eq!(list(&tags(&r, &rules)), ["1.1.0", "1", "v1.1.0", "latest"]);
    assert_eq!(list(&tags(&r, &[])), ["v1.1.0", "latest"]);
    // An older api release made later does not take `latest` from 1.1.0.
    r.git(&["checkout", "-q", "-b", "api-1.0", "services/api/v1.0.0"]);
    r.commit("fix: api backport");
    r.tag("services/api/v1.0.1");
    assert_eq!(list(&tags(&r, &rules)), ["1.0.1", "v1.0.1"]);
}

#[test]
fn explicit_monorepo_prefix_selects_the_tag_at_head() {
    let r = Repo::new();
    r.commit("feat: both");
    r.tag("services/api/v2.0.0");
    r.tag("services/web/v0.4.0");
    let opts = Options::default().with_tag_prefix("services/web/");
    let b = build(&r, BuildRef::default(), &[], opts);
    let t = compute_tags(
        &b,
        &rules(&["type=semver,pattern={{version}}"]),
        &Flavor::default(),
    )
    .unwrap();
    assert_eq!(list(&t), ["0.4.0", "latest"]);
    // Without a prefix, the highest version at HEAD is built.
    assert_eq!(
        list(&tags(&r, &["type=semver,pattern={{version}}"])),
        ["2.0.0", "latest"]
    );
}

#[test]
fn no_tags_at_all() {
    let r = Repo::new();
    let head = r.commit("feat: one");
    assert_eq!(list(&tags(&r, &[])), ["main"]);
    assert_eq!(list(&tags(&r, &SEMVER)), [Repo::short(&head)]);
    assert_eq!(list(&tags(&r, &["type=edge"])), ["edge"]);
    let v = TemplateValues::new(&build(&r, BuildRef::default(), &[], Options::default()));
    assert_eq!(v.version, format!("0.0.1-SNAPSHOT-{}", &head[..7]));
}

#[test]
fn latest_auto_asks_every_rule_not_the_first() {
    let r = Repo::new();
    r.commit("feat: one");
    r.tag("v3.1.0");
    // metadata-action decides `latest` from the first rule by priority (here the raw one: no latest).
    let t = tags(
        &r,
        &[
            "type=raw,value=release,priority=1000",
            "type=semver,pattern={{version}}",
        ],
    );
    assert_eq!(list(&t), ["release", "3.1.0", "latest"]);
}

#[test]
fn flavor_prefix_suffix_and_onlatest() {
    let r = Repo::new();
    r.commit("feat: one");
    r.tag("v1.0.0");
    let t = tags_ci(
        &r,
        &[
            "type=semver,pattern={{version}}",
            "type=raw,value=x,prefix=",
            "type=sha,enable=false",
        ],
        &["prefix=api-,onlatest=true", "suffix=-alpine"],
        &[],
    );
    assert_eq!(list(&t), ["api-1.0.0-alpine", "x-alpine", "api-latest"]);
    let off = tags_ci(
        &r,
        &["type=semver,pattern={{version}}"],
        &["latest=false"],
        &[],
    );
    assert_eq!(list(&off), ["1.0.0"]);
}

#[test]
fn schedule_and_default_branch_expressions() {
    let r = Repo::new();
    r.commit("feat: one");
    let mut cli = BuildRef::default();
    cli.event = Some(Event::Schedule);
    // 2024-03-01T00:30:00Z
    let b = build(&r, cli, &[], Options::default().with_now(1_709_253_000));
    let rule_list = rules(&[
        "type=schedule",
        "type=schedule,pattern={{date 'YYYYMMDD' tz='-01:00'}}",
        "type=raw,value=stable,enable={{is_default_branch}}",
        "type=ref,event=branch",
    ]);
    let t = compute_tags(&b, &rule_list, &Flavor::default()).unwrap();
    assert_eq!(list(&t), ["nightly", "20240229", "main", "stable"]);
}

#[test]
fn ci_branch_push_with_default_branch_from_ci() {
    let r = Repo::new();
    let head = r.commit("feat: one");
    r.git(&["checkout", "-q", "--detach"]);
    let ci = [
        ("GITLAB_CI", "true"),
        ("CI_PIPELINE_SOURCE", "push"),
        ("CI_COMMIT_BRANCH", "trunk"),
        ("CI_COMMIT_SHA", head.as_str()),
        ("CI_DEFAULT_BRANCH", "trunk"),
    ];
    let t = tags_ci(
        &r,
        &[
            "type=edge",
            "type=ref,event=branch",
            "type=raw,value=latest,enable={{is_default_branch}}",
        ],
        &[],
        &ci,
    );
    assert_eq!(list(&t), ["edge", "trunk", "latest"]);
}

#[test]
fn annotations_from_git() {
    let r = Repo::new();
    let head = r.commit("feat: one");
    r.tag("v1.0.0");
    r.git(&["remote", "add", "origin", "git@github.com:acme/api.git"]);
    let b = build(
        &r,
        BuildRef::default(),
        &[("SLIPWAY_LICENSES", "Apache-2.0")],
        Options::default(),
    );
    let t = compute_tags(&b, &slipway_tag::TagRule::defaults(), &Flavor::default()).unwrap();
    let ann: Vec<String> = annotations(&b, &t)
        .into_iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    assert_eq!(
        ann,
        [
            "org.opencontainers.image.created=2024-01-02T03:00:02Z".to_owned(),
            "org.opencontainers.image.licenses=Apache-2.0".to_owned(),
            format!("org.opencontainers.image.revision={head}"),
            "org.opencontainers.image.source=https://github.com/acme/api".to_owned(),
            "org.opencontainers.image.title=api".to_owned(),
            "org.opencontainers.image.url=https://github.com/acme/api".to_owned(),
            "org.opencontainers.image.version=v1.0.0".to_owned(),
        ]
    );
}

#[test]
fn tag_event_without_a_tag_is_an_error() {
    let r = Repo::new();
    r.commit("feat: one");
    let git = slipway_tag::GitRepo::discover(r.path()).unwrap();
    let mut b = git.read().unwrap();
    b.event = Some(Event::Tag);
    let err = slipway_tag::Build::resolve(b, Options::default()).unwrap_err();
    assert_eq!(err.to_string(), "tag event: no tag points at HEAD");
}

/// What libgit2 reports must match what the git CLI says about the same repository.
fn assert_matches_git_cli(r: &Repo) {
    let git = slipway_tag::GitRepo::discover(r.path())
        .unwrap()
        .read()
        .unwrap();
    let cli_nearest = std::process::Command::new("git")
        .args(["describe", "--tags", "--abbrev=0"])
        .current_dir(r.path())
        .output()
        .unwrap();
    let nearest = cli_nearest.status.success().then(|| {
        String::from_utf8(cli_nearest.stdout)
            .unwrap()
            .trim()
            .to_owned()
    });
    assert_eq!(git.nearest_tag, nearest, "nearest tag");
    let points_at: Vec<String> = r
        .git(&["tag", "--points-at", "HEAD"])
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(git.tags_at_head, points_at, "tags at HEAD");
    let current = r.git(&["branch", "--show-current"]);
    assert_eq!(git.branch.unwrap_or_default(), current, "branch");
    assert_eq!(git.head_commit.unwrap(), r.head(), "HEAD");
    let status = r.git(&["status", "--porcelain", "--untracked-files=no"]);
    assert_eq!(git.dirty, Some(!status.is_empty()), "dirty");
    let mut all: Vec<String> = r
        .git(&["tag", "--list"])
        .lines()
        .map(str::to_owned)
        .collect();
    all.sort();
    assert_eq!(git.repo_tags, all, "all tags");
}

#[test]
fn git_facts_match_the_git_cli() {
    let r = Repo::new();
    r.commit("feat: one");
    assert_matches_git_cli(&r);
    r.tag("v1.0.0");
    r.git(&["tag", "lightweight"]);
    assert_matches_git_cli(&r);
    r.commit("fix: two");
    r.git(&["branch", "side"]);
    r.commit("fix: three");
    r.tag("v1.0.1");
    r.git(&["checkout", "-q", "side"]);
    r.commit_in("side.txt", "feat: side");
    assert_matches_git_cli(&r);
    r.git(&["merge", "-q", "--no-ff", "-m", "merge", "main"]);
    assert_matches_git_cli(&r);
    r.git(&["checkout", "-q", "--detach", "v1.0.0"]);
    assert_matches_git_cli(&r);
    std::fs::write(r.path().join("README"), "dirty").unwrap();
    assert_matches_git_cli(&r);
}

#[test]
fn non_version_tag_gets_no_latest() {
    let r = Repo::new();
    r.commit("feat: one");
    r.tag("v1.0.0");
    r.commit("feat: two");
    r.git(&["tag", "deployed-prod"]);
    assert_eq!(list(&tags(&r, &[])), ["deployed-prod"]);
    assert_eq!(list(&tags(&r, &SEMVER[..1])), Vec::<&str>::new());
    let err = "type=raw,value={{brnach}}"
        .parse::<slipway_tag::TagRule>()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "rule `type=raw,value={{brnach}}`: field `value`: `{{brnach}}`, column 1: unknown expression \
         `brnach` (known: branch, tag, sha, base_ref, is_default_branch, date, commit_date)"
    );
}

#[test]
fn pr_flag_on_a_detached_ci_merge_uses_its_second_parent() {
    let (r, head, merge) = pr_repo();
    let mut cli = BuildRef::default();
    cli.event = Some(Event::Pr);
    cli.pr_number = Some(8);
    let b = build(&r, cli, &[], Options::default());
    assert_eq!(b.git_ref.as_deref(), Some("refs/pull/8/merge"));
    assert_eq!(b.sha.as_deref(), Some(head.as_str()));
    assert_eq!(b.merge_sha.as_deref(), Some(merge.as_str()));
}

#[test]
fn ci_tag_missing_locally_is_reported() {
    let r = Repo::new();
    r.commit("feat: one");
    let ci = [
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_EVENT_NAME", "push"),
        ("GITHUB_REF", "refs/tags/v9.9.9"),
    ];
    let t = tags_ci(&r, &[], &[], &ci);
    assert_eq!(list(&t), ["v9.9.9", "latest"]);
    assert_eq!(
        t.notes,
        [
            "tag v9.9.9 is not among the repository's 0 tags: fetch all tags (e.g. fetch-depth: 0) so that \
          `latest` and moving tags are decided against every release"
        ]
    );
}
