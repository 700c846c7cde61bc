//! Integration tests of slipway-deploy.

mod replicas;
mod spec;
