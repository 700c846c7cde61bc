//! Images from Go main packages, the way ko builds them: no Dockerfile, no daemon.
//!
//! For each platform, `go build` runs with `CGO_ENABLED=0`, `GOOS`/`GOARCH` and the variant's `GOARM`,
//! `GOAMD64` or `GOARM64`, `-trimpath`, and `-ldflags -X` for the version. Each image gets:
//!
//! 1. a layer of CA certificates (when given), identical for every platform and so stored once;
//! 2. a layer with the binary at `/ko-app/<name>` and, when the package has a `kodata/` directory, its files
//!    under `/var/run/ko` (`KO_DATA_PATH`), as ko lays them out, so images move between the two tools;
//!
//! on an empty base ([`build_go_images`]) or on a base image from any store ([`build_go_images_on`],
//! [`BaseImage`]), with the binary as entrypoint and the OCI annotations given in
//! [`GoImageOptions::annotation`]. Builds are reproducible: Go builds with `-trimpath` are, layers are (see
//! [`image`]), and every timestamp is `SOURCE_DATE_EPOCH` or the epoch. Platforms build, and their layers
//! compress, in parallel.
//!
//! # On a base image
//!
//! What ko does, checked against its `gobuild.go`, with two deliberate differences marked *(slipway)*:
//!
//! - **Platform choice.** A base index offers one image per platform; each platform asked for takes the
//!   entry whose OS, architecture and variant equal it after normalisation (`arm64/v8` = `arm64`;
//!   attestation entries never match), and a platform the base lacks is an error naming it and the ones the
//!   base has. A single-image base must be for the platform asked for (its config says which), so it
//!   serves exactly one platform.
//! - **Media types follow the base**: a Docker schema 2 base gives Docker manifests, config and layers (and
//!   a Docker manifest list), an OCI base OCI ones, so no manifest mixes the two. [`GoImageOptions::flavor`]
//!   applies only to the empty base. Docker manifests cannot carry annotations, so a Docker-typed result
//!   has none.
//! - **Config**: the base's, with the entrypoint replaced by the binary and the command cleared; `/ko-app`
//!   appended to the base's `PATH` (or `PATH=/ko-app` when it has none) and `KO_DATA_PATH` set; working
//!   directory, labels and other variables kept; the base's diff IDs and history first, ours appended;
//!   `created` = [`GoImageOptions::created`].
//! - **User** *(slipway)*: the base's user is kept when it sets one (ko keeps it too); when it sets none,
//!   the image runs as [`GoImageOptions::user`] (`65532:65532`) rather than ko's root, so no base turns
//!   a slipway image into a root one by omission.
//! - **Annotations**: each image gets `org.opencontainers.image.base.name` (the base reference as given,
//!   normalised) and `org.opencontainers.image.base.digest` (the digest of the platform image manifest it
//!   was built on); the index gets `base.name` and, when the base is an index, `base.digest` = the base
//!   index's digest — as ko writes them.
//! - **Layers** of the base are copied into the destination store only when it lacks them.
//! - **CA certificates** *(slipway)*: the base is expected to bring its own; a bundle is added only when
//!   [`GoImageOptions::ca_certificates`] names one (the CLI adds the host's only on the empty base).
use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::digest::Digest;
use crate::image::{self, BuiltImage, ImageBuilder, Layer, LayerBuilder};
use crate::index::{self, IndexBuilder, select_platform};
use crate::manifest::{self, Descriptor, Flavor, ImageConfig, Manifest, RawManifest};
use crate::platform::Platform;
use crate::reference::ManifestRef;
use crate::store::{self, BlobStore, BlobStoreExt, ManifestStore, ManifestStoreExt};

/// Where ko (and slipway) put the binary and the package's `kodata/` files.
pub const APP_DIR: &str = "/ko-app";
/// Where the package's `kodata/` directory is placed in the image.
pub const DATA_DIR: &str = "/var/run/ko";
/// Where the CA certificate bundle is placed, the path Go's crypto/x509 reads first on Linux.
pub const CA_CERTIFICATES_PATH: &str = "/etc/ssl/certs/ca-certificates.crt";
/// The user images run as: distroless's `nonroot`.
pub const NONROOT_USER: &str = "65532:65532";
/// The annotation naming the base image (OCI pre-defined key).
pub const BASE_NAME: &str = "org.opencontainers.image.base.name";
/// The annotation giving the digest of the base image manifest (OCI pre-defined key).
pub const BASE_DIGEST: &str = "org.opencontainers.image.base.digest";

