//! `slipway index|copy|inspect` on OCI layouts, checked with skopeo and oci-image-tool.

use std::path::Path;
use std::process::{Command, Output};

use slipway_oci::image::{ImageBuilder, LayerBuilder};
use slipway_oci::manifest::Flavor;
use slipway_oci::platform::Platform;
use slipway_oci::reference::Tag;
use slipway_oci::store::{ManifestStore, OciLayout};
use slipway_testkit::{require_tool, run_ok};

use super::run;

/// A one-image layout at `dir`, tagged `tag`, for `platform`; returns the manifest digest.
fn image_layout(dir: &Path, platform: &str, tag: &str, payload: &str) -> String {
    let layout = OciLayout::create(dir).unwrap();
    let layer = LayerBuilder::new()
        .file("app/hello", 0o755, payload.as_bytes().to_vec())
        .build()
        .unwrap();
    let image = ImageBuilder::new(Platform::parse(platform).unwrap())
        .flavor(Flavor::Oci)
        .layer(layer)
        .entrypoint(["/app/hello"])
        .user("65532")
        .write_to(&layout)
        .unwrap();
    layout
        .put_manifest(image.manifest(), Some(&Tag::new(tag).unwrap()))
        .unwrap();
    image.manifest().digest().to_string()
}

fn ok(args: &[&str]) -> String {
    let out = run(args);
    assert!(out.status.success(), "slipway {args:?}: {}", describe(&out));
    String::from_utf8(out.stdout).unwrap()
}

fn fails(args: &[&str]) -> String {
    let out = run(args);
    assert!(
        !out.status.success(),
        "slipway {args:?} succeeded: {}",
        describe(&out)
    );
    String::from_utf8(out.stderr).unwrap()
}

fn describe(out: &Output) -> String {
    format!(
        "{}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn validate(dir: &Path, tag: &str) {
    run_ok(
        Command::new(require_tool("oci-image-tool"))
            .args(["validate", "--type", "image", "--ref"])
            .arg(format!("name={tag}"))
            .arg(dir),
    );
}

fn skopeo_raw(reference: &str) -> Vec<u8> {
    run_ok(Command::new(require_tool("skopeo")).args([
        "--insecure-policy",
        "inspect",
        "--raw",
        reference,
    ]))
    .stdout
}

struct Fixture {
    _tmp: tempfile::TempDir,
    root: std::path::PathBuf,
    amd: String,
    arm: String,
}

fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().to_path_buf();
    let amd = image_layout(&root.join("amd"), "linux/amd64", "v1", "amd64 binary");
    let arm = image_layout(&root.join("arm"), "linux/arm64", "v1", "arm64 binary");
    Fixture {
        _tmp: tmp,
        root,
        amd,
        arm,
    }
}

impl Fixture {
    fn r(&self, rel: &str) -> String {
        let (dir, target) = rel.split_at(rel.find([':', '@']).unwrap_or(rel.len()));
        format!("oci:{}{target}", self.root.join(dir).display())
    }
}

#[test]
fn index_create_writes_a_valid_index_that_skopeo_reads() {
    let f = fixture();
    let to = f.r("multi:v1");
    let digest = ok(&[
        "index",
        "create",
        "--to",
        &to,
        "--annotation",
        "index:org.opencontainers.image.version=1.0.0",
        "--annotation",
        "manifest-descriptor[linux/arm64]:org.example.note=arm",
        &f.r("amd:v1"),
        &f.r("arm:v1"),
    ]);
    let digest = digest.trim();
    assert!(digest.starts_with("sha256:"), "{digest}");
    validate(&f.root.join("multi"), "v1");
    let raw = ok(&["inspect", "--raw", &to]);
    assert_eq!(skopeo_raw(&to), raw.as_bytes());
    let index: serde_json::Value = serde_json::from_str(&raw).unwrap();
    assert_eq!(
        index["mediaType"],
        "application/vnd.oci.image.index.v1+json"
    );
    assert_eq!(
        index["annotations"]["org.opencontainers.image.version"],
        "1.0.0"
    );
    assert_eq!(index["manifests"][0]["digest"], f.amd.as_str());
    assert_eq!(index["manifests"][0]["platform"]["architecture"], "amd64");
    assert_eq!(index["manifests"][1]["digest"], f.arm.as_str());
    assert_eq!(
        index["manifests"][1]["annotations"]["org.example.note"],
        "arm"
    );
    // The layout's own tag annotation does not leak into the index entries.
    assert!(index["manifests"][0].get("annotations").is_none());

    let summary: serde_json::Value = serde_json::from_str(&ok(&["inspect", &to])).unwrap();
    assert_eq!(summary["Digest"], digest);
    assert_eq!(summary["Manifests"][1]["Platform"], "linux/arm64");
    let arm: serde_json::Value =
        serde_json::from_str(&ok(&["inspect", "--platform", "linux/aarch64", &to])).unwrap();
    assert_eq!(arm["Digest"], f.arm.as_str());
    assert_eq!(arm["User"], "65532");
    let config: serde_json::Value = serde_json::from_str(&ok(&[
        "inspect",
        "--config",
        "--platform",
        "linux/arm64/v8",
        &to,
    ]))
    .unwrap();
    assert_eq!(config["architecture"], "arm64");
}

