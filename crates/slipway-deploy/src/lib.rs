//! Rolling, blue-green and canary rollouts on Kubernetes, judged by Argo-compatible analysis, with abort,
//! rollback and resume, and no controller or CRD in the cluster.
//!
//! The user's Deployment `NAME` stays the stable workload; the new version runs as `NAME-canary`; the
//! rollout's state is an annotation on the Deployment, so any run of slipway picks it up where another
//! left it.
//!
//! - [`rollout`]: the driver (`Rollout::apply`, `promote`, `abort`, `rollback`, `status`) over any
//!   [`cluster::Cluster`];
//! - [`strategy`]: rolling, blue-green and canary as pure state machines (observed state in, changes and
//!   the next state out);
//! - [`cluster`]: the `Cluster` trait, its kube-rs implementation (feature `kube`) and a dry run;
//! - [`traffic`]: the `TrafficRouter` trait: Istio, Gateway API, replica ratio;
//! - [`state`]: the state slipway records;
//! - [`replicas`]: the replica and traffic math (Argo Rollouts' basic canary approximation, routed
//!   canaries, surge and unavailability budgets);
//! - [`rolling`]: `kubectl rollout status`'s judgement of a Deployment and `kubectl rollout undo`'s target;
//! - [`spec`]: rollout specs from flags (`setWeight=20,pause=30s,...`) or Argo Rollouts' `strategy:` block;
//! - [`duration`]: Go durations exactly as `time.ParseDuration` reads them;
//! - [`plan`]: the step-by-step plan `slipway deploy plan` prints;
//! - [`analysis`]: Argo `AnalysisTemplates` read as is, their expression language, and the judgement of
//!   measurements (successful, failed, inconclusive, error), with Prometheus and web providers;
//! - [`serverless`]: Knative / Cloud Run Services and their canary over revision traffic.
//!
//! ```
//! use slipway_deploy::cluster::{DryRun, Empty};
//! use slipway_deploy::rollout::{Request, Rollout};
//! use slipway_deploy::spec::{RolloutSpec, StrategyKind, TrafficRouting};
//!
//! // What a first canary rollout of `web` would create, rendered without a cluster.
//! let cluster = DryRun::new(Empty);
//! let spec = RolloutSpec::from_flags(StrategyKind::Canary, Some("setWeight=20,pause"), TrafficRouting::None)?;
//! Rollout::new(&cluster, "web").once(true).apply(&Request::new("registry.example/web:1.0.0", spec))?;
//! assert!(cluster.render().contains("image: registry.example/web:1.0.0"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

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