/// Why a Go image could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No platform was asked for.
    #[error("no platform to build for")]
    NoPlatforms,
    /// The same platform was asked for twice.
    #[error("platform {platform} is asked for twice")]
    DuplicatePlatform {
        /// The platform, as `os/arch[/variant]`.
        platform: String,
    },
    /// The platform cannot be built on an empty base.
    #[error("platform {platform}: {reason}")]
    UnsupportedPlatform {
        /// The platform, as `os/arch[/variant]`.
        platform: String,
        /// Why not.
        reason: &'static str,
    },
    /// The package path is not a Go package path inside the module (`./cmd/hello`).
    #[error("package {package:?}: {reason}")]
    InvalidPackage {
        /// The package as given.
        package: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// `go` could not be started.
    #[error("cannot run {go}")]
    GoNotFound {
        /// The `go` command tried.
        go: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// `go build` failed.
    #[error("go build {package} for {platform} failed:\n{stderr}")]
    GoBuild {
        /// The package.
        package: String,
        /// The platform.
        platform: String,
        /// What `go build` printed on standard error.
        stderr: String,
    },
    /// The package builds, but is not a command (`package main`): there is no program to run.
    #[error(
        "{package} is not a main package: only commands (package main) can be built into images"
    )]
    NotMain {
        /// The package.
        package: String,
    },
    /// Reading the package's files or preparing the build directory failed.
    #[error("{action} {path}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// A symbolic link in the package's `kodata/` (or `kodata/` itself) resolves to a path outside the
    /// module: following it would put files of the building machine into the image.
    #[error(
        "kodata link {} points to {}, outside the module {}",
        link.display(),
        target.display(),
        module.display()
    )]
    KodataLinkOutside {
        /// The link, as found under the module directory given.
        link: PathBuf,
        /// Where it resolves to (every link followed).
        target: PathBuf,
        /// The module directory (resolved).
        module: PathBuf,
    },
    /// A symbolic link in `kodata/` cannot be followed: it dangles, loops onto itself, or its target
    /// cannot be read.
    #[error("kodata link {} -> {} cannot be followed", link.display(), target.display())]
    KodataLink {
        /// The link.
        link: PathBuf,
        /// What the link says (as written in it).
        target: PathBuf,
        /// The OS error (no such file, too many levels of symbolic links, ...).
        source: io::Error,
    },
    /// A directory in `kodata/` leads back to a directory that contains it (through a symbolic link),
    /// so copying it would never end.
    #[error(
        "kodata directory {} is {}, which contains it: a symbolic link loop",
        path.display(),
        target.display()
    )]
    KodataLoop {
        /// The directory (or link to one) as found under the module directory.
        path: PathBuf,
        /// The directory it resolves to.
        target: PathBuf,
    },
    /// An entry of `kodata/` is neither a regular file nor a directory (a FIFO, socket or device), which
    /// cannot go into an image (and reading a FIFO would wait forever).
    #[error(
        "kodata entry {} is a {kind}: only regular files, directories and links to them go into the image",
        path.display()
    )]
    KodataSpecialFile {
        /// The entry (for a link, the link).
        path: PathBuf,
        /// `FIFO`, `socket`, `block device`, `character device`.
        kind: &'static str,
    },
    /// Assembling or storing an image failed.
    #[error(transparent)]
    Image(#[from] image::Error),
    /// Assembling the index failed.
    #[error(transparent)]
    Index(#[from] index::Error),
    /// The base image has no image for a platform asked for.
    #[error(
        "base image {base} has no image for {platform} (it has: {})",
        crate::quote::excerpt(available)
    )]
    BasePlatformMissing {
        /// The base reference.
        base: String,
        /// The platform asked for.
        platform: String,
        /// The platforms the base offers, comma-separated.
        available: String,
    },
    /// A single-image base is for another platform than the one asked for.
    #[error(
        "base image {base} is for {}, not {platform}",
        crate::quote::excerpt(found)
    )]
    BasePlatformMismatch {
        /// The base reference.
        base: String,
        /// The platform asked for.
        platform: String,
        /// The platform of the base image's config.
        found: String,
    },
    /// The base cannot serve as a base (a nested index, an artifact, a broken config).
    #[error("base image {base}: {}", crate::quote::excerpt(reason))]
    InvalidBase {
        /// The base reference.
        base: String,
        /// What is wrong.
        reason: String,
    },
    /// Reading the base image, or copying its layers into the destination, failed.
    #[error("base image {base}")]
    BaseStore {
        /// The base reference.
        base: String,
        /// The store's error (boxed: store errors are large, and this enum is returned everywhere).
        source: Box<store::Error>,
    },
    /// Reading the build information of a built binary failed (for its SBOM).
    #[cfg(feature = "sbom")]
    #[error("reading the Go build information of {path}")]
    BuildInfo {
        /// The binary.
        path: PathBuf,
        /// The reader's error.
        source: slipway_gomod::buildinfo::Error,
    },
}

/// `Result` with this module's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What to build and how (behaviour); the module directory and package are the required data of
/// [`build_go_images`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct GoImageOptions {
    /// The `go` command (default: `go` on `PATH`).
    pub go: PathBuf,
    /// Platforms to build; more than one gives an index.
    pub platforms: Vec<Platform>,
    /// `-ldflags -X` assignments, e.g. `main.version=v1.2.3`.
    pub ldflags_x: Vec<String>,
    /// A CA certificate bundle to place at [`CA_CERTIFICATES_PATH`], or `None` for none.
    pub ca_certificates: Option<PathBuf>,
    /// The user the image runs as.
    pub user: String,
    /// Seconds since the epoch for every timestamp (config `created`, layer mtimes).
    pub created: u64,
    /// Annotations on every image manifest and on the index.
    pub annotations: BTreeMap<String, String>,
    /// Manifest media types.
    pub flavor: Flavor,
    /// Extra environment for `go build` (e.g. `GOFLAGS`, `GOPROXY`).
    pub go_env: Vec<(String, String)>,
    /// Attach an SPDX SBOM of the binaries' Go modules to the index (or the only image; see [`crate::sbom`]).
    #[cfg(feature = "sbom")]
    pub sbom: bool,
}

