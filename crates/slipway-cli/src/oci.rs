//! `slipway index create|append|remove`, `slipway copy` and `slipway inspect`: thin layers over
//! `slipway-oci`, for OCI image layouts (`oci:DIR[:TAG|@DIGEST]`) and registries
//! (`[docker://]HOST[:PORT]/REPO[:TAG|@DIGEST]`), opened alike with `slipway_oci::store::open`.

use std::io::Write;
use std::process::ExitCode;

use clap::{Args, Subcommand, ValueEnum};
use serde_json::{Value, json};
use slipway_oci::copy::{CopyOptions, copy as copy_image};
use slipway_oci::index::{IndexBuilder, OnDuplicate, select_platform};
use slipway_oci::manifest::{Descriptor, Flavor, ImageConfig, Manifest, RawManifest};
use slipway_oci::platform::Platform;
use slipway_oci::reference::{ManifestRef, Reference, Tag};
use slipway_oci::store::registry::{RegistryOptions, RegistryStore};
use slipway_oci::store::{
    AnyStore, BlobStoreExt, ManifestStore, ManifestStoreExt, OpenOptions, open,
};

use crate::CmdResult;

type Error = Box<dyn std::error::Error + Send + Sync>;

/// Index (manifest list) subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum IndexCommand {
    /// Create an index from images and indexes (all of their platforms) and tag it at --to.
    Create(CreateArgs),
    /// Add images (or all platforms of indexes) to an existing index, rewriting its tag.
    Append(AppendArgs),
    /// Remove platforms or entries from an existing index, rewriting its tag.
    Remove(RemoveArgs),
}

/// The index flavour on the command line.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum FormatArg {
    /// application/vnd.oci.image.index.v1+json
    Oci,
    /// application/vnd.docker.distribution.manifest.list.v2+json
    Docker,
}

/// Transport options for registry references.
#[derive(Debug, Args)]
pub(crate) struct TransportArgs {
    /// Talk plain HTTP (no TLS) to registries that are not on loopback (loopback registries always get
    /// plain HTTP, as Docker does).
    #[arg(long)]
    plain_http: bool,
}

/// Options shared by `create` and `append`.
#[derive(Debug, Args)]
pub(crate) struct EditArgs {
    /// Annotation as `[index:|manifest-descriptor:|manifest-descriptor[PLATFORM]:]KEY=VALUE` (buildx
    /// syntax; plain `KEY=VALUE` annotates the index). Repeatable.
    #[arg(long = "annotation", value_name = "ANNOTATION")]
    annotations: Vec<String>,
    /// Replace an entry whose platform is already in the index instead of failing.
    #[arg(long)]
    replace: bool,
}

/// `slipway index create`.
#[derive(Debug, Args)]
pub(crate) struct CreateArgs {
    /// Destination, `oci:DIR:TAG` or `[docker://]HOST/REPO[:TAG]`.
    #[arg(long, value_name = "REF")]
    to: String,
    #[command(flatten)]
    transport: TransportArgs,
    /// Index flavour (default: from the entries' media types).
    #[arg(long, value_enum)]
    format: Option<FormatArg>,
    /// Keep only these platforms (repeatable).
    #[arg(long = "platform", value_name = "PLATFORM")]
    platforms: Vec<String>,
    #[command(flatten)]
    edit: EditArgs,
    /// Images or indexes to include, `oci:DIR[:TAG|@DIGEST]` or `[docker://]HOST/REPO[:TAG|@DIGEST]`.
    #[arg(required = true, value_name = "SRC_REF")]
    sources: Vec<String>,
}

/// `slipway index append`.
#[derive(Debug, Args)]
pub(crate) struct AppendArgs {
    /// The index to edit, `oci:DIR:TAG` or `[docker://]HOST/REPO[:TAG]`.
    #[arg(value_name = "INDEX_REF")]
    index: String,
    #[command(flatten)]
    edit: EditArgs,
    #[command(flatten)]
    transport: TransportArgs,
    /// Images or indexes to add, `oci:DIR[:TAG|@DIGEST]` or `[docker://]HOST/REPO[:TAG|@DIGEST]`.
    #[arg(required = true, value_name = "SRC_REF")]
    sources: Vec<String>,
}

