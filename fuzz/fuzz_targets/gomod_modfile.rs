//! Fuzzes go.mod, go.work and version parsing: no input may panic, formatted output that parses again
//! must format to itself, and the fast reader of plain dependency go.mod files (`lax_summary`) must
//! agree with the full parser whenever it answers.
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
    let full = modfile::ModFile::parse_lax("go.mod", &src);
    if let Some(quick) = modfile::lax_summary(&src) {
        let f = full.expect("lax_summary answered for a file parse_lax rejects");
        assert_eq!(quick.module, f.module.map(|m| m.path));
        assert_eq!(quick.go, f.go.map(|g| g.version));
        let require: Vec<_> = f.require.into_iter().map(|r| r.module).collect();
        assert_eq!(quick.require, require);
    }
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
