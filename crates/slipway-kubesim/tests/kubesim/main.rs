//! Integration tests of slipway-kubesim.
mod apply;
mod controller;
mod knative;
mod kube_rs;
mod kubectl;
mod patch;
mod protobuf;
mod proxy;
mod runtime;
