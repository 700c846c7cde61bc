//! `slipway tag` and `slipway version next`: image tags, annotations and versions, over `slipway-tag`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use clap::Subcommand;
use slipway_tag::{
    Build, BuildRef, CiEnv, Event, Flavor, GitRepo, NextOptions, Options, RefSource, RefSourceExt,
    TagRule, TemplateValues, annotations, compute_tags, is_valid_prerelease_id,
};

use crate::CmdResult;

/// Arguments of `slipway tag`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Run as if started in DIR (the git repository to read).
    #[arg(short = 'C', value_name = "DIR", default_value = ".")]
    dir: PathBuf,
    /// A tag rule in docker/metadata-action syntax (`type=semver,pattern={{version}}`); repeatable.
    /// Without any, metadata-action's defaults: schedule, ref/branch, ref/tag, ref/pr.
    #[arg(long = "rule", value_name = "RULE")]
    rules: Vec<String>,
    /// Flavor: `latest=auto|true|false`, `prefix=…`, `suffix=…`, `onlatest=true`; repeatable.
    #[arg(long = "flavor", value_name = "FLAVOR")]
    flavors: Vec<String>,
    /// The event; by default read from CI variables, else a tag at HEAD means `tag`, otherwise `push`.
    #[arg(long, value_parser = ["push", "tag", "pr", "schedule"])]
    event: Option<String>,
    /// The pull-request number (implies `--event pr` when no event is given).
    #[arg(long = "pr", value_name = "N")]
    pr: Option<u64>,
    /// Print full references `NAME:TAG` for this image; repeatable.
    #[arg(long = "image", value_name = "NAME")]
    images: Vec<String>,
    /// Monorepo tag prefix (`services/api/`): only tags starting with it are this component's releases.
    #[arg(long = "tag-prefix", value_name = "PREFIX")]
    tag_prefix: Option<String>,
    /// Print everything as JSON: tags, version, annotations, goreleaser template values, the build.
    #[arg(long, conflicts_with = "annotations")]
    json: bool,
    /// Print the OCI annotations as `key=value` lines instead of tags.
    #[arg(long)]
    annotations: bool,
    /// Also append the outputs `tags`, `version`, `annotations` and `json` to the file `$GITHUB_OUTPUT`
    /// names (GitHub Actions step outputs), in the `name<<DELIMITER` form with a random delimiter.
    #[arg(long)]
    github_output: bool,
}

/// Arguments of `slipway version`.
#[derive(Debug, clap::Args)]
pub(crate) struct VersionArgs {
    #[command(subcommand)]
    command: Option<VersionCommand>,
}

#[derive(Debug, Subcommand)]
enum VersionCommand {
    /// Print the next release version from the conventional commits since the last release tag.
    Next(NextArgs),
}

#[derive(Debug, clap::Args)]
struct NextArgs {
    /// Run as if started in DIR (the git repository to read).
    #[arg(short = 'C', value_name = "DIR", default_value = ".")]
    dir: PathBuf,
    /// Tag prefix of the releases to consider (`services/api/`); the version may follow it with a `v`.
    #[arg(long, value_name = "P")]
    prefix: Option<String>,
    /// Count only commits touching this path (relative to DIR).
    #[arg(long, value_name = "DIR")]
    path: Option<PathBuf>,
    /// Make a pre-release: `X.Y.Z-ID.N`, N continuing the existing `-ID.N` tags.
    #[arg(long, value_name = "ID")]
    prerelease: Option<String>,
    /// Let a breaking change on 0.x go to 1.0.0 (by default it bumps the minor version).
    #[arg(long)]
    major_on_v0: bool,
}

/// `slipway version [next …]`; `line` is the binary's own version line.
pub(crate) fn version(args: VersionArgs, line: &str) -> CmdResult {
    match args.command {
        None => {
            println!("slipway {line}");
            Ok(ExitCode::SUCCESS)
        }
        Some(VersionCommand::Next(args)) => next(&args),
    }
}

fn next(args: &NextArgs) -> CmdResult {
    let repo = GitRepo::discover(&args.dir)?;
    let mut options = NextOptions::default();
    if let Some(id) = &args.prerelease {
        if !is_valid_prerelease_id(id) {
            return Err(
                format!("--prerelease {id:?} is not a valid pre-release identifier").into(),
            );
        }
        options = options.with_prerelease(id.clone());
    }
    options.major_on_v0 = args.major_on_v0;
    let path = args
        .path
        .as_ref()
        .map(|p| repo_relative(&repo, &args.dir, p));
    let next = repo.next_version(args.prefix.as_deref(), path.as_deref(), &options)?;
    println!("{}", next.tag);
    Ok(ExitCode::SUCCESS)
}

