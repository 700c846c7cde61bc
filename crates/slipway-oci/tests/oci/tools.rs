//! slipway's layouts against oci-image-tool and skopeo.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use slipway_oci::copy::{CopyOptions, copy};
use slipway_oci::manifest::{Flavor, Manifest, media_type};
use slipway_oci::platform::Platform;
use slipway_oci::reference::{ManifestRef, Tag};
use slipway_oci::store::{BlobStoreExt, ManifestStore, ManifestStoreExt, OciLayout};
use slipway_testkit::{require_tool, run_ok};

use super::{PLATFORMS, sample_image, write_multi_arch};

fn validate(dir: &Path, tag: &str) {
    let tool = require_tool("oci-image-tool");
    let out = Command::new(tool)
        .args(["validate", "--type", "image", "--ref"])
        .arg(format!("name={tag}"))
        .arg(dir)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "oci-image-tool rejected {}:{tag}: {text}",
        dir.display()
    );
    assert!(text.contains("Validation succeeded"), "{text}");
}

fn skopeo() -> Command {
    let mut cmd = Command::new(require_tool("skopeo"));
    // No policy.json is needed for local layouts; keep the test independent of /etc/containers.
    cmd.arg("--insecure-policy");
    cmd
}

fn skopeo_raw(reference: &str) -> Vec<u8> {
    run_ok(skopeo().args(["inspect", "--raw", reference])).stdout
}

fn oci_ref(dir: &Path, tag: &str) -> String {
    format!("oci:{}:{tag}", dir.display())
}

#[test]
fn oci_image_tool_accepts_a_single_image() {
    let dir = tempfile::tempdir().unwrap();
    let layout = OciLayout::create(dir.path()).unwrap();
    let image = sample_image(&layout, "linux/amd64", Flavor::Oci);
    layout
        .put_manifest(image.manifest(), Some(&Tag::new("v1").unwrap()))
        .unwrap();
    validate(dir.path(), "v1");
    assert_eq!(
        skopeo_raw(&oci_ref(dir.path(), "v1")),
        image.manifest().bytes()
    );
}

/// Copies one manifest into a fresh layout where it is the only entry, and validates it there.
///
/// oci-image-tool 1.0.0-rc1 filters index.json entries by `--ref name=` with a loop that deletes from the
/// slice it walks, skipping the entry after each deleted one: in a layout with three or more tags it
/// reports "not unique" for tags that are unique. A layout holding one entry sidesteps that bug.
fn validate_alone(src: &OciLayout, target: &ManifestRef, tag: &str) {
    let dir = tempfile::tempdir().unwrap();
    let alone = OciLayout::create(dir.path()).unwrap();
    copy(
        src,
        target,
        &alone,
        Some(&Tag::new(tag).unwrap()),
        &CopyOptions::default().all(true),
    )
    .unwrap();
    validate(dir.path(), tag);
}

#[test]
fn multi_arch_layout_is_valid_index_and_per_platform() {
    let dir = tempfile::tempdir().unwrap();
    let (index, images) = write_multi_arch(dir.path(), "multi", Flavor::Oci);
    // oci-image-tool checks the index but does not descend into it…
    validate(dir.path(), "multi");
    assert_eq!(skopeo_raw(&oci_ref(dir.path(), "multi")), index.bytes());
    // …so every platform image is also validated on its own.
    let layout = OciLayout::open(dir.path()).unwrap();
    for (image, p) in images.iter().zip(PLATFORMS) {
        let tag = p.replace('/', "-");
        validate_alone(
            &layout,
            &ManifestRef::Digest(image.manifest().digest().clone()),
            &tag,
        );
        layout
            .put_manifest(image.manifest(), Some(&Tag::new(&tag).unwrap()))
            .unwrap();
        assert_eq!(
            skopeo_raw(&oci_ref(dir.path(), &tag)),
            image.manifest().bytes()
        );
    }
    let report = layout.verify().unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    // 4 × (layer, config, manifest) + index
    assert_eq!(report.blobs_checked, 13);
}