impl Default for GoImageOptions {
    fn default() -> Self {
        GoImageOptions {
            go: PathBuf::from("go"),
            platforms: Vec::new(),
            ldflags_x: Vec::new(),
            ca_certificates: None,
            user: NONROOT_USER.to_owned(),
            created: 0,
            annotations: BTreeMap::new(),
            flavor: Flavor::Oci,
            go_env: Vec::new(),
            #[cfg(feature = "sbom")]
            sbom: false,
        }
    }
}

impl GoImageOptions {
    /// Options for these platforms, everything else default.
    pub fn new(platforms: Vec<Platform>) -> Self {
        GoImageOptions {
            platforms,
            ..GoImageOptions::default()
        }
    }

    /// The `go` command.
    #[must_use]
    pub fn go(mut self, go: impl Into<PathBuf>) -> Self {
        self.go = go.into();
        self
    }

    /// Adds `-X name=value` to the linker flags (`main.version`, `v1.2.3`).
    #[must_use]
    pub fn ldflag_x(mut self, name: &str, value: &str) -> Self {
        self.ldflags_x.push(format!("{name}={value}"));
        self
    }

    /// The CA certificate bundle to include.
    #[must_use]
    pub fn ca_certificates(mut self, bundle: impl Into<PathBuf>) -> Self {
        self.ca_certificates = Some(bundle.into());
        self
    }

    /// The user the image runs as.
    #[must_use]
    pub fn user(mut self, user: &str) -> Self {
        user.clone_into(&mut self.user);
        self
    }

    /// Every timestamp, in seconds since the epoch (use [`image::source_date_epoch`]).
    #[must_use]
    pub fn created(mut self, secs: u64) -> Self {
        self.created = secs;
        self
    }

    /// An annotation on every image manifest and on the index.
    #[must_use]
    pub fn annotation(mut self, key: &str, value: &str) -> Self {
        self.annotations.insert(key.to_owned(), value.to_owned());
        self
    }

    /// Manifest media types (OCI by default).
    #[must_use]
    pub fn flavor(mut self, flavor: Flavor) -> Self {
        self.flavor = flavor;
        self
    }

    /// An environment variable for `go build`.
    #[must_use]
    pub fn go_env(mut self, key: &str, value: &str) -> Self {
        self.go_env.push((key.to_owned(), value.to_owned()));
        self
    }

    /// Whether to attach an SPDX SBOM to the index, or the only image (off by default in the library).
    #[cfg(feature = "sbom")]
    #[must_use]
    pub fn sbom(mut self, on: bool) -> Self {
        self.sbom = on;
        self
    }
}

/// What [`build_go_images`] wrote.
#[derive(Debug, Clone)]
pub struct GoImages {
    /// One image per platform, in the order asked for.
    pub images: Vec<BuiltImage>,
    /// The index over them when more than one platform was built.
    pub index: Option<RawManifest>,
    /// The SBOM artifact manifest, whose subject is [`GoImages::top`] (`None` when SBOMs are off).
    pub sbom: Option<RawManifest>,
}

impl GoImages {
    /// The manifest to tag: the index, or the only image.
    pub fn top(&self) -> &RawManifest {
        match &self.index {
            Some(index) => index,
            None => self.images[0].manifest(),
        }
    }
}

/// The `go build` environment for a platform: `GOOS`, `GOARCH` and the variant's level variable.
pub fn go_platform_env(platform: &Platform) -> Result<Vec<(&'static str, String)>> {
    let unsupported = |reason| Error::UnsupportedPlatform {
        platform: platform.to_string(),
        reason,
    };
    if platform.os != "linux" {
        // An empty base has no OS files; Windows and the BSDs need a base image with theirs.
        return Err(unsupported(
            "only linux images can be built (Windows needs ko's Files/ and Hives/ layer layout)",
        ));
    }
    let mut env = vec![
        ("GOOS", platform.os.clone()),
        ("GOARCH", platform.architecture.clone()),
    ];
    let variant = platform.variant.as_str();
    match (platform.architecture.as_str(), variant) {
        (_, "") | ("arm64", "v8") => {}
        ("arm", v) => {
            let level = v
                .strip_prefix('v')
                .filter(|l| matches!(*l, "5" | "6" | "7"))
                .ok_or_else(|| unsupported("arm variants are v5, v6 and v7"))?;
            env.push(("GOARM", level.to_owned()));
        }
        ("amd64", v @ ("v1" | "v2" | "v3" | "v4")) => env.push(("GOAMD64", v.to_owned())),
        ("arm64", v) if v.starts_with('v') => env.push(("GOARM64", v.to_owned())),
        _ => return Err(unsupported("Go has no level for this variant")),
    }
    Ok(env)
}

