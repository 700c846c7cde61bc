//! Fuzzes go.sum parsing, executable build-info reading, module path checks and pseudo-versions: no input
//! may panic; a parsed go.sum written back parses to the same set of lines; a build-info text that parses
//! prints (`go version -m` form) without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use slipway_gomod::buildinfo::BuildInfo;
use slipway_gomod::sum::GoSum;
use slipway_gomod::{dirhash, module, pseudo};

fuzz_target!(|data: &[u8]| {
    if let Ok(sums) = GoSum::parse("go.sum", data) {
        let written = sums.to_string();
        let again = GoSum::parse("go.sum", written.as_bytes()).expect("written go.sum parses");
        assert_eq!(again.to_string(), written, "writing is stable");
    }
    let _ = GoSum::parse_lax(data);

    // The bytes as an executable, and as the module-info text inside one.
    let _ = BuildInfo::read(data);
    let text = String::from_utf8_lossy(data);
    if let Ok(info) = BuildInfo::parse(&text) {
        let _ = info.to_go_version_m("f");
        let _ = info.to_json();
    }
    let _ = dirhash::hash_zip(data);

    for word in text.split_whitespace().take(8) {
        let _ = (
            module::check_path(word),
            module::check_import_path(word),
            module::check_file_path(word),
        );
        let _ = (module::escape_path(word), module::unescape_path(word));
        let _ = (module::escape_version(word), module::unescape_version(word));
        let _ = module::split_path_version(word);
        let _ = (
            module::check_path_major(word, "/v2"),
            module::path_major_prefix(word),
        );
        let _ = (
            pseudo::pseudo_version_base(word),
            pseudo::pseudo_version_time(word),
        );
        let _ = pseudo::is_zero_pseudo_version(word);
    }
});
