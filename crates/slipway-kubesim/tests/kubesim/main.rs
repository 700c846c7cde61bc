//! Integration tests of slipway-kubesim.
mod patch;
