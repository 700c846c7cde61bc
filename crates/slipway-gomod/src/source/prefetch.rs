//! Fetching many go.mod files at once: minimal version selection reads one per module version it reaches,
//! and over a network most of that time is waiting.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;

use super::{ModuleSource, Result};
use crate::module;

/// Fetches the go.mod file of every version in `wanted` from `source` on up to `jobs` threads (0: one per
/// available CPU) and returns the results in the order of `wanted`.
///
/// Duplicates in `wanted` are fetched as listed (callers deduplicate); a failure of one version does not stop
/// the others.
///
/// ```
/// use slipway_gomod::module::Version;
/// use slipway_gomod::source::{fetch_go_mods, MemorySource};
///
/// let mut mem = MemorySource::new();
/// mem.add("example.com/a", "v1.0.0", "module example.com/a\n");
/// let wanted = [Version::new("example.com/a", "v1.0.0"), Version::new("example.com/b", "v1.0.0")];
/// let results = fetch_go_mods(&mem, &wanted, 4);
/// assert_eq!(results[0].as_deref().ok(), Some(&b"module example.com/a\n"[..]));
/// assert!(results[1].as_ref().unwrap_err().is_not_found());
/// Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn fetch_go_mods(
    source: &dyn ModuleSource,
    wanted: &[module::Version],
    jobs: usize,
) -> Vec<Result<Vec<u8>>> {
    let jobs = if jobs == 0 {
        thread::available_parallelism().map_or(1, usize::from)
    } else {
        jobs
    };
    let jobs = jobs.min(wanted.len());
    if jobs <= 1 {
        return wanted
            .iter()
            .map(|m| source.go_mod(&m.path, &m.version))
            .collect();
    }
    let next = AtomicUsize::new(0);
    let slots: Vec<Mutex<Option<Result<Vec<u8>>>>> =
        wanted.iter().map(|_| Mutex::new(None)).collect();
    thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(m) = wanted.get(i) else { break };
                    let result = source.go_mod(&m.path, &m.version);
                    // A poisoned slot can only come from a panic in another worker, which `scope` re-raises.
                    if let Ok(mut slot) = slots[i].lock() {
                        *slot = Some(result);
                    }
                }
            });
        }
    });
    slots
        .into_iter()
        .zip(wanted)
        .map(|(slot, m)| {
            slot.into_inner().ok().flatten().unwrap_or_else(|| {
                Err(super::Error::Fetch {
                    module: m.path.clone(),
                    version: m.version.clone(),
                    location: source.describe(),
                    message: "fetch did not complete".to_owned(),
                })
            })
        })
        .collect()
}
