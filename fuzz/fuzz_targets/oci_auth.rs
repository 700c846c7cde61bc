//! The registry store's `WWW-Authenticate` challenge parser and Docker / containers auth-file parser
//! (with its `auths` lookup; credential helpers are never run) never panic on any input, and challenges
//! come out with lowercased scheme and parameter names.
#![no_main]

use libfuzzer_sys::fuzz_target;
use slipway_oci::store::registry::fuzz_parsers;

fuzz_target!(|data: &[u8]| {
    fuzz_parsers(data);
});
