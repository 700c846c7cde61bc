//! Module sources against the real `go`: the fixture proxy (`tests/fixtures/proxy`, written by
//! `scripts/gen-gomod-sum-fixtures.sh`) served over HTTP on loopback by a small server in this file, GOPROXY
//! lists over it, and module caches populated by slipway and by `go mod download` compared file by file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use slipway_gomod::module::{self, Version};
use slipway_gomod::source::{
    self, Error, ModCache, ModuleSource, ProxyDir, ProxyList, fetch_go_mods,
};

fn proxy_dir() -> PathBuf {
    slipway_testkit::workspace_root().join("crates/slipway-gomod/tests/fixtures/proxy")
}

/// Every module version the fixture proxy holds (those with a `.mod` file), sorted.
fn fixture_versions() -> Vec<Version> {
    fn walk(dir: &Path, root: &Path, out: &mut Vec<Version>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if !path.is_dir() {
                continue;
            }
            if path.file_name().unwrap() == "@v" {
                let rel = path
                    .parent()
                    .unwrap()
                    .strip_prefix(root)
                    .unwrap()
                    .to_str()
                    .unwrap();
                let module_path = module::unescape_path(rel).unwrap();
                for file in std::fs::read_dir(&path).unwrap() {
                    let name = file.unwrap().file_name().into_string().unwrap();
                    if let Some(v) = name.strip_suffix(".mod") {
                        out.push(Version::new(
                            module_path.clone(),
                            module::unescape_version(v).unwrap(),
                        ));
                    }
                }
            } else {
                walk(&path, root, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(&proxy_dir(), &proxy_dir(), &mut out);
    out.sort_by(|a, b| (&a.path, &a.version).cmp(&(&b.path, &b.version)));
    assert!(
        out.len() >= 8,
        "fixture proxy missing: run scripts/gen-gomod-sum-fixtures.sh"
    );
    out
}

/// Every file under `dir`, by relative path, with its content.
fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(dir: &Path, root: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, root, out);
            } else {
                let rel = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_str()
                    .unwrap()
                    .to_owned();
                out.insert(rel, std::fs::read(&path).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

fn assert_same_tree(ours: &Path, go: &Path) {
    let ours = tree(ours);
    let go = tree(go);
    assert_eq!(
        ours.keys().collect::<Vec<_>>(),
        go.keys().collect::<Vec<_>>(),
        "file names differ"
    );
    for (name, data) in &go {
        assert!(
            ours[name] == *data,
            "{name} differs:\nslipway: {:?}\ngo:      {:?}",
            String::from_utf8_lossy(&ours[name]),
            String::from_utf8_lossy(data)
        );
    }
}

/// `go mod download -json` of `versions` through `goproxy` into `modcache`: the reported objects (a failed
/// download has an `Error` field and makes `go` exit non-zero).
fn go_mod_download(goproxy: &str, modcache: &Path, versions: &[Version]) -> serde_json::Value {
    let work = tempfile::tempdir().unwrap();
    let mut cmd = slipway_testkit::go();
    cmd.current_dir(work.path())
        .env("GOPROXY", goproxy)
        .env("GOMODCACHE", modcache)
        .env("GOPATH", work.path().join("gopath"))
        .env("GONOSUMDB", "*")
        .env("GOPRIVATE", "")
        .env("GONOPROXY", "")
        .env("GOENV", "off")
        .args(["mod", "download", "-json"])
        .args(versions.iter().map(ToString::to_string));
    let out = cmd.output().expect("cannot run go");
    // `-json` prints one object per module, concatenated.
    let objects: Vec<serde_json::Value> = serde_json::Deserializer::from_slice(&out.stdout)
        .into_iter()
        .collect::<Result<_, _>>()
        .unwrap();
    serde_json::Value::Array(objects)
}

#[test]
fn prefix_patterns_match_as_go_matches_them() {
    // Written by scripts/gen-gomod-source-fixtures.sh from x/mod's MatchPrefixPatterns.
    let path = slipway_testkit::workspace_root()
        .join("crates/slipway-gomod/tests/fixtures/source/match.tsv");
    let text = std::fs::read_to_string(&path).expect("run scripts/gen-gomod-source-fixtures.sh");
    let mut checked = 0;
    for line in text.lines() {
        let mut fields = line.split('\t');
        let (Some(globs), Some(target), Some(want)) = (fields.next(), fields.next(), fields.next())
        else {
            panic!("bad fixture line {line:?}");
        };
        assert_eq!(
            source::match_prefix_patterns(globs, target),
            want == "true",
            "{globs:?} vs {target:?}"
        );
        checked += 1;
    }
    assert!(checked >= 800, "{checked} fixture lines");
}

#[test]
fn proxy_dir_populated_cache_matches_go_mod_download() {
    let versions = fixture_versions();
    let ours = tempfile::tempdir().unwrap();
    let go = tempfile::tempdir().unwrap();
    let cache = ModCache::new(ours.path());
    let proxy = ProxyDir::new(proxy_dir());
    let mut sums = BTreeMap::new();
    for m in &versions {
        let d = cache.download(&proxy, &m.path, &m.version).unwrap();
        assert!(d.zip.is_file() && d.info.is_file() && d.go_mod.is_file());
        sums.insert(m.to_string(), (d.sum, d.go_mod_sum));
    }
    // Downloading again reads only the cache (the upstream knows nothing).
    for m in &versions {
        cache
            .download(&source::MemorySource::new(), &m.path, &m.version)
            .unwrap();
    }
    let reported = go_mod_download(
        &format!("file://{}", proxy_dir().display()),
        go.path(),
        &versions,
    );
    assert!(
        reported
            .as_array()
            .unwrap()
            .iter()
            .all(|o| o.get("Error").is_none()),
        "{reported}"
    );
    assert_same_tree(
        &ours.path().join("cache/download"),
        &go.path().join("cache/download"),
    );
    for object in reported.as_array().unwrap() {
        let key = format!(
            "{}@{}",
            object["Path"].as_str().unwrap(),
            object["Version"].as_str().unwrap()
        );
        let (sum, go_mod_sum) = &sums[&key];
        assert_eq!(object["Sum"], sum.as_str(), "{key}");
        assert_eq!(object["GoModSum"], go_mod_sum.as_str(), "{key}");
    }
    // The cache, read back as a source, serves what the proxy serves (list: versions with a canonical name).
    for m in &versions {
        assert_eq!(
            cache.go_mod(&m.path, &m.version).unwrap(),
            proxy.go_mod(&m.path, &m.version).unwrap()
        );
        assert_eq!(
            cache.zip(&m.path, &m.version).unwrap(),
            proxy.zip(&m.path, &m.version).unwrap()
        );
        assert_eq!(
            cache.info(&m.path, &m.version).unwrap(),
            proxy.info(&m.path, &m.version).unwrap()
        );
    }
}

#[test]
fn cached_source_fills_the_cache_then_reads_it() {
    let dir = tempfile::tempdir().unwrap();
    let goproxy = format!("file://{}", proxy_dir().display());
    let modcache = dir.path().join("modcache");
    let vars = [
        ("GOPROXY", goproxy.as_str()),
        ("GOMODCACHE", modcache.to_str().unwrap()),
        ("GOENV", "off"),
    ];
    let chain = source::from_vars(&vars).unwrap();
    let m = &fixture_versions()[0];
    let go_mod = chain.go_mod(&m.path, &m.version).unwrap();
    let zip = chain.zip(&m.path, &m.version).unwrap();
    let info = chain.info(&m.path, &m.version).unwrap();
    // With the proxy turned off the cache alone answers, except for version lists (as with cmd/go).
    let offline = source::from_vars(&[
        ("GOPROXY", "off"),
        ("GOMODCACHE", modcache.to_str().unwrap()),
        ("GOENV", "off"),
    ])
    .unwrap();
    assert_eq!(offline.go_mod(&m.path, &m.version).unwrap(), go_mod);
    assert_eq!(offline.zip(&m.path, &m.version).unwrap(), zip);
    assert_eq!(offline.info(&m.path, &m.version).unwrap(), info);
    let err = offline.list(&m.path).unwrap_err();
    assert!(matches!(err, Error::Disabled { .. }), "{err}");
    let err = offline.go_mod(&m.path, "v9.9.9").unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("{}@v9.9.9: module lookup disabled by GOPROXY=off", m.path)
    );
    // `go` itself accepts what slipway wrote: offline, from the cache only.
    let work = tempfile::tempdir().unwrap();
    let out = slipway_testkit::run_ok(
        slipway_testkit::go()
            .current_dir(work.path())
            .env("GOMODCACHE", &modcache)
            .env("GOENV", "off")
            .args(["mod", "download", "-json", &m.to_string()]),
    );
    let reported: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(reported.get("Error").is_none(), "{reported}");
}

#[test]
fn prefetch_returns_results_in_input_order() {
    let mut wanted = fixture_versions();
    wanted.push(Version::new("example.com/none", "v1.0.0"));
    wanted.reverse();
    let proxy = ProxyDir::new(proxy_dir());
    for jobs in [0, 1, 3, 64] {
        let results = fetch_go_mods(&proxy, &wanted, jobs);
        assert_eq!(results.len(), wanted.len());
        for (m, r) in wanted.iter().zip(&results) {
            match proxy.go_mod(&m.path, &m.version) {
                Ok(expected) => assert_eq!(r.as_ref().unwrap(), &expected, "{m}"),
                Err(_) => assert!(r.as_ref().unwrap_err().is_not_found(), "{m}"),
            }
        }
    }
    assert!(fetch_go_mods(&proxy, &[], 4).is_empty());
}

#[test]
fn goproxy_lists_of_file_proxies() {
    let empty = tempfile::tempdir().unwrap();
    let m = &fixture_versions()[0];
    let good = format!("file://{}", proxy_dir().display());
    let none = format!("file://{}", empty.path().display());
    let list = ProxyList::parse(&format!("{none},{good}")).unwrap();
    assert!(list.go_mod(&m.path, &m.version).is_ok());
    let list = ProxyList::parse(&format!("{none},off")).unwrap();
    assert!(matches!(
        list.go_mod(&m.path, &m.version),
        Err(Error::Disabled { .. })
    ));
    let list = ProxyList::parse(&format!("{none}|direct")).unwrap();
    let err = list.go_mod(&m.path, &m.version).unwrap_err();
    assert!(matches!(err, Error::DirectUnsupported { .. }), "{err}");
    let err = ProxyList::parse(&good)
        .unwrap()
        .with_noproxy(&m.path)
        .go_mod(&m.path, &m.version)
        .unwrap_err();
    assert!(matches!(err, Error::DirectUnsupported { .. }), "{err}");
}

#[cfg(feature = "http")]
mod http {
    //! The same over HTTP, through a loopback server with scripted failures.

    use std::collections::HashMap;
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    use slipway_gomod::source::{HttpOptions, HttpProxy};

    use super::*;

    /// What the server counted.
    #[derive(Default)]
    struct Stats {
        connections: AtomicUsize,
        requests: Mutex<HashMap<String, usize>>,
    }

    impl Stats {
        fn requests(&self, path: &str) -> usize {
            self.requests
                .lock()
                .unwrap()
                .get(path)
                .copied()
                .unwrap_or(0)
        }
        fn total(&self) -> usize {
            self.requests.lock().unwrap().values().sum()
        }
    }

    /// A GOPROXY server for the fixture proxy on 127.0.0.1. The first path segment picks a behaviour:
    /// `/ok/…` serves the fixtures; `/missing-hello/…` answers 404 for `example.com/hello`; `/gone/…` 410
    /// for everything; `/broken/…` 500 for everything; `/flaky/…` drops the connection on the first request
    /// for each path; `/auth/…` wants basic auth `gopher:s3cret`; `/slow/…` waits 20 ms before answering.
    struct Server {
        base: String,
        stats: Arc<Stats>,
    }

    impl Server {
        fn start() -> Server {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let base = format!("http://{}", listener.local_addr().unwrap());
            let stats = Arc::new(Stats::default());
            let shared = Arc::clone(&stats);
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    let Ok(stream) = stream else { continue };
                    let stats = Arc::clone(&shared);
                    stats.connections.fetch_add(1, Ordering::SeqCst);
                    std::thread::spawn(move || serve(stream, &stats));
                }
            });
            Server { base, stats }
        }

        fn url(&self, behaviour: &str) -> String {
            format!("{}/{behaviour}", self.base)
        }
    }

    fn percent_decode(s: &str) -> String {
        let b = s.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'%' {
                out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
                i += 3;
            } else {
                out.push(b[i]);
                i += 1;
            }
        }
        String::from_utf8(out).unwrap()
    }

    fn serve(stream: TcpStream, counters: &Stats) {
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut writer = stream;
        loop {
            let mut request_line = String::new();
            if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
                return;
            }
            let mut authorization = String::new();
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    return;
                }
                if line == "\r\n" || line == "\n" {
                    break;
                }
                if let Some((k, v)) = line.split_once(':')
                    && k.eq_ignore_ascii_case("authorization")
                {
                    v.trim().clone_into(&mut authorization);
                }
            }
            let target = request_line
                .split_whitespace()
                .nth(1)
                .unwrap_or("/")
                .to_owned();
            let count = {
                let mut requests = counters.requests.lock().unwrap();
                let n = requests.entry(target.clone()).or_insert(0);
                *n += 1;
                *n
            };
            let path = percent_decode(target.split('?').next().unwrap());
            let (behaviour, file) = path
                .trim_start_matches('/')
                .split_once('/')
                .unwrap_or(("", ""));
            let status = match behaviour {
                "missing-hello" if file.starts_with("example.com/hello/") => 404,
                "gone" => 410,
                "broken" => 500,
                "flaky" if count == 1 => return, // drop the connection without an answer
                "auth" if authorization != "Basic Z29waGVyOnMzY3JldA==" => 401,
                _ => 200,
            };
            if behaviour == "slow" {
                std::thread::sleep(Duration::from_millis(20));
            }
            let body = if status == 200 {
                let Ok(data) = std::fs::read(proxy_dir().join(file)) else {
                    respond(&mut writer, 404, b"not found\n");
                    continue;
                };
                data
            } else {
                b"no\n".to_vec()
            };
            if !respond(&mut writer, status, &body) {
                return;
            }
        }
    }

    fn respond(w: &mut TcpStream, status: u16, body: &[u8]) -> bool {
        let reason = match status {
            200 => "OK",
            401 => "Unauthorized",
            404 => "Not Found",
            410 => "Gone",
            _ => "Internal Server Error",
        };
        let head = format!(
            "HTTP/1.1 {status} {reason}\r\nContent-Length: {}\r\nConnection: keep-alive\r\n\r\n",
            body.len()
        );
        // One write: a head and a body sent separately meet Nagle's algorithm and delayed ACKs (40 ms).
        let mut message = head.into_bytes();
        message.extend_from_slice(body);
        w.write_all(&message).and_then(|()| w.flush()).is_ok()
    }

    fn quick() -> HttpOptions {
        HttpOptions::default().backoff(Duration::from_millis(10))
    }

    #[test]
    fn http_proxy_serves_what_the_directory_holds_over_one_connection() {
        let server = Server::start();
        let http = HttpProxy::with_options(&server.url("ok"), quick()).unwrap();
        let dir = ProxyDir::new(proxy_dir());
        let versions = fixture_versions();
        for m in &versions {
            assert_eq!(http.list(&m.path).ok(), dir.list(&m.path).ok(), "{m}");
            assert_eq!(
                http.info(&m.path, &m.version).unwrap(),
                dir.info(&m.path, &m.version).unwrap(),
                "{m}"
            );
            assert_eq!(
                http.go_mod(&m.path, &m.version).unwrap(),
                dir.go_mod(&m.path, &m.version).unwrap(),
                "{m}"
            );
            assert_eq!(
                http.zip(&m.path, &m.version).unwrap(),
                dir.zip(&m.path, &m.version).unwrap(),
                "{m}"
            );
        }
        let err = http.go_mod("example.com/none", "v1.0.0").unwrap_err();
        assert!(err.is_not_found(), "{err}");
        // Sequential requests reuse the agent's one connection.
        assert_eq!(server.stats.connections.load(Ordering::SeqCst), 1);
        // Upper-case letters travel `!`-escaped and percent-encoded, as cmd/go sends them.
        assert_eq!(
            server
                .stats
                .requests("/ok/example.com/%21upper/%21case/@v/v1.2.0.mod"),
            1
        );

        let gone = HttpProxy::new(&server.url("gone")).unwrap();
        assert!(gone.list("example.com/hello").unwrap_err().is_not_found());
    }

    #[test]
    fn statuses_retries_and_credentials() {
        let server = Server::start();
        // 500: retried, then a Fetch error naming the URL and the status.
        let broken = HttpProxy::with_options(&server.url("broken"), quick()).unwrap();
        let err = broken.go_mod("example.com/hello", "v1.0.0").unwrap_err();
        let url = format!("{}/broken/example.com/hello/@v/v1.0.0.mod", server.base);
        assert_eq!(
            err.to_string(),
            format!("example.com/hello@v1.0.0: reading {url}: 500 Internal Server Error")
        );
        assert_eq!(
            server
                .stats
                .requests("/broken/example.com/hello/@v/v1.0.0.mod"),
            3
        );
        let once = HttpProxy::with_options(&server.url("broken"), quick().retries(0)).unwrap();
        once.list("example.com/hello").unwrap_err();
        assert_eq!(
            server.stats.requests("/broken/example.com/hello/@v/list"),
            1
        );

        // A dropped connection is retried and the second attempt succeeds.
        let flaky = HttpProxy::with_options(&server.url("flaky"), quick()).unwrap();
        assert_eq!(
            flaky.go_mod("example.com/hello", "v1.0.0").unwrap(),
            std::fs::read(proxy_dir().join("example.com/hello/@v/v1.0.0.mod")).unwrap()
        );
        assert_eq!(
            server
                .stats
                .requests("/flaky/example.com/hello/@v/v1.0.0.mod"),
            2
        );

        // Credentials from the URL are sent, and appear in no message.
        let auth_url = server
            .url("auth")
            .replace("http://", "http://gopher:s3cret@");
        let auth = HttpProxy::new(&auth_url).unwrap();
        assert!(auth.go_mod("example.com/hello", "v1.0.0").is_ok());
        let wrong = HttpProxy::new(
            &server
                .url("auth")
                .replace("http://", "http://gopher:wrong@"),
        )
        .unwrap();
        let err = wrong.go_mod("example.com/hello", "v1.0.0").unwrap_err();
        let shown = format!("{err} {err:?} {wrong:?}");
        assert!(
            shown.contains("401 Unauthorized") && !shown.contains("wrong"),
            "{shown}"
        );

        // Nothing listening: a transport error, not a not-found.
        let closed = TcpListener::bind("127.0.0.1:0").unwrap();
        let dead = format!("http://{}", closed.local_addr().unwrap());
        drop(closed);
        let err = HttpProxy::with_options(&dead, quick().retries(1))
            .unwrap()
            .list("example.com/hello")
            .unwrap_err();
        assert!(matches!(err, Error::Fetch { .. }), "{err}");
    }

    #[test]
    fn goproxy_lists_over_http_fall_through_as_cmd_go_does() {
        let server = Server::start();
        let go_mod = |goproxy: &str| {
            ProxyList::parse(goproxy)
                .unwrap()
                .go_mod("example.com/hello", "v1.0.0")
        };
        let (ok, missing, broken) = (
            server.url("ok"),
            server.url("missing-hello"),
            server.url("broken"),
        );
        // `,` falls through on 404 only; `|` on any error.
        assert!(go_mod(&format!("{missing},{ok}")).is_ok());
        let err = go_mod(&format!("{broken},{ok}")).unwrap_err();
        assert!(
            err.to_string().contains("500 Internal Server Error"),
            "{err}"
        );
        assert!(go_mod(&format!("{broken}|{ok}")).is_ok());
        // All missing: the not-found comes back; then off/direct end the list.
        assert!(
            go_mod(&format!("{missing},{missing}"))
                .unwrap_err()
                .is_not_found()
        );
        assert!(matches!(
            go_mod(&format!("{missing},off")),
            Err(Error::Disabled { .. })
        ));
        assert!(matches!(
            go_mod(&format!("{missing},direct,{ok}")),
            Err(Error::DirectUnsupported { .. })
        ));

        // The same lists through the real `go`: it succeeds exactly where slipway does.
        for (goproxy, ok_expected) in [
            (format!("{missing},{ok}"), true),
            (format!("{broken},{ok}"), false),
            (format!("{broken}|{ok}"), true),
            (format!("{missing},off"), false),
        ] {
            let cache = tempfile::tempdir().unwrap();
            let reported = go_mod_download(
                &goproxy,
                cache.path(),
                &[Version::new("example.com/hello", "v1.0.0")],
            );
            let go_ok = reported[0].get("Error").is_none();
            assert_eq!(go_ok, ok_expected, "go with GOPROXY={goproxy}: {reported}");
            assert_eq!(
                go_mod(&goproxy).is_ok(),
                ok_expected,
                "slipway with GOPROXY={goproxy}"
            );
        }
    }

    #[test]
    fn http_populated_cache_matches_go_mod_download_through_the_same_server() {
        let server = Server::start();
        let versions = fixture_versions();
        let ours = tempfile::tempdir().unwrap();
        let go = tempfile::tempdir().unwrap();
        let list = ProxyList::parse(&server.url("ok")).unwrap();
        let cache = ModCache::new(ours.path());
        for m in &versions {
            cache.download(&list, &m.path, &m.version).unwrap();
        }
        let reported = go_mod_download(&server.url("ok"), go.path(), &versions);
        assert!(
            reported
                .as_array()
                .unwrap()
                .iter()
                .all(|o| o.get("Error").is_none()),
            "{reported}"
        );
        assert_same_tree(
            &ours.path().join("cache/download"),
            &go.path().join("cache/download"),
        );

        // The env chain serves from the cache without asking the server again.
        let before = server.stats.total();
        let chain = source::from_vars(&[
            ("GOPROXY", &server.url("ok")),
            ("GOMODCACHE", ours.path().to_str().unwrap()),
            ("GOENV", "off"),
        ])
        .unwrap();
        for m in &versions {
            chain.go_mod(&m.path, &m.version).unwrap();
            chain.zip(&m.path, &m.version).unwrap();
        }
        assert_eq!(server.stats.total(), before);
    }

    #[test]
    fn parallel_prefetch_overlaps_slow_requests() {
        let server = Server::start();
        let proxy = HttpProxy::new(&server.url("slow")).unwrap();
        let versions = fixture_versions();
        // The same versions several times over, so that the timing is not noise.
        let wanted: Vec<Version> = versions
            .iter()
            .cycle()
            .take(versions.len() * 4)
            .cloned()
            .collect();
        let start = Instant::now();
        let sequential = fetch_go_mods(&proxy, &wanted, 1);
        let one = start.elapsed();
        let start = Instant::now();
        let parallel = fetch_go_mods(&proxy, &wanted, 8);
        let eight = start.elapsed();
        for (a, b) in sequential.iter().zip(&parallel) {
            assert_eq!(a.as_ref().unwrap(), b.as_ref().unwrap());
        }
        eprintln!(
            "prefetch of {} go.mod files at 20 ms each: 1 job {one:?}, 8 jobs {eight:?}",
            wanted.len()
        );
        assert!(eight * 3 < one, "8 jobs took {eight:?}, 1 job {one:?}");
    }

    #[test]
    fn a_silent_server_times_out() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            // Accept and hold connections without ever answering.
            let held: Vec<TcpStream> = listener.incoming().flatten().collect();
            drop(held);
        });
        let options = quick().timeout(Duration::from_millis(300)).retries(0);
        let start = Instant::now();
        let err = HttpProxy::with_options(&base, options)
            .unwrap()
            .list("example.com/hello")
            .unwrap_err();
        assert!(matches!(err, Error::Fetch { .. }), "{err}");
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{:?}",
            start.elapsed()
        );
    }

    #[test]
    fn truncated_documents_are_errors() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let mut stream = stream;
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf);
                // Promise more than is sent, then hang up: a truncated body.
                let _ =
                    stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"Version\"");
            }
        });
        let proxy = HttpProxy::with_options(&base, quick().retries(1)).unwrap();
        let err = proxy.info("example.com/hello", "v1.0.0").unwrap_err();
        assert!(matches!(err, Error::Fetch { .. }), "{err}");
    }
}
