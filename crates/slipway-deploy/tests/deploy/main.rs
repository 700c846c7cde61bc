//! Integration tests of slipway-deploy.

mod plan;
mod replicas;
mod spec;
