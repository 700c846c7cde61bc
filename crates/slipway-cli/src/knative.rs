//! `slipway deploy knative`: a Knative (or Cloud Run) Service for an image, rendered or applied with a
//! canary by revision traffic split (`slipway_deploy::serverless`).

use std::process::ExitCode;
use std::time::Duration;

use clap::Subcommand;
use serde_json::Value;
use slipway_deploy::cluster::kube::Kube;
use slipway_deploy::serverless::{
    Action, Container, Outcome, Phase, Probe, drive, render, traffic_latest,
};
use slipway_deploy::spec::{Step, parse_steps};

use crate::CmdResult;

/// Subcommands of `slipway deploy knative`.
#[derive(Debug, Subcommand)]
pub(crate) enum KnativeCommand {
    /// Print the `serving.knative.dev/v1` Service (YAML) for the image; `gcloud run services replace`
    /// takes it too.
    Render(RenderArgs),
    /// Apply the Service with server-side apply (field manager `slipway`) and walk the canary steps over
    /// revision traffic. Exit status: 0 Healthy, 1 Degraded or error, 2 Paused (run `promote`), 3
    /// Inconclusive. Running it again resumes the rollout recorded on the Service.
    Apply(ApplyArgs),
    /// Skip the remaining steps: all traffic to the latest revision; waits until it serves (exit 0).
    Promote(ActionArgs),
    /// All traffic back to the revision that served before the rollout; waits until it serves (exit 0).
    Rollback(ActionArgs),
}

/// What the Service runs.
#[derive(Debug, clap::Args)]
pub(crate) struct RenderArgs {
    /// The Knative Service's name.
    #[arg(long, value_name = "NAME")]
    name: String,
    /// The image (a digest pins what every revision runs).
    #[arg(long, value_name = "REF")]
    image: String,
    /// The container's port (`containerPort`; the service gets it as `$PORT`; 8080 when not given).
    #[arg(long, value_name = "N")]
    port: Option<u16>,
    /// An environment variable `K=V`; repeatable.
    #[arg(long, value_name = "K=V")]
    env: Vec<String>,
    /// An HTTP readiness probe of this path (e.g. `/healthz`).
    #[arg(long, value_name = "PATH")]
    readiness_path: Option<String>,
    /// An HTTP liveness probe of this path.
    #[arg(long, value_name = "PATH")]
    liveness_path: Option<String>,
    /// CPU limit (`1`, `500m`).
    #[arg(long, value_name = "Q")]
    cpu: Option<String>,
    /// Memory limit (`256Mi`).
    #[arg(long, value_name = "Q")]
    memory: Option<String>,
}

/// Where the Service lives.
#[derive(Debug, clap::Args)]
pub(crate) struct Target {
    /// The kubeconfig (its current context; default: kube's usual lookup).
    #[arg(long, value_name = "FILE")]
    kubeconfig: Option<std::path::PathBuf>,
    /// The namespace (default: the context's, else `default`).
    #[arg(short = 'n', long, value_name = "NS")]
    namespace: Option<String>,
    /// Give up waiting after this long (`30s`, `5m`).
    #[arg(long, value_name = "DURATION", default_value = "5m")]
    timeout: String,
}

/// Arguments of `apply`.
#[derive(Debug, clap::Args)]
pub(crate) struct ApplyArgs {
    #[command(flatten)]
    render: RenderArgs,
    #[command(flatten)]
    target: Target,
    /// Canary steps (`setWeight=20,pause=30s,setWeight=50,pause`), as `deploy plan` takes them; without
    /// them a new revision takes all traffic once ready.
    #[arg(long, value_name = "STEPS")]
    steps: Option<String>,
}

/// Arguments of `promote` and `rollback`.
#[derive(Debug, clap::Args)]
pub(crate) struct ActionArgs {
    /// The Knative Service's name.
    #[arg(long, value_name = "NAME")]
    name: String,
    #[command(flatten)]
    target: Target,
}

