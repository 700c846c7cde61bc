//! `slipway cover`: Go coverage profiles, over the `slipway-cover` crate.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;
use slipway_cover::covdata::{self, CovData, ModePolicy, PackageFilter, ReadOptions};
use slipway_cover::gate::{DiffGate, Gates, GitChanges, module_repo_paths};
use slipway_cover::{
    Cobertura, Coverage, FuncReport, Html, Json, Lcov, ModuleResolver, ProfileMerger, ReportWriter,
};

use crate::CmdResult;

/// Arguments of `slipway cover`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: CoverCommand,
}

#[derive(Debug, Subcommand)]
enum CoverCommand {
    /// Print coverage per function, as `go tool cover -func=PROFILE` does (run in the module directory),
    /// or with `-i DIR[,DIR…]` as `go tool covdata func -i=DIR…` does for binary coverage data.
    Func {
        /// A text profile written by `go test -coverprofile`.
        #[arg(required_unless_present = "input", conflicts_with = "input")]
        profile: Option<PathBuf>,
        /// `GOCOVERDIR` directories (comma-separated) instead of a text profile.
        #[arg(short = 'i', value_name = "DIR[,DIR…]")]
        input: Option<String>,
        /// With `-i`: only packages matching these comma-separated patterns (`go tool covdata -pkg`).
        #[arg(long = "pkg", value_name = "PATTERNS", requires = "input")]
        pkg: Option<String>,
        /// Write to this file instead of standard output.
        #[arg(short = 'o', long = "output")]
        output: Option<PathBuf>,
    },
    /// Print the statement coverage of each package in `GOCOVERDIR` directories, as
    /// `go tool covdata percent -i=DIR…` does.
    Percent {
        /// `GOCOVERDIR` directories (comma-separated).
        #[arg(short = 'i', value_name = "DIR[,DIR…]", required = true)]
        input: String,
        /// Only packages matching these comma-separated patterns (`go tool covdata -pkg`).
        #[arg(long = "pkg", value_name = "PATTERNS")]
        pkg: Option<String>,
        /// Also write the merged text profile to this file (as `go tool covdata percent -o` does).
        #[arg(short = 'o', long = "output")]
        output: Option<PathBuf>,
    },
    /// Convert `GOCOVERDIR` directories to a text profile, as `go tool covdata textfmt -i=DIR… -o=FILE`
    /// does.
    Textfmt {
        /// `GOCOVERDIR` directories (comma-separated).
        #[arg(short = 'i', value_name = "DIR[,DIR…]", required = true)]
        input: String,
        /// Only packages matching these comma-separated patterns (`go tool covdata -pkg`).
        #[arg(long = "pkg", value_name = "PATTERNS")]
        pkg: Option<String>,
        /// The profile to write (`-` for standard output).
        #[arg(short = 'o', long = "output", required = true)]
        output: PathBuf,
    },
    /// Merge text profiles into one (identical blocks: OR in set mode, sum otherwise).
    Merge {
        /// Profiles to merge (one file may itself hold several concatenated profiles).
        #[arg(required = true)]
        profiles: Vec<PathBuf>,
        /// Where to write the merged profile (`-` for standard output).
        #[arg(short = 'o', long = "output", required = true)]
        output: PathBuf,
    },
    /// Convert a profile to another format (run in the module directory: functions and source paths are
    /// read from the Go sources).
    Convert {
        /// The output format.
        #[arg(long = "to", value_enum)]
        to: Format,
        /// A text profile written by `go test -coverprofile`.
        profile: PathBuf,
        /// Where to write the report (`-` for standard output).
        #[arg(short = 'o', long = "output", required = true)]
        output: PathBuf,
    },
    /// Check coverage thresholds (percent of statements, as `go tool cover -func` counts them; run in the
    /// module directory). Exits with status 1 when a gate fails. Generated files and functions marked
    /// `//coverage:ignore` (on the `func` line or the line before it) are left out.
    Check {
        /// A text profile written by `go test -coverprofile`.
        profile: PathBuf,
        /// Minimum percentage for all statements.
        #[arg(long = "total", value_name = "N")]
        total: Option<f64>,
        /// Minimum percentage for every package.
        #[arg(long = "package", value_name = "N")]
        package: Option<f64>,
        /// Minimum percentage for every file.
        #[arg(long = "file", value_name = "N")]
        file: Option<f64>,
        /// `REGEX=N`: the package and file threshold for paths REGEX matches (first match wins).
        #[arg(long = "override", value_name = "REGEX=N")]
        overrides: Vec<String>,
        /// Leave out files whose profile path matches REGEX.
        #[arg(long = "exclude", value_name = "REGEX")]
        excludes: Vec<String>,
        /// Report diff coverage: the lines changed since the merge base of REV and HEAD, working tree
        /// included (untracked files left out), in the git repository around the current directory.
        #[arg(long = "diff-base", value_name = "REV")]
        diff_base: Option<String>,
        /// Minimum percentage of coverable changed lines covered (needs `--diff-base`).
        #[arg(long = "diff", value_name = "N", requires = "diff_base")]
        diff: Option<f64>,
    },
}

