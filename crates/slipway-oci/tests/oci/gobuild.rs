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

/// A module with one command, `./cmd/k`, whose `kodata/` the caller fills; the module is `root/m`, so
/// `root` has room for files outside it.
fn kodata_module(root: &Path) -> std::path::PathBuf {
    let module = root.join("m");
    std::fs::create_dir_all(module.join("cmd/k/kodata")).unwrap();
    std::fs::write(module.join("go.mod"), "module example.com/k\n\ngo 1.21\n").unwrap();
    std::fs::write(
        module.join("cmd/k/main.go"),
        "package main\n\nfunc main() {}\n",
    )
    .unwrap();
    module
}

/// The error is boxed only to keep the `Result` small (clippy's `result_large_err`).
fn build_kodata(module: &Path) -> Result<(OciLayout, GoImages, tempfile::TempDir), Box<Error>> {
    let dest = tempfile::tempdir().unwrap();
    let store = OciLayout::create(dest.path()).unwrap();
    let built = slipway_oci::gobuild::build_go_images(
        module,
        "./cmd/k",
        &options(&["linux/amd64"]),
        &store,
    )?;
    Ok((store, built, dest))
}

#[cfg(unix)]
fn symlink(target: impl AsRef<Path>, link: impl AsRef<Path>) {
    std::os::unix::fs::symlink(target, link).unwrap();
}

/// Links that stay inside the module are followed, as ko follows them: the image holds the content.
#[cfg(unix)]
#[test]
fn kodata_links_inside_the_module_are_followed() {
    let root = tempfile::tempdir().unwrap();
    let module = kodata_module(root.path());
    let kodata = module.join("cmd/k/kodata");
    std::fs::create_dir_all(module.join("assets/css")).unwrap();
    std::fs::write(module.join("assets/css/site.css"), "body{}\n").unwrap();
    std::fs::write(module.join("README"), "read me\n").unwrap();
    std::fs::write(kodata.join("plain.txt"), "plain\n").unwrap();
    symlink("../../../README", kodata.join("readme"));
    symlink("../../../assets", kodata.join("assets"));
    let (store, built, _dest) = build_kodata(&module).unwrap();

    let app = built.images[0].layers().last().unwrap();
    let blob = store.read_blob(&app.info().descriptor.digest).unwrap();
    let out = tempfile::tempdir().unwrap();
    std::fs::write(out.path().join("layer.tar.gz"), &blob).unwrap();
    let listing = slipway_testkit::run_ok(
        std::process::Command::new(require_tool("tar"))
            .arg("-tzvf")
            .arg(out.path().join("layer.tar.gz")),
    );
    let listing = String::from_utf8(listing.stdout).unwrap();
    let entries: Vec<(char, &str)> = listing
        .lines()
        .filter_map(|l| {
            let name = l.split_whitespace().last()?;
            name.starts_with("var/run/ko")
                .then(|| (l.chars().next().unwrap(), name))
        })
        .collect();
    assert_eq!(
        entries,
        [
            ('d', "var/run/ko/"),
            ('d', "var/run/ko/assets/"),
            ('d', "var/run/ko/assets/css/"),
            ('-', "var/run/ko/assets/css/site.css"),
            ('-', "var/run/ko/plain.txt"),
            ('-', "var/run/ko/readme"),
        ],
        "{listing}"
    );
    slipway_testkit::run_ok(
        std::process::Command::new(require_tool("tar"))
            .arg("-xzf")
            .arg(out.path().join("layer.tar.gz"))
            .arg("-C")
            .arg(out.path()),
    );
    let read = |p: &str| std::fs::read_to_string(out.path().join(p)).unwrap();
    assert_eq!(read("var/run/ko/readme"), "read me\n");
    assert_eq!(read("var/run/ko/assets/css/site.css"), "body{}\n");
}

