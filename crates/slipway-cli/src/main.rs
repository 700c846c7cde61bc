//! `slipway`: take a Go microservice from source to a running Kubernetes rollout.
//!
//! Each subcommand is a thin layer over one slipway crate (one module here per crate); the crates hold the
//! logic. A subcommand returns the exit code it wants, or an error that is printed as `slipway: …` with exit
//! status 1.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod clidoc;
mod cover;
mod deploy;
mod deploy_init;
mod gitops;
mod gomod;
mod image;
mod init;
mod knative;
mod kubesim;
mod oci;
mod rollout;
mod ship;
mod tag;

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
    /// Print the version and the git commit this binary was built from (`version next`: the next release).
    Version(tag::VersionArgs),
    /// Go coverage: per-function summaries and merging of `go test -coverprofile` profiles.
    Cover(cover::Args),
    /// Go modules: go.mod/go.work as `go mod edit -json`/`-fmt` read them (`parse`, `fmt`), build information
    /// of Go executables (`buildinfo`) as `go version -m` prints it.
    Gomod(gomod::Args),
    /// Image tags and OCI annotations for this build, from git or the CI environment.
    Tag(tag::Args),
    /// Images of Go main packages built without Docker (`image build`).
    #[command(subcommand)]
    Image(image::ImageCommand),
    /// Multi-platform image indexes in OCI layouts: create, append, remove.
    #[command(subcommand)]
    Index(oci::IndexCommand),
    /// Copy an image (or with --all an index and all its platforms) between OCI layouts.
    Copy(oci::CopyArgs),
    /// Show an image or index: a summary, the raw manifest, or the config.
    Inspect(oci::InspectArgs),
    /// A Kubernetes API on loopback (`kubesim serve`) that kubectl and kube-rs use unmodified.
    #[command(subcommand)]
    Kubesim(kubesim::KubesimCommand),
    /// Rollouts: rolling, blue-green and canary (`deploy plan`: the steps a rollout would take).
    #[command(subcommand)]
    Deploy(deploy::DeployCommand),
    /// Write an image into a Git repository that Argo CD or Flux applies (`set-image`), promote between
    /// environments (`promote`).
    #[command(subcommand)]
    Gitops(gitops::GitopsCommand),
    /// The whole pipeline on a Go service: layout, tidy, vet, lint, tests with -race and coverage gates,
    /// a multi-arch image with SBOM, tags, push, a rollout (kubesim by default) and a check that it answers.
    Ship(ship::Args),
    /// Set a Go service up for continuous delivery: slipway.toml, deploy/, and GitHub Actions and GitLab
    /// CI definitions that run `slipway ship` (existing files are kept unless --force).
    Init(init::Args),
    /// Print this command reference in Markdown (docs/cli.md is made from it).
    #[command(hide = true)]
    CliReference,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result: CmdResult = match cli.command {
        Command::Version(args) => tag::version(args, VERSION),
        Command::Cover(args) => cover::run(args),
        Command::Gomod(args) => gomod::run(args),
        Command::Tag(args) => tag::run(args),
        Command::Image(cmd) => image::run(cmd),
        Command::Index(cmd) => oci::index(cmd),
        Command::Copy(args) => oci::copy(&args),
        Command::Inspect(args) => oci::inspect(&args),
        Command::Kubesim(cmd) => kubesim::run(cmd),
        Command::Deploy(cmd) => deploy::run(cmd),
        Command::Gitops(cmd) => gitops::run(cmd),
        Command::Ship(args) => ship::run(&args),
        Command::Init(args) => init::run(&args),
        Command::CliReference => {
            use clap::CommandFactory as _;
            print!("{}", clidoc::markdown(&Cli::command()));
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
