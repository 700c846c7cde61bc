//! Edits on files: which file, which format, bounded reads, writes only when something changed.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::argocd::{self, SourceKind};
use crate::error::{Error, Result};
use crate::helm::HelmKeys;
use crate::image::ImageSpec;
use crate::{flux, helm, kustomize};

/// The largest file an edit reads (`GitOps` files are small; anything bigger is not one).
pub const FILE_LIMIT: u64 = 4 * 1024 * 1024;

/// The kinds of file `set-image` edits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Format {
    /// A kustomization's `images:`.
    Kustomize,
    /// A Helm values file.
    Helm,
    /// Flux setter comments.
    Flux,
    /// Argo CD Image Updater's `.argocd-source-APP.yaml`.
    ArgoCd,
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "kustomize" => Ok(Format::Kustomize),
            "helm" => Ok(Format::Helm),
            "flux" => Ok(Format::Flux),
            "argocd" => Ok(Format::ArgoCd),
            other => Err(format!(
                "unknown format `{other}` (expected kustomize, helm, flux or argocd)"
            )),
        }
    }
}

const KUSTOMIZATIONS: [&str; 3] = ["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// What to write, and where.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SetImage {
    /// The image.
    pub image: ImageSpec,
    /// The format; guessed from the file when `None`.
    pub format: Option<Format>,
    /// Argo CD application name (the write-back file's name), or Flux policy `NS:POLICY` to edit.
    pub app: Option<String>,
    /// Helm key paths.
    pub helm: HelmKeys,
}

impl SetImage {
    /// Writes `image`, format guessed.
    pub fn new(image: ImageSpec) -> Self {
        SetImage {
            image,
            format: None,
            app: None,
            helm: HelmKeys::default(),
        }
    }

    /// Sets the format.
    #[must_use]
    pub fn format(mut self, format: Option<Format>) -> Self {
        self.format = format;
        self
    }

    /// Sets the Argo CD application (or Flux policy).
    #[must_use]
    pub fn app(mut self, app: Option<String>) -> Self {
        self.app = app;
        self
    }
}

/// Reads a file of at most [`FILE_LIMIT`] bytes; `None` when it does not exist.
///
/// Only a regular file is read: a symbolic link (which a cloned repository may hold, pointing anywhere on
/// this machine) or a device is refused without being opened.
pub fn read_bounded(path: &Path) -> Result<Option<String>> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => {
            return Err(Error::TooLarge {
                path: path.to_owned(),
                limit: FILE_LIMIT,
                reason: "a symbolic link, not a regular file",
            });
        }
        Ok(meta) if !meta.is_file() => {
            return Err(Error::TooLarge {
                path: path.to_owned(),
                limit: FILE_LIMIT,
                reason: "not a regular file",
            });
        }
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(Error::Io {
                operation: "read",
                path: path.to_owned(),
                source,
            });
        }
    }
    let file = match fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(Error::Io {
                operation: "read",
                path: path.to_owned(),
                source,
            });
        }
    };
    let meta = file.metadata().map_err(|source| Error::Io {
        operation: "read",
        path: path.to_owned(),
        source,
    })?;
    if !meta.is_file() {
        return Err(Error::TooLarge {
            path: path.to_owned(),
            limit: FILE_LIMIT,
            reason: "not a regular file",
        });
    }
    let mut bytes = Vec::new();
    file.take(FILE_LIMIT + 1)
        .read_to_end(&mut bytes)
        .map_err(|source| Error::Io {
            operation: "read",
            path: path.to_owned(),
            source,
        })?;
    if bytes.len() as u64 > FILE_LIMIT {
        return Err(Error::TooLarge {
            path: path.to_owned(),
            limit: FILE_LIMIT,
            reason: "larger than the limit",
        });
    }
    String::from_utf8(bytes).map(Some).map_err(|_| Error::Yaml {
        file: path.display().to_string(),
        line: 1,
        column: 1,
        reason: "not UTF-8",
    })
}

