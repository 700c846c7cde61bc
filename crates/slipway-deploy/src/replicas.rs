//! Replica and traffic math: surge and unavailability budgets, Argo Rollouts' basic canary approximation,
//! and the replica counts of traffic-routed canaries.
//!
//! Everything here is pure arithmetic on small integers. The rounding rules are those of the Kubernetes
//! Deployment controller (budgets) and of Argo Rollouts (canaries), so that a plan slipway prints is the one
//! those controllers would follow.
//!
//! ```
//! use slipway_deploy::replicas::{basic_canary, Budget, IntOrPercent, Weight};
//!
//! // 10 pods, 25% surge: Argo Rollouts runs 3 canary pods beside 8 stable ones for a 24% weight.
//! let budget = Budget::resolve(&"25%".parse()?, &IntOrPercent::Int(0), 10);
//! assert_eq!(budget.max_surge, 3);
//! let split = basic_canary(10, Weight::new(24)?, budget.max_surge);
//! assert_eq!((split.canary, split.stable), (3, 8));
//! Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Errors of the replica math's inputs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A value that is neither a non-negative integer nor a percentage such as `25%`.
    #[error("invalid value {value:?}: expected a non-negative integer or a percentage such as 25%")]
    InvalidIntOrPercent {
        /// The value as given.
        value: String,
    },
    /// A traffic weight outside `0..=100`.
    #[error("weight {weight} is outside 0..=100")]
    WeightOutOfRange {
        /// The weight as given.
        weight: i64,
    },
}

/// `pub type Result` of this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A Kubernetes `IntOrString` as `maxSurge`/`maxUnavailable` take it: a count of pods or a percentage of the
/// desired replicas.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum IntOrPercent {
    /// An absolute number of pods.
    Int(u32),
    /// A percentage of the desired replicas (may exceed 100 for a surge).
    Percent(u32),
}

impl IntOrPercent {
    /// Kubernetes' `GetScaledValueFromIntOrPercent`: the value for `total` replicas, a percentage rounded up
    /// (`round_up`, as for `maxSurge`) or down (as for `maxUnavailable`).
    #[must_use]
    pub fn scaled(&self, total: u32, round_up: bool) -> u32 {
        match *self {
            IntOrPercent::Int(n) => n,
            IntOrPercent::Percent(p) => {
                let product = u64::from(p) * u64::from(total);
                let scaled = if round_up {
                    product.div_ceil(100)
                } else {
                    product / 100
                };
                u32::try_from(scaled).unwrap_or(u32::MAX)
            }
        }
    }

    /// Whether the value is zero (`0` or `0%`), as Argo Rollouts' validation reads it.
    #[must_use]
    pub fn is_zero(&self) -> bool {
        matches!(*self, IntOrPercent::Int(0) | IntOrPercent::Percent(0))
    }
}

impl FromStr for IntOrPercent {
    type Err = Error;

    /// Parses `3` or `25%` (digits only: no sign, no spaces, no fraction), as Kubernetes'
    /// `IsValidPercent` and integer fields accept them.
    fn from_str(s: &str) -> Result<Self> {
        let invalid = || Error::InvalidIntOrPercent {
            value: s.to_owned(),
        };
        let (digits, percent) = match s.strip_suffix('%') {
            Some(d) => (d, true),
            None => (s, false),
        };
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid());
        }
        let n: u32 = digits.parse().map_err(|_| invalid())?;
        Ok(if percent {
            IntOrPercent::Percent(n)
        } else {
            IntOrPercent::Int(n)
        })
    }
}

impl fmt::Display for IntOrPercent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IntOrPercent::Int(n) => write!(f, "{n}"),
            IntOrPercent::Percent(p) => write!(f, "{p}%"),
        }
    }
}

impl Serialize for IntOrPercent {
    fn serialize<S: serde::Serializer>(
        &self,
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        match self {
            IntOrPercent::Int(n) => serializer.serialize_u32(*n),
            IntOrPercent::Percent(_) => serializer.collect_str(self),
        }
    }
}

impl<'de> Deserialize<'de> for IntOrPercent {
    fn deserialize<D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> std::result::Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Int(i64),
            Str(String),
        }
        match Raw::deserialize(deserializer)? {
            Raw::Int(n) => u32::try_from(n).map(IntOrPercent::Int).map_err(|_| {
                serde::de::Error::custom(Error::InvalidIntOrPercent {
                    value: n.to_string(),
                })
            }),
            Raw::Str(s) => s.parse().map_err(serde::de::Error::custom),
        }
    }
}

/// The surge and unavailability budgets for a number of replicas, resolved as the Deployment controller's
/// `ResolveFenceposts` does: the surge rounds up, the unavailability down, and when both come to zero
/// one pod may be unavailable (so that a rollout can always progress).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Budget {
    /// Pods allowed above the desired replicas.
    pub max_surge: u32,
    /// Pods allowed to be unavailable below the desired replicas.
    pub max_unavailable: u32,
}

