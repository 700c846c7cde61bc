//! slipway-cover's GOCOVERDIR decoders never panic: the input is split into a meta-data file and a
//! counter-data file, each decoded on its own, then merged as one pod and printed every way
//! `go tool covdata` prints it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use slipway_cover::covdata::{
    self, CounterBytes, CounterFile, MetaFile, ModePolicy, Operation, PodBytes, ReadOptions,
};

fuzz_target!(|data: &[u8]| {
    // The first two bytes choose where the meta-data file ends; the rest is the counter-data file.
    let (split, rest) = match data {
        [a, b, rest @ ..] => (usize::from(u16::from_le_bytes([*a, *b])), rest),
        _ => return,
    };
    let (meta, counters) = rest.split_at(split.min(rest.len()));
    let _ = MetaFile::decode("covmeta.x", meta);
    let _ = CounterFile::decode("covcounters.x.1.1", counters);
    let _ = MetaFile::decode("covmeta.x", rest);
    let _ = CounterFile::decode("covcounters.x.1.1", rest);
    for (policy, operation, all_segments) in [
        (ModePolicy::Relaxed, Operation::Merge, false),
        (ModePolicy::Strict, Operation::Intersect, true),
    ] {
        let pod = PodBytes {
            meta_file: "covmeta.x",
            meta,
            counter_files: vec![
                CounterBytes {
                    name: "covcounters.x.1.1",
                    origin: 0,
                    bytes: counters,
                },
                CounterBytes {
                    name: "covcounters.x.2.2",
                    origin: 1,
                    bytes: counters,
                },
            ],
        };
        let options = ReadOptions::default()
            .policy(policy)
            .operation(operation)
            .all_segments(all_segments);
        if let Ok(cov) = covdata::read_pods(&[pod], &options) {
            let _ = cov.func_text();
            let _ = cov.percent_text();
            let _ = cov.textfmt();
            let _ = cov.to_profile();
        }
    }
});