/// The binary's name: the package directory's last element (`./cmd/hello` → `hello`).
fn binary_name(package: &str) -> Result<String> {
    let invalid = |reason| Error::InvalidPackage {
        package: package.to_owned(),
        reason,
    };
    if !(package == "." || package.starts_with("./")) {
        return Err(invalid(
            "give the main package's directory relative to the module, like ./cmd/hello",
        ));
    }
    let trimmed = package.trim_end_matches('/');
    let name = Path::new(trimmed)
        .file_name()
        .and_then(|n| n.to_str())
        .filter(|n| *n != "." && *n != "..")
        .ok_or_else(|| invalid("it names no directory"))?;
    Ok(name.to_owned())
}

/// Runs `go build` for one platform into `out`.
fn go_build(
    module_dir: &Path,
    package: &str,
    platform: &Platform,
    options: &GoImageOptions,
    out: &Path,
) -> Result<()> {
    let mut cmd = Command::new(&options.go);
    cmd.current_dir(module_dir).env("CGO_ENABLED", "0");
    for (key, value) in &options.go_env {
        cmd.env(key, value);
    }
    for (key, value) in go_platform_env(platform)? {
        cmd.env(key, value);
    }
    cmd.args(["build", "-trimpath"]);
    if !options.ldflags_x.is_empty() {
        let flags: Vec<String> = options
            .ldflags_x
            .iter()
            .map(|x| format!("-X={x}"))
            .collect();
        cmd.arg(format!("-ldflags={}", flags.join(" ")));
    }
    cmd.arg("-o").arg(out).arg(package);
    let output = cmd.output().map_err(|source| Error::GoNotFound {
        go: options.go.clone(),
        source,
    })?;
    if output.status.success() {
        // For any other package `go build -o` writes the compiled package archive, not a program.
        let mut magic = [0; 8];
        let archive = std::fs::File::open(out)
            .and_then(|mut f| io::Read::read_exact(&mut f, &mut magic))
            .is_ok_and(|()| &magic == b"!<arch>\n");
        if archive {
            return Err(Error::NotMain {
                package: package.to_owned(),
            });
        }
        Ok(())
    } else {
        Err(Error::GoBuild {
            package: package.to_owned(),
            platform: platform.to_string(),
            stderr: String::from_utf8_lossy(&output.stderr)
                .trim_end()
                .to_owned(),
        })
    }
}

fn io_err(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> Error + use<> {
    let path = path.to_path_buf();
    move |source| Error::Io {
        action,
        path,
        source,
    }
}

/// One entry of the package's `kodata/` tree, as it goes into the image.
#[derive(Debug, Clone, PartialEq, Eq)]
enum DataEntry {
    /// A directory at this path in the image.
    Dir(String),
    /// A regular file at `inside`, read from `source` (every link resolved).
    File { inside: String, source: PathBuf },
}

/// Lists `data_dir` (the package's `kodata/`) as it goes under [`DATA_DIR`], in sorted order.
///
/// Symbolic links are followed, as ko follows them (the image gets the content, not the link), but only
/// while they stay inside `module_dir`: a link that resolves outside it, that cannot be followed, or that
/// leads back into a directory containing it is an error, and so is a FIFO, socket or device. Done once,
/// before anything is compiled, so a refused tree costs no build.
/// `None` when `data_dir` does not exist or is not a directory (as ko, which then adds nothing).
fn scan_kodata(module_dir: &Path, data_dir: &Path) -> Result<Option<Vec<DataEntry>>> {
    match std::fs::symlink_metadata(data_dir) {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err("reading", data_dir)(e)),
    }
    let module = module_dir
        .canonicalize()
        .map_err(io_err("resolving the module directory", module_dir))?;
    let mut walk = KodataWalk {
        module,
        stack: Vec::new(),
        out: Vec::new(),
    };
    let root = walk.resolve(data_dir, data_dir)?;
    if !root.is_dir() {
        return Ok(None);
    }
    walk.dir(data_dir, &root, DATA_DIR)?;
    Ok(Some(walk.out))
}

struct KodataWalk {
    /// The module directory, resolved: no link may lead outside it.
    module: PathBuf,
    /// The resolved directories being listed, outermost first, to catch loops.
    stack: Vec<PathBuf>,
    out: Vec<DataEntry>,
}

impl KodataWalk {
    /// The resolved path of `path` (shown in errors as `shown`, its path under the module as given):
    /// itself unless it is a link, whose target must exist and lie inside the module.
    fn resolve(&self, shown: &Path, path: &Path) -> Result<PathBuf> {
        let meta = std::fs::symlink_metadata(path).map_err(io_err("reading", shown))?;
        if !meta.file_type().is_symlink() {
            return Ok(path.to_path_buf());
        }
        let target = std::fs::read_link(path).map_err(io_err("reading the link", shown))?;
        let resolved = path.canonicalize().map_err(|source| Error::KodataLink {
            link: shown.to_path_buf(),
            target: target.clone(),
            source,
        })?;
        if !resolved.starts_with(&self.module) {
            return Err(Error::KodataLinkOutside {
                link: shown.to_path_buf(),
                target: resolved,
                module: self.module.clone(),
            });
        }
        Ok(resolved)
    }

