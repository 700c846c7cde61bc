//! Integration tests of slipway-kubesim.