/// Formats `slipway cover convert` writes.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Format {
    /// LCOV tracefile (`genhtml`, Coveralls, `SonarQube`).
    Lcov,
    /// Cobertura XML (Jenkins, GitLab, Azure DevOps).
    Cobertura,
    /// JSON for tools (schema: docs/cover-json.schema.json).
    Json,
    /// One self-contained HTML page: sources highlighted as `go tool cover -html` does, package tables.
    Html,
}

/// Runs `slipway cover …`.
pub(crate) fn run(args: Args) -> CmdResult {
    match args.command {
        CoverCommand::Func {
            input: Some(input),
            pkg,
            output,
            ..
        } => {
            let data = read_covdata(&input, pkg.as_deref(), ModePolicy::Relaxed)?;
            write_output(output.as_deref(), data.func_text().as_bytes())?;
        }
        CoverCommand::Percent { input, pkg, output } => {
            let data = read_covdata(&input, pkg.as_deref(), ModePolicy::Relaxed)?;
            write_output(None, data.percent_text().as_bytes())?;
            if let Some(output) = output {
                write_output(Some(&output), data.textfmt().as_bytes())?;
            }
        }
        CoverCommand::Textfmt { input, pkg, output } => {
            let data = read_covdata(&input, pkg.as_deref(), ModePolicy::Strict)?;
            write_output(Some(&output), data.textfmt().as_bytes())?;
        }
        CoverCommand::Func {
            profile, output, ..
        } => {
            // clap requires a profile when -i is absent.
            let profile = profile.ok_or("a PROFILE or -i DIR[,DIR…] is required")?;
            let mut merger = ProfileMerger::new();
            merger.add_file(&profile)?;
            let profile = merger.finish()?;
            let resolver = ModuleResolver::discover(std::env::current_dir()?);
            let report = FuncReport::new(&profile, &resolver)?;
            write_output(output.as_deref(), report.to_go_text().as_bytes())?;
        }
        CoverCommand::Merge { profiles, output } => {
            let mut merger = ProfileMerger::new();
            for path in &profiles {
                merger.add_file(path)?;
            }
            let profile = merger.finish()?;
            write_output(Some(&output), profile.to_text().as_bytes())?;
        }
        CoverCommand::Convert {
            to,
            profile,
            output,
        } => {
            let mut merger = ProfileMerger::new();
            merger.add_file(&profile)?;
            let profile = merger.finish()?;
            let dir = std::env::current_dir()?;
            let resolver = ModuleResolver::discover(&dir);
            let names: Vec<String> = profile.files().iter().map(|f| f.name.clone()).collect();
            let mut coverage = Coverage::new(profile, &resolver)?;
            // Reports name sources by their path on disk, which is what report viewers open.
            for name in names {
                if let Some(path) = resolver.locate(&name) {
                    coverage = coverage.with_source_path(name, path.display().to_string());
                }
            }
            let mut bytes = Vec::new();
            match to {
                Format::Lcov => Lcov.write_report(&coverage, &mut bytes)?,
                Format::Cobertura => Cobertura::default()
                    .source(dir.display().to_string())
                    .write_report(&coverage, &mut bytes)?,
                Format::Json => Json::default()
                    .relative_to(&dir)
                    .write_report(&coverage, &mut bytes)?,
                Format::Html => Html::new(&resolver).write_report(&coverage, &mut bytes)?,
            }
            write_output(Some(&output), &bytes)?;
        }
        CoverCommand::Check {
            profile,
            total,
            package,
            file,
            overrides,
            excludes,
            diff_base,
            diff,
        } => {
            let diff = diff_base.map(|base| (base, diff));
            return check(&profile, total, package, file, &overrides, &excludes, diff);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Reads `GOCOVERDIR` directories as `go tool covdata -i=DIRS` does, printing Go's warnings.
fn read_covdata(
    dirs: &str,
    pkg: Option<&str>,
    policy: ModePolicy,
) -> Result<CovData, Box<dyn std::error::Error + Send + Sync>> {
    let dirs: Vec<&str> = dirs.split(',').collect();
    let mut options = ReadOptions::default().policy(policy);
    if let Some(pkg) = pkg {
        options = options.packages(PackageFilter::new(pkg)?);
    }
    let data = covdata::read_dirs(&dirs, &options)?;
    for warning in data.warnings() {
        eprintln!("warning: {warning}");
    }
    Ok(data)
}

/// `slipway cover check`: prints the gate report; exit status 1 when a gate fails.
fn check(
    profile: &Path,
    total: Option<f64>,
    package: Option<f64>,
    file: Option<f64>,
    overrides: &[String],
    excludes: &[String],
    diff: Option<(String, Option<f64>)>,
) -> CmdResult {
    let mut gates = Gates::new();
    if let Some(n) = total {
        gates = gates.total(n)?;
    }
    if let Some(n) = package {
        gates = gates.package(n)?;
    }
    if let Some(n) = file {
        gates = gates.file(n)?;
    }
    for spec in overrides {
        gates = gates.with_override(spec)?;
    }
    for pattern in excludes {
        gates = gates.exclude(pattern)?;
    }
    let mut merger = ProfileMerger::new();
    merger.add_file(profile)?;
    let profile = merger.finish()?;
    let resolver = ModuleResolver::discover(std::env::current_dir()?);
    let report = gates.check(&profile, &resolver)?;
    write_output(None, report.to_text().as_bytes())?;
    let mut passed = report.passed();
    if let Some((base, threshold)) = diff {
        let mut gate = DiffGate::new();
        if let Some(n) = threshold {
            gate = gate.threshold(n)?;
        }
        for pattern in excludes {
            gate = gate.exclude(pattern)?;
        }
        let git = GitChanges::new(std::env::current_dir()?, base);
        let root = git.repo_root()?;
        let changes = git.changes()?;
        let to_repo = module_repo_paths(&resolver, &root);
        let diff_report = gate.check(&profile, &changes, &resolver, &to_repo)?;
        write_output(None, diff_report.to_text().as_bytes())?;
        passed &= diff_report.passed();
    }
    Ok(if passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Writes `bytes` to `path`, or to standard output when there is no path or it is `-`.
fn write_output(
    path: Option<&Path>,
    bytes: &[u8],
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    match path {
        Some(path) if path != Path::new("-") => std::fs::write(path, bytes)
            .map_err(|e| format!("cannot write {}: {e}", path.display()).into()),
        _ => {
            let mut stdout = std::io::stdout().lock();
            stdout.write_all(bytes)?;
            stdout.flush()?;
            Ok(())
        }
    }
}
