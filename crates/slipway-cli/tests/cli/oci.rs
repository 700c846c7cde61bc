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
