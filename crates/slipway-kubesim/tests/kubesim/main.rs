//! Integration tests of slipway-kubesim.
mod protobuf;
