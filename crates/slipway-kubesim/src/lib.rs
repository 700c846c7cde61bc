//! A Kubernetes API on loopback that `kubectl` and kube-rs use unmodified.
//!
//! Work in progress: the store, the served kinds and the apiserver's errors are here; the HTTP server, the
//! controllers and the process runtime follow.

pub mod resource;
pub mod status;
pub mod store;

pub mod apply;
pub mod patch;
pub mod schema;
