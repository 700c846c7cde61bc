//! A multi-arch image of a Go service through slipway-oci, ko-style (no Docker daemon, no base image pull):
//! `./cmd/hello` cross-compiled for linux/amd64 and linux/arm64, each put in a reproducible image, both
//! under one OCI image index, written to an OCI image layout directory and tagged.
//!
//! ```sh
//! bash scripts/install-test-tools.sh --go-only && . scripts/env.sh
//! cargo run --example multiarch_index -- testdata/hello ./cmd/hello target/multiarch-example
//! skopeo inspect --raw oci:target/multiarch-example:latest    # the same index, read by another client
//! ```
//!
//! Arguments: module directory, main package, layout directory (default: a temporary directory, removed at
//! the end). Go runs offline (`GOPROXY=off`, `GOTOOLCHAIN=local`).

use std::path::Path;

use slipway::oci::gobuild::{GoImageOptions, build_go_images};
use slipway::oci::index::select_platform;
use slipway::oci::manifest::Manifest;
use slipway::oci::platform::Platform;
use slipway::oci::reference::Tag;
use slipway::oci::store::{ManifestStore, OciLayout};

type Error = Box<dyn std::error::Error>;

fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let module_dir = Path::new(args.first().map_or("testdata/hello", String::as_str));
    let package = args.get(1).map_or("./cmd/hello", String::as_str);
    let temporary = tempfile::tempdir()?;
    let layout_dir = args
        .get(2)
        .map_or_else(|| temporary.path().join("layout"), Into::into);

    // 1. Build: one `go build` per platform (CGO off, -trimpath), one image each, an index over them.
    //    A fixed creation time makes the digests the same on every machine and every run.
    let platforms = vec![
        Platform::parse("linux/amd64")?,
        Platform::parse("linux/arm64")?,
    ];
    let options = GoImageOptions::new(platforms.clone())
        .created(0)
        .ldflag_x("main.version", "v0.1.0")
        .annotation("org.opencontainers.image.title", "hello")
        .go_env("GOTOOLCHAIN", "local")
        .go_env("GOPROXY", "off")
        .go_env("GOFLAGS", "-mod=mod");
    let layout = OciLayout::create(&layout_dir)?;
    let images = build_go_images(module_dir, package, &options, &layout)?;
    let top = images.top();
    layout.put_manifest(top, Some(&Tag::new("latest")?))?;

    // 2. The index as written (the exact bytes its digest is of), decoded to walk its entries.
    println!("oci:{}:latest", layout_dir.display());
    println!("index {} ({} bytes)", top.digest(), top.bytes().len());
    let Manifest::Index(index) = top.decode()? else {
        return Err("two platforms were built, so the top manifest must be an index".into());
    };
    println!("{}", serde_json::to_string_pretty(&index)?);
    for image in &images.images {
        let entry = image.descriptor();
        let platform = entry.platform.as_ref().map(ToString::to_string);
        println!(
            "{:<12} {} ({} layer(s), manifest {} bytes)",
            platform.as_deref().unwrap_or("?"),
            entry.digest,
            image.layers().len(),
            entry.size
        );
    }

    // 3. What a runtime on each platform would pull: platform selection over the index.
    for platform in &platforms {
        let chosen = select_platform(&index, platform)
            .ok_or_else(|| format!("the index has no entry for {platform}"))?;
        println!("a {platform} runtime pulls {}", chosen.digest);
    }

    // 4. The layout re-hashed from disk: every blob matches its name, everything the index reaches exists.
    let report = layout.verify()?;
    if !report.is_ok() {
        return Err(format!("the layout has problems: {:?}", report.problems).into());
    }
    println!(
        "layout verified: {} blobs re-hashed, no problems",
        report.blobs_checked
    );
    Ok(())
}
