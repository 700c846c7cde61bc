//! slipway-cover's exports and diff coverage never panic and keep their output well formed: the input is
//! split at NUL bytes into a profile, a Go source and a unified diff; the profile (if it parses) is
//! exported as JSON (UTF-8) and HTML (UTF-8, `<span>` tags balanced), and the diff's changed lines (if it
//! parses) are mapped onto it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use slipway_cover::gate::{Changes, DiffGate};
use slipway_cover::{Coverage, Html, Json, MemoryResolver, Profile, ReportWriter};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut parts = text.splitn(3, "\0");
    let (profile, source, diff) = (
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
    );
    let changes = Changes::from_unified_diff(diff).unwrap_or_default();
    let Ok(profile) = Profile::parse("fuzz.out", profile) else {
        return;
    };
    let mut resolver = MemoryResolver::new();
    for file in profile.files() {
        resolver = resolver.with_file(file.name.clone(), source);
    }
    let to_repo = |name: &str| Some(name.to_owned());
    let _ = DiffGate::new().check(&profile, &changes, &resolver, &to_repo);
    let Ok(coverage) = Coverage::new(profile, &resolver) else {
        return;
    };
    let mut json = Vec::new();
    Json::default()
        .write_report(&coverage, &mut json)
        .expect("writing to memory");
    assert!(std::str::from_utf8(&json).is_ok());
    let mut html = Vec::new();
    Html::new(&resolver)
        .write_report(&coverage, &mut html)
        .expect("writing to memory");
    let html = String::from_utf8(html).expect("HTML is UTF-8");
    assert_eq!(
        html.matches("<span").count(),
        html.matches("</span>").count()
    );
});
