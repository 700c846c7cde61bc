//! `dirhash` and `sum` against the real `go`: the proxy, go.sum and `go mod download -json` output written by
//! `scripts/gen-gomod-sum-fixtures.sh`.

use std::path::PathBuf;

use slipway_gomod::sum::{Check, GoSum};
use slipway_gomod::{dirhash, module};

fn fixtures() -> PathBuf {
    slipway_testkit::workspace_root().join("crates/slipway-gomod/tests/fixtures")
}

struct Download {
    path: String,
    version: String,
    sum: String,
    go_mod_sum: String,
}

fn downloads() -> Vec<Download> {
    let text = std::fs::read_to_string(fixtures().join("sum/download.json"))
        .expect("run scripts/gen-gomod-sum-fixtures.sh");
    let list: serde_json::Value = serde_json::from_str(&text).unwrap();
    let field = |v: &serde_json::Value, k: &str| v[k].as_str().unwrap().to_owned();
    list.as_array()
        .unwrap()
        .iter()
        .map(|v| Download {
            path: field(v, "Path"),
            version: field(v, "Version"),
            sum: field(v, "Sum"),
            go_mod_sum: field(v, "GoModSum"),
        })
        .collect()
}

/// `proxy/<escaped path>/@v/<escaped version>.<ext>`, escaped with our own escaping.
fn proxy_file(d: &Download, ext: &str) -> PathBuf {
    let path = module::escape_path(&d.path).unwrap();
    let version = module::escape_version(&d.version).unwrap();
    fixtures()
        .join("proxy")
        .join(path)
        .join("@v")
        .join(format!("{version}.{ext}"))
}

#[test]
fn zip_go_mod_and_directory_hashes_equal_go_mod_download() {
    let downloads = downloads();
    assert_eq!(downloads.len(), 9);
    for d in &downloads {
        let zip = proxy_file(d, "zip");
        assert_eq!(
            dirhash::hash_zip_file(&zip).unwrap(),
            d.sum,
            "{}",
            zip.display()
        );
        let zip_bytes = std::fs::read(&zip).unwrap();
        assert_eq!(dirhash::hash_zip(&zip_bytes).unwrap(), d.sum);

        let go_mod = std::fs::read(proxy_file(d, "mod")).unwrap();
        assert_eq!(
            dirhash::hash_go_mod(&go_mod),
            d.go_mod_sum,
            "{}@{}",
            d.path,
            d.version
        );

        // The source directory the zip was made from, hashed with the zip's inclusion rules.
        let src = fixtures()
            .join("sum/modules")
            .join(format!("{}@{}", d.path, d.version));
        assert_eq!(
            dirhash::hash_module_dir(&src, &d.path, &d.version).unwrap(),
            d.sum,
            "{}",
            src.display()
        );
    }
}

#[test]
fn module_files_follow_the_zip_rules() {
    let old =
        dirhash::module_files(&fixtures().join("sum/modules/example.com/vend@v1.0.0")).unwrap();
    let new =
        dirhash::module_files(&fixtures().join("sum/modules/example.com/vend@v1.1.0")).unwrap();
    // go 1.21: vendor/modules.txt stays, and pkg/vendor/vendor.go counts as vendored (the old offset bug).
    assert_eq!(
        old,
        [
            ".github/workflow.yml",
            "go.mod",
            "vend.go",
            "vendor/modules.txt",
            "vendor/top.go"
        ]
    );
    // go 1.24: vendor/modules.txt goes, pkg/vendor/vendor.go stays.
    assert_eq!(
        new,
        [
            ".github/workflow.yml",
            "go.mod",
            "pkg/vendor/vendor.go",
            "vend.go",
            "vendor/top.go"
        ]
    );
}

#[test]
fn go_sum_round_trips_and_rebuilds_byte_for_byte() {
    let path = fixtures().join("sum/main/go.sum");
    let original = std::fs::read_to_string(&path).unwrap();
    let sums = GoSum::read_file(&path).unwrap().unwrap();
    assert_eq!(sums.to_string(), original);
    assert_eq!(sums.lines().len(), original.lines().count());

    // Recorded in reverse order from our own hashes, written sorted: the same file.
    let mut rebuilt = GoSum::new();
    for d in downloads().iter().rev() {
        if !sums.hashes(&d.path, &d.version).is_empty() {
            let zip = dirhash::hash_zip_file(&proxy_file(d, "zip")).unwrap();
            let go_mod = dirhash::hash_go_mod(&std::fs::read(proxy_file(d, "mod")).unwrap());
            rebuilt.add(&d.path, &format!("{}/go.mod", d.version), &go_mod);
            rebuilt.add(&d.path, &d.version, &zip);
        }
    }
    assert_eq!(rebuilt.to_string(), original);
}

#[test]
fn downloads_verify_against_go_sum() {
    let sums = GoSum::read_file(&fixtures().join("sum/main/go.sum"))
        .unwrap()
        .unwrap();
    let mut verified = 0;
    for d in downloads() {
        let zip = proxy_file(&d, "zip");
        let go_mod = std::fs::read(proxy_file(&d, "mod")).unwrap();
        let want = if sums.hashes(&d.path, &d.version).is_empty() {
            Check::Missing
        } else {
            verified += 1;
            Check::Verified
        };
        assert_eq!(
            sums.check_zip_file(&d.path, &d.version, &zip).unwrap(),
            want
        );
        if want == Check::Verified {
            assert_eq!(
                sums.check_go_mod(&d.path, &d.version, &go_mod).unwrap(),
                Check::Verified
            );
        }
    }
    assert_eq!(verified, 6);

    // A go.mod that differs from the one go recorded is a mismatch, reported as go reports it.
    let err = sums
        .check_go_mod("example.com/hello", "v1.1.0", b"module example.com/hello\n")
        .unwrap_err();
    assert!(
        err.to_string().starts_with(
            "verifying example.com/hello@v1.1.0/go.mod: checksum mismatch\n\tdownloaded: h1:"
        ),
        "{err}"
    );
}

proptest::proptest! {
    #[test]
    fn go_sum_parsing_never_panics_and_writing_is_stable(data in proptest::collection::vec(proptest::num::u8::ANY, 0..400)) {
        if let Ok(sums) = GoSum::parse("go.sum", &data) {
            let written = sums.to_string();
            let again = GoSum::parse("go.sum", written.as_bytes()).unwrap();
            proptest::prop_assert_eq!(again.to_string(), written);
        }
        let _ = GoSum::parse_lax(&data);
        let _ = dirhash::hash_zip(&data);
    }

    #[test]
    fn go_sum_lines_round_trip(lines in proptest::collection::vec(
        ("[a-z]{1,5}\\.com/[a-zA-Z]{1,5}", "v[0-9]\\.[0-9]{1,2}\\.[0-9](/go\\.mod)?", "h1:[A-Za-z0-9+/]{4}="), 0..20)) {
        let mut sums = GoSum::new();
        for (path, version, hash) in &lines {
            sums.add(path, version, hash);
        }
        let written = sums.to_string();
        let parsed = GoSum::parse("go.sum", written.as_bytes()).unwrap();
        proptest::prop_assert_eq!(&parsed, &GoSum::parse("go.sum", parsed.to_string().as_bytes()).unwrap());
        for (path, version, hash) in &lines {
            proptest::prop_assert_eq!(parsed.check(path, version, hash).unwrap(), Check::Verified);
        }
    }
}
