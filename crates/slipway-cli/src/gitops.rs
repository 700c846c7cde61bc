//! `slipway gitops`: write an image into a `GitOps` repository (`set-image`) or copy one environment's
//! images to the next (`promote`), over `slipway-gitops`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;
use slipway_gitops::git::{Change, Delivery};
use slipway_gitops::{Format, GitRepo, ImageSpec, Outcome, PushOptions, SetImage, env, files};

use crate::CmdResult;
use crate::deploy_init::chain;

/// Subcommands of `slipway gitops`.
#[derive(Debug, Subcommand)]
pub(crate) enum GitopsCommand {
    /// Write an image into a kustomization, Helm values, Flux setters or an Argo CD write-back file, and
    /// commit it (no commit when the file already says so).
    SetImage(SetImageArgs),
    /// Make environment --to run exactly the images (digests) environment --from runs.
    Promote(PromoteArgs),
}

/// Where the repository is: a working clone, or a URL cloned into a temporary directory.
#[derive(Debug, clap::Args)]
pub(crate) struct RepoArgs {
    /// A working clone (committed in place), or a URL (file://, ssh://, https://, `host:path`) cloned into a
    /// temporary directory; credentials come from git's usual places (credential helpers, ssh-agent).
    #[arg(long, value_name = "URL|DIR")]
    repo: String,
    /// Push the commit to the remote (`origin`); a non-fast-forward is fetched, re-applied and retried.
    #[arg(long)]
    push: bool,
}

/// Arguments of `slipway gitops set-image`.
#[derive(Debug, clap::Args)]
pub(crate) struct SetImageArgs {
    #[command(flatten)]
    repo: RepoArgs,
    /// The file to edit, or a directory holding it, relative to the repository root; with --env the
    /// deploy directory (the file is PATH/overlays/ENV/kustomization.yaml).
    #[arg(long, value_name = "FILE|DIR")]
    path: PathBuf,
    /// The image as `kustomize edit set image` takes it: `NAME=NEWNAME:TAG`, `NAME=NEWNAME@DIGEST`,
    /// `NAME:TAG`. A digest pins by digest; a tag is written as a tag.
    #[arg(long, value_name = "REF")]
    image: String,
    /// The environment whose overlay to edit.
    #[arg(long, value_name = "NAME")]
    env: Option<String>,
    /// The file's format (guessed from its name and content when absent).
    #[arg(long, value_name = "FORMAT", value_parser = ["kustomize", "helm", "flux", "argocd"])]
    format: Option<String>,
    /// The Argo CD application (names `.argocd-source-APP.yaml`), or the Flux policy `NS:POLICY` to edit.
    #[arg(long, value_name = "NAME")]
    app: Option<String>,
    /// Push to this new branch for review instead of the checked-out branch (the commit is also on the
    /// checked-out branch of a working clone).
    #[arg(long, value_name = "NAME")]
    branch: Option<String>,
    /// The commit message; `{image}`, `{name}`, `{tag}`, `{digest}`, `{source_commit}`, `{env}` and
    /// `{file}` are replaced.
    #[arg(long, value_name = "TEMPLATE")]
    message: Option<String>,
    /// Look the tag up in the registry and pin the digest it names now (the tag is kept beside it).
    #[arg(long)]
    resolve: bool,
}

/// Arguments of `slipway gitops promote`.
#[derive(Debug, clap::Args)]
pub(crate) struct PromoteArgs {
    #[command(flatten)]
    repo: RepoArgs,
    /// The deploy directory (holding overlays/), relative to the repository root.
    #[arg(long, value_name = "DIR")]
    path: PathBuf,
    /// The environment whose images to copy.
    #[arg(long, value_name = "ENV")]
    from: String,
    /// The environment to change.
    #[arg(long, value_name = "ENV")]
    to: String,
}

pub(crate) fn run(cmd: GitopsCommand) -> CmdResult {
    match cmd {
        GitopsCommand::SetImage(args) => set_image(&args),
        GitopsCommand::Promote(args) => promote(&args),
    }
}

/// The working clone to edit; holds the temporary directory of a cloned URL until the command ends.
struct Workspace {
    repo: GitRepo,
    _tmp: Option<tempfile::TempDir>,
    cloned: bool,
}

fn open(args: &RepoArgs, options: PushOptions) -> Result<Workspace, String> {
    let dir = Path::new(&args.repo);
    // A working clone has `.git` (a directory, or a file in a linked worktree); anything else — a URL, a
    // bare repository — is cloned.
    if dir.join(".git").exists() {
        let repo = GitRepo::open(dir, options).map_err(chain)?;
        return Ok(Workspace {
            repo,
            _tmp: None,
            cloned: false,
        });
    }
    let tmp = tempfile::Builder::new()
        .prefix("slipway-gitops-")
        .tempdir()
        .map_err(|e| format!("cannot create a temporary directory: {e}"))?;
    let repo =
        GitRepo::clone(&args.repo, &tmp.path().join("repo"), None, options).map_err(chain)?;
    Ok(Workspace {
        repo,
        _tmp: Some(tmp),
        cloned: true,
    })
}

/// Prints what the delivery did.
fn report(outcome: &Outcome, ws: &Workspace, what: &str) {
    match outcome {
        Outcome::Committed {
            commit,
            branch,
            pushed,
            attempts,
        } => {
            println!("committed {commit} on {branch}: {what}");
            if *pushed {
                let tries = if *attempts == 1 {
                    "attempt"
                } else {
                    "attempts"
                };
                println!("pushed to origin {branch} ({attempts} {tries})");
            } else if ws.cloned {
                println!("not pushed (pass --push): the temporary clone is removed");
            }
        }
        _ => println!("nothing changed: {what} already"),
    }
}

