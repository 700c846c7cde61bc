//! `slipway init`: sets a Go service up for continuous delivery. It writes `slipway.toml` (what
//! `slipway ship` reads), the `deploy/` layout (as `slipway deploy init` writes it), and CI definitions
//! that run `slipway ship` on every push and pull/merge request: `.github/workflows/delivery.yml` and
//! `.gitlab-ci.yml`. Files that exist are left alone (and named) unless `--force` is given.
//!
//! The templates live in `crates/slipway-cli/templates/init/`; `@NAME@`-style placeholders are filled
//! from the service (its name, its go.mod's Go version, whether it has a go.sum) and this slipway's
//! version (the one the CI jobs install).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::CmdResult;
use crate::deploy_init::chain;

/// Write slipway.toml, deploy/ and CI definitions (GitHub Actions, GitLab CI) that run `slipway ship`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The service's directory (its go.mod).
    #[arg(short = 'C', value_name = "DIR", default_value = ".")]
    dir: PathBuf,
    /// The service's name (a DNS label: Deployment, Service and image name); default: the last element of
    /// the go.mod module path (without a /vN suffix), else the directory's name.
    #[arg(long, value_name = "NAME")]
    name: Option<String>,
    /// Overwrite files that exist already (without it they are skipped, and named).
    #[arg(long)]
    force: bool,
}

/// `slipway ship`'s configuration.
const SLIPWAY_TOML: &str = include_str!("../templates/init/slipway.toml");
/// The GitHub Actions workflow.
const GITHUB_WORKFLOW: &str = include_str!("../templates/init/delivery.yml");
/// The GitLab CI pipeline.
const GITLAB_CI: &str = include_str!("../templates/init/gitlab-ci.yml");

/// The Go version the GitLab job's `golang:` image is tagged with when go.mod names none.
const DEFAULT_GO_IMAGE_TAG: &str = "1";

/// Why `slipway init` stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum Error {
    /// A directory for the files could not be made.
    #[error("cannot create {}", path.display())]
    CreateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A file could not be written.
    #[error("cannot write {}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// What the templates are filled with.
#[derive(Debug, Clone, PartialEq)]
struct Service {
    /// A DNS label.
    name: String,
    /// The `golang:` image tag: go.mod's go version.
    go_version: String,
    /// The file Go's caches are keyed on in GitHub Actions (`go.sum`, or `go.mod` without one:
    /// setup-go fails on a file that does not exist).
    go_dependency_file: &'static str,
}

/// The files `init` writes besides deploy/, relative to the service's directory, with their text.
fn render(service: &Service) -> Vec<(PathBuf, String)> {
    let fill = |template: &str| {
        template
            .replace("@NAME@", &service.name)
            .replace("@GO_VERSION@", &service.go_version)
            .replace("@GO_DEPENDENCY_FILE@", service.go_dependency_file)
            .replace("@SLIPWAY_VERSION@", env!("CARGO_PKG_VERSION"))
    };
    vec![
        (PathBuf::from("slipway.toml"), fill(SLIPWAY_TOML)),
        (
            Path::new(".github").join("workflows").join("delivery.yml"),
            fill(GITHUB_WORKFLOW),
        ),
        (PathBuf::from(".gitlab-ci.yml"), fill(GITLAB_CI)),
    ]
}

/// The `golang:` image tag for a go.mod: its `go` version (go.mod is read as `slipway deploy init` reads
/// it, leniently, which leaves a `toolchain` line out); [`DEFAULT_GO_IMAGE_TAG`] when it names none or
/// names something no image tag looks like.
fn go_image_tag(modfile: Option<&slipway_gomod::modfile::ModFile>) -> String {
    let version = modfile
        .and_then(|m| m.go.as_ref())
        .map(|g| g.version.as_str());
    // The text goes into YAML unquoted: only what a Go version is made of.
    match version {
        Some(v)
            if !v.is_empty()
                && v.starts_with(|c: char| c.is_ascii_digit())
                && v.bytes()
                    .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase() || b == b'.') =>
        {
            v.to_owned()
        }
        _ => DEFAULT_GO_IMAGE_TAG.to_owned(),
    }
}

/// Writes `text` to `path`: a new file, or with `force` over an existing one. `Ok(false)`: it existed
/// and was left alone.
fn write_new(path: &Path, text: &str, force: bool) -> Result<bool, Error> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|source| Error::CreateDir {
            path: dir.to_owned(),
            source,
        })?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    if force {
        options.create(true).truncate(true);
    } else {
        // create_new: an existing file (or one made meanwhile) is never truncated.
        options.create_new(true);
    }
    let mut file = match options.open(path) {
        Ok(file) => file,
        Err(e) if !force && e.kind() == std::io::ErrorKind::AlreadyExists => return Ok(false),
        Err(source) => {
            return Err(Error::Write {
                path: path.to_owned(),
                source,
            });
        }
    };
    file.write_all(text.as_bytes())
        .map_err(|source| Error::Write {
            path: path.to_owned(),
            source,
        })?;
    Ok(true)
}

