use std::path::{Path, PathBuf};
use std::process::Command;

use slipway_gitops::git::{Change, Delivery};
use slipway_gitops::{Error, GitRepo, ImageSpec, Outcome, PushOptions, SetImage, env};

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@t")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@t")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

/// A bare remote holding the standard layout for `api` on `main`, and its file:// URL.
fn remote(tmp: &Path) -> String {
    let bare = tmp.join("remote.git");
    git(
        tmp,
        &[
            "init",
            "-q",
            "--bare",
            "-b",
            "main",
            bare.to_str().expect("utf-8"),
        ],
    );
    let seed = tmp.join("seed");
    git(
        tmp,
        &["init", "-q", "-b", "main", seed.to_str().expect("utf-8")],
    );
    env::init(&seed.join("deploy"), "api", false).expect("init");
    git(&seed, &["add", "."]);
    git(&seed, &["commit", "-q", "-m", "layout"]);
    git(
        &seed,
        &["push", "-q", bare.to_str().expect("utf-8"), "main"],
    );
    format!("file://{}", bare.display())
}

fn clone(url: &str, into: &Path, options: PushOptions) -> GitRepo {
    GitRepo::clone(
        url,
        into,
        None,
        options.author("slipway-test", "ci@example.com"),
    )
    .expect("clone")
}

fn set(env: &str, image: &str) -> Delivery {
    let mut d = Delivery::new(
        Change::SetImage {
            path: PathBuf::from("deploy/overlays")
                .join(env)
                .join("kustomization.yaml"),
            request: SetImage::new(ImageSpec::parse(image).expect("spec")),
        },
        image,
    );
    d.env = Some(env.to_owned());
    d.source_commit = Some("0123abc".to_owned());
    d
}

fn show_remote(tmp: &Path, path: &str) -> String {
    git(&tmp.join("remote.git"), &["show", &format!("main:{path}")])
}

#[test]
fn a_rejected_push_is_fetched_reapplied_and_retried_so_both_edits_land_linearly() {
    let tmp = tempfile::tempdir().expect("tmp");
    let url = remote(tmp.path());
    // Two pipelines clone the same head, then push one after the other: the second is rejected
    // (non-fast-forward) and must recover.
    let first = clone(
        &url,
        &tmp.path().join("a"),
        PushOptions::default().push(true),
    );
    let second = clone(
        &url,
        &tmp.path().join("b"),
        PushOptions::default().push(true),
    );
    let a = first
        .deliver_change(&set("dev", "api=ghcr.io/acme/api:v2"))
        .expect("first");
    assert!(
        matches!(
            a,
            Outcome::Committed {
                pushed: true,
                attempts: 1,
                ..
            }
        ),
        "{a:?}"
    );
    let b = second
        .deliver_change(&set("staging", "api=ghcr.io/acme/api:v1"))
        .expect("second");
    assert!(
        matches!(
            b,
            Outcome::Committed {
                pushed: true,
                attempts: 2,
                ..
            }
        ),
        "{b:?}"
    );
    assert!(
        show_remote(tmp.path(), "deploy/overlays/dev/kustomization.yaml").contains("newTag: v2")
    );
    assert!(
        show_remote(tmp.path(), "deploy/overlays/staging/kustomization.yaml")
            .contains("newTag: v1")
    );
    let log = git(
        &tmp.path().join("remote.git"),
        &["log", "--format=%p|%s", "main"],
    );
    assert_eq!(log.lines().count(), 3, "{log}");
    assert!(
        log.lines()
            .all(|l| !l.split('|').next().expect("parents").contains(' ')),
        "merge commit in {log}"
    );
    let message = git(
        &tmp.path().join("remote.git"),
        &["log", "-1", "--format=%B%an", "main"],
    );
    assert!(
        message.starts_with("Deploy api=ghcr.io/acme/api:v1 to staging\n"),
        "{message}"
    );
    assert!(
        message.contains("Tag: v1\nDigest: none\nSource commit: 0123abc\n"),
        "{message}"
    );
    assert!(message.ends_with("slipway-test\n"), "{message}");
}

#[test]
// `git push` lets receive-pack compare the remote ref's old value under its lock, so the pusher that loses
// the race is rejected and retries (with libgit2's file:// push about 1 run in 8 lost an edit).
fn concurrent_pushers_both_land() {
    let tmp = tempfile::tempdir().expect("tmp");
    let url = remote(tmp.path());
    let envs = ["dev", "prod"];
    let repos: Vec<GitRepo> = envs
        .iter()
        .map(|e| clone(&url, &tmp.path().join(e), PushOptions::default().push(true)))
        .collect();
    std::thread::scope(|s| {
        for (repo, env) in repos.iter().zip(envs) {
            s.spawn(move || {
                repo.deliver_change(&set(env, "api=ghcr.io/acme/api:v9"))
                    .expect("delivered")
            });
        }
    });
    for env in envs {
        let text = show_remote(
            tmp.path(),
            &format!("deploy/overlays/{env}/kustomization.yaml"),
        );
        assert!(text.contains("newTag: v9"), "{env}: {text}");
    }
    let log = git(
        &tmp.path().join("remote.git"),
        &["log", "--format=%p", "main"],
    );
    assert_eq!(log.lines().count(), 3, "{log}");
    assert!(
        log.lines().all(|l| !l.contains(' ')),
        "merge commit in {log}"
    );
}

