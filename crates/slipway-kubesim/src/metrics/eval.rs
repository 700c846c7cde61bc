//! Evaluates the `PromQL` canary analysis uses over the proxy's counters: selectors of
//! `kubesim_http_requests_total` with `=`, `!=`, `=~`, `!~`; `rate` and `increase` over a window;
//! `sum`, `avg`, `min`, `max`, `count` with `by`/`without`; arithmetic between scalars and vectors
//! (one-to-one matching, `on`/`ignoring`); unary minus. Anything else evaluates to `None`, which the API
//! answers with an empty vector rather than a number kubesim would have to invent.

use std::collections::BTreeMap;

use super::counters::{Counters, Point};
use super::promql::{Expr, Grouping, Matcher, VectorMatching};

/// The one metric kubesim records.
pub const REQUESTS_TOTAL: &str = "kubesim_http_requests_total";

pub(crate) type Labels = BTreeMap<String, String>;

/// One element of an instant vector.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Sample {
    pub labels: Labels,
    pub value: f64,
}

/// What an expression evaluates to.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Scalar(f64),
    String(String),
    Vector(Vec<Sample>),
}

fn labels_of(p: &Point) -> Labels {
    let l = &p.labels;
    BTreeMap::from([
        ("__name__".to_owned(), REQUESTS_TOTAL.to_owned()),
        ("namespace".to_owned(), l.namespace.clone()),
        ("service".to_owned(), l.service.clone()),
        ("pod".to_owned(), l.pod.clone()),
        ("image".to_owned(), l.image.clone()),
        ("code".to_owned(), l.code.to_string()),
    ])
}

fn matches(matchers: &[Matcher], labels: &Labels) -> bool {
    matchers
        .iter()
        .all(|m| m.matches(labels.get(&m.label).map_or("", String::as_str)))
}

fn without_name(mut labels: Labels) -> Labels {
    labels.remove("__name__");
    labels
}

/// Evaluates `expr` at `t` (seconds since the Unix epoch); `None` when kubesim does not evaluate it.
pub(crate) fn eval(expr: &Expr, counters: &Counters, t: f64) -> Option<Value> {
    match expr {
        Expr::Number(n) => Some(Value::Scalar(*n)),
        Expr::String(s) => Some(Value::String(s.clone())),
        Expr::Selector {
            matchers,
            range: None,
            modified: false,
        } => Some(Value::Vector(
            counters
                .points(t, 0.0)
                .iter()
                .filter_map(|p| {
                    let labels = labels_of(p);
                    #[allow(clippy::cast_precision_loss)] // counts stay far below 2^52
                    matches(matchers, &labels).then_some(Sample {
                        labels,
                        value: p.now as f64,
                    })
                })
                .collect(),
        )),
        Expr::Call { name, args } if matches!(name.as_str(), "rate" | "increase") => {
            let [
                Expr::Selector {
                    matchers,
                    range: Some(window),
                    modified: false,
                },
            ] = args.as_slice()
            else {
                return None;
            };
            if *window <= 0.0 {
                return None;
            }
            let samples = counters
                .points(t, *window)
                .iter()
                .filter_map(|p| {
                    let labels = labels_of(p);
                    if !matches(matchers, &labels) {
                        return None;
                    }
                    #[allow(clippy::cast_precision_loss)] // counts stay far below 2^52
                    let increase = p.now.saturating_sub(p.before) as f64;
                    let value = if name == "rate" {
                        increase / window
                    } else {
                        increase
                    };
                    Some(Sample {
                        labels: without_name(labels),
                        value,
                    })
                })
                .collect();
            Some(Value::Vector(samples))
        }
        Expr::Aggregate {
            op,
            grouping,
            param: None,
            expr,
        } => {
            let Value::Vector(input) = eval(expr, counters, t)? else {
                return None;
            };
            aggregate(op, grouping, input)
        }
        Expr::Negate(e) => match eval(e, counters, t)? {
            Value::Scalar(n) => Some(Value::Scalar(-n)),
            Value::Vector(v) => Some(Value::Vector(
                v.into_iter()
                    .map(|s| Sample {
                        labels: without_name(s.labels),
                        value: -s.value,
                    })
                    .collect(),
            )),
            Value::String(_) => None,
        },
        Expr::Binary {
            op,
            lhs,
            rhs,
            matching,
            bool_modifier: false,
        } => {
            let f = arithmetic(op)?;
            if matching.as_ref().is_some_and(|m| m.grouped) {
                return None;
            }
            let l = eval(lhs, counters, t)?;
            let r = eval(rhs, counters, t)?;
            binary(f, l, r, matching.as_ref())
        }
        _ => None,
    }
}

