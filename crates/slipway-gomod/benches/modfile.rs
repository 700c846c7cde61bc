//! go.mod parse throughput on a large generated file (a few thousand requirements with comments, blocks,
//! replacements, exclusions and retractions), plus the full `go mod edit -fmt` pipeline on it; and the
//! two readers of a typical dependency go.mod (`parse_lax` and the fast `lax_summary`).

use std::fmt::Write as _;
use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use slipway_gomod::modfile::{self, ModFile};

fn large_go_mod(requirements: usize) -> String {
    let mut s = String::from(
        "// Deprecated: generated for benchmarking.\nmodule example.com/bench/service\n\ngo 1.23.0\n\ntoolchain go1.23.4\n\n",
    );
    s.push_str("require (\n");
    for i in 0..requirements {
        let _ = writeln!(
            s,
            "\tgithub.com/org{}/repo{i}/v{} v{}.{}.{}",
            i % 97,
            2 + i % 5,
            2 + i % 5,
            i % 40,
            i % 13
        );
    }
    s.push_str(")\n\nrequire (\n");
    for i in 0..requirements {
        let _ = writeln!(
            s,
            "\tgolang.org/x/pkg{i} v0.0.0-20240{}0{}120000-abcdef{:06} // indirect",
            1 + i % 9,
            1 + i % 9,
            i
        );
    }
    s.push_str(")\n\n");
    for i in 0..requirements / 10 {
        let _ = writeln!(
            s,
            "// Pinned for reason {i}.\nreplace example.com/old{i} => ../vendor/old{i}\n"
        );
        let _ = writeln!(s, "exclude example.com/bad{i} v1.{i}.0");
    }
    for i in 0..requirements / 20 {
        let _ = writeln!(s, "\n// Broken release {i}.\nretract [v1.{i}.0, v1.{i}.9]");
    }
    s
}

fn parse(c: &mut Criterion) {
    let src = large_go_mod(2_000);
    let mut group = c.benchmark_group("modfile");
    group.throughput(Throughput::Bytes(src.len() as u64));
    group.bench_function("parse_4k_requires", |b| {
        b.iter(|| ModFile::parse("go.mod", black_box(&src)).expect("generated go.mod parses"));
    });
    group.bench_function("edit_fmt_4k_requires", |b| {
        b.iter(|| modfile::edit_fmt("go.mod", black_box(&src)).expect("generated go.mod formats"));
    });
    group.bench_function("edit_json_4k_requires", |b| {
        b.iter(|| modfile::edit_json("go.mod", black_box(&src)).expect("generated go.mod prints"));
    });
    group.finish();

    // What a module graph reads thousands of times: a small dependency go.mod.
    let dep = large_go_mod(8)
        .lines()
        .filter(|l| !l.starts_with("replace") && !l.starts_with("retract"))
        .collect::<Vec<_>>()
        .join("\n");
    let mut group = c.benchmark_group("dependency_go_mod");
    group.throughput(Throughput::Bytes(dep.len() as u64));
    group.bench_function("parse_lax", |b| {
        b.iter(|| ModFile::parse_lax("go.mod", black_box(&dep)).expect("parses"));
    });
    group.bench_function("lax_summary", |b| {
        b.iter(|| modfile::lax_summary(black_box(&dep)).expect("plain"));
    });
    group.finish();
}

criterion_group!(benches, parse);
criterion_main!(benches);
