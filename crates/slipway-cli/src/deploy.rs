//! `slipway deploy`: rollouts over `slipway-deploy`: `plan` (the steps a rollout would take) and, in
//! `rollout.rs`, `apply`, `status`, `promote`, `abort` and `rollback`.

use std::fmt::Write as _;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;
use slipway_deploy::plan::{PlanStep, plan};
use slipway_deploy::replicas::IntOrPercent;
use slipway_deploy::spec::{RolloutSpec, StrategyKind, TrafficRouting};

use crate::CmdResult;

/// The largest `--strategy-file` read (a strategy block is a few kilobytes).
const MAX_STRATEGY_FILE: u64 = 1024 * 1024;

/// Subcommands of `slipway deploy`.
#[derive(Debug, Subcommand)]
pub(crate) enum DeployCommand {
    /// Print the steps a rollout would take: for each, the action, the canary's traffic weight and the
    /// replicas of each version. Bad input is reported naming the flag or field, with exit status 1.
    Plan(PlanArgs),
    /// Roll an image out (creating the Deployment on first use) and wait until the rollout is Healthy,
    /// Paused, Degraded or Inconclusive.
    ///
    /// Exit status: 0 Healthy, 2 Paused (waiting for `slipway deploy promote`), 3 Inconclusive (an
    /// analysis could not decide: promote or abort), 1 Degraded (aborted, analysis failed, progress
    /// deadline exceeded; traffic and replicas are back on the stable version) or an error.
    Apply(Box<crate::rollout::ApplyArgs>),
    /// Show where a rollout stands (`--json` for machines); the exit status is that of `apply`.
    Status(crate::rollout::StatusArgs),
    /// Resume a paused or inconclusive rollout and drive it on as `apply` does (same exit statuses).
    Promote(crate::rollout::TargetArgs),
    /// Return all traffic and replicas to the stable version and scale the new one to zero; returns
    /// once they are there (exit 0).
    Abort(crate::rollout::TargetArgs),
    /// Return the Deployment to the previous revision (or `--to-revision N`) as `kubectl rollout undo`
    /// does, taking any new version down; returns once rolled out (exit 0).
    Rollback(crate::rollout::RollbackArgs),
    /// Knative / Cloud Run: `render` the Service for an image, `apply` it with a canary over revision
    /// traffic, `promote`, `rollback`.
    #[command(subcommand)]
    Knative(crate::knative::KnativeCommand),
    Init(crate::deploy_init::InitArgs),
}

/// The flags that make a rollout spec, shared by `plan` and `apply`. Values are checked here rather than
/// by the parser so that bad input names its flag and exits with status 1.
#[derive(Debug, clap::Args)]
pub(crate) struct SpecArgs {
    /// The strategy: rolling, blue-green or canary (required unless --strategy-file gives it).
    #[arg(long, value_name = "STRATEGY")]
    strategy: Option<String>,
    /// Canary steps: `setWeight=20,pause=30s,analysis=NAME,setWeight=50,pause,setCanaryScale=replicas:2`
    /// (`pause` without a duration waits for promotion; durations as Go writes them: 30s, 1m30s, 1h).
    #[arg(long, value_name = "STEPS")]
    steps: Option<String>,
    /// Pods above the desired replicas during the rollout: a number or a percentage (default 25%).
    #[arg(long, value_name = "V", allow_hyphen_values = true)]
    max_surge: Option<String>,
    /// Pods that may be unavailable during the rollout: a number or a percentage (default 25%).
    #[arg(long, value_name = "V", allow_hyphen_values = true)]
    max_unavailable: Option<String>,
    /// How canary traffic is split: none (replica ratio), istio or gateway-api.
    #[arg(long, value_name = "ROUTER")]
    traffic_router: Option<String>,
    /// Argo Rollouts' strategy (YAML or JSON): a `strategy:` block, its content, or a whole Rollout
    /// (instead of --steps and --traffic-router; at most 1 MiB).
    #[arg(long, value_name = "FILE")]
    strategy_file: Option<PathBuf>,
}

/// Arguments of `slipway deploy plan`.
#[derive(Debug, clap::Args)]
pub(crate) struct PlanArgs {
    /// Desired replicas (required).
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    replicas: Option<String>,
    #[command(flatten)]
    spec: SpecArgs,
    /// Print a JSON array (one object per step) instead of a table.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(cmd: DeployCommand) -> CmdResult {
    match cmd {
        DeployCommand::Plan(args) => plan_cmd(&args),
        DeployCommand::Apply(args) => crate::rollout::apply(&args),
        DeployCommand::Status(args) => crate::rollout::status(&args),
        DeployCommand::Promote(args) => crate::rollout::promote(&args),
        DeployCommand::Abort(args) => crate::rollout::abort(&args),
        DeployCommand::Rollback(args) => crate::rollout::rollback(&args),
        DeployCommand::Knative(cmd) => crate::knative::run(cmd),
        DeployCommand::Init(args) => crate::deploy_init::run(&args),
    }
}

/// An error and its sources, joined by `: ` (as the CLI prints chains).
pub(crate) fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

