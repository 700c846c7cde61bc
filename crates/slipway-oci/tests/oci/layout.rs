//! Hostile OCI layouts: endless files, oversized blobs, FIFOs, deep nesting, concurrent tag edits, files
//! left by killed writers (docs/security.md holds what these tests promise).

use std::fs::{self, File};
use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Barrier};
use std::time::{Duration, SystemTime};

use slipway_oci::copy::{self, CopyOptions, MAX_DEPTH, copy};
use slipway_oci::digest::Digest;
use slipway_oci::image::BuiltImage;
use slipway_oci::index::IndexBuilder;
use slipway_oci::manifest::{Descriptor, Flavor, ImageIndex, Manifest, RawManifest};
use slipway_oci::reference::{ManifestRef, Tag};
use slipway_oci::store::{
    self, BlobStore, BlobStoreExt, MANIFEST_LIMIT, ManifestStore, MemoryStore, OciLayout, Problem,
};

use super::sample_image;

fn tag(name: &str) -> Tag {
    Tag::new(name).unwrap()
}

/// A layout at `dir` holding one linux/amd64 image tagged `v1`.
fn one_image(dir: &Path) -> (OciLayout, BuiltImage) {
    let layout = OciLayout::create(dir).unwrap();
    let image = sample_image(&layout, "linux/amd64", Flavor::Oci);
    layout
        .put_manifest(image.manifest(), Some(&tag("v1")))
        .unwrap();
    (layout, image)
}

/// Replaces `path` with a symlink to /dev/zero, which never ends.
fn dev_zero(path: &Path) {
    fs::remove_file(path).unwrap();
    symlink("/dev/zero", path).unwrap();
}

/// Replaces `path` with a sparse file of `len` bytes (zeros that take no disk).
fn sparse(path: &Path, len: u64) {
    fs::remove_file(path).unwrap();
    File::create(path).unwrap().set_len(len).unwrap();
}

/// An error and its sources, as the CLI prints them.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut next = e.source();
    while let Some(cause) = next {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        next = cause.source();
    }
    text
}

fn temporaries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with(".tmp-"))
        .collect();
    names.sort();
    names
}

#[test]
fn index_json_that_never_ends_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (layout, _) = one_image(dir.path());
    let index = dir.path().join("index.json");
    dev_zero(&index);
    let err = layout.index().unwrap_err();
    assert!(
        matches!(&err, store::Error::NotRegularFile { path, kind: "a character device" } if *path == index),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "{} is not a regular file (a character device)",
            index.display()
        )
    );
    assert!(layout.tags().is_err());
}

#[test]
fn index_json_over_its_limit_is_refused_after_limit_plus_one_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let (layout, _) = one_image(dir.path());
    let index = dir.path().join("index.json");
    sparse(&index, OciLayout::INDEX_JSON_LIMIT + 1);
    let err = layout.index().unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{}: more than {} bytes (the index.json limit)",
            index.display(),
            OciLayout::INDEX_JSON_LIMIT
        )
    );
}

#[test]
fn manifest_blob_that_never_ends_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (layout, image) = one_image(dir.path());
    let blob = layout.blob_path(image.manifest().digest());
    dev_zero(&blob);
    let err = layout
        .get_manifest(&ManifestRef::Tag(tag("v1")))
        .unwrap_err();
    assert!(
        matches!(&err, store::Error::NotRegularFile { path, .. } if *path == blob),
        "{err:?}"
    );
}

#[test]
fn manifest_blob_larger_than_declared_is_read_only_to_its_declared_size() {
    let dir = tempfile::tempdir().unwrap();
    let (layout, image) = one_image(dir.path());
    let declared = image.manifest().bytes().len() as u64;
    let blob = layout.blob_path(image.manifest().digest());
    // 64 MiB where index.json says a few hundred bytes.
    sparse(&blob, 64 << 20);
    let err = layout
        .get_manifest(&ManifestRef::Tag(tag("v1")))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{}: more than {declared} bytes (its descriptor's size)",
            blob.display()
        )
    );
    // Named by digest alone (no descriptor in index.json), a manifest is bounded by the manifest limit.
    let mut index = layout.index().unwrap();
    index.manifests.clear();
    fs::write(
        dir.path().join("index.json"),
        serde_json::to_vec(&index).unwrap(),
    )
    .unwrap();
    let err = layout
        .get_manifest(&ManifestRef::Digest(image.manifest().digest().clone()))
        .unwrap_err();
    assert!(
        matches!(&err, store::Error::TooLarge { path, limit, .. } if *path == blob && *limit == MANIFEST_LIMIT),
        "{err:?}"
    );
}

