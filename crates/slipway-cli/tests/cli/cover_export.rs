//! `slipway cover convert --to json|html` on testdata/hello and `slipway cover check --diff-base` on a real
//! git repository, against `go test` and `go tool cover -func` run now.

use std::path::{Path, PathBuf};
use std::process::Command;

use slipway_testkit::{go, require_tool, run_ok, testdata};

use crate::slipway;

/// A profile of testdata/hello made now, and `go tool cover -func` of it.
fn hello_profile(dir: &Path) -> (PathBuf, String) {
    let profile = dir.join("hello.out");
    run_ok(
        go().current_dir(testdata("hello"))
            .args(["test", "-count=1", "-coverprofile"])
            .arg(&profile)
            .arg("./..."),
    );
    let func = run_ok(
        go().current_dir(testdata("hello"))
            .args(["tool", "cover"])
            .arg(format!("-func={}", profile.display())),
    );
    (profile, String::from_utf8(func.stdout).unwrap())
}

fn convert(to: &str, profile: &Path, output: &Path) -> String {
    run_ok(
        slipway()
            .current_dir(testdata("hello"))
            .args(["cover", "convert", "--to", to])
            .arg(profile)
            .arg("-o")
            .arg(output),
    );
    std::fs::read_to_string(output).unwrap()
}

#[test]
fn convert_to_json_and_html_on_hello() {
    let dir = tempfile::tempdir().unwrap();
    let (profile, func) = hello_profile(dir.path());

    let json: serde_json::Value =
        serde_json::from_str(&convert("json", &profile, &dir.path().join("c.json"))).unwrap();
    assert_eq!(json["schema"], 1);
    let total = func
        .lines()
        .last()
        .unwrap()
        .split('\t')
        .next_back()
        .unwrap();
    let percent = json["totals"]["functions"]["percent"].as_f64().unwrap();
    assert_eq!(format!("{percent:.1}%"), total, "{func}");
    let mut funcs = 0;
    for package in json["packages"].as_array().unwrap() {
        for file in package["files"].as_array().unwrap() {
            // Paths are relative to the module directory the command ran in, and exist there.
            let path = file["path"].as_str().unwrap();
            assert!(testdata("hello").join(path).is_file(), "{path}");
            for f in file["funcs"].as_array().unwrap() {
                let line = format!(
                    "{}:{}:",
                    file["name"].as_str().unwrap(),
                    f["line"].as_u64().unwrap()
                );
                assert!(func.contains(&line), "{line} not in {func}");
                funcs += 1;
            }
        }
    }
    assert_eq!(funcs, func.lines().count() - 1);

    let html = convert("html", &profile, &dir.path().join("c.html"));
    assert!(html.starts_with("<!DOCTYPE html>") && html.ends_with("</html>\n"));
    let sources = html.matches("<pre class=\"code\">").count();
    let files: usize = json["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["files"].as_array().unwrap().len())
        .sum();
    assert_eq!(sources, files);
    assert!(
        html.contains("<span class=\"cov0\""),
        "hello has uncovered code"
    );
    assert!(!html.contains("<link") && !html.contains(" src="));
}

/// `git` with the configuration that matters pinned, in `dir`.
fn git(dir: &Path) -> Command {
    let mut cmd = Command::new(require_tool("git"));
    cmd.current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .args(["-c", "user.name=t", "-c", "user.email=t@example.invalid"])
        .args([
            "-c",
            "init.defaultBranch=main",
            "-c",
            "commit.gpgSign=false",
        ]);
    cmd
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

#[test]
fn check_diff_coverage_since_a_base_branch() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    let module = repo.join("svc");
    write(
        &module.join("go.mod"),
        "module example.com/svc\n\ngo 1.22\n",
    );
    write(
        &module.join("calc/calc.go"),
        "package calc\n\nfunc Add(a, b int) int {\n\treturn a + b\n}\n",
    );
    run_ok(git(&repo).args(["init", "-q"]));
    run_ok(git(&repo).args(["add", "."]));
    run_ok(git(&repo).args(["commit", "-q", "-m", "base"]));
    run_ok(git(&repo).args(["checkout", "-q", "-b", "feature"]));
    write(
        &module.join("calc/calc.go"),
        "package calc\n\nfunc Add(a, b int) int {\n\treturn a + b\n}\n\nfunc Sign(x int) int {\n\tif x < 0 {\n\t\treturn -1\n\t}\n\treturn 1\n}\n",
    );
    write(
        &module.join("calc/calc_test.go"),
        "package calc\n\nimport \"testing\"\n\nfunc TestSign(t *testing.T) {\n\tif Sign(2) != 1 {\n\t\tt.Fatal()\n\t}\n}\n",
    );
    let profile = dir.path().join("cover.out");
    run_ok(
        go().current_dir(&module)
            .args(["test", "-count=1", "-coverprofile"])
            .arg(&profile)
            .arg("./..."),
    );
    let check = |cwd: &Path, threshold: &str| {
        let out = slipway()
            .current_dir(cwd)
            .args(["cover", "check", "--diff-base", "main", "--diff", threshold])
            .arg(&profile)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8(out.stderr).unwrap(),
        )
    };
    // Sign: lines 8 and 11 ran, 9 (return -1) did not; Add is unchanged.
    let (code, out, _) = check(&module, "80");
    assert_eq!(code, Some(1), "{out}");
    let diff = out.lines().skip(1).collect::<Vec<_>>().join("\n");
    assert!(
        diff.starts_with(
            "FAIL diff: 66.7% (2 of 3 coverable changed lines covered) < 80.0% since merge-base "
        ),
        "{out}"
    );
    assert!(
        diff.ends_with("\n  svc/calc/calc.go: 2 of 3 covered; not covered: 9"),
        "{out}"
    );
    let (code, out, _) = check(&module, "60");
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("\nok diff: 66.7% "), "{out}");

    // Outside a repository the base cannot be found: an error, not a pass.
    let elsewhere = dir.path().join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    std::fs::copy(module.join("go.mod"), elsewhere.join("go.mod")).unwrap();
    std::fs::create_dir_all(elsewhere.join("calc")).unwrap();
    std::fs::copy(module.join("calc/calc.go"), elsewhere.join("calc/calc.go")).unwrap();
    let (code, _, err) = check(&elsewhere, "80");
    assert_eq!(code, Some(1));
    assert!(err.contains("not inside a git working tree"), "{err}");
}