fn arithmetic(op: &str) -> Option<fn(f64, f64) -> f64> {
    Some(match op {
        "+" => |a, b| a + b,
        "-" => |a, b| a - b,
        "*" => |a, b| a * b,
        "/" => |a, b| a / b,
        "%" => |a, b| a % b,
        "^" => f64::powf,
        _ => return None,
    })
}

fn aggregate(op: &str, grouping: &Grouping, input: Vec<Sample>) -> Option<Value> {
    let mut groups: BTreeMap<Labels, Vec<f64>> = BTreeMap::new();
    for s in input {
        let key: Labels = match grouping {
            Grouping::None => Labels::new(),
            Grouping::By(keep) => s
                .labels
                .into_iter()
                .filter(|(k, _)| keep.contains(k))
                .collect(),
            Grouping::Without(drop) => s
                .labels
                .into_iter()
                .filter(|(k, _)| k != "__name__" && !drop.contains(k))
                .collect(),
        };
        groups.entry(key).or_default().push(s.value);
    }
    let reduce: fn(&[f64]) -> f64 = match op {
        "sum" => |v| v.iter().sum(),
        #[allow(clippy::cast_precision_loss)]
        "avg" => |v| v.iter().sum::<f64>() / v.len() as f64,
        #[allow(clippy::cast_precision_loss)]
        "count" => |v| v.len() as f64,
        "min" => |v| v.iter().copied().fold(f64::INFINITY, f64::min),
        "max" => |v| v.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        _ => return None,
    };
    Some(Value::Vector(
        groups
            .into_iter()
            .map(|(labels, values)| Sample {
                labels,
                value: reduce(&values),
            })
            .collect(),
    ))
}

