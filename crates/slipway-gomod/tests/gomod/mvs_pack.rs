//! The hand-written MVS worlds again, read the way `slipway gomod list/graph` reads them: through the
//! module cache (`CachedSource` over the `file://` proxy) with its pack on, cold and then warm. Each
//! label starts from a fresh world and cache, as go's fixture runs did; every run must print what go
//! printed. The warm runs are what the pack changes: the second one (after the cache's directories have
//! aged past the racy window) rewrites the pack, the third is served from it, and a fourth, with every
//! cached `.mod` overwritten in place (a change the pack cannot see), proves it was.

use std::path::Path;
use std::time::{Duration, SystemTime};

use slipway_gomod::mvs::{GoWork, Options};
use slipway_gomod::source::{CachedSource, ModCache, ProxyList};

use super::mvs::{expand, fixtures, go_version, render, txtar_has_work};

/// One run of `label` over the world in `root`, with a new source (so the pack is loaded at its start
/// and written when it is dropped), in the .out layout.
fn run(root: &Path, label: &str) -> String {
    let proxy = format!("file://{}", root.join("proxy").display());
    let source = CachedSource::new(
        ModCache::new(root.join("modcache")).with_pack(true),
        ProxyList::parse(&proxy).unwrap(),
    );
    let options = Options::default()
        .go_version(&go_version())
        .gotoolchain("local")
        .go_work(GoWork::Auto)
        .mod_mod(label != "list-readonly");
    let main = root.join("main");
    let text = render(label, &main, &source, &options);
    text.replace(&*root.to_string_lossy(), "$WORK")
}

/// Every directory under `dir`, deepest first.
fn dirs(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            dirs(&path, out);
            out.push(path);
        }
    }
}

/// The `label` section of a world's .out.
fn want(out: &str, label: &str) -> String {
    let start = out.find(&format!("-- {label} (exit ")).unwrap();
    let end_marker = format!("-- {label} stderr --\n");
    let stderr = start + out[start..].find(&end_marker).unwrap() + end_marker.len();
    // From the newline ending the stderr header: an empty stderr is followed by the next header at once.
    let end = out[stderr - 1..]
        .find("\n-- ")
        .map_or(out.len(), |i| stderr + i);
    out[start..end].to_owned()
}

#[test]
fn hand_written_worlds_match_go_through_a_cold_and_a_warm_packed_cache() {
    let mut worlds: Vec<_> = std::fs::read_dir(fixtures().join("cases"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "txtar"))
        .collect();
    worlds.sort();
    let mut failures = Vec::new();
    let mut served_from_pack = 0;
    for w in &worlds {
        let out = std::fs::read_to_string(w.with_extension("out")).unwrap();
        let mut labels = vec!["list", "graph"];
        if txtar_has_work(w) {
            labels.push("list-readonly");
        }
        for label in labels {
            let want = want(&out, label);
            let tmp = tempfile::tempdir().unwrap();
            let root = std::fs::canonicalize(tmp.path()).unwrap();
            expand(w, &root);
            let mut check = |run_name: &str, got: String| {
                if got != want {
                    failures.push(format!(
                        "=== {} {label} {run_name}\n--- want\n{want}--- got\n{got}",
                        w.display()
                    ));
                }
            };
            check("cold", run(&root, label));
            let download = root.join("modcache/cache/download");
            if !download.is_dir() {
                continue;
            }
            // As if the cache had been filled a minute ago: no directory is racy any more.
            let mut all = Vec::new();
            dirs(&download, &mut all);
            let old = SystemTime::now() - Duration::from_secs(60);
            for d in &all {
                std::fs::File::open(d).unwrap().set_modified(old).unwrap();
            }
            check("warm, pack rewritten", run(&root, label));
            check("warm, from the pack", run(&root, label));
            assert!(root.join("modcache/cache/slipway/pack").is_file());
            // Overwriting files in place leaves their directories' times alone: only a run served
            // from the pack still prints go's answer.
            let mut overwritten = 0;
            for d in &all {
                for entry in std::fs::read_dir(d).unwrap() {
                    let path = entry.unwrap().path();
                    if path.extension().is_some_and(|e| e == "mod") {
                        std::fs::write(&path, "module (\n").unwrap();
                        overwritten += 1;
                    }
                }
                std::fs::File::open(d).unwrap().set_modified(old).unwrap();
            }
            if overwritten > 0 {
                served_from_pack += 1;
                check("from the pack, files overwritten", run(&root, label));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} runs differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(
        served_from_pack >= 40,
        "{served_from_pack} runs from the pack"
    );
}
