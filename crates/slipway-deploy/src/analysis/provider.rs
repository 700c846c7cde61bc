//! Taking measurements: the [`Provider`] trait, and (feature `http`) the Prometheus and web providers.
//!
//! A provider measures one metric and returns the value conditions see as `result`; judging it is the
//! [`judge`] module's job, and [`ProviderExt`] puts the two together.
//!
//! The HTTP providers use reqwest's blocking client (rustls): measurements happen one at a time between
//! rollout steps, so a synchronous trait keeps every implementation (and closures in tests) simple and
//! object-safe. Inside an async runtime, call them from `tokio::task::spawn_blocking`.
//!
//! ```
//! use std::time::{Duration, UNIX_EPOCH};
//! use slipway_deploy::analysis::expr::Value;
//! use slipway_deploy::analysis::judge::{Outcome, Phase, Run};
//! use slipway_deploy::analysis::provider::{ProviderExt, from_fn};
//! use slipway_deploy::analysis::template::AnalysisTemplate;
//! let template = AnalysisTemplate::parse(r#"
//! spec:
//!   metrics:
//!   - name: error-rate
//!     failureCondition: result[0] > 0.05
//!     provider: {prometheus: {address: "http://prometheus:9090", query: "errors"}}
//! "#)?;
//! let args = template.args(&[])?;
//! let fake = from_fn(|_metric, _args| Ok(Value::Array(vec![Value::Float(0.01)])));
//! assert_eq!(fake.measurement(&template.metrics[0], &args).outcome, Outcome::Successful);
//! let t0 = UNIX_EPOCH + Duration::from_secs(1);
//! let mut run = Run::from_template(&template, &args, t0)?;
//! fake.measure_due(&mut run, &template, &args, t0)?;
//! assert_eq!(run.phase(), Phase::Successful);
//! Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use super::expr::Value;
use super::judge::{self, Outcome, Run};
use super::template::{AnalysisTemplate, Args, Metric};

pub mod jsonpath;

#[cfg(feature = "http")]
mod http;
#[cfg(feature = "http")]
mod prometheus;
#[cfg(feature = "http")]
mod web;

#[cfg(feature = "http")]
pub use http::{Error, HttpOptions, HttpProviders};
#[cfg(feature = "http")]
pub use prometheus::Prometheus;
#[cfg(feature = "http")]
pub use web::Web;

/// The error a [`Provider`] reports; boxed so that providers keep their own error types.
pub type ProviderError = Box<dyn std::error::Error + Send + Sync>;

/// Takes one measurement of a metric.
///
/// `metric` is the template's, with `{{args.NAME}}` references unresolved: a provider substitutes
/// `args` into what it sends (queries, URLs, headers). One required method; implemented for `&T`,
/// `Box<T>`, `Arc<T>`, closures through [`from_fn`], and [`Value`] (a fixed answer).
pub trait Provider {
    /// Measures `metric` now.
    fn measure(&self, metric: &Metric, args: &Args) -> Result<Value, ProviderError>;
}

impl Provider for Value {
    fn measure(&self, _metric: &Metric, _args: &Args) -> Result<Value, ProviderError> {
        Ok(self.clone())
    }
}

/// A [`Provider`] made from a closure: see [`from_fn`].
#[derive(Clone)]
pub struct FromFn<F>(F);

impl<F> fmt::Debug for FromFn<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FromFn")
    }
}

/// Wraps a closure as a [`Provider`].
pub fn from_fn<F>(f: F) -> FromFn<F>
where
    F: Fn(&Metric, &Args) -> Result<Value, ProviderError>,
{
    FromFn(f)
}

impl<F> Provider for FromFn<F>
where
    F: Fn(&Metric, &Args) -> Result<Value, ProviderError>,
{
    fn measure(&self, metric: &Metric, args: &Args) -> Result<Value, ProviderError> {
        (self.0)(metric, args)
    }
}

impl<T: Provider + ?Sized> Provider for &T {
    fn measure(&self, metric: &Metric, args: &Args) -> Result<Value, ProviderError> {
        (**self).measure(metric, args)
    }
}

impl<T: Provider + ?Sized> Provider for Box<T> {
    fn measure(&self, metric: &Metric, args: &Args) -> Result<Value, ProviderError> {
        (**self).measure(metric, args)
    }
}

impl<T: Provider + ?Sized> Provider for Arc<T> {
    fn measure(&self, metric: &Metric, args: &Args) -> Result<Value, ProviderError> {
        (**self).measure(metric, args)
    }
}

/// One judged measurement.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Measurement {
    /// The outcome.
    pub outcome: Outcome,
    /// The value measured, when the provider answered.
    pub value: Option<Value>,
    /// For people: the value, or the error with its causes joined by `: `.
    pub message: String,
}

fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// Helpers for every [`Provider`].
pub trait ProviderExt: Provider {
    /// Measures `metric` and judges the value ([`judge::judge_value`]); a provider error or a condition
    /// that does not evaluate is an [`Outcome::Error`] with the reason in the message.
    fn measurement(&self, metric: &Metric, args: &Args) -> Measurement {
        match self.measure(metric, args) {
            Err(e) => Measurement {
                outcome: Outcome::Error,
                value: None,
                message: chain(e.as_ref()),
            },
            Ok(value) => match judge::judge_value(metric, args, &value) {
                Ok(outcome) => Measurement {
                    outcome,
                    message: if value.is_empty_data() {
                        format!("no data ({value})")
                    } else {
                        value.to_string()
                    },
                    value: Some(value),
                },
                Err(e) => Measurement {
                    outcome: Outcome::Error,
                    value: Some(value),
                    message: chain(&e),
                },
            },
        }
    }

    /// Takes the measurements `run` has due at `now` and records them as finished at `now`. Returns the
    /// names of the metrics measured.
    fn measure_due(
        &self,
        run: &mut Run,
        template: &AnalysisTemplate,
        args: &Args,
        now: SystemTime,
    ) -> Result<Vec<String>, judge::Error> {
        let due: Vec<String> = run.due(now).into_iter().map(str::to_owned).collect();
        for name in &due {
            let metric = template
                .metrics
                .iter()
                .find(|m| &m.name == name)
                .ok_or_else(|| judge::Error::UnknownMetric {
                    metric: name.clone(),
                })?;
            let m = self.measurement(metric, args);
            run.record(name, m.outcome, now, Some(m.message))?;
        }
        Ok(due)
    }
}

impl<T: Provider + ?Sized> ProviderExt for T {}
