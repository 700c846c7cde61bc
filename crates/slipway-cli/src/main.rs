//! `slipway`: take a Go microservice from source to a running Kubernetes rollout.
//!
//! Each subcommand is a thin layer over one slipway crate; the crates hold the logic.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

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

#[derive(Debug, Subcommand)]
enum Command {
    /// Print the version and the git commit this binary was built from.
    Version,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Version => {
            println!("slipway {VERSION}");
            ExitCode::SUCCESS
        }
    }
}
