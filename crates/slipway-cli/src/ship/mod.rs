//! `slipway ship`: a Go service from source to a running, verified rollout, in stages: layout, tidy,
//! vet, lint, test, coverage, tags, image, push, deploy, verify; then a summary (and `--report FILE`).
//!
//! Files go under `target/ship/` in the service's directory: `cover.out`, `logs/STAGE.log` and the OCI
//! image layout `image/` (the default destination; `--to` copies the image on to a registry or another
//! layout).

mod config;
mod coverage;
mod deploy;
mod go;
mod image;
mod report;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use slipway_deploy::state::Phase;

use self::config::Config;
use self::deploy::Target;
use self::report::{Progress, Record, Report, Stage, Verdict};
use crate::CmdResult;

/// The exit statuses, for `--help`.
const EXIT_STATUSES: &str = "\
Exit status: 0 shipped (Healthy, answering); 1 an error before the stages (bad flags or slipway.toml);
2 the rollout is Paused (promote with `slipway deploy promote`); 3 its analysis was Inconclusive;
otherwise the stage that failed: 10 layout, 11 tidy, 12 vet, 13 lint, 14 test, 15 coverage, 16 tags,
17 image, 18 push, 19 deploy (the new version was rolled back), 20 verify.

slipway.toml at the service's root sets: name, package, platforms, repository, deploy, namespace,
strategy, steps, replicas, port, health, progress_deadline, manifests, integration (a command run with
GOCOVERDIR set and $SLIPWAY_COVER_BIN built with -cover; its coverage joins the gates), [stages] (tidy vet lint test race
coverage deploy verify = true|false), [gates] (total, package, diff, diff_base, overrides, exclude),
[analysis] (templates, args, traffic: a path requested through the NodePort during the rollout; on kubesim the
prometheus arg defaults to its Prometheus API) and [environments.NAME] (chosen by $SLIPWAY_ENVIRONMENT). Flags override it;
--print-config shows the result.";

/// Arguments of `slipway ship`.
// Command-line switches are bools by nature.
#[allow(clippy::struct_excessive_bools)]
#[derive(Debug, clap::Args)]
#[command(after_help = EXIT_STATUSES)]
pub(crate) struct Args {
    /// The service's directory (its go.mod and slipway.toml).
    #[arg(short = 'C', value_name = "DIR", default_value = ".")]
    dir: PathBuf,
    /// Where the image goes besides the layout target/ship/image: `oci:DIR[:TAG]` or
    /// `HOST[:PORT]/REPO[:TAG]` (default: slipway.toml's `repository`, else only the layout).
    #[arg(long, value_name = "REF")]
    to: Option<String>,
    /// Where it runs: `kubesim` (in this process, the default), `kubeconfig=FILE`, `knative` (a Knative
    /// Service on the in-process kubesim, canary over revision traffic), `gitops=URL` (the pushed image
    /// pinned by digest in the repository's `deploy/overlays/$SLIPWAY_ENVIRONMENT`, default dev; needs --to a
    /// registry).
    #[arg(long, value_name = "TARGET")]
    deploy: Option<String>,
    /// `rolling`, `blue-green` or `canary` (default: canary).
    #[arg(long, value_name = "STRATEGY")]
    strategy: Option<String>,
    /// Canary steps, e.g. `setWeight=20,pause=30s,setWeight=50,pause` (default: setWeight=50,pause=5s).
    #[arg(long, value_name = "STEPS")]
    steps: Option<String>,
    /// The container port (also given to the service as $PORT; default 8080).
    #[arg(long, value_name = "N")]
    port: Option<u16>,
    /// The HTTP readiness path (default /healthz).
    #[arg(long, value_name = "PATH")]
    health: Option<String>,
    /// A new version whose pods are not ready within this long is rolled back (Go duration; default 2m).
    #[arg(long, value_name = "DURATION")]
    progress_deadline: Option<String>,
    /// Write the summary as JSON here.
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
    /// With the in-process kubesim: keep it and the service running until interrupted (SIGINT).
    #[arg(long)]
    serve: bool,
    /// No progress; only the summary table (and a failing stage's output).
    #[arg(long, short = 'q')]
    quiet: bool,
    /// Print the configuration (slipway.toml merged under the flags) as TOML and exit.
    #[arg(long)]
    print_config: bool,
}

