//! Minimal version selection against `go list -m all` and `go mod graph`: every world under
//! tests/fixtures/mvs/{cases,random} (txtar, see scripts/gen-gomod-mvs-fixtures.sh) is expanded into a
//! temporary directory and a `file://` proxy, and what the library computes must equal what go printed:
//! stdout, stderr and exit status.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use slipway_gomod::mvs::{self, Failure, GoWork, Options};
use slipway_gomod::source::ProxyDir;

pub(crate) fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mvs")
}

pub(crate) fn go_version() -> String {
    std::fs::read_to_string(fixtures().join("GOVERSION"))
        .unwrap()
        .trim()
        .to_owned()
}

/// Splits a txtar file into its named sections.
fn sections(text: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in text.split_inclusive('\n') {
        let bare = line.trim_end_matches('\n');
        if let Some(name) = bare.strip_prefix("-- ").and_then(|s| s.strip_suffix(" --")) {
            out.push((name.to_owned(), String::new()));
        } else if let Some(last) = out.last_mut() {
            last.1.push_str(line);
        }
    }
    out
}

fn escape(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_uppercase() {
            out.push('!');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// Writes a world as the fixture script does: `path@version` sections into the proxy (with .info and an
/// @v/list of the non-pseudo versions), `path@latest` as the proxy's `@latest`, other sections as files.
pub(crate) fn expand(txtar: &Path, dest: &Path) {
    let text = std::fs::read_to_string(txtar).unwrap();
    let mut lists: Vec<(PathBuf, Vec<String>)> = Vec::new();
    for (name, body) in sections(&text) {
        if let Some(path) = name.strip_suffix("@latest") {
            let dir = dest.join("proxy").join(escape(path));
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join("@latest"), &body).unwrap();
        } else if let Some((path, version)) = name.rsplit_once('@') {
            let dir = dest.join("proxy").join(escape(path)).join("@v");
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join(format!("{}.mod", escape(version))), &body).unwrap();
            let info = format!(r#"{{"Version":"{version}","Time":"2023-01-02T03:04:05Z"}}"#);
            std::fs::write(dir.join(format!("{}.info", escape(version))), info).unwrap();
            let idx = lists
                .iter()
                .position(|(d, _)| *d == dir)
                .unwrap_or_else(|| {
                    lists.push((dir.clone(), Vec::new()));
                    lists.len() - 1
                });
            if !slipway_gomod::pseudo::is_pseudo_version(version) {
                lists[idx].1.push(version.to_owned());
            }
        } else {
            let file = dest.join(&name);
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(file, &body).unwrap();
        }
    }
    for (dir, versions) in lists {
        let text: String = versions.iter().flat_map(|v| [v.as_str(), "\n"]).collect();
        std::fs::write(dir.join("list"), text).unwrap();
    }
    std::fs::create_dir_all(dest.join("main")).unwrap();
}

pub(crate) fn section(
    label: &str,
    stdout: &str,
    failure: Option<&Failure>,
    warnings: &[String],
    failed: bool,
) -> String {
    let mut out = String::new();
    let status = i32::from(failure.is_some() || failed);
    writeln!(out, "-- {label} (exit {status}) --").unwrap();
    out.push_str(stdout);
    writeln!(out, "-- {label} stderr --").unwrap();
    for w in warnings {
        writeln!(out, "{w}").unwrap();
    }
    if let Some(f) = failure {
        for e in &f.errors {
            writeln!(out, "go: {e}").unwrap();
        }
    }
    out
}

/// What the library prints for a world, in the .out layout.
fn run_world(txtar: &Path) -> String {
    let tmp = tempfile::tempdir().unwrap();
    // Canonical, so that paths in messages match the directory the tests substitute.
    let root = std::fs::canonicalize(tmp.path()).unwrap();
    expand(txtar, &root);
    let proxy = ProxyDir::new(root.join("proxy"));
    let main = root.join("main");
    let base = Options::default()
        .go_version(&go_version())
        .gotoolchain("local")
        .go_work(GoWork::Auto);
    let mut out = String::new();
    let mut labels = vec![("list", true), ("graph", true)];
    if txtar_has_work(txtar) {
        labels.push(("list-readonly", false));
    }
    for (label, mod_mod) in labels {
        let options = base.clone().mod_mod(mod_mod);
        let text = render(label, &main, &proxy, &options);
        out.push_str(&text.replace(&*root.to_string_lossy(), "$WORK"));
    }
    out
}

/// `go mod graph` (label `graph`) or `go list -m all` (any other label) in `main`, as the .out section.
pub(crate) fn render(
    label: &str,
    main: &Path,
    source: &dyn slipway_gomod::source::ModuleSource,
    options: &mvs::Options,
) -> String {
    if label == "graph" {
        match mvs::graph(main, source, options) {
            Ok(g) => section(label, &g.to_string(), None, &g.warnings, g.failed),
            Err(f) => section(label, "", Some(&f), &f.warnings, false),
        }
    } else {
        match mvs::list(main, source, options) {
            Ok(l) => section(label, &l.to_string(), None, &l.warnings, false),
            Err(f) => section(label, "", Some(&f), &f.warnings, false),
        }
    }
}

pub(crate) fn txtar_has_work(txtar: &Path) -> bool {
    std::fs::read_to_string(txtar)
        .unwrap()
        .lines()
        .any(|l| l == "-- go.work --")
}

fn check_dir(sub: &str) -> usize {
    let mut worlds: Vec<PathBuf> = std::fs::read_dir(fixtures().join(sub))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "txtar"))
        .collect();
    worlds.sort();
    // Worlds are independent: check them on every core.
    let threads = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
    let chunk = worlds.len().div_ceil(threads);
    let failures: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = worlds
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    let mut failures = Vec::new();
                    for w in part {
                        let want = std::fs::read_to_string(w.with_extension("out")).unwrap();
                        let got = run_world(w);
                        if got != want {
                            failures.push(format!(
                                "=== {}\n--- want\n{want}--- got\n{got}",
                                w.display()
                            ));
                        }
                    }
                    failures
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    assert!(
        failures.is_empty(),
        "{} of {} worlds differ:\n{}",
        failures.len(),
        worlds.len(),
        failures.join("\n")
    );
    worlds.len()
}

