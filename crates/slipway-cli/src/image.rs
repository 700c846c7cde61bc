//! `slipway image build`: a thin layer over `slipway_oci::gobuild` for OCI image layout destinations.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use slipway_oci::gobuild::{CA_CERTIFICATES_PATH, GoImageOptions, build_go_images};
use slipway_oci::image::{rfc3339, source_date_epoch};
use slipway_oci::manifest::Flavor;
use slipway_oci::platform::Platform;
use slipway_oci::reference::{ManifestRef, Reference, Tag};
use slipway_oci::store::{ManifestStore, OciLayout};

use crate::CmdResult;

/// `slipway image …`.
#[derive(Debug, Subcommand)]
pub enum ImageCommand {
    /// Build a multi-platform image of a Go main package without Docker (ko-style): `go build` per platform,
    /// the binary at /ko-app/NAME on an empty base with CA certificates, running as 65532:65532.
    Build(BuildArgs),
}

/// `slipway image build`.
#[derive(Debug, Args)]
pub struct BuildArgs {
    /// Run in this directory (the Go module), like `go -C`.
    #[arg(short = 'C', value_name = "DIR", default_value = ".")]
    dir: PathBuf,
    /// The Go main package, relative to the module: `./cmd/hello`.
    #[arg(value_name = "PACKAGE")]
    package: String,
    /// Platforms, comma-separated or repeated: `linux/amd64,linux/arm64,linux/arm/v7`.
    #[arg(
        long = "platform",
        value_delimiter = ',',
        default_value = "linux/amd64",
        value_name = "PLATFORMS"
    )]
    platforms: Vec<String>,
    /// Destination: `oci:DIR:TAG` (an OCI image layout directory, created when missing).
    #[arg(long, value_name = "REF")]
    to: String,
    /// More tags for the same image in the destination. Repeatable.
    #[arg(long = "tag", value_name = "TAG")]
    tags: Vec<String>,
    /// Linker `-X` assignment, e.g. `-X main.version=v1.2.3`. Repeatable.
    #[arg(short = 'X', value_name = "NAME=VALUE")]
    ldflags_x: Vec<String>,
    /// Annotation `KEY=VALUE` on every manifest and the index. Repeatable.
    #[arg(long = "annotation", value_name = "KEY=VALUE")]
    annotations: Vec<String>,
    /// The CA certificate bundle to include (default: the host's, when it has one).
    #[arg(long, value_name = "FILE", conflicts_with = "no_ca_certificates")]
    ca_certificates: Option<PathBuf>,
    /// Include no CA certificates.
    #[arg(long)]
    no_ca_certificates: bool,
    /// Use Docker schema 2 media types instead of OCI's.
    #[arg(long)]
    docker_media_types: bool,
}

/// Runs `slipway image …`.
pub fn run(command: ImageCommand) -> CmdResult {
    match command {
        ImageCommand::Build(args) => build(&args),
    }
}

fn build(args: &BuildArgs) -> CmdResult {
    let reference = Reference::parse(&args.to)?;
    let Reference::Layout(destination) = reference else {
        return Err(format!(
            "{}: registry destinations are not supported yet; use oci:DIR:TAG",
            args.to
        )
        .into());
    };
    let Some(ManifestRef::Tag(tag)) = destination.target.clone() else {
        return Err(format!("{}: the destination needs a tag (oci:DIR:TAG)", args.to).into());
    };
    let mut tags = vec![tag];
    for extra in &args.tags {
        tags.push(Tag::new(extra)?);
    }

    let platforms = args
        .platforms
        .iter()
        .map(|p| Platform::parse(p.trim()).map(|p| p.normalize()))
        .collect::<Result<Vec<_>, _>>()?;
    let created = source_date_epoch()?.unwrap_or(0);
    let mut options = GoImageOptions::new(platforms)
        .created(created)
        .annotation("org.opencontainers.image.created", &rfc3339(created));
    if args.docker_media_types {
        options = options.flavor(Flavor::Docker);
    }
    for assignment in &args.ldflags_x {
        let (name, value) = assignment
            .split_once('=')
            .ok_or_else(|| format!("-X {assignment:?}: expected NAME=VALUE"))?;
        options = options.ldflag_x(name, value);
    }
    for annotation in &args.annotations {
        let (key, value) = annotation
            .split_once('=')
            .filter(|(k, _)| !k.is_empty())
            .ok_or_else(|| format!("--annotation {annotation:?}: expected KEY=VALUE"))?;
        options = options.annotation(key, value);
    }
    let bundle = match &args.ca_certificates {
        _ if args.no_ca_certificates => None,
        Some(bundle) => Some(bundle.clone()),
        None => Some(PathBuf::from(CA_CERTIFICATES_PATH)).filter(|host| host.is_file()),
    };
    if let Some(bundle) = bundle {
        options = options.ca_certificates(bundle);
    }

    let layout = OciLayout::create(&destination.path)?;
    let built = build_go_images(&args.dir, &args.package, &options, &layout)?;
    let top = built.top();
    for tag in &tags {
        layout.put_manifest(top, Some(tag))?;
    }
    let digest = top.descriptor().digest;
    for tag in &tags {
        println!("oci:{}:{tag}@{digest}", destination.path.display());
    }
    Ok(ExitCode::SUCCESS)
}
