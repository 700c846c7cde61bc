//! A `GitOps` image bump through slipway-gitops, the way a delivery pipeline hands an image to Argo CD or
//! Flux: a config repository with the `deploy init` layout (`deploy/base` + `deploy/overlays/{dev,staging,
//! prod}`) behind a bare remote; testdata/hello built into an OCI layout for its digest; the staging overlay
//! set to that image by digest, committed and pushed; then staging promoted to prod the same way. Only the
//! bytes of the `images:` entry change; delivering the same image again makes no commit.
//!
//! ```sh
//! bash scripts/install-test-tools.sh --go-only && . scripts/env.sh
//! cargo run --example gitops_bump -- testdata/hello ./cmd/hello registry.example/hello
//! ```
//!
//! Arguments: module directory, main package, the repository name the overlays point at. Everything happens
//! in a temporary directory (the "remote" is a bare repository reached through file://). Go runs offline.

use std::path::{Path, PathBuf};
use std::process::Command;

use slipway::gitops::git::{Change, Delivery};
use slipway::gitops::{GitRepo, ImageSpec, Outcome, PushOptions, SetImage, env};
use slipway::oci::gobuild::{GoImageOptions, build_go_images};
use slipway::oci::platform::Platform;
use slipway::oci::store::OciLayout;

type Error = Box<dyn std::error::Error>;

const SERVICE: &str = "hello";

fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let module_dir = Path::new(args.first().map_or("testdata/hello", String::as_str));
    let package = args.get(1).map_or("./cmd/hello", String::as_str);
    let repository = args.get(2).map_or("registry.example/hello", String::as_str);
    let work = tempfile::tempdir()?;

    // 1. The image: what the overlays will pin is the digest of its index.
    let options = GoImageOptions::new(vec![
        Platform::parse("linux/amd64")?,
        Platform::parse("linux/arm64")?,
    ])
    .created(0)
    .ldflag_x("main.version", "v1.1.0")
    .go_env("GOTOOLCHAIN", "local")
    .go_env("GOPROXY", "off")
    .go_env("GOFLAGS", "-mod=mod");
    let layout = OciLayout::create(work.path().join("layout"))?;
    let digest = build_go_images(module_dir, package, &options, &layout)?
        .top()
        .digest()
        .clone();
    println!("built {SERVICE} index {digest}");

    // 2. A config repository as `slipway deploy init` lays it out, pushed to a bare remote.
    let remote = work.path().join("config.git");
    git(
        work.path(),
        &["init", "-q", "--bare", "-b", "main"],
        &[&remote],
    )?;
    let seed = work.path().join("seed");
    git(work.path(), &["init", "-q", "-b", "main"], &[&seed])?;
    for file in env::init(&seed.join("deploy"), SERVICE, false)? {
        println!("deploy init: {}", file.strip_prefix(&seed)?.display());
    }
    git(&seed, &["add", "."], &[])?;
    git(
        &seed,
        &["commit", "-q", "-m", "deploy: initial layout"],
        &[],
    )?;
    git(&seed, &["push", "-q"], &[&remote, Path::new("main")])?;
    let url = format!("file://{}", remote.display());

    // 3. What a pipeline does: clone, edit, commit, push (a rejected push is fetched, re-applied, retried).
    let options = PushOptions::default()
        .push(true)
        .author("slipway example", "slipway@example.invalid");
    let clone = GitRepo::clone(&url, &work.path().join("clone"), None, options)?;
    let spec = ImageSpec::parse(&format!("{SERVICE}={repository}@{digest}"))?;
    let image = spec.target();
    let staging: PathBuf = env::overlay(Path::new("deploy"), "staging");
    let mut set = Delivery::new(
        Change::SetImage {
            path: staging.clone(),
            request: SetImage::new(spec),
        },
        image.clone(),
    );
    set.env = Some("staging".to_owned());
    report("set-image staging", &clone.deliver_change(&set)?);
    // The same image again: the repository already says so, no commit is made.
    report("set-image staging again", &clone.deliver_change(&set)?);

    // 4. Promotion: prod runs exactly what staging runs (name and digest copied, the old tag dropped).
    let mut promote = Delivery::new(
        Change::Promote {
            deploy_dir: PathBuf::from("deploy"),
            from: "staging".to_owned(),
            to: "prod".to_owned(),
        },
        image,
    );
    promote.env = Some("prod".to_owned());
    report("promote staging -> prod", &clone.deliver_change(&promote)?);

    // 5. What Argo CD or Flux would now see on the remote's main branch.
    print!("{}", git(&remote, &["log", "--format=%h %s", "main"], &[])?);
    let prod = env::overlay(Path::new("deploy"), "prod");
    let diff = git(
        &remote,
        &["diff", "main~2", "main", "--"],
        &[&staging, &prod],
    )?;
    print!("{diff}");
    let shown = git(
        &remote,
        &["show"],
        &[Path::new(&format!("main:{}", prod.display()))],
    )?;
    if !shown.contains(digest.as_str()) {
        return Err(format!("prod does not pin {digest}:\n{shown}").into());
    }
    println!("prod pins {repository}@{digest}");
    Ok(())
}

fn report(what: &str, outcome: &Outcome) {
    match outcome {
        Outcome::Committed {
            commit,
            branch,
            pushed,
            attempts,
        } => println!(
            "{what}: committed {} on {branch}, pushed: {pushed} ({attempts} attempt(s))",
            &commit[..commit.len().min(12)]
        ),
        _ => println!("{what}: unchanged, no commit"),
    }
}

/// Runs `git -C DIR ARGS PATHS` with a fixed identity (a fresh machine may have none configured) and
/// returns its standard output; a failure carries its standard error.
fn git(dir: &Path, args: &[&str], paths: &[&Path]) -> Result<String, Error> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .args(paths)
        .env("GIT_AUTHOR_NAME", "slipway example")
        .env("GIT_AUTHOR_EMAIL", "slipway@example.invalid")
        .env("GIT_COMMITTER_NAME", "slipway example")
        .env("GIT_COMMITTER_EMAIL", "slipway@example.invalid")
        .output()?;
    if !out.status.success() {
        return Err(format!(
            "git {} failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )
        .into());
    }
    Ok(String::from_utf8(out.stdout)?)
}
