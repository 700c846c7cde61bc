//! Fuzzes GOPROXY list parsing and GOPRIVATE/GONOPROXY pattern matching: no input may panic, a parsed list
//! is never empty, and matching a glob list is the same as matching any of its globs.
#![no_main]

use libfuzzer_sys::fuzz_target;
use slipway_gomod::source::{ModuleSource, ProxyList, match_prefix_patterns};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (goproxy, rest) = text.split_once('\n').unwrap_or((&text, ""));
    // Parsing opens no connection and reads no file: file:// entries are only remembered.
    if let Ok(list) = ProxyList::parse(goproxy) {
        assert!(!list.entries().is_empty());
        let _ = list.describe();
    }
    for line in rest.lines().take(16) {
        let (globs, target) = line.split_once('\t').unwrap_or((line, "example.com/m"));
        let all = match_prefix_patterns(globs, target);
        let any = globs.split(',').any(|g| match_prefix_patterns(g, target));
        assert_eq!(all, any, "{globs:?} {target:?}");
    }
});
