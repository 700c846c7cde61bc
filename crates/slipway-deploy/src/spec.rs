//! Rollout specs: the strategy a rollout follows, from `slipway deploy` flags or from Argo Rollouts'
//! `strategy:` block.
//!
//! Two sources give the same [`RolloutSpec`]:
//! - [`RolloutSpec::from_flags`]: a strategy kind and the `--steps` string
//!   (`setWeight=20,pause=30s,analysis=NAME,setWeight=50,pause,setCanaryScale=replicas:2`);
//! - [`RolloutSpec::from_argo`]: Argo Rollouts' strategy as YAML or JSON — a `strategy:` block, its content
//!   (`canary:` or `blueGreen:`), or a whole `Rollout` object (its `spec.strategy` is taken).
//!
//! Both are validated as Argo Rollouts validates a Rollout: weights in `0..=100` (a weight may go down
//! again, as Argo allows), one kind per step, durations not negative, `setCanaryScale` and
//! `dynamicStableScale` only with a traffic router, `maxSurge` and `maxUnavailable` not both zero, distinct
//! services. Step kinds slipway does not run (`experiment`, `setHeaderRoute`, `setMirrorRoute`, or any
//! unknown key) are refused with their index rather than skipped.
//!
//! ```
//! use slipway_deploy::spec::{RolloutSpec, Step, Strategy, StrategyKind, TrafficRouting};
//!
//! let spec = RolloutSpec::from_flags(
//!     StrategyKind::Canary,
//!     Some("setWeight=20,pause=30s,setWeight=50,pause"),
//!     TrafficRouting::None,
//! )?;
//! let Strategy::Canary(canary) = &spec.strategy else { unreachable!() };
//! assert_eq!(canary.steps.len(), 4);
//! assert!(matches!(canary.steps[3], Step::Pause { duration: None }));
//!
//! let argo = RolloutSpec::from_argo("strategy:\n  canary:\n    steps:\n    - setWeight: 20\n    - pause: {duration: 1h}\n")?;
//! let Strategy::Canary(canary) = &argo.strategy else { unreachable!() };
//! assert_eq!(canary.steps[1], Step::Pause { duration: Some(std::time::Duration::from_secs(3600)) });
//! Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::time::Duration;

use serde::de::{self, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Serialize};

use crate::replicas::{self, CanaryScale, IntOrPercent, Weight};

