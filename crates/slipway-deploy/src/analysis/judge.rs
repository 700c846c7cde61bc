//! Judgement as Argo Rollouts makes it, as a pure state machine: measurements and the time go in;
//! each metric's phase, the run's phase and the time of the next measurement come out.
//!
//! A measurement ([`Outcome`]) is judged from the measured value ([`judge_value`]):
//! - no data (an empty vector, `nil`) is Inconclusive, before any condition is looked at: slipway's one
//!   deliberate difference from Argo, where `result[0]` on an empty vector is an Error and a condition
//!   like `all(result, …)` passes on it;
//! - otherwise Argo's rule (`utils/evaluate`): with both conditions, Failed if `failureCondition` holds,
//!   else Successful if `successCondition` holds, else Inconclusive; with only `successCondition`, Failed
//!   when it does not hold; with only `failureCondition`, Successful when it does not hold; with neither,
//!   Successful; a condition that does not evaluate (or is not a bool) makes the measurement an Error.
//!
//! A metric ([`Run`]) is Failed when its failures exceed `failureLimit`, else Inconclusive when its
//! inconclusive measurements exceed `inconclusiveLimit`, else Error when its consecutive errors exceed
//! `consecutiveErrorLimit`, else Successful when `count` measurements (errors not counted) were taken;
//! a metric without `interval` and `count` is measured once. A Failed, Error or Inconclusive metric (or
//! [`Run::terminate`]) ends the run: no more measurements, metrics still running are Successful. The run's
//! phase is Running until every metric completed, then the worst of them (Successful < Inconclusive <
//! Error < Failed). The next measurement of a metric is `interval` after the last one finished (10 s after
//! an error when there is no interval), the first one `initialDelay` after the run started.
//!
//! ```
//! use std::time::{Duration, UNIX_EPOCH};
//! use slipway_deploy::analysis::judge::{MetricSchedule, Outcome, Phase, Run};
//! let t0 = UNIX_EPOCH + Duration::from_secs(1_000);
//! let schedule = MetricSchedule::new("success-rate").interval(Duration::from_secs(60)).count(2);
//! let mut run = Run::new(vec![schedule], t0);
//! assert_eq!(run.due(t0), ["success-rate"]);
//! run.record("success-rate", Outcome::Successful, t0, None)?;
//! assert_eq!(run.next_measurement_at(), Some(t0 + Duration::from_secs(60)));
//! assert!(run.due(t0 + Duration::from_secs(59)).is_empty());
//! run.record("success-rate", Outcome::Successful, t0 + Duration::from_secs(60), None)?;
//! assert_eq!(run.phase(), Phase::Successful);
//! assert_eq!(run.next_measurement_at(), None);
//! Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use super::expr::{self, Expr, Value};
use super::template::{self, AnalysisTemplate, Args, DEFAULT_CONSECUTIVE_ERROR_LIMIT, Metric};

/// Argo's retry interval after an error when the metric has no `interval`.
pub const ERROR_RETRY_INTERVAL: Duration = Duration::from_secs(10);

/// An error judging a measured value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A condition does not parse, does not evaluate on the value, or is not a bool.
    #[error("metric `{metric}`: {field}")]
    Condition {
        /// The metric's name.
        metric: String,
        /// `successCondition` or `failureCondition`.
        field: &'static str,
        /// What went wrong, with its column.
        #[source]
        source: expr::Error,
    },
    /// An `{{args.NAME}}` in a condition has no value.
    #[error("resolving the conditions' args")]
    Args {
        /// The missing arg.
        #[source]
        source: template::Error,
    },
    /// [`Run::record`] was told about a metric the run does not have.
    #[error("the run has no metric `{metric}`")]
    UnknownMetric {
        /// The name given.
        metric: String,
    },
}

/// The outcome of one measurement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Outcome {
    /// The success condition held (or the failure condition did not).
    Successful,
    /// The failure condition held (or the success condition did not).
    Failed,
    /// Neither, or there was no data.
    Inconclusive,
    /// The provider or a condition failed.
    Error,
}

