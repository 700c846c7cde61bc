//! Manifest, index and config decoding never panic, and the consistency checks accept or refuse without
//! panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use slipway_oci::manifest::{ImageConfig, Manifest, RawManifest, media_type};

fuzz_target!(|data: &[u8]| {
    match Manifest::from_slice(data, None) {
        Ok(Manifest::Image(m)) => {
            let _ = m.check_consistency();
        }
        Ok(Manifest::Index(i)) => {
            let _ = i.check_consistency();
        }
        Err(_) => {}
    }
    let raw = RawManifest::new(media_type::OCI_INDEX, data.to_vec());
    let _ = raw.decode();
    if let Ok(c) = ImageConfig::from_slice(data) {
        let _ = c.platform().normalize();
    }
});