/// Errors of reading and validating a rollout spec.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An item of `--steps` whose kind slipway does not know.
    #[error(
        "--steps item {index} ({item:?}): unknown step kind {kind:?} (expected setWeight, pause, analysis or setCanaryScale)"
    )]
    UnknownFlagStep {
        /// 0-based index of the item.
        index: usize,
        /// The item as given.
        item: String,
        /// Its kind (the part before `=`).
        kind: String,
    },
    /// An item of `--steps` whose value is missing or malformed.
    #[error("--steps item {index} ({item:?}): {expected}")]
    InvalidFlagStep {
        /// 0-based index of the item.
        index: usize,
        /// The item as given.
        item: String,
        /// What the value should look like.
        expected: &'static str,
    },
    /// `--steps` given for a strategy that has no steps.
    #[error("--steps is only for the canary strategy, not {strategy}")]
    StepsWithoutCanary {
        /// The strategy asked for.
        strategy: StrategyKind,
    },
    /// YAML or JSON that does not parse, or a value of the wrong type or range.
    #[error("line {line}, column {column}: {message}")]
    Syntax {
        /// 1-based line (0 when the parser did not know it).
        line: u64,
        /// 1-based column (0 when unknown).
        column: u64,
        /// The parser's description.
        message: String,
    },
    /// A document with neither a canary nor a blue-green strategy.
    #[error("{path}: no canary or blueGreen strategy")]
    NoStrategy {
        /// Where the strategy was looked for.
        path: String,
    },
    /// Both canary and blue-green given.
    #[error("{path}: canary and blueGreen cannot both be given")]
    MultipleStrategies {
        /// The strategy's field path.
        path: String,
    },
    /// A step with several kinds (e.g. `setWeight` and `pause`).
    #[error(
        "{path}: a step has exactly one of setWeight, pause, analysis, setCanaryScale; found {kinds:?}"
    )]
    MultipleStepKinds {
        /// The step's field path.
        path: String,
        /// The kinds found.
        kinds: Vec<String>,
    },
    /// A step with no kind at all.
    #[error("{path}: empty step (expected one of setWeight, pause, analysis, setCanaryScale)")]
    EmptyStep {
        /// The step's field path.
        path: String,
    },
    /// A step kind that Argo Rollouts knows but slipway does not run, or an unknown key.
    #[error(
        "{path}: step kind {kind:?} is not supported (slipway runs setWeight, pause, analysis, setCanaryScale)"
    )]
    UnsupportedStep {
        /// The step's field path.
        path: String,
        /// The key found.
        kind: String,
    },
    /// A duration that is not a number of seconds nor a Go duration (`30s`, `1m30s`, `1h`), or negative.
    #[error(
        "{path}: invalid duration {value:?} (expected seconds or a Go duration such as 30s, 1m30s, 1h)"
    )]
    InvalidDuration {
        /// The field path (or `--steps item N`).
        path: String,
        /// The value as given.
        value: String,
    },
    /// A `maxSurge`/`maxUnavailable` value that is not an integer or percentage.
    #[error("{path}: invalid value")]
    InvalidIntOrPercent {
        /// The field path or flag.
        path: String,
        /// What is wrong with it.
        #[source]
        source: replicas::Error,
    },
    /// `maxSurge` and `maxUnavailable` both zero: no rollout could progress.
    #[error("{path}: maxSurge and maxUnavailable cannot both be zero")]
    SurgeAndUnavailableZero {
        /// The field path or flag.
        path: String,
    },
    /// `maxUnavailable` above 100%.
    #[error("{path}: maxUnavailable {value} is above 100%")]
    UnavailableOver100 {
        /// The field path or flag.
        path: String,
        /// The value.
        value: IntOrPercent,
    },
    /// A feature that needs a traffic router (`setCanaryScale`, `dynamicStableScale`) without one.
    #[error("{path}: {feature} requires a traffic router (istio or gateway-api)")]
    RequiresTrafficRouter {
        /// The field path.
        path: String,
        /// The feature.
        feature: &'static str,
    },
    /// A traffic router Argo Rollouts knows but slipway does not drive.
    #[error(
        "{path}: traffic router {router:?} is not supported (slipway drives istio and the Gateway API)"
    )]
    UnsupportedTrafficRouter {
        /// The field path.
        path: String,
        /// The router's key.
        router: String,
    },
    /// The same Service for both roles (active/preview, stable/canary).
    #[error(
        "{path}: the same service {service:?} is used for both roles; two different services are required"
    )]
    SameServices {
        /// The field path.
        path: String,
        /// The service name.
        service: String,
    },
    /// A `--strategy` value that is not rolling, blue-green or canary.
    #[error("unknown strategy {value:?} (expected rolling, blue-green or canary)")]
    UnknownStrategy {
        /// The value as given.
        value: String,
    },
    /// A `--traffic-router` value that is not none, istio or gateway-api.
    #[error("unknown traffic router {value:?} (expected none, istio or gateway-api)")]
    UnknownTrafficRouter {
        /// The value as given.
        value: String,
    },
}

/// `pub type Result` of this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The strategy kinds, as `--strategy` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum StrategyKind {
    /// The Deployment's own `RollingUpdate`.
    Rolling,
    /// Active and preview Services, switched at promotion.
    BlueGreen,
    /// Steps of weights, pauses and analyses.
    Canary,
}

impl std::str::FromStr for StrategyKind {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "rolling" => Ok(StrategyKind::Rolling),
            "blue-green" => Ok(StrategyKind::BlueGreen),
            "canary" => Ok(StrategyKind::Canary),
            _ => Err(Error::UnknownStrategy {
                value: s.to_owned(),
            }),
        }
    }
}

impl fmt::Display for StrategyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StrategyKind::Rolling => "rolling",
            StrategyKind::BlueGreen => "blue-green",
            StrategyKind::Canary => "canary",
        })
    }
}

/// A rollout's strategy and its surge/unavailability budget.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct RolloutSpec {
    /// What happens at each step.
    pub strategy: Strategy,
    /// Pods allowed above the desired replicas (default `25%`, as Kubernetes and Argo Rollouts).
    pub max_surge: IntOrPercent,
    /// Pods allowed to be unavailable (default `25%`).
    pub max_unavailable: IntOrPercent,
}

/// The strategy of a rollout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
#[non_exhaustive]
pub enum Strategy {
    /// The Deployment's `RollingUpdate`.
    Rolling,
    /// Blue-green.
    BlueGreen(BlueGreen),
    /// Canary.
    Canary(Canary),
}