/// The phase of a metric or of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Phase {
    /// No measurement yet.
    Pending,
    /// Measuring.
    Running,
    /// Completed: passed.
    Successful,
    /// Completed: too many inconclusive measurements.
    Inconclusive,
    /// Completed: too many consecutive errors.
    Error,
    /// Completed: too many failures.
    Failed,
}

impl Phase {
    /// Whether the phase is final.
    pub fn is_completed(self) -> bool {
        !matches!(self, Phase::Pending | Phase::Running)
    }

    /// Argo's order of completed phases, best first.
    fn severity(self) -> u8 {
        match self {
            Phase::Pending => 0,
            Phase::Running => 1,
            Phase::Successful => 2,
            Phase::Inconclusive => 3,
            Phase::Error => 4,
            Phase::Failed => 5,
        }
    }
}

/// Judges one measured value against the metric's conditions (with `{{args.NAME}}` resolved).
pub fn judge_value(metric: &Metric, args: &Args, value: &Value) -> Result<Outcome, Error> {
    if value.is_empty_data() {
        return Ok(Outcome::Inconclusive);
    }
    let eval = |cond: &Option<String>, field: &'static str| -> Result<Option<bool>, Error> {
        let Some(cond) = cond else { return Ok(None) };
        let cond = args
            .substitute(cond, &metric.name, field)
            .map_err(|source| Error::Args { source })?;
        let wrap = |source| Error::Condition {
            metric: metric.name.clone(),
            field,
            source,
        };
        let expr = Expr::parse(&cond).map_err(wrap)?;
        expr.eval_condition(value).map(Some).map_err(wrap)
    };
    let success = eval(&metric.success_condition, "successCondition")?;
    let failure = eval(&metric.failure_condition, "failureCondition")?;
    Ok(match (success, failure) {
        (None, None) => Outcome::Successful,
        (Some(s), None) => {
            if s {
                Outcome::Successful
            } else {
                Outcome::Failed
            }
        }
        (None, Some(f)) => {
            if f {
                Outcome::Failed
            } else {
                Outcome::Successful
            }
        }
        (Some(s), Some(f)) => {
            if f {
                Outcome::Failed
            } else if s {
                Outcome::Successful
            } else {
                Outcome::Inconclusive
            }
        }
    })
}

/// When and how often a metric is measured, and its limits: a [`Metric`] with its args resolved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MetricSchedule {
    /// The metric's name.
    pub name: String,
    /// Time between measurements.
    pub interval: Option<Duration>,
    /// Time from the run's start to the first measurement.
    pub initial_delay: Option<Duration>,
    /// How many measurements complete the metric; `None`: until the run is terminated.
    pub count: Option<u32>,
    /// Failures tolerated.
    pub failure_limit: u32,
    /// Inconclusive measurements tolerated.
    pub inconclusive_limit: u32,
    /// Consecutive errors tolerated.
    pub consecutive_error_limit: u32,
}

impl MetricSchedule {
    /// A metric measured once, with Argo's default limits.
    pub fn new(name: impl Into<String>) -> MetricSchedule {
        MetricSchedule {
            name: name.into(),
            interval: None,
            initial_delay: None,
            count: Some(1),
            failure_limit: 0,
            inconclusive_limit: 0,
            consecutive_error_limit: DEFAULT_CONSECUTIVE_ERROR_LIMIT,
        }
    }

