//! GOROOT: a large profile over standard-library packages (sources from GOROOT/src), and function
//! extents checked against go/parser on every file of GOROOT/src.

use std::path::PathBuf;

use slipway_cover::{FuncReport, ModuleResolver, Profile, find_funcs};

use crate::{module_dir, out, read};

fn goroot() -> PathBuf {
    let out = slipway_testkit::run_ok(slipway_testkit::go().args(["env", "GOROOT"]));
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

#[test]
fn std_func_output_matches_go_tool_cover() {
    let profile = Profile::open(out("std.out")).unwrap();
    assert!(profile.block_count() > 10_000, "{}", profile.block_count());
    let resolver = ModuleResolver::discover(module_dir()).with_goroot(Some(goroot()));
    let report = FuncReport::new(&profile, &resolver).unwrap();
    let want = read("std.func");
    let got = report.to_go_text();
    for (i, (g, w)) in got.lines().zip(want.lines()).enumerate() {
        assert_eq!(g, w, "line {}", i + 1);
    }
    assert_eq!(got, want);
}

/// Every function declaration in every Go file of GOROOT/src that go/parser accepts, as go/parser and
/// go/token report it (printed by tests/fixtures/funcextents), against `find_funcs`.
#[test]
fn find_funcs_agrees_with_go_parser_on_all_of_goroot() {
    let src = goroot().join("src");
    let helper = module_dir().join("../funcextents/main.go");
    let out = slipway_testkit::run_ok(slipway_testkit::go().arg("run").arg(&helper).arg(&src));
    let text = String::from_utf8(out.stdout).unwrap();
    let (mut files, mut funcs, mut mismatches) = (0, 0, Vec::new());
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        if line.starts_with("ERR\t") {
            continue;
        }
        let path = line.strip_prefix("FILE\t").expect("FILE line");
        let mut want = Vec::new();
        while let Some(next) =
            lines.next_if(|l| !l.starts_with("FILE\t") && !l.starts_with("ERR\t"))
        {
            want.push(next.to_owned());
        }
        let got: Vec<String> = find_funcs(&std::fs::read(path).unwrap())
            .into_iter()
            .map(|f| {
                format!(
                    "{}\t{}\t{}\t{}\t{}",
                    f.name, f.start_line, f.start_col, f.end_line, f.end_col
                )
            })
            .collect();
        files += 1;
        funcs += want.len();
        if got != want {
            mismatches.push(format!("{path}:\n  go:   {want:?}\n  ours: {got:?}"));
        }
    }
    assert!(
        files > 5_000 && funcs > 50_000,
        "{files} files, {funcs} functions"
    );
    assert!(
        mismatches.is_empty(),
        "{} of {files} files differ:\n{}",
        mismatches.len(),
        mismatches
            .iter()
            .take(5)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}