#[test]
fn a_no_op_makes_no_commit() {
    let tmp = tempfile::tempdir().expect("tmp");
    let url = remote(tmp.path());
    let repo = clone(
        &url,
        &tmp.path().join("a"),
        PushOptions::default().push(true),
    );
    let before = git(&tmp.path().join("remote.git"), &["rev-parse", "main"]);
    let outcome = repo
        .deliver_change(&set("dev", "api:latest"))
        .expect("delivered");
    assert_eq!(outcome, Outcome::Unchanged);
    assert_eq!(
        git(&tmp.path().join("remote.git"), &["rev-parse", "main"]),
        before
    );
    assert_eq!(git(repo.workdir(), &["status", "--porcelain"]), "");
}

#[test]
fn review_branch_push_leaves_main_alone() {
    let tmp = tempfile::tempdir().expect("tmp");
    let url = remote(tmp.path());
    let options = PushOptions::default()
        .push(true)
        .review_branch(Some("slipway/api-v3".to_owned()));
    let repo = clone(&url, &tmp.path().join("a"), options);
    let main = git(&tmp.path().join("remote.git"), &["rev-parse", "main"]);
    let outcome = repo
        .deliver_change(&set("prod", "api=ghcr.io/acme/api:v3"))
        .expect("delivered");
    assert!(
        matches!(&outcome, Outcome::Committed { branch, pushed: true, .. } if branch == "slipway/api-v3"),
        "{outcome:?}"
    );
    assert_eq!(
        git(&tmp.path().join("remote.git"), &["rev-parse", "main"]),
        main
    );
    let text = git(
        &tmp.path().join("remote.git"),
        &[
            "show",
            "slipway/api-v3:deploy/overlays/prod/kustomization.yaml",
        ],
    );
    assert!(text.contains("newTag: v3"), "{text}");
}

#[test]
fn promote_through_git_copies_the_digest() {
    let tmp = tempfile::tempdir().expect("tmp");
    let url = remote(tmp.path());
    let repo = clone(
        &url,
        &tmp.path().join("a"),
        PushOptions::default().push(true),
    );
    let digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    repo.deliver_change(&set("staging", &format!("api=ghcr.io/acme/api@{digest}")))
        .expect("pin");
    let promote = Delivery::new(
        Change::Promote {
            deploy_dir: "deploy".into(),
            from: "staging".into(),
            to: "prod".into(),
        },
        format!("ghcr.io/acme/api@{digest}"),
    );
    assert!(matches!(
        repo.deliver_change(&promote).expect("promote"),
        Outcome::Committed { .. }
    ));
    let prod = show_remote(tmp.path(), "deploy/overlays/prod/kustomization.yaml");
    assert!(
        prod.contains(&format!("digest: {digest}")) && !prod.contains("newTag"),
        "{prod}"
    );
    assert_eq!(
        repo.deliver_change(&promote).expect("again"),
        Outcome::Unchanged
    );
}

#[test]
fn a_push_refused_by_a_hook_is_reported_not_retried() {
    let tmp = tempfile::tempdir().expect("tmp");
    let url = remote(tmp.path());
    let hook = tmp.path().join("remote.git/hooks/pre-receive");
    std::fs::write(&hook, "#!/bin/sh\necho 'protected branch' >&2\nexit 1\n").expect("hook");
    let mut perms = std::fs::metadata(&hook).expect("hook").permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&hook, perms).expect("chmod");
    let before = git(&tmp.path().join("remote.git"), &["rev-parse", "main"]);
    let repo = clone(
        &url,
        &tmp.path().join("a"),
        PushOptions::default().push(true),
    );
    let err = repo
        .deliver_change(&set("dev", "api=ghcr.io/acme/api:v2"))
        .expect_err("refused");
    assert!(
        matches!(&err, Error::PushRefused { refname, status } if refname == "refs/heads/main" && status.contains("remote rejected")),
        "{err:?}"
    );
    assert_eq!(
        git(&tmp.path().join("remote.git"), &["rev-parse", "main"]),
        before
    );
}

#[test]
fn uncommitted_changes_are_never_discarded_by_a_retry() {
    let tmp = tempfile::tempdir().expect("tmp");
    let url = remote(tmp.path());
    let repo = clone(
        &url,
        &tmp.path().join("a"),
        PushOptions::default().push(true),
    );
    let service = repo.workdir().join("deploy/base/service.yaml");
    std::fs::write(&service, "work in progress\n").expect("edit");
    let err = repo
        .deliver_change(&set("dev", "api=ghcr.io/acme/api:v2"))
        .expect_err("dirty");
    assert!(
        matches!(&err, Error::Dirty { file, .. } if file == "deploy/base/service.yaml"),
        "{err:?}"
    );
    assert_eq!(
        std::fs::read_to_string(&service).expect("read"),
        "work in progress\n"
    );
}

#[test]
fn an_unreachable_remote_is_a_git_error_without_credentials() {
    let tmp = tempfile::tempdir().expect("tmp");
    let missing = format!(
        "file://user:s3cret@{}",
        tmp.path().join("nowhere.git").display()
    );
    let err = GitRepo::clone(
        &missing,
        &tmp.path().join("a"),
        None,
        PushOptions::default(),
    )
    .expect_err("no such remote");
    let text = err.to_string();
    assert!(
        matches!(
            err,
            Error::Git {
                operation: "clone",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        !text.contains("s3cret") && !text.contains("user:"),
        "{text}"
    );
}
