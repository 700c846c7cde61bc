//! What `slipway ship` shows as it goes (a spinner per stage on a terminal, plain lines otherwise) and
//! at the end (a summary table; `--report FILE` as JSON).

use std::fmt::Write as _;
use std::io::{IsTerminal as _, Write as _};
use std::path::Path;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

/// The stages, in the order they run, with the exit status that names each when it fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Stage {
    Layout,
    Tidy,
    Vet,
    Lint,
    Test,
    Coverage,
    Tags,
    Image,
    Push,
    Deploy,
    Verify,
}

impl Stage {
    pub(crate) const ALL: [Stage; 11] = [
        Stage::Layout,
        Stage::Tidy,
        Stage::Vet,
        Stage::Lint,
        Stage::Test,
        Stage::Coverage,
        Stage::Tags,
        Stage::Image,
        Stage::Push,
        Stage::Deploy,
        Stage::Verify,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Stage::Layout => "layout",
            Stage::Tidy => "tidy",
            Stage::Vet => "vet",
            Stage::Lint => "lint",
            Stage::Test => "test",
            Stage::Coverage => "coverage",
            Stage::Tags => "tags",
            Stage::Image => "image",
            Stage::Push => "push",
            Stage::Deploy => "deploy",
            Stage::Verify => "verify",
        }
    }

    /// The exit status when this stage fails: 10 + its position.
    pub(crate) fn exit_code(self) -> u8 {
        let position = Stage::ALL.iter().position(|s| *s == self).unwrap_or(0);
        10 + u8::try_from(position).unwrap_or(0)
    }
}

/// How a stage ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Verdict {
    Passed,
    Failed,
    Skipped,
    /// The rollout waits for a promotion, or its analysis could not decide.
    Paused,
}

impl Verdict {
    fn as_str(self) -> &'static str {
        match self {
            Verdict::Passed => "passed",
            Verdict::Failed => "FAILED",
            Verdict::Skipped => "skipped",
            Verdict::Paused => "paused",
        }
    }
}

/// One stage's line of the summary.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Record {
    pub stage: Stage,
    pub result: Verdict,
    /// Seconds, to the millisecond.
    pub seconds: f64,
    /// The key figure (`87.5% of statements`, `sha256:…`, `Healthy`), or why it was skipped.
    pub figure: String,
    /// Notes: a fallback taken, the tail of a failing command's output.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// The JSON of `--report FILE`.
#[derive(Debug, Default, Serialize)]
pub(crate) struct Report {
    pub service: String,
    /// The Go module path.
    pub module: String,
    pub stages: Vec<Record>,
    /// The image as deployed (`oci:DIR@sha256:…` or `HOST/REPO@sha256:…`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// The rollout's phase (`Healthy`, `Degraded`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
    /// Whether the new version was rolled back.
    pub rolled_back: bool,
    /// Where the service answered (`http://127.0.0.1:31234/healthz`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The stage that failed, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed: Option<Stage>,
    pub exit_code: u8,
}

impl Report {
    /// The summary table.
    pub(crate) fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "{:<9} {:<8} {:>8}  figure", "stage", "result", "time");
        for r in &self.stages {
            let _ = writeln!(
                out,
                "{:<9} {:<8} {:>7.1}s  {}",
                r.stage.name(),
                r.result.as_str(),
                r.seconds,
                r.figure
            );
        }
        out
    }

    /// Writes the JSON report.
    pub(crate) fn write(&self, path: &Path) -> Result<(), String> {
        let json = serde_json::to_string_pretty(self).map_err(|e| e.to_string())?;
        std::fs::write(path, json + "\n")
            .map_err(|e| format!("--report: cannot write {}: {e}", path.display()))
    }
}

/// Draws progress: spinners on a terminal, plain lines on standard error otherwise, nothing with
/// `--quiet`.
pub(crate) struct Progress {
    quiet: bool,
    bars: bool,
}

/// One running stage.
pub(crate) struct Running<'p> {
    progress: &'p Progress,
    stage: Stage,
    started: Instant,
    bar: Option<ProgressBar>,
}

impl Progress {
    pub(crate) fn new(quiet: bool) -> Progress {
        Progress {
            quiet,
            bars: !quiet && std::io::stderr().is_terminal(),
        }
    }

    /// Starts a stage.
    pub(crate) fn start(&self, stage: Stage, what: &str) -> Running<'_> {
        let bar = if self.bars {
            let bar = ProgressBar::new_spinner();
            if let Ok(style) = ProgressStyle::with_template("{spinner} {prefix:<9} {msg} {elapsed}")
            {
                bar.set_style(style);
            }
            bar.set_prefix(stage.name());
            bar.set_message(what.to_owned());
            bar.enable_steady_tick(Duration::from_millis(120));
            Some(bar)
        } else {
            if !self.quiet {
                let _ = writeln!(std::io::stderr(), "==> {}: {what}", stage.name());
            }
            None
        };
        Running {
            progress: self,
            stage,
            started: Instant::now(),
            bar,
        }
    }

    /// A line of its own (not tied to a stage).
    pub(crate) fn line(&self, text: &str) {
        if !self.quiet {
            let _ = writeln!(std::io::stderr(), "{text}");
        }
    }
}

impl Running<'_> {
    /// A step within the stage (a rollout step): the spinner's message, or a plain line.
    pub(crate) fn step(&self, text: &str) {
        match &self.bar {
            Some(bar) => bar.set_message(text.to_owned()),
            None if !self.progress.quiet => {
                let _ = writeln!(std::io::stderr(), "    {}: {text}", self.stage.name());
            }
            None => {}
        }
    }

    /// Ends the stage.
    pub(crate) fn finish(self, result: Verdict, figure: String, notes: Vec<String>) -> Record {
        let elapsed = self.started.elapsed();
        // A skipped stage's figure already says so (`skipped: not installed`).
        let verdict = if result == Verdict::Skipped {
            String::new()
        } else {
            format!("{} ", result.as_str())
        };
        let line = format!(
            "{verdict}{}: {figure} ({:.1}s)",
            self.stage.name(),
            elapsed.as_secs_f64()
        );
        match &self.bar {
            Some(bar) => bar.finish_with_message(format!("{verdict}{figure}")),
            None if !self.progress.quiet => {
                let _ = writeln!(std::io::stderr(), "    {line}");
            }
            None => {}
        }
        if !self.progress.quiet || result == Verdict::Failed {
            for note in &notes {
                let _ = writeln!(std::io::stderr(), "    {}: {note}", self.stage.name());
            }
        }
        Record {
            stage: self.stage,
            result,
            seconds: (elapsed.as_secs_f64() * 1000.0).round() / 1000.0,
            figure,
            notes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_name_the_stage() {
        let codes: Vec<(String, u8)> = Stage::ALL
            .iter()
            .map(|s| (s.name().to_owned(), s.exit_code()))
            .collect();
        assert_eq!(codes.first(), Some(&("layout".to_owned(), 10)));
        assert_eq!(codes.last(), Some(&("verify".to_owned(), 20)));
        assert_eq!(Stage::Deploy.exit_code(), 19);
    }
}
