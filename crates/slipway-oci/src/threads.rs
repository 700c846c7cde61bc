//! Scoped-thread plumbing shared by the parts that work in parallel (layer compression, platform builds,
//! blob copies).

use std::thread::ScopedJoinHandle;

/// Waits for every thread, in spawn order, and returns their results; a thread's panic is raised again
/// here, on the caller's thread, as if the work had run inline.
pub(crate) fn join_all<T>(handles: Vec<ScopedJoinHandle<'_, T>>) -> Vec<T> {
    handles
        .into_iter()
        .map(|h| {
            h.join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
        .collect()
}
