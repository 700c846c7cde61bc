//! Coverage processing through slipway-cover on large generated profiles: a module of 40 packages x 10 files
//! x 60 blocks (24,000 blocks, about 1.4 MB of `count`-mode profile) covered by 8 test shards, each with
//! `-coverpkg=./...` so every shard's profile names every block (as CI jobs split `go test` do). Parse one,
//! merge the 8 (as `gocovmerge` / `go tool covdata merge` would), summarise per package and total, write
//! the merged text. The generator is written here: slipway-cover's own bench reads a committed real profile
//! (crates/slipway-cover/tests/fixtures/out/std.out) and exports no generator.
//!
//! `cargo bench --bench coverage` (add `-- --quick` for a short run).

use std::fmt::Write as _;
use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use slipway::cover::{Profile, ProfileMerger, Summary};

const PACKAGES: usize = 40;
const FILES: usize = 10;
const BLOCKS: usize = 60;
const SHARDS: u64 = 8;

/// The profile test shard `shard` writes: blocks of 1 to 6 statements, hit by some shards and not others.
fn shard_profile(shard: u64) -> String {
    let mut state = 0x9e37_79b9_7f4a_7c15_u64 ^ shard;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut text = String::from("mode: count\n");
    for p in 0..PACKAGES {
        for f in 0..FILES {
            for b in 0..BLOCKS {
                let line = 10 + b * 4;
                let statements = 1 + b % 6;
                // Each shard reaches about a third of the blocks, a few of them often.
                let count = match next() % 9 {
                    0..=5 => 0,
                    6 | 7 => 1 + next() % 3,
                    _ => next() % 500,
                };
                let _ = writeln!(
                    text,
                    "example.com/svc/internal/pkg{p:02}/file{f:02}.go:{line}.{col},{end}.2 {statements} {count}",
                    col = 20 + b % 40,
                    end = line + 3,
                );
            }
        }
    }
    text
}

/// The shards merged into one profile (counts added).
fn merge(shards: &[String]) -> Profile {
    let mut merger = ProfileMerger::new();
    for (i, text) in shards.iter().enumerate() {
        merger
            .add_reader(&format!("shard{i}.out"), text.as_bytes())
            .expect("merges");
    }
    merger.finish().expect("consistent")
}

fn bench(c: &mut Criterion) {
    let shards: Vec<String> = (0..SHARDS).map(shard_profile).collect();
    let bytes: usize = shards.iter().map(String::len).sum();
    eprintln!(
        "{SHARDS} profiles of {} blocks, {bytes} bytes in all",
        PACKAGES * FILES * BLOCKS
    );

    let mut group = c.benchmark_group("coverage");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(shards[0].len() as u64));
    group.bench_function("parse 1 profile (24k blocks)", |b| {
        b.iter(|| Profile::parse("shard0.out", black_box(&shards[0])).expect("parses"));
    });
    group.throughput(Throughput::Bytes(bytes as u64));
    group.bench_function("merge 8 profiles (24k blocks each)", |b| {
        b.iter(|| merge(black_box(&shards)));
    });
    let merged = merge(&shards);
    let summary = Summary::of(&merged);
    assert_eq!(summary.packages.len(), PACKAGES);
    eprintln!("merged: {}", summary.total.go_test_line());
    group.throughput(Throughput::Elements(merged.block_count() as u64));
    group.bench_function("summary per package + total (merged)", |b| {
        b.iter(|| Summary::of(black_box(&merged)));
    });
    group.bench_function("write merged profile", |b| {
        b.iter(|| black_box(&merged).to_text());
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