impl Budget {
    /// Resolves `max_surge` and `max_unavailable` for `replicas` desired pods.
    #[must_use]
    pub fn resolve(
        max_surge: &IntOrPercent,
        max_unavailable: &IntOrPercent,
        replicas: u32,
    ) -> Budget {
        let surge = max_surge.scaled(replicas, true);
        let mut unavailable = max_unavailable.scaled(replicas, false);
        if surge == 0 && unavailable == 0 {
            unavailable = 1;
        }
        Budget {
            max_surge: surge,
            max_unavailable: unavailable,
        }
    }
}

/// A traffic weight in percent, `0..=100`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize)]
#[serde(transparent)]
pub struct Weight(u8);

impl Weight {
    /// No traffic.
    pub const ZERO: Weight = Weight(0);
    /// All traffic.
    pub const FULL: Weight = Weight(100);

    /// A weight, refused outside `0..=100`.
    ///
    /// # Errors
    /// [`Error::WeightOutOfRange`].
    pub fn new(weight: i64) -> Result<Weight> {
        u8::try_from(weight)
            .ok()
            .filter(|w| *w <= 100)
            .map(Weight)
            .ok_or(Error::WeightOutOfRange { weight })
    }

    /// The weight in percent.
    #[must_use]
    pub fn get(self) -> u32 {
        u32::from(self.0)
    }

    /// The rest of the traffic (`100 - self`).
    #[must_use]
    pub fn complement(self) -> Weight {
        Weight(100 - self.0)
    }
}

impl fmt::Display for Weight {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl<'de> Deserialize<'de> for Weight {
    fn deserialize<D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> std::result::Result<Self, D::Error> {
        Weight::new(i64::deserialize(deserializer)?).map_err(serde::de::Error::custom)
    }
}

/// Replica counts of the canary and the stable workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Split {
    /// Pods of the new version.
    pub canary: u32,
    /// Pods of the stable version.
    pub stable: u32,
}

impl Split {
    /// A split of `canary` and `stable` pods.
    #[must_use]
    pub fn new(canary: u32, stable: u32) -> Split {
        Split { canary, stable }
    }

    /// The share of pods (and so of traffic without a router) the canary gets, in percent.
    #[must_use]
    pub fn canary_share(&self) -> f64 {
        let total = self.canary + self.stable;
        if total == 0 {
            0.0
        } else {
            f64::from(self.canary) * 100.0 / f64::from(total)
        }
    }
}

/// The canary/stable replica counts Argo Rollouts' basic canary (no traffic router) aims for: the weight is
/// approximated by the ratio of pods.
///
/// Candidates are the ceiling and the floor of `replicas * weight / 100` over `replicas` pods in all, and,
/// when `max_surge > 0`, over `replicas + 1`; the candidate whose share is closest to the weight wins, the
/// ceiling when ceiling and floor are equally close, the earlier candidate on any other tie. A canary (or a
/// stable) of zero pods is only chosen at weight 0 or 100, or for a single replica without surge.
/// This is `approximateWeightedCanaryStableReplicaCounts` in Argo Rollouts' `utils/replicaset/canary.go`,
/// including its floating-point comparisons, so the results agree to the pod — with one deliberate
/// exception: where Argo finds no candidate at all (no surge, N dividing 50, weight `100 - 50/N`, such as 5
/// replicas at 90%) it runs 0 canary pods; slipway runs the floor (4 canary, 1 stable).
#[must_use]
pub fn basic_canary(replicas: u32, weight: Weight, max_surge: u32) -> Split {
    if replicas == 0 {
        return Split::new(0, 0);
    }
    let w = weight.get();
    let product = u64::from(replicas) * u64::from(w);
    // Both fit in u32: product / 100 <= replicas.
    let ceil = u32::try_from(product.div_ceil(100)).unwrap_or(replicas);
    let floor = u32::try_from(product / 100).unwrap_or(replicas);
    let zero_allowed = w == 0 || w == 100 || (replicas == 1 && max_surge == 0);

    let mut candidates: Vec<(u32, u32)> = Vec::with_capacity(4);
    if ceil < replicas || zero_allowed {
        candidates.push((ceil, replicas));
    }
    if !floor_ceiling_tied(w, replicas) && (floor != 0 || zero_allowed) {
        candidates.push((floor, replicas));
    }
    if max_surge > 0 {
        candidates.push((ceil, replicas + 1));
        if !floor_ceiling_tied(w, replicas + 1) && (floor != 0 || zero_allowed) {
            candidates.push((floor, replicas + 1));
        }
    }
    let mut best: Option<((u32, u32), f64)> = None;
    for candidate in candidates {
        let delta = weight_delta(w, candidate.0, candidate.1);
        if best.is_none_or(|(_, best_delta)| delta < best_delta) {
            best = Some((candidate, delta));
        }
    }
    match best {
        Some(((canary, total), _)) => Split::new(canary, total - canary),
        // No candidate: without surge, the ceiling would empty the stable and the floor ties with it (N
        // divides 50 and weight = 100 - 50/N, e.g. 5 replicas at 90%). Argo returns 0 canary pods here,
        // breaking its own "never zero between 1 and 99%" rule; slipway takes the floor (4 of 5), the only
        // split that keeps both versions running.
        None => Split::new(floor, replicas - floor),
    }
}