#[test]
fn config_that_never_ends_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (layout, image) = one_image(dir.path());
    let Manifest::Image(m) = image.manifest().decode().unwrap() else {
        unreachable!()
    };
    let config = layout.blob_path(&m.config.digest);
    dev_zero(&config);
    let err = IndexBuilder::new()
        .add_image(&layout, image.descriptor())
        .unwrap_err();
    let text = chain(&err);
    assert_eq!(
        text,
        format!(
            "{} is not a regular file (a character device)",
            config.display()
        )
    );
}

#[test]
fn config_larger_than_declared_is_refused_after_its_size_plus_one_byte() {
    let store = MemoryStore::new();
    let layout_dir = tempfile::tempdir().unwrap();
    let (layout, image) = one_image(layout_dir.path());
    let Manifest::Image(m) = image.manifest().decode().unwrap() else {
        unreachable!()
    };
    let config = layout.blob_path(&m.config.digest);
    sparse(&config, 64 << 20);
    let err = layout.read_descriptor(&m.config).unwrap_err();
    assert!(
        matches!(&err, store::Error::TooLarge { limit, .. } if *limit == m.config.size),
        "{err:?}"
    );
    // A store's put_blob stops reading one byte past the declared size.
    let mut endless = std::io::repeat(0);
    let err = store
        .put_blob(&m.config.digest, Some(m.config.size), &mut endless)
        .unwrap_err();
    assert!(matches!(err, store::Error::TooLarge { .. }), "{err:?}");
}

#[test]
fn layer_that_never_ends_fails_the_copy_and_leaves_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, image) = one_image(&tmp.path().join("src"));
    let layer = image.layers()[0].info().descriptor.clone();
    dev_zero(&src.blob_path(&layer.digest));
    let dst = OciLayout::create(tmp.path().join("dst")).unwrap();
    let err = copy(
        &src,
        &ManifestRef::Tag(tag("v1")),
        &dst,
        Some(&tag("v1")),
        &CopyOptions::default(),
    )
    .unwrap_err();
    assert!(
        matches!(
            &err,
            copy::Error::Source {
                source: store::Error::NotRegularFile { .. }
            }
        ),
        "{err:?}"
    );
    assert!(!dst.blob_path(&layer.digest).exists());
    assert!(temporaries(dst.path()).is_empty());
    assert!(dst.tags().unwrap().is_empty());
}

#[test]
fn layer_larger_than_declared_is_read_only_to_its_size_plus_one_byte() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, image) = one_image(&tmp.path().join("src"));
    let layer = image.layers()[0].info().descriptor.clone();
    sparse(&src.blob_path(&layer.digest), 64 << 20);
    let dst = OciLayout::create(tmp.path().join("dst")).unwrap();
    let err = copy(
        &src,
        &ManifestRef::Tag(tag("v1")),
        &dst,
        Some(&tag("v1")),
        &CopyOptions::default(),
    )
    .unwrap_err();
    assert_eq!(
        chain(&err),
        format!(
            "writing the destination: {}: more than {} bytes (its descriptor's size)",
            dst.blob_path(&layer.digest).display(),
            layer.size
        )
    );
    assert!(temporaries(dst.path()).is_empty());
}

#[test]
fn fifo_blob_is_refused_not_waited_on() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, image) = one_image(&tmp.path().join("src"));
    let layer = image.layers()[0].info().descriptor.clone();
    let path = src.blob_path(&layer.digest);
    fs::remove_file(&path).unwrap();
    let status = Command::new("mkfifo").arg(&path).status().unwrap();
    assert!(status.success());
    let dst = MemoryStore::new();
    let err = copy(
        &src,
        &ManifestRef::Tag(tag("v1")),
        &dst,
        None,
        &CopyOptions::default(),
    )
    .unwrap_err();
    assert_eq!(
        chain(&err),
        format!(
            "reading the source: {} is not a regular file (a FIFO)",
            path.display()
        )
    );
    let report = src.verify().unwrap();
    assert!(
        report.problems.iter().any(
            |p| matches!(p, Problem::NotRegularFile { path: p, kind: "a FIFO" } if *p == path)
        ),
        "{:?}",
        report.problems
    );
}

/// A chain of `depth` indexes in `store`, each naming the next, the last naming one image; returns the
/// top one's digest and the digest of each level, top first.
fn index_chain(store: &MemoryStore, depth: usize) -> Vec<Digest> {
    let dir = tempfile::tempdir().unwrap();
    let (layout, image) = one_image(dir.path());
    copy(
        &layout,
        &ManifestRef::Tag(tag("v1")),
        store,
        None,
        &CopyOptions::default(),
    )
    .unwrap();
    let mut child = image.descriptor();
    let mut digests = Vec::with_capacity(depth);
    for _ in 0..depth {
        let mut index = ImageIndex::new(Flavor::Oci);
        index.manifests.push(child);
        let raw = RawManifest::encode_index(&index);
        store.put_manifest(&raw, None).unwrap();
        digests.push(raw.digest().clone());
        child = raw.descriptor();
    }
    digests.reverse();
    digests
}

