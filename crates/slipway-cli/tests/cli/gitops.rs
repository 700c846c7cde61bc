//! `slipway deploy init` and `slipway gitops set-image/promote` against real git repositories (a working
//! clone and a bare remote over file://), with `kubectl kustomize` rendering the result.

use std::path::Path;
use std::process::{Command, Output};

use crate::{run, slipway};

const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

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

fn ok(out: &Output) -> String {
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout.clone()).expect("utf-8")
}

fn fails_with(out: &Output, needle: &str) {
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(needle), "{stderr}");
}

/// `kubectl kustomize DIR`, or `None` (loudly) without kubectl.
fn kustomize(dir: &Path) -> Option<String> {
    let Some(kubectl) = slipway_testkit::find_tool("kubectl") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "kubectl is required in CI"
        );
        eprintln!("SKIPPED: kubectl is not installed; `kubectl kustomize` renders are not checked");
        return None;
    };
    let out = Command::new(kubectl)
        .arg("kustomize")
        .arg(dir)
        .output()
        .expect("kubectl runs");
    Some(ok(&out))
}

/// A working clone at `tmp/work` holding `slipway deploy init`'s layout for `api`, committed.
fn working_clone(tmp: &Path) -> std::path::PathBuf {
    let work = tmp.join("work");
    git(
        tmp,
        &["init", "-q", "-b", "main", work.to_str().expect("utf-8")],
    );
    std::fs::write(
        work.join("go.mod"),
        "module example.com/acme/api/v2\n\ngo 1.22\n",
    )
    .expect("go.mod");
    ok(&run(&[
        "deploy",
        "init",
        "-C",
        work.to_str().expect("utf-8"),
    ]));
    git(&work, &["add", "."]);
    git(&work, &["commit", "-q", "-m", "layout"]);
    work
}

/// A bare remote at `tmp/remote.git` seeded from a working clone; its file:// URL.
fn bare_remote(tmp: &Path) -> String {
    let work = working_clone(tmp);
    let bare = tmp.join("remote.git");
    git(
        tmp,
        &[
            "clone",
            "-q",
            "--bare",
            work.to_str().expect("utf-8"),
            bare.to_str().expect("utf-8"),
        ],
    );
    format!("file://{}", bare.display())
}

#[test]
fn deploy_init_writes_a_layout_kubectl_renders_and_refuses_to_overwrite() {
    let tmp = tempfile::tempdir().expect("tmp");
    let work = working_clone(tmp.path());
    for file in [
        "base/kustomization.yaml",
        "base/deployment.yaml",
        "base/service.yaml",
        "overlays/dev/kustomization.yaml",
        "overlays/staging/kustomization.yaml",
        "overlays/prod/kustomization.yaml",
    ] {
        assert!(work.join("deploy").join(file).is_file(), "{file}");
    }
    if let Some(rendered) = kustomize(&work.join("deploy/overlays/dev")) {
        // The service is named from the module path without its /v2 suffix.
        assert!(rendered.contains("name: api\n"), "{rendered}");
        assert!(rendered.contains("image: api:latest"), "{rendered}");
        assert!(rendered.contains("namespace: api-dev"), "{rendered}");
    }
    let dir = work.to_str().expect("utf-8");
    fails_with(&run(&["deploy", "init", "-C", dir]), "exists already");
    fails_with(
        &run(&["deploy", "init", "-C", dir, "--name", "Bad_Name"]),
        "--name",
    );
    ok(&run(&[
        "deploy", "init", "-C", dir, "--name", "web", "--force",
    ]));
    let prod = std::fs::read_to_string(work.join("deploy/overlays/prod/kustomization.yaml"))
        .expect("prod");
    assert!(prod.contains("- name: web\n"), "{prod}");
}

#[test]
fn set_image_on_a_working_clone_commits_in_place_and_a_repeat_changes_nothing() {
    let tmp = tempfile::tempdir().expect("tmp");
    let work = working_clone(tmp.path());
    let dir = work.to_str().expect("utf-8");
    let args = [
        "gitops",
        "set-image",
        "--repo",
        dir,
        "--path",
        "deploy",
        "--env",
        "dev",
        "--image",
        "api=ghcr.io/acme/api:v2",
        "--message",
        "deploy {tag} to {env}",
    ];
    let out = ok(&run(&args));
    let head = git(&work, &["rev-parse", "HEAD"]);
    assert!(
        out.starts_with(&format!("committed {}", head.trim())),
        "{out}"
    );
    assert_eq!(
        git(&work, &["log", "-1", "--format=%s"]),
        "deploy v2 to dev\n"
    );
    assert_eq!(git(&work, &["status", "--porcelain"]), "");
    if let Some(rendered) = kustomize(&work.join("deploy/overlays/dev")) {
        assert!(
            rendered.contains("image: ghcr.io/acme/api:v2"),
            "{rendered}"
        );
    }
    let again = ok(&run(&args));
    assert!(again.starts_with("nothing changed"), "{again}");
    assert_eq!(git(&work, &["rev-parse", "HEAD"]), head);
}

