//! `build_go_images_on`: the sample service built with the real Go toolchain on base images made here
//! (there is no network, so bases are built locally with slipway's own builders).

use std::path::Path;

use slipway_oci::gobuild::{
    BASE_DIGEST, BASE_NAME, BaseImage, Error, GoImageOptions, GoImages, build_go_images_on,
};
use slipway_oci::image::{ImageBuilder, LayerBuilder};
use slipway_oci::index::IndexBuilder;
use slipway_oci::manifest::{
    Descriptor, Flavor, ImageConfig, ImageManifest, Manifest, RawManifest, media_type,
};
use slipway_oci::platform::Platform;
use slipway_oci::reference::{ManifestRef, Tag};
use slipway_oci::store::{BlobStoreExt, ManifestStore, ManifestStoreExt, OciLayout};
use slipway_testkit::{require_tool, testdata};

const EPOCH: u64 = 1_700_000_000;

/// A busybox-like base image for `platform`: a shell script, /etc/passwd, an environment, a working
/// directory and a command of its own.
fn base_image(
    layout: &OciLayout,
    platform: &str,
    flavor: Flavor,
    user: Option<&str>,
) -> Descriptor {
    let p = Platform::parse(platform).unwrap();
    let files = LayerBuilder::new()
        .mtime(EPOCH)
        .flavor(flavor)
        .file("bin/sh", 0o755, format!("#!shell for {p}\n").into_bytes())
        .file(
            "etc/passwd",
            0o644,
            b"root:x:0:0:root:/root:/bin/sh\n".to_vec(),
        )
        .build()
        .unwrap();
    let more = LayerBuilder::new()
        .mtime(EPOCH)
        .flavor(flavor)
        .dir("srv", 0o755)
        .build()
        .unwrap();
    let mut image = ImageBuilder::new(p)
        .flavor(flavor)
        .layer(files)
        .layer(more)
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("HOME", "/root")
        .working_dir("/srv")
        .label("org.example.base", "busybox-like")
        .cmd(["/bin/sh"])
        .created(EPOCH - 86_400);
    if let Some(user) = user {
        image = image.user(user);
    }
    image.write_to(layout).unwrap().descriptor()
}

/// A base index for `platforms`, tagged `base` in a layout at `dir`.
fn base_index(dir: &Path, platforms: &[&str], flavor: Flavor) -> (OciLayout, RawManifest) {
    let layout = OciLayout::create(dir).unwrap();
    let mut index = IndexBuilder::new().flavor(flavor);
    for platform in platforms {
        index
            .push(base_image(&layout, platform, flavor, None))
            .unwrap();
    }
    let index = index.build().unwrap();
    layout
        .put_manifest(&index, Some(&Tag::new("base").unwrap()))
        .unwrap();
    (layout, index)
}

fn options(platforms: &[&str]) -> GoImageOptions {
    let mut options = GoImageOptions::new(
        platforms
            .iter()
            .map(|p| Platform::parse(p).unwrap().normalize())
            .collect(),
    )
    .go(require_tool("go"))
    .go_env("GOTOOLCHAIN", "local")
    .go_env("GOPROXY", "off")
    .go_env("GOSUMDB", "off")
    .go_env("GOFLAGS", "-mod=mod")
    .go_env("GOTELEMETRY", "off")
    .created(EPOCH)
    .annotation("org.opencontainers.image.version", "v1.2.3");
    #[cfg(feature = "sbom")]
    {
        options = options.sbom(true);
    }
    options
}

fn open_base(layout: &OciLayout, name: &str) -> BaseImage<OciLayout> {
    BaseImage::open(
        layout.clone(),
        &ManifestRef::Tag(Tag::new("base").unwrap()),
        name,
    )
    .unwrap()
}

fn build(base: &BaseImage<OciLayout>, platforms: &[&str], dest: &Path) -> (OciLayout, GoImages) {
    let store = OciLayout::create(dest).unwrap();
    let built = build_go_images_on(
        &testdata("hello"),
        "./cmd/hello",
        &options(platforms),
        base,
        &store,
    )
    .unwrap();
    store
        .put_manifest(built.top(), Some(&Tag::new("app").unwrap()))
        .unwrap();
    (store, built)
}

fn image_manifest(raw: &RawManifest) -> ImageManifest {
    match raw.decode().unwrap() {
        Manifest::Image(m) => m,
        Manifest::Index(_) => panic!("image manifest expected"),
    }
}

