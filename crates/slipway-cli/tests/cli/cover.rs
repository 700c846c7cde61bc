//! `slipway cover`: compared with `go tool cover` and `go tool covdata` output.

use std::path::PathBuf;

use slipway_testkit::{go, run_ok, testdata, workspace_root};

use crate::slipway;

fn cover_fixture(name: &str) -> PathBuf {
    workspace_root()
        .join("crates/slipway-cover/tests/fixtures/out")
        .join(name)
}

fn fixture_module() -> PathBuf {
    workspace_root().join("crates/slipway-cover/tests/fixtures/src")
}

#[test]
fn func_prints_what_go_tool_cover_printed_for_the_fixtures() {
    for name in [
        "set",
        "count",
        "atomic",
        "coverpkg-set",
        "coverpkg-count",
        "coverpkg-atomic",
    ] {
        let out = run_ok(
            slipway()
                .current_dir(fixture_module())
                .args(["cover", "func"])
                .arg(cover_fixture(&format!("{name}.out"))),
        );
        let want = std::fs::read_to_string(cover_fixture(&format!("{name}.func"))).unwrap();
        assert_eq!(String::from_utf8(out.stdout).unwrap(), want, "{name}");
    }
}

/// A fresh profile of testdata/hello made now by `go test` (in a temp dir kept alive by the first value), and
/// what `go tool cover -func` prints for it now.
fn hello_profile() -> (tempfile::TempDir, std::path::PathBuf, String) {
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("hello.out");
    let hello = testdata("hello");
    run_ok(
        go().current_dir(&hello)
            .args(["test", "-count=1", "-coverprofile"])
            .arg(&profile)
            .arg("./..."),
    );
    let func = run_ok(
        go().current_dir(testdata("hello"))
            .args(["tool", "cover"])
            .arg(format!("-func={}", profile.display())),
    );
    (dir, profile, String::from_utf8(func.stdout).unwrap())
}

/// A fresh profile of testdata/hello, made now by `go test`, against `go tool cover -func` run now.
#[test]
fn func_matches_go_tool_cover_on_hello() {
    let (_dir, profile, want) = hello_profile();
    let hello = testdata("hello");
    let got = run_ok(
        slipway()
            .current_dir(&hello)
            .args(["cover", "func"])
            .arg(&profile),
    );
    assert!(want.lines().count() > 3, "{want}");
    assert_eq!(String::from_utf8(got.stdout).unwrap(), want);
}

#[test]
fn func_writes_to_a_file_with_o() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("func.txt");
    run_ok(
        slipway()
            .current_dir(fixture_module())
            .args(["cover", "func"])
            .arg(cover_fixture("set.out"))
            .arg("-o")
            .arg(&target),
    );
    assert_eq!(
        std::fs::read_to_string(target).unwrap(),
        std::fs::read_to_string(cover_fixture("set.func")).unwrap()
    );
}

#[test]
fn merge_writes_what_go_tool_covdata_merges_to() {
    let dir = tempfile::tempdir().unwrap();
    for mode in ["set", "count", "atomic"] {
        let target = dir.path().join(format!("{mode}.out"));
        run_ok(
            slipway()
                .args(["cover", "merge"])
                .arg(cover_fixture(&format!("shapes-{mode}.out")))
                .arg(cover_fixture(&format!("user-{mode}.out")))
                .arg("-o")
                .arg(&target),
        );
        assert_eq!(
            std::fs::read_to_string(&target).unwrap(),
            std::fs::read_to_string(cover_fixture(&format!("covdata-{mode}.out"))).unwrap(),
            "{mode}"
        );
    }
}