#[test]
fn deep_index_chain_stops_at_the_documented_depth() {
    let src = MemoryStore::new();
    let levels = index_chain(&src, 5000);
    let dst = MemoryStore::new();
    let err = copy(
        &src,
        &ManifestRef::Digest(levels[0].clone()),
        &dst,
        None,
        &CopyOptions::default().all(true),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "manifest {} is nested more than {MAX_DEPTH} indexes deep",
            levels[MAX_DEPTH + 1]
        )
    );
    // A chain at the limit copies.
    let ok = copy(
        &src,
        &ManifestRef::Digest(levels[5000 - MAX_DEPTH].clone()),
        &dst,
        None,
        &CopyOptions::default().all(true),
    )
    .unwrap();
    assert_eq!(ok.manifest.digest, levels[5000 - MAX_DEPTH]);
}

#[test]
fn concurrent_tag_edits_all_survive() {
    const PLATFORMS: [&str; 6] = [
        "linux/amd64",
        "linux/arm64",
        "linux/arm/v7",
        "linux/ppc64le",
        "linux/s390x",
        "linux/riscv64",
    ];
    let dir = tempfile::tempdir().unwrap();
    let layout = OciLayout::create(dir.path()).unwrap();
    let images: Vec<Descriptor> = PLATFORMS
        .iter()
        .map(|p| sample_image(&layout, p, Flavor::Oci).descriptor())
        .collect();
    let start = Arc::new(Barrier::new(images.len()));
    std::thread::scope(|scope| {
        for image in &images {
            let (layout, start) = (&layout, Arc::clone(&start));
            scope.spawn(move || {
                start.wait();
                layout
                    .update_tag(&tag("multi"), |current| {
                        let mut builder = match current.map(|raw| raw.decode()) {
                            Some(Ok(Manifest::Index(index))) => IndexBuilder::from_index(index),
                            None => IndexBuilder::new(),
                            other => panic!("{other:?}"),
                        };
                        builder.add_image(layout, image.clone())?;
                        builder.build()
                    })
                    .unwrap();
            });
        }
    });
    let (_, decoded) =
        slipway_oci::store::ManifestStoreExt::get_decoded(&layout, &ManifestRef::Tag(tag("multi")))
            .unwrap();
    let Manifest::Index(index) = decoded else {
        unreachable!()
    };
    let mut got: Vec<_> = index.manifests.iter().map(|d| d.digest.clone()).collect();
    let mut want: Vec<_> = images.iter().map(|d| d.digest.clone()).collect();
    got.sort();
    want.sort();
    assert_eq!(got, want);
    assert!(layout.verify().unwrap().is_ok());
}

#[test]
fn stale_temporaries_are_removed_and_live_ones_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, _) = one_image(&tmp.path().join("src"));
    let dst_dir = tmp.path().join("dst");
    OciLayout::create(&dst_dir).unwrap();
    let an_hour_ago = SystemTime::now() - Duration::from_secs(3600);
    let make = |name: &str, when: SystemTime| {
        let file = File::create(dst_dir.join(name)).unwrap();
        file.set_modified(when).unwrap();
        file
    };
    // Left by a writer that was killed: unlocked, untouched for an hour.
    drop(make(".tmp-killed", an_hour_ago));
    // A live writer's: old (a slow upload), but locked.
    let live = make(".tmp-live", an_hour_ago);
    live.lock().unwrap();
    // Just created, not yet locked by its writer.
    drop(make(".tmp-fresh", SystemTime::now()));
    let dst = OciLayout::create(&dst_dir).unwrap();
    copy(
        &src,
        &ManifestRef::Tag(tag("v1")),
        &dst,
        Some(&tag("v1")),
        &CopyOptions::default(),
    )
    .unwrap();
    assert_eq!(temporaries(&dst_dir), [".tmp-fresh", ".tmp-live"]);
    drop(live);
}

#[test]
fn copy_all_supplies_a_destination_tags_missing_manifest() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, image) = one_image(&tmp.path().join("src"));
    let mut builder = IndexBuilder::new();
    builder.add_image(&src, image.descriptor()).unwrap();
    let index = builder.build().unwrap();
    src.put_manifest(&index, Some(&tag("multi"))).unwrap();
    let dst = OciLayout::create(tmp.path().join("dst")).unwrap();
    copy(
        &src,
        &ManifestRef::Tag(tag("v1")),
        &dst,
        Some(&tag("single")),
        &CopyOptions::default(),
    )
    .unwrap();
    // The tag stays in index.json; its manifest blob is lost.
    fs::remove_file(dst.blob_path(image.manifest().digest())).unwrap();
    copy(
        &src,
        &ManifestRef::Tag(tag("multi")),
        &dst,
        Some(&tag("multi")),
        &CopyOptions::default().all(true),
    )
    .unwrap();
    assert!(dst.blob_path(image.manifest().digest()).exists());
    let report = dst.verify().unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
}