/// `slipway index remove`.
#[derive(Debug, Args)]
pub(crate) struct RemoveArgs {
    /// The index to edit, `oci:DIR:TAG` or `[docker://]HOST/REPO[:TAG]`.
    #[arg(value_name = "INDEX_REF")]
    index: String,
    #[command(flatten)]
    transport: TransportArgs,
    /// Remove the images for this platform (and their attestations). Repeatable.
    #[arg(
        long = "platform",
        value_name = "PLATFORM",
        required_unless_present = "digests"
    )]
    platforms: Vec<String>,
    /// Remove the entry with this digest. Repeatable.
    #[arg(long = "digest", value_name = "DIGEST")]
    digests: Vec<String>,
}

/// `slipway copy`.
#[derive(Debug, Args)]
pub(crate) struct CopyArgs {
    /// Source, `oci:DIR[:TAG|@DIGEST]` or `[docker://]HOST/REPO[:TAG|@DIGEST]`.
    #[arg(value_name = "SRC_REF")]
    src: String,
    /// Destination, `oci:DIR:TAG` or `[docker://]HOST/REPO[:TAG]` (`latest` when no tag is given).
    #[arg(value_name = "DST_REF")]
    dst: String,
    #[command(flatten)]
    transport: TransportArgs,
    /// Copy an index with all of its platforms (otherwise only the image for --platform or this host).
    #[arg(long)]
    all: bool,
    /// The platform to pick from an index.
    #[arg(long, value_name = "PLATFORM", conflicts_with = "all")]
    platform: Option<String>,
}

/// `slipway inspect`.
#[derive(Debug, Args)]
pub(crate) struct InspectArgs {
    /// What to inspect, `oci:DIR[:TAG|@DIGEST]` or `[docker://]HOST/REPO[:TAG|@DIGEST]`.
    #[arg(value_name = "REF")]
    reference: String,
    #[command(flatten)]
    transport: TransportArgs,
    /// Print the manifest (or, with --config, the config) exactly as stored.
    #[arg(long)]
    raw: bool,
    /// Print the image config instead of the manifest.
    #[arg(long)]
    config: bool,
    /// Pick this platform's image from an index.
    #[arg(long, value_name = "PLATFORM")]
    platform: Option<String>,
    /// List the manifests whose `subject` is this one (SBOMs, signatures) as an OCI index, as the
    /// referrers API answers.
    #[arg(long, conflicts_with_all = ["raw", "config"])]
    referrers: bool,
}

fn options(transport: &TransportArgs) -> OpenOptions {
    OpenOptions::new().plain_http(transport.plain_http)
}

/// The manifest a reference names: a layout's tag or digest (`None`: its only manifest), a registry's
/// digest, else tag, else `latest`.
fn target_of(reference: &Reference) -> Option<ManifestRef> {
    match reference {
        Reference::Layout(l) => l.target.clone(),
        Reference::Registry(r) => Some(r.target()),
    }
}

/// The tag a destination gets. A layout needs one; a registry reference without one means `latest` (as
/// Docker and skopeo read it), unless it names a digest only: then the manifest is pushed untagged.
fn destination_tag(text: &str, reference: &Reference) -> Result<Option<Tag>, Error> {
    match reference {
        Reference::Layout(l) => match &l.target {
            Some(ManifestRef::Tag(t)) => Ok(Some(t.clone())),
            _ => Err(format!("{text}: the destination needs a tag (oci:DIR:TAG)").into()),
        },
        Reference::Registry(r) => match (&r.tag, &r.digest) {
            (Some(t), _) => Ok(Some(t.clone())),
            (None, Some(_)) => Ok(None),
            (None, None) => Ok(Some(Tag::latest())),
        },
    }
}

/// Opens a destination (creating a missing layout).
fn open_destination(text: &str, transport: &TransportArgs) -> Result<(AnyStore, Reference), Error> {
    let reference = Reference::parse(text)?;
    let store = open(&reference, &options(transport).create(true))?;
    Ok((store, reference))
}

/// Opens a source and names its manifest by digest.
fn open_source(text: &str, transport: &TransportArgs) -> Result<(AnyStore, Descriptor), Error> {
    let reference = Reference::parse(text)?;
    let store = open(&reference, &options(transport))?;
    let desc = store.resolve(target_of(&reference).as_ref())?;
    Ok((store, desc))
}

enum AnnotationTarget {
    Index,
    Descriptors(Option<Platform>),
}

