//! Integration tests of slipway-deploy.

mod analysis;
mod plan;
mod replicas;
mod rolling;
#[cfg(feature = "kube")]
mod rollout;
mod serverless;
mod spec;