#[test]
fn set_image_and_promote_through_a_file_url_push_to_the_remote() {
    let tmp = tempfile::tempdir().expect("tmp");
    let url = bare_remote(tmp.path());
    let bare = tmp.path().join("remote.git");
    let image = format!("api=ghcr.io/acme/api@{DIGEST}");
    let out = ok(&run(&[
        "gitops",
        "set-image",
        "--repo",
        &url,
        "--path",
        "deploy",
        "--env",
        "staging",
        "--image",
        &image,
        "--push",
    ]));
    assert!(out.contains("pushed to origin main (1 attempt)"), "{out}");
    let staging = git(
        &bare,
        &["show", "main:deploy/overlays/staging/kustomization.yaml"],
    );
    assert!(
        staging.contains(&format!("digest: {DIGEST}")) && !staging.contains("newTag"),
        "{staging}"
    );
    let message = git(&bare, &["log", "-1", "--format=%B", "main"]);
    assert!(
        message.starts_with(&format!("Deploy ghcr.io/acme/api@{DIGEST} to staging\n")),
        "{message}"
    );

    let promote = [
        "gitops", "promote", "--repo", &url, "--path", "deploy", "--from", "staging", "--to",
        "prod", "--push",
    ];
    let out = ok(&run(&promote));
    assert!(out.contains("pushed to origin main"), "{out}");
    let prod = git(
        &bare,
        &["show", "main:deploy/overlays/prod/kustomization.yaml"],
    );
    assert!(prod.contains(&format!("digest: {DIGEST}")), "{prod}");
    // The rest of the overlay is byte for byte what `deploy init` wrote.
    let first = git(&bare, &["rev-list", "--max-parents=0", "main"]);
    let before = git(
        &bare,
        &[
            "show",
            &format!("{}:deploy/overlays/prod/kustomization.yaml", first.trim()),
        ],
    );
    assert_eq!(
        prod,
        before.replace(
            "newTag: latest",
            &format!("newName: ghcr.io/acme/api\n  digest: {DIGEST}")
        )
    );
    assert_eq!(git(&bare, &["rev-list", "--count", "main"]), "3\n");

    let head = git(&bare, &["rev-parse", "main"]);
    let again = ok(&run(&promote));
    assert!(again.starts_with("nothing changed"), "{again}");
    assert_eq!(git(&bare, &["rev-parse", "main"]), head);
}

#[test]
fn set_image_refusals_exit_1_naming_the_flag() {
    let tmp = tempfile::tempdir().expect("tmp");
    let work = working_clone(tmp.path());
    let dir = work.to_str().expect("utf-8");
    let base = [
        "gitops",
        "set-image",
        "--repo",
        dir,
        "--path",
        "deploy",
        "--env",
        "dev",
    ];
    let with = |extra: &[&str]| {
        let mut args = base.to_vec();
        args.extend_from_slice(extra);
        slipway().args(&args).output().expect("runs")
    };
    fails_with(&with(&["--image", "api"]), "--image");
    // A registry that is not there: the lookup fails, naming the flag and the image, and nothing is
    // committed.
    fails_with(
        &with(&["--image", "api=127.0.0.1:9/acme/api:v2", "--resolve"]),
        "--resolve: 127.0.0.1:9/acme/api:v2",
    );
    fails_with(
        &with(&["--image", "api:v2", "--message", "{nope}"]),
        "unknown placeholder `{nope}`",
    );
    let missing = tmp.path().join("nowhere.git");
    let url = format!("file://ci:hunter2@{}", missing.display());
    let out = run(&[
        "gitops",
        "set-image",
        "--repo",
        &url,
        "--path",
        "deploy",
        "--env",
        "dev",
        "--image",
        "api:v2",
    ]);
    fails_with(&out, "git clone failed");
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("hunter2"),
        "{out:?}"
    );
    assert_eq!(git(&work, &["rev-list", "--count", "HEAD"]), "1\n");
}

#[test]
fn set_image_resolve_pins_the_digest_the_registry_serves_for_the_tag() {
    use slipway_oci::image::{ImageBuilder, LayerBuilder};
    use slipway_oci::manifest::Flavor;
    use slipway_oci::platform::Platform;
    use slipway_oci::reference::Tag;
    use slipway_oci::store::{ManifestStore as _, OciLayout};

    let registry = slipway_testkit::registry();
    let tmp = tempfile::tempdir().expect("tmp");
    let layout = OciLayout::create(tmp.path().join("layout")).expect("layout");
    let layer = LayerBuilder::new()
        .file("app/api", 0o755, b"api v3".to_vec())
        .build()
        .expect("layer");
    let image = ImageBuilder::new(Platform::parse("linux/amd64").expect("platform"))
        .flavor(Flavor::Oci)
        .layer(layer)
        .write_to(&layout)
        .expect("image");
    layout
        .put_manifest(image.manifest(), Some(&Tag::new("v3").expect("tag")))
        .expect("tag");
    let digest = image.manifest().digest().to_string();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("time")
        .as_nanos();
    let repo = format!("{registry}/slipway-cli/resolve-{nanos}");
    let layout_ref = format!("oci:{}:v3", tmp.path().join("layout").display());
    ok(&run(&["copy", &layout_ref, &format!("{repo}:v3")]));

    let work = working_clone(tmp.path());
    let out = ok(&run(&[
        "gitops",
        "set-image",
        "--repo",
        work.to_str().expect("utf-8"),
        "--path",
        "deploy",
        "--env",
        "staging",
        "--image",
        &format!("api={repo}:v3"),
        "--resolve",
    ]));
    assert!(out.contains(&digest), "{out}");
    let overlay = std::fs::read_to_string(work.join("deploy/overlays/staging/kustomization.yaml"))
        .expect("overlay");
    assert!(overlay.contains(&format!("digest: {digest}")), "{overlay}");
    assert!(overlay.contains(&format!("newName: {repo}")), "{overlay}");
}