fn parse_annotation(text: &str) -> Result<(AnnotationTarget, String, String), Error> {
    let (target, pair) = if let Some(rest) = text.strip_prefix("index:") {
        (AnnotationTarget::Index, rest)
    } else if let Some(rest) = text.strip_prefix("manifest-descriptor:") {
        (AnnotationTarget::Descriptors(None), rest)
    } else if let Some(rest) = text.strip_prefix("manifest-descriptor[") {
        let (platform, pair) = rest.split_once("]:").ok_or_else(|| {
            format!("annotation {text:?}: expected manifest-descriptor[PLATFORM]:KEY=VALUE")
        })?;
        (
            AnnotationTarget::Descriptors(Some(Platform::parse(platform)?)),
            pair,
        )
    } else {
        (AnnotationTarget::Index, text)
    };
    let (key, value) = pair
        .split_once('=')
        .ok_or_else(|| format!("annotation {text:?}: expected KEY=VALUE"))?;
    if key.is_empty() {
        return Err(format!("annotation {text:?}: the key is empty").into());
    }
    Ok((target, key.to_owned(), value.to_owned()))
}

/// Copies each source (with everything it names) into `dest`; returns each source's text with the
/// descriptor of its manifest there.
fn copy_sources(
    dest: &AnyStore,
    sources: &[String],
    transport: &TransportArgs,
) -> Result<Vec<(String, Descriptor)>, Error> {
    let mut entries = Vec::with_capacity(sources.len());
    for src in sources {
        let (src_store, entry) = open_source(src, transport)?;
        copy_image(
            &src_store,
            &ManifestRef::Digest(entry.digest.clone()),
            dest,
            None,
            &CopyOptions::default().all(true),
        )
        .map_err(|e| format!("{src}: {}", chain(&e)))?;
        entries.push((src.clone(), entry));
    }
    Ok(entries)
}

/// Adds the platforms of copied sources (see [`copy_sources`]) to `builder`, reading them from `dest`.
fn add_entries(
    dest: &AnyStore,
    builder: &mut IndexBuilder,
    entries: &[(String, Descriptor)],
) -> Result<(), Error> {
    for (src, entry) in entries {
        builder
            .add_image(dest, entry.clone())
            .map_err(|e| format!("{src}: {}", chain(&e)))?;
    }
    Ok(())
}

// The library's messages leave causes to `source()` (they do not repeat them), so the command line
// spells the whole chain out.
use crate::deploy::chain;

pub(crate) fn with_chain(result: CmdResult) -> CmdResult {
    result.map_err(|e| chain(e.as_ref()).into())
}

fn apply_annotations(builder: &mut IndexBuilder, annotations: &[String]) -> Result<(), Error> {
    for text in annotations {
        match parse_annotation(text)? {
            (AnnotationTarget::Index, k, v) => builder.set_annotation(k, v),
            (AnnotationTarget::Descriptors(platform), k, v) => {
                let platforms: Vec<Platform> = match platform {
                    Some(p) => vec![p],
                    None => builder
                        .entries()
                        .iter()
                        .filter(|d| !d.is_attestation())
                        .filter_map(|d| d.platform.clone())
                        .collect(),
                };
                let mut changed = 0;
                for p in &platforms {
                    changed += builder.annotate_platform(p, k.clone(), v.clone());
                }
                if changed == 0 {
                    return Err(format!("annotation {text:?}: no entry matches").into());
                }
            }
        }
    }
    Ok(())
}

fn finish_index(store: &AnyStore, builder: &IndexBuilder, tag: Option<&Tag>) -> CmdResult {
    let raw = builder.build()?;
    store.put_manifest(&raw, tag)?;
    println!("{}", raw.digest());
    Ok(ExitCode::SUCCESS)
}