fn signature(labels: &Labels, matching: Option<&VectorMatching>) -> Labels {
    labels
        .iter()
        .filter(|(k, _)| match matching {
            Some(m) if m.on => m.labels.contains(k),
            Some(m) => *k != "__name__" && !m.labels.contains(k),
            None => *k != "__name__",
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn binary(
    op: fn(f64, f64) -> f64,
    lhs: Value,
    rhs: Value,
    matching: Option<&VectorMatching>,
) -> Option<Value> {
    let scale = |v: Vec<Sample>, g: &dyn Fn(f64) -> f64| {
        Value::Vector(
            v.into_iter()
                .map(|s| Sample {
                    labels: without_name(s.labels),
                    value: g(s.value),
                })
                .collect(),
        )
    };
    match (lhs, rhs) {
        (Value::Scalar(a), Value::Scalar(b)) => Some(Value::Scalar(op(a, b))),
        (Value::Vector(v), Value::Scalar(b)) => Some(scale(v, &|a| op(a, b))),
        (Value::Scalar(a), Value::Vector(v)) => Some(scale(v, &|b| op(a, b))),
        (Value::Vector(lv), Value::Vector(rv)) => {
            let mut right: BTreeMap<Labels, f64> = BTreeMap::new();
            for s in rv {
                // Prometheus refuses many-to-many matching: no answer rather than a wrong one.
                if right
                    .insert(signature(&s.labels, matching), s.value)
                    .is_some()
                {
                    return None;
                }
            }
            let mut seen = std::collections::BTreeSet::new();
            let mut out = Vec::new();
            for s in lv {
                let sig = signature(&s.labels, matching);
                let Some(b) = right.get(&sig) else {
                    continue;
                };
                if !seen.insert(sig.clone()) {
                    return None;
                }
                let labels = match matching {
                    Some(m) if m.on => sig,
                    Some(m) => without_name(s.labels)
                        .into_iter()
                        .filter(|(k, _)| !m.labels.contains(k))
                        .collect(),
                    None => without_name(s.labels),
                };
                out.push(Sample {
                    labels,
                    value: op(s.value, *b),
                });
            }
            Some(Value::Vector(out))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::super::counters::RequestLabels;
    use super::super::promql::parse;
    use super::*;

    fn counters() -> Counters {
        let c = Counters::default();
        let rec = |pod: &str, code: u16, times: std::ops::Range<u32>| {
            for i in times {
                c.record_at(
                    RequestLabels {
                        namespace: "default".into(),
                        service: "web".into(),
                        pod: pod.into(),
                        image: format!("img:{}", if pod.contains("canary") { 2 } else { 1 }),
                        code,
                    },
                    1000.0 + f64::from(i) / 10.0,
                );
            }
        };
        rec("web-stable", 200, 0..80);
        rec("web-canary", 200, 0..15);
        rec("web-canary", 500, 0..5);
        c
    }

    fn run(q: &str, t: f64) -> Option<Value> {
        eval(&parse(q).expect("parses"), &counters(), t)
    }

    fn vector(q: &str, t: f64) -> Vec<(Labels, f64)> {
        match run(q, t) {
            Some(Value::Vector(v)) => v.into_iter().map(|s| (s.labels, s.value)).collect(),
            other => panic!("{q}: {other:?}"),
        }
    }

    #[test]
    fn rates_sums_and_ratios() {
        let t = 1010.0;
        let total = vector("sum(increase(kubesim_http_requests_total[1m]))", t);
        assert_eq!(total, vec![(Labels::new(), 100.0)]);
        let rate = vector(
            "sum(rate(kubesim_http_requests_total{service=\"web\"}[50s]))",
            t,
        );
        assert_eq!(rate, vec![(Labels::new(), 2.0)]);
        let ratio = vector(
            "sum(rate(kubesim_http_requests_total{code=~\"5..\"}[1m])) / sum(rate(kubesim_http_requests_total[1m]))",
            t,
        );
        assert_eq!(ratio, vec![(Labels::new(), 0.05)]);
        let by_pod = vector(
            "sum by (pod) (increase(kubesim_http_requests_total{code!~\"5..\"}[1m]))",
            t,
        );
        assert_eq!(by_pod.len(), 2);
        assert_eq!(
            by_pod[0].0.get("pod").map(String::as_str),
            Some("web-canary")
        );
        assert!((by_pod[0].1 - 15.0).abs() < 1e-9);
        let not_canary = vector(
            "sum(increase(kubesim_http_requests_total{pod!=\"web-canary\"}[1m]))",
            t,
        );
        assert_eq!(not_canary, vec![(Labels::new(), 80.0)]);
        // A window that ends before the traffic has none of it, yet the series exist.
        let later = vector("sum(increase(kubesim_http_requests_total[1s]))", 5000.0);
        assert_eq!(later, vec![(Labels::new(), 0.0)]);
        // Only part of the traffic lies in the window [1004, 1005].
        let part = vector(
            "sum(increase(kubesim_http_requests_total{pod=\"web-stable\"}[1s]))",
            1005.0,
        );
        assert_eq!(part, vec![(Labels::new(), 10.0)]);
    }

    #[test]
    fn no_data_is_no_number() {
        assert_eq!(
            vector(
                "sum(rate(kubesim_http_requests_total{service=\"other\"}[1m]))",
                1010.0
            ),
            vec![]
        );
        assert_eq!(vector("up", 1010.0), vec![]);
        assert_eq!(
            vector("sum(rate(kubesim_http_requests_total[1m]))", 10.0),
            vec![]
        );
        assert_eq!(run("histogram_quantile(0.9, x)", 1010.0), None);
        assert_eq!(run("kubesim_http_requests_total > 1", 1010.0), None);
        assert_eq!(run("1 + 2 * 3", 0.0), Some(Value::Scalar(7.0)));
        let raw = vector("kubesim_http_requests_total{code=\"500\"}", 1010.0);
        assert_eq!(raw.len(), 1);
        assert_eq!(
            raw[0].0.get("__name__").map(String::as_str),
            Some(REQUESTS_TOTAL)
        );
        assert!((raw[0].1 - 5.0).abs() < 1e-9);
    }
}
