//! Integration tests of slipway-kubesim.
mod kube_rs;
mod kubectl;
mod patch;
