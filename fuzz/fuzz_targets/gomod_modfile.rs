//! Fuzzes go.mod, go.work and version parsing: no input may panic, and formatted output that parses
//! again must format to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use slipway_gomod::{modfile, version};

fuzz_target!(|data: &[u8]| {
    let src = String::from_utf8_lossy(data);
    for name in ["go.mod", "go.work"] {
        if let Ok(formatted) = modfile::edit_fmt(name, &src) {
            // Go cannot always read back what it wrote (retract versions are written unquoted, so
            // `retract ""` becomes a bare `retract`); compare only what reads back.
            if let Ok(again) = modfile::edit_fmt(name, &formatted) {
                assert_eq!(again, formatted, "formatting is idempotent");
            }
        }
        let _ = modfile::edit_json(name, &src);
    }
    let _ = modfile::ModFile::parse_lax("go.mod", &src);
    for word in src.split_whitespace().take(8) {
        let _ = (
            version::canonical(word),
            version::major_minor(word),
            version::is_valid_go_line(word),
        );
        let _ = (
            version::compare(word, "v1.2.3"),
            version::compare_go(word, "1.21"),
        );
        let _ = version::from_toolchain(word);
    }
});
