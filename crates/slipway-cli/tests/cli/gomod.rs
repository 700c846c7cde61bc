//! `slipway gomod parse` and `slipway gomod fmt` against the outputs of the real `go mod edit` /
//! `go work edit` recorded in slipway-gomod's fixtures, and against `go` run live on a fresh file.

use std::path::PathBuf;

use super::{run, slipway};

fn fixtures() -> PathBuf {
    slipway_testkit::workspace_root().join("crates/slipway-gomod/tests/fixtures/modfile")
}

#[test]
fn parse_json_and_fmt_match_recorded_go_output() {
    let dir = fixtures();
    let mut checked = 0;
    for name in [
        "everything.mod",
        "quoting.mod",
        "retract-block.mod",
        "full.work",
        "crlf.mod",
    ] {
        let want_json = std::fs::read_to_string(dir.join(format!("{name}.json"))).unwrap();
        let want_fmt = std::fs::read_to_string(dir.join(format!("{name}.fmt"))).unwrap();
        let out = slipway()
            .current_dir(&dir)
            .args(["gomod", "parse", "--json", name])
            .output()
            .unwrap();
        assert!(out.status.success(), "{name}: {out:?}");
        assert_eq!(String::from_utf8(out.stdout).unwrap(), want_json, "{name}");
        let out = slipway()
            .current_dir(&dir)
            .args(["gomod", "fmt", name])
            .output()
            .unwrap();
        assert!(out.status.success(), "{name}: {out:?}");
        assert_eq!(String::from_utf8(out.stdout).unwrap(), want_fmt, "{name}");
        checked += 1;
    }
    assert_eq!(checked, 5);
}

#[test]
fn rejected_file_exits_non_zero_with_go_positions() {
    let dir = fixtures();
    for name in ["err-many.mod", "err-nbsp.mod", "err-mod-in-work.work"] {
        let go_err = std::fs::read_to_string(dir.join(format!("{name}.err"))).unwrap();
        // Go's own header lines (`go: errors parsing …:`) are not part of the messages.
        let want: Vec<&str> = go_err.lines().filter(|l| l.starts_with(name)).collect();
        let out = slipway()
            .current_dir(&dir)
            .args(["gomod", "parse", "--json", name])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{name}");
        assert!(out.stdout.is_empty());
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(stderr.lines().collect::<Vec<_>>(), want, "{name}");
        let out = slipway()
            .current_dir(&dir)
            .args(["gomod", "fmt", name])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{name}");
    }
}

#[test]
fn parse_without_json_only_checks() {
    let dir = fixtures();
    let ok = slipway()
        .current_dir(&dir)
        .args(["gomod", "parse", "basic.mod"])
        .output()
        .unwrap();
    assert!(ok.status.success() && ok.stdout.is_empty(), "{ok:?}");
    let missing = run(&["gomod", "parse", "/nonexistent/go.mod"]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("/nonexistent/go.mod"));
}

#[test]
fn fmt_matches_live_go_mod_edit() {
    // A file not in the corpus, formatted by the real go command now.
    let src = "module  example.com/live\n\n\ngo 1.22\nrequire (\n  b.example.com/x v1.2 // indirect\n\n\n\t\"a.example.com/y\"   v0.1.0\n)\nexclude a.example.com/y v0.0.1\nexclude a.example.com/y v0.0.1\nreplace a.example.com/y => ./y\n";
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("go.mod");
    std::fs::write(&path, src).unwrap();
    let ours = slipway()
        .current_dir(tmp.path())
        .args(["gomod", "fmt", "go.mod"])
        .output()
        .unwrap();
    assert!(ours.status.success(), "{ours:?}");
    let json = slipway()
        .current_dir(tmp.path())
        .args(["gomod", "parse", "--json", "go.mod"])
        .output()
        .unwrap();
    let go_json = slipway_testkit::run_ok(
        slipway_testkit::go()
            .current_dir(tmp.path())
            .args(["mod", "edit", "-json", "go.mod"]),
    );
    assert_eq!(json.stdout, go_json.stdout);
    slipway_testkit::run_ok(
        slipway_testkit::go()
            .current_dir(tmp.path())
            .args(["mod", "edit", "-fmt", "go.mod"]),
    );
    assert_eq!(
        String::from_utf8(ours.stdout).unwrap(),
        std::fs::read_to_string(&path).unwrap()
    );
}