/// How a stage ended, with its key figure and notes.
#[derive(Debug, Clone)]
pub(crate) struct Outcome {
    verdict: Verdict,
    figure: String,
    notes: Vec<String>,
}

impl Outcome {
    pub(crate) fn passed(figure: String) -> Outcome {
        Outcome {
            verdict: Verdict::Passed,
            figure,
            notes: Vec::new(),
        }
    }
    pub(crate) fn failed(figure: String) -> Outcome {
        Outcome {
            verdict: Verdict::Failed,
            figure,
            notes: Vec::new(),
        }
    }
    pub(crate) fn skipped(why: &str) -> Outcome {
        Outcome {
            verdict: Verdict::Skipped,
            figure: format!("skipped: {why}"),
            notes: Vec::new(),
        }
    }
    pub(crate) fn paused(figure: String) -> Outcome {
        Outcome {
            verdict: Verdict::Paused,
            figure,
            notes: Vec::new(),
        }
    }
}

/// The configuration: slipway.toml (and its environment) with the flags over it.
fn configure(args: &Args, dir: &std::path::Path) -> Result<Config, String> {
    let mut config = Config::load(dir).map_err(|e| crate::deploy::chain(&e))?;
    if let Ok(name) = std::env::var("SLIPWAY_ENVIRONMENT")
        && !name.is_empty()
    {
        config
            .select_environment(&name)
            .map_err(|e| crate::deploy::chain(&e))?;
    }
    if let Some(v) = &args.to {
        config.repository = Some(v.clone());
    }
    if let Some(v) = &args.deploy {
        config.deploy.clone_from(v);
    }
    if let Some(v) = &args.strategy {
        config.strategy.clone_from(v);
    }
    if args.steps.is_some() {
        config.steps.clone_from(&args.steps);
    }
    if let Some(v) = args.port {
        config.port = v;
    }
    if let Some(v) = &args.health {
        config.health.clone_from(v);
    }
    if let Some(v) = &args.progress_deadline {
        config.progress_deadline.clone_from(v);
    }
    Ok(config)
}

/// The run: records stages as they end; after a failure the rest are skipped.
struct Run {
    progress: Progress,
    report: Report,
}

impl Run {
    fn record(&mut self, record: Record) -> bool {
        let ok = record.result != Verdict::Failed;
        if !ok && self.report.failed.is_none() {
            self.report.failed = Some(record.stage);
        }
        self.report.stages.push(record);
        ok
    }