#[test]
fn merge_of_different_modes_fails_naming_both() {
    let out = slipway()
        .args(["cover", "merge"])
        .arg(cover_fixture("set.out"))
        .arg(cover_fixture("count.out"))
        .args(["-o", "-"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.starts_with("slipway: "), "{err}");
    assert!(
        err.contains("count.out:1: mode count does not match mode set set at"),
        "{err}"
    );
}

#[test]
fn func_names_an_unresolvable_file_and_where_it_looked() {
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("p.out");
    std::fs::write(
        &profile,
        "mode: set\nexample.org/nowhere/x.go:1.1,2.2 1 1\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("go.mod"), "module example.org/elsewhere\n").unwrap();
    let empty_goroot = dir.path().join("goroot");
    let out = slipway()
        .current_dir(dir.path())
        .env("GOROOT", &empty_goroot)
        .env_remove("GOWORK")
        .args(["cover", "func"])
        .arg(&profile)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("cannot find Go source for example.org/nowhere/x.go"),
        "{err}"
    );
    assert!(
        err.contains(
            &empty_goroot
                .join("src/example.org/nowhere/x.go")
                .display()
                .to_string()
        ),
        "{err}"
    );
}

/// The LCOV export of a real profile is accepted by Debian's `genhtml`, which agrees with our totals.
#[test]
fn convert_to_lcov_is_accepted_by_genhtml() {
    let genhtml = slipway_testkit::require_tool("genhtml");
    let dir = tempfile::tempdir().unwrap();
    let info = dir.path().join("cover.info");
    run_ok(
        slipway()
            .current_dir(fixture_module())
            .args(["cover", "convert", "--to", "lcov"])
            .arg(cover_fixture("count.out"))
            .arg("-o")
            .arg(&info),
    );
    let lcov = std::fs::read_to_string(&info).unwrap();
    let sum = |key: &str| -> u64 {
        lcov.lines()
            .filter_map(|l| l.strip_prefix(key))
            .map(|v| v.parse::<u64>().unwrap())
            .sum()
    };
    let (found, hit, funcs, funcs_hit) = (sum("LF:"), sum("LH:"), sum("FNF:"), sum("FNH:"));
    // Every file of the profile (empty.go has no blocks, so it is not one), with sources given by absolute path so genhtml can open them.
    assert_eq!(lcov.matches("end_of_record").count(), 8);
    assert!(
        lcov.contains(&format!(
            "SF:{}",
            fixture_module().join("shapes/with:colon.go").display()
        )),
        "{lcov}"
    );
    assert_eq!(funcs, 31);
    let html = dir.path().join("html");
    let out = run_ok(
        std::process::Command::new(genhtml)
            .arg(&info)
            .arg("--output-directory")
            .arg(&html),
    );
    assert!(html.join("index.html").is_file());
    let report = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        report.contains(&format!("({hit} of {found} lines)")),
        "{report}"
    );
    assert!(
        report.contains(&format!("({funcs_hit} of {funcs} functions)")),
        "{report}"
    );
}

