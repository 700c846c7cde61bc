//! Manifest and index processing through slipway-oci at realistic sizes: decode (parse), encode
//! (serialize) and digest of an image manifest with 12 layers (about what a distroless + app image has),
//! a buildx-style index of 4 platforms with their attestation manifests, and a large index (64 platforms,
//! 16 annotations each, about 60 KB). The index *assembly* bench lives in crates/slipway-oci/benches.
//!
//! `cargo bench --bench manifests` (add `-- --quick` for a short run).

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use slipway::oci::Digest;
use slipway::oci::manifest::{
    Descriptor, Flavor, ImageIndex, ImageManifest, Manifest, RawManifest, annotation, media_type,
};
use slipway::oci::platform::Platform;

fn blob(n: u32) -> Digest {
    Digest::sha256(&n.to_le_bytes())
}

/// An image manifest: a config and 12 gzip layers, the OCI annotations a pipeline sets.
fn image_manifest() -> ImageManifest {
    let config = Descriptor::new(media_type::OCI_CONFIG, blob(0), 1_870);
    let layers = (1..=12)
        .map(|i| {
            Descriptor::new(
                media_type::OCI_LAYER_GZIP,
                blob(i),
                1_000_000 + u64::from(i) * 7_919,
            )
        })
        .collect();
    let mut m = ImageManifest::new(Flavor::Oci, config, layers);
    for (k, v) in [
        (annotation::CREATED, "2026-01-01T00:00:00Z"),
        (
            "org.opencontainers.image.source",
            "https://github.com/example/hello",
        ),
        (
            "org.opencontainers.image.revision",
            "0123456789abcdef0123456789abcdef01234567",
        ),
        ("org.opencontainers.image.version", "v1.2.3"),
        ("org.opencontainers.image.title", "hello"),
        ("org.opencontainers.image.licenses", "Apache-2.0"),
    ] {
        m.annotations.insert(k.to_owned(), v.to_owned());
    }
    m
}

/// An index over `platforms`, each with `annotations` annotations and, when `attestations`, an
/// attestation manifest beside it (as `docker buildx build --provenance` writes).
fn index(platforms: &[Platform], annotations: usize, attestations: bool) -> ImageIndex {
    let mut index = ImageIndex::new(Flavor::Oci);
    for (i, platform) in (0u32..).zip(platforms) {
        let mut d = Descriptor::new(
            media_type::OCI_MANIFEST,
            blob(100 + i),
            1_200 + u64::from(i),
        );
        d.platform = Some(platform.clone());
        for k in 0..annotations {
            d.annotations.insert(
                format!("org.example.annotation.{k}"),
                format!("value {k} for {platform}"),
            );
        }
        if attestations {
            let mut a = Descriptor::new(media_type::OCI_MANIFEST, blob(200 + i), 840);
            a.platform = Some(Platform::new("unknown", "unknown", ""));
            a.annotations.insert(
                annotation::DOCKER_REFERENCE_TYPE.to_owned(),
                annotation::ATTESTATION_MANIFEST.to_owned(),
            );
            a.annotations.insert(
                annotation::DOCKER_REFERENCE_DIGEST.to_owned(),
                d.digest.to_string(),
            );
            index.manifests.push(d);
            index.manifests.push(a);
        } else {
            index.manifests.push(d);
        }
    }
    index.annotations.insert(
        annotation::CREATED.to_owned(),
        "2026-01-01T00:00:00Z".to_owned(),
    );
    index
}

fn platforms(names: &[&str]) -> Vec<Platform> {
    names
        .iter()
        .map(|p| Platform::parse(p).expect("valid platform"))
        .collect()
}

fn sixty_four() -> Vec<Platform> {
    let oses = [
        "linux", "freebsd", "netbsd", "openbsd", "darwin", "illumos", "solaris", "aix",
    ];
    let arches = [
        "amd64", "arm64", "386", "ppc64le", "s390x", "riscv64", "mips64le", "loong64",
    ];
    oses.iter()
        .flat_map(|os| arches.iter().map(move |arch| Platform::new(os, arch, "")))
        .collect()
}

/// decode, encode and digest of one document, with its size as the throughput.
fn suite(c: &mut Criterion, name: &str, raw: &RawManifest) {
    let bytes = raw.bytes().to_vec();
    let media = raw.media_type().to_owned();
    let decoded = raw.decode().expect("the document decodes");
    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Bytes(bytes.len() as u64));
    group.bench_function("decode", |b| {
        b.iter(|| Manifest::from_slice(black_box(&bytes), Some(&media)).expect("decodes"));
    });
    group.bench_function("encode", |b| {
        b.iter(|| match black_box(&decoded) {
            Manifest::Image(m) => RawManifest::encode_image(m),
            Manifest::Index(i) => RawManifest::encode_index(i),
        });
    });
    group.bench_function("digest", |b| b.iter(|| Digest::sha256(black_box(&bytes))));
    group.bench_function("decode+check+encode+digest", |b| {
        b.iter(|| {
            let raw = match Manifest::from_slice(black_box(&bytes), Some(&media)).expect("decodes")
            {
                Manifest::Image(m) => {
                    m.check_consistency().expect("consistent");
                    RawManifest::encode_image(&m)
                }
                Manifest::Index(i) => {
                    i.check_consistency().expect("consistent");
                    RawManifest::encode_index(&i)
                }
            };
            black_box(raw.digest().clone())
        });
    });
    group.finish();
}

fn bench(c: &mut Criterion) {
    let image = RawManifest::encode_image(&image_manifest());
    let buildx = RawManifest::encode_index(&index(
        &platforms(&[
            "linux/amd64",
            "linux/arm64",
            "linux/arm/v7",
            "linux/ppc64le",
        ]),
        0,
        true,
    ));
    let large = RawManifest::encode_index(&index(&sixty_four(), 16, false));
    eprintln!(
        "sizes: image manifest {} B, buildx index {} B, 64-platform index {} B",
        image.bytes().len(),
        buildx.bytes().len(),
        large.bytes().len()
    );
    suite(c, "manifest_12_layers", &image);
    suite(c, "index_4_platforms_attested", &buildx);
    suite(c, "index_64_platforms", &large);
}

criterion_group!(benches, bench);
criterion_main!(benches);