/// A link out of the module (to a host file, or to a directory) is refused, naming the link, where it
/// leads and the module, before anything is compiled.
#[cfg(unix)]
#[test]
fn kodata_links_out_of_the_module_are_refused() {
    let root = tempfile::tempdir().unwrap();
    let module = kodata_module(root.path());
    let kodata = module.join("cmd/k/kodata");
    std::fs::write(root.path().join("secret"), "token\n").unwrap();
    symlink(root.path().join("secret"), kodata.join("a-secret"));
    let err = *build_kodata(&module).expect_err("a link out is refused");
    let resolved = root.path().canonicalize().unwrap();
    assert!(matches!(err, Error::KodataLinkOutside { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        format!(
            "kodata link {} points to {}, outside the module {}",
            kodata.join("a-secret").display(),
            resolved.join("secret").display(),
            resolved.join("m").display()
        )
    );

    // A directory outside, reached through a relative link, and `kodata` itself as a link.
    std::fs::remove_file(kodata.join("a-secret")).unwrap();
    symlink("../../../..", kodata.join("up"));
    let err = *build_kodata(&module).expect_err("a link out is refused");
    assert!(
        matches!(&err, Error::KodataLinkOutside { target, .. } if *target == resolved),
        "{err}"
    );
    std::fs::remove_dir_all(&kodata).unwrap();
    symlink("/etc", &kodata);
    let err = *build_kodata(&module).expect_err("a link out is refused");
    assert!(
        matches!(&err, Error::KodataLinkOutside { link, .. } if *link == kodata),
        "{err}"
    );
}

/// A dangling link, a link to itself and a link back up the tree are errors (not a hang, not silence),
/// and the error keeps its cause.
#[cfg(unix)]
#[test]
fn kodata_dangling_and_looping_links_are_errors() {
    use std::error::Error as _;
    let root = tempfile::tempdir().unwrap();
    let module = kodata_module(root.path());
    let kodata = module.join("cmd/k/kodata");
    symlink("missing.txt", kodata.join("dangling"));
    let err = *build_kodata(&module).expect_err("a dangling link fails");
    assert_eq!(
        err.to_string(),
        format!(
            "kodata link {} -> missing.txt cannot be followed",
            kodata.join("dangling").display()
        )
    );
    let cause = err.source().expect("the OS error is kept");
    assert_eq!(
        cause.downcast_ref::<std::io::Error>().unwrap().kind(),
        std::io::ErrorKind::NotFound
    );
    std::fs::remove_file(kodata.join("dangling")).unwrap();

    symlink("self", kodata.join("self"));
    let err = *build_kodata(&module).expect_err("a self link fails");
    assert!(matches!(err, Error::KodataLink { .. }), "{err}");
    std::fs::remove_file(kodata.join("self")).unwrap();

    std::fs::create_dir(kodata.join("sub")).unwrap();
    symlink("..", kodata.join("sub/up"));
    let err = *build_kodata(&module).expect_err("a loop fails");
    assert_eq!(
        err.to_string(),
        format!(
            "kodata directory {} is {}, which contains it: a symbolic link loop",
            kodata.join("sub/up").display(),
            kodata.canonicalize().unwrap().display()
        )
    );
    std::fs::remove_file(kodata.join("sub/up")).unwrap();

    // Up to the module root, which holds `kodata` again: a loop found one level further down.
    symlink("../../../..", kodata.join("sub/root"));
    let err = *build_kodata(&module).expect_err("a loop fails");
    assert!(matches!(err, Error::KodataLoop { .. }), "{err}");
}

/// A FIFO in kodata is an error naming it, not a build that waits forever for a writer.
#[cfg(unix)]
#[test]
fn kodata_fifo_is_an_error() {
    let root = tempfile::tempdir().unwrap();
    let module = kodata_module(root.path());
    let kodata = module.join("cmd/k/kodata");
    slipway_testkit::run_ok(
        std::process::Command::new(require_tool("mkfifo")).arg(kodata.join("pipe")),
    );
    symlink("pipe", kodata.join("to-pipe"));
    let err = *build_kodata(&module).expect_err("a FIFO fails");
    assert_eq!(
        err.to_string(),
        format!(
            "kodata entry {} is a FIFO: only regular files, directories and links to them go into the image",
            kodata.join("pipe").display()
        )
    );
}