impl Strategy {
    /// The kind of this strategy.
    #[must_use]
    pub fn kind(&self) -> StrategyKind {
        match self {
            Strategy::Rolling => StrategyKind::Rolling,
            Strategy::BlueGreen(_) => StrategyKind::BlueGreen,
            Strategy::Canary(_) => StrategyKind::Canary,
        }
    }
}

/// A canary strategy.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Canary {
    /// The steps, in order (none: straight to 100%, as Argo Rollouts does).
    pub steps: Vec<Step>,
    /// How traffic is split.
    pub traffic_routing: TrafficRouting,
    /// Scale the stable down as its traffic share falls (routed canaries only).
    pub dynamic_stable_scale: bool,
    /// The stable Service's name, if given (`stableService`).
    pub stable_service: Option<String>,
    /// The canary Service's name, if given (`canaryService`).
    pub canary_service: Option<String>,
}

/// One canary step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum Step {
    /// Send this share of traffic to the canary.
    SetWeight(Weight),
    /// Wait: for a duration (whole seconds, as Argo counts them), or until promoted when `None`.
    Pause {
        /// How long; `None` waits for `promote`.
        duration: Option<Duration>,
    },
    /// Run an analysis and wait for its verdict.
    Analysis(Analysis),
    /// Size the canary independently of its traffic weight.
    SetCanaryScale(CanaryScale),
}

/// An analysis: templates to run and the arguments they get.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Analysis {
    /// The AnalysisTemplate names.
    pub templates: Vec<String>,
    /// Arguments: a name and a literal value (`None` for `valueFrom` arguments, resolved at run time).
    pub args: Vec<AnalysisArg>,
}

impl Analysis {
    /// An analysis of these templates, without arguments.
    #[must_use]
    pub fn of_templates<I, S>(templates: I) -> Analysis
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Analysis {
            templates: templates.into_iter().map(Into::into).collect(),
            args: Vec::new(),
        }
    }
}

/// One analysis argument.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AnalysisArg {
    /// Its name.
    pub name: String,
    /// Its literal value, if it has one.
    pub value: Option<String>,
}

/// A blue-green strategy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct BlueGreen {
    /// The active Service's name, if given (slipway's default: the workload's name).
    pub active_service: Option<String>,
    /// The preview Service's name, if given (default `NAME-preview`).
    pub preview_service: Option<String>,
    /// Promote without waiting for `promote` (default true, as Argo Rollouts).
    pub auto_promotion_enabled: bool,
    /// Seconds to wait before promoting automatically.
    pub auto_promotion_seconds: Option<u32>,
    /// Seconds the old version stays scaled up after the switch (default 30, as Argo Rollouts).
    pub scale_down_delay_seconds: u32,
    /// Replicas of the preview before promotion (default: all).
    pub preview_replica_count: Option<u32>,
    /// Analysis before the switch.
    pub pre_promotion_analysis: Option<Analysis>,
    /// Analysis after the switch.
    pub post_promotion_analysis: Option<Analysis>,
}

impl Default for BlueGreen {
    fn default() -> Self {
        BlueGreen {
            active_service: None,
            preview_service: None,
            auto_promotion_enabled: true,
            auto_promotion_seconds: None,
            scale_down_delay_seconds: 30,
            preview_replica_count: None,
            pre_promotion_analysis: None,
            post_promotion_analysis: None,
        }
    }
}

/// How a canary's traffic is split.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "router")]
#[non_exhaustive]
pub enum TrafficRouting {
    /// No router: the weight is approximated by replica counts.
    #[default]
    None,
    /// An Istio VirtualService.
    Istio {
        /// Its name, if given (slipway's default: the workload's name).
        virtual_service: Option<String>,
        /// A `DestinationRule` with stable/canary subsets, if given.
        destination_rule: Option<String>,
    },
    /// A Gateway API HTTPRoute.
    GatewayApi {
        /// Its name, if given (slipway's default: the workload's name).
        http_route: Option<String>,
    },
}

impl TrafficRouting {
    /// Whether a router splits the traffic (anything but [`TrafficRouting::None`]).
    #[must_use]
    pub fn is_routed(&self) -> bool {
        !matches!(self, TrafficRouting::None)
    }

    /// Parses `--traffic-router` (`none`, `istio`, `gateway-api`).
    ///
    /// # Errors
    /// [`Error::UnknownTrafficRouter`].
    pub fn from_flag(value: &str) -> Result<TrafficRouting> {
        match value {
            "none" => Ok(TrafficRouting::None),
            "istio" => Ok(TrafficRouting::Istio {
                virtual_service: None,
                destination_rule: None,
            }),
            "gateway-api" => Ok(TrafficRouting::GatewayApi { http_route: None }),
            _ => Err(Error::UnknownTrafficRouter {
                value: value.to_owned(),
            }),
        }
    }
}

