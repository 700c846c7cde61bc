//! slipway-gitops integration tests: byte-level edits, `kubectl kustomize` renders, real git remotes.

mod edits;
mod git;
mod hostile;
