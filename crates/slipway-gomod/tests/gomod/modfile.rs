//! `modfile` against `go mod edit -json` / `-fmt` and `go work edit -json` / `-fmt` outputs recorded by
//! `scripts/gen-gomod-fixtures.sh` over the corpus in `tests/fixtures/modfile`.

use std::fs;
use std::path::PathBuf;

use slipway_gomod::modfile::{self, ModFile, WorkFile, is_work_file_name};

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/modfile")
}

struct Case {
    name: String,
    src: String,
    json: Option<String>,
    fmt: Option<String>,
    err: Option<String>,
}

fn corpus() -> Vec<Case> {
    let dir = corpus_dir();
    let mut names: Vec<String> = fs::read_dir(&dir)
        .expect("fixture directory exists")
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| {
            std::path::Path::new(n)
                .extension()
                .is_some_and(|e| e == "mod" || e == "work")
        })
        .collect();
    names.sort();
    let read = |name: &str| fs::read_to_string(dir.join(name)).ok();
    names
        .into_iter()
        .map(|name| Case {
            src: read(&name).unwrap(),
            json: read(&format!("{name}.json")),
            fmt: read(&format!("{name}.fmt")),
            err: read(&format!("{name}.err")),
            name,
        })
        .collect()
}

// Go prints `go: errors parsing NAME:` (and, for go.work, `errors parsing go.work:`) before the errors of
// the modfile package; the rest is x/mod's text, which is what slipway reproduces.
fn meaningful_error(stderr: &str) -> &str {
    let mut rest = stderr;
    for header in ["go: errors parsing ", "errors parsing go.work:\n"] {
        if rest.starts_with(header) {
            rest = rest.split_once('\n').map_or("", |(_, r)| r);
        }
    }
    rest
}

#[test]
fn corpus_is_complete() {
    let cases = corpus();
    let rejected = cases.iter().filter(|c| c.err.is_some()).count();
    assert!(cases.len() >= 60, "only {} corpus files", cases.len());
    assert!(rejected >= 20, "only {rejected} rejected files");
    for c in &cases {
        // Exactly one outcome per input: run scripts/gen-gomod-fixtures.sh after adding inputs.
        assert_eq!(
            c.err.is_some(),
            c.json.is_none() && c.fmt.is_none(),
            "{}: fixture outputs missing or stale",
            c.name
        );
    }
}

