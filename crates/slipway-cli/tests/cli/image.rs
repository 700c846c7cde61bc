//! `slipway image build` on the sample service: multi-arch, reproducible, valid, and the binary runs.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use slipway_testkit::{require_tool, testdata};

use crate::slipway;

/// `slipway` with the Go toolchain from `.tools/bin` on PATH, offline.
fn slipway_with_go() -> Command {
    let go = require_tool("go");
    let go_bin = go.parent().expect("go lives in a directory");
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs = vec![go_bin.to_path_buf()];
    dirs.extend(std::env::split_paths(&path));
    let mut cmd = slipway();
    cmd.env("PATH", std::env::join_paths(dirs).unwrap())
        .env("GOTOOLCHAIN", "local")
        .env("GOPROXY", "off")
        .env("GOFLAGS", "-mod=mod")
        .env("SOURCE_DATE_EPOCH", "1700000000");
    cmd
}

fn build(dest: &Path, platforms: &str) -> String {
    build_with(dest, platforms, &[])
}

/// `slipway image build` of testdata/hello into `oci:DEST:v9.8.7` with `extra` arguments; the digest.
fn build_with(dest: &Path, platforms: &str, extra: &[&str]) -> String {
    let out = slipway_with_go()
        .arg("image")
        .arg("build")
        .arg("-C")
        .arg(testdata("hello"))
        .arg("./cmd/hello")
        .args(["--platform", platforms, "-X", "main.version=v9.8.7"])
        .args(["--annotation", "org.opencontainers.image.version=v9.8.7"])
        .args(extra)
        .arg("--to")
        .arg(format!("oci:{}:v9.8.7", dest.display()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "image build failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = String::from_utf8(out.stdout).unwrap();
    let (_, digest) = line.trim().rsplit_once('@').expect("REF@DIGEST printed");
    digest.to_owned()
}

fn slipway_json(args: &[&str]) -> serde_json::Value {
    let out = slipway().args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Validates one tag of a layout that holds only that tag (oci-image-tool rc1 trips over several tags).
fn validate(dir: &Path, tag: &str) {
    let out = Command::new(require_tool("oci-image-tool"))
        .args(["validate", "--type", "image", "--ref"])
        .arg(format!("name={tag}"))
        .arg(dir)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && text.contains("Validation succeeded"),
        "{}: {text}",
        dir.display()
    );
}

/// Validates the index tagged `tag` in a layout of its own (`slipway copy --all`, which keeps every
/// byte): next to its SBOM referrers, which slipway lists untagged in index.json as ORAS does,
/// oci-image-tool 1.0.0-rc1's `--ref name=` filter skips entries while deleting from the slice it walks
/// and reports the tag as "not unique" for most entry orders.
fn validate_index_alone(layout: &str, tag: &str) {
    let alone = tempfile::tempdir().unwrap();
    let out = slipway()
        .args(["copy", "--all", &format!("oci:{layout}:{tag}")])
        .arg(format!("oci:{}:{tag}", alone.path().display()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    validate(alone.path(), tag);
}

/// The file `name` from a gzip layer tarball.
fn file_from_layer(layer: &[u8], name: &str) -> Vec<u8> {
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(layer));
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        if entry.path().unwrap().to_str() == Some(name) {
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes).unwrap();
            return bytes;
        }
    }
    panic!("{name} is not in the layer");
}

fn http_get(port: u16, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    Some(response)
}

#[test]
fn builds_reproducible_valid_multi_arch_images_whose_binary_serves_healthz() {
    let first = tempfile::tempdir().unwrap();
    let second = tempfile::tempdir().unwrap();
    let digest = build(first.path(), "linux/amd64,linux/arm64");
    assert_eq!(
        build(second.path(), "linux/amd64,linux/arm64"),
        digest,
        "two builds, two digests"
    );
    let layout = first.path().display().to_string();
    validate_index_alone(&layout, "v9.8.7");

    let index = slipway_json(&["inspect", &format!("oci:{layout}:v9.8.7"), "--raw"]);
    assert_eq!(
        index["mediaType"],
        "application/vnd.oci.image.index.v1+json"
    );
    let platforms: Vec<_> = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            format!(
                "{}/{}",
                m["platform"]["os"].as_str().unwrap(),
                m["platform"]["architecture"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(platforms, ["linux/amd64", "linux/arm64"]);
    assert_eq!(
        index["annotations"]["org.opencontainers.image.created"],
        "2023-11-14T22:13:20Z"
    );

    check_each_platform(&layout, &index, &platforms);
    check_extracted_binary_serves(first.path(), &layout);
}

/// Each platform image, alone in a layout, passes oci-image-tool; its config is ko's.
fn check_each_platform(layout: &str, index: &serde_json::Value, platforms: &[String]) {
    for (entry, platform) in index["manifests"].as_array().unwrap().iter().zip(platforms) {
        // Each platform image, alone in a layout, passes oci-image-tool too.
        let alone = tempfile::tempdir().unwrap();
        let digest = entry["digest"].as_str().unwrap();
        let out = slipway()
            .args(["copy", &format!("oci:{layout}@{digest}")])
            .arg(format!("oci:{}:only", alone.path().display()))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        validate(alone.path(), "only");

        let config = slipway_json(&[
            "inspect",
            &format!("oci:{layout}:v9.8.7"),
            "--platform",
            platform,
            "--config",
        ]);
        assert_eq!(config["config"]["Entrypoint"][0], "/ko-app/hello");
        assert_eq!(config["config"]["User"], "65532:65532");
    }
}

/// The amd64 binary taken back out of the image runs and answers /healthz and /version.
fn check_extracted_binary_serves(dir: &Path, layout: &str) {
    let manifest = slipway_json(&[
        "inspect",
        &format!("oci:{layout}:v9.8.7"),
        "--platform",
        "linux/amd64",
        "--raw",
    ]);
    assert_eq!(
        manifest["annotations"]["org.opencontainers.image.version"],
        "v9.8.7"
    );
    let layers = manifest["layers"].as_array().unwrap();
    let app_layer = layers.last().unwrap()["digest"].as_str().unwrap();
    let blob = std::fs::read(
        dir.join("blobs/sha256")
            .join(app_layer.trim_start_matches("sha256:")),
    )
    .unwrap();
    let binary = file_from_layer(&blob, "ko-app/hello");
    let run_dir = tempfile::tempdir().unwrap();
    let exe = run_dir.path().join("hello");
    std::fs::write(&exe, binary).unwrap();
    std::fs::set_permissions(&exe, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut server = Command::new(&exe)
        .env("PORT", port.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let health = loop {
        if let Some(response) = http_get(port, "/healthz") {
            break response;
        }
        assert!(
            Instant::now() < deadline,
            "the extracted binary never answered on port {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let version = http_get(port, "/version").unwrap_or_default();
    server.kill().unwrap();
    server.wait().unwrap();
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    assert!(health.ends_with("\r\n\r\nok"), "{health}");
    assert!(version.ends_with("\r\n\r\nv9.8.7"), "{version}");
}

#[test]
fn a_single_platform_gives_an_image_and_bad_input_names_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path(), "linux/arm/v7");
    let manifest = slipway_json(&[
        "inspect",
        &format!("oci:{}:v9.8.7", dir.path().display()),
        "--raw",
    ]);
    assert_eq!(
        manifest["mediaType"],
        "application/vnd.oci.image.manifest.v1+json"
    );

    let out = slipway_with_go()
        .args(["image", "build", "./cmd/nope", "--platform", "linux/amd64"])
        .arg("-C")
        .arg(testdata("hello"))
        .arg("--to")
        .arg(format!("oci:{}:x", dir.path().display()))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("go build ./cmd/nope for linux/amd64 failed"),
        "{err}"
    );

    let out = slipway_with_go()
        .args([
            "image",
            "build",
            "./cmd/hello",
            "--platform",
            "windows/amd64",
            "--to",
        ])
        .arg(format!("oci:{}:x", dir.path().display()))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("windows/amd64: only linux images"));
}

/// The layout at `dir` (named `layout`, tag `v9.8.7`) holds one SPDX referrer for the index `digest`,
/// untagged in index.json, and oci-image-tool still finds the tag.
fn check_index_sbom(dir: &Path, layout: &str, digest: &str) {
    // One SPDX referrer for the index, untagged in index.json.
    let referrers = untagged_entries(dir);
    assert_eq!(referrers.len(), 1, "{referrers:?}");
    assert_eq!(referrers[0]["artifactType"], "application/spdx+json");
    let sbom = slipway_json(&[
        "inspect",
        &format!("oci:{layout}@{}", referrers[0]["digest"].as_str().unwrap()),
        "--raw",
    ]);
    assert_eq!(sbom["subject"]["digest"], digest);
    assert_eq!(
        sbom["config"]["mediaType"],
        "application/vnd.oci.empty.v1+json"
    );
    // `inspect --referrers` answers as the referrers API does: the index has the SBOM, a platform none.
    let listed = slipway_json(&["inspect", &format!("oci:{layout}:v9.8.7"), "--referrers"]);
    assert_eq!(listed["manifests"].as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed["manifests"][0]["digest"], referrers[0]["digest"]);
    assert_eq!(
        listed["manifests"][0]["artifactType"],
        "application/spdx+json"
    );
    let platform = slipway_json(&[
        "inspect",
        &format!("oci:{layout}:v9.8.7"),
        "--platform",
        "linux/arm64",
        "--referrers",
    ]);
    assert_eq!(
        platform["manifests"].as_array().unwrap().len(),
        0,
        "{platform}"
    );
    // With one untagged neighbour, oci-image-tool finds the tag in the layout as slipway wrote it.
    let validate = Command::new(require_tool("oci-image-tool"))
        .args(["validate", "--type", "image", "--ref", "name=v9.8.7"])
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        validate.status.success(),
        "{}",
        String::from_utf8_lossy(&validate.stderr)
    );
}

/// The untagged entries of a layout's index.json (referrers, as slipway and ORAS list them).
fn untagged_entries(dir: &Path) -> Vec<serde_json::Value> {
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("index.json")).unwrap()).unwrap();
    index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["annotations"]["org.opencontainers.image.ref.name"].is_null())
        .cloned()
        .collect()
}

