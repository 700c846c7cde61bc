//! `next_version` over real conventional-commit histories.

use std::path::Path;

use slipway_tag::{GitRepo, NextOptions};

use crate::repo::Repo;

fn next(r: &Repo, prefix: Option<&str>, path: Option<&str>, pre: Option<&str>) -> String {
    let mut opts = NextOptions::default();
    if let Some(p) = pre {
        opts = opts.with_prerelease(p);
    }
    GitRepo::discover(r.path())
        .unwrap()
        .next_version(prefix, path.map(Path::new), &opts)
        .unwrap()
        .tag
}

#[test]
fn fix_feat_breaking() {
    let r = Repo::new();
    r.commit("feat: first");
    r.tag("v1.2.3");
    assert_eq!(next(&r, None, None, None), "v1.2.3");
    r.commit("fix: a bug");
    assert_eq!(next(&r, None, None, None), "v1.2.4");
    r.commit("feat(api): a feature");
    r.commit("fix: another bug");
    assert_eq!(next(&r, None, None, None), "v1.3.0");
    r.commit("refactor!: drop the old API");
    assert_eq!(next(&r, None, None, None), "v2.0.0");
}

#[test]
fn breaking_change_footer() {
    let r = Repo::new();
    r.commit("feat: first");
    r.tag("2.0.0");
    r.commit("chore: move config\n\nBREAKING CHANGE: the config file moved");
    assert_eq!(next(&r, None, None, None), "3.0.0");
}

#[test]
fn v0_rules_and_no_tags() {
    let r = Repo::new();
    r.commit("chore: init");
    assert_eq!(next(&r, None, None, None), "v0.0.1");
    r.commit("feat: something");
    assert_eq!(next(&r, None, None, None), "v0.1.0");
    r.tag("v0.1.0");
    r.commit("feat!: break it");
    assert_eq!(next(&r, None, None, None), "v0.2.0");
    let mut opts = NextOptions::default();
    opts.major_on_v0 = true;
    let n = GitRepo::discover(r.path())
        .unwrap()
        .next_version(None, None, &opts)
        .unwrap();
    assert_eq!(n.tag, "v1.0.0");
    assert_eq!(n.commits, 1);
}

#[test]
fn non_conventional_commits_still_bump_patch() {
    let r = Repo::new();
    r.commit("feat: first");
    r.tag("v1.0.0");
    r.commit("Update README");
    assert_eq!(next(&r, None, None, None), "v1.0.1");
}

#[test]
fn prerelease_counters() {
    let r = Repo::new();
    r.commit("feat: first");
    r.tag("v1.0.0");
    r.commit("feat: second");
    assert_eq!(next(&r, None, None, Some("rc")), "v1.1.0-rc.1");
    r.tag("v1.1.0-rc.1");
    r.commit("fix: in rc");
    // The base stays the last release; the counter continues.
    assert_eq!(next(&r, None, None, Some("rc")), "v1.1.0-rc.2");
    assert_eq!(next(&r, None, None, None), "v1.1.0");
    assert_eq!(next(&r, None, None, Some("beta")), "v1.1.0-beta.1");
}

#[test]
fn highest_reachable_release_is_the_base() {
    let r = Repo::new();
    r.commit("feat: first");
    r.tag("v1.2.0");
    r.git(&["branch", "release-1.2"]);
    r.commit("feat: second");
    r.tag("v1.3.0");
    r.git(&["checkout", "-q", "release-1.2"]);
    r.commit_in("fix.txt", "fix: backport");
    // v1.3.0 is not reachable from the maintenance branch.
    assert_eq!(next(&r, None, None, None), "v1.2.1");
    r.tag("v1.2.1");
    r.git(&["checkout", "-q", "main"]);
    r.git(&[
        "merge",
        "-q",
        "--no-ff",
        "-m",
        "Merge release-1.2",
        "release-1.2",
    ]);
    // After merging the maintenance line back, v1.3.0 is the highest release reachable; the backported
    // fix counts since it is not in v1.3.0.
    assert_eq!(next(&r, None, None, None), "v1.3.1");
}

#[test]
fn monorepo_prefix_and_path() {
    let r = Repo::new();
    r.commit_in("services/api/main.go", "feat: api");
    r.tag("services/api/v1.0.0");
    r.commit_in("services/web/main.go", "feat: web");
    r.tag("services/web/v0.3.0");
    r.commit_in("services/web/main.go", "feat!: web rewrite");
    r.commit_in("services/api/main.go", "fix: api bug");
    let api = Some("services/api/");
    assert_eq!(
        next(&r, api, Some("services/api"), None),
        "services/api/v1.0.1"
    );
    assert_eq!(
        next(&r, Some("services/web/"), Some("services/web"), None),
        "services/web/v0.4.0"
    );
    // Without the path filter the web rewrite counts for the api too.
    assert_eq!(next(&r, api, None, None), "services/api/v2.0.0");
    // Without a prefix, prefixed tags are not releases: nothing was released yet.
    assert_eq!(next(&r, None, None, None), "v0.1.0");
}

#[test]
fn path_with_no_changes_keeps_the_version() {
    let r = Repo::new();
    r.commit_in("a/x", "feat: a");
    r.tag("v1.0.0");
    r.commit_in("b/x", "feat: b");
    assert_eq!(next(&r, None, Some("a"), None), "v1.0.0");
    assert_eq!(next(&r, None, Some("b"), None), "v1.1.0");
}
