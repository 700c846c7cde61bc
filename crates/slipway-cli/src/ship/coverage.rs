//! The coverage stage: the profile of `go test -coverprofile` through slipway-cover's gates (total, per
//! package) and, when git has a base branch, diff coverage of the lines changed since it.

use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

use slipway_cover::gate::{DiffGate, Gates, GitChanges, module_repo_paths};
use slipway_cover::{ModuleResolver, ProfileMerger};

use super::Outcome;
use super::config::Gates as GateConfig;
use crate::deploy::chain;

fn git_ok(dir: &Path, args: &[&str]) -> Option<String> {
    Command::new("git")
        .current_dir(dir)
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| {
            String::from_utf8_lossy(&o.stdout[..o.stdout.len().min(4096)])
                .trim()
                .to_owned()
        })
}

/// The base revision for diff coverage: slipway.toml's `diff_base`, the pull/merge request's target in
/// CI, `origin/HEAD`, or `main`/`master` when HEAD is on another branch. `None`: no base (or no git).
pub(crate) fn diff_base(dir: &Path, configured: Option<&str>) -> Option<String> {
    if let Some(base) = configured {
        return Some(base.to_owned());
    }
    git_ok(dir, &["rev-parse", "--git-dir"])?;
    let exists = |rev: &str| git_ok(dir, &["rev-parse", "--verify", "--quiet", rev]).is_some();
    for var in ["GITHUB_BASE_REF", "CI_MERGE_REQUEST_TARGET_BRANCH_NAME"] {
        if let Ok(branch) = std::env::var(var) {
            let remote = format!("origin/{branch}");
            if !branch.is_empty() && exists(&remote) {
                return Some(remote);
            }
        }
    }
    if exists("refs/remotes/origin/HEAD") {
        return Some("origin/HEAD".to_owned());
    }
    let current = git_ok(dir, &["symbolic-ref", "--quiet", "--short", "HEAD"]).unwrap_or_default();
    ["main", "master"]
        .into_iter()
        .find(|b| *b != current && exists(&format!("refs/heads/{b}")))
        .map(str::to_owned)
}

/// Checks the gates on `profile` (sources resolved from the module at `dir`).
pub(crate) fn check(
    dir: &Path,
    profile: &Path,
    integration: Option<&Path>,
    gates: &GateConfig,
) -> Outcome {
    match check_inner(dir, profile, integration, gates) {
        Ok(o) => o,
        Err(e) => Outcome::failed(e),
    }
}

fn check_inner(
    dir: &Path,
    profile: &Path,
    integration: Option<&Path>,
    config: &GateConfig,
) -> Result<Outcome, String> {
    let mut gates = Gates::new();
    let err = |e: &dyn std::error::Error| chain(e);
    if let Some(n) = config.total.filter(|n| *n > 0.0) {
        gates = gates.total(n).map_err(|e| err(&e))?;
    }
    if let Some(n) = config.package.filter(|n| *n > 0.0) {
        gates = gates.package(n).map_err(|e| err(&e))?;
    }
    for spec in &config.overrides {
        gates = gates.with_override(spec).map_err(|e| err(&e))?;
    }
    for pattern in &config.exclude {
        gates = gates.exclude(pattern).map_err(|e| err(&e))?;
    }
    let mut merger = ProfileMerger::new();
    merger.add_file(profile).map_err(|e| err(&e))?;
    if let Some(p) = integration {
        merger.add_file(p).map_err(|e| err(&e))?;
    }
    let profile = merger.finish().map_err(|e| err(&e))?;
    let resolver = ModuleResolver::discover(dir);
    let report = gates.check(&profile, &resolver).map_err(|e| err(&e))?;
    let mut figure = format!(
        "total {:.1}% ({} of {} statements), {} packages",
        report.total.percent(),
        report.total.covered,
        report.total.total,
        report.packages.len()
    );
    let mut notes: Vec<String> = report
        .to_text()
        .lines()
        .filter(|l| l.starts_with("FAIL"))
        .map(str::to_owned)
        .collect();
    let mut passed = report.passed();
    match diff_base(dir, config.diff_base.as_deref()) {
        Some(base) => {
            let mut gate = DiffGate::new();
            if let Some(n) = config.diff.filter(|n| *n > 0.0) {
                gate = gate.threshold(n).map_err(|e| err(&e))?;
            }
            for pattern in &config.exclude {
                gate = gate.exclude(pattern).map_err(|e| err(&e))?;
            }
            let git = GitChanges::new(dir, base.clone());
            let root = git.repo_root().map_err(|e| err(&e))?;
            let changes = git.changes().map_err(|e| err(&e))?;
            let to_repo = module_repo_paths(&resolver, &root);
            let diff = gate
                .check(&profile, &changes, &resolver, &to_repo)
                .map_err(|e| err(&e))?;
            let counts = diff.counts();
            if counts.total > 0 {
                let _ = write!(
                    figure,
                    "; diff {:.1}% ({} of {} changed lines) since {base}",
                    counts.percent(),
                    counts.covered,
                    counts.total
                );
            } else {
                let _ = write!(figure, "; no coverable line changed since {base}");
            }
            if !diff.passed() {
                notes.extend(diff.to_text().lines().map(str::to_owned));
                passed = false;
            }
        }
        None => notes.push("diff coverage not measured: no base branch".to_owned()),
    }
    let mut outcome = if passed {
        Outcome::passed(figure)
    } else {
        Outcome::failed(format!("gates failed: {figure}"))
    };
    outcome.notes = notes;
    Ok(outcome)
}
