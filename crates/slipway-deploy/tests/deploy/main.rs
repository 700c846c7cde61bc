//! Integration tests of slipway-deploy.