#[test]
fn convert_to_cobertura_totals_match_lcov() {
    let convert = |to: &str| {
        let out = run_ok(
            slipway()
                .current_dir(fixture_module())
                .args(["cover", "convert", "--to", to])
                .arg(cover_fixture("set.out"))
                .args(["-o", "-"]),
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let lcov = convert("lcov");
    let xml = convert("cobertura");
    let sum = |key: &str| -> u64 {
        lcov.lines()
            .filter_map(|l| l.strip_prefix(key))
            .map(|v| v.parse::<u64>().unwrap())
            .sum()
    };
    assert!(
        xml.starts_with("<?xml version=\"1.0\" ?>\n<!DOCTYPE coverage"),
        "{xml}"
    );
    assert!(
        xml.contains(&format!(
            "lines-covered=\"{}\" lines-valid=\"{}\"",
            sum("LH:"),
            sum("LF:")
        )),
        "{xml}"
    );
    assert_eq!(xml.matches("<package ").count(), 3);
    assert_eq!(xml.matches("<class ").count(), 8);
    assert_eq!(xml.matches("<method ").count(), 31);
    assert!(xml.contains("<method name=\"(*Rect).Scale\""), "{xml}");
}

fn check(args: &[&str]) -> (Option<i32>, String) {
    let out = slipway()
        .current_dir(fixture_module())
        .args(["cover", "check"])
        .arg(cover_fixture("set.out"))
        .args(args)
        .output()
        .unwrap();
    (out.status.code(), String::from_utf8(out.stdout).unwrap())
}

#[test]
fn check_fails_with_status_1_listing_every_failure_worst_first() {
    let (code, out) = check(&["--total", "70", "--package", "80", "--file", "60"]);
    assert_eq!(code, Some(1), "{out}");
    assert_eq!(
        out,
        "FAIL package example.com/covfix/untested: 0.0% < 80.0% (0 of 3 statements)\n\
         FAIL file example.com/covfix/shapes/with:colon.go: 0.0% < 60.0% (0 of 1 statements)\n\
         FAIL file example.com/covfix/untested/untested.go: 0.0% < 60.0% (0 of 3 statements)\n\
         FAIL package example.com/covfix/user: 55.6% < 80.0% (5 of 9 statements)\n\
         FAIL file example.com/covfix/user/user.go: 55.6% < 60.0% (5 of 9 statements)\n\
         FAIL package example.com/covfix/shapes: 76.4% < 80.0% (42 of 55 statements)\n\
         coverage check failed: 6 of 12 gates; total 70.1% (47 of 67 statements), 3 packages, 8 files, \
         0 excluded, 0 generated, 0 ignored functions\n"
    );
}

#[test]
fn check_passes_with_status_0_when_overrides_lower_the_bar() {
    let (code, out) = check(&[
        "--total",
        "70",
        "--file",
        "60",
        "--override",
        "untested|colon=0",
        "--override",
        "user=50",
    ]);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(
        out,
        "coverage check passed: 11 gates; total 70.1% (47 of 67 statements), 3 packages, 8 files, \
         0 excluded, 0 generated, 0 ignored functions\n"
    );
}

#[test]
fn check_excludes_files_before_counting() {
    let (code, out) = check(&["--total", "70", "--exclude", "linedir"]);
    assert_eq!(code, Some(1), "{out}");
    assert_eq!(
        out,
        "FAIL total: 69.7% < 70.0% (46 of 66 statements)\n\
         coverage check failed: 1 of 1 gates; total 69.7% (46 of 66 statements), 3 packages, 7 files, \
         1 excluded, 0 generated, 0 ignored functions\n"
    );
    let (code, out) = check(&["--override", "no-equals-sign"]);
    assert_eq!((code, out.as_str()), (Some(1), ""));
}

/// The total the gate uses is the `total:` line `go tool cover -func` prints, on a profile made now.
#[test]
fn check_total_is_go_tool_cover_func_total_on_hello() {
    let (_dir, profile, func) = hello_profile();
    let hello = testdata("hello");
    let total = func
        .lines()
        .last()
        .and_then(|l| l.split('\t').next_back())
        .unwrap()
        .to_owned();
    let out = slipway()
        .current_dir(&hello)
        .args(["cover", "check", "--total", "100"])
        .arg(&profile)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains(&format!("; total {total} (")),
        "{text}\n{func}"
    );
    // Exit status 1 exactly when the total misses 100%.
    let expect = i32::from(total != "100.0%");
    assert_eq!(out.status.code(), Some(expect), "{text}");
    let ok = slipway()
        .current_dir(&hello)
        .args([
            "cover",
            "check",
            "--total",
            "0",
            "--package",
            "0",
            "--file",
            "0",
        ])
        .arg(&profile)
        .output()
        .unwrap();
    assert_eq!(ok.status.code(), Some(0));
}

/// `crates/slipway-cover/tests/fixtures/covdata/<name>`: GOCOVERDIR data and `go tool covdata` output.
fn covdata_fixture(name: &str) -> PathBuf {
    workspace_root()
        .join("crates/slipway-cover/tests/fixtures/covdata")
        .join(name)
}

/// `func -i`, `percent -i` and `textfmt -i -o` print what `go tool covdata` printed for the same
/// directories (the script ran it in `data/` with relative names, as these runs do).
#[test]
fn covdata_subcommands_print_what_go_tool_covdata_printed() {
    let data = covdata_fixture("data");
    let tmp = tempfile::tempdir().unwrap();
    for (case, dirs) in [
        ("set-ab", "set-a,set-b"),
        ("count-test", "count-a,test-count"),
        ("test-count", "test-count"),
    ] {
        for cmd in ["func", "percent", "textfmt"] {
            let want =
                std::fs::read_to_string(covdata_fixture(&format!("out/{case}.{cmd}"))).unwrap();
            let got = if cmd == "textfmt" {
                let file = tmp.path().join(format!("{case}.txt"));
                run_ok(
                    slipway()
                        .current_dir(&data)
                        .args(["cover", "textfmt", "-i", dirs, "-o"])
                        .arg(&file),
                );
                std::fs::read_to_string(&file).unwrap()
            } else {
                let out = run_ok(
                    slipway()
                        .current_dir(&data)
                        .args(["cover", cmd, "-i", dirs]),
                );
                String::from_utf8(out.stdout).unwrap()
            };
            assert_eq!(got, want, "{case}.{cmd}");
        }
    }
    // -pkg (as --pkg) restricts the packages.
    let out = run_ok(slipway().current_dir(&data).args([
        "cover",
        "func",
        "-i=count-a,count-b",
        "--pkg",
        "example.com/covd/calc",
    ]));
    let want = std::fs::read_to_string(covdata_fixture("out/pkg-calc.func")).unwrap();
    assert_eq!(String::from_utf8(out.stdout).unwrap(), want);
}

#[test]
fn covdata_problems_are_reported_like_go_tool_covdata() {
    let data = covdata_fixture("data");
    let out = slipway()
        .current_dir(&data)
        .args(["cover", "percent", "-i", "nothing"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty());
    assert_eq!(
        String::from_utf8(out.stderr).unwrap(),
        "warning: no applicable files found in input directories\n"
    );
    let tmp = tempfile::tempdir().unwrap();
    let out = slipway()
        .current_dir(&data)
        .args(["cover", "textfmt", "-i", "set-a,count-a", "-o"])
        .arg(tmp.path().join("x.txt"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    let want = std::fs::read_to_string(covdata_fixture("out/mixed.textfmt.err")).unwrap();
    assert_eq!(err.replace("slipway: ", "error: "), want);
    // A text profile and -i exclude each other.
    let out = slipway()
        .current_dir(&data)
        .args(["cover", "func", "-i", "set-a", "profile.out"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
