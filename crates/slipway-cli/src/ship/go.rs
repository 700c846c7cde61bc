//! The Go stages: layout, `go mod tidy` drift and `go mod verify`, `go vet`, `golangci-lint run`,
//! `go test -race -coverprofile`. Each command's output goes to a log under `target/ship/logs/`; a failing
//! stage shows the log's tail.

use std::io::{Read as _, Seek as _, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::Outcome;
use super::config::Config;

/// How much of a failing command's log is shown.
const TAIL_BYTES: u64 = 4096;

/// What the layout stage found.
#[derive(Debug, Clone)]
pub(crate) struct Service {
    /// The module path.
    pub module: String,
    /// The main package (`./cmd/hello`).
    pub package: String,
    /// The Deployment and Service name.
    pub name: String,
}

/// A Kubernetes object name (a DNS-1123 label) from a directory or module element.
pub(crate) fn object_name(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    let mut out: String = out.chars().take(63).collect();
    while out.ends_with('-') {
        out.pop();
    }
    if out.is_empty() {
        "app".to_owned()
    } else {
        out
    }
}

/// The layout stage: go.mod reads, the packages parse, the `internal/` rule holds, and there is one main
/// package to ship (`package` in slipway.toml chooses among several).
pub(crate) fn layout(dir: &Path, config: &Config) -> Result<(Service, String), Outcome> {
    if !dir.join("go.mod").is_file() {
        return Err(Outcome::failed(format!(
            "no go.mod in {} (a Go module's root)",
            dir.display()
        )));
    }
    let layout = slipway_gomod::layout::analyze(dir)
        .map_err(|e| Outcome::failed(crate::deploy::chain(&e)))?;
    if let Some(v) = layout.internal_violations.first() {
        return Err(Outcome::failed(format!(
            "{} imports {}, which is internal to {} ({} violation(s) of the internal/ rule)",
            v.importer,
            v.imported,
            v.allowed_under,
            layout.internal_violations.len()
        )));
    }
    let mains: Vec<&str> = layout
        .main_packages
        .iter()
        .map(|m| m.dir.as_str())
        .collect();
    let package_dir = if let Some(p) = &config.package {
        let wanted = p.trim_start_matches("./").trim_end_matches('/');
        let wanted = if wanted.is_empty() { "." } else { wanted };
        if !mains.contains(&wanted) {
            return Err(Outcome::failed(format!(
                "package {p} (slipway.toml) is not a main package; main packages: {}",
                list(&mains)
            )));
        }
        wanted.to_owned()
    } else {
        let under_cmd: Vec<&str> = mains
            .iter()
            .copied()
            .filter(|d| d.starts_with("cmd/") && !d["cmd/".len()..].contains('/'))
            .collect();
        match (under_cmd.as_slice(), mains.as_slice()) {
            ([one], _) | ([], [one]) => (*one).to_owned(),
            ([], []) => {
                return Err(Outcome::failed(
                    "no main package (cmd/NAME with package main)".to_owned(),
                ));
            }
            (several, _) => {
                let several = if several.is_empty() { &mains } else { several };
                return Err(Outcome::failed(format!(
                    "several main packages ({}): set package = \"./cmd/NAME\" in slipway.toml",
                    list(several)
                )));
            }
        }
    };
    let element = if package_dir == "." {
        layout
            .module_path
            .rsplit('/')
            .next()
            .unwrap_or("app")
            .to_owned()
    } else {
        package_dir.rsplit('/').next().unwrap_or("app").to_owned()
    };
    let name = config.name.clone().unwrap_or_else(|| object_name(&element));
    let package = if package_dir == "." {
        ".".to_owned()
    } else {
        format!("./{package_dir}")
    };
    let figure = format!(
        "module {}, main package {package}, {} packages",
        layout.module_path,
        layout.packages.len()
    );
    Ok((
        Service {
            module: layout.module_path,
            package,
            name,
        },
        figure,
    ))
}

fn list(items: &[&str]) -> String {
    if items.is_empty() {
        "none".to_owned()
    } else {
        items.join(", ")
    }
}

/// Runs a command in `dir` with its output (both streams) in `log`; Ok(true) when it succeeded.
pub(crate) fn run_logged(cmd: &mut Command, dir: &Path, log: &Path) -> Result<bool, String> {
    let program = cmd.get_program().to_string_lossy().into_owned();
    let file =
        std::fs::File::create(log).map_err(|e| format!("cannot create {}: {e}", log.display()))?;
    let err = file
        .try_clone()
        .map_err(|e| format!("cannot create {}: {e}", log.display()))?;
    let status = cmd
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(file)
        .stderr(err)
        .status()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    Ok(status.success())
}

/// The last few KiB of a log (what a failing stage shows).
pub(crate) fn tail(log: &Path) -> String {
    let Ok(mut file) = std::fs::File::open(log) else {
        return String::new();
    };
    let len = file.metadata().map_or(0, |m| m.len());
    let _ = file.seek(SeekFrom::Start(len.saturating_sub(TAIL_BYTES)));
    let mut bytes = Vec::new();
    let _ = file.take(TAIL_BYTES).read_to_end(&mut bytes);
    String::from_utf8_lossy(&bytes).trim_end().to_owned()
}

fn failed_with_log(what: String, log: &Path) -> Outcome {
    let mut o = Outcome::failed(what);
    let t = tail(log);
    if !t.is_empty() {
        o.notes.push(format!("{} (tail):\n{t}", log.display()));
    }
    o
}

/// A program on `PATH` (or the path itself when it has a `/`).
pub(crate) fn on_path(program: &str) -> Option<PathBuf> {
    if program.contains('/') {
        let p = PathBuf::from(program);
        return p.is_file().then_some(p);
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(program))
            .find(|p| p.is_file())
    })
}