    /// Lists the directory `shown` (resolved: `real`) into `inside`.
    fn dir(&mut self, shown: &Path, real: &Path, inside: &str) -> Result<()> {
        let canonical = real.canonicalize().map_err(io_err("resolving", shown))?;
        if self.stack.contains(&canonical) {
            return Err(Error::KodataLoop {
                path: shown.to_path_buf(),
                target: canonical,
            });
        }
        self.stack.push(canonical);
        let mut names: Vec<_> = std::fs::read_dir(real)
            .map_err(io_err("reading directory", shown))?
            .map(|entry| entry.map(|e| e.file_name()))
            .collect::<Result<_, _>>()
            .map_err(io_err("reading directory", shown))?;
        names.sort();
        for name in names {
            let shown = shown.join(&name);
            let Some(name) = name.to_str() else {
                return Err(Error::Io {
                    action: "adding (the name is not UTF-8)",
                    path: shown,
                    source: io::Error::from(io::ErrorKind::InvalidData),
                });
            };
            let inside = format!("{inside}/{name}");
            let resolved = self.resolve(&shown, &real.join(name))?;
            let meta = std::fs::metadata(&resolved).map_err(io_err("reading", &shown))?;
            if meta.is_dir() {
                self.out.push(DataEntry::Dir(inside.clone()));
                self.dir(&shown, &resolved, &inside)?;
            } else if meta.is_file() {
                self.out.push(DataEntry::File {
                    inside,
                    source: resolved,
                });
            } else {
                return Err(Error::KodataSpecialFile {
                    path: shown,
                    kind: special_kind(meta.file_type()),
                });
            }
        }
        self.stack.pop();
        Ok(())
    }
}

/// What kind of file other than a regular file, directory or link `file_type` is.
fn special_kind(file_type: std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_fifo() {
            return "FIFO";
        }
        if file_type.is_socket() {
            return "socket";
        }
        if file_type.is_block_device() {
            return "block device";
        }
        if file_type.is_char_device() {
            return "character device";
        }
    }
    let _ = file_type;
    "special file"
}

/// A base image to build on: a manifest (an image, or an index of per-platform images) read from a store,
/// and the name it was asked for by (recorded in the `base.name` annotation).
#[derive(Debug, Clone)]
pub struct BaseImage<B> {
    store: B,
    name: String,
    top: RawManifest,
    decoded: Manifest,
}

/// One platform's image of a base.
#[derive(Debug, Clone)]
struct PlatformBase {
    digest: Digest,
    flavor: Flavor,
    config: ImageConfig,
    layers: Vec<Descriptor>,
}

impl<B> BaseImage<B>
where
    B: BlobStore + ManifestStore,
{
    /// Reads the manifest `target` names in `store`; `name` is the reference it was given as.
    pub fn open(store: B, target: &ManifestRef, name: impl Into<String>) -> Result<Self> {
        let name = name.into();
        let top = store
            .require_manifest(target)
            .map_err(|source| Error::BaseStore {
                base: name.clone(),
                source: Box::new(source),
            })?;
        BaseImage::from_manifest(store, top, name)
    }

    /// A base from a manifest already read from `store` (e.g. a layout's only entry).
    pub fn from_manifest(store: B, top: RawManifest, name: impl Into<String>) -> Result<Self> {
        let name = name.into();
        let decoded = top.decode().map_err(|e| Error::InvalidBase {
            base: name.clone(),
            reason: e.to_string(),
        })?;
        Ok(BaseImage {
            store,
            name,
            top,
            decoded,
        })
    }

    /// The name the base was given as.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The base manifest (image or index).
    pub fn manifest(&self) -> &RawManifest {
        &self.top
    }

    /// The media type flavour of the base's images, which the built images take.
    pub fn flavor(&self) -> Flavor {
        match &self.decoded {
            Manifest::Image(m) => m.flavor(),
            Manifest::Index(i) => i.flavor(),
        }
    }

    fn invalid(&self, reason: impl Into<String>) -> Error {
        Error::InvalidBase {
            base: self.name.clone(),
            reason: reason.into(),
        }
    }

    fn store_error(&self, source: store::Error) -> Error {
        Error::BaseStore {
            base: self.name.clone(),
            source: Box::new(source),
        }
    }

    /// The base's image for `platform`, with its config and layers.
    fn for_platform(&self, platform: &Platform) -> Result<PlatformBase> {
        let (raw, image) = match &self.decoded {
            Manifest::Index(index) => {
                let Some(entry) = select_platform(index, platform) else {
                    let available: Vec<String> = index
                        .manifests
                        .iter()
                        .filter(|d| !d.is_attestation())
                        .filter_map(|d| d.platform.as_ref().map(|p| p.normalize().to_string()))
                        .collect();
                    return Err(Error::BasePlatformMissing {
                        base: self.name.clone(),
                        platform: platform.to_string(),
                        available: if available.is_empty() {
                            "no platforms".to_owned()
                        } else {
                            available.join(", ")
                        },
                    });
                };
                if !manifest::is_manifest(&entry.media_type) {
                    return Err(self.invalid(format!(
                        "its entry for {platform} is a {}, not an image manifest",
                        entry.media_type
                    )));
                }
                let (raw, decoded) = self
                    .store
                    .get_decoded(&ManifestRef::Digest(entry.digest.clone()))
                    .map_err(|e| self.store_error(e))?;
                let Manifest::Image(image) = decoded else {
                    return Err(self.invalid(format!("its entry for {platform} is an index")));
                };
                (raw, image)
            }
            Manifest::Image(image) => (self.top.clone(), image.clone()),
        };
        if image.artifact_type.is_some() || !is_image_config(&image.config.media_type) {
            return Err(self.invalid(format!(
                "{} is not a container image (config {})",
                raw.digest(),
                image.config.media_type
            )));
        }
        let bytes = self
            .store
            .read_descriptor(&image.config)
            .map_err(|e| self.store_error(e))?;
        let config = ImageConfig::from_slice(&bytes).map_err(|e| self.invalid(e.to_string()))?;
        let found = config.platform();
        if !platform.matches(&found) {
            return Err(Error::BasePlatformMismatch {
                base: self.name.clone(),
                platform: platform.to_string(),
                found: found.normalize().to_string(),
            });
        }
        Ok(PlatformBase {
            digest: raw.digest().clone(),
            flavor: image.flavor(),
            config,
            layers: image.layers,
        })
    }

    /// Copies the base layers `layers` into `store` when it lacks them.
    fn copy_layers<S>(&self, layers: &[Descriptor], store: &S) -> Result<()>
    where
        S: BlobStore + ?Sized,
    {
        for layer in layers {
            if !layer.urls.is_empty() {
                // Foreign layers are fetched from their URLs by whoever pulls the image.
                continue;
            }
            if store
                .has_blob(&layer.digest)
                .map_err(|e| self.store_error(e))?
            {
                continue;
            }
            // Opened only when the destination reads it: a registry that mounts the blob from the base's
            // repository never does, so nothing is downloaded.
            let mut reader = LazyBlob {
                store: &self.store,
                digest: &layer.digest,
                reader: None,
            };
            // The destination verifies digest and size before the blob becomes visible.
            store
                .put_blob(&layer.digest, Some(layer.size), &mut reader)
                .map_err(|e| self.store_error(store::Error::from_backend(e)))?;
        }
        Ok(())
    }
}