#[test]
fn hand_written_worlds_match_go() {
    assert!(check_dir("cases") >= 20);
}

#[test]
fn random_worlds_match_go() {
    assert!(check_dir("random") >= 50);
}

#[test]
fn retractions_and_deprecations_come_from_the_latest_go_mod() {
    let tmp = tempfile::tempdir().unwrap();
    expand(&fixtures().join("cases/retracted.txtar"), tmp.path());
    let proxy = ProxyDir::new(tmp.path().join("proxy"));
    let options = Options::default()
        .go_version(&go_version())
        .go_work(GoWork::Off);
    let list = mvs::list(&tmp.path().join("main"), &proxy, &options).unwrap();
    let (retractions, deprecations) = mvs::retractions_and_deprecations(&list, &proxy);
    assert_eq!(
        retractions,
        [mvs::Retraction {
            path: "example.com/a".into(),
            version: "v1.0.0".into(),
            rationale: "broken".into(),
        }]
    );
    assert_eq!(
        deprecations,
        [mvs::Deprecation {
            path: "example.com/a".into(),
            message: "use example.com/b instead.".into(),
        }]
    );
}

#[test]
fn memory_source_worlds_load_like_proxy_worlds() {
    // The same world served from memory: same list.
    let mut world = slipway_gomod::source::MemorySource::new();
    world.add(
        "example.com/a",
        "v1.0.0",
        "module example.com/a\n\ngo 1.16\n\nrequire example.com/b v1.1.0\n",
    );
    world.add("example.com/b", "v1.1.0", "module example.com/b\n");
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("go.mod"),
        "module example.com/main\n\ngo 1.21\n\nrequire example.com/a v1.0.0\n",
    )
    .unwrap();
    let options = Options::default().go_work(GoWork::Off);
    let list = mvs::list(tmp.path(), &world, &options).unwrap();
    assert_eq!(
        list.to_string(),
        "example.com/main\nexample.com/a v1.0.0\nexample.com/b v1.1.0\n"
    );
    let graph = mvs::graph(tmp.path(), &world, &options).unwrap();
    assert_eq!(
        graph.to_string(),
        "example.com/main example.com/a@v1.0.0\nexample.com/main go@1.21\n\
         example.com/a@v1.0.0 example.com/b@v1.1.0\ngo@1.21 toolchain@go1.21\n"
    );
    // A missing go.mod in memory is go's "not found" error, with the requirement path.
    world.add(
        "example.com/a",
        "v1.0.0",
        "module example.com/a\n\ngo 1.16\n\nrequire example.com/c v1.0.0\n",
    );
    let failure = mvs::graph(tmp.path(), &world, &options).unwrap_err();
    let text = failure.to_string();
    assert!(
        text.starts_with("example.com/a@v1.0.0 requires\n\texample.com/c@v1.0.0: "),
        "{text}"
    );
}
