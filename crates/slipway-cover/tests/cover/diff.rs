//! Diff coverage on real git repositories made with git2, a real `go test -coverprofile` run, and the
//! `git` command's own `git diff -U0` as the reference for changed lines.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::Command;

use git2::{Repository, Signature};
use slipway_cover::gate::{Changes, DiffError, DiffGate, GitChanges, module_repo_paths};
use slipway_cover::{ModuleResolver, Profile};
use slipway_testkit::{go, require_tool, run_ok};

fn write(root: &Path, path: &str, text: &str) {
    let path = root.join(path);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

/// Stages everything (additions, changes, deletions) and commits on HEAD.
fn commit(repo: &Repository, message: &str) -> git2::Oid {
    let mut index = repo.index().unwrap();
    index
        .add_all(["*"], git2::IndexAddOption::DEFAULT, None)
        .unwrap();
    index.update_all(["*"], None).unwrap();
    index.write().unwrap();
    let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
    let sig = Signature::new("t", "t@example.invalid", &git2::Time::new(1_700_000_000, 0)).unwrap();
    let parents: Vec<git2::Commit<'_>> = repo
        .head()
        .ok()
        .and_then(|h| h.peel_to_commit().ok())
        .into_iter()
        .collect();
    let parents: Vec<&git2::Commit<'_>> = parents.iter().collect();
    repo.commit(Some("HEAD"), &sig, &sig, message, &tree, &parents)
        .unwrap()
}

const CALC_BASE: &str =
    "package calc\n\n// Add adds.\nfunc Add(a, b int) int {\n\treturn a + b\n}\n";
const CALC_BRANCH: &str = "package calc\n\n// Add adds.\nfunc Add(a, b int) int {\n\treturn a + b\n}\n\n// Abs is new on the branch.\nfunc Abs(x int) int {\n\tif x < 0 {\n\t\treturn -x\n\t}\n\treturn x\n}\n";
const OLD: &str = "package calc\n\n// Old is moved to renamed.go on the branch, with one line changed.\nfunc Old(n int) int {\n\tn++\n\tn *= 2\n\tn--\n\treturn n\n}\n\nfunc helper() {}\n\nvar _ = helper\n";
const TEST: &str = "package calc\n\nimport \"testing\"\n\nfunc TestCalc(t *testing.T) {\n\tif Add(1, 2) != 3 || Abs(3) != 3 {\n\t\tt.Fatal()\n\t}\n}\n";

/// A repository whose Go module sits in `svc/`: `main` and a `feature` branch forked from the first
/// commit; `main` moves on after the fork (those changes must not count), the branch adds a function,
/// renames a file with one change, deletes one and edits a comment-only file; one change is left
/// uncommitted.
fn repository() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let repo = Repository::init(root).unwrap();
    // Name the first branch `main` whatever init.defaultBranch says.
    repo.set_head("refs/heads/main").unwrap();
    write(root, "svc/go.mod", "module example.com/svc\n\ngo 1.22\n");
    write(root, "svc/calc/calc.go", CALC_BASE);
    write(root, "svc/calc/old.go", OLD);
    write(
        root,
        "svc/calc/gone.go",
        "package calc\n\nfunc Gone() int {\n\treturn 1\n}\n",
    );
    write(
        root,
        "svc/calc/doc.go",
        "// Package calc adds.\npackage calc\n",
    );
    write(root, "README.md", "base\n");
    let fork = commit(&repo, "base");
    let fork_commit = repo.find_commit(fork).unwrap();
    write(root, "README.md", "main moved on\nafter the fork\n");
    write(
        root,
        "svc/calc/doc.go",
        "// Package calc adds (changed on main).\npackage calc\n",
    );
    commit(&repo, "main moves on");
    repo.checkout_head(Some(git2::build::CheckoutBuilder::new().force()))
        .unwrap();

    repo.branch("feature", &fork_commit, false).unwrap();
    repo.set_head("refs/heads/feature").unwrap();
    repo.checkout_head(Some(git2::build::CheckoutBuilder::new().force()))
        .unwrap();
    write(root, "svc/calc/calc.go", CALC_BRANCH);
    write(root, "svc/calc/calc_test.go", TEST);
    fs::remove_file(root.join("svc/calc/old.go")).unwrap();
    write(
        root,
        "svc/calc/renamed.go",
        &OLD.replace("\tn *= 2\n", "\tn *= 3\n"),
    );
    fs::remove_file(root.join("svc/calc/gone.go")).unwrap();
    write(
        root,
        "svc/calc/doc.go",
        "// Package calc adds and more.\npackage calc\n",
    );
    commit(&repo, "feature work");
    // Uncommitted: Add's body changes (still covered).
    write(
        root,
        "svc/calc/calc.go",
        &CALC_BRANCH.replace("a + b", "b + a"),
    );
    dir
}