const DEFAULT_BUDGET: IntOrPercent = IntOrPercent::Percent(25);

impl RolloutSpec {
    /// The rolling strategy with the default 25%/25% budget.
    #[must_use]
    pub fn rolling() -> Self {
        RolloutSpec {
            strategy: Strategy::Rolling,
            max_surge: DEFAULT_BUDGET,
            max_unavailable: DEFAULT_BUDGET,
        }
    }

    /// A spec from `--strategy`, `--steps` and `--traffic-router`, with the default 25%/25% budget (set
    /// others with [`RolloutSpec::with_budget`]).
    ///
    /// # Errors
    /// A malformed `--steps` item (with its index), `--steps` for another strategy than canary, or what
    /// [`RolloutSpec::validate`] refuses.
    pub fn from_flags(
        kind: StrategyKind,
        steps: Option<&str>,
        traffic_routing: TrafficRouting,
    ) -> Result<Self> {
        let strategy = match kind {
            StrategyKind::Canary => Strategy::Canary(Canary {
                steps: steps.map(parse_steps).transpose()?.unwrap_or_default(),
                traffic_routing,
                ..Canary::default()
            }),
            other if steps.is_some() => return Err(Error::StepsWithoutCanary { strategy: other }),
            StrategyKind::Rolling => Strategy::Rolling,
            StrategyKind::BlueGreen => Strategy::BlueGreen(BlueGreen::default()),
        };
        let spec = RolloutSpec {
            strategy,
            max_surge: DEFAULT_BUDGET,
            max_unavailable: DEFAULT_BUDGET,
        };
        spec.validate("--steps")?;
        Ok(spec)
    }

    /// The same spec with another surge/unavailability budget (`None` keeps the current value), validated.
    ///
    /// # Errors
    /// [`Error::SurgeAndUnavailableZero`], [`Error::UnavailableOver100`].
    pub fn with_budget(
        mut self,
        max_surge: Option<IntOrPercent>,
        max_unavailable: Option<IntOrPercent>,
    ) -> Result<Self> {
        if let Some(v) = max_surge {
            self.max_surge = v;
        }
        if let Some(v) = max_unavailable {
            self.max_unavailable = v;
        }
        check_budget(
            self.max_surge,
            self.max_unavailable,
            "--max-surge/--max-unavailable",
        )?;
        Ok(self)
    }

    /// A spec from Argo Rollouts' strategy, YAML or JSON: `strategy: {canary: …}`, `{canary: …}` /
    /// `{blueGreen: …}`, or a whole Rollout (`spec.strategy`). Fields slipway does not use (e.g.
    /// `antiAffinity`, `canaryMetadata`) are ignored; step kinds it does not run are refused.
    ///
    /// The text is held in memory whole; callers bound its size (the CLI reads at most 1 MiB).
    ///
    /// # Errors
    /// [`Error::Syntax`] with the line and column of a parse or type error, or a validation error naming the
    /// field path (e.g. `spec.strategy.canary.steps[2]`).
    pub fn from_argo(text: &str) -> Result<Self> {
        let doc: RawDocument = parse_document(text)?;
        let (strategy, path) = if let Some(spec) = doc.spec {
            (spec.strategy.unwrap_or_default(), "spec.strategy")
        } else if let Some(strategy) = doc.strategy {
            (strategy, "strategy")
        } else {
            (
                RawStrategy {
                    canary: doc.canary,
                    blue_green: doc.blue_green,
                },
                "",
            )
        };
        strategy.into_spec(path)
    }

