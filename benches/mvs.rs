//! Minimal version selection through slipway-gomod on a generated module graph shaped like a microservice's:
//! a main module with 60 direct requirements drawn from a world of 800 modules x 4 versions, each version
//! requiring up to 6 modules further down (a DAG with many diamonds), one go.mod in eight unpruned (go 1.16).
//! `go list -m all` and `go mod graph` are `mvs::list` and `mvs::graph`. The generator is written here:
//! slipway-gomod's own MVS bench (crates/slipway-gomod/benches/mvs.rs: 400 long chains) keeps its world
//! private to that bench file.
//!
//! `cargo bench --bench mvs` (add `-- --quick` for a short run).

use std::fmt::Write as _;
use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use slipway::gomod::mvs::{self, GoWork, Options};
use slipway::gomod::source::MemorySource;

const MODULES: usize = 800;
const VERSIONS: usize = 4;
const DIRECT: usize = 60;

fn path(i: usize) -> String {
    format!("example.com/dep/m{i:03}")
}

/// xorshift: the same world on every run.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        usize::try_from(self.0 % n as u64).expect("n fits usize")
    }
}

fn world() -> (MemorySource, tempfile::TempDir) {
    let mut rng = Rng(0x5eed);
    let mut source = MemorySource::new();
    for i in 0..MODULES {
        for k in 0..VERSIONS {
            let go = if rng.below(8) == 0 { "1.16" } else { "1.21" };
            let mut text = format!("module {}\n\ngo {go}\n", path(i));
            let wanted = if i + 1 < MODULES { rng.below(7) } else { 0 };
            let mut deps: Vec<usize> = (0..wanted)
                .map(|_| i + 1 + rng.below((MODULES - i - 1).min(120)))
                .collect();
            deps.sort_unstable();
            deps.dedup();
            if !deps.is_empty() {
                text.push_str("\nrequire (\n");
                for j in deps {
                    let _ = writeln!(text, "\t{} v1.{}.0", path(j), rng.below(VERSIONS));
                }
                text.push_str(")\n");
            }
            source.add(&path(i), &format!("v1.{k}.0"), text);
        }
    }
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut main = String::from("module example.com/svc\n\ngo 1.21\n\nrequire (\n");
    let mut direct: Vec<usize> = (0..DIRECT).map(|_| rng.below(MODULES / 2)).collect();
    direct.sort_unstable();
    direct.dedup();
    for i in direct {
        let _ = writeln!(main, "\t{} v1.{}.0", path(i), rng.below(VERSIONS));
    }
    main.push_str(")\n");
    std::fs::write(dir.path().join("go.mod"), main).expect("write go.mod");
    (source, dir)
}

fn bench(c: &mut Criterion) {
    let (world, dir) = world();
    let options = Options::default().go_work(GoWork::Off);
    let list = mvs::list(dir.path(), &world, &options).expect("the world loads");
    let graph = mvs::graph(dir.path(), &world, &options).expect("the graph loads");
    eprintln!(
        "build list: {} modules; graph: {} edges",
        list.modules.len(),
        graph.edges.len()
    );
    c.bench_function("mvs list (service, 800 modules x 4 versions)", |b| {
        b.iter(|| black_box(mvs::list(dir.path(), &world, &options).expect("list")));
    });
    c.bench_function("mvs graph (service, 800 modules x 4 versions)", |b| {
        b.iter(|| black_box(mvs::graph(dir.path(), &world, &options).expect("graph")));
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
