//! The protobuf request decoder never panics and stays within its limits on any body.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = slipway_kubesim::protobuf::decode(data);
    let mut prefixed = b"k8s\0".to_vec();
    prefixed.extend_from_slice(data);
    let _ = slipway_kubesim::protobuf::decode(&prefixed);
});