#[test]
fn index_append_remove_and_duplicate_platforms() {
    let f = fixture();
    let to = f.r("multi:v1");
    ok(&["index", "create", "--to", &to, &f.r("amd:v1")]);
    ok(&["index", "append", &to, &f.r("arm:v1")]);
    let other = image_layout(
        &f.root.join("amd2"),
        "linux/x86_64",
        "v2",
        "another amd64 binary",
    );
    let err = fails(&["index", "append", &to, &f.r("amd2:v2")]);
    assert!(err.contains("already holds"), "{err}");
    ok(&["index", "append", "--replace", &to, &f.r("amd2:v2")]);
    let index: serde_json::Value = serde_json::from_str(&ok(&["inspect", "--raw", &to])).unwrap();
    let digests: Vec<&str> = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["digest"].as_str().unwrap())
        .collect();
    assert_eq!(digests, [other.as_str(), f.arm.as_str()]);

    ok(&["index", "remove", &to, "--platform", "linux/arm64"]);
    let err = fails(&["index", "remove", &to, "--platform", "linux/arm64"]);
    assert!(err.contains("no image for platform linux/arm64"), "{err}");
    let index: serde_json::Value = serde_json::from_str(&ok(&["inspect", "--raw", &to])).unwrap();
    assert_eq!(index["manifests"].as_array().unwrap().len(), 1);
    validate(&f.root.join("multi"), "v1");
}

#[test]
fn copy_all_and_one_platform() {
    let f = fixture();
    let multi = f.r("multi:v1");
    let index_digest = ok(&[
        "index",
        "create",
        "--to",
        &multi,
        &f.r("amd:v1"),
        &f.r("arm:v1"),
    ]);
    let all = f.r("all:copied");
    let copied = ok(&["copy", "--all", &multi, &all]);
    assert_eq!(copied, index_digest);
    validate(&f.root.join("all"), "copied");
    assert_eq!(
        skopeo_raw(&all),
        ok(&["inspect", "--raw", &multi]).as_bytes()
    );
    let one = f.r("one:arm");
    let copied = ok(&["copy", "--platform", "linux/arm64", &multi, &one]);
    assert_eq!(copied.trim(), f.arm);
    validate(&f.root.join("one"), "arm");
    // Without a tag, the only manifest of a layout is meant, as skopeo reads `oci:DIR`.
    let sole = ok(&["inspect", "--raw", &f.r("one")]);
    assert_eq!(skopeo_raw(&one), sole.as_bytes());
    let by_digest = ok(&["inspect", "--raw", &f.r(&format!("one@{}", f.arm))]);
    assert_eq!(by_digest, sole);
}

#[test]
fn clear_errors() {
    let f = fixture();
    // Nothing listens on port 1: the error names the registry, the repository and what was being done.
    let err = fails(&["copy", "docker://127.0.0.1:1/org/app:v1", &f.r("x:v1")]);
    assert!(
        err.contains("127.0.0.1:1/org/app: fetching manifest v1"),
        "{err}"
    );
    let err = fails(&["copy", &f.r("amd:v1"), &f.r("x")]);
    assert!(err.contains("needs a tag"), "{err}");
    let err = fails(&["inspect", &f.r("amd:nope")]);
    assert!(err.contains("not found"), "{err}");
    let err = fails(&["inspect", "oci:dir@sha256:abc"]);
    assert!(err.contains("sha256 needs 64 hex characters"), "{err}");
    let err = fails(&[
        "index",
        "create",
        "--to",
        &f.r("m:v1"),
        "--format",
        "docker",
        &f.r("amd:v1"),
    ]);
    assert!(err.contains("cannot hold"), "{err}");
}

/// Runs `slipway args` with the umask `mask` (set by a shell, since a umask is per process).
fn with_umask(mask: &str, args: &[&str]) -> Output {
    Command::new("sh")
        .arg("-c")
        .arg(format!("umask {mask} && exec \"$0\" \"$@\""))
        .arg(env!("CARGO_BIN_EXE_slipway"))
        .args(args)
        .output()
        .unwrap()
}