#[test]
fn error_file_names_follow_go() {
    // `go mod edit` names the file as given; `go work edit` by its path relative to the working directory.
    let tmp = tempfile::tempdir().unwrap();
    let sub = tmp.path().join("ws");
    std::fs::create_dir(&sub).unwrap();
    for name in ["go.mod", "go.work"] {
        std::fs::write(sub.join(name), "bogus directive\n").unwrap();
        let path = sub.join(name);
        let arg = path.to_str().unwrap();
        let tool = if name == "go.mod" { "mod" } else { "work" };
        let go = slipway_testkit::go()
            .current_dir(tmp.path())
            .args([tool, "edit", "-json", arg])
            .output()
            .unwrap();
        assert!(!go.status.success());
        let go_err = String::from_utf8(go.stderr).unwrap();
        let ours = slipway()
            .current_dir(tmp.path())
            .args(["gomod", "parse", "--json", arg])
            .output()
            .unwrap();
        assert_eq!(ours.status.code(), Some(1));
        let ours = String::from_utf8(ours.stderr).unwrap();
        let last = |s: &str| s.lines().last().unwrap_or("").to_owned();
        assert_eq!(last(&ours), last(&go_err), "{name}");
    }
}

#[test]
fn layout_of_testdata_hello() {
    let dir = slipway_testkit::testdata("hello");
    let out = slipway()
        .args(["gomod", "layout", "--json", "-C"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let dirs: Vec<&str> = v["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["dir"].as_str().unwrap())
        .collect();
    assert_eq!(
        dirs,
        [
            "cmd/hello",
            "internal/config",
            "internal/handlers",
            "pkg/greeting"
        ]
    );
    assert_eq!(
        v["main_packages"],
        serde_json::json!([{"dir": "cmd/hello", "outside_cmd": false}])
    );
    assert_eq!(v["internal_violations"], serde_json::json!([]));
    assert_eq!(v["unused_requires"], serde_json::json!([]));
    assert_eq!(v["missing_requires"], serde_json::json!([]));
    let text = slipway()
        .args(["gomod", "layout", "-C"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(text.status.success(), "{text:?}");
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(
        text.contains("example.com/hello/cmd/hello (dir cmd/hello, package main, main)"),
        "{text}"
    );
    assert!(text.contains("internal violations:\n  none"), "{text}");
}

// --- `slipway gomod list` / `graph` (minimal version selection) ---

/// Writes a module world (txtar, see scripts/gen-gomod-mvs-fixtures.sh) under `dest`: `path@version`
/// sections become a `file://` proxy in `dest/proxy`, other sections plain files.
fn expand_world(txtar: &std::path::Path, dest: &std::path::Path) {
    let text = std::fs::read_to_string(txtar).unwrap();
    let mut current: Option<(String, String)> = None;
    let mut sections = Vec::new();
    for line in text.split_inclusive('\n') {
        let bare = line.trim_end_matches('\n');
        if let Some(name) = bare.strip_prefix("-- ").and_then(|s| s.strip_suffix(" --")) {
            sections.extend(current.take());
            current = Some((name.to_owned(), String::new()));
        } else if let Some((_, body)) = current.as_mut() {
            body.push_str(line);
        }
    }
    sections.extend(current);
    let escape = |s: &str| -> String {
        s.chars()
            .flat_map(|c| {
                if c.is_ascii_uppercase() {
                    vec!['!', c.to_ascii_lowercase()]
                } else {
                    vec![c]
                }
            })
            .collect()
    };
    let mut lists: std::collections::BTreeMap<PathBuf, String> = std::collections::BTreeMap::new();
    for (name, body) in sections {
        if let Some((path, version)) = name.rsplit_once('@') {
            let dir = dest.join("proxy").join(escape(path)).join("@v");
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join(format!("{}.mod", escape(version))), body).unwrap();
            let info = format!(r#"{{"Version":"{version}","Time":"2023-01-02T03:04:05Z"}}"#);
            std::fs::write(dir.join(format!("{}.info", escape(version))), info).unwrap();
            let list = lists.entry(dir).or_default();
            if !slipway_gomod::pseudo::is_pseudo_version(version) {
                list.push_str(version);
                list.push('\n');
            }
        } else {
            let file = dest.join(&name);
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(file, body).unwrap();
        }
    }
    for (dir, list) in lists {
        std::fs::write(dir.join("list"), list).unwrap();
    }
    std::fs::create_dir_all(dest.join("main")).unwrap();
}

/// `[cmd]` run in `root/main` with the world's proxy, a fresh module cache and GOFLAGS=-mod=mod: the
/// `-- label (exit N) --` section layout of the recorded .out files.
fn mvs_section(mut cmd: std::process::Command, root: &std::path::Path, label: &str) -> String {
    let out = cmd
        .current_dir(root.join("main"))
        .env(
            "GOPROXY",
            format!("file://{}", root.join("proxy").display()),
        )
        .env("GOMODCACHE", root.join("modcache"))
        .env("GOFLAGS", "-mod=mod")
        .env("GOTOOLCHAIN", "local")
        .env("GOSUMDB", "off")
        .env_remove("GOWORK")
        .output()
        .unwrap();
    let text = format!(
        "-- {label} (exit {}) --\n{}-- {label} stderr --\n{}",
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    text.replace(&*root.to_string_lossy(), "$WORK")
}

fn slipway_mvs(root: &std::path::Path) -> String {
    let mut list = slipway();
    list.args(["gomod", "list", "-C"]).arg(root.join("main"));
    let mut graph = slipway();
    graph.args(["gomod", "graph", "-C"]).arg(root.join("main"));
    mvs_section(list, root, "list") + &mvs_section(graph, root, "graph")
}

#[test]
fn list_and_graph_match_recorded_go_output() {
    let fixtures =
        slipway_testkit::workspace_root().join("crates/slipway-gomod/tests/fixtures/mvs");
    for name in [
        "cases/replace",
        "cases/exclude",
        "cases/missing-version",
        "cases/too-new-go",
        "random/007",
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(tmp.path()).unwrap();
        expand_world(&fixtures.join(format!("{name}.txtar")), &root);
        let want = std::fs::read_to_string(fixtures.join(format!("{name}.out"))).unwrap();
        // The recorded files have both sections; worlds with a go.work also a third (not used here).
        assert_eq!(slipway_mvs(&root), want, "{name}");
    }
}

#[test]
fn list_and_graph_match_live_go_with_a_warm_cache() {
    let fixtures =
        slipway_testkit::workspace_root().join("crates/slipway-gomod/tests/fixtures/mvs");
    let tmp = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(tmp.path()).unwrap();
    expand_world(&fixtures.join("cases/unpruned-dep.txtar"), &root);
    // go fills the module cache; slipway then reads the same cache (and proxy) go used.
    let mut list = slipway_testkit::go();
    list.args(["list", "-m", "all"]);
    let mut graph = slipway_testkit::go();
    graph.args(["mod", "graph"]);
    let go = mvs_section(list, &root, "list") + &mvs_section(graph, &root, "graph");
    assert!(go.contains("example.com/e v1.0.0"), "{go}");
    assert!(
        root.join("modcache/cache/download/example.com/e/@v/v1.0.0.mod")
            .is_file()
    );
    assert_eq!(slipway_mvs(&root), go);
}