/// `path` (relative to `dir`) as a path relative to the repository's root, which is what pathspecs use.
fn repo_relative(repo: &GitRepo, dir: &Path, path: &Path) -> PathBuf {
    let joined = dir.join(path);
    let (Some(workdir), Ok(full)) = (repo.workdir(), joined.canonicalize()) else {
        return path.to_path_buf();
    };
    let Ok(workdir) = workdir.canonicalize() else {
        return path.to_path_buf();
    };
    full.strip_prefix(&workdir)
        .map_or_else(|_| path.to_path_buf(), Path::to_path_buf)
}

/// `slipway tag`.
// Every subcommand takes its parsed arguments by value (see main.rs); this one only reads them.
#[allow(clippy::needless_pass_by_value)]
pub(crate) fn run(args: Args) -> CmdResult {
    let rules: Vec<TagRule> = if args.rules.is_empty() {
        TagRule::defaults()
    } else {
        args.rules
            .iter()
            .map(|r| r.parse())
            .collect::<Result<_, _>>()?
    };
    let flavor = Flavor::parse(&args.flavors)?;
    // Image names end up in `NAME:TAG` lines other programs read: no control characters.
    if let Some(image) = args
        .images
        .iter()
        .find(|i| i.chars().any(slipway_tag::text::is_control))
    {
        return Err(format!(
            "--image \"{}\": an image name cannot hold control characters",
            slipway_tag::text::escape_control(image)
        )
        .into());
    }
    let mut cli = BuildRef::default();
    cli.event = match args.event.as_deref() {
        Some(e) => Some(e.parse::<Event>()?),
        None => args.pr.map(|_| Event::Pr),
    };
    cli.pr_number = args.pr;
    // The edge of the program: the only place the process environment and clock are read.
    let ci = CiEnv::from_vars(std::env::vars());
    let git = GitRepo::discover(&args.dir)?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    let mut options = Options::default().with_now(now);
    if let Some(p) = &args.tag_prefix {
        options = options.with_tag_prefix(p.clone());
    }
    let source = cli.or(ci).or(git);
    // Read the source here rather than through `tags_for`, so a CI-variable error is shown as itself.
    let build = Build::resolve(source.build_ref()?, options)?;
    let tags = compute_tags(&build, &rules, &flavor)?;
    let refs = if args.images.is_empty() {
        tags.tags.clone()
    } else {
        args.images
            .iter()
            .flat_map(|image| tags.references(image))
            .collect()
    };
    let annotations = annotations(&build, &tags);
    let json = serde_json::json!({
        "tags": refs,
        "version": tags.version,
        "latest": tags.latest,
        "annotations": annotations,
        "templates": TemplateValues::new(&build),
        "build": build,
        "notes": tags.notes,
    });
    if args.github_output {
        let annotation_lines: Vec<String> = annotations
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        write_github_output(&[
            ("tags", refs.join("\n")),
            ("version", tags.version.clone().unwrap_or_default()),
            ("annotations", annotation_lines.join("\n")),
            ("json", serde_json::to_string(&json)?),
        ])?;
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&json)?);
        return Ok(ExitCode::SUCCESS);
    }
    for note in &tags.notes {
        eprintln!("slipway: note: {note}");
    }
    if args.annotations {
        for (key, value) in &annotations {
            println!("{key}={value}");
        }
    } else {
        if refs.is_empty() {
            eprintln!(
                "slipway: note: no rule produced a tag for this {} build",
                build.event
            );
        }
        for r in &refs {
            println!("{r}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Appends `outputs` to the file `$GITHUB_OUTPUT` names, each as `name<<DELIMITER` … `DELIMITER` with a
/// fresh random delimiter that occurs in none of the values (GitHub's documented multi-line form), so no
/// value can end its entry early and forge another.
fn write_github_output(
    outputs: &[(&str, String)],
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    use std::io::Write;
    let Some(path) = std::env::var_os("GITHUB_OUTPUT").filter(|p| !p.is_empty()) else {
        return Err("--github-output: GITHUB_OUTPUT is not set".into());
    };
    let mut text = String::new();
    for (name, value) in outputs {
        let entry = (0..8)
            .find_map(|_| slipway_tag::text::github_output_entry(name, value, &random_delimiter()))
            .ok_or_else(|| format!("--github-output: no delimiter found for output {name}"))?;
        text.push_str(&entry);
    }
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(&path)
        .map_err(|e| {
            format!(
                "--github-output: opening {}: {e}",
                Path::new(&path).display()
            )
        })?;
    file.write_all(text.as_bytes()).map_err(|e| {
        format!(
            "--github-output: writing {}: {e}",
            Path::new(&path).display()
        )
    })?;
    Ok(())
}

/// `ghadelimiter_` and 32 hex digits (as GitHub's toolkit names them), random per process and call:
/// std's `RandomState` keys are seeded from the operating system's random source.
fn random_delimiter() -> String {
    use std::fmt::Write as _;
    use std::hash::{BuildHasher, Hasher};
    let mut hex = String::from("ghadelimiter_");
    for _ in 0..2 {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u8(0);
        let _ = write!(hex, "{:016x}", hasher.finish());
    }
    hex
}
