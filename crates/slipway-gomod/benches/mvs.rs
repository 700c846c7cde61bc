//! Minimal version selection over an in-memory world: 400 modules x 5 versions, chains of requirements
//! hundreds of modules deep, mostly pruned (go 1.21) with one go.mod in ten unpruned (go 1.16); the main
//! module requires every module at its latest version. The same shape as scripts/bench-gomod-list.sh.

use std::fmt::Write as _;
use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use slipway_gomod::mvs::{self, GoWork, Options};
use slipway_gomod::source::MemorySource;

const MODULES: usize = 400;
const VERSIONS: usize = 5;

fn path(i: usize) -> String {
    format!("example.com/bench/m{i:03}")
}

// A small deterministic generator (xorshift), so the world is the same on every run.
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
    let mut rng = Rng(42);
    let mut w = MemorySource::new();
    for i in 0..MODULES {
        for k in 0..VERSIONS {
            let go = if rng.below(10) == 0 { "1.16" } else { "1.21" };
            let mut text = format!("module {}\n\ngo {go}\n", path(i));
            let reqs: Vec<usize> = (i + 1..MODULES.min(i + 4)).collect();
            if !reqs.is_empty() {
                text.push_str("\nrequire (\n");
                for j in reqs {
                    let _ = writeln!(text, "\t{} v1.{}.0", path(j), rng.below(k + 1));
                }
                text.push_str(")\n");
            }
            w.add(&path(i), &format!("v1.{k}.0"), text);
        }
    }
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut main = String::from("module example.com/bench/main\n\ngo 1.21\n\nrequire (\n");
    for i in 0..MODULES {
        let _ = writeln!(main, "\t{} v1.{}.0", path(i), VERSIONS - 1);
    }
    main.push_str(")\n");
    std::fs::write(dir.path().join("go.mod"), main).expect("write go.mod");
    (w, dir)
}

fn bench(c: &mut Criterion) {
    let (world, dir) = world();
    let options = Options::default().go_work(GoWork::Off);
    let list = mvs::list(dir.path(), &world, &options).expect("the world loads");
    assert_eq!(list.modules.len(), MODULES + 1);
    c.bench_function("mvs list (400 modules x 5 versions)", |b| {
        b.iter(|| black_box(mvs::list(dir.path(), &world, &options).expect("list")));
    });
    c.bench_function("mvs graph (400 modules x 5 versions)", |b| {
        b.iter(|| black_box(mvs::graph(dir.path(), &world, &options).expect("graph")));
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
