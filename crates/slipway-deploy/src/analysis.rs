//! Argo Rollouts' analysis, read as is and judged the same way, with one deliberate difference: no data
//! (an empty Prometheus vector, a `null` result) is Inconclusive, never a pass and never an error.
//!
//! - [`template`]: `AnalysisTemplate` / `ClusterAnalysisTemplate` documents (YAML or JSON), their args and
//!   `{{args.NAME}}` substitution;
//! - [`expr`]: the expression language of `successCondition` / `failureCondition`;
//! - [`judge`]: a measurement's phase from its value, and the run as a pure state machine (measurements
//!   and the time in; metric phases, the run's phase and the next measurement time out);
//! - [`provider`]: the [`Provider`](provider::Provider) trait that takes measurements, with Prometheus and
//!   web implementations behind the `http` feature.

pub mod expr;
pub mod judge;
pub mod provider;
pub mod template;
