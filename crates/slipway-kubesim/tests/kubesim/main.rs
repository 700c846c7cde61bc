//! Integration tests of slipway-kubesim.
mod kubectl;
mod patch;