fn set_image(args: &SetImageArgs) -> CmdResult {
    let mut spec = ImageSpec::parse(&args.image).map_err(|e| format!("--image: {}", chain(e)))?;
    if args.resolve && spec.digest.is_empty() {
        spec.digest = resolve_digest(&spec)?;
    }
    let format = args
        .format
        .as_deref()
        .map(str::parse::<Format>)
        .transpose()?;
    let (path, format) = match &args.env {
        Some(name) => {
            if format.is_some_and(|f| f != Format::Kustomize) {
                return Err(
                    "--env edits the overlay's kustomization: --format must be kustomize".into(),
                );
            }
            (env::overlay(&args.path, name), Some(Format::Kustomize))
        }
        None => (args.path.clone(), format),
    };
    let options = PushOptions::default()
        .push(args.repo.push)
        .review_branch(args.branch.clone());
    let ws = open(&args.repo, options)?;
    let target = spec.target();
    let request = SetImage::new(spec).format(format).app(args.app.clone());
    let mut delivery = Delivery::new(Change::SetImage { path, request }, target.clone());
    if let Some(message) = &args.message {
        delivery.message.clone_from(message);
    }
    delivery.env.clone_from(&args.env);
    delivery.source_commit = slipway_gitops::git::head_commit(Path::new("."));
    let outcome = ws.repo.deliver_change(&delivery).map_err(chain)?;
    let place = match &args.env {
        Some(env) => format!("{env} runs {target}"),
        None => format!("{} says {target}", args.path.display()),
    };
    report(&outcome, &ws, &place);
    Ok(ExitCode::SUCCESS)
}

/// Pins `image` (`NAME=NEWNAME@DIGEST`) in environment `env`'s overlay under `deploy_dir` of the repository
/// `repo` (a URL is cloned), commits and pushes, as `slipway gitops set-image --env ENV --push` does;
/// returns what happened, for people (`slipway ship --deploy gitops=URL`).
pub(crate) fn pin_in_environment(
    repo: &str,
    deploy_dir: &Path,
    env_name: &str,
    image: &str,
) -> Result<String, String> {
    let spec = ImageSpec::parse(image).map_err(|e| format!("image {image}: {}", chain(e)))?;
    let args = RepoArgs {
        repo: repo.to_owned(),
        push: true,
    };
    let ws = open(&args, PushOptions::default().push(true))?;
    let target = spec.target();
    let request = SetImage::new(spec).format(Some(Format::Kustomize));
    let path = env::overlay(deploy_dir, env_name);
    let mut delivery = Delivery::new(Change::SetImage { path, request }, target.clone());
    delivery.env = Some(env_name.to_owned());
    delivery.source_commit = slipway_gitops::git::head_commit(Path::new("."));
    match ws.repo.deliver_change(&delivery).map_err(chain)? {
        Outcome::Committed {
            commit,
            branch,
            attempts,
            ..
        } => Ok(format!(
            "{env_name} runs {target}: {commit} pushed to {branch} ({attempts} attempt{})",
            if attempts == 1 { "" } else { "s" }
        )),
        _ => Ok(format!(
            "{env_name} already runs {target}: nothing to commit"
        )),
    }
}

/// The digest the registry serves for the image's tag (`latest` when none): `--resolve`, so that the
/// repository pins exactly what the tag names now. Credentials come from the Docker config, as for
/// every registry slipway talks to.
fn resolve_digest(spec: &ImageSpec) -> Result<String, String> {
    let tag = if spec.new_tag.is_empty() {
        "latest"
    } else {
        spec.new_tag.as_str()
    };
    let text = format!("{}:{tag}", spec.target_name());
    let reference = slipway_oci::Reference::parse(&text)
        .map_err(|e| format!("--resolve: {text}: {}", chain(e)))?;
    let slipway_oci::Reference::Registry(registry) = &reference else {
        return Err(format!("--resolve: {text} is not a registry image"));
    };
    let store = slipway_oci::store::open(&reference, &slipway_oci::store::OpenOptions::new())
        .map_err(|e| format!("--resolve: {text}: {}", chain(e)))?;
    let descriptor = store
        .resolve(Some(&registry.target()))
        .map_err(|e| format!("--resolve: {text}: {}", chain(e)))?;
    Ok(descriptor.digest.to_string())
}

fn promote(args: &PromoteArgs) -> CmdResult {
    let options = PushOptions::default().push(args.repo.push);
    let ws = open(&args.repo, options)?;
    let source = env::overlay(&ws.repo.workdir().join(&args.path), &args.from);
    let text = files::read_bounded(&source)
        .map_err(chain)?
        .ok_or_else(|| {
            format!(
                "{}: no such file (is --from {} an environment?)",
                source.display(),
                args.from
            )
        })?;
    let images: Vec<String> =
        slipway_gitops::kustomize::image_entries(&source.display().to_string(), &text)
            .map_err(chain)?
            .iter()
            .map(ImageSpec::target)
            .collect();
    let images = images.join(", ");
    let mut delivery = Delivery::new(
        Change::Promote {
            deploy_dir: args.path.clone(),
            from: args.from.clone(),
            to: args.to.clone(),
        },
        images.clone(),
    );
    delivery.env = Some(args.to.clone());
    let outcome = ws.repo.deliver_change(&delivery).map_err(chain)?;
    report(&outcome, &ws, &format!("{} runs {images}", args.to));
    Ok(ExitCode::SUCCESS)
}
