//! slipway-tag against real git repositories: one scenario per test, exact tag lists.

mod compat;
mod next;
mod props;
mod repo;
mod scenarios;
mod text;