/// A base blob, opened on first read.
struct LazyBlob<'a, B: BlobStore> {
    store: &'a B,
    digest: &'a Digest,
    reader: Option<store::BlobReader<'a>>,
}

impl<B: BlobStore> io::Read for LazyBlob<'_, B> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.reader.is_none() {
            let opened = self
                .store
                .open_blob(self.digest)
                .map_err(io::Error::other)?;
            let Some(opened) = opened else {
                return Err(io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("base layer {} is not in the base store", self.digest),
                ));
            };
            self.reader = Some(opened);
        }
        match &mut self.reader {
            Some(reader) => reader.read(buf),
            None => Ok(0),
        }
    }
}

fn is_image_config(media_type: &str) -> bool {
    matches!(
        media_type,
        manifest::media_type::OCI_CONFIG | manifest::media_type::DOCKER_CONFIG
    )
}

/// Builds images of the Go main package `package` (`./cmd/hello`) of the module in `module_dir` for each
/// of `options.platforms` on an empty base, stores them in `store` (blobs first), and, for more than one
/// platform, an index over them. Nothing is tagged: tag [`GoImages::top`] with
/// [`ManifestStore::put_manifest`].
pub fn build_go_images<S>(
    module_dir: &Path,
    package: &str,
    options: &GoImageOptions,
    store: &S,
) -> Result<GoImages>
where
    S: BlobStore + ManifestStore + ?Sized,
{
    build(
        module_dir,
        package,
        options,
        None::<&BaseImage<crate::store::MemoryStore>>,
        store,
    )
}

/// Like [`build_go_images`], on `base` (see the [module documentation](self) for what is taken from it).
pub fn build_go_images_on<B, S>(
    module_dir: &Path,
    package: &str,
    options: &GoImageOptions,
    base: &BaseImage<B>,
    store: &S,
) -> Result<GoImages>
where
    B: BlobStore + ManifestStore,
    S: BlobStore + ManifestStore + ?Sized,
{
    build(module_dir, package, options, Some(base), store)
}

/// At least one platform, none twice, each one Go can build.
fn check_platforms(platforms: &[Platform]) -> Result<()> {
    if platforms.is_empty() {
        return Err(Error::NoPlatforms);
    }
    for (i, platform) in platforms.iter().enumerate() {
        if platforms[..i].contains(platform) {
            return Err(Error::DuplicatePlatform {
                platform: platform.to_string(),
            });
        }
        go_platform_env(platform)?;
    }
    Ok(())
}

/// One platform, built: the image in memory, and what its SBOM needs.
struct Built {
    image: BuiltImage,
    base_layers: Vec<Descriptor>,
    #[cfg(feature = "sbom")]
    build_info: Option<slipway_gomod::buildinfo::BuildInfo>,
}