/// Rewrites the index tagged in `text` with `edit`, holding the layout's lock from reading the index to
/// writing its tag back (see `AnyStore::update_tag`), so that concurrent edits (CI matrix jobs appending
/// their platforms) all survive. `edit` must not write tags: `prepare` copies sources in first, without
/// the lock, and hands `edit` what it made.
fn edit_index<T>(
    text: &str,
    transport: &TransportArgs,
    prepare: impl FnOnce(&AnyStore) -> Result<T, Error>,
    edit: impl FnOnce(&AnyStore, &mut IndexBuilder, T) -> Result<(), Error>,
) -> CmdResult {
    let reference = Reference::parse(text)?;
    let tag = destination_tag(text, &reference)?
        .ok_or_else(|| format!("{text}: the index to edit needs a tag"))?;
    let store = open(&reference, &options(transport))?;
    let prepared = prepare(&store)?;
    let raw = store.update_tag(&tag, |current| -> Result<RawManifest, Error> {
        let current = current.ok_or_else(|| slipway_oci::store::Error::NotFound {
            what: "manifest",
            name: tag.to_string(),
            store: store.name(),
        })?;
        let index = match current.decode()? {
            Manifest::Index(index) => index,
            Manifest::Image(_) => return Err(format!("{text} is an image, not an index").into()),
        };
        let mut builder = IndexBuilder::from_index(index);
        edit(&store, &mut builder, prepared)?;
        Ok(builder.build()?)
    })?;
    println!("{}", raw.digest());
    Ok(ExitCode::SUCCESS)
}

/// Runs an index subcommand.
pub(crate) fn index(cmd: IndexCommand) -> CmdResult {
    with_chain(run_index(cmd))
}

fn run_index(cmd: IndexCommand) -> CmdResult {
    match cmd {
        IndexCommand::Create(args) => {
            let (dest, to) = open_destination(&args.to, &args.transport)?;
            let tag = destination_tag(&args.to, &to)?;
            let mut builder = IndexBuilder::new();
            if args.edit.replace {
                builder = builder.on_duplicate(OnDuplicate::Replace);
            }
            match args.format {
                Some(FormatArg::Oci) => builder = builder.flavor(Flavor::Oci),
                Some(FormatArg::Docker) => builder = builder.flavor(Flavor::Docker),
                None => {}
            }
            let entries = copy_sources(&dest, &args.sources, &args.transport)?;
            add_entries(&dest, &mut builder, &entries)?;
            if !args.platforms.is_empty() {
                let wanted = args
                    .platforms
                    .iter()
                    .map(|p| Platform::parse(p))
                    .collect::<Result<Vec<_>, _>>()?;
                builder.retain_platforms(&wanted);
            }
            apply_annotations(&mut builder, &args.edit.annotations)?;
            finish_index(&dest, &builder, tag.as_ref())
        }
        IndexCommand::Append(args) => edit_index(
            &args.index,
            &args.transport,
            |store| copy_sources(store, &args.sources, &args.transport),
            |store, builder, entries| {
                if args.edit.replace {
                    *builder = std::mem::take(builder).on_duplicate(OnDuplicate::Replace);
                }
                add_entries(store, builder, &entries)?;
                apply_annotations(builder, &args.edit.annotations)
            },
        ),
        IndexCommand::Remove(args) => edit_index(
            &args.index,
            &args.transport,
            |_| Ok(()),
            |_, builder, ()| {
                let mut removed = 0;
                for p in &args.platforms {
                    let platform = Platform::parse(p)?;
                    let n = builder.remove_platform(&platform);
                    if n == 0 {
                        return Err(
                            format!("{}: no image for platform {platform}", args.index).into()
                        );
                    }
                    removed += n;
                }
                for d in &args.digests {
                    let digest = slipway_oci::Digest::parse(d)?;
                    if !builder.remove_digest(&digest) {
                        return Err(format!("{}: no entry {digest}", args.index).into());
                    }
                    removed += 1;
                }
                eprintln!(
                    "removed {removed} entr{}",
                    if removed == 1 { "y" } else { "ies" }
                );
                Ok(())
            },
        ),
    }
}

/// `slipway copy`.
pub(crate) fn copy(args: &CopyArgs) -> CmdResult {
    with_chain(run_copy(args))
}

fn run_copy(args: &CopyArgs) -> CmdResult {
    let (src, desc) = open_source(&args.src, &args.transport)?;
    let dst_ref = Reference::parse(&args.dst)?;
    let tag = destination_tag(&args.dst, &dst_ref)?;
    let dst = match (&src, &dst_ref) {
        // Between repositories of one registry, blobs are mounted instead of sent again.
        (AnyStore::Registry(s), Reference::Registry(d)) if s.registry() == d.registry => {
            AnyStore::Registry(RegistryStore::new(
                d,
                RegistryOptions::default()
                    .plain_http(args.transport.plain_http)
                    .mount_from(vec![s.repository().to_owned()]),
            )?)
        }
        _ => open(&dst_ref, &options(&args.transport).create(true))?,
    };
    let mut copy_options = CopyOptions::default().all(args.all);
    if let Some(p) = &args.platform {
        copy_options = copy_options.platform(Platform::parse(p)?);
    }
    let report = copy_image(
        &src,
        &ManifestRef::Digest(desc.digest),
        &dst,
        tag.as_ref(),
        &copy_options,
    )
    .map_err(|e| chain(&e))?;
    eprintln!(
        "copied {} blobs ({} bytes); {} already present",
        report.blobs_copied, report.bytes_copied, report.blobs_skipped
    );
    println!("{}", report.manifest.digest);
    Ok(ExitCode::SUCCESS)
}