#[test]
fn skopeo_round_trips_slipway_and_slipway_round_trips_skopeo() {
    let ours = tempfile::tempdir().unwrap();
    let (index, images) = write_multi_arch(ours.path(), "multi", Flavor::Oci);

    // skopeo copies slipway's layout with --all: the same bytes come out the other side.
    let theirs = tempfile::tempdir().unwrap();
    let theirs_dir = theirs.path().join("layout");
    run_ok(skopeo().args([
        "copy",
        "--all",
        &oci_ref(ours.path(), "multi"),
        &oci_ref(&theirs_dir, "copied"),
    ]));
    assert_eq!(skopeo_raw(&oci_ref(&theirs_dir, "copied")), index.bytes());

    // slipway reads what skopeo wrote.
    let layout = OciLayout::open(&theirs_dir).unwrap();
    assert_eq!(layout.tags().unwrap(), vec![Tag::new("copied").unwrap()]);
    let raw = layout
        .require_manifest(&ManifestRef::Tag(Tag::new("copied").unwrap()))
        .unwrap();
    assert_eq!(raw.digest(), index.digest());
    let report = layout.verify().unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    let Manifest::Index(decoded) = raw.decode().unwrap() else {
        panic!("index expected")
    };
    assert_eq!(decoded.manifests.len(), PLATFORMS.len());
    for (entry, image) in decoded.manifests.iter().zip(&images) {
        assert_eq!(entry.digest, image.manifest().digest().clone());
        assert_eq!(
            layout.read_blob(&entry.digest).unwrap(),
            image.manifest().bytes()
        );
    }

    // skopeo picks one platform out of slipway's index; slipway reads it and copies it on; the result
    // is valid.
    let single = theirs.path().join("single");
    run_ok(skopeo().args([
        "copy",
        "--override-os",
        "linux",
        "--override-arch",
        "arm",
        "--override-variant",
        "v7",
        &oci_ref(ours.path(), "multi"),
        &oci_ref(&single, "arm"),
    ]));
    let single_layout = OciLayout::open(&single).unwrap();
    let arm = single_layout.resolve(None).unwrap();
    assert_eq!(arm.digest, *images[2].manifest().digest());
    let again = tempfile::tempdir().unwrap();
    let again_layout = OciLayout::create(again.path()).unwrap();
    copy(
        &single_layout,
        &ManifestRef::Digest(arm.digest.clone()),
        &again_layout,
        Some(&Tag::new("arm").unwrap()),
        &CopyOptions::default(),
    )
    .unwrap();
    validate(again.path(), "arm");

    // slipway copies skopeo's copy back with --all into a fresh layout, which validates.
    let back = tempfile::tempdir().unwrap();
    let back_layout = OciLayout::create(back.path()).unwrap();
    let report = copy(
        &layout,
        &ManifestRef::Tag(Tag::new("copied").unwrap()),
        &back_layout,
        Some(&Tag::new("back").unwrap()),
        &CopyOptions::default().all(true),
    )
    .unwrap();
    assert_eq!(report.manifest.digest, *index.digest());
    validate(back.path(), "back");
    assert_eq!(skopeo_raw(&oci_ref(back.path(), "back")), index.bytes());
}

#[test]
fn docker_manifest_list_in_a_layout() {
    let dir = tempfile::tempdir().unwrap();
    let (index, images) = write_multi_arch(dir.path(), "docker", Flavor::Docker);
    assert_eq!(index.media_type(), media_type::DOCKER_MANIFEST_LIST);
    // skopeo's oci: transport only looks at OCI-typed entries of index.json, so a Docker list in a layout
    // is read back through slipway here; registries are where the Docker flavour is consumed.
    let layout = OciLayout::open(dir.path()).unwrap();
    let (raw, decoded) = layout
        .get_decoded(&ManifestRef::Tag(Tag::new("docker").unwrap()))
        .unwrap();
    assert_eq!(raw, index);
    let Manifest::Index(list) = decoded else {
        panic!("list expected")
    };
    list.check_consistency().unwrap();
    for (entry, image) in list.manifests.iter().zip(&images) {
        assert_eq!(entry.media_type, media_type::DOCKER_MANIFEST);
        let Manifest::Image(m) = image.manifest().decode().unwrap() else {
            panic!("image expected")
        };
        assert_eq!(m.config.media_type, media_type::DOCKER_CONFIG);
        assert_eq!(m.layers[0].media_type, media_type::DOCKER_LAYER_GZIP);
    }
    assert!(layout.verify().unwrap().is_ok());
}

