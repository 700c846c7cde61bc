//! Index assembly with many platforms and annotations; layer digest + compress throughput.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use slipway_oci::Digest;
use slipway_oci::digest::{Algorithm, digest_reader};
use slipway_oci::image::LayerBuilder;
use slipway_oci::index::IndexBuilder;
use slipway_oci::manifest::{Descriptor, media_type};
use slipway_oci::platform::Platform;

const ARCHES: [&str; 8] = [
    "amd64", "arm64", "386", "ppc64le", "s390x", "riscv64", "mips64le", "loong64",
];
const OSES: [&str; 8] = [
    "linux", "freebsd", "netbsd", "openbsd", "darwin", "illumos", "solaris", "aix",
];

fn entries() -> Vec<Descriptor> {
    let mut out = Vec::new();
    for (i, os) in OSES.iter().enumerate() {
        for (j, arch) in ARCHES.iter().enumerate() {
            let n = u8::try_from(i * 8 + j).expect("64 platforms");
            let mut d = Descriptor::new(
                media_type::OCI_MANIFEST,
                Digest::sha256(&[n]),
                1000 + u64::from(n),
            );
            d.platform = Some(Platform::new(os, arch, ""));
            for k in 0..16 {
                d.annotations.insert(
                    format!("org.example.annotation.{k}"),
                    format!("value {k} for {os}/{arch}"),
                );
            }
            out.push(d);
        }
    }
    out
}

fn index_assembly(c: &mut Criterion) {
    let entries = entries();
    c.bench_function("index_assembly_64_platforms", |b| {
        b.iter(|| {
            let mut builder = IndexBuilder::new()
                .annotation(
                    "org.opencontainers.image.source",
                    "https://example.invalid/app",
                )
                .annotation("org.opencontainers.image.revision", "0123456789abcdef");
            for d in &entries {
                builder.push(d.clone()).expect("distinct platforms");
            }
            black_box(builder.build().expect("consistent index"))
        });
    });
}

fn layer_throughput(c: &mut Criterion) {
    // Pseudo-random bytes compress like a Go binary does (poorly), so gzip is exercised honestly.
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let data: Vec<u8> = (0..8 * 1024 * 1024)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 56) as u8 & 0x3f
        })
        .collect();
    let mut group = c.benchmark_group("layer");
    group.throughput(Throughput::Bytes(data.len() as u64));
    group.sample_size(10);
    group.bench_function("sha256_8MiB", |b| {
        b.iter(|| black_box(digest_reader(Algorithm::Sha256, &mut &data[..]).expect("in memory")));
    });
    // The default level (1, as ko) and the level-6 figure earlier versions defaulted to.
    for (name, level) in [("tar_gzip1_digest_8MiB", 1), ("tar_gzip6_digest_8MiB", 6)] {
        group.bench_function(name, |b| {
            b.iter(|| {
                let builder = LayerBuilder::new().compression_level(level).file(
                    "app/bin",
                    0o755,
                    data.clone(),
                );
                black_box(builder.write_to(&mut std::io::sink()).expect("in memory"))
            });
        });
    }
    group.finish();
}

criterion_group!(benches, index_assembly, layer_throughput);
criterion_main!(benches);