    /// Checks the spec as Argo Rollouts validates a Rollout; `path` prefixes the field paths in errors.
    ///
    /// # Errors
    /// The first problem found.
    pub fn validate(&self, path: &str) -> Result<()> {
        check_budget(
            self.max_surge,
            self.max_unavailable,
            &join(path, "maxSurge"),
        )?;
        match &self.strategy {
            Strategy::Rolling => Ok(()),
            Strategy::BlueGreen(bg) => match (&bg.active_service, &bg.preview_service) {
                (Some(a), Some(p)) if a == p => Err(Error::SameServices {
                    path: join(path, "activeService"),
                    service: a.clone(),
                }),
                _ => Ok(()),
            },
            Strategy::Canary(canary) => {
                if let (Some(s), Some(c)) = (&canary.stable_service, &canary.canary_service)
                    && s == c
                {
                    return Err(Error::SameServices {
                        path: join(path, "stableService"),
                        service: s.clone(),
                    });
                }
                let routed = canary.traffic_routing.is_routed();
                if canary.dynamic_stable_scale && !routed {
                    return Err(Error::RequiresTrafficRouter {
                        path: join(path, "dynamicStableScale"),
                        feature: "dynamicStableScale",
                    });
                }
                for (i, step) in canary.steps.iter().enumerate() {
                    if matches!(step, Step::SetCanaryScale(_)) && !routed {
                        return Err(Error::RequiresTrafficRouter {
                            path: if path.starts_with("--") {
                                format!("--steps item {i}")
                            } else {
                                format!("{}[{i}].setCanaryScale", join(path, "steps"))
                            },
                            feature: "setCanaryScale",
                        });
                    }
                }
                Ok(())
            }
        }
    }
}

fn join(path: &str, field: &str) -> String {
    if path.is_empty() || path.starts_with("--") {
        field.to_owned()
    } else {
        format!("{path}.{field}")
    }
}

fn check_budget(surge: IntOrPercent, unavailable: IntOrPercent, path: &str) -> Result<()> {
    if surge.is_zero() && unavailable.is_zero() {
        return Err(Error::SurgeAndUnavailableZero {
            path: path.to_owned(),
        });
    }
    if let IntOrPercent::Percent(p) = unavailable
        && p > 100
    {
        return Err(Error::UnavailableOver100 {
            path: path.to_owned(),
            value: unavailable,
        });
    }
    Ok(())
}

/// Parses the `--steps` string: comma-separated `setWeight=N`, `pause[=DURATION]`, `analysis=NAME`,
/// `setCanaryScale=replicas:N|weight:N|matchTrafficWeight`.
///
/// # Errors
/// [`Error::UnknownFlagStep`] or [`Error::InvalidFlagStep`] with the item's 0-based index.
pub fn parse_steps(text: &str) -> Result<Vec<Step>> {
    let mut steps = Vec::new();
    for (index, item) in text.split(',').enumerate() {
        let item = item.trim();
        let (kind, value) = match item.split_once('=') {
            Some((k, v)) => (k.trim(), Some(v.trim())),
            None => (item, None),
        };
        let invalid = |expected| Error::InvalidFlagStep {
            index,
            item: item.to_owned(),
            expected,
        };
        let step = match kind {
            "setWeight" => {
                const EXPECTED: &str = "setWeight takes a weight from 0 to 100 (setWeight=20)";
                let n: i64 = value
                    .and_then(|v| v.parse().ok())
                    .ok_or_else(|| invalid(EXPECTED))?;
                Step::SetWeight(Weight::new(n).map_err(|_| invalid(EXPECTED))?)
            }
            "pause" => match value {
                None => Step::Pause { duration: None },
                Some(v) => Step::Pause {
                    duration: Some(parse_duration(v).ok_or_else(|| Error::InvalidDuration {
                        path: format!("--steps item {index}"),
                        value: v.to_owned(),
                    })?),
                },
            },
            "analysis" => match value {
                Some(name) if !name.is_empty() => {
                    Step::Analysis(Analysis::of_templates(name.split('+')))
                }
                _ => {
                    return Err(invalid(
                        "analysis takes an AnalysisTemplate name (analysis=NAME)",
                    ));
                }
            },
            "setCanaryScale" => {
                const EXPECTED: &str =
                    "setCanaryScale takes replicas:N, weight:N (0 to 100) or matchTrafficWeight";
                let scale = match value
                    .map(|v| v.split_once(':').map_or((v, None), |(k, n)| (k, Some(n))))
                {
                    Some(("matchTrafficWeight", None)) => CanaryScale::MatchTrafficWeight,
                    Some(("replicas", Some(n))) => {
                        CanaryScale::Replicas(n.parse().map_err(|_| invalid(EXPECTED))?)
                    }
                    Some(("weight", Some(n))) => {
                        let n: i64 = n.parse().map_err(|_| invalid(EXPECTED))?;
                        CanaryScale::Weight(Weight::new(n).map_err(|_| invalid(EXPECTED))?)
                    }
                    _ => return Err(invalid(EXPECTED)),
                };
                Step::SetCanaryScale(scale)
            }
            _ => {
                return Err(Error::UnknownFlagStep {
                    index,
                    item: item.to_owned(),
                    kind: kind.to_owned(),
                });
            }
        };
        steps.push(step);
    }
    Ok(steps)
}