#[test]
fn concurrent_writers_keep_every_tag() {
    let dir = tempfile::tempdir().unwrap();
    let layout = Arc::new(OciLayout::create(dir.path()).unwrap());
    let image = sample_image(&layout, "linux/amd64", Flavor::Oci);
    let manifest = Arc::new(image.manifest().clone());
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let path = dir.path().to_path_buf();
            let manifest = Arc::clone(&manifest);
            std::thread::spawn(move || {
                // Each writer opens the layout on its own, as separate processes would.
                let layout = OciLayout::open(&path).unwrap();
                for i in 0..10 {
                    let tag = Tag::new(&format!("t{t}-{i}")).unwrap();
                    layout.put_manifest(&manifest, Some(&tag)).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(layout.tags().unwrap().len(), 80);
    assert!(layout.verify().unwrap().is_ok());
    validate_alone(
        &layout,
        &ManifestRef::Tag(Tag::new("t7-9").unwrap()),
        "t7-9",
    );
}

#[test]
fn building_twice_gives_identical_digests() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let (ia, _) = write_multi_arch(a.path(), "x", Flavor::Oci);
    let (ib, _) = write_multi_arch(b.path(), "x", Flavor::Oci);
    assert_eq!(ia.digest(), ib.digest());
    assert_eq!(ia.bytes(), ib.bytes());
}

#[test]
fn platforms_in_the_index_come_from_the_configs() {
    let dir = tempfile::tempdir().unwrap();
    let (index, _) = write_multi_arch(dir.path(), "multi", Flavor::Oci);
    let Manifest::Index(decoded) = index.decode().unwrap() else {
        panic!("index expected")
    };
    let got: Vec<String> = decoded
        .manifests
        .iter()
        .map(|d| d.platform.as_ref().unwrap().to_string())
        .collect();
    assert_eq!(got, PLATFORMS);
    let arm = Platform::parse("linux/armhf").unwrap();
    assert!(arm.matches(decoded.manifests[2].platform.as_ref().unwrap()));
}

#[test]
fn gnu_tar_lists_the_layer_as_built() {
    let dir = tempfile::tempdir().unwrap();
    let layout = OciLayout::create(dir.path()).unwrap();
    let image = sample_image(&layout, "linux/amd64", Flavor::Oci);
    let layer = &image.layers()[0];
    let path = dir.path().join("layer.tar.gz");
    std::fs::write(&path, layer.bytes()).unwrap();
    let out = run_ok(
        Command::new(require_tool("tar"))
            .args(["--list", "--verbose", "--numeric-owner", "--gzip", "--file"])
            .arg(&path)
            .env("TZ", "UTC"),
    );
    let listing = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = listing.lines().collect();
    // mode, owner/group, size, date, time, name [-> target]
    let expected = [
        ("drwxr-xr-x", "app/"),
        ("-rwxr-xr-x", "app/hello"),
        ("drwxr-xr-x", "etc/"),
        ("drwxr-xr-x", "etc/hello/"),
        ("-rw-r--r--", "etc/hello/config.toml"),
        ("drwxr-xr-x", "usr/"),
        ("drwxr-xr-x", "usr/local/"),
        ("drwxr-xr-x", "usr/local/bin/"),
        ("lrwxrwxrwx", "usr/local/bin/hello -> /app/hello"),
    ];
    assert_eq!(lines.len(), expected.len(), "{listing}");
    for (line, (mode, name)) in lines.iter().zip(expected) {
        assert!(line.starts_with(mode), "{line}");
        assert!(line.contains(" 65532/65532 "), "{line}");
        assert!(line.contains(" 2023-11-14 22:13 "), "{line}");
        assert!(line.ends_with(name), "{line} should end with {name}");
    }
}
