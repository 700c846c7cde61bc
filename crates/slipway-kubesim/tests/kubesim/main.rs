//! Integration tests of slipway-kubesim.
mod apply;
mod patch;