#[test]
fn builds_on_a_base_layout_with_base_annotations_and_sboms() {
    // The base: slipway's own image of the service (CA layer + app layer), without SBOMs.
    let base = tempfile::tempdir().unwrap();
    let base_digest = build_with(base.path(), "linux/amd64,linux/arm64", &["--no-sbom"]);
    assert!(
        untagged_entries(base.path()).is_empty(),
        "--no-sbom lists no referrers"
    );
    let base_ref = format!("oci:{}:v9.8.7", base.path().display());

    let dest = tempfile::tempdir().unwrap();
    let again = tempfile::tempdir().unwrap();
    let args = ["--base", base_ref.as_str()];
    let digest = build_with(dest.path(), "linux/amd64,linux/arm64", &args);
    assert_eq!(
        build_with(again.path(), "linux/amd64,linux/arm64", &args),
        digest,
        "two builds on one base, two digests"
    );
    let layout = dest.path().display().to_string();
    let index = slipway_json(&["inspect", &format!("oci:{layout}:v9.8.7"), "--raw"]);
    assert_eq!(
        index["annotations"]["org.opencontainers.image.base.name"],
        base_ref.as_str()
    );
    assert_eq!(
        index["annotations"]["org.opencontainers.image.base.digest"],
        base_digest.as_str()
    );
    let base_index = slipway_json(&["inspect", &base_ref, "--raw"]);
    let platforms = ["linux/amd64".to_owned(), "linux/arm64".to_owned()];
    for (i, platform) in platforms.iter().enumerate() {
        let manifest = slipway_json(&[
            "inspect",
            &format!("oci:{layout}:v9.8.7"),
            "--platform",
            platform,
            "--raw",
        ]);
        assert_eq!(
            manifest["annotations"]["org.opencontainers.image.base.digest"],
            base_index["manifests"][i]["digest"]
        );
        // Base layers (CA certificates when the host has them, the base's app) first, then ours.
        let base_manifest = slipway_json(&["inspect", &base_ref, "--platform", platform, "--raw"]);
        let base_layers = base_manifest["layers"].as_array().unwrap();
        let layers = manifest["layers"].as_array().unwrap();
        assert_eq!(layers.len(), base_layers.len() + 1);
        assert_eq!(layers[..base_layers.len()], base_layers[..]);
    }
    validate_index_alone(&layout, "v9.8.7");
    check_each_platform(&layout, &index, &platforms);
    check_extracted_binary_serves(dest.path(), &layout);
    // skopeo reads the tagged index (its untagged referrers beside it do not disturb it) byte for byte.
    let skopeo = Command::new(require_tool("skopeo"))
        .args(["--insecure-policy", "inspect", "--raw"])
        .arg(format!("oci:{layout}:v9.8.7"))
        .output()
        .unwrap();
    assert!(
        skopeo.status.success(),
        "{}",
        String::from_utf8_lossy(&skopeo.stderr)
    );
    let digest_hex = digest.trim_start_matches("sha256:");
    assert_eq!(
        skopeo.stdout,
        std::fs::read(dest.path().join("blobs/sha256").join(digest_hex)).unwrap()
    );

    check_index_sbom(dest.path(), &layout, &digest);
}