    /// Measures every `interval`, without end unless [`Self::count`] is set afterwards.
    #[must_use]
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = Some(interval);
        if self.count == Some(1) {
            self.count = None;
        }
        self
    }

    /// Sets the first measurement's delay.
    #[must_use]
    pub fn initial_delay(mut self, delay: Duration) -> Self {
        self.initial_delay = Some(delay);
        self
    }

    /// Sets the number of measurements.
    #[must_use]
    pub fn count(mut self, count: u32) -> Self {
        self.count = Some(count);
        self
    }

    /// Sets the failures tolerated.
    #[must_use]
    pub fn failure_limit(mut self, limit: u32) -> Self {
        self.failure_limit = limit;
        self
    }

    /// Sets the inconclusive measurements tolerated.
    #[must_use]
    pub fn inconclusive_limit(mut self, limit: u32) -> Self {
        self.inconclusive_limit = limit;
        self
    }

    /// Sets the consecutive errors tolerated.
    #[must_use]
    pub fn consecutive_error_limit(mut self, limit: u32) -> Self {
        self.consecutive_error_limit = limit;
        self
    }

    /// The schedule of a template's metric, its integer fields resolved with `args`.
    pub fn from_metric(metric: &Metric, args: &Args) -> Result<MetricSchedule, template::Error> {
        let resolve = |v: &Option<template::IntOrString>, field, default| match v {
            Some(v) => args.resolve_count(v, &metric.name, field),
            None => Ok(default),
        };
        // Argo's EffectiveCount: an unset or zero count means once without an interval, forever with one.
        let count = match resolve(&metric.count, "count", 0)? {
            0 if metric.interval.is_none() => Some(1),
            0 => None,
            n => Some(n),
        };
        Ok(MetricSchedule {
            name: metric.name.clone(),
            interval: metric.interval,
            initial_delay: metric.initial_delay,
            count,
            failure_limit: resolve(&metric.failure_limit, "failureLimit", 0)?,
            inconclusive_limit: resolve(&metric.inconclusive_limit, "inconclusiveLimit", 0)?,
            consecutive_error_limit: resolve(
                &metric.consecutive_error_limit,
                "consecutiveErrorLimit",
                DEFAULT_CONSECUTIVE_ERROR_LIMIT,
            )?,
        })
    }
}

/// The last measurement of a metric.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct LastMeasurement {
    /// Its outcome.
    pub outcome: Outcome,
    /// When it finished.
    pub finished_at: SystemTime,
    /// The value measured or the error, for people.
    pub message: Option<String>,
}

/// A metric's tallies and phase.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MetricState {
    /// The schedule.
    pub schedule: MetricSchedule,
    /// The phase.
    pub phase: Phase,
    /// Measurements counted towards `count` (every outcome but Error).
    pub count: u32,
    /// Successful measurements.
    pub successful: u32,
    /// Failed measurements.
    pub failed: u32,
    /// Inconclusive measurements.
    pub inconclusive: u32,
    /// Errors.
    pub error: u32,
    /// Errors since the last measurement that was not one.
    pub consecutive_error: u32,
    /// The last measurement.
    pub last: Option<LastMeasurement>,
}

impl MetricState {
    fn count_reached(&self) -> bool {
        self.schedule.count.is_some_and(|c| self.count >= c)
    }

    fn assess(&self, terminating: bool) -> Phase {
        if self.phase.is_completed() {
            return self.phase;
        }
        if self.last.is_none() {
            return if terminating {
                Phase::Successful
            } else {
                Phase::Pending
            };
        }
        let s = &self.schedule;
        if self.failed > s.failure_limit {
            Phase::Failed
        } else if self.inconclusive > s.inconclusive_limit {
            Phase::Inconclusive
        } else if self.consecutive_error > s.consecutive_error_limit {
            Phase::Error
        } else if self.count_reached() || terminating {
            Phase::Successful
        } else {
            Phase::Running
        }
    }
}

/// An analysis run: the state of each metric. Serializable, so that it can be kept in the cluster
/// (annotations) and picked up by another process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Run {
    started_at: SystemTime,
    terminated: bool,
    metrics: Vec<MetricState>,
}

impl Run {
    /// A run of these metrics, started at `started_at`.
    pub fn new(schedules: Vec<MetricSchedule>, started_at: SystemTime) -> Run {
        Run {
            started_at,
            terminated: false,
            metrics: schedules
                .into_iter()
                .map(|schedule| MetricState {
                    schedule,
                    phase: Phase::Pending,
                    count: 0,
                    successful: 0,
                    failed: 0,
                    inconclusive: 0,
                    error: 0,
                    consecutive_error: 0,
                    last: None,
                })
                .collect(),
        }
    }

    /// A run of a template's metrics.
    pub fn from_template(
        template: &AnalysisTemplate,
        args: &Args,
        started_at: SystemTime,
    ) -> Result<Run, template::Error> {
        let schedules = template
            .metrics
            .iter()
            .map(|m| MetricSchedule::from_metric(m, args))
            .collect::<Result<_, _>>()?;
        Ok(Run::new(schedules, started_at))
    }

