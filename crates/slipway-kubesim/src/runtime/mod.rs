//! Where running pods can be reached on this machine.
//!
//! A pod's IP (10.244.x.y) is not routable here; a pod that really runs (the process runtime) listens on
//! a loopback port instead. This table is how the NodePort proxy finds a pod's real address.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;

/// Loopback addresses of running pods, by (namespace, pod name).
#[derive(Debug, Default)]
pub struct PodAddrs(Mutex<HashMap<(String, String), SocketAddr>>);

impl PodAddrs {
    /// Records where a pod listens (its `$PORT` on loopback).
    pub fn set(&self, namespace: &str, pod: &str, addr: SocketAddr) {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert((namespace.to_owned(), pod.to_owned()), addr);
    }

    /// Forgets a pod.
    pub fn remove(&self, namespace: &str, pod: &str) {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&(namespace.to_owned(), pod.to_owned()));
    }

    /// Where a pod listens, if it runs.
    pub fn get(&self, namespace: &str, pod: &str) -> Option<SocketAddr> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&(namespace.to_owned(), pod.to_owned()))
            .copied()
    }
}

pub mod launch;
pub mod probe;
pub mod process;
pub mod pull;
pub mod unpack;