/// Writes through a temporary file renamed into place, so a reader never sees half a file.
///
/// The temporary file is created anew (`O_EXCL`): whatever a repository holds at its name (a stale file, a
/// symbolic link planted to redirect the write) is removed first, never written through.
pub fn write_file(path: &Path, text: &str) -> Result<()> {
    use std::io::Write as _;
    let tmp = path.with_extension("slipway-tmp");
    let err = |source| Error::Io {
        operation: "write",
        path: tmp.clone(),
        source,
    };
    match fs::remove_file(&tmp) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(err(e)),
        _ => {}
    }
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&tmp)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(err)?;
    fs::rename(&tmp, path).map_err(|source| Error::Io {
        operation: "write",
        path: path.to_owned(),
        source,
    })
}

/// The file to edit when `path` is a directory, and its format.
pub fn resolve(path: &Path, req: &SetImage) -> Result<(PathBuf, Format)> {
    if !path.is_dir() {
        let format = match req.format {
            Some(f) => f,
            None => guess(path)?,
        };
        return Ok((path.to_owned(), format));
    }
    let kustomization = KUSTOMIZATIONS
        .iter()
        .map(|n| path.join(n))
        .find(|p| p.is_file());
    let argocd = req
        .app
        .as_ref()
        .map(|app| path.join(argocd::file_name(app)));
    let values = path.join("values.yaml");
    let pick = match req.format {
        Some(Format::ArgoCd) => argocd.map(|a| (a, Format::ArgoCd)),
        Some(Format::Helm) => Some((values, Format::Helm)),
        Some(Format::Kustomize) => kustomization.map(|k| (k, Format::Kustomize)),
        Some(Format::Flux) => None,
        None => match (argocd, kustomization) {
            (Some(a), _) if a.is_file() => Some((a, Format::ArgoCd)),
            (_, Some(k)) => Some((k, Format::Kustomize)),
            _ if values.is_file() => Some((values, Format::Helm)),
            _ => None,
        },
    };
    pick.ok_or_else(|| Error::UnknownFormat {
        path: path.to_owned(),
    })
}

/// The format of a file, from its name and content.
pub fn guess(path: &Path) -> Result<Format> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    if name.starts_with(".argocd-source") {
        return Ok(Format::ArgoCd);
    }
    let text = read_bounded(path)?.unwrap_or_default();
    if text.contains("\"$imagepolicy\"") {
        return Ok(Format::Flux);
    }
    if KUSTOMIZATIONS.contains(&name) || text.lines().any(|l| l.starts_with("kind: Kustomization"))
    {
        return Ok(Format::Kustomize);
    }
    if name.starts_with("values")
        || path
            .parent()
            .is_some_and(|p| p.join("Chart.yaml").is_file())
    {
        return Ok(Format::Helm);
    }
    Err(Error::UnknownFormat {
        path: path.to_owned(),
    })
}

/// Applies `req` to a file's text.
pub fn edit_text(format: Format, path: &Path, text: &str, req: &SetImage) -> Result<String> {
    let file = path.display().to_string();
    match format {
        Format::Kustomize => kustomize::set_image(&file, text, &req.image),
        Format::Helm => helm::set_image(&file, text, &req.image, &req.helm),
        Format::Flux => flux::set_image(&file, text, &req.image, req.app.as_deref()),
        Format::ArgoCd => {
            let dir = path.parent().unwrap_or(Path::new("."));
            let kind = if dir.join("Chart.yaml").is_file() || dir.join("values.yaml").is_file() {
                SourceKind::Helm
            } else {
                SourceKind::Kustomize
            };
            argocd::set_image(&file, text, &req.image, kind)
        }
    }
}

/// Applies `req` to `path` (a file, or a directory holding a kustomization, an Argo CD write-back file or
/// values.yaml). Returns the file written, or `None` when it already said so.
pub fn set_image_in(path: &Path, req: &SetImage) -> Result<Option<PathBuf>> {
    let (file, format) = resolve(path, req)?;
    let old = match read_bounded(&file)? {
        Some(text) => text,
        None if format == Format::ArgoCd => String::new(),
        None => {
            return Err(Error::Io {
                operation: "read",
                path: file,
                source: std::io::Error::from(std::io::ErrorKind::NotFound),
            });
        }
    };
    let new = edit_text(format, &file, &old, req)?;
    if new == old {
        return Ok(None);
    }
    write_file(&file, &new)?;
    Ok(Some(file))
}
