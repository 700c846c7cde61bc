//! Writes a multi-platform image into an OCI layout: `multiarch_layout DIR TAG MIB_PER_LAYER`.
//!
//! Each of four platforms gets one layer of incompressible pseudo-random bytes (distinct per platform),
//! so copy benchmarks move real volumes of data. Used by `scripts/bench-oci.sh`.

use slipway_oci::image::{ImageBuilder, LayerBuilder};
use slipway_oci::index::IndexBuilder;
use slipway_oci::platform::Platform;
use slipway_oci::reference::Tag;
use slipway_oci::store::{ManifestStore, OciLayout};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [dir, tag, mib] = args.as_slice() else {
        return Err("usage: multiarch_layout DIR TAG MIB_PER_LAYER".into());
    };
    let mib: usize = mib.parse()?;
    let layout = OciLayout::create(dir)?;
    let mut index = IndexBuilder::new();
    for (n, spec) in [
        "linux/amd64",
        "linux/arm64",
        "linux/arm/v7",
        "linux/ppc64le",
    ]
    .into_iter()
    .enumerate()
    {
        let mut state = 0x9e37_79b9_7f4a_7c15_u64 ^ (n as u64 + 1);
        let data: Vec<u8> = (0..mib * 1024 * 1024)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state.to_le_bytes()[7]
            })
            .collect();
        let layer = LayerBuilder::new()
            .compression_level(1)
            .file("app/blob", 0o644, data)
            .build()?;
        let image = ImageBuilder::new(Platform::parse(spec)?)
            .layer(layer)
            .write_to(&layout)?;
        index.add_image(&layout, image.descriptor())?;
    }
    let raw = index.build()?;
    layout.put_manifest(&raw, Some(&Tag::new(tag)?))?;
    println!("{}", raw.digest());
    Ok(())
}
