//! Parsers never panic, and what they accept round-trips.

use proptest::prelude::*;
use slipway_oci::Reference;
use slipway_oci::digest::Digest;
use slipway_oci::manifest::{Manifest, RawManifest};
use slipway_oci::platform::Platform;

proptest! {
    #[test]
    fn reference_parsing_never_panics(s in "\\PC{0,80}") {
        let _ = Reference::parse(&s);
    }

    #[test]
    fn reference_like_strings_never_panic(
        s in "(oci:|docker://)?[a-zA-Z0-9.:/@_\\-\\[\\]]{0,60}",
    ) {
        if let Ok(r) = Reference::parse(&s) {
            // Whatever parses prints to something that parses to the same reference.
            let again = Reference::parse(&r.to_string()).expect("display output parses");
            prop_assert_eq!(again, r);
        }
    }

    #[test]
    fn digests_round_trip(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        let d = Digest::sha256(&bytes);
        prop_assert_eq!(Digest::parse(d.as_str()).unwrap(), d);
    }

    #[test]
    fn platform_parsing_never_panics(s in "[a-zA-Z0-9_.()/*-]{0,40}") {
        if let Ok(p) = Platform::parse(&s) {
            let n = p.normalize();
            // Normalising is idempotent and a platform matches itself.
            prop_assert_eq!(n.normalize(), n.clone());
            prop_assert!(p.matches(&n));
        }
    }

    #[test]
    fn manifest_decoding_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = Manifest::from_slice(&bytes, None);
        let _ = RawManifest::new("application/vnd.oci.image.index.v1+json", bytes).decode();
    }

    #[test]
    fn manifest_like_json_never_panics(
        media in prop_oneof![
            Just("application/vnd.oci.image.index.v1+json"),
            Just("application/vnd.docker.distribution.manifest.v2+json"),
            Just("x"),
        ],
        version in 0u64..4,
        digest in "[a-z0-9:]{0,80}",
        size in any::<i64>(),
    ) {
        let text = format!(
            r#"{{"schemaVersion":{version},"mediaType":"{media}","manifests":[{{"mediaType":"{media}","digest":"{digest}","size":{size}}}],"config":{{"mediaType":"a","digest":"{digest}","size":{size}}},"layers":[]}}"#
        );
        let _ = Manifest::from_slice(text.as_bytes(), None);
    }
}
