//! The NodePort proxy's request counters, with the moment of every increment kept (bounded), so a window
//! `[W]` ending at any evaluation time can be answered exactly rather than from scrapes.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;

/// Increments remembered per series; older ones are folded into the series' base count.
pub const MAX_SAMPLES_PER_SERIES: usize = 10_000;

/// Series kept; requests that would start a series beyond this are not counted.
pub const MAX_SERIES: usize = 10_000;

/// The labels of one `kubesim_http_requests_total` series.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestLabels {
    /// The Service's namespace.
    pub namespace: String,
    /// The Service the request came through.
    pub service: String,
    /// The pod that answered.
    pub pod: String,
    /// The pod's (first container's) image.
    pub image: String,
    /// The HTTP status code the client got.
    pub code: u16,
}

#[derive(Debug)]
struct Series {
    /// When the first increment happened (the series did not exist before).
    born: f64,
    /// The count before the oldest kept sample.
    base: u64,
    /// (time, count after the increment), oldest first, times non-decreasing.
    samples: VecDeque<(f64, u64)>,
}

impl Series {
    /// The counter's value at `t`, or `None` when the series did not exist yet.
    fn value_at(&self, t: f64) -> Option<u64> {
        if t < self.born {
            return None;
        }
        let n = self.samples.partition_point(|(at, _)| *at <= t);
        Some(match n {
            0 => self.base,
            n => self.samples[n - 1].1,
        })
    }
}

/// A series as the evaluator sees it at one moment.
#[derive(Debug, Clone)]
pub(crate) struct Point {
    pub labels: RequestLabels,
    /// The value at the evaluation time.
    pub now: u64,
    /// The value `W` earlier (0 when the series was born within the window).
    pub before: u64,
}

/// Every series of `kubesim_http_requests_total`.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    series: Mutex<BTreeMap<RequestLabels, Series>>,
}

impl Counters {
    /// Counts one request at `t` (seconds since the Unix epoch).
    pub fn record_at(&self, labels: RequestLabels, t: f64) {
        let mut all = self
            .series
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !all.contains_key(&labels) && all.len() >= MAX_SERIES {
            return;
        }
        let series = all.entry(labels).or_insert_with(|| Series {
            born: t,
            base: 0,
            samples: VecDeque::new(),
        });
        let (last_t, last_v) = series
            .samples
            .back()
            .copied()
            .unwrap_or((series.born, series.base));
        // A clock stepping back must not unsort the samples.
        series.samples.push_back((t.max(last_t), last_v + 1));
        while series.samples.len() > MAX_SAMPLES_PER_SERIES {
            if let Some((_, v)) = series.samples.pop_front() {
                series.base = v;
            }
        }
    }

    /// Every series that existed at `t`, with its value then and `window` seconds earlier.
    pub fn points(&self, t: f64, window: f64) -> Vec<Point> {
        let all = self
            .series
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        all.iter()
            .filter_map(|(labels, s)| {
                Some(Point {
                    labels: labels.clone(),
                    now: s.value_at(t)?,
                    before: s.value_at(t - window).unwrap_or(0),
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(code: u16) -> RequestLabels {
        RequestLabels {
            namespace: "default".into(),
            service: "web".into(),
            pod: "web-1".into(),
            image: "img:1".into(),
            code,
        }
    }

    #[test]
    fn values_at_any_moment_and_bounded_history() {
        let c = Counters::default();
        for i in 0..5 {
            c.record_at(labels(200), 100.0 + f64::from(i));
        }
        let at = |t: f64, w: f64| c.points(t, w).first().map(|p| (p.now, p.before));
        assert_eq!(at(99.0, 1.0), None, "not born yet");
        assert_eq!(at(100.0, 10.0), Some((1, 0)));
        assert_eq!(at(104.0, 2.0), Some((5, 3)));
        assert_eq!(at(1000.0, 60.0), Some((5, 5)));
        let big = Counters::default();
        for i in 0..(MAX_SAMPLES_PER_SERIES + 10) {
            #[allow(clippy::cast_precision_loss)]
            big.record_at(labels(500), i as f64);
        }
        let s = big.series.lock().expect("lock");
        let series = s.values().next().expect("one series");
        assert_eq!(series.samples.len(), MAX_SAMPLES_PER_SERIES);
        assert_eq!(series.base, 10);
        assert_eq!(
            series.value_at(1e9),
            Some(MAX_SAMPLES_PER_SERIES as u64 + 10)
        );
    }
}
