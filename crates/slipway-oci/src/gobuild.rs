//! Images from Go main packages, the way ko builds them: no Dockerfile, no daemon.
//!
//! For each platform, `go build` runs with `CGO_ENABLED=0`, `GOOS`/`GOARCH` and the variant's `GOARM`,
//! `GOAMD64` or `GOARM64`, `-trimpath`, and `-ldflags -X` for the version. Each image gets:
//!
//! 1. a layer of CA certificates (when given), identical for every platform and so stored once;
//! 2. a layer with the binary at `/ko-app/<name>` and, when the package has a `kodata/` directory, its files
//!    under `/var/run/ko` (`KO_DATA_PATH`), as ko lays them out, so images move between the two tools;
//!
//! on an empty base, with a non-root user (`65532:65532`), the binary as entrypoint, and the OCI annotations
//! given in [`GoImageOptions::annotation`]. Builds are reproducible: Go builds with `-trimpath` are, layers
//! are (see [`image`]), and every timestamp is `SOURCE_DATE_EPOCH` or the epoch. Platforms
//! build in parallel.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::image::{self, BuiltImage, ImageBuilder, Layer, LayerBuilder};
use crate::index::{self, IndexBuilder};
use crate::manifest::{Flavor, RawManifest};
use crate::platform::Platform;
use crate::store::{BlobStore, ManifestStore};

/// Where ko (and slipway) put the binary and the package's `kodata/` files.
pub const APP_DIR: &str = "/ko-app";
/// Where the package's `kodata/` directory is placed in the image.
pub const DATA_DIR: &str = "/var/run/ko";
/// Where the CA certificate bundle is placed, the path Go's crypto/x509 reads first on Linux.
pub const CA_CERTIFICATES_PATH: &str = "/etc/ssl/certs/ca-certificates.crt";
/// The user images run as: distroless's `nonroot`.
pub const NONROOT_USER: &str = "65532:65532";

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
    /// Assembling or storing an image failed.
    #[error(transparent)]
    Image(#[from] image::Error),
    /// Assembling the index failed.
    #[error(transparent)]
    Index(#[from] index::Error),
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
}

/// What [`build_go_images`] wrote.
#[derive(Debug, Clone)]
pub struct GoImages {
    /// One image per platform, in the order asked for.
    pub images: Vec<BuiltImage>,
    /// The index over them when more than one platform was built.
    pub index: Option<RawManifest>,
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
            "only linux images can be built on an empty base",
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

/// Adds every file and directory under `dir` to `layer` below `target`, in sorted order.
fn add_tree(mut layer: LayerBuilder, dir: &Path, target: &str) -> Result<LayerBuilder> {
    fn io_err(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> Error + use<> {
        let path = path.to_path_buf();
        move |source| Error::Io {
            action,
            path,
            source,
        }
    }
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(io_err("reading directory", dir))?
        .collect::<Result<_, _>>()
        .map_err(io_err("reading directory", dir))?;
    entries.sort_by_key(std::fs::DirEntry::file_name);
    for entry in entries {
        let path = entry.path();
        let name = entry.file_name();
        let Some(name) = name.to_str() else {
            return Err(Error::Io {
                action: "adding (the name is not UTF-8)",
                path,
                source: io::Error::from(io::ErrorKind::InvalidData),
            });
        };
        let inside = format!("{target}/{name}");
        // Follow symlinks as ko does: the image gets the content, not a link out of the tree.
        let meta = std::fs::metadata(&path).map_err(io_err("reading", &path))?;
        if meta.is_dir() {
            layer = add_tree(layer.dir(&inside, 0o755), &path, &inside)?;
        } else {
            layer = layer.file_from(&inside, 0o644, path);
        }
    }
    Ok(layer)
}

/// Builds images of the Go main package `package` (`./cmd/hello`) of the module in `module_dir` for each
/// of `options.platforms`, stores them in `store` (blobs first), and, for more than one platform, an index
/// over them. Nothing is tagged: tag [`GoImages::top`] with [`ManifestStore::put_manifest`].
pub fn build_go_images<S>(
    module_dir: &Path,
    package: &str,
    options: &GoImageOptions,
    store: &S,
) -> Result<GoImages>
where
    S: BlobStore + ManifestStore + ?Sized,
{
    if options.platforms.is_empty() {
        return Err(Error::NoPlatforms);
    }
    for (i, platform) in options.platforms.iter().enumerate() {
        if options.platforms[..i].contains(platform) {
            return Err(Error::DuplicatePlatform {
                platform: platform.to_string(),
            });
        }
        go_platform_env(platform)?;
    }
    let name = binary_name(package)?;
    let work = tempfile::tempdir().map_err(|source| Error::Io {
        action: "creating a build directory in",
        path: std::env::temp_dir(),
        source,
    })?;

    // `go build` parallelises inside one build too, but linking is serial: one process per platform keeps
    // both cores busy.
    let binaries: Vec<PathBuf> = std::thread::scope(|scope| {
        let handles: Vec<_> = options
            .platforms
            .iter()
            .enumerate()
            .map(|(i, platform)| {
                let out = work.path().join(format!("{i}-{name}"));
                scope.spawn(move || {
                    go_build(module_dir, package, platform, options, &out).map(|()| out)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect::<Result<_>>()
    })?;

    let ca_layer = match &options.ca_certificates {
        Some(bundle) => Some(
            LayerBuilder::new()
                .mtime(options.created)
                .flavor(options.flavor)
                .file_from(CA_CERTIFICATES_PATH, 0o644, bundle.clone())
                .build()?,
        ),
        None => None,
    };
    let data_dir = module_dir.join(package).join("kodata");
    let has_data = data_dir.is_dir();
    let app = format!("{APP_DIR}/{name}");

    let mut images = Vec::with_capacity(binaries.len());
    for (platform, binary) in options.platforms.iter().zip(&binaries) {
        let mut app_layer = LayerBuilder::new()
            .mtime(options.created)
            .flavor(options.flavor)
            .file_from(&app, 0o755, binary.clone());
        if has_data {
            app_layer = add_tree(app_layer.dir(DATA_DIR, 0o755), &data_dir, DATA_DIR)?;
        }
        let app_layer: Layer = app_layer.build()?;
        let mut image = ImageBuilder::new(platform.clone())
            .flavor(options.flavor)
            .created(options.created)
            .entrypoint([app.as_str()])
            .user(&options.user)
            .env(
                "PATH",
                &format!("{APP_DIR}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"),
            )
            .env("KO_DATA_PATH", DATA_DIR);
        if ca_layer.is_some() {
            image = image.env("SSL_CERT_FILE", CA_CERTIFICATES_PATH);
        }
        for layer in ca_layer.iter().cloned().chain([app_layer]) {
            image = image.layer(layer);
        }
        for (key, value) in &options.annotations {
            image = image.annotation(key, value);
        }
        images.push(image.write_to(store)?);
    }

    let index = if images.len() > 1 {
        let mut builder = IndexBuilder::new().flavor(options.flavor);
        for (key, value) in &options.annotations {
            builder.set_annotation(key.clone(), value.clone());
        }
        for image in &images {
            builder.push(image.descriptor())?;
        }
        let index = builder.build()?;
        store
            .put_manifest(&index, None)
            .map_err(|e| image::Error::Store(crate::store::Error::from_backend(e)))?;
        Some(index)
    } else {
        None
    };
    Ok(GoImages { images, index })
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
