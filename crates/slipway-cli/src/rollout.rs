//! `slipway deploy apply|status|promote|abort|rollback`: rollouts driven through slipway-deploy's
//! `Rollout` on a cluster reached with a kubeconfig (or written out with `--dry-run`).

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use serde_json::Value;
use slipway_deploy::analysis::provider::{HttpOptions, HttpProviders};
use slipway_deploy::cluster::kube::Kube;
use slipway_deploy::cluster::{Cluster, DryRun, Empty};
use slipway_deploy::rollout::{Outcome, Request, Rollout};
use slipway_deploy::state::{Phase, RolloutState};

use crate::CmdResult;
use crate::deploy::{SpecArgs, chain, read_bounded};

/// Where the rollout runs.
#[derive(Debug, clap::Args)]
pub(crate) struct TargetArgs {
    /// The kubeconfig to use (its current context; default: `$KUBECONFIG`, `~/.kube/config`, else the
    /// in-cluster service account).
    #[arg(long, value_name = "FILE")]
    kubeconfig: Option<PathBuf>,
    /// The namespace.
    #[arg(short = 'n', long, value_name = "NS", default_value = "default")]
    namespace: String,
    /// The Deployment (`NAME`; the new version runs as `NAME-canary`).
    #[arg(long, value_name = "NAME")]
    name: String,
    /// Give up waiting after this long (Go duration, e.g. 10m); the rollout stays where it is and a later
    /// run picks it up. Default: no limit.
    #[arg(long, value_name = "DURATION")]
    timeout: Option<String>,
    /// Print no progress lines.
    #[arg(long, short = 'q')]
    quiet: bool,
}

/// Arguments of `slipway deploy apply`.
#[derive(Debug, clap::Args)]
pub(crate) struct ApplyArgs {
    #[command(flatten)]
    target: TargetArgs,
    /// The image to roll out.
    #[arg(long, value_name = "REF")]
    image: String,
    /// Desired replicas (default: the Deployment's own; 1 for a new one).
    #[arg(long, value_name = "N")]
    replicas: Option<u32>,
    /// The container whose image changes (default: the first).
    #[arg(long, value_name = "NAME")]
    container: Option<String>,
    #[command(flatten)]
    spec: SpecArgs,
    /// An Argo Rollouts `AnalysisTemplate` (YAML) for `analysis=NAME` steps; repeatable.
    #[arg(long, value_name = "FILE")]
    analysis: Vec<PathBuf>,
    /// An analysis argument; repeatable.
    #[arg(long = "arg", value_name = "KEY=VALUE")]
    args: Vec<String>,
    /// Objects to create on first use (YAML, several documents; must hold Deployment NAME).
    #[arg(long, value_name = "FILE")]
    manifest: Option<PathBuf>,
    /// The container port of a Deployment made from the flags (also makes a Service NAME, and sets $PORT).
    #[arg(long, value_name = "N")]
    port: Option<u16>,
    /// Print the objects the next step would apply (YAML) instead of applying them. With a kubeconfig the
    /// cluster is read; without, the cluster is taken as empty.
    #[arg(long)]
    dry_run: bool,
}

/// Arguments of `slipway deploy status`.
#[derive(Debug, clap::Args)]
pub(crate) struct StatusArgs {
    #[command(flatten)]
    target: TargetArgs,
    /// Print the rollout's state as JSON.
    #[arg(long)]
    json: bool,
}

/// Arguments of `slipway deploy rollback`.
#[derive(Debug, clap::Args)]
pub(crate) struct RollbackArgs {
    #[command(flatten)]
    target: TargetArgs,
    /// The revision to return to (default: the previous one).
    #[arg(long, value_name = "N")]
    to_revision: Option<i64>,
}

/// The exit status of a phase: 0 Healthy, 2 Paused, 3 Inconclusive, 1 Degraded.
fn exit(phase: Phase) -> ExitCode {
    match phase {
        Phase::Healthy => ExitCode::SUCCESS,
        Phase::Paused => ExitCode::from(2),
        Phase::Inconclusive => ExitCode::from(3),
        _ => ExitCode::from(1),
    }
}

fn progress_line(state: &RolloutState) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{}", state.summary());
}

fn connect(target: &TargetArgs) -> Result<Kube, String> {
    crate::knative::connect(target.kubeconfig.as_deref(), Some(&target.namespace))
}