pub(crate) fn run(cmd: KnativeCommand) -> CmdResult {
    match cmd {
        KnativeCommand::Render(args) => {
            let container = container(&args)?;
            let svc = render(&args.name, &container, &traffic_latest());
            print!("{}", serde_saphyr::to_string(&svc)?);
            Ok(ExitCode::SUCCESS)
        }
        KnativeCommand::Apply(args) => {
            let container = container(&args.render)?;
            let steps = match &args.steps {
                Some(text) => parse_steps(text)?,
                None => Vec::new(),
            };
            let template = render(&args.render.name, &container, &[])["spec"]["template"].clone();
            walk(
                &args.render.name,
                &args.target,
                &steps,
                Some(&template),
                Action::Reconcile,
            )
        }
        KnativeCommand::Promote(args) => walk(&args.name, &args.target, &[], None, Action::Promote),
        KnativeCommand::Rollback(args) => {
            walk(&args.name, &args.target, &[], None, Action::Rollback)
        }
    }
}

fn container(args: &RenderArgs) -> Result<Container, String> {
    let mut c = Container::new(&args.image);
    if let Some(p) = args.port {
        c = c.port(p);
    }
    for kv in &args.env {
        let (k, v) = kv
            .split_once('=')
            .filter(|(k, _)| !k.is_empty())
            .ok_or_else(|| format!("--env {kv:?}: expected NAME=VALUE"))?;
        c = c.env(k, v);
    }
    if let Some(path) = &args.readiness_path {
        c = c.readiness(Probe::http(path).period(1));
    }
    if let Some(path) = &args.liveness_path {
        c = c.liveness(Probe::http(path));
    }
    if let Some(q) = &args.cpu {
        c = c.limit("cpu", q);
    }
    if let Some(q) = &args.memory {
        c = c.limit("memory", q);
    }
    Ok(c)
}

/// The cluster: `--kubeconfig`, else kubectl's usual lookup (or the in-cluster account).
pub(crate) fn connect(
    kubeconfig: Option<&std::path::Path>,
    namespace: Option<&str>,
) -> Result<Kube, String> {
    match kubeconfig {
        Some(path) => Kube::from_kubeconfig(path, namespace.unwrap_or("default")),
        None => Kube::infer(namespace),
    }
    .map_err(|e| crate::deploy::chain(&e))
}

fn report(name: &str, o: &Outcome) {
    eprintln!("knative service {name}: {:?}: {}", o.phase, o.message);
}

/// Applies and reconciles until the rollout reaches a phase the caller should see; the exit status of
/// that phase.
fn walk(
    name: &str,
    target: &Target,
    steps: &[Step],
    template: Option<&Value>,
    action: Action,
) -> CmdResult {
    let timeout = slipway_deploy::duration::go_duration(&target.timeout)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| {
            format!(
                "--timeout {:?}: expected a duration such as 30s or 5m",
                target.timeout
            )
        })?;
    let cluster = connect(target.kubeconfig.as_deref(), target.namespace.as_deref())?;
    let (o, asked) = walk_on(&cluster, name, steps, template, action, timeout)?;
    Ok(match o.phase {
        Phase::Healthy => ExitCode::SUCCESS,
        // A rollback asked for and done is a success.
        Phase::Degraded if asked => ExitCode::SUCCESS,
        Phase::Inconclusive => ExitCode::from(3),
        Phase::Paused => {
            eprintln!(
                "continue with: slipway deploy knative promote --name {name} -n {}",
                cluster.namespace()
            );
            ExitCode::from(2)
        }
        _ => ExitCode::from(1),
    })
}

/// Applies the Knative Service `name` and reconciles its traffic until the rollout rests (for `slipway
/// ship --deploy knative` too): [`drive`] with the outcome reported on stderr.
pub(crate) fn walk_on(
    cluster: &Kube,
    name: &str,
    steps: &[Step],
    template: Option<&Value>,
    action: Action,
    timeout: Duration,
) -> Result<(Outcome, bool), String> {
    drive(cluster, name, steps, template, action, timeout, |o| {
        report(name, o);
    })
    .map_err(|e| crate::deploy::chain(&e))
}
