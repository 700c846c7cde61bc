//! SHA-256 of large buffers: slipway-oci's digesting paths (`Digest::sha256` over a slice, `Digester` fed
//! in 64 KiB chunks as a layer writer feeds it, `digest_reader` over a reader) against a plain `sha2` loop
//! over the same chunks. The gap is slipway's overhead over the hash itself (and should be noise).
//! `sha256sum` on the same sizes is in docs/performance.md.
//!
//! `cargo bench --bench digest` (add `-- --quick` for a short run).

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sha2::{Digest as _, Sha256};
use slipway::oci::Digest;
use slipway::oci::digest::{Algorithm, Digester, digest_reader};

const CHUNK: usize = 64 * 1024;

/// `len` pseudo-random bytes (xorshift: the same on every run; SHA-256's speed does not depend on them).
fn buffer(len: usize) -> Vec<u8> {
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state.to_le_bytes()[7]
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    for (name, len) in [("1MiB", 1 << 20), ("64MiB", 64 << 20)] {
        let data = buffer(len);
        let expected = Digest::sha256(&data);
        let mut group = c.benchmark_group(format!("sha256_{name}"));
        group.throughput(Throughput::Bytes(len as u64));
        group.sample_size(10);
        group.bench_function("sha2 loop (64 KiB chunks)", |b| {
            b.iter(|| {
                let mut hasher = Sha256::new();
                for chunk in black_box(&data).chunks(CHUNK) {
                    hasher.update(chunk);
                }
                black_box(hasher.finalize())
            });
        });
        group.bench_function("slipway Digest::sha256", |b| {
            b.iter(|| Digest::sha256(black_box(&data)));
        });
        group.bench_function("slipway Digester (64 KiB chunks)", |b| {
            b.iter(|| {
                let mut digester = Digester::new(Algorithm::Sha256);
                for chunk in black_box(&data).chunks(CHUNK) {
                    digester.update(chunk);
                }
                let digest = digester.finish();
                assert_eq!(digest, expected);
                digest
            });
        });
        group.bench_function("slipway digest_reader", |b| {
            b.iter(|| {
                digest_reader(Algorithm::Sha256, &mut black_box(&data[..])).expect("in memory")
            });
        });
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