/// `go env NAME`, trimmed (empty when go cannot say).
fn go_env(dir: &Path, name: &str) -> String {
    Command::new("go")
        .current_dir(dir)
        .args(["env", name])
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
        .unwrap_or_default()
}

/// `go1.23.4` -> (1, 23).
fn go_minor(version: &str) -> Option<(u32, u32)> {
    let v = version.strip_prefix("go")?;
    let mut parts = v.split(|c: char| !c.is_ascii_digit());
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

/// `go mod tidy -diff` (Go >= 1.23: reports drift without writing go.mod or go.sum) and `go mod verify`.
pub(crate) fn tidy(dir: &Path, logs: &Path) -> Outcome {
    let mut notes = Vec::new();
    let version = go_env(dir, "GOVERSION");
    let log = logs.join("tidy.log");
    if go_minor(&version).is_some_and(|v| v >= (1, 23)) {
        match run_logged(Command::new("go").args(["mod", "tidy", "-diff"]), dir, &log) {
            Ok(true) => {}
            Ok(false) => {
                return failed_with_log(
                    "go.mod/go.sum are not tidy: run go mod tidy (the diff is in the log)"
                        .to_owned(),
                    &log,
                );
            }
            Err(e) => return Outcome::failed(e),
        }
    } else {
        notes.push(format!(
            "drift not checked: {} has no go mod tidy -diff (Go 1.23 and later)",
            if version.is_empty() {
                "this go"
            } else {
                &version
            }
        ));
    }
    let log = logs.join("verify.log");
    match run_logged(Command::new("go").args(["mod", "verify"]), dir, &log) {
        Ok(true) => {
            let mut o = Outcome::passed("tidy; go mod verify: all modules verified".to_owned());
            o.notes = notes;
            o
        }
        Ok(false) => failed_with_log(
            "go mod verify: the module cache does not match go.sum".to_owned(),
            &log,
        ),
        Err(e) => Outcome::failed(e),
    }
}

/// `go vet ./...`.
pub(crate) fn vet(dir: &Path, logs: &Path) -> Outcome {
    let log = logs.join("vet.log");
    match run_logged(Command::new("go").args(["vet", "./..."]), dir, &log) {
        Ok(true) => Outcome::passed("no problems".to_owned()),
        Ok(false) => failed_with_log("go vet reported problems".to_owned(), &log),
        Err(e) => Outcome::failed(e),
    }
}

/// `golangci-lint run` when it is installed.
pub(crate) fn lint(dir: &Path, logs: &Path) -> Outcome {
    let Some(program) = on_path("golangci-lint") else {
        return Outcome::skipped("not installed (golangci-lint is not on PATH)");
    };
    let log = logs.join("lint.log");
    match run_logged(Command::new(program).arg("run"), dir, &log) {
        Ok(true) => Outcome::passed("no issues".to_owned()),
        Ok(false) => failed_with_log("golangci-lint reported issues".to_owned(), &log),
        Err(e) => Outcome::failed(e),
    }
}

/// Why `-race` cannot run here, if it cannot: it needs cgo and a C compiler.
fn race_unavailable(dir: &Path) -> Option<String> {
    if go_env(dir, "CGO_ENABLED") != "1" {
        return Some("cgo is disabled (CGO_ENABLED is not 1)".to_owned());
    }
    let cc = go_env(dir, "CC");
    let program = cc.split_whitespace().next().unwrap_or("gcc").to_owned();
    if on_path(&program).is_none() {
        return Some(format!("no C compiler (CC={program} is not on PATH)"));
    }
    None
}

/// `go test [-race] -coverprofile=PROFILE ./...`.
pub(crate) fn test(dir: &Path, logs: &Path, profile: &Path, race: bool) -> Outcome {
    let mut notes = Vec::new();
    let mut cmd = Command::new("go");
    cmd.arg("test");
    let mut with_race = false;
    if race {
        match race_unavailable(dir) {
            None => {
                cmd.arg("-race");
                with_race = true;
            }
            Some(why) => notes.push(format!("running without -race: {why}")),
        }
    } else {
        notes.push("running without -race: race = false in slipway.toml".to_owned());
    }
    cmd.arg(format!("-coverprofile={}", profile.display()))
        .arg("./...");
    let log = logs.join("test.log");
    let result = run_logged(&mut cmd, dir, &log);
    let text = tail_all(&log);
    let ok = text.lines().filter(|l| l.starts_with("ok ")).count();
    let failed = text
        .lines()
        .filter(|l| l.starts_with("FAIL\t") || l.starts_with("FAIL "))
        .count();
    let race_word = if with_race { " (-race)" } else { "" };
    let mut outcome = match result {
        Ok(true) => Outcome::passed(format!("{ok} packages ok{race_word}")),
        Ok(false) => failed_with_log(
            format!("{failed} package(s) failed, {ok} ok{race_word}"),
            &log,
        ),
        Err(e) => Outcome::failed(e),
    };
    outcome.notes.splice(0..0, notes);
    outcome
}

/// The integration run: `go build -cover` of `package` to `bin`, then `sh -c COMMAND` in `dir` with
/// `GOCOVERDIR=covdata` and `SLIPWAY_COVER_BIN=bin`; the covdata written is turned into a text profile at
/// `profile` (as `go tool covdata textfmt` writes it).
pub(crate) fn integration(
    dir: &Path,
    logs: &Path,
    package: &str,
    command: &str,
    covdata: &Path,
    bin: &Path,
    profile: &Path,
) -> Outcome {
    let _ = std::fs::remove_dir_all(covdata);
    if let Err(e) = std::fs::create_dir_all(covdata) {
        return Outcome::failed(format!("cannot create {}: {e}", covdata.display()));
    }
    let mut build = Command::new("go");
    build.args(["build", "-cover", "-o"]).arg(bin).arg(package);
    let log = logs.join("integration-build.log");
    match run_logged(&mut build, dir, &log) {
        Ok(true) => {}
        Ok(false) => return failed_with_log("go build -cover failed".to_owned(), &log),
        Err(e) => return Outcome::failed(e),
    }
    let mut run = Command::new("sh");
    run.args(["-c", command])
        .env("GOCOVERDIR", covdata)
        .env("SLIPWAY_COVER_BIN", bin);
    let log = logs.join("integration.log");
    match run_logged(&mut run, dir, &log) {
        Ok(true) => {}
        Ok(false) => return failed_with_log(format!("{command} failed"), &log),
        Err(e) => return Outcome::failed(e),
    }
    let dirs = [covdata.display().to_string()];
    let data = match slipway_cover::covdata::read_dirs(
        &dirs,
        &slipway_cover::covdata::ReadOptions::default(),
    ) {
        Ok(d) => d,
        Err(e) => {
            return Outcome::failed(format!(
                "reading {}: {}",
                covdata.display(),
                crate::deploy::chain(&e)
            ));
        }
    };
    if let Err(e) = std::fs::write(profile, data.textfmt()) {
        return Outcome::failed(format!("writing {}: {e}", profile.display()));
    }
    let units: usize = data.package_paths().map(|p| data.units(p).len()).sum();
    Outcome::passed(format!(
        "{command}: coverage of {units} blocks in {} packages recorded",
        data.package_paths().count()
    ))
}

/// A log's text, bounded (the test summary lines are counted from it).
fn tail_all(log: &Path) -> String {
    const LIMIT: u64 = 1024 * 1024;
    let Ok(mut file) = std::fs::File::open(log) else {
        return String::new();
    };
    let len = file.metadata().map_or(0, |m| m.len());
    let _ = file.seek(SeekFrom::Start(len.saturating_sub(LIMIT)));
    let mut bytes = Vec::new();
    let _ = file.take(LIMIT).read_to_end(&mut bytes);
    String::from_utf8_lossy(&bytes).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_names() {
        assert_eq!(object_name("hello"), "hello");
        assert_eq!(object_name("My_Service.v2"), "my-service-v2");
        assert_eq!(object_name("--"), "app");
        assert_eq!(object_name(&"a".repeat(80)).len(), 63);
    }

    #[test]
    fn go_versions() {
        assert_eq!(go_minor("go1.23.4"), Some((1, 23)));
        assert_eq!(go_minor("go1.22rc1"), Some((1, 22)));
        assert_eq!(go_minor("devel"), None);
    }

    #[test]
    fn layout_picks_the_only_command_and_refuses_two() {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path();
        std::fs::write(root.join("go.mod"), "module example.com/svc\n\ngo 1.22\n").expect("go.mod");
        std::fs::create_dir_all(root.join("cmd/api")).expect("mkdir");
        std::fs::write(
            root.join("cmd/api/main.go"),
            "package main\n\nfunc main() {}\n",
        )
        .expect("main");
        let (service, _) = layout(root, &Config::default()).expect("one main package");
        assert_eq!(service.package, "./cmd/api");
        assert_eq!(service.name, "api");

        std::fs::create_dir_all(root.join("cmd/worker")).expect("mkdir");
        std::fs::write(
            root.join("cmd/worker/main.go"),
            "package main\n\nfunc main() {}\n",
        )
        .expect("main");
        let err = layout(root, &Config::default()).expect_err("two main packages");
        assert!(err.figure.contains("cmd/api, cmd/worker"), "{}", err.figure);
        let config = Config {
            package: Some("./cmd/worker".to_owned()),
            ..Config::default()
        };
        let (service, _) = layout(root, &config).expect("chosen");
        assert_eq!(service.name, "worker");
    }
}