pub(crate) fn run(args: &Args) -> CmdResult {
    let dir = &args.dir;
    let name = crate::deploy_init::service_name(dir, args.name.as_deref())?;
    let modfile = crate::deploy_init::read_go_mod(dir)?;
    let service = Service {
        name,
        go_version: go_image_tag(modfile.as_ref()),
        go_dependency_file: if dir.join("go.sum").is_file() {
            "go.sum"
        } else {
            "go.mod"
        },
    };

    let mut written = Vec::new();
    let mut skipped = Vec::new();
    for (rel, text) in render(&service) {
        let path = dir.join(rel);
        if write_new(&path, &text, args.force).map_err(|e| chain(&e))? {
            written.push(path);
        } else {
            skipped.push(path);
        }
    }

    // deploy/ is one layout (the overlays build on base/): written whole, or with any of its files
    // present, left whole to the user.
    let deploy = dir.join("deploy");
    let existing: Vec<PathBuf> = slipway_gitops::env::layout(&service.name)
        .into_iter()
        .map(|(rel, _)| deploy.join(rel))
        .filter(|path| path.exists())
        .collect();
    if existing.is_empty() || args.force {
        written
            .extend(slipway_gitops::env::init(&deploy, &service.name, args.force).map_err(chain)?);
    } else {
        skipped.extend(existing);
    }

    for path in &written {
        println!("wrote {}", path.display());
    }
    for path in &skipped {
        println!("skipped {} (exists; --force overwrites it)", path.display());
    }
    if skipped.iter().any(|p| p.starts_with(&deploy)) {
        println!(
            "left {} as it is: it holds files of the layout already (the rest of it was not written)",
            deploy.display()
        );
    }
    println!(
        "set up {} for continuous delivery: `slipway ship -C {}` runs the pipeline (--print-config shows its configuration)",
        service.name,
        dir.display()
    );
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service() -> Service {
        Service {
            name: "api".to_owned(),
            go_version: "1.22".to_owned(),
            go_dependency_file: "go.sum",
        }
    }

    #[test]
    fn templates_are_filled_completely() {
        for (path, text) in render(&service()) {
            // `actions/checkout@v4` has an `@`; placeholders are `@UPPER_CASE@`.
            let left = text.split('@').skip(1).find(|between| {
                !between.is_empty() && between.bytes().all(|b| b.is_ascii_uppercase() || b == b'_')
            });
            assert_eq!(left, None, "{}: a placeholder is left", path.display());
            assert!(text.contains("api"), "{}", path.display());
        }
    }

    #[test]
    fn the_canary_steps_are_ones_a_rollout_accepts() {
        let (_, text) = render(&service())
            .into_iter()
            .find(|(path, _)| path == Path::new("slipway.toml"))
            .expect("slipway.toml");
        let table: toml::Table = toml::from_str(&text).expect("TOML");
        let mut steps = vec![table["steps"].as_str().expect("steps")];
        for env in table["environments"]
            .as_table()
            .expect("environments")
            .values()
        {
            steps.extend(env.get("steps").and_then(toml::Value::as_str));
        }
        assert_eq!(steps.len(), 2, "{steps:?}");
        for text in steps {
            slipway_deploy::spec::parse_steps(text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
        }
    }

    #[test]
    fn the_gitlab_image_follows_go_mod() {
        let parse = |src: &str| {
            slipway_gomod::modfile::ModFile::parse_lax("go.mod", src).expect("a go.mod")
        };
        assert_eq!(go_image_tag(None), "1");
        assert_eq!(go_image_tag(Some(&parse("module m\n\ngo 1.22\n"))), "1.22");
        assert_eq!(
            go_image_tag(Some(&parse("module m\n\ngo 1.23rc1\n"))),
            "1.23rc1"
        );
        assert_eq!(go_image_tag(Some(&parse("module m\n"))), "1");
    }

    #[test]
    fn existing_files_are_kept_without_force() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("a/b.txt");
        assert!(write_new(&path, "first", false).expect("new"));
        assert!(!write_new(&path, "second", false).expect("kept"));
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "first");
        assert!(write_new(&path, "third", true).expect("forced"));
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "third");
    }
}