/// A pause's duration as Argo Rollouts reads it: whole seconds (`30`), or a Go duration (`30s`, `1m30s`,
/// `1.5h`, `500ms`) truncated to whole seconds. Negative or malformed durations are `None`.
#[must_use]
pub fn parse_duration(text: &str) -> Option<Duration> {
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse::<u64>().ok().map(Duration::from_secs);
    }
    crate::duration::go_duration(text)
        .ok()
        .map(|d| Duration::from_secs(d.as_secs()))
}

// ---- Argo Rollouts' shapes -------------------------------------------------------------------------

fn parse_document<T: for<'de> Deserialize<'de>>(text: &str) -> Result<T> {
    let trimmed = text.trim_start();
    if trimmed.starts_with('{') {
        serde_json::from_str(text).map_err(|e| Error::Syntax {
            line: e.line() as u64,
            column: e.column() as u64,
            message: strip_json_position(&e.to_string()),
        })
    } else {
        serde_saphyr::from_str(text).map_err(|e| {
            let (line, column) = e.location().map_or((0, 0), |l| (l.line(), l.column()));
            Error::Syntax {
                line,
                column,
                message: saphyr_message(&e),
            }
        })
    }
}

/// `serde_json` appends " at line L column C"; the position is in our own fields.
fn strip_json_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