#[test]
fn builds_on_a_multi_arch_layout_base_reproducibly() {
    let base_dir = tempfile::tempdir().unwrap();
    let (base_layout, base_top) = base_index(
        base_dir.path(),
        &["linux/amd64", "linux/arm64/v8", "linux/arm/v7"],
        Flavor::Oci,
    );
    let name = format!("oci:{}:base", base_dir.path().display());
    let base = open_base(&base_layout, &name);
    let first = tempfile::tempdir().unwrap();
    let second = tempfile::tempdir().unwrap();
    let (store, built) = build(&base, &["linux/amd64", "linux/arm64"], first.path());
    let (_, again) = build(&base, &["linux/amd64", "linux/arm64"], second.path());
    assert_eq!(built.top(), again.top(), "two builds, two indexes");
    assert_eq!(built.sbom, again.sbom, "two builds, one SBOM");
    assert!(store.verify().unwrap().is_ok(), "{:?}", store.verify());

    let Manifest::Index(index) = built.top().decode().unwrap() else {
        panic!("index expected")
    };
    assert_eq!(index.annotations[BASE_NAME], name);
    assert_eq!(index.annotations[BASE_DIGEST], base_top.digest().as_str());
    assert_eq!(
        index.annotations["org.opencontainers.image.version"],
        "v1.2.3"
    );

    let Manifest::Index(base_index) = base_top.decode().unwrap() else {
        panic!("base index expected")
    };
    for (image, base_entry) in built.images.iter().zip(&base_index.manifests) {
        let m = image_manifest(image.manifest());
        assert_eq!(m.annotations[BASE_NAME], name);
        assert_eq!(m.annotations[BASE_DIGEST], base_entry.digest.as_str());
        let base_manifest = image_manifest(
            &base_layout
                .require_manifest(&ManifestRef::Digest(base_entry.digest.clone()))
                .unwrap(),
        );
        assert_eq!(m.layers[..2], base_manifest.layers[..], "base layers first");
        assert_eq!(
            m.layers.len(),
            3,
            "base layers + the app layer (no CA layer)"
        );
        let base_config =
            ImageConfig::from_slice(&base_layout.read_blob(&base_manifest.config.digest).unwrap())
                .unwrap();
        let config = ImageConfig::from_slice(image.config_bytes()).unwrap();
        let runtime = config.config.as_ref().unwrap();
        assert_eq!(
            runtime.env,
            [
                "PATH=/usr/sbin:/usr/bin:/sbin:/bin:/ko-app",
                "HOME=/root",
                "KO_DATA_PATH=/var/run/ko"
            ]
        );
        assert_eq!(runtime.entrypoint, ["/ko-app/hello"]);
        assert!(runtime.cmd.is_empty(), "the base's command is cleared");
        assert_eq!(runtime.working_dir.as_deref(), Some("/srv"));
        assert_eq!(runtime.user.as_deref(), Some("65532:65532"));
        assert_eq!(runtime.labels["org.example.base"], "busybox-like");
        assert_eq!(config.created.as_deref(), Some("2023-11-14T22:13:20Z"));
        let diff_ids = &config.rootfs.as_ref().unwrap().diff_ids;
        assert_eq!(
            diff_ids[..2],
            base_config.rootfs.clone().unwrap().diff_ids[..]
        );
        assert_eq!(diff_ids.len(), 3);
        assert_eq!(config.history.len(), base_config.history.len() + 1);
        assert_eq!(
            config.platform().normalize(),
            base_config.platform().normalize()
        );
    }
    check_gnu_gzip_reads_the_app_layer(&store, &built);
    #[cfg(feature = "sbom")]
    check_sboms(&store, &built);
}

/// GNU gzip decompresses the app layer (a Go binary: many pieces of slipway's parallel gzip) to the
/// tar whose digest the config records as its diff ID.
fn check_gnu_gzip_reads_the_app_layer(store: &OciLayout, built: &GoImages) {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let image = &built.images[0];
    let app = image.layers().last().unwrap();
    assert!(
        app.bytes().len() > 2 << 20,
        "the app layer spans several pieces"
    );
    let blob = store.read_blob(&app.info().descriptor.digest).unwrap();
    let mut gzip = Command::new(require_tool("gzip"))
        .arg("-dc")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = gzip.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(&blob).unwrap());
    let out = gzip.wait_with_output().unwrap();
    writer.join().unwrap();
    assert!(out.status.success(), "gzip -dc rejected the layer");
    assert_eq!(
        slipway_oci::Digest::sha256(&out.stdout),
        app.info().diff_id,
        "gzip's output is not the layer's tar"
    );
}