    /// When the run started.
    pub fn started_at(&self) -> SystemTime {
        self.started_at
    }

    /// The metrics' states, in the template's order.
    pub fn metrics(&self) -> &[MetricState] {
        &self.metrics
    }

    /// A metric's state.
    pub fn metric(&self, name: &str) -> Option<&MetricState> {
        self.metrics.iter().find(|m| m.schedule.name == name)
    }

    /// Whether the run stopped measuring: terminated, or a metric ended Failed, Error or Inconclusive.
    pub fn is_terminating(&self) -> bool {
        self.terminated
            || self
                .metrics
                .iter()
                .any(|m| matches!(m.phase, Phase::Failed | Phase::Error | Phase::Inconclusive))
    }

    /// Stops the run: no more measurements; metrics still running complete as Successful (as Argo's
    /// `terminate`, used when a rollout is promoted or aborted).
    pub fn terminate(&mut self) {
        self.terminated = true;
        self.reassess();
    }

    /// Records a measurement of `metric` that finished at `finished_at`.
    pub fn record(
        &mut self,
        metric: &str,
        outcome: Outcome,
        finished_at: SystemTime,
        message: Option<String>,
    ) -> Result<(), Error> {
        let state = self
            .metrics
            .iter_mut()
            .find(|m| m.schedule.name == metric)
            .ok_or_else(|| Error::UnknownMetric {
                metric: metric.to_owned(),
            })?;
        match outcome {
            Outcome::Successful => state.successful += 1,
            Outcome::Failed => state.failed += 1,
            Outcome::Inconclusive => state.inconclusive += 1,
            Outcome::Error => state.error += 1,
        }
        if outcome == Outcome::Error {
            state.consecutive_error += 1;
        } else {
            state.count += 1;
            state.consecutive_error = 0;
        }
        state.last = Some(LastMeasurement {
            outcome,
            finished_at,
            message,
        });
        self.reassess();
        Ok(())
    }

    fn reassess(&mut self) {
        // A metric that completes badly terminates the run, which completes the others: assess until
        // nothing changes (at most twice).
        loop {
            let terminating = self.is_terminating();
            let mut changed = false;
            for m in &mut self.metrics {
                let phase = m.assess(terminating);
                changed |= phase != m.phase;
                m.phase = phase;
            }
            if !changed || self.is_terminating() == terminating {
                break;
            }
        }
    }

    /// The run's phase: Running (or Pending before any measurement) until every metric completed, then
    /// the worst metric phase.
    pub fn phase(&self) -> Phase {
        if self.metrics.iter().all(|m| m.phase == Phase::Pending) && !self.metrics.is_empty() {
            return Phase::Pending;
        }
        if self.metrics.iter().any(|m| !m.phase.is_completed()) {
            return Phase::Running;
        }
        self.metrics
            .iter()
            .map(|m| m.phase)
            .max_by_key(|p| p.severity())
            .unwrap_or(Phase::Successful)
    }

    /// The metrics to measure at `now`, in the template's order.
    pub fn due(&self, now: SystemTime) -> Vec<&str> {
        if self.is_terminating() {
            return Vec::new();
        }
        self.metrics
            .iter()
            .filter(|m| !m.phase.is_completed())
            .filter(|m| self.due_at(m).is_some_and(|at| at <= now))
            .map(|m| m.schedule.name.as_str())
            .collect()
    }

    fn due_at(&self, m: &MetricState) -> Option<SystemTime> {
        match &m.last {
            None => Some(self.started_at + m.schedule.initial_delay.unwrap_or_default()),
            Some(_) if m.count_reached() => None,
            Some(last) => {
                let interval = match (m.schedule.interval, last.outcome) {
                    (Some(i), _) => i,
                    (None, Outcome::Error) => ERROR_RETRY_INTERVAL,
                    (None, _) => return None,
                };
                Some(last.finished_at + interval)
            }
        }
    }

    /// When the next measurement is due (possibly already): `None` when the run will take no more.
    pub fn next_measurement_at(&self) -> Option<SystemTime> {
        if self.is_terminating() {
            return None;
        }
        self.metrics
            .iter()
            .filter(|m| !m.phase.is_completed())
            .filter_map(|m| self.due_at(m))
            .min()
    }
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use super::*;
    use crate::analysis::template::{PrometheusSpec, ProviderSpec};

