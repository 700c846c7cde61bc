//! Error texts quote at most 200 bytes of any input, then `…` and its length: a huge digest or media type
//! in a hostile manifest, or a huge reference, is named, not echoed in every error of the chain.

use std::error::Error as _;

use slipway_oci::manifest::{RawManifest, media_type};
use slipway_oci::reference::Reference;

#[test]
fn reference_and_digest_errors_cut_long_inputs() {
    let digest = format!("sha256:{}", "g".repeat(100_000));
    let input = format!("registry.example/app@{digest}");
    let err = Reference::parse(&input).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "reference {:?}… ({} bytes): invalid digest",
            &input[..200],
            input.len()
        )
    );
    assert_eq!(
        err.source().unwrap().to_string(),
        format!(
            "digest {:?}… ({} bytes): character 'g' at column 8 is not lowercase hex",
            &digest[..200],
            digest.len()
        )
    );
}

#[test]
fn manifest_errors_cut_long_fields() {
    let long = "x".repeat(1_000_000);
    let text = format!(
        r#"{{"schemaVersion":2,"mediaType":"{}","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:{long}","size":2}},"layers":[]}}"#,
        media_type::OCI_MANIFEST
    );
    let err = RawManifest::new(media_type::OCI_MANIFEST, text.into_bytes())
        .decode()
        .unwrap_err()
        .to_string();
    assert!(err.len() < 700, "{} bytes: {}", err.len(), &err[..700]);
    assert!(err.contains("… ("), "{err}");

    let odd = format!("application/{long}");
    let text = format!(r#"{{"schemaVersion":2,"mediaType":"{odd}","manifests":[]}}"#);
    let err = RawManifest::new(&odd, text.into_bytes())
        .decode()
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        format!(
            "unsupported manifest media type {:?}… ({} bytes)",
            &odd[..200],
            odd.len()
        )
    );
}