/// The permission bits of every file and directory under `dir` (the directory included), by relative path.
fn modes(dir: &Path) -> Vec<(String, u32)> {
    use std::os::unix::fs::PermissionsExt;
    let mut out = vec![(
        ".".to_owned(),
        std::fs::metadata(dir).unwrap().permissions().mode() & 0o777,
    )];
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            if meta.is_dir() {
                todo.push(path.clone());
            }
            let rel = path.strip_prefix(dir).unwrap().display().to_string();
            out.push((rel, meta.permissions().mode() & 0o777));
        }
    }
    out.sort();
    out
}

#[test]
fn layout_files_honour_the_umask() {
    let f = fixture();
    for (mask, file, dir) in [("022", 0o644, 0o755), ("077", 0o600, 0o700)] {
        let name = format!("umask{mask}");
        let out = with_umask(mask, &["copy", &f.r("amd:v1"), &f.r(&format!("{name}:v1"))]);
        assert!(out.status.success(), "{}", describe(&out));
        let found = modes(&f.root.join(&name));
        // oci-layout, index.json, index.json.lock, three blobs, two directories and the layout itself.
        assert_eq!(found.len(), 9, "{found:?}");
        for (path, mode) in found {
            let want = if path == "." || path == "blobs" || path == "blobs/sha256" {
                dir
            } else {
                file
            };
            assert_eq!(mode, want, "{path} under umask {mask}: {mode:o}");
        }
    }
}

#[test]
fn concurrent_index_appends_all_survive() {
    let f = fixture();
    let to = f.r("multi:v1");
    ok(&["index", "create", "--to", &to, &f.r("amd:v1")]);
    let platforms = [
        "linux/arm64",
        "linux/arm/v7",
        "linux/ppc64le",
        "linux/s390x",
    ];
    let mut sources = Vec::new();
    for (i, p) in platforms.iter().enumerate() {
        let digest = image_layout(&f.root.join(format!("p{i}")), p, "v1", p);
        sources.push((f.r(&format!("p{i}:v1")), digest));
    }
    let children: Vec<_> = sources
        .iter()
        .map(|(src, _)| {
            super::slipway()
                .args(["index", "append", &to, src])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", describe(&out));
    }
    let index: serde_json::Value = serde_json::from_str(&ok(&["inspect", "--raw", &to])).unwrap();
    let mut digests: Vec<&str> = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["digest"].as_str().unwrap())
        .collect();
    digests.sort_unstable();
    let mut want: Vec<&str> = sources.iter().map(|(_, d)| d.as_str()).collect();
    want.push(&f.amd);
    want.sort_unstable();
    assert_eq!(digests, want);
    validate(&f.root.join("multi"), "v1");
}

#[test]
fn deeply_nested_index_is_refused_with_the_depth_limit() {
    let f = fixture();
    // 5,000 indexes, each naming the next, the last naming the amd64 image; written as blob files
    // directly (a put_manifest each would sync 5,000 times).
    let dir = f.root.join("amd");
    let layout = OciLayout::open(&dir).unwrap();
    let mut child = layout
        .resolve(Some(&slipway_oci::reference::ManifestRef::Tag(
            Tag::new("v1").unwrap(),
        )))
        .unwrap();
    child.annotations.clear();
    for _ in 0..5000 {
        let mut index = slipway_oci::manifest::ImageIndex::new(Flavor::Oci);
        index.manifests.push(child);
        let raw = slipway_oci::manifest::RawManifest::encode_index(&index);
        std::fs::write(layout.blob_path(raw.digest()), raw.bytes()).unwrap();
        child = raw.descriptor();
    }
    let top = format!("oci:{}@{}", dir.display(), child.digest);
    for args in [
        vec!["copy", "--all", &top, &f.r("deep:v1")],
        vec!["index", "create", "--to", &f.r("deep:v2"), &top],
    ] {
        let err = fails(&args);
        assert!(err.contains("indexes deep"), "{args:?}: {err}");
        assert!(err.contains("more than 64"), "{args:?}: {err}");
    }
}

#[test]
fn a_later_copy_removes_temporaries_a_killed_copy_left() {
    let f = fixture();
    let dst = f.r("dst:v1");
    ok(&["copy", &f.r("amd:v1"), &dst]);
    let left = f.root.join("dst/.tmp-killed");
    let file = std::fs::File::create(&left).unwrap();
    file.set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(600))
        .unwrap();
    drop(file);
    ok(&["copy", &f.r("amd:v1"), &dst]);
    assert!(!left.exists());
}
