//! Integration tests of slipway-kubesim.
mod controller;
mod kube_rs;
mod kubectl;
mod patch;
mod runtime;
