//! Parse, merge and summarise a large real profile (tests/fixtures/out/std.out: the tests of `fmt`
//! instrumenting 15 standard-library packages, 10,665 blocks).

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{Criterion, criterion_group, criterion_main};
use slipway_cover::covdata::{self, ReadOptions};
use slipway_cover::{
    Coverage, FuncReport, Html, Json, MemoryResolver, ModuleResolver, Profile, ProfileMerger,
    ReportWriter, SourceResolver, Summary, find_funcs,
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

    bench_covdata(c);

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
    let coverage = Coverage::new(profile.clone(), &memory).unwrap();
    c.bench_function("json export std.out", |b| {
        b.iter(|| {
            let mut out = Vec::new();
            Json::default()
                .write_report(black_box(&coverage), &mut out)
                .unwrap();
            out
        });
    });
    c.bench_function("html export std.out (sources in memory)", |b| {
        b.iter(|| {
            let mut out = Vec::new();
            Html::new(&memory)
                .write_report(black_box(&coverage), &mut out)
                .unwrap();
            out
        });
    });
}

/// GOCOVERDIR data: the committed fixtures (small), and the large standard-library data
/// `scripts/bench-cover-covdata.sh` generates under the target directory when it is there.
fn bench_covdata(c: &mut Criterion) {
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/covdata/data");
    let small: Vec<String> = ["count-a", "count-b", "test-count"]
        .iter()
        .map(|d| fixtures.join(d).to_string_lossy().into_owned())
        .collect();
    c.bench_function("covdata read+merge fixtures (3 dirs)", |b| {
        b.iter(|| covdata::read_dirs(black_box(&small), &ReadOptions::default()).unwrap());
    });
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"),
        PathBuf::from,
    );
    let large = target.join("covdata-bench");
    if !large.join(".done").exists() {
        eprintln!(
            "skipping the large covdata benchmarks: run scripts/bench-cover-covdata.sh to generate {}",
            large.display()
        );
        return;
    }
    let dirs: Vec<String> = ["fmt", "strconv"]
        .iter()
        .map(|d| large.join(d).to_string_lossy().into_owned())
        .collect();
    c.bench_function("covdata read+merge std (fmt,strconv)", |b| {
        b.iter(|| covdata::read_dirs(black_box(&dirs), &ReadOptions::default()).unwrap());
    });
    let data = covdata::read_dirs(&dirs, &ReadOptions::default()).unwrap();
    c.bench_function("covdata textfmt std", |b| {
        b.iter(|| black_box(&data).textfmt());
    });
    c.bench_function("covdata func std", |b| {
        b.iter(|| black_box(&data).func_text());
    });
    c.bench_function("covdata percent std", |b| {
        b.iter(|| black_box(&data).percent_text());
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
