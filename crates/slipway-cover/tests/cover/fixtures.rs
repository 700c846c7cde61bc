//! The fixture module's profiles: `-func` output, `go test` percentages and Go's own merge.

use std::fmt::Write as _;

use slipway_cover::{Counts, FuncReport, ModuleResolver, Profile, ProfileMerger, Summary};

use crate::{module_dir, out, read};

const MODES: [&str; 3] = ["set", "count", "atomic"];

fn resolver() -> ModuleResolver {
    // No standard-library file appears in these profiles: keep `go env` out of it.
    ModuleResolver::discover(module_dir()).with_goroot(None)
}

#[test]
fn func_output_matches_go_tool_cover_byte_for_byte() {
    let mut compared = 0;
    for mode in MODES {
        for name in [mode.to_owned(), format!("coverpkg-{mode}")] {
            let profile = Profile::open(out(&format!("{name}.out"))).unwrap();
            let report = FuncReport::new(&profile, &resolver()).unwrap();
            let want = read(&format!("{name}.func"));
            assert_eq!(report.to_go_text(), want, "{name}.func");
            compared += want.lines().count();
        }
    }
    // 6 profiles, each with a line per function (31) plus the total.
    assert_eq!(compared, 6 * 32);
}

/// `go test` prints one `coverage:` line per package; without -coverpkg each package's profile part is
/// exactly what that line measures.
#[test]
fn package_statement_percentages_match_go_test() {
    for mode in MODES {
        let profile = Profile::open(out(&format!("{mode}.out"))).unwrap();
        let summary = Summary::of(&profile);
        let mut got = String::new();
        for (pkg, counts) in &summary.packages {
            writeln!(got, "{pkg}\t{}", counts.go_test_line()).unwrap();
        }
        assert_eq!(got, read(&format!("{mode}.gotest")), "{mode}");
    }
}

/// With -coverpkg a test binary's line counts the statements it covered over the statements of every
/// package -coverpkg names, linked into that binary or not (its own profile lacks the others).
#[test]
fn coverpkg_totals_match_go_test_per_binary() {
    for mode in MODES {
        let gotest = read(&format!("coverpkg-{mode}.gotest"));
        let everything = Profile::open(out(&format!("coverpkg-{mode}.out"))).unwrap();
        for pkg in ["shapes", "user"] {
            let profile = Profile::open(out(&format!("{pkg}-{mode}.out"))).unwrap();
            let counts = Counts {
                covered: Summary::of(&profile).total.covered,
                total: Summary::of(&everything).total.total,
            };
            assert!(Summary::of(&profile).total.total < counts.total);
            let line = format!(
                "example.com/covfix/{pkg}\t{} in ./...\n",
                counts.go_test_line()
            );
            assert!(gotest.contains(&line), "{line:?} not in {gotest:?}");
        }
    }
}

/// The -func total and the go test total differ because of package-level function literals.
#[test]
fn the_two_totals_differ_where_go_says_they_do() {
    let profile = Profile::open(out("set.out")).unwrap();
    let report = FuncReport::new(&profile, &resolver()).unwrap();
    let summary = Summary::of(&profile);
    assert!(report.total.total < summary.total.total);
    let func_total = read("set.func");
    let last = func_total.lines().last().unwrap();
    assert!(
        last.ends_with(&format!("{:.1}%", report.total.percent())),
        "{last}"
    );
}

#[test]
fn merge_matches_go_tool_covdata() {
    for mode in MODES {
        let want = read(&format!("covdata-{mode}.out"));
        // Two profiles, one per test binary.
        let mut merger = ProfileMerger::new();
        for pkg in ["shapes", "user"] {
            merger.add_file(out(&format!("{pkg}-{mode}.out"))).unwrap();
        }
        assert_eq!(
            merger.finish().unwrap().to_text(),
            want,
            "{mode}: merged pair"
        );
        // The same in the opposite order.
        let reversed = Profile::merge_files([
            out(&format!("user-{mode}.out")),
            out(&format!("shapes-{mode}.out")),
        ])
        .unwrap();
        assert_eq!(reversed.to_text(), want, "{mode}: reversed pair");
        // One file with repeated blocks: what `go test -coverprofile` writes for several packages. It
        // also holds the untested package (never run, so absent from GOCOVERDIR), all zero.
        let concatenated = Profile::open(out(&format!("coverpkg-{mode}.out"))).unwrap();
        let text = concatenated.to_text();
        let (untested, rest): (Vec<&str>, Vec<&str>) = text
            .lines()
            .partition(|l| l.starts_with("example.com/covfix/untested/"));
        assert_eq!(
            rest.join("\n") + "\n",
            want,
            "{mode}: go test's concatenation"
        );
        assert_eq!(untested.len(), 3);
        assert!(untested.iter().all(|l| l.ends_with(" 0")), "{untested:?}");
    }
}

#[test]
fn concatenated_files_with_repeated_mode_lines_merge() {
    let text = format!("{}{}", read("shapes-count.out"), read("user-count.out"));
    let merged = Profile::parse("cat.out", &text).unwrap();
    assert_eq!(merged.to_text(), read("covdata-count.out"));
    let crlf = text.replace('\n', "\r\n");
    assert_eq!(Profile::parse("crlf.out", &crlf).unwrap(), merged);
}

#[test]
fn mixing_modes_is_an_error_naming_both_files() {
    let err = Profile::merge_files([out("set.out"), out("count.out")]).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("count.out:1") && text.contains("set.out:1"),
        "{text}"
    );
}

#[test]
fn unresolvable_files_name_where_we_looked() {
    let profile = Profile::parse(
        "p.out",
        "mode: set\nexample.com/covfix/gone/gone.go:1.1,2.2 1 1\n",
    )
    .unwrap();
    let err = FuncReport::new(&profile, &resolver())
        .unwrap_err()
        .to_string();
    assert!(err.contains("example.com/covfix/gone/gone.go"), "{err}");
    assert!(err.contains("tests/fixtures/src/gone/gone.go"), "{err}");
}
