//! `slipway`: take a Go microservice from source to a running Kubernetes rollout.
//!
//! Each subcommand is a thin layer over one slipway crate (one module here per crate); the crates hold the
//! logic. A subcommand returns the exit code it wants, or an error that is printed as `slipway: …` with exit
//! status 1.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// What a subcommand returns: an exit code, or an error to report.
pub(crate) type CmdResult = Result<ExitCode, Box<dyn std::error::Error + Send + Sync>>;

/// The version line: package version and the commit the binary was built from.
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("SLIPWAY_GIT_COMMIT"),
    ")"
);

#[derive(Debug, Parser)]
#[command(name = "slipway", version = VERSION, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

// Subcommands register here: one variant and one match arm per crate module.
#[derive(Debug, Subcommand)]
enum Command {
    /// Print the version and the git commit this binary was built from.
    Version,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result: CmdResult = match cli.command {
        Command::Version => {
            println!("slipway {VERSION}");
            Ok(ExitCode::SUCCESS)
        }
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("slipway: {err}");
            ExitCode::FAILURE
        }
    }
}
