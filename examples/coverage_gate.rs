//! A coverage gate through slipway-cover, as a CI step would run it: `go test -coverprofile` once per package
//! (as parallel CI jobs would), the profiles merged as `go tool covdata merge` / gocovmerge would, the
//! per-package and total numbers of `go tool cover -func`, and a non-zero exit under the threshold.
//!
//! ```sh
//! bash scripts/install-test-tools.sh --go-only && . scripts/env.sh
//! cargo run --example coverage_gate -- 50 testdata/hello
//! ```
//!
//! Arguments: minimum total coverage in percent (default 50), module directory (default testdata/hello).
//! Go runs offline (`GOPROXY=off`, `GOTOOLCHAIN=local`).

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use slipway::cover::gate::Gates;
use slipway::cover::{ModuleResolver, ProfileMerger, Summary};

type Error = Box<dyn std::error::Error>;

fn main() -> Result<ExitCode, Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let min_total: f64 = args.first().map_or(Ok(50.0), |v| v.parse())?;
    let module_dir = Path::new(args.get(1).map_or("testdata/hello", String::as_str));

    // 1. One profile per package, in a directory of our own.
    let work = tempfile::tempdir()?;
    let packages = go(module_dir, &["list", "./..."])?;
    let mut profiles: Vec<PathBuf> = Vec::new();
    for (i, package) in packages.lines().enumerate() {
        let profile = work.path().join(format!("{i}.out"));
        let mut args = vec![
            "test".to_owned(),
            format!("-coverprofile={}", profile.display()),
        ];
        args.push(package.to_owned());
        let out = go(
            module_dir,
            &args.iter().map(String::as_str).collect::<Vec<_>>(),
        )?;
        print!("{out}");
        // A package without tests writes no profile on older Go versions: nothing to merge then.
        if profile.exists() {
            profiles.push(profile);
        }
    }

    // 2. Merge them (counts add up in `count`/`atomic` mode, `set` blocks are or-ed).
    let mut merger = ProfileMerger::new();
    for path in &profiles {
        merger.add_file(path)?;
    }
    let profile = merger.finish()?;
    println!(
        "merged {} profiles: {} files, {} blocks, mode {}",
        profiles.len(),
        profile.files().len(),
        profile.block_count(),
        profile.mode().map_or("?", |m| m.as_str())
    );

    // 3. `go test`'s per-package statement coverage, from the profile alone.
    let summary = Summary::of(&profile);
    for (package, counts) in &summary.packages {
        println!("go test  {package:<40} {}", counts.go_test_line());
    }
    println!("go test  {:<40} {}", "total", summary.total.go_test_line());

    // 4. The gate on `go tool cover -func`'s numbers (statements inside functions; sources read from the
    //    module, so `//coverage:ignore` and generated files are honoured).
    let report = Gates::new()
        .total(min_total)?
        .check(&profile, &ModuleResolver::discover(module_dir))?;
    for (package, counts) in &report.packages {
        println!(
            "gate     {package:<40} {:5.1}% ({} of {} statements)",
            counts.percent(),
            counts.covered,
            counts.total
        );
    }
    print!("{}", report.to_text());
    Ok(if report.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Runs `go ARGS` in `dir` offline and returns its standard output; a failure carries its standard error.
fn go(dir: &Path, args: &[&str]) -> Result<String, Error> {
    let out = Command::new("go")
        .current_dir(dir)
        .args(args)
        .env("GOTOOLCHAIN", "local")
        .env("GOPROXY", "off")
        .env("GOSUMDB", "off")
        .env("GOFLAGS", "-mod=mod")
        .output()?;
    if !out.status.success() {
        return Err(format!(
            "go {} failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )
        .into());
    }
    Ok(String::from_utf8(out.stdout)?)
}
