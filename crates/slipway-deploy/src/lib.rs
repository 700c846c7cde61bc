//! Rolling, blue-green and canary rollouts on Kubernetes, judged by Argo-compatible analysis, with abort,
//! rollback and resume, and no controller or CRD in the cluster.
//!
//! Work in progress (issue 13). The pure parts come first:
//! - [`replicas`]: the replica and traffic math (Argo Rollouts' basic canary approximation, routed canaries,
//!   surge and unavailability budgets);
//! - [`rolling`]: `kubectl rollout status`'s judgement of a Deployment and `kubectl rollout undo`'s target;
//! - [`spec`]: rollout specs from flags (`setWeight=20,pause=30s,...`) or Argo Rollouts' `strategy:` block;
//! - [`duration`]: Go durations exactly as `time.ParseDuration` reads them;
//! - [`plan`]: the step-by-step plan `slipway deploy plan` prints;
//! - [`analysis`]: Argo `AnalysisTemplates` read as is, their expression language, and the judgement of
//!   measurements (successful, failed, inconclusive, error), with Prometheus and web providers.

pub mod analysis;
pub mod cluster;
pub mod duration;
pub mod plan;
pub mod replicas;
pub mod rolling;
pub mod rollout;
pub mod serverless;
pub mod spec;
pub mod state;
pub mod strategy;
pub mod traffic;