fn build<B, S>(
    module_dir: &Path,
    package: &str,
    options: &GoImageOptions,
    base: Option<&BaseImage<B>>,
    store: &S,
) -> Result<GoImages>
where
    B: BlobStore + ManifestStore,
    S: BlobStore + ManifestStore + ?Sized,
{
    check_platforms(&options.platforms)?;
    let name = binary_name(package)?;
    // Every platform's base is found before anything is compiled: a missing platform fails fast.
    let bases = match base {
        Some(base) => options
            .platforms
            .iter()
            .map(|p| base.for_platform(p).map(Some))
            .collect::<Result<Vec<_>>>()?,
        None => vec![None; options.platforms.len()],
    };
    let flavor = base.map_or(options.flavor, BaseImage::flavor);
    if let Some((base, odd)) = base.zip(bases.iter().flatten().find(|b| b.flavor != flavor)) {
        // A consistent index never holds this, but a hand-made one might: one flavour per result.
        return Err(base.invalid(format!(
            "its image {} has {:?} media types inside a {:?} index",
            odd.digest, odd.flavor, flavor
        )));
    }
    let work = tempfile::tempdir().map_err(|source| Error::Io {
        action: "creating a build directory in",
        path: std::env::temp_dir(),
        source,
    })?;
    let ca_layer = match &options.ca_certificates {
        Some(bundle) => Some(
            LayerBuilder::new()
                .mtime(options.created)
                .flavor(flavor)
                .file_from(CA_CERTIFICATES_PATH, 0o644, bundle.clone())
                .build()?,
        ),
        None => None,
    };
    // `components` drops the `.` of `./cmd/x`, so errors show a plain path.
    let data_dir: PathBuf = module_dir
        .join(package)
        .join("kodata")
        .components()
        .collect();
    let data = scan_kodata(module_dir, &data_dir)?;
    let job = Job {
        module_dir,
        package,
        options,
        name: &name,
        work: work.path(),
        ca_layer: ca_layer.as_ref(),
        data: data.as_deref(),
        flavor,
        base_name: base.map(BaseImage::name),
    };

    // One thread per platform runs `go build` (whose linking is serial) and then compresses that
    // platform's layer, so both cores stay busy through both phases.
    let built: Vec<Built> = std::thread::scope(|scope| {
        let handles: Vec<_> = options
            .platforms
            .iter()
            .zip(bases)
            .enumerate()
            .map(|(i, (platform, base))| {
                let job = &job;
                scope.spawn(move || job.build_platform(i, platform, base))
            })
            .collect();
        crate::threads::join_all(handles)
            .into_iter()
            .collect::<Result<_>>()
    })?;

    let mut images = Vec::with_capacity(built.len());
    #[cfg(feature = "sbom")]
    let mut build_infos = Vec::new();
    for one in built {
        if let Some(base) = base {
            base.copy_layers(&one.base_layers, store)?;
        }
        one.image.write_to(store)?;
        #[cfg(feature = "sbom")]
        build_infos.extend(one.build_info);
        images.push(one.image);
    }

    let index = if images.len() > 1 {
        Some(write_index(&images, options, flavor, base, store)?)
    } else {
        None
    };
    // One SBOM for what gets tagged (the index, or the only image): the binaries of one main package share
    // their modules, and a layout keeps the referrer beside the tag in index.json, where tools that pick
    // `--ref name=` entries (oci-image-tool) cope with one untagged neighbour but not one per platform.
    #[cfg_attr(not(feature = "sbom"), allow(unused_mut))]
    let mut sbom = None;
    #[cfg(feature = "sbom")]
    if !build_infos.is_empty() {
        let subject = match &index {
            Some(index) => index.descriptor(),
            None => images[0].descriptor(),
        };
        let infos: Vec<_> = build_infos.iter().collect();
        sbom = Some(
            crate::sbom::attach(store, &infos, &subject, options.created)
                .map_err(image::Error::Store)?,
        );
    }
    Ok(GoImages {
        images,
        index,
        sbom,
    })
}

/// Writes the index over `images`, annotated like them (OCI only: Docker lists carry no annotations).
fn write_index<B, S>(
    images: &[BuiltImage],
    options: &GoImageOptions,
    flavor: Flavor,
    base: Option<&BaseImage<B>>,
    store: &S,
) -> Result<RawManifest>
where
    S: ManifestStore + ?Sized,
{
    let mut builder = IndexBuilder::new().flavor(flavor);
    if flavor == Flavor::Oci {
        if let Some(base) = base {
            builder.set_annotation(BASE_NAME, base.name.clone());
            if let Manifest::Index(_) = base.decoded {
                builder.set_annotation(BASE_DIGEST, base.top.digest().to_string());
            }
        }
        for (key, value) in &options.annotations {
            builder.set_annotation(key.clone(), value.clone());
        }
    }
    for image in images {
        builder.push(image.descriptor())?;
    }
    let index = builder.build()?;
    store
        .put_manifest(&index, None)
        .map_err(|e| image::Error::Store(crate::store::Error::from_backend(e)))?;
    Ok(index)
}

/// What every platform's build shares.
struct Job<'a> {
    module_dir: &'a Path,
    package: &'a str,
    options: &'a GoImageOptions,
    name: &'a str,
    work: &'a Path,
    ca_layer: Option<&'a Layer>,
    /// The `kodata/` entries, `None` when the package has no `kodata/`.
    data: Option<&'a [DataEntry]>,
    flavor: Flavor,
    base_name: Option<&'a str>,
}

