//! `slipway deploy init`: the `deploy/base` + `deploy/overlays/{dev,staging,prod}` layout for a Go service,
//! written by `slipway_gitops::env::init`.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::CmdResult;

/// The largest go.mod read to name the service (a go.mod is a few kilobytes).
const MAX_GO_MOD: u64 = 1024 * 1024;

/// Write deploy/base (Deployment, Service) and the overlays dev, staging and prod for a Go service.
#[derive(Debug, clap::Args)]
pub(crate) struct InitArgs {
    /// The service's directory; the layout goes into DIR/deploy.
    #[arg(short = 'C', value_name = "DIR", default_value = ".")]
    dir: PathBuf,
    /// The service's name (a DNS label: Deployment, Service and image name); default: the last element of
    /// the go.mod module path (without a /vN suffix), else the directory's name.
    #[arg(long, value_name = "NAME")]
    name: Option<String>,
    /// Overwrite files of the layout that exist already.
    #[arg(long)]
    force: bool,
}

pub(crate) fn run(args: &InitArgs) -> CmdResult {
    let name = service_name(&args.dir, args.name.as_deref())?;
    let deploy = args.dir.join("deploy");
    let written = slipway_gitops::env::init(&deploy, &name, args.force).map_err(chain)?;
    for file in &written {
        println!("{}", file.display());
    }
    println!(
        "wrote the layout of {name}: render it with `kubectl kustomize {}`",
        deploy.join("overlays/dev").display()
    );
    Ok(ExitCode::SUCCESS)
}

/// The service's name: `--name` checked as a DNS label, else [`default_name`] (also `slipway init`'s).
pub(crate) fn service_name(dir: &Path, given: Option<&str>) -> Result<String, String> {
    match given {
        Some(name) => {
            check_label(name).map_err(|reason| format!("--name {name:?}: {reason}"))?;
            Ok(name.to_owned())
        }
        None => default_name(dir),
    }
}

/// An error and its sources, joined by `: ` ([`crate::deploy::chain`] for errors taken by value, as
/// `map_err` hands them).
#[allow(clippy::needless_pass_by_value)] // `map_err(chain)` passes the error by value
pub(crate) fn chain(err: impl std::error::Error) -> String {
    crate::deploy::chain(&err)
}

/// Why `name` is not a DNS-1123 label (what Kubernetes accepts as a Deployment or Service name).
fn check_label(name: &str) -> Result<(), &'static str> {
    if name.is_empty() || name.len() > 63 {
        return Err("a name is 1 to 63 characters");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err("a name holds only lower-case letters, digits and '-'");
    }
    if name.starts_with('-') || name.ends_with('-') {
        return Err("a name starts and ends with a letter or digit");
    }
    Ok(())
}

/// The service's name from DIR/go.mod's module path, else from the directory's name, made a DNS label.
fn default_name(dir: &Path) -> Result<String, String> {
    let from_module = read_module_path(dir)?.map(|path| {
        let mut elems = path.rsplit('/');
        let last = elems.next().unwrap_or_default();
        // `example.com/api/v2` names the service `api`, as Go names its package.
        let is_major = last.len() > 1
            && last.starts_with('v')
            && last[1..].bytes().all(|b| b.is_ascii_digit());
        if is_major {
            elems.next().unwrap_or(last).to_owned()
        } else {
            last.to_owned()
        }
    });
    let raw = match from_module {
        Some(name) => name,
        None => std::path::absolute(dir)
            .ok()
            .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_default(),
    };
    let label = to_label(&raw);
    check_label(&label).map_err(|reason| {
        format!("cannot name the service from {raw:?} ({reason}); pass --name NAME")
    })?;
    Ok(label)
}

/// `My_Service.v2` -> `my-service-v2`.
fn to_label(raw: &str) -> String {
    let mapped: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let trimmed = mapped.trim_matches('-');
    trimmed[..trimmed.len().min(63)]
        .trim_end_matches('-')
        .to_owned()
}

/// The `module` path of DIR/go.mod; `None` without a go.mod.
fn read_module_path(dir: &Path) -> Result<Option<String>, String> {
    Ok(read_go_mod(dir)?.and_then(|modfile| modfile.module.map(|m| m.path)))
}

/// DIR/go.mod as `go` reads it (bounded by [`MAX_GO_MOD`]); `None` without a go.mod.
pub(crate) fn read_go_mod(dir: &Path) -> Result<Option<slipway_gomod::modfile::ModFile>, String> {
    let path = dir.join("go.mod");
    let file = match std::fs::File::open(&path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    let mut bytes = Vec::new();
    file.take(MAX_GO_MOD + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if bytes.len() as u64 > MAX_GO_MOD {
        return Err(format!(
            "{}: larger than {MAX_GO_MOD} bytes; pass --name NAME",
            path.display()
        ));
    }
    let src = String::from_utf8_lossy(&bytes);
    let name = path.display().to_string();
    let modfile = slipway_gomod::modfile::ModFile::parse_lax(&name, &src).map_err(chain)?;
    Ok(Some(modfile))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_become_dns_labels() {
        assert_eq!(to_label("My_Service.v2"), "my-service-v2");
        assert_eq!(to_label("--api--"), "api");
        assert!(check_label("api").is_ok());
        assert!(check_label("Api").is_err());
        assert!(check_label("-api").is_err());
        assert!(check_label(&"a".repeat(64)).is_err());
    }
}