/// `slipway inspect`.
pub(crate) fn inspect(args: &InspectArgs) -> CmdResult {
    with_chain(run_inspect(args))
}

fn run_inspect(args: &InspectArgs) -> CmdResult {
    let (layout, desc) = open_source(&args.reference, &args.transport)?;
    let (mut raw, mut decoded) = layout.get_decoded(&ManifestRef::Digest(desc.digest.clone()))?;
    let wanted = match &args.platform {
        Some(p) => Some(Platform::parse(p)?),
        // The config belongs to one image: pick this host's, as skopeo does.
        None if args.config => Some(Platform::host()),
        None => None,
    };
    if let (Some(platform), Manifest::Index(index)) = (&wanted, &decoded) {
        let entry = select_platform(index, platform)
            .ok_or_else(|| format!("{}: no image for platform {platform}", args.reference))?;
        (raw, decoded) = layout.get_decoded(&ManifestRef::Digest(entry.digest.clone()))?;
    }
    let mut out = std::io::stdout().lock();
    if args.referrers {
        let mut index = slipway_oci::manifest::ImageIndex::new(Flavor::Oci);
        index.manifests = slipway_oci::store::Referrers::referrers(&layout, raw.digest(), None)?;
        writeln!(out, "{}", serde_json::to_string_pretty(&index)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    if args.config {
        let Manifest::Image(m) = &decoded else {
            return Err(format!("{}: an index has no config", args.reference).into());
        };
        let bytes = layout.read_descriptor(&m.config)?;
        if args.raw {
            out.write_all(&bytes)?;
        } else {
            let value: Value = serde_json::from_slice(&bytes)?;
            writeln!(out, "{}", serde_json::to_string_pretty(&value)?)?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    if args.raw {
        out.write_all(raw.bytes())?;
        return Ok(ExitCode::SUCCESS);
    }
    let summary = summarize(&args.reference, &layout, &raw, &decoded)?;
    writeln!(out, "{}", serde_json::to_string_pretty(&summary)?)?;
    Ok(ExitCode::SUCCESS)
}

fn summarize(
    reference: &str,
    layout: &AnyStore,
    raw: &RawManifest,
    decoded: &Manifest,
) -> Result<Value, Error> {
    let tags: Vec<String> = layout.tags()?.iter().map(ToString::to_string).collect();
    Ok(match decoded {
        Manifest::Index(index) => {
            let manifests: Vec<Value> = index
                .manifests
                .iter()
                .map(|d| {
                    json!({
                        "Digest": d.digest.as_str(),
                        "MediaType": d.media_type,
                        "Size": d.size,
                        "Platform": d.platform.as_ref().map(ToString::to_string),
                        "Attestation": d.is_attestation(),
                        "Annotations": d.annotations,
                    })
                })
                .collect();
            json!({
                "Name": reference,
                "Digest": raw.digest().as_str(),
                "MediaType": raw.media_type(),
                "Tags": tags,
                "Annotations": index.annotations,
                "Manifests": manifests,
            })
        }
        Manifest::Image(m) => {
            let config = ImageConfig::from_slice(&layout.read_descriptor(&m.config)?)?;
            let runtime = config.config.clone().unwrap_or_default();
            json!({
                "Name": reference,
                "Digest": raw.digest().as_str(),
                "MediaType": raw.media_type(),
                "Tags": tags,
                "Created": config.created,
                "Platform": config.platform().to_string(),
                "Architecture": config.architecture,
                "Os": config.os,
                "Variant": config.variant,
                "User": runtime.user,
                "Entrypoint": runtime.entrypoint,
                "Cmd": runtime.cmd,
                "Env": runtime.env,
                "Annotations": m.annotations,
                "Layers": m.layers.iter().map(|l| l.digest.as_str()).collect::<Vec<_>>(),
            })
        }
    })
}
