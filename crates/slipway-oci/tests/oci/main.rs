//! Integration tests for slipway-oci: every layout slipway writes is checked by independent tools
//! (`oci-image-tool validate`, `skopeo inspect --raw`, `skopeo copy --all`), and slipway reads what skopeo
//! writes.

// Test helpers panic on purpose: a failed step is a failed test.
#![allow(clippy::missing_panics_doc)]

mod gobuild;
mod layout;
mod proptests;
mod quotes;
#[cfg(feature = "registry")]
mod registry;
mod tools;

use std::path::Path;

use slipway_oci::image::{BuiltImage, ImageBuilder, LayerBuilder};
use slipway_oci::index::IndexBuilder;
use slipway_oci::manifest::{Flavor, RawManifest};
use slipway_oci::platform::Platform;
use slipway_oci::reference::Tag;
use slipway_oci::store::{ManifestStore, OciLayout};

/// The platforms of the sample multi-arch image.
pub const PLATFORMS: [&str; 4] = [
    "linux/amd64",
    "linux/arm64",
    "linux/arm/v7",
    "linux/ppc64le",
];

/// A small image for `platform`: a fake binary, a config file and a symlink, owned by 65532.
pub fn sample_image(layout: &OciLayout, platform: &str, flavor: Flavor) -> BuiltImage {
    let p = Platform::parse(platform).unwrap();
    let layer = LayerBuilder::new()
        .mtime(1_700_000_000)
        .owner(65532, 65532)
        .flavor(flavor)
        .file("app/hello", 0o755, format!("binary for {p}\n").into_bytes())
        .file("etc/hello/config.toml", 0o644, b"port = 8080\n".to_vec())
        .symlink("usr/local/bin/hello", "/app/hello")
        .build()
        .unwrap();
    let mut builder = ImageBuilder::new(p)
        .flavor(flavor)
        .layer(layer)
        .entrypoint(["/app/hello"])
        .user("65532:65532")
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .created(1_700_000_000);
    if flavor == Flavor::Oci {
        builder = builder.annotation(
            "org.opencontainers.image.source",
            "https://example.invalid/hello",
        );
    }
    builder.write_to(layout).unwrap()
}

/// Writes a multi-arch index of [`PLATFORMS`] into `dir`, tagged `tag`.
pub fn write_multi_arch(dir: &Path, tag: &str, flavor: Flavor) -> (RawManifest, Vec<BuiltImage>) {
    let layout = OciLayout::create(dir).unwrap();
    let mut index = IndexBuilder::new().flavor(flavor);
    if flavor == Flavor::Oci {
        index = index.annotation("org.opencontainers.image.version", "1.0.0");
    }
    let mut images = Vec::new();
    for p in PLATFORMS {
        let image = sample_image(&layout, p, flavor);
        let mut desc = image.descriptor();
        desc.annotations
            .insert("org.example.platform-note".into(), format!("built for {p}"));
        index.add_image(&layout, desc).unwrap();
        images.push(image);
    }
    let raw = index.build().unwrap();
    layout
        .put_manifest(&raw, Some(&Tag::new(tag).unwrap()))
        .unwrap();
    (raw, images)
}
