//! `slipway image build`: a thin layer over `slipway_oci::gobuild`, for layout and registry references
//! (registries need slipway-oci's `registry` feature).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use slipway_oci::gobuild::{
    BaseImage, CA_CERTIFICATES_PATH, GoImageOptions, GoImages, build_go_images, build_go_images_on,
};
use slipway_oci::image::{rfc3339, source_date_epoch};
use slipway_oci::manifest::Flavor;
use slipway_oci::platform::Platform;
use slipway_oci::reference::{DEFAULT_TAG, ManifestRef, Reference, Tag};
use slipway_oci::store::registry::{RegistryOptions, RegistryStore};
use slipway_oci::store::{AnyStore, ManifestStore, OpenOptions, open};

use crate::CmdResult;

/// `slipway image …`.
#[derive(Debug, Subcommand)]
pub enum ImageCommand {
    /// Build a multi-platform image of a Go main package without Docker (ko-style): `go build` per platform,
    /// the binary at /ko-app/NAME on an empty base with CA certificates (or on --base), running as
    /// 65532:65532 unless the base names a user, with an SPDX SBOM of its Go modules attached as a referrer.
    Build(BuildArgs),
}

/// `slipway image build`.
// Command-line switches are bools by nature.
#[allow(clippy::struct_excessive_bools)]
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
    /// Destination: `oci:DIR:TAG` (an OCI image layout directory, created when missing) or
    /// `[docker://]HOST[:PORT]/REPO:TAG`.
    #[arg(long, value_name = "REF")]
    to: String,
    /// Base image, `oci:DIR[:TAG|@DIGEST]` or a registry reference: per platform, its image for that
    /// platform; its layers, environment, working directory, user and media types are kept.
    #[arg(long, value_name = "REF")]
    base: Option<String>,
    /// Attach an SPDX 2.3 SBOM of the binaries' Go modules to the index (or the single image) as a referrer (the default).
    #[arg(long, overrides_with = "no_sbom")]
    sbom: bool,
    /// Attach no SBOM.
    #[arg(long, overrides_with = "sbom")]
    no_sbom: bool,
    /// Talk plain HTTP to registries that are not on loopback (loopback ones always get plain HTTP).
    #[arg(long)]
    plain_http: bool,
    /// More tags for the same image in the destination. Repeatable.
    #[arg(long = "tag", value_name = "TAG")]
    tags: Vec<String>,
    /// Linker `-X` assignment, e.g. `-X main.version=v1.2.3`. Repeatable.
    #[arg(short = 'X', value_name = "NAME=VALUE")]
    ldflags_x: Vec<String>,
    /// Annotation `KEY=VALUE` on every manifest and the index. Repeatable.
    #[arg(long = "annotation", value_name = "KEY=VALUE")]
    annotations: Vec<String>,
    /// The CA certificate bundle to include (default: the host's, when it has one, on the empty base only).
    #[arg(long, value_name = "FILE", conflicts_with = "no_ca_certificates")]
    ca_certificates: Option<PathBuf>,
    /// Include no CA certificates.
    #[arg(long)]
    no_ca_certificates: bool,
    /// Use Docker schema 2 media types instead of OCI's (on a base, the base's media types are used).
    #[arg(long, conflicts_with = "base")]
    docker_media_types: bool,
}

/// Runs `slipway image …`.
pub fn run(command: ImageCommand) -> CmdResult {
    // The library leaves causes to `source()` (a dangling kodata link's OS error, a base image's store
    // error): spell the chain out, as the other OCI commands do.
    crate::oci::with_chain(match command {
        ImageCommand::Build(args) => build(&args),
    })
}

/// `oci:PATH[:TAG|@DIGEST]` as given, or a registry reference with its registry, repository and tag
/// made explicit (`docker.io/library/alpine:latest`), as ko records `base.name`.
fn base_name(reference: &Reference) -> String {
    match reference {
        Reference::Layout(_) => reference.to_string(),
        Reference::Registry(r) if r.tag.is_none() && r.digest.is_none() => {
            format!("{r}:{DEFAULT_TAG}")
        }
        Reference::Registry(r) => r.to_string(),
    }
}