fn timeout(target: &TargetArgs) -> Result<Option<std::time::Duration>, String> {
    target
        .timeout
        .as_deref()
        .map(|t| {
            slipway_deploy::duration::go_duration(t)
                .ok()
                .ok_or_else(|| format!("--timeout: invalid duration {t:?} (e.g. 90s, 10m)"))
        })
        .transpose()
}

/// Runs `f` on a driver for the target's Deployment, with progress lines and the HTTP providers.
fn drive<C: Cluster>(
    cluster: C,
    target: &TargetArgs,
    once: bool,
    f: impl FnOnce(&mut Rollout<'_, C>) -> Result<Outcome, slipway_deploy::rollout::Error>,
) -> Result<Outcome, String> {
    let providers = HttpProviders::new(HttpOptions::default()).map_err(|e| chain(&e))?;
    let mut rollout = Rollout::new(cluster, &target.name)
        .provider(&providers)
        .once(once);
    if !target.quiet {
        rollout = rollout.on_progress(progress_line);
    }
    if let Some(t) = timeout(target)? {
        rollout = rollout.timeout(t);
    }
    f(&mut rollout).map_err(|e| chain(&e))
}

fn request(args: &ApplyArgs) -> Result<Request, String> {
    let spec = args.spec.spec()?;
    let mut request = Request::new(&args.image, spec);
    request.replicas = args.replicas;
    request.container.clone_from(&args.container);
    request.port = args.port;
    for path in &args.analysis {
        request.templates.push(read_bounded("--analysis", path)?);
    }
    for arg in &args.args {
        let (k, v) = arg
            .split_once('=')
            .ok_or_else(|| format!("--arg {arg:?}: expected KEY=VALUE"))?;
        request.args.push((k.to_owned(), v.to_owned()));
    }
    if let Some(path) = &args.manifest {
        let text = read_bounded("--manifest", path)?;
        request.manifest = serde_saphyr::from_multiple::<Value>(&text)
            .map_err(|e| format!("--manifest {}: {e}", path.display()))?
            .into_iter()
            .filter(|v| !v.is_null())
            .collect();
    }
    Ok(request)
}

pub(crate) fn apply(args: &ApplyArgs) -> CmdResult {
    let request = request(args)?;
    if args.dry_run {
        let rendered = if args.target.kubeconfig.is_some() {
            let dry = DryRun::new(connect(&args.target)?);
            drive(&dry, &args.target, true, |r| r.apply(&request))?;
            dry.render()
        } else {
            let dry = DryRun::new(Empty);
            drive(&dry, &args.target, true, |r| r.apply(&request))?;
            dry.render()
        };
        print!("{rendered}");
        return Ok(ExitCode::SUCCESS);
    }
    let cluster = connect(&args.target)?;
    let outcome = drive(&cluster, &args.target, false, |r| r.apply(&request))?;
    Ok(exit(outcome.phase))
}

pub(crate) fn status(args: &StatusArgs) -> CmdResult {
    let cluster = connect(&args.target)?;
    let outcome = drive(&cluster, &args.target, true, |r| r.status())?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&outcome.state)?);
    } else {
        let s = &outcome.state;
        println!(
            "{}/{}: {}",
            args.target.namespace, args.target.name, s.phase
        );
        if !s.reason.is_empty() {
            println!("reason:   {}", s.reason);
        }
        println!("image:    {} (stable: {})", s.image, s.stable_image);
        println!(
            "strategy: {} (stage {:?}, step {})",
            s.strategy, s.stage, s.step
        );
        println!("weight:   {}%", s.weight);
        println!("message:  {}", s.message);
    }
    Ok(exit(outcome.phase))
}

// The closures cannot be the methods themselves: the driver's lifetime is chosen inside `drive`.
#[allow(clippy::redundant_closure_for_method_calls)]
pub(crate) fn promote(args: &TargetArgs) -> CmdResult {
    let cluster = connect(args)?;
    let outcome = drive(&cluster, args, false, |r| r.promote())?;
    Ok(exit(outcome.phase))
}

#[allow(clippy::redundant_closure_for_method_calls)]
pub(crate) fn abort(args: &TargetArgs) -> CmdResult {
    let cluster = connect(args)?;
    drive(&cluster, args, false, |r| r.abort())?;
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn rollback(args: &RollbackArgs) -> CmdResult {
    let cluster = connect(&args.target)?;
    drive(&cluster, &args.target, false, |r| {
        r.rollback(args.to_revision)
    })?;
    Ok(ExitCode::SUCCESS)
}