/// Whether `total * weight / 100` lies exactly halfway between two integers (Argo computes this in floating
/// point; so do we, to agree with it).
// An exact comparison on purpose: Argo's `frac == 0.5` decides which candidates exist.
#[allow(clippy::float_cmp)]
fn floor_ceiling_tied(weight: u32, total: u32) -> bool {
    let x = f64::from(total) * (f64::from(weight) / 100.0);
    x - x.trunc() == 0.5
}

/// How far `canary` of `total` pods is from `weight`, in percentage points.
fn weight_delta(weight: u32, canary: u32, total: u32) -> f64 {
    let actual = f64::from(canary * 100) / f64::from(total);
    (actual - f64::from(weight)).abs()
}

/// Pods for a share of traffic behind a router: `ceil(replicas * weight / 100)` (Argo Rollouts'
/// `trafficWeightToReplicas`).
#[must_use]
pub fn routed_replicas(replicas: u32, weight: Weight) -> u32 {
    let scaled = (u64::from(replicas) * u64::from(weight.get())).div_ceil(100);
    u32::try_from(scaled).unwrap_or(replicas)
}

/// How a `setCanaryScale` step sizes the canary (only with a traffic router, as Argo Rollouts requires).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum CanaryScale {
    /// Size the canary from the traffic weight again (`matchTrafficWeight: true`).
    MatchTrafficWeight,
    /// A fixed number of canary pods, whatever the weight.
    Replicas(u32),
    /// Canary pods for this share of the replicas, independent of the traffic weight.
    Weight(Weight),
}

/// The canary/stable replica counts of a traffic-routed canary, following Argo Rollouts'
/// `CalculateReplicaCountsForTrafficRoutedCanary` for a rollout that is progressing (not aborting).
///
/// - The canary gets `scale`'s fixed replicas, or [`routed_replicas`] of `scale`'s weight, or (no scale or
///   `MatchTrafficWeight`) of the traffic `weight`.
/// - The stable keeps all `replicas` unless `dynamic_stable_scale`: then it gets the pods for the stable
///   share of traffic — the larger of the desired share and `current_stable_weight` (what the router sends
///   it now), so that the stable never shrinks before its traffic has moved. With a fixed `Replicas` scale
///   the desired stable share is 100%, as in Argo.
#[must_use]
pub fn routed_canary(
    replicas: u32,
    weight: Weight,
    scale: Option<CanaryScale>,
    dynamic_stable_scale: bool,
    current_stable_weight: Option<Weight>,
) -> Split {
    let (canary, desired_weight) = match scale {
        Some(CanaryScale::Replicas(n)) => (n, Weight::ZERO),
        Some(CanaryScale::Weight(w)) => (routed_replicas(replicas, w), w),
        Some(CanaryScale::MatchTrafficWeight) | None => (routed_replicas(replicas, weight), weight),
    };
    if !dynamic_stable_scale {
        return Split::new(canary, replicas);
    }
    let mut stable = routed_replicas(replicas, desired_weight.complement());
    if let Some(current) = current_stable_weight {
        stable = stable.max(routed_replicas(replicas, current));
    }
    Split::new(canary, stable)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn int_or_percent_parses_as_kubernetes_does() {
        assert_eq!("3".parse(), Ok(IntOrPercent::Int(3)));
        assert_eq!("25%".parse(), Ok(IntOrPercent::Percent(25)));
        for bad in [
            "",
            "%",
            "-1",
            "-5%",
            "1.5",
            "25 %",
            " 3",
            "x%",
            "+3",
            "99999999999",
        ] {
            assert_eq!(
                bad.parse::<IntOrPercent>(),
                Err(Error::InvalidIntOrPercent {
                    value: bad.to_owned()
                }),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn percentages_round_up_for_surge_and_down_for_unavailable() {
        assert_eq!(IntOrPercent::Percent(25).scaled(10, true), 3);
        assert_eq!(IntOrPercent::Percent(25).scaled(10, false), 2);
        assert_eq!(IntOrPercent::Percent(25).scaled(4, true), 1);
        let b = Budget::resolve(&IntOrPercent::Percent(10), &IntOrPercent::Percent(10), 3);
        assert_eq!((b.max_surge, b.max_unavailable), (1, 0));
        // Both zero: one pod may be unavailable.
        let b = Budget::resolve(&IntOrPercent::Int(0), &IntOrPercent::Percent(10), 3);
        assert_eq!((b.max_surge, b.max_unavailable), (0, 1));
    }

    #[test]
    fn weights_outside_0_to_100_are_refused() {
        assert_eq!(
            Weight::new(101),
            Err(Error::WeightOutOfRange { weight: 101 })
        );
        assert_eq!(Weight::new(-1), Err(Error::WeightOutOfRange { weight: -1 }));
        assert_eq!(Weight::new(100).map(Weight::get), Ok(100));
    }
}
