//! Parse, merge and summarise a large real profile (tests/fixtures/out/std.out: the tests of `fmt`
//! instrumenting 15 standard-library packages, 10,665 blocks).

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{Criterion, criterion_group, criterion_main};
use slipway_cover::{
    FuncReport, MemoryResolver, ModuleResolver, Profile, ProfileMerger, SourceResolver, Summary,
    find_funcs,
};

fn std_profile_text() -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/out/std.out");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn bench(c: &mut Criterion) {
    let text = std_profile_text();
    c.bench_function("parse std.out (10k blocks)", |b| {
        b.iter(|| Profile::parse("std.out", black_box(&text)).unwrap());
    });

    c.bench_function("merge 50 x std.out", |b| {
        b.iter(|| {
            let mut merger = ProfileMerger::new();
            for i in 0..50 {
                merger
                    .add_reader(&format!("run{i}.out"), black_box(text.as_bytes()))
                    .unwrap();
            }
            merger.finish().unwrap()
        });
    });

    let profile = Profile::parse("std.out", &text).unwrap();
    c.bench_function("summary std.out", |b| {
        b.iter(|| Summary::of(black_box(&profile)));
    });
    c.bench_function("write std.out", |b| {
        b.iter(|| black_box(&profile).to_text());
    });

    // Function extents need the standard library's sources: GOROOT, or `go env GOROOT`.
    let disk = ModuleResolver::discover(env!("CARGO_MANIFEST_DIR"));
    let mut memory = MemoryResolver::new();
    let mut sources = Vec::new();
    for file in profile.files() {
        match disk.resolve(&file.name) {
            Ok(src) => {
                memory = memory.with_file(file.name.clone(), src.clone());
                sources.push(src);
            }
            Err(e) => {
                eprintln!("skipping the source benchmarks: {e}");
                return;
            }
        }
    }
    c.bench_function("find_funcs over std.out's 158 files", |b| {
        b.iter(|| {
            sources
                .iter()
                .map(|s| find_funcs(black_box(s)).len())
                .sum::<usize>()
        });
    });
    c.bench_function("func report std.out (sources in memory)", |b| {
        b.iter(|| FuncReport::new(black_box(&profile), &memory).unwrap());
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