/// The tag a destination reference names.
fn destination_tag(reference: &Reference, text: &str) -> Result<Tag, Error> {
    let tag = match reference {
        Reference::Layout(l) => match &l.target {
            Some(ManifestRef::Tag(tag)) => Some(tag.clone()),
            _ => None,
        },
        // `HOST/REPO` means `:latest`, as Docker reads it.
        Reference::Registry(r) if r.digest.is_none() => match &r.tag {
            Some(tag) => Some(tag.clone()),
            None => Some(Tag::new(DEFAULT_TAG)?),
        },
        Reference::Registry(_) => None,
    };
    tag.ok_or_else(|| {
        format!("{text}: the destination needs a tag (oci:DIR:TAG or HOST/REPO:TAG)").into()
    })
}

/// `REF:TAG@DIGEST` for a destination and one of its tags.
fn tagged(reference: &Reference, tag: &Tag) -> String {
    match reference {
        Reference::Layout(l) => format!("oci:{}:{tag}", l.path.display()),
        Reference::Registry(r) => format!("{}/{}:{tag}", r.registry, r.repository),
    }
}

type Error = Box<dyn std::error::Error + Send + Sync>;

fn options(args: &BuildArgs) -> Result<GoImageOptions, Error> {
    let platforms = args
        .platforms
        .iter()
        .map(|p| Platform::parse(p.trim()).map(|p| p.normalize()))
        .collect::<Result<Vec<_>, _>>()?;
    let created = source_date_epoch()?.unwrap_or(0);
    let mut options = GoImageOptions::new(platforms)
        .created(created)
        .annotation("org.opencontainers.image.created", &rfc3339(created))
        .sbom(args.sbom || !args.no_sbom);
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
    // A base brings its own certificates (or deliberately none); the host's are added only to the
    // empty base, which has nothing.
    let bundle = match &args.ca_certificates {
        _ if args.no_ca_certificates => None,
        Some(bundle) => Some(bundle.clone()),
        None if args.base.is_some() => None,
        None => Some(PathBuf::from(CA_CERTIFICATES_PATH)).filter(|host| host.is_file()),
    };
    if let Some(bundle) = bundle {
        options = options.ca_certificates(bundle);
    }
    Ok(options)
}

fn open_base(text: &str, plain_http: bool) -> Result<BaseImage<AnyStore>, Error> {
    let reference = Reference::parse(text)?;
    let store = open(&reference, &OpenOptions::new().plain_http(plain_http))?;
    let target = match &reference {
        Reference::Layout(l) => l.target.clone(),
        Reference::Registry(r) => Some(r.target()),
    };
    let target = match target {
        Some(target) => target,
        // `oci:DIR`: the layout's only manifest, as skopeo reads it.
        None => ManifestRef::Digest(store.resolve(None)?.digest),
    };
    Ok(BaseImage::open(store, &target, base_name(&reference))?)
}

fn build(args: &BuildArgs) -> CmdResult {
    let destination = Reference::parse(&args.to)?;
    let mut tags = vec![destination_tag(&destination, &args.to)?];
    for extra in &args.tags {
        tags.push(Tag::new(extra)?);
    }
    let options = options(args)?;
    let base = args
        .base
        .as_deref()
        .map(|b| open_base(b, args.plain_http))
        .transpose()?;
    let store = match (&destination, args.base.as_deref().map(Reference::parse)) {
        // Base and destination on one registry: base layers are mounted, not downloaded and uploaded.
        (Reference::Registry(to), Some(Ok(Reference::Registry(from))))
            if to.registry == from.registry =>
        {
            let options = RegistryOptions::default()
                .plain_http(args.plain_http)
                .mount_from(vec![from.repository]);
            AnyStore::Registry(RegistryStore::new(to, options)?)
        }
        _ => open(
            &destination,
            &OpenOptions::new().create(true).plain_http(args.plain_http),
        )?,
    };
    let built: GoImages = match &base {
        Some(base) => build_go_images_on(&args.dir, &args.package, &options, base, &store)?,
        None => build_go_images(&args.dir, &args.package, &options, &store)?,
    };
    let top = built.top();
    for tag in &tags {
        store.put_manifest(top, Some(tag))?;
    }
    if let Some(sbom) = &built.sbom {
        eprintln!("slipway: SBOM {} refers to {}", sbom.digest(), top.digest());
    }
    let digest = top.descriptor().digest;
    for tag in &tags {
        println!("{}@{digest}", tagged(&destination, tag));
    }
    Ok(ExitCode::SUCCESS)
}
