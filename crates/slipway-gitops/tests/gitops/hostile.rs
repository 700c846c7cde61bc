//! A `GitOps` repository is other people's bytes: symbolic links, huge files and stale temporary files in it
//! must not make an edit read or write outside the work tree, or read without bound.

use std::os::unix::fs::symlink;
use std::path::PathBuf;

use slipway_gitops::git::Change;
use slipway_gitops::{Error, ImageSpec, SetImage, env, files};

fn request() -> SetImage {
    SetImage::new(ImageSpec::parse("api=ghcr.io/acme/api:v2").expect("spec"))
}

#[test]
fn a_file_over_the_limit_is_refused_without_reading_it_all() {
    let tmp = tempfile::tempdir().expect("tmp");
    let file = tmp.path().join("kustomization.yaml");
    // Sparse: the size is declared, the bytes are not on disk.
    std::fs::File::create(&file)
        .and_then(|f| f.set_len(files::FILE_LIMIT + 1))
        .expect("sparse file");
    let err = files::set_image_in(&file, &request()).expect_err("too large");
    assert!(
        matches!(&err, Error::TooLarge { reason, .. } if reason.contains("larger")),
        "{err:?}"
    );
}

#[test]
fn a_symbolic_link_is_neither_followed_for_reading_nor_written_through() {
    let tmp = tempfile::tempdir().expect("tmp");
    let secret = tmp.path().join("secret.yaml");
    std::fs::write(&secret, "images:\n- name: api\n  newTag: v1\n").expect("secret");
    let repo = tmp.path().join("repo");
    std::fs::create_dir(&repo).expect("repo");
    let link = repo.join("kustomization.yaml");
    symlink(&secret, &link).expect("symlink");
    let err = files::set_image_in(&link, &request()).expect_err("symlink");
    assert!(
        matches!(&err, Error::TooLarge { reason, .. } if reason.contains("symbolic link")),
        "{err:?}"
    );
    // A link to a device would otherwise be read forever.
    let zero = repo.join("values.yaml");
    symlink("/dev/zero", &zero).expect("symlink");
    assert!(files::set_image_in(&zero, &request()).is_err());
    assert_eq!(
        std::fs::read_to_string(&secret).expect("secret"),
        "images:\n- name: api\n  newTag: v1\n"
    );
}

#[test]
fn a_planted_temporary_file_link_does_not_redirect_the_write() {
    let tmp = tempfile::tempdir().expect("tmp");
    let victim = tmp.path().join("victim");
    std::fs::write(&victim, "keep me\n").expect("victim");
    let deploy = tmp.path().join("deploy");
    env::init(&deploy, "api", false).expect("init");
    let overlay = env::overlay(&deploy, "dev");
    symlink(&victim, overlay.with_extension("slipway-tmp")).expect("symlink");
    files::set_image_in(&overlay, &request())
        .expect("edit")
        .expect("changed");
    assert_eq!(
        std::fs::read_to_string(&victim).expect("victim"),
        "keep me\n"
    );
    assert!(
        std::fs::read_to_string(&overlay)
            .expect("overlay")
            .contains("newTag: v2")
    );
}

#[test]
fn a_directory_link_out_of_the_work_tree_is_refused() {
    let tmp = tempfile::tempdir().expect("tmp");
    let outside = tmp.path().join("outside");
    env::init(&outside, "api", false).expect("init");
    let before = std::fs::read_to_string(env::overlay(&outside, "dev")).expect("read");
    let root = tmp.path().join("repo");
    std::fs::create_dir(&root).expect("repo");
    symlink(&outside, root.join("deploy")).expect("symlink");
    let change = Change::SetImage {
        path: PathBuf::from("deploy/overlays/dev/kustomization.yaml"),
        request: request(),
    };
    let err = change.apply(&root).expect_err("outside");
    assert!(matches!(&err, Error::OutsideWorkTree { .. }), "{err:?}");
    let promote = Change::Promote {
        deploy_dir: "deploy".into(),
        from: "dev".into(),
        to: "prod".into(),
    };
    assert!(matches!(
        promote.apply(&root),
        Err(Error::OutsideWorkTree { .. })
    ));
    assert_eq!(
        std::fs::read_to_string(env::overlay(&outside, "dev")).expect("read"),
        before
    );
}
