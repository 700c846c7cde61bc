//! Integration tests of slipway-deploy.

mod analysis;