fn plan_cmd(args: &PlanArgs) -> CmdResult {
    let replicas = args.replicas.as_deref().ok_or("--replicas is required")?;
    let replicas: u32 = replicas.parse().map_err(|_| {
        format!("--replicas: invalid value {replicas:?} (expected a number of pods, 0 or more)")
    })?;
    let spec = args.spec.spec()?;
    let steps = plan(&spec, replicas);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&steps)?);
    } else {
        print!("{}", table(&steps));
    }
    Ok(ExitCode::SUCCESS)
}

impl SpecArgs {
    /// The rollout spec the flags describe.
    pub(crate) fn spec(&self) -> Result<RolloutSpec, String> {
        let kind = self
            .strategy
            .as_deref()
            .map(|s| {
                s.parse::<StrategyKind>()
                    .map_err(|e| format!("--strategy: {}", chain(&e)))
            })
            .transpose()?;
        let int_or_percent =
            |flag: &str, value: &Option<String>| -> Result<Option<IntOrPercent>, String> {
                value
                    .as_deref()
                    .map(|v| v.parse().map_err(|e| format!("{flag}: {}", chain(&e))))
                    .transpose()
            };
        let max_surge = int_or_percent("--max-surge", &self.max_surge)?;
        let max_unavailable = int_or_percent("--max-unavailable", &self.max_unavailable)?;
        let spec = if let Some(path) = &self.strategy_file {
            spec_from_file(self, path, kind)?
        } else {
            spec_from_flags(self, kind)?
        };
        spec.with_budget(max_surge, max_unavailable)
            .map_err(|e| chain(&e))
    }
}

/// The spec of `--strategy-file`, which must agree with `--strategy` if both are given.
fn spec_from_file(
    args: &SpecArgs,
    path: &Path,
    kind: Option<StrategyKind>,
) -> Result<RolloutSpec, String> {
    for (flag, given) in [
        ("--steps", args.steps.is_some()),
        ("--traffic-router", args.traffic_router.is_some()),
    ] {
        if given {
            return Err(format!(
                "{flag} cannot be combined with --strategy-file (the file gives it)"
            ));
        }
    }
    let text = read_bounded("--strategy-file", path)?;
    let spec =
        RolloutSpec::from_argo(&text).map_err(|e| format!("{}: {}", path.display(), chain(&e)))?;
    if let Some(kind) = kind
        && kind != spec.strategy.kind()
    {
        return Err(format!(
            "--strategy {kind} contradicts {}, which holds a {} strategy",
            path.display(),
            spec.strategy.kind()
        ));
    }
    Ok(spec)
}

/// The spec of `--strategy`, `--steps` and `--traffic-router`.
fn spec_from_flags(args: &SpecArgs, kind: Option<StrategyKind>) -> Result<RolloutSpec, String> {
    let kind = kind.ok_or(
        "--strategy is required (rolling, blue-green or canary) unless --strategy-file is given",
    )?;
    let router = args
        .traffic_router
        .as_deref()
        .map(|r| {
            TrafficRouting::from_flag(r).map_err(|e| format!("--traffic-router: {}", chain(&e)))
        })
        .transpose()?
        .unwrap_or_default();
    if router.is_routed() && kind != StrategyKind::Canary {
        return Err(format!(
            "--traffic-router is only for the canary strategy, not {kind}"
        ));
    }
    RolloutSpec::from_flags(kind, args.steps.as_deref(), router).map_err(|e| chain(&e))
}

/// Reads a file given by `flag`, at most [`MAX_STRATEGY_FILE`] bytes (strategies, analysis templates and
/// manifests are a few kilobytes).
pub(crate) fn read_bounded(flag: &str, path: &Path) -> Result<String, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("{flag} {}: {e}", path.display()))?;
    let mut text = String::new();
    file.take(MAX_STRATEGY_FILE + 1)
        .read_to_string(&mut text)
        .map_err(|e| format!("{flag} {}: {e}", path.display()))?;
    if text.len() as u64 > MAX_STRATEGY_FILE {
        return Err(format!(
            "{flag} {}: larger than {MAX_STRATEGY_FILE} bytes",
            path.display()
        ));
    }
    Ok(text)
}

fn table(steps: &[PlanStep]) -> String {
    let mut rows = vec![[
        "STEP".to_owned(),
        "ACTION".to_owned(),
        "WEIGHT".to_owned(),
        "CANARY".to_owned(),
        "STABLE".to_owned(),
        "DETAIL".to_owned(),
    ]];
    for s in steps {
        let mut detail = Vec::new();
        if let Some(secs) = s.duration_seconds {
            detail.push(format!("{secs}s"));
        }
        if s.until_promoted {
            detail.push("until promoted".to_owned());
        }
        if !s.templates.is_empty() {
            detail.push(s.templates.join(", "));
        }
        rows.push([
            s.step.to_string(),
            s.action.to_string(),
            format!("{}%", s.weight),
            s.canary_replicas.to_string(),
            s.stable_replicas.to_string(),
            detail.join(" "),
        ]);
    }
    let mut widths = [0usize; 6];
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    let mut out = String::new();
    for row in &rows {
        let mut line = String::new();
        for (i, (cell, w)) in row.iter().zip(widths).enumerate() {
            if i > 0 {
                line.push_str("  ");
            }
            let _ = write!(line, "{cell:<w$}");
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}