#[test]
fn a_base_without_the_platform_names_it() {
    let base = tempfile::tempdir().unwrap();
    build_with(base.path(), "linux/arm64", &["--no-sbom"]);
    let base_ref = format!("oci:{}:v9.8.7", base.path().display());
    let dest = tempfile::tempdir().unwrap();
    let out = slipway_with_go()
        .args(["image", "build", "./cmd/hello", "--platform", "linux/amd64"])
        .arg("-C")
        .arg(testdata("hello"))
        .args(["--base", &base_ref, "--to"])
        .arg(format!("oci:{}:x", dest.path().display()))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "base image {base_ref} is for linux/arm64, not linux/amd64"
        )),
        "{err}"
    );
}

/// A repository name of its own for each test run (the test registry is shared).
fn unique_repo(name: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("slipway-image/{name}-{}-{nanos}", std::process::id())
}

/// `skopeo inspect --raw` of a registry reference: the exact bytes.
fn skopeo_registry_raw(reference: &str) -> Vec<u8> {
    let out = Command::new(require_tool("skopeo"))
        .args(["inspect", "--raw", "--tls-verify=false"])
        .arg(format!("docker://{reference}"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "skopeo inspect {reference}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// `skopeo inspect --raw` of a registry reference, as JSON.
fn skopeo_registry_json(reference: &str) -> serde_json::Value {
    serde_json::from_slice(&skopeo_registry_raw(reference)).unwrap()
}

#[test]
fn builds_from_a_registry_base_into_a_registry_with_sbom_referrers() {
    let addr = slipway_testkit::registry();
    let layout = tempfile::tempdir().unwrap();
    let base_digest = build_with(layout.path(), "linux/amd64,linux/arm64", &["--no-sbom"]);
    let base_ref = format!("{addr}/{}:v1", unique_repo("base"));
    let out = slipway()
        .args(["copy", "--all"])
        .arg(format!("oci:{}:v9.8.7", layout.path().display()))
        .arg(&base_ref)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let app_ref = format!("{addr}/{}:v1", unique_repo("app"));
    let out = slipway_with_go()
        .args([
            "image",
            "build",
            "./cmd/hello",
            "--platform",
            "linux/amd64,linux/arm64",
        ])
        .arg("-C")
        .arg(testdata("hello"))
        .args(["--base", &base_ref, "--to", &app_ref])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = String::from_utf8(out.stdout).unwrap();
    let (_, digest) = line.trim().rsplit_once('@').unwrap();

    // skopeo gets the very index slipway printed the digest of.
    let raw = skopeo_registry_raw(&app_ref);
    assert_eq!(slipway_oci::Digest::sha256(&raw).as_str(), digest);
    let index: serde_json::Value = serde_json::from_slice(&raw).unwrap();
    assert_eq!(
        index["annotations"]["org.opencontainers.image.base.name"],
        base_ref.as_str()
    );
    assert_eq!(
        index["annotations"]["org.opencontainers.image.base.digest"],
        base_digest.as_str()
    );
    let (repo, _) = app_ref.rsplit_once(':').unwrap();
    for entry in index["manifests"].as_array().unwrap() {
        let image_digest = entry["digest"].as_str().unwrap();
        let image = skopeo_registry_json(&format!("{repo}@{image_digest}"));
        assert_eq!(
            image["annotations"]["org.opencontainers.image.base.name"],
            base_ref.as_str()
        );
    }
    // The registry has no referrers API: the index's SBOM is listed under the fallback tag.
    let fallback = format!("{repo}:{}", digest.replace(':', "-"));
    let referrers = skopeo_registry_json(&fallback);
    let sbom = &referrers["manifests"][0];
    assert_eq!(sbom["artifactType"], "application/spdx+json", "{referrers}");
    let artifact = skopeo_registry_json(&format!("{repo}@{}", sbom["digest"].as_str().unwrap()));
    assert_eq!(artifact["subject"]["digest"], digest);
}

/// Errors of `image build` keep their causes: a dangling kodata link says why it cannot be followed, and
/// a base image that cannot be read says what the store reported.
#[cfg(unix)]
#[test]
fn build_errors_keep_their_causes() {
    let tmp = tempfile::tempdir().unwrap();
    let module = tmp.path().join("m");
    std::fs::create_dir_all(module.join("cmd/k/kodata")).unwrap();
    std::fs::write(module.join("go.mod"), "module example.com/k\n\ngo 1.21\n").unwrap();
    std::fs::write(
        module.join("cmd/k/main.go"),
        "package main\n\nfunc main() {}\n",
    )
    .unwrap();
    std::os::unix::fs::symlink("gone.txt", module.join("cmd/k/kodata/dangling")).unwrap();
    let dest = tmp.path().join("out");
    let out = slipway_with_go()
        .args(["image", "build", "-C"])
        .arg(&module)
        .args(["./cmd/k", "--platform", "linux/amd64", "--to"])
        .arg(format!("oci:{}:v1", dest.display()))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "slipway: kodata link {} -> gone.txt cannot be followed: No such file or directory (os error 2)\n",
            module.join("cmd/k/kodata/dangling").display()
        )
    );

    std::fs::remove_file(module.join("cmd/k/kodata/dangling")).unwrap();
    // An empty OCI layout: the tag asked for is not in it.
    let base = tmp.path().join("base");
    std::fs::create_dir_all(base.join("blobs/sha256")).unwrap();
    std::fs::write(base.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    std::fs::write(
        base.join("index.json"),
        r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}"#,
    )
    .unwrap();
    let out = slipway_with_go()
        .args(["image", "build", "-C"])
        .arg(&module)
        .args(["./cmd/k", "--platform", "linux/amd64", "--base"])
        .arg(format!("oci:{}:missing", base.display()))
        .arg("--to")
        .arg(format!("oci:{}:v1", dest.display()))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    let prefix = format!("slipway: base image oci:{}:missing: ", base.display());
    assert!(
        err.starts_with(&prefix) && err.contains("not found"),
        "the store's reason is printed: {err}"
    );
}
