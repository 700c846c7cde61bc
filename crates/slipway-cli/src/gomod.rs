//! `slipway gomod`: Go modules, over the `slipway-gomod` crate. One variant of [`GomodCommand`] per
//! sub-subcommand.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

use crate::CmdResult;

/// Arguments of `slipway gomod`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: GomodCommand,
}

#[derive(Debug, Subcommand)]
enum GomodCommand {
    /// Print the Go version, modules and build settings embedded in a Go executable, exactly as
    /// `go version -m FILE` prints them (`--json`: as `go version -m -json FILE`).
    Buildinfo {
        /// A Go executable (ELF, PE or Mach-O, any architecture).
        file: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Parse a go.mod (or go.work: `go.work` / `*.work`) file as `go mod edit` does. With `--json`, print
    /// what `go mod edit -json FILE` (`go work edit -json FILE`) prints; without, only check the file.
    /// A rejected file exits 1 with Go's `file:line[:col]: message` lines on stderr.
    Parse {
        /// The go.mod or go.work file.
        file: PathBuf,
        /// Print the JSON document.
        #[arg(long)]
        json: bool,
    },
    /// Print exactly what `go mod edit -fmt FILE` (`go work edit -fmt` for go.work) would write.
    Fmt {
        /// The go.mod or go.work file.
        file: PathBuf,
    },
    /// Print the build list exactly as `go list -m all` prints it in DIR, computed without `go` from the
    /// module cache and GOPROXY (GOFLAGS, GOWORK, GOTOOLCHAIN and GOMODCACHE are read as go reads them;
    /// nothing is written to go.mod).
    List {
        /// The directory to run in (go's `-C`).
        #[arg(short = 'C', default_value = ".")]
        dir: PathBuf,
    },
    /// Print the module requirement graph exactly as `go mod graph` prints it in DIR.
    Graph {
        /// The directory to run in (go's `-C`).
        #[arg(short = 'C', default_value = ".")]
        dir: PathBuf,
    },
    /// Report a module tree's layout from its source: packages, main packages, conventional
    /// directories, `internal/` rule violations and go.mod tidiness (build tags are ignored).
    Layout {
        /// The module root (the directory holding go.mod).
        #[arg(short = 'C', default_value = ".")]
        dir: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// Runs `slipway gomod …`.
pub(crate) fn run(args: Args) -> CmdResult {
    match args.command {
        GomodCommand::Buildinfo { file, json } => buildinfo(&file, json),
        GomodCommand::Parse { file, json } => {
            modfile(&file, if json { Output::Json } else { Output::Check })
        }
        GomodCommand::Fmt { file } => modfile(&file, Output::Fmt),
        GomodCommand::Layout { dir, json } => layout(&dir, json),
        GomodCommand::List { dir } => mvs(&dir, false),
        GomodCommand::Graph { dir } => mvs(&dir, true),
    }
}

// `go list -m all` / `go mod graph`: go's warnings and `go: `-prefixed errors on stderr, exit 1 on error.
fn mvs(dir: &std::path::Path, graph: bool) -> CmdResult {
    use slipway_gomod::mvs;
    let source = match slipway_gomod::source::from_env() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("go: {e}");
            return Ok(ExitCode::FAILURE);
        }
    };
    let options = mvs::Options::from_env();
    let result = if graph {
        mvs::graph(dir, &source, &options).map(|g| (g.to_string(), g.warnings, g.failed))
    } else {
        mvs::list(dir, &source, &options).map(|l| (l.to_string(), l.warnings, false))
    };
    match result {
        Ok((text, warnings, failed)) => {
            for w in warnings {
                eprintln!("{w}");
            }
            std::io::stdout().lock().write_all(text.as_bytes())?;
            // go reported an error it carried on after: the output stands, the status is 1.
            Ok(if failed {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            })
        }
        Err(failure) => {
            for w in &failure.warnings {
                eprintln!("{w}");
            }
            for e in &failure.errors {
                eprintln!("go: {e}");
            }
            Ok(ExitCode::FAILURE)
        }
    }
}

fn buildinfo(file: &std::path::Path, json: bool) -> CmdResult {
    // `go version -m FILE` as a whole: go's messages and exit status for files that are not Go
    // executables, and a directory walked for the executables in it.
    let out = slipway_gomod::buildinfo::go_version_m(&file.to_string_lossy(), json);
    std::io::stdout().lock().write_all(out.stdout.as_bytes())?;
    std::io::stderr().lock().write_all(out.stderr.as_bytes())?;
    Ok(if out.success {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn layout(dir: &std::path::Path, json: bool) -> CmdResult {
    let report = slipway_gomod::layout::analyze(dir)?;
    let text = if json {
        report.to_json()
    } else {
        report.to_text()
    };
    std::io::stdout().lock().write_all(text.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}

// What `slipway gomod parse` / `fmt` print for an accepted file.
#[derive(Debug, Clone, Copy)]
enum Output {
    // Nothing: only the exit status tells.
    Check,
    // `go mod edit -json`.
    Json,
    // `go mod edit -fmt`.
    Fmt,
}

// Reads a go.mod/go.work file and prints it as asked; a file Go would reject gets Go's error lines
// (`file:line[:col]: message`) and exit status 1.
fn modfile(file: &std::path::Path, output: Output) -> CmdResult {
    use slipway_gomod::modfile;
    let bytes = std::fs::read(file).map_err(|e| format!("{}: {e}", file.display()))?;
    // go.mod files are UTF-8; stray invalid bytes read as U+FFFD rather than failing the whole file.
    let src = String::from_utf8_lossy(&bytes);
    let given = file.to_string_lossy();
    // `go work edit` names the file in errors by cmd/go's ShortPath; `go mod edit` as it was given.
    let name = if modfile::is_work_file_name(&given) {
        short_path(file).unwrap_or_else(|| given.clone().into_owned())
    } else {
        given.clone().into_owned()
    };
    let result = match output {
        Output::Check | Output::Json => modfile::edit_json(&name, &src),
        Output::Fmt => modfile::edit_fmt(&name, &src),
    };
    match result {
        Ok(text) => {
            if !matches!(output, Output::Check) {
                std::io::stdout().lock().write_all(text.as_bytes())?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(err) => {
            eprintln!("{err}");
            Ok(ExitCode::FAILURE)
        }
    }
}

// cmd/go's `base.ShortPath`: an absolute path relative to the working directory when that is shorter
// and names the same file. (`filepath.Rel` of a relative path against the absolute working directory
// fails in Go, so relative paths stay as given.)
fn short_path(path: &std::path::Path) -> Option<String> {
    use std::path::Component;
    if !path.is_absolute() {
        return None;
    }
    let cwd = std::env::current_dir().ok()?;
    let comps = |p: &std::path::Path| -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for c in p.components() {
            match c {
                Component::Normal(s) => out.push(s.to_string_lossy().into_owned()),
                Component::ParentDir => {
                    out.pop();
                }
                _ => {}
            }
        }
        out
    };
    let (base, target) = (comps(&cwd), comps(path));
    let common = base.iter().zip(&target).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<String> = vec!["..".to_owned(); base.len() - common];
    parts.extend(target[common..].iter().cloned());
    let rel = if parts.is_empty() {
        ".".to_owned()
    } else {
        parts.join("/")
    };
    let given = path.to_string_lossy();
    let same = match (std::fs::canonicalize(&rel), std::fs::canonicalize(path)) {
        (Ok(a), Ok(b)) => a == b,
        (Err(a), Err(b)) => {
            a.kind() == std::io::ErrorKind::NotFound && b.kind() == std::io::ErrorKind::NotFound
        }
        _ => false,
    };
    (rel.len() < given.len() && same).then_some(rel)
}