#[test]
fn json_fmt_and_errors_match_go() {
    let mut failures = Vec::new();
    let mut compared = 0;
    for c in corpus() {
        match (&c.err, modfile::edit_json(&c.name, &c.src)) {
            (Some(err), Ok(json)) => {
                failures.push(format!(
                    "{}: Go rejects it with\n{err}we accept:\n{json}",
                    c.name
                ));
            }
            (Some(err), Err(ours)) => {
                let want = meaningful_error(err);
                let got = format!("{ours}\n");
                if got != want {
                    failures.push(format!(
                        "{}: error\n--- go\n{want}--- slipway\n{got}",
                        c.name
                    ));
                }
                compared += 1;
            }
            (None, Err(ours)) => {
                failures.push(format!("{}: Go accepts it, we reject it: {ours}", c.name));
            }
            (None, Ok(json)) => {
                if Some(&json) != c.json.as_ref() {
                    failures.push(format!(
                        "{}: json\n--- go\n{}--- slipway\n{json}",
                        c.name,
                        c.json.as_deref().unwrap_or("")
                    ));
                }
                let fmt = modfile::edit_fmt(&c.name, &c.src).unwrap();
                if Some(&fmt) != c.fmt.as_ref() {
                    failures.push(format!(
                        "{}: fmt\n--- go\n{}--- slipway\n{fmt}",
                        c.name,
                        c.fmt.as_deref().unwrap_or("")
                    ));
                }
                compared += 1;
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {compared} differ:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[test]
fn formatting_is_idempotent() {
    let mut unreadable = Vec::new();
    for c in corpus() {
        let Some(fmt) = c.fmt else { continue };
        match modfile::edit_fmt(&c.name, &fmt) {
            Ok(again) => assert_eq!(again, fmt, "{}", c.name),
            Err(_) => unreadable.push(c.name),
        }
    }
    // Go writes `retract ""` back as a bare `retract` (retract versions are stored unquoted), which it
    // then cannot read; slipway does the same, and this is the only such file in the corpus.
    assert_eq!(unreadable, ["empty-keys.mod"]);
}

#[test]
fn lax_mode_keeps_only_what_go_keeps_for_dependencies() {
    let src = "module example.com/dep\n\ngo v1.21.x\n\ntoolchain bogus\n\nfrobnicate x\n\n\
               require example.com/a v1.0.0\n\nreplace example.com/a => ../a\n\nexclude example.com/a v0.1.0\n\n\
               retract [v1, v2] future-syntax\n\nretract (x\n\nignore ./vendor\n";
    assert!(ModFile::parse("go.mod", src).is_err());
    let f = ModFile::parse_lax("go.mod", src).unwrap();
    assert_eq!(f.go.as_ref().unwrap().version, "1.21");
    assert!(f.toolchain.is_none());
    assert_eq!(f.require.len(), 1);
    assert!(f.replace.is_empty() && f.exclude.is_empty());
    assert_eq!(f.retract.len(), 1, "[v1, v2] reads; `(x` is skipped");
    assert_eq!(f.ignore[0].path, "./vendor");
    // Version errors in the kept directives are still errors.
    let err = ModFile::parse_lax("go.mod", "module m\nrequire example.com/a bad\n").unwrap_err();
    assert_eq!(
        err.to_string(),
        "go.mod:2: require example.com/a: version \"bad\" invalid: must be of the form v1.2.3"
    );
}

#[test]
fn typed_view_of_a_full_file() {
    let src = fs::read_to_string(corpus_dir().join("everything.mod")).unwrap();
    let f = ModFile::parse("go.mod", &src).unwrap();
    let m = f.module.as_ref().unwrap();
    assert_eq!(m.path, "github.com/acme/payments");
    assert_eq!(f.go.as_ref().unwrap().version, "1.23.2");
    assert_eq!(f.toolchain.as_ref().unwrap().name, "go1.23.4");
    assert_eq!(f.godebug.len(), 2);
    assert_eq!(f.require.iter().filter(|r| r.indirect).count(), 4);
    assert_eq!(f.retract[0].rationale, "v1.0.0 published a broken module.");
    assert_eq!(f.tool[0].path, "github.com/acme/payments/cmd/gen");
    // Errors carry their position as data too.
    let err = ModFile::parse("go.mod", "module m\n\nrequire (\n\tx v1\n\ty bad\n)\n").unwrap_err();
    let modfile::Error::List { errors } = &err else {
        panic!("{err:?}")
    };
    assert!(matches!(
        errors[0],
        modfile::Error::At {
            line: 5,
            column: 2,
            ..
        }
    ));
}

#[test]
fn work_files_by_name() {
    assert!(is_work_file_name("go.work"));
    assert!(is_work_file_name("dir/ws.work"));
    assert!(!is_work_file_name("go.mod"));
    let w = WorkFile::parse("go.work", "go 1.22\nuse ./a\n").unwrap();
    assert_eq!(w.uses[0].path, "./a");
}

#[test]
fn separate_indirect_requirements() {
    use slipway_gomod::modfile::ModuleVersion;
    let mv = |p: &str, v: &str| ModuleVersion {
        path: p.into(),
        version: v.into(),
    };
    let mut f = ModFile::parse(
        "go.mod",
        "module m\n\ngo 1.21\n\nrequire (\n\texample.com/a v1.0.0\n\texample.com/b v1.0.0 // indirect\n\texample.com/old v1.0.0\n)\n",
    )
    .unwrap();
    f.set_require_separate_indirect(&[
        (mv("example.com/a", "v1.1.0"), false),
        (mv("example.com/b", "v1.0.0"), true),
        (mv("example.com/c", "v0.3.0"), true),
        (mv("example.com/d", "v2.0.0+incompatible"), false),
    ]);
    f.cleanup();
    assert_eq!(
        f.format(),
        "module m\n\ngo 1.21\n\nrequire (\n\texample.com/a v1.1.0\n\texample.com/d v2.0.0+incompatible\n)\n\n\
         require (\n\texample.com/b v1.0.0 // indirect\n\texample.com/c v0.3.0 // indirect\n)\n"
    );
}

mod properties {
    use proptest::prelude::*;
    use slipway_gomod::modfile::{self, ModFile};

    // Lines built from go.mod's own vocabulary reach deeper than random bytes.
    fn go_mod_like() -> impl Strategy<Value = String> {
        let word = prop_oneof![
            Just("module".to_owned()),
            Just("go".to_owned()),
            Just("require".to_owned()),
            Just("replace".to_owned()),
            Just("retract".to_owned()),
            Just("exclude".to_owned()),
            Just("toolchain".to_owned()),
            Just("godebug".to_owned()),
            Just("tool".to_owned()),
            Just("ignore".to_owned()),
            Just("use".to_owned()),
            Just("(".to_owned()),
            Just(")".to_owned()),
            Just("[".to_owned()),
            Just("]".to_owned()),
            Just(",".to_owned()),
            Just("=>".to_owned()),
            Just("// indirect".to_owned()),
            Just("// c".to_owned()),
            Just("\n".to_owned()),
            Just("\r\n".to_owned()),
            Just("\"q\\\"x\"".to_owned()),
            "v[0-9]\\.[0-9]{1,2}(\\.[0-9])?(-rc\\.1)?(\\+incompatible)?",
            "1\\.[0-9]{1,2}(rc1)?",
            "[a-z]{1,5}\\.com/[a-z]{1,4}(/v[0-9])?",
            "\\.{1,2}/[a-z]{1,3}",
            "\\PC{1,3}",
        ];
        prop::collection::vec(word, 0..40).prop_map(|words| words.join(" "))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn arbitrary_text_never_panics(src in "\\PC{0,200}") {
            for name in ["go.mod", "go.work"] {
                let _ = modfile::edit_json(name, &src);
                let _ = modfile::edit_fmt(name, &src);
            }
            let _ = ModFile::parse_lax("go.mod", &src);
        }

        #[test]
        fn go_mod_like_text_never_panics_and_formats_stably(src in go_mod_like()) {
            for name in ["go.mod", "go.work"] {
                let _ = modfile::edit_json(name, &src);
                if let Ok(formatted) = modfile::edit_fmt(name, &src) {
                    // As in Go, a quoted retract version is written back unquoted and may not read
                    // back (see formatting_is_idempotent); whatever reads back must be stable.
                    if let Ok(again) = modfile::edit_fmt(name, &formatted) {
                        prop_assert_eq!(again, formatted);
                    }
                }
            }
            let _ = ModFile::parse_lax("go.mod", &src);
        }
    }
}

/// The same edits through `go mod edit` flags (run live) and through the library give the same file.
mod edits_against_go {
    use slipway_gomod::modfile::{ModFile, VersionInterval};

    const BASE: &str = "// Service.\nmodule example.com/svc\n\ngo 1.21\n\nrequire (\n\texample.com/a v1.0.0\n\t// why b\n\texample.com/b v1.2.0 // indirect\n)\n\nrequire example.com/c v0.1.0\n\nexclude example.com/a v0.9.0\n\nreplace example.com/b => ../b\n\ngodebug panicnil=1\n\ntool example.com/svc/cmd/gen\n";

    fn go_edit(src: &str, flags: &[&str]) -> String {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("go.mod");
        std::fs::write(&path, src).unwrap();
        let mut cmd = slipway_testkit::go();
        cmd.current_dir(dir.path())
            .args(["mod", "edit"])
            .args(flags)
            .arg("go.mod");
        slipway_testkit::run_ok(&mut cmd);
        std::fs::read_to_string(&path).unwrap()
    }

    fn ours(src: &str, edit: impl FnOnce(&mut ModFile)) -> String {
        let mut f = ModFile::parse("go.mod", src).unwrap();
        edit(&mut f);
        f.sort_blocks();
        f.cleanup();
        f.format()
    }

    #[test]
    fn require_edits() {
        let go = go_edit(
            BASE,
            &[
                "-require=example.com/d@v1.4.0",
                "-require=example.com/a@v1.1.0",
                "-droprequire=example.com/c",
                "-require=example.com/e/v2@v2.0.1",
            ],
        );
        let ours = ours(BASE, |f| {
            f.add_require("example.com/d", "v1.4.0").unwrap();
            f.add_require("example.com/a", "v1.1.0").unwrap();
            f.drop_require("example.com/c");
            f.add_require("example.com/e/v2", "v2.0.1").unwrap();
        });
        assert_eq!(ours, go);
    }

    #[test]
    fn exclude_replace_retract_edits() {
        let go = go_edit(
            BASE,
            &[
                "-exclude=example.com/a@v0.8.0",
                "-exclude=example.com/z@v1.0.0",
                "-dropexclude=example.com/a@v0.9.0",
                "-replace=example.com/a@v1.0.0=example.com/fork@v1.0.1",
                "-replace=example.com/b=../b2",
                "-replace=example.com/q=./q",
                "-dropreplace=example.com/q",
                "-retract=v0.0.1",
                "-retract=[v0.1.0,v0.2.0]",
            ],
        );
        let ours = ours(BASE, |f| {
            f.add_exclude("example.com/a", "v0.8.0").unwrap();
            f.add_exclude("example.com/z", "v1.0.0").unwrap();
            f.drop_exclude("example.com/a", "v0.9.0");
            f.add_replace("example.com/a", "v1.0.0", "example.com/fork", "v1.0.1");
            f.add_replace("example.com/b", "", "../b2", "");
            f.add_replace("example.com/q", "", "./q", "");
            f.drop_replace("example.com/q", "");
            for (low, high) in [("v0.0.1", "v0.0.1"), ("v0.1.0", "v0.2.0")] {
                let vi = VersionInterval {
                    low: low.into(),
                    high: high.into(),
                };
                f.add_retract(&vi, "").unwrap();
            }
        });
        assert_eq!(ours, go);
    }

    #[test]
    fn go_toolchain_godebug_tool_module_edits() {
        let go = go_edit(
            BASE,
            &[
                "-go=1.23.0",
                "-toolchain=go1.23.4",
                "-godebug=panicnil=0",
                "-godebug=http2client=0",
                "-dropgodebug=nothing",
                "-tool=example.com/svc/cmd/other",
                "-droptool=example.com/svc/cmd/gen",
                "-ignore=./web",
                "-module=example.com/renamed",
            ],
        );
        let ours = ours(BASE, |f| {
            f.add_go_stmt("1.23.0").unwrap();
            f.add_toolchain_stmt("go1.23.4").unwrap();
            f.add_godebug("panicnil", "0");
            f.add_godebug("http2client", "0");
            f.drop_godebug("nothing");
            f.add_tool("example.com/svc/cmd/other");
            f.drop_tool("example.com/svc/cmd/gen");
            f.add_ignore("./web");
            f.add_module_stmt("example.com/renamed");
        });
        assert_eq!(ours, go);
        // Dropping go and toolchain lines.
        let go = go_edit(&ours, &["-go=none", "-toolchain=none"]);
        let again = self::ours(&ours, |f| {
            f.drop_go_stmt();
            f.drop_toolchain_stmt();
        });
        assert_eq!(again, go);
    }
}

/// go.work edits through `go work edit` flags (run live) and through the library.
#[test]
fn work_edits_match_go_work_edit() {
    let base = "// Workspace.\n\ngo 1.22\n\nuse (\n\t./a\n\t./b // keep\n)\n\nreplace example.com/x => ./x\n";
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("go.work");
    std::fs::write(&path, base).unwrap();
    let mut cmd = slipway_testkit::go();
    cmd.current_dir(dir.path()).args([
        "work",
        "edit",
        "-use=./c",
        "-dropuse=./a",
        "-replace=example.com/y@v1.0.0=example.com/y-fork@v1.0.1",
        "-replace=example.com/x=./x2",
        "-godebug=panicnil=1",
        "-toolchain=go1.22.5",
        "go.work",
    ]);
    slipway_testkit::run_ok(&mut cmd);
    let go = std::fs::read_to_string(&path).unwrap();

    let mut w = WorkFile::parse("go.work", base).unwrap();
    w.add_use("./c", "");
    w.drop_use("./a");
    w.add_replace("example.com/y", "v1.0.0", "example.com/y-fork", "v1.0.1");
    w.add_replace("example.com/x", "", "./x2", "");
    w.add_godebug("panicnil", "1");
    w.add_toolchain_stmt("go1.22.5").unwrap();
    w.sort_blocks();
    w.cleanup();
    assert_eq!(w.format(), go);
}