impl Job<'_> {
    fn build_platform(
        &self,
        i: usize,
        platform: &Platform,
        base: Option<PlatformBase>,
    ) -> Result<Built> {
        let options = self.options;
        let binary = self.work.join(format!("{i}-{}", self.name));
        go_build(self.module_dir, self.package, platform, options, &binary)?;
        #[cfg(feature = "sbom")]
        let build_info = if options.sbom {
            Some(
                slipway_gomod::buildinfo::BuildInfo::read_file(&binary).map_err(|source| {
                    Error::BuildInfo {
                        path: binary.clone(),
                        source,
                    }
                })?,
            )
        } else {
            None
        };
        let app = format!("{APP_DIR}/{}", self.name);
        let mut app_layer = LayerBuilder::new()
            .mtime(options.created)
            .flavor(self.flavor)
            .file_from(&app, 0o755, binary.clone());
        if let Some(data) = self.data {
            app_layer = app_layer.dir(DATA_DIR, 0o755);
            for entry in data {
                app_layer = match entry {
                    DataEntry::Dir(inside) => app_layer.dir(inside, 0o755),
                    DataEntry::File { inside, source } => {
                        app_layer.file_from(inside, 0o644, source.clone())
                    }
                };
            }
        }
        let app_layer: Layer = app_layer.build()?;

        let mut image = ImageBuilder::new(platform.clone())
            .flavor(self.flavor)
            .created(options.created)
            .entrypoint([app.as_str()]);
        let mut base_layers = Vec::new();
        match base {
            None => {
                image = image.user(&options.user).env(
                    "PATH",
                    &format!(
                        "{APP_DIR}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
                    ),
                );
            }
            Some(base) => {
                let runtime = base.config.config.clone().unwrap_or_default();
                let path = runtime
                    .env
                    .iter()
                    .find_map(|e| e.strip_prefix("PATH="))
                    .map_or_else(|| APP_DIR.to_owned(), |p| format!("{p}:{APP_DIR}"));
                image = image.env("PATH", &path);
                if runtime.user.as_deref().is_none_or(str::is_empty) {
                    image = image.user(&options.user);
                }
                if let Some(name) = self.base_name {
                    image = image
                        .annotation(BASE_NAME, name)
                        .annotation(BASE_DIGEST, base.digest.as_str());
                }
                base_layers.clone_from(&base.layers);
                image = image.base(base.config, base.layers);
            }
        }
        image = image.env("KO_DATA_PATH", DATA_DIR);
        if self.ca_layer.is_some() {
            image = image.env("SSL_CERT_FILE", CA_CERTIFICATES_PATH);
        }
        for layer in self.ca_layer.into_iter().cloned().chain([app_layer]) {
            image = image.layer(layer);
        }
        for (key, value) in &options.annotations {
            image = image.annotation(key, value);
        }
        Ok(Built {
            image: image.build()?,
            base_layers,
            #[cfg(feature = "sbom")]
            build_info,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(spec: &str) -> Result<Vec<(&'static str, String)>> {
        go_platform_env(&Platform::parse(spec).unwrap())
    }

    #[test]
    fn variants_map_to_go_levels() {
        assert_eq!(
            env_of("linux/arm/v6").unwrap(),
            [
                ("GOOS", "linux".into()),
                ("GOARCH", "arm".into()),
                ("GOARM", "6".into())
            ]
        );
        assert_eq!(
            env_of("linux/amd64/v3").unwrap()[2],
            ("GOAMD64", "v3".into())
        );
        assert_eq!(env_of("linux/arm64").unwrap().len(), 2);
        assert_eq!(env_of("linux/arm64/v8").unwrap().len(), 2);
        assert_eq!(
            env_of("linux/arm64/v8.2").unwrap()[2],
            ("GOARM64", "v8.2".into())
        );
        assert!(matches!(
            env_of("windows/amd64"),
            Err(Error::UnsupportedPlatform { .. })
        ));
        assert!(env_of("linux/amd64/v9").is_err());
    }

    #[test]
    fn binary_names_come_from_the_package_directory() {
        assert_eq!(binary_name("./cmd/hello").unwrap(), "hello");
        assert_eq!(binary_name("./cmd/hello/").unwrap(), "hello");
        assert!(binary_name("example.com/hello/cmd/hello").is_err());
        assert!(binary_name("./..").is_err());
    }

    #[test]
    fn platforms_are_checked_before_anything_is_built() {
        let store = crate::store::MemoryStore::new();
        let dir = Path::new(".");
        let none = GoImageOptions::default();
        assert!(matches!(
            build_go_images(dir, "./cmd/x", &none, &store),
            Err(Error::NoPlatforms)
        ));
        let twice = GoImageOptions::new(vec![
            Platform::parse("linux/arm64").unwrap(),
            Platform::parse("linux/arm64/v8").unwrap().normalize(),
        ]);
        let twice = GoImageOptions {
            platforms: twice.platforms.iter().map(Platform::normalize).collect(),
            ..twice
        };
        assert!(matches!(
            build_go_images(dir, "./cmd/x", &twice, &store),
            Err(Error::DuplicatePlatform { .. })
        ));
        assert_eq!(store.blob_count(), 0);
    }
}