/// serde-saphyr's message without its snippet and position (ours carries them).
fn saphyr_message(e: &serde_saphyr::Error) -> String {
    let rendered = e.without_snippet().to_string();
    let first = rendered.lines().next().unwrap_or_default();
    match first.rfind(" at line ") {
        Some(i) => first[..i].to_owned(),
        None => first.to_owned(),
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RawDocument {
    spec: Option<RawRolloutSpec>,
    strategy: Option<RawStrategy>,
    canary: Option<RawCanary>,
    blue_green: Option<RawBlueGreen>,
}

#[derive(Deserialize, Default)]
struct RawRolloutSpec {
    strategy: Option<RawStrategy>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RawStrategy {
    canary: Option<RawCanary>,
    blue_green: Option<RawBlueGreen>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RawCanary {
    #[serde(default)]
    steps: Vec<RawStep>,
    max_surge: Option<IntOrPercent>,
    max_unavailable: Option<IntOrPercent>,
    traffic_routing: Option<RawTrafficRouting>,
    #[serde(default)]
    dynamic_stable_scale: bool,
    stable_service: Option<String>,
    canary_service: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RawBlueGreen {
    active_service: Option<String>,
    preview_service: Option<String>,
    auto_promotion_enabled: Option<bool>,
    auto_promotion_seconds: Option<u32>,
    scale_down_delay_seconds: Option<u32>,
    preview_replica_count: Option<u32>,
    pre_promotion_analysis: Option<RawAnalysis>,
    post_promotion_analysis: Option<RawAnalysis>,
    max_unavailable: Option<IntOrPercent>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RawAnalysis {
    #[serde(default)]
    templates: Vec<RawTemplateRef>,
    #[serde(default)]
    args: Vec<RawArg>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawTemplateRef {
    template_name: String,
}

#[derive(Deserialize)]
struct RawArg {
    name: String,
    value: Option<String>,
}

impl From<RawAnalysis> for Analysis {
    fn from(raw: RawAnalysis) -> Self {
        Analysis {
            templates: raw.templates.into_iter().map(|t| t.template_name).collect(),
            args: raw
                .args
                .into_iter()
                .map(|a| AnalysisArg {
                    name: a.name,
                    value: a.value,
                })
                .collect(),
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RawPause {
    duration: Option<RawDuration>,
}

/// `duration: 30` or `duration: "30s"`.
#[derive(Deserialize)]
#[serde(untagged)]
enum RawDuration {
    Seconds(i64),
    Text(String),
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RawCanaryScale {
    replicas: Option<u32>,
    weight: Option<Weight>,
    #[serde(default)]
    match_traffic_weight: bool,
}

/// One step as written: the kinds slipway knows, and the keys of any others (in order).
#[derive(Default)]
struct RawStep {
    set_weight: Option<Weight>,
    pause: Option<RawPause>,
    analysis: Option<RawAnalysis>,
    set_canary_scale: Option<RawCanaryScale>,
    other: Vec<String>,
}

impl<'de> Deserialize<'de> for RawStep {
    fn deserialize<D: de::Deserializer<'de>>(
        deserializer: D,
    ) -> std::result::Result<Self, D::Error> {
        struct StepVisitor;
        impl<'de> Visitor<'de> for StepVisitor {
            type Value = RawStep;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a canary step (a map such as {setWeight: 20})")
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<RawStep, A::Error> {
                let mut step = RawStep::default();
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "setWeight" => step.set_weight = Some(map.next_value()?),
                        // `pause: {}` and a bare `pause:` (null) both wait for promotion.
                        "pause" => {
                            step.pause =
                                Some(map.next_value::<Option<RawPause>>()?.unwrap_or_default());
                        }
                        "analysis" => step.analysis = Some(map.next_value()?),
                        "setCanaryScale" => step.set_canary_scale = Some(map.next_value()?),
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                            step.other.push(key);
                        }
                    }
                }
                Ok(step)
            }
        }
        deserializer.deserialize_map(StepVisitor)
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RawTrafficRouting {
    istio: Option<RawIstio>,
    #[serde(default)]
    plugins: std::collections::BTreeMap<String, RawPlugin>,
    // Routers slipway does not drive (nginx, alb, smi, ...): only their names matter.
    #[serde(flatten)]
    #[allow(clippy::zero_sized_map_values)]
    other: std::collections::BTreeMap<String, IgnoredAny>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RawIstio {
    virtual_service: Option<RawNamed>,
    #[serde(default)]
    virtual_services: Vec<RawNamed>,
    destination_rule: Option<RawNamed>,
}

#[derive(Deserialize)]
struct RawNamed {
    name: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RawPlugin {
    http_route: Option<String>,
}

const GATEWAY_API_PLUGIN: &str = "argoproj-labs/gatewayAPI";

impl RawTrafficRouting {
    fn into_routing(self, path: &str) -> Result<TrafficRouting> {
        // Fields of trafficRouting that are options rather than routers.
        const NOT_ROUTERS: &[&str] = &["managedRoutes", "maxTrafficWeight"];
        if let Some(router) = self
            .other
            .keys()
            .find(|k| !NOT_ROUTERS.contains(&k.as_str()))
        {
            return Err(Error::UnsupportedTrafficRouter {
                path: format!("{path}.{router}"),
                router: router.clone(),
            });
        }
        if let Some(name) = self
            .plugins
            .keys()
            .find(|k| k.as_str() != GATEWAY_API_PLUGIN)
        {
            return Err(Error::UnsupportedTrafficRouter {
                path: format!("{path}.plugins"),
                router: name.clone(),
            });
        }
        if let Some(istio) = self.istio {
            let virtual_service = istio
                .virtual_service
                .or_else(|| istio.virtual_services.into_iter().next())
                .map(|n| n.name);
            return Ok(TrafficRouting::Istio {
                virtual_service,
                destination_rule: istio.destination_rule.map(|n| n.name),
            });
        }
        if let Some(plugin) = self.plugins.into_values().next() {
            return Ok(TrafficRouting::GatewayApi {
                http_route: plugin.http_route,
            });
        }
        Ok(TrafficRouting::None)
    }
}

impl RawStrategy {
    fn into_spec(self, path: &str) -> Result<RolloutSpec> {
        let spec = match (self.canary, self.blue_green) {
            (Some(_), Some(_)) => {
                return Err(Error::MultipleStrategies {
                    path: path.to_owned(),
                });
            }
            (None, None) => {
                return Err(Error::NoStrategy {
                    path: if path.is_empty() {
                        "document".to_owned()
                    } else {
                        path.to_owned()
                    },
                });
            }
            (Some(canary), None) => canary.into_spec(&join(path, "canary"))?,
            (None, Some(bg)) => bg.into_spec(),
        };
        let inner = join(
            path,
            match spec.strategy {
                Strategy::BlueGreen(_) => "blueGreen",
                _ => "canary",
            },
        );
        spec.validate(&inner)?;
        Ok(spec)
    }
}

impl RawCanary {
    fn into_spec(self, path: &str) -> Result<RolloutSpec> {
        let mut steps = Vec::with_capacity(self.steps.len());
        for (i, raw) in self.steps.into_iter().enumerate() {
            let step_path = format!("{path}.steps[{i}]");
            if let Some(kind) = raw.other.first() {
                return Err(Error::UnsupportedStep {
                    path: step_path,
                    kind: kind.clone(),
                });
            }
            let mut kinds = Vec::new();
            let mut step = None;
            if let Some(w) = raw.set_weight {
                kinds.push("setWeight".to_owned());
                step = Some(Step::SetWeight(w));
            }
            if let Some(p) = raw.pause {
                kinds.push("pause".to_owned());
                let duration = match p.duration {
                    None => None,
                    Some(RawDuration::Seconds(s)) => {
                        Some(Duration::from_secs(u64::try_from(s).map_err(|_| {
                            Error::InvalidDuration {
                                path: format!("{step_path}.pause.duration"),
                                value: s.to_string(),
                            }
                        })?))
                    }
                    Some(RawDuration::Text(t)) => {
                        Some(parse_duration(&t).ok_or_else(|| Error::InvalidDuration {
                            path: format!("{step_path}.pause.duration"),
                            value: t.clone(),
                        })?)
                    }
                };
                step = Some(Step::Pause { duration });
            }
            if let Some(a) = raw.analysis {
                kinds.push("analysis".to_owned());
                step = Some(Step::Analysis(a.into()));
            }
            if let Some(s) = raw.set_canary_scale {
                kinds.push("setCanaryScale".to_owned());
                // Argo's precedence: matchTrafficWeight, then replicas, then weight; an empty one follows
                // the traffic weight.
                let scale = match (s.match_traffic_weight, s.replicas, s.weight) {
                    (false, Some(n), _) => CanaryScale::Replicas(n),
                    (false, None, Some(w)) => CanaryScale::Weight(w),
                    _ => CanaryScale::MatchTrafficWeight,
                };
                step = Some(Step::SetCanaryScale(scale));
            }
            match (kinds.len(), step) {
                (1, Some(step)) => steps.push(step),
                (0, _) | (_, None) => return Err(Error::EmptyStep { path: step_path }),
                _ => {
                    return Err(Error::MultipleStepKinds {
                        path: step_path,
                        kinds,
                    });
                }
            }
        }
        let traffic_routing = match self.traffic_routing {
            Some(raw) => raw.into_routing(&format!("{path}.trafficRouting"))?,
            None => TrafficRouting::None,
        };
        Ok(RolloutSpec {
            strategy: Strategy::Canary(Canary {
                steps,
                traffic_routing,
                dynamic_stable_scale: self.dynamic_stable_scale,
                stable_service: self.stable_service,
                canary_service: self.canary_service,
            }),
            max_surge: self.max_surge.unwrap_or(DEFAULT_BUDGET),
            max_unavailable: self.max_unavailable.unwrap_or(DEFAULT_BUDGET),
        })
    }
}

impl RawBlueGreen {
    fn into_spec(self) -> RolloutSpec {
        let defaults = BlueGreen::default();
        RolloutSpec {
            strategy: Strategy::BlueGreen(BlueGreen {
                active_service: self.active_service,
                preview_service: self.preview_service,
                auto_promotion_enabled: self
                    .auto_promotion_enabled
                    .unwrap_or(defaults.auto_promotion_enabled),
                auto_promotion_seconds: self.auto_promotion_seconds,
                scale_down_delay_seconds: self
                    .scale_down_delay_seconds
                    .unwrap_or(defaults.scale_down_delay_seconds),
                preview_replica_count: self.preview_replica_count,
                pre_promotion_analysis: self.pre_promotion_analysis.map(Analysis::from),
                post_promotion_analysis: self.post_promotion_analysis.map(Analysis::from),
            }),
            // Blue-green surges a whole second ReplicaSet; only unavailability is configurable (Argo's
            // default 0 is refused by nothing since the surge is not zero).
            max_surge: IntOrPercent::Percent(100),
            max_unavailable: self.max_unavailable.unwrap_or(IntOrPercent::Int(0)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations_parse_as_time_parse_duration_does() {
        let secs = |s: &str| parse_duration(s).map(|d| d.as_secs());
        assert_eq!(secs("30s"), Some(30));
        assert_eq!(secs("1m30s"), Some(90));
        assert_eq!(secs("1h"), Some(3600));
        assert_eq!(secs("1.5h"), Some(5400));
        assert_eq!(secs("1500ms"), Some(1));
        assert_eq!(secs("45"), Some(45));
        assert_eq!(secs("0"), Some(0));
        assert_eq!(secs(".5m"), Some(30));
        for bad in [
            "",
            "s",
            "-30s",
            "30x",
            "1h-1m",
            "1..5s",
            "30 s",
            "99999999999999999999h",
        ] {
            assert_eq!(secs(bad), None, "{bad:?}");
        }
    }
}
