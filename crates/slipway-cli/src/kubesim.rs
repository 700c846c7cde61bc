//! `slipway kubesim serve`: a Kubernetes API on loopback for kubectl, kube-rs and slipway itself, over
//! `slipway-kubesim`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Subcommand;
use slipway_kubesim::runtime::process::ProcessOptions;
use slipway_kubesim::{Options, Sim};

use crate::CmdResult;

/// `slipway kubesim ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum KubesimCommand {
    /// Serve the API in the foreground until SIGINT or SIGTERM; prints the address once it listens.
    Serve(ServeArgs),
}

/// Arguments of `slipway kubesim serve`.
#[derive(Debug, clap::Args)]
pub(crate) struct ServeArgs {
    /// Listen address (a free loopback port by default).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:0")]
    addr: SocketAddr,
    /// Write a kubeconfig for the simulator here (atomically) once it listens.
    #[arg(long, value_name = "FILE")]
    kubeconfig: Option<PathBuf>,
    /// How pods run: `simulated` (nothing runs; status as a healthy kubelet reports it) or `process`
    /// (images pulled and run as local processes of this machine, without isolation, on `$PORT`).
    #[arg(long, value_name = "RUNTIME", default_value = "simulated", value_parser = ["simulated", "process"])]
    runtime: String,
    /// How long a started container takes to become ready (`200ms`, `2s`, `1m30s`).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "200ms")]
    ready_after: Duration,
    /// Pods whose image matches GLOB never become ready; repeatable.
    #[arg(long = "never-ready", value_name = "GLOB")]
    never_ready: Vec<String>,
    /// Containers whose image matches GLOB crash after every start; repeatable.
    #[arg(long = "crash-loop", value_name = "GLOB")]
    crash_loop: Vec<String>,
    /// Images matching GLOB cannot be pulled; repeatable.
    #[arg(long = "pull-error", value_name = "GLOB")]
    pull_error: Vec<String>,
    /// The Prometheus API answers QUERY with VALUE (`'QUERY=VALUE'`, split at the last `=`); repeatable.
    #[arg(long = "metric", value_name = "QUERY=VALUE")]
    metrics: Vec<String>,
}

/// Parses a Go duration (`500ms`, `2s`, `1m30s`) with slipway-deploy's reader of them.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    slipway_deploy::duration::go_duration(text.trim())
        .map_err(|_| format!("invalid duration {text:?} (use e.g. 500ms, 2s, 1m30s)"))
}

pub(crate) fn run(cmd: KubesimCommand) -> CmdResult {
    match cmd {
        KubesimCommand::Serve(args) => serve(args),
    }
}

fn serve(args: ServeArgs) -> CmdResult {
    let mut options = Options::default()
        .addr(args.addr)
        .ready_after(args.ready_after);
    if args.runtime == "process" {
        options = options.process_runtime(ProcessOptions::default());
    }
    for g in args.never_ready {
        options = options.never_ready(g);
    }
    for g in args.crash_loop {
        options = options.crash_loop(g);
    }
    for g in args.pull_error {
        options = options.pull_error(g);
    }
    for m in &args.metrics {
        options = options.metric_text(m)?;
    }
    let sim = Sim::start(options)?;
    if let Some(path) = &args.kubeconfig {
        sim.write_kubeconfig(path)?;
    }
    println!("{}", sim.url());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r,
            _ = term.recv() => Ok(()),
        }
    })?;
    drop(sim);
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("200ms"), Ok(Duration::from_millis(200)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert!(parse_duration("5").is_err());
        assert!(parse_duration("2x").is_err());
    }
}