fn lines(changes: &Changes) -> BTreeMap<String, Vec<u32>> {
    changes
        .files()
        .map(|(p, l)| (p.to_owned(), l.iter().copied().collect()))
        .collect()
}

#[test]
fn changed_lines_match_git_diff_from_the_merge_base() {
    let git = require_tool("git");
    let dir = repository();
    let root = dir.path();
    let changes = GitChanges::new(root.join("svc/calc"), "main")
        .changes()
        .unwrap();
    let got = lines(&changes);
    let want: BTreeMap<String, Vec<u32>> = [
        // git aligns Add's closing brace with Abs's, so the added run is 6-13.
        ("svc/calc/calc.go", vec![5, 6, 7, 8, 9, 10, 11, 12, 13]),
        ("svc/calc/calc_test.go", (1..=9).collect()),
        ("svc/calc/doc.go", vec![1]),
        ("svc/calc/renamed.go", vec![6]),
    ]
    .into_iter()
    .map(|(p, l)| (p.to_owned(), l))
    .collect();
    assert_eq!(got, want);
    assert!(
        changes.description().starts_with("since merge-base "),
        "{}",
        changes.description()
    );

    // The git command agrees (configuration that would change its output pinned).
    let git_cmd = |args: &[&str]| {
        let out = run_ok(
            Command::new(&git)
                .current_dir(root)
                .env("GIT_CONFIG_NOSYSTEM", "1")
                .env("HOME", root)
                .args([
                    "-c",
                    "diff.noprefix=false",
                    "-c",
                    "diff.mnemonicPrefix=false",
                ])
                .args(["-c", "diff.renames=true", "-c", "core.quotePath=true"])
                .args(args),
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let base = git_cmd(&["merge-base", "main", "HEAD"]);
    let diff = git_cmd(&["diff", "--no-color", "--no-ext-diff", "-U0", base.trim()]);
    assert!(diff.contains("rename to svc/calc/renamed.go"), "{diff}");
    assert_eq!(lines(&Changes::from_unified_diff(&diff).unwrap()), got);

    // Against main itself, main's own later changes show up too (as lines to undo).
    let direct = GitChanges::new(root, "main")
        .merge_base(false)
        .changes()
        .unwrap();
    let diff = git_cmd(&["diff", "--no-color", "--no-ext-diff", "-U0", "main"]);
    assert_eq!(
        lines(&direct),
        lines(&Changes::from_unified_diff(&diff).unwrap())
    );
    assert!(lines(&direct).contains_key("README.md"));

    // Committed changes only: the uncommitted edit of line 5 is gone.
    let committed = GitChanges::new(root, "main")
        .working_tree(false)
        .changes()
        .unwrap();
    assert_eq!(
        lines(&committed)["svc/calc/calc.go"],
        [7, 8, 9, 10, 11, 12, 13, 14]
    );
    let diff = git_cmd(&[
        "diff",
        "--no-color",
        "--no-ext-diff",
        "-U0",
        base.trim(),
        "HEAD",
    ]);
    assert_eq!(
        lines(&committed),
        lines(&Changes::from_unified_diff(&diff).unwrap())
    );

    // Untracked files count only when asked for.
    write(root, "svc/calc/extra.go", "package calc\n\nvar Extra = 1\n");
    let plain = GitChanges::new(root, "main").changes().unwrap();
    assert!(plain.lines("svc/calc/extra.go").is_none());
    let with = GitChanges::new(root, "main")
        .include_untracked(true)
        .changes()
        .unwrap();
    assert_eq!(lines(&with)["svc/calc/extra.go"], [1, 2, 3]);
}

#[test]
fn diff_coverage_of_a_real_go_test_run() {
    let dir = repository();
    let module = dir.path().join("svc");
    let profile_path = dir.path().join("cover.out");
    run_ok(
        go().current_dir(&module)
            .args(["test", "-count=1", "-coverprofile"])
            .arg(&profile_path)
            .arg("./..."),
    );
    let profile = Profile::open(&profile_path).unwrap();
    let resolver = ModuleResolver::discover(&module).with_goroot(None);
    let git = GitChanges::new(&module, "main");
    let root = git.repo_root().unwrap();
    let to_repo = module_repo_paths(&resolver, &root);
    let changes = git.changes().unwrap();
    let report = DiffGate::new()
        .threshold(80.0)
        .unwrap()
        .check(&profile, &changes, &resolver, &to_repo)
        .unwrap();
    // Go's blocks start at a body's first statement and end before a closing brace on its own line. calc.go:
    // 5 (uncommitted), 10 and 13 ran, 11 (the x < 0 branch) did not; 6-9 and 12 (braces, blank, comment,
    // signature) are not coverable. renamed.go: line 6 is in Old, never called. doc.go holds no statement,
    // so the profile does not list it; the test file is not in the profile either.
    assert_eq!(
        (report.covered, report.coverable, report.changed),
        (3, 5, 10),
        "{}",
        report.to_text()
    );
    assert!(!report.passed());
    let files: Vec<(&str, &[(u32, u32)])> = report
        .files
        .iter()
        .map(|f| (f.path.as_str(), f.uncovered.as_slice()))
        .collect();
    assert_eq!(
        files,
        [
            ("svc/calc/calc.go", &[(11, 11)][..]),
            ("svc/calc/renamed.go", &[(6, 6)][..]),
        ]
    );
    let text = report.to_text();
    assert!(
        text.starts_with(
            "FAIL diff: 60.0% (3 of 5 coverable changed lines covered) < 80.0% since merge-base "
        ),
        "{text}"
    );
    assert!(
        text.ends_with("; 10 changed lines in 2 profiled files\n  svc/calc/calc.go: 3 of 4 covered; not covered: 11\n  svc/calc/renamed.go: 0 of 1 covered; not covered: 6\n  changed Go files not in the profile (no statements, or not tested): svc/calc/doc.go\n"),
        "{text}"
    );
    assert!(
        DiffGate::new()
            .threshold(50.0)
            .unwrap()
            .check(&profile, &changes, &resolver, &to_repo)
            .unwrap()
            .passed()
    );
}

#[test]
fn outside_a_repository_and_unknown_revisions_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let err = GitChanges::new(dir.path(), "main").changes().unwrap_err();
    assert!(matches!(err, DiffError::NotARepository { .. }), "{err:?}");
    assert!(
        err.to_string().contains("not inside a git working tree"),
        "{err}"
    );

    let repo = repository();
    let err = GitChanges::new(repo.path(), "no-such-branch")
        .changes()
        .unwrap_err();
    assert!(
        matches!(err, DiffError::UnknownRevision { ref rev, .. } if rev == "no-such-branch"),
        "{err:?}"
    );

    // An orphan branch shares no history with HEAD.
    let git = Repository::open(repo.path()).unwrap();
    let sig = Signature::new("t", "t@example.invalid", &git2::Time::new(1_700_000_000, 0)).unwrap();
    let tree = git
        .find_tree(git.index().unwrap().write_tree().unwrap())
        .unwrap();
    let orphan = git.commit(None, &sig, &sig, "orphan", &tree, &[]).unwrap();
    git.branch("orphan", &git.find_commit(orphan).unwrap(), false)
        .unwrap();
    let err = GitChanges::new(repo.path(), "orphan")
        .changes()
        .unwrap_err();
    assert!(matches!(err, DiffError::NoMergeBase { .. }), "{err:?}");
}