    /// Runs `f` as `stage` unless an earlier stage failed or `off` gives a reason to skip it.
    fn stage<T>(
        &mut self,
        stage: Stage,
        what: &str,
        off: Option<String>,
        f: impl FnOnce(&report::Running<'_>) -> (Option<T>, Outcome),
    ) -> Option<T> {
        let skip = match (self.report.failed, off) {
            (Some(failed), _) => Some(format!("{} failed", failed.name())),
            (None, why) => why,
        };
        let running = self.progress.start(stage, what);
        if let Some(why) = skip {
            let r = running.finish(Verdict::Skipped, format!("skipped: {why}"), Vec::new());
            self.record(r);
            return None;
        }
        let (value, outcome) = f(&running);
        let r = running.finish(outcome.verdict, outcome.figure, outcome.notes);
        self.record(r);
        value
    }
}

fn off(enabled: bool, key: &str) -> Option<String> {
    (!enabled).then(|| format!("{key} = false in slipway.toml"))
}

// The stages in the order they run, each a few lines: one function keeps the order visible.
#[allow(clippy::too_many_lines)]
pub(crate) fn run(args: &Args) -> CmdResult {
    let dir = args
        .dir
        .canonicalize()
        .map_err(|e| format!("-C {}: {e}", args.dir.display()))?;
    let config = configure(args, &dir)?;
    if args.print_config {
        print!("{}", config.to_toml());
        return Ok(ExitCode::SUCCESS);
    }
    // Everything that can be refused before any work is refused now.
    let target = Target::parse(&config.deploy)?;
    let deadline = crate::kubesim::parse_duration(&config.progress_deadline)
        .map_err(|e| format!("--progress-deadline: {e}"))?;
    if deadline.as_secs() == 0 {
        return Err("--progress-deadline: must be at least 1s".into());
    }
    deploy::spec(&config)?;
    if !config.health.starts_with('/') {
        return Err(format!(
            "--health {:?}: must be a path starting with /",
            config.health
        )
        .into());
    }

    let out = dir.join("target").join("ship");
    let logs = out.join("logs");
    std::fs::create_dir_all(&logs).map_err(|e| format!("cannot create {}: {e}", logs.display()))?;
    let profile = out.join("cover.out");
    let integration_profile = out.join("integration.out");
    let _ = std::fs::remove_file(&integration_profile);
    let _ = std::fs::remove_file(&profile);
    let mut run = Run {
        progress: Progress::new(args.quiet),
        report: Report::default(),
    };
    let stages = &config.stages;

    let service = run.stage(
        Stage::Layout,
        "go.mod and main packages",
        None,
        |_| match go::layout(&dir, &config) {
            Ok((service, figure)) => (Some(service), Outcome::passed(figure)),
            Err(o) => (None, o),
        },
    );
    if let Some(s) = &service {
        run.report.service.clone_from(&s.name);
        run.report.module.clone_from(&s.module);
    }
    run.stage(
        Stage::Tidy,
        "go mod tidy -diff, go mod verify",
        off(stages.tidy, "tidy"),
        |_| (Some(()), go::tidy(&dir, &logs)),
    );
    run.stage(Stage::Vet, "go vet ./...", off(stages.vet, "vet"), |_| {
        (Some(()), go::vet(&dir, &logs))
    });
    run.stage(
        Stage::Lint,
        "golangci-lint run",
        off(stages.lint, "lint"),
        |_| (Some(()), go::lint(&dir, &logs)),
    );
    let tested = run.stage(
        Stage::Test,
        "go test -race -coverprofile ./...",
        off(stages.test, "test"),
        |_| {
            let mut o = go::test(&dir, &logs, &profile, stages.race);
            if let (Some(command), Some(service), Verdict::Passed) =
                (&config.integration, &service, o.verdict)
            {
                let i = go::integration(
                    &dir,
                    &logs,
                    &service.package,
                    command,
                    &out.join("covdata"),
                    &out.join("bin").join(&service.name),
                    &integration_profile,
                );
                o.notes.push(format!("integration: {}", i.figure));
                if i.verdict != Verdict::Passed {
                    o.verdict = i.verdict;
                    o.figure = format!("integration run failed: {}", i.figure);
                    o.notes.extend(i.notes);
                }
            }
            (Some(()), o)
        },
    );
    let coverage_off = off(stages.coverage, "coverage").or_else(|| {
        (tested.is_none() && run.report.failed.is_none())
            .then(|| "the tests did not run".to_owned())
    });
    run.stage(Stage::Coverage, "gates", coverage_off, |_| {
        let integration = integration_profile
            .exists()
            .then_some(integration_profile.as_path());
        (
            Some(()),
            coverage::check(&dir, &profile, integration, &config.gates),
        )
    });
    let tags = run.stage(Stage::Tags, "from git or CI", None, |_| {
        let (tags, o) = image::tags(&dir);
        (Some(tags), o)
    });
    let layout_dir = out.join("image");
    let built = run.stage(
        Stage::Image,
        &format!("go build for {}", config.platforms.join(", ")),
        None,
        |_| {
            let (Some(service), Some(tags)) = (&service, &tags) else {
                return (None, Outcome::failed("nothing to build".to_owned()));
            };
            match image::build(&dir, &service.package, &config.platforms, tags, &layout_dir) {
                Ok((built, o)) => (Some(built), o),
                Err(o) => (None, o),
            }
        },
    );
    let pushed = run.stage(
        Stage::Push,
        config
            .repository
            .as_deref()
            .unwrap_or("the OCI layout target/ship/image"),
        None,
        |_| {
            let (Some(built), Some(tags)) = (&built, &tags) else {
                return (None, Outcome::failed("no image".to_owned()));
            };
            match image::push(built, tags, config.repository.as_deref()) {
                Ok((reference, o)) => (Some(reference), o),
                Err(o) => (None, o),
            }
        },
    );
    if let Some(t) = &tags {
        run.report.tags.clone_from(&t.tags);
    }
    run.report.image.clone_from(&pushed);

    let mut connection = None;
    let deployed = run.stage(
        Stage::Deploy,
        &config.deploy,
        off(stages.deploy, "deploy"),
        |running| {
            let (Some(service), Some(image)) = (&service, &pushed) else {
                return (None, Outcome::failed("no image".to_owned()));
            };
            if let Target::Gitops(url) = &target {
                // The repository's overlay gets the image by digest; Argo CD or Flux applies it.
                if image.starts_with("oci:") {
                    return (
                        None,
                        Outcome::failed(
                            "a GitOps repository needs an image a cluster can pull: push to a \
                             registry with --to HOST/REPO (or `repository` in slipway.toml)"
                                .to_owned(),
                        ),
                    );
                }
                let env_name =
                    std::env::var("SLIPWAY_ENVIRONMENT").unwrap_or_else(|_| "dev".to_owned());
                running.step(&format!(
                    "pinning {image} in {url} (deploy/overlays/{env_name})"
                ));
                let pin = format!("{}={image}", service.name);
                return match crate::gitops::pin_in_environment(
                    url,
                    std::path::Path::new("deploy"),
                    &env_name,
                    &pin,
                ) {
                    Ok(what) => (None, Outcome::passed(what)),
                    Err(e) => (None, Outcome::failed(e)),
                };
            }
            let c = match deploy::connect(&target, &config.namespace) {
                Ok(c) => c,
                Err(e) => return (None, Outcome::failed(format!("{}: {e}", config.deploy))),
            };
            running.step(&format!(
                "rolling out {image} as Deployment {} ({})",
                service.name, config.strategy
            ));
            let result = if target == Target::Knative {
                deploy::knative(&c, &service.name, image, &config, deadline)
            } else {
                deploy::rollout(&c, &dir, &service.name, image, &config, deadline, running)
            };
            connection = Some(c);
            match result {
                Ok((deployed, o)) => (Some(deployed), o),
                Err(o) => (None, o),
            }
        },
    );
    if let Some(d) = &deployed {
        run.report.phase = Some(d.phase.to_string());
        run.report.rolled_back = d.rolled_back;
    }
    // After a rollback the failure is the deploy stage's; verify still asks whether the previous
    // version answers.
    let verify_off = off(stages.verify, "verify").or_else(|| {
        connection
            .is_none()
            .then(|| "nothing was deployed".to_owned())
    });
    let failed_before = run.report.failed.take();
    let rolled_back = run.report.rolled_back;
    let url = run.stage(Stage::Verify, &config.health, verify_off, |_| {
        let Some(c) = &connection else {
            return (None, Outcome::skipped("nothing was deployed"));
        };
        let name = service.as_ref().map_or("", |s| s.name.as_str());
        let (url, mut o) = deploy::verify(c, name, &config.health, Duration::from_secs(30));
        if rolled_back && o.verdict == Verdict::Passed {
            o.figure = format!("the previous version answers: {}", o.figure);
        }
        (url, o)
    });
    if failed_before.is_some() {
        run.report.failed = failed_before;
    }
    run.report.url.clone_from(&url);

    let exit = match (run.report.failed, deployed.as_ref().map(|d| d.phase)) {
        (Some(stage), _) => stage.exit_code(),
        (None, Some(Phase::Paused)) => 2,
        (None, Some(Phase::Inconclusive)) => 3,
        (None, _) => 0,
    };
    run.report.exit_code = exit;
    print!("{}", run.report.table());
    if run.report.rolled_back {
        println!(
            "rolled back: the new version did not become healthy; the previous version keeps serving"
        );
    }
    if let Some(stage) = run.report.failed {
        println!("failed at stage {} (exit status {exit})", stage.name());
    } else if let Some(url) = &url {
        println!("{} answers on {url}", run.report.service);
    }
    if let Some(path) = &args.report {
        run.report.write(path)?;
    }
    if args.serve {
        if let Some(Connection { sim: Some(_), .. }) = &connection {
            if let Some(url) = &url {
                run.progress
                    .line(&format!("serving {url} until interrupted (Ctrl-C)"));
            }
            wait_for_interrupt()?;
        } else {
            run.progress
                .line("--serve: only with the in-process kubesim; nothing to keep running");
        }
    }
    drop(connection);
    Ok(ExitCode::from(exit))
}

use self::deploy::Connection;

fn wait_for_interrupt() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r,
            _ = term.recv() => Ok(()),
        }
    })?;
    Ok(())
}
