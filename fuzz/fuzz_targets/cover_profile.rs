//! slipway-cover's text-profile parser and Go function scanner never panic, and a parsed profile
//! round-trips through its written form.
#![no_main]

use libfuzzer_sys::fuzz_target;
use slipway_cover::{Profile, find_funcs};

fuzz_target!(|data: &[u8]| {
    // The scanner takes any bytes (Go source need not be UTF-8 to be scanned). No ordering of the
    // positions is asserted: a `//line` directive inside a body may move its end before its start.
    let _ = find_funcs(data);
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(profile) = Profile::parse("fuzz.out", text) {
        let written = profile.to_text();
        let again = Profile::parse("written.out", &written).expect("a written profile parses");
        assert_eq!(again, profile);
    }
});