/// The index has one SPDX referrer, listed untagged in index.json, whose document names the main module.
#[cfg(feature = "sbom")]
fn check_sboms(store: &OciLayout, built: &GoImages) {
    use slipway_oci::sbom::SPDX_JSON;
    let sbom = built.sbom.as_ref().expect("an SBOM was asked for");
    let top = built.top();
    let listed = store.index().unwrap().manifests;
    let entry = listed
        .iter()
        .find(|d| &d.digest == sbom.digest())
        .expect("the SBOM is listed in index.json");
    assert_eq!(entry.artifact_type.as_deref(), Some(SPDX_JSON));
    assert!(entry.ref_name().is_none(), "referrers are untagged");
    let m = image_manifest(sbom);
    assert_eq!(m.artifact_type.as_deref(), Some(SPDX_JSON));
    assert_eq!(m.config.media_type, media_type::OCI_EMPTY);
    assert_eq!(m.subject.unwrap().digest, *top.digest());
    let doc: serde_json::Value =
        serde_json::from_slice(&store.read_blob(&m.layers[0].digest).unwrap()).unwrap();
    for field in [
        "spdxVersion",
        "dataLicense",
        "SPDXID",
        "name",
        "documentNamespace",
        "creationInfo",
    ] {
        assert!(doc.get(field).is_some(), "SPDX field {field} is missing");
    }
    assert_eq!(doc["name"], "example.com/hello/cmd/hello");
    assert_eq!(doc["packages"][0]["name"], "example.com/hello");
    assert_eq!(doc["creationInfo"]["created"], "2023-11-14T22:13:20Z");
    assert!(
        doc["documentNamespace"]
            .as_str()
            .unwrap()
            .ends_with(top.digest().encoded())
    );
}

#[test]
fn a_platform_the_base_lacks_is_named_before_anything_is_built() {
    let base_dir = tempfile::tempdir().unwrap();
    let (base_layout, _) = base_index(
        base_dir.path(),
        &["linux/amd64", "linux/arm/v7"],
        Flavor::Oci,
    );
    let base = open_base(&base_layout, "oci:base");
    let dest = tempfile::tempdir().unwrap();
    let store = OciLayout::create(dest.path()).unwrap();
    let err = build_go_images_on(
        &testdata("hello"),
        "./cmd/hello",
        &options(&["linux/amd64", "linux/arm/v6"]),
        &base,
        &store,
    )
    .unwrap_err();
    assert!(matches!(err, Error::BasePlatformMissing { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        "base image oci:base has no image for linux/arm/v6 (it has: linux/amd64, linux/arm/v7)"
    );
    assert!(store.index().unwrap().manifests.is_empty());
}

#[test]
fn a_single_image_base_must_be_for_the_platform_asked_for() {
    let base_dir = tempfile::tempdir().unwrap();
    let layout = OciLayout::create(base_dir.path()).unwrap();
    let image = base_image(&layout, "linux/arm64", Flavor::Oci, Some("1000:1000"));
    let raw = layout
        .require_manifest(&ManifestRef::Digest(image.digest))
        .unwrap();
    layout
        .put_manifest(&raw, Some(&Tag::new("base").unwrap()))
        .unwrap();
    let base = open_base(&layout, "oci:one");
    let dest = tempfile::tempdir().unwrap();
    let store = OciLayout::create(dest.path()).unwrap();
    let err = build_go_images_on(
        &testdata("hello"),
        "./cmd/hello",
        &options(&["linux/amd64"]),
        &base,
        &store,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "base image oci:one is for linux/arm64, not linux/amd64"
    );
}

#[test]
fn a_docker_base_gives_docker_media_types_and_keeps_its_user() {
    let base_dir = tempfile::tempdir().unwrap();
    let layout = OciLayout::create(base_dir.path()).unwrap();
    let image = base_image(&layout, "linux/amd64", Flavor::Docker, Some("1000:1000"));
    let raw = layout
        .require_manifest(&ManifestRef::Digest(image.digest))
        .unwrap();
    layout
        .put_manifest(&raw, Some(&Tag::new("base").unwrap()))
        .unwrap();
    let base = open_base(&layout, "oci:docker");
    assert_eq!(base.flavor(), Flavor::Docker);
    let dest = tempfile::tempdir().unwrap();
    let (store, built) = build(&base, &["linux/amd64"], dest.path());
    assert!(built.index.is_none());
    let m = image_manifest(built.top());
    assert_eq!(m.media_type.as_deref(), Some(media_type::DOCKER_MANIFEST));
    assert_eq!(m.config.media_type, media_type::DOCKER_CONFIG);
    assert!(
        m.layers
            .iter()
            .all(|l| l.media_type == media_type::DOCKER_LAYER_GZIP)
    );
    assert!(
        m.annotations.is_empty(),
        "Docker manifests carry no annotations"
    );
    m.check_consistency().unwrap();
    let config = ImageConfig::from_slice(built.images[0].config_bytes()).unwrap();
    assert_eq!(config.config.unwrap().user.as_deref(), Some("1000:1000"));
    assert!(store.verify().unwrap().is_ok());
}

#[test]
fn a_package_that_is_not_main_is_refused_by_name() {
    let dest = tempfile::tempdir().unwrap();
    let store = OciLayout::create(dest.path()).unwrap();
    let err = slipway_oci::gobuild::build_go_images(
        &testdata("hello"),
        "./pkg/greeting",
        &options(&["linux/amd64"]),
        &store,
    )
    .unwrap_err();
    assert!(matches!(err, Error::NotMain { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        "./pkg/greeting is not a main package: only commands (package main) can be built into images"
    );
    assert!(store.index().unwrap().manifests.is_empty());
}