    fn t(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_000_000 + secs)
    }

    fn metric(success: Option<&str>, failure: Option<&str>) -> Metric {
        let doc = format!(
            "spec:\n  metrics:\n  - name: m\n{}{}    provider:\n      prometheus: {{address: 'http://p', query: q}}\n",
            success.map_or(String::new(), |s| format!("    successCondition: '{s}'\n")),
            failure.map_or(String::new(), |s| format!("    failureCondition: '{s}'\n")),
        );
        let mut t = AnalysisTemplate::parse(&doc).unwrap_or_else(|e| panic!("{e}"));
        let m = t.metrics.remove(0);
        assert!(matches!(
            m.provider,
            ProviderSpec::Prometheus(PrometheusSpec { .. })
        ));
        m
    }

    fn judged(success: Option<&str>, failure: Option<&str>, v: f64) -> Outcome {
        judge_value(
            &metric(success, failure),
            &Args::default(),
            &Value::Array(vec![Value::Float(v)]),
        )
        .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn argo_condition_table() {
        use Outcome::{Failed, Inconclusive, Successful};
        let s = Some("result[0] >= 0.95");
        let f = Some("result[0] < 0.5");
        assert_eq!(judged(s, None, 0.97), Successful);
        assert_eq!(judged(s, None, 0.90), Failed); // only success: not holding is a failure
        assert_eq!(judged(None, f, 0.90), Successful); // only failure: not holding is a success
        assert_eq!(judged(None, f, 0.10), Failed);
        assert_eq!(judged(s, f, 0.97), Successful);
        assert_eq!(judged(s, f, 0.10), Failed);
        assert_eq!(judged(s, f, 0.70), Inconclusive); // neither
        assert_eq!(judged(None, None, 0.0), Successful);
        // Both holding: failure wins, as Argo checks it first.
        assert_eq!(
            judged(Some("result[0] > 0"), Some("result[0] > 0"), 1.0),
            Failed
        );
    }

    #[test]
    fn no_data_is_inconclusive_never_a_pass() {
        for (s, f) in [
            (Some("all(result, {# > 0.9})"), None),
            (None, Some("any(result, {# < 0.1})")),
            (Some("result[0] > 0.9"), None),
            (None, None),
        ] {
            let m = metric(s, f);
            for empty in [Value::Array(vec![]), Value::Null] {
                assert_eq!(
                    judge_value(&m, &Args::default(), &empty),
                    Ok(Outcome::Inconclusive),
                    "{s:?} {f:?}"
                );
            }
        }
    }

    #[test]
    fn bad_conditions_are_errors_naming_the_field() {
        let e = judge_value(
            &metric(Some("result[0] >"), None),
            &Args::default(),
            &Value::Float(1.0),
        )
        .expect_err("syntax");
        assert!(
            matches!(
                e,
                Error::Condition {
                    field: "successCondition",
                    ..
                }
            ),
            "{e}"
        );
        let e = judge_value(
            &metric(None, Some("result.x > 1")),
            &Args::default(),
            &Value::Float(1.0),
        )
        .expect_err("eval");
        assert!(
            matches!(
                e,
                Error::Condition {
                    field: "failureCondition",
                    ..
                }
            ),
            "{e}"
        );
        let e = judge_value(
            &metric(Some("result > {{args.min}}"), None),
            &Args::default(),
            &Value::Float(1.0),
        )
        .expect_err("arg");
        assert!(
            matches!(&e, Error::Args { source: template::Error::MissingArg { arg, .. } } if arg == "min"),
            "{e}"
        );
        let ok = judge_value(
            &metric(Some("result > {{args.min}}"), None),
            &Args::from_pairs([("min", "0.5")]),
            &Value::Float(1.0),
        );
        assert_eq!(ok, Ok(Outcome::Successful));
    }

    fn one(schedule: MetricSchedule) -> Run {
        Run::new(vec![schedule], t(0))
    }

    #[test]
    fn measured_once_without_interval() {
        let mut run = one(MetricSchedule::new("m"));
        assert_eq!(run.phase(), Phase::Pending);
        assert_eq!(run.due(t(0)), ["m"]);
        run.record("m", Outcome::Successful, t(1), None).unwrap();
        assert_eq!(run.phase(), Phase::Successful);
        assert!(run.due(t(1000)).is_empty());
        assert_eq!(run.next_measurement_at(), None);
    }

    #[test]
    fn failure_limit_is_exceeded_not_reached() {
        let mut run = one(MetricSchedule::new("m")
            .interval(Duration::from_secs(60))
            .failure_limit(2));
        for i in 0..2 {
            run.record("m", Outcome::Failed, t(60 * i), None).unwrap();
            assert_eq!(run.phase(), Phase::Running);
        }
        run.record("m", Outcome::Failed, t(120), None).unwrap();
        assert_eq!(run.phase(), Phase::Failed);
        assert!(run.due(t(10_000)).is_empty());
        // Default limit 0: the first failure fails the metric.
        let mut run = one(MetricSchedule::new("m").interval(Duration::from_secs(60)));
        run.record("m", Outcome::Failed, t(0), None).unwrap();
        assert_eq!(run.phase(), Phase::Failed);
    }

    #[test]
    fn inconclusive_limit() {
        let mut run = one(MetricSchedule::new("m")
            .interval(Duration::from_secs(1))
            .count(5)
            .inconclusive_limit(1));
        run.record("m", Outcome::Inconclusive, t(1), None).unwrap();
        assert_eq!(run.phase(), Phase::Running);
        run.record("m", Outcome::Successful, t(2), None).unwrap();
        run.record("m", Outcome::Inconclusive, t(3), None).unwrap();
        assert_eq!(run.phase(), Phase::Inconclusive);
        assert_eq!(run.next_measurement_at(), None);
    }

    #[test]
    fn consecutive_errors_and_their_retry() {
        let mut run = one(MetricSchedule::new("m")); // once, no interval
        for i in 0..4 {
            run.record("m", Outcome::Error, t(10 * i), Some("down".into()))
                .unwrap();
            assert_eq!(run.phase(), Phase::Running, "error {i}");
            // Retried 10 s after an error even without an interval.
            assert_eq!(run.next_measurement_at(), Some(t(10 * i + 10)));
            assert!(run.due(t(10 * i + 9)).is_empty());
            assert_eq!(run.due(t(10 * i + 10)), ["m"]);
        }
        run.record("m", Outcome::Error, t(40), None).unwrap();
        assert_eq!(run.phase(), Phase::Error); // 5 > 4
        // A success in between resets the streak.
        let mut run = one(MetricSchedule::new("m")
            .interval(Duration::from_secs(5))
            .count(10)
            .consecutive_error_limit(1));
        run.record("m", Outcome::Error, t(0), None).unwrap();
        run.record("m", Outcome::Successful, t(5), None).unwrap();
        run.record("m", Outcome::Error, t(10), None).unwrap();
        assert_eq!(run.phase(), Phase::Running);
        // With an interval, an error is retried after the interval.
        assert_eq!(run.next_measurement_at(), Some(t(15)));
        run.record("m", Outcome::Error, t(15), None).unwrap();
        assert_eq!(run.phase(), Phase::Error);
    }

    #[test]
    fn count_excludes_errors_and_tolerated_failures_still_pass() {
        let mut run = one(MetricSchedule::new("m")
            .interval(Duration::from_secs(30))
            .count(3)
            .failure_limit(1));
        run.record("m", Outcome::Successful, t(0), None).unwrap();
        run.record("m", Outcome::Error, t(30), None).unwrap();
        run.record("m", Outcome::Failed, t(60), None).unwrap();
        assert_eq!(run.phase(), Phase::Running);
        assert_eq!(run.metric("m").map(|m| m.count), Some(2));
        run.record("m", Outcome::Successful, t(90), None).unwrap();
        assert_eq!(run.phase(), Phase::Successful);
    }

    #[test]
    fn initial_delay_and_interval_schedule() {
        let run = one(MetricSchedule::new("m")
            .interval(Duration::from_secs(60))
            .initial_delay(Duration::from_secs(120)));
        assert!(run.due(t(119)).is_empty());
        assert_eq!(run.next_measurement_at(), Some(t(120)));
        assert_eq!(run.due(t(120)), ["m"]);
    }

    #[test]
    fn a_failed_metric_ends_the_run_and_completes_the_others() {
        let mut run = Run::new(
            vec![
                MetricSchedule::new("forever").interval(Duration::from_secs(10)),
                MetricSchedule::new("bad").interval(Duration::from_secs(10)),
                MetricSchedule::new("late")
                    .interval(Duration::from_secs(10))
                    .initial_delay(Duration::from_secs(600)),
            ],
            t(0),
        );
        assert_eq!(run.due(t(0)), ["forever", "bad"]);
        run.record("forever", Outcome::Successful, t(1), None)
            .unwrap();
        assert_eq!(run.phase(), Phase::Running);
        run.record("bad", Outcome::Failed, t(1), None).unwrap();
        assert_eq!(
            run.metric("forever").map(|m| m.phase),
            Some(Phase::Successful)
        );
        assert_eq!(run.metric("late").map(|m| m.phase), Some(Phase::Successful));
        assert_eq!(run.phase(), Phase::Failed);
        assert!(run.due(t(10_000)).is_empty());
        assert_eq!(run.next_measurement_at(), None);
    }

    #[test]
    fn worst_phase_wins_and_terminate_completes() {
        let mut run = Run::new(
            vec![
                MetricSchedule::new("a"),
                MetricSchedule::new("b").interval(Duration::from_secs(10)),
            ],
            t(0),
        );
        run.record("a", Outcome::Successful, t(0), None).unwrap();
        run.record("b", Outcome::Successful, t(0), None).unwrap();
        assert_eq!(run.phase(), Phase::Running);
        assert_eq!(run.next_measurement_at(), Some(t(10)));
        run.terminate();
        assert_eq!(run.phase(), Phase::Successful);
        assert!(run.due(t(10)).is_empty());

        // A bad metric completes the pending ones as Successful; the run takes the worst phase.
        for (outcome, phase) in [
            (Outcome::Inconclusive, Phase::Inconclusive),
            (Outcome::Error, Phase::Error),
            (Outcome::Failed, Phase::Failed),
        ] {
            let mut run = Run::new(
                vec![
                    MetricSchedule::new("ok"),
                    MetricSchedule::new("bad").consecutive_error_limit(0),
                ],
                t(0),
            );
            run.record("ok", Outcome::Successful, t(0), None).unwrap();
            run.record("bad", outcome, t(0), None).unwrap();
            assert_eq!(run.phase(), phase);
        }
        assert!(matches!(
            run.record("nope", Outcome::Successful, t(0), None),
            Err(Error::UnknownMetric { .. })
        ));
    }

    #[test]
    fn schedules_from_templates_use_argo_defaults() {
        let doc = r#"
kind: ClusterAnalysisTemplate
spec:
  args: [{name: n, value: "3"}]
  metrics:
  - name: once
    provider: {web: {url: "http://x"}}
  - name: forever
    interval: 1m
    provider: {web: {url: "http://x"}}
  - name: counted
    interval: 30s
    count: "{{args.n}}"
    failureLimit: 2
    inconclusiveLimit: 1
    consecutiveErrorLimit: 0
    provider: {web: {url: "http://x"}}
"#;
        let template = AnalysisTemplate::parse(doc).unwrap();
        let args = template.args(&[]).unwrap();
        let run = Run::from_template(&template, &args, t(0)).unwrap();
        let s: Vec<_> = run.metrics().iter().map(|m| m.schedule.clone()).collect();
        assert_eq!(s[0], MetricSchedule::new("once"));
        assert_eq!(
            (s[1].count, s[1].failure_limit, s[1].consecutive_error_limit),
            (None, 0, 4)
        );
        assert_eq!(
            (
                s[2].count,
                s[2].failure_limit,
                s[2].inconclusive_limit,
                s[2].consecutive_error_limit
            ),
            (Some(3), 2, 1, 0)
        );
        // The state round-trips through JSON (it is kept in annotations).
        let json = serde_json::to_string(&run).unwrap();
        assert_eq!(serde_json::from_str::<Run>(&json).unwrap(), run);
    }
}
