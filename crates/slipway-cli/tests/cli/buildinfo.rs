//! `slipway gomod buildinfo FILE [--json]` prints what `go version -m [-json] FILE` prints.

use slipway_testkit::{go, run_ok, testdata};

use crate::run;

#[test]
fn buildinfo_prints_what_go_version_m_prints() {
    let tmp = tempfile::tempdir().unwrap();
    let bin = tmp.path().join("hello");
    run_ok(
        go().current_dir(testdata("hello"))
            .env("CGO_ENABLED", "0")
            .args(["build", "-ldflags", "-X main.version=9.9.9", "-o"])
            .arg(&bin)
            .arg("./cmd/hello"),
    );
    let name = bin.to_str().unwrap();
    for json in [false, true] {
        let mut args = vec!["version", "-m"];
        if json {
            args.push("-json");
        }
        args.push(name);
        let want = run_ok(go().args(&args)).stdout;
        let mut ours = vec!["gomod", "buildinfo", name];
        if json {
            ours.push("--json");
        }
        let out = run(&ours);
        assert!(out.status.success(), "{out:?}");
        assert_eq!(
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8(want).unwrap(),
            "json: {json}"
        );
    }
}

#[test]
fn buildinfo_of_a_non_go_file_fails_as_go_version_m_does() {
    use std::os::unix::fs::PermissionsExt as _;
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("script.sh");
    std::fs::write(&file, "#!/bin/sh\necho not a Go program\n").unwrap();
    // go reports the reason only for files that look executable; otherwise it fails silently.
    for mode in [0o644, 0o755] {
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode)).unwrap();
        let want = go().args(["version", "-m"]).arg(&file).output().unwrap();
        let out = run(&["gomod", "buildinfo", file.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(want.status.code(), Some(1));
        assert_eq!(
            String::from_utf8(out.stderr).unwrap(),
            String::from_utf8(want.stderr).unwrap(),
            "mode {mode:o}"
        );
    }
}
