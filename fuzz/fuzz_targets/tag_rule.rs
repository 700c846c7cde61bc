//! Fuzzes slipway-tag's rule and flavor parsers, tag computation and sanitising: no input may panic, and
//! every produced tag must satisfy the OCI grammar.

#![no_main]

use libfuzzer_sys::fuzz_target;
use slipway_tag::{
    Build, BuildRef, Event, Flavor, Options, TagRule, compute_tags, is_valid_tag, sanitize_tag,
};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(tag) = sanitize_tag(text) {
        assert!(is_valid_tag(&tag), "{text:?} -> {tag:?}");
    }
    // First line: a rule; second line: a flavor; third: the ref being built.
    let mut lines = text.splitn(3, '\n');
    let rule = lines.next().unwrap_or("");
    let flavor = lines.next().unwrap_or("");
    let git_ref = lines.next().unwrap_or("refs/tags/v1.2.3");
    let Ok(rule) = rule.parse::<TagRule>() else {
        return;
    };
    let Ok(flavor) = Flavor::parse([flavor]) else {
        return;
    };
    for event in [Event::Push, Event::Tag, Event::Pr, Event::Schedule] {
        let mut b = BuildRef::default();
        b.event = Some(event);
        b.git_ref = Some(git_ref.to_owned());
        b.pr_number = Some(7);
        b.sha = Some("0123456789abcdef0123456789abcdef01234567".to_owned());
        b.repo_tags = vec!["v1.2.3".to_owned(), "v1.3.0".to_owned(), git_ref.to_owned()];
        b.default_branch = Some("main".to_owned());
        let Ok(build) = Build::resolve(b, Options::default().with_now(1_700_000_000)) else {
            continue;
        };
        if let Ok(tags) = compute_tags(&build, std::slice::from_ref(&rule), &flavor) {
            for tag in &tags.tags {
                assert!(is_valid_tag(tag), "{tag:?}");
            }
        }
    }
});
