//! Integration tests of slipway-deploy.

mod analysis;
mod plan;
mod replicas;
mod rolling;
mod serverless;
mod spec;
