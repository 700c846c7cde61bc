//! Image reference, tag, digest and platform parsing never panic; accepted references print to a form
//! that parses back to the same reference.
#![no_main]

use libfuzzer_sys::fuzz_target;
use slipway_oci::Reference;
use slipway_oci::digest::Digest;
use slipway_oci::platform::Platform;
use slipway_oci::reference::Tag;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(r) = Reference::parse(text) {
        let again = Reference::parse(&r.to_string()).expect("display output parses");
        assert_eq!(again, r);
    }
    let _ = Tag::new(text);
    if let Ok(d) = Digest::parse(text) {
        assert_eq!(d.as_str(), text);
    }
    if let Ok(p) = Platform::parse(text) {
        let n = p.normalize();
        assert_eq!(n.normalize(), n);
        assert!(p.matches(&n));
    }
});
