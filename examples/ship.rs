//! The slipway pipeline through the library API, as a tool author would embed it:
//! analyse the module, run its tests with coverage and gate on the total, compute tags from git, and build a
//! reproducible multi-arch image into an OCI layout directory (the embedded default: no registry, no Docker).
//!
//! ```sh
//! bash scripts/install-test-tools.sh --go-only && . scripts/env.sh
//! cargo run --example ship -- testdata/hello ./cmd/hello target/ship-example 50
//! ```
//!
//! Arguments: module directory, main package, layout directory, minimum total coverage (percent).

use std::path::Path;
use std::process::Command;

use slipway::cover::{FuncReport, ModuleResolver, Profile, Summary};
use slipway::gomod::modfile::ModFile;
use slipway::oci::gobuild::{GoImageOptions, build_go_images};
use slipway::oci::image::{rfc3339, source_date_epoch};
use slipway::oci::platform::Platform;
use slipway::oci::reference::Tag;
use slipway::oci::store::{ManifestStore, OciLayout};
use slipway::tag::{Flavor, GitRepo, Options, TagRule, annotations, tags_for};

type Error = Box<dyn std::error::Error>;

fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let module_dir = Path::new(args.first().map_or("testdata/hello", String::as_str));
    let package = args.get(1).map_or("./cmd/hello", String::as_str);
    let layout_dir = Path::new(args.get(2).map_or("target/ship-example", String::as_str));
    let min_total: f64 = args.get(3).map_or(Ok(50.0), |v| v.parse())?;

    // 1. The module, as `go mod edit -json` reads it.
    let gomod_path = module_dir.join("go.mod");
    let gomod = ModFile::parse(
        &gomod_path.display().to_string(),
        &std::fs::read_to_string(&gomod_path)?,
    )?;
    let module = gomod.module.as_ref().ok_or("go.mod has no module line")?;
    println!(
        "module {} (go {})",
        module.path,
        gomod.go.as_ref().map_or("?", |g| g.version.as_str())
    );

    // 2. Tests with coverage, numbers as `go test` and `go tool cover -func` print them, and a gate.
    let profile_path =
        std::env::temp_dir().join(format!("slipway-ship-{}.out", std::process::id()));
    let status = Command::new("go")
        .current_dir(module_dir)
        .args(["test", "-coverprofile"])
        .arg(&profile_path)
        .arg("./...")
        .status()?;
    if !status.success() {
        return Err("go test failed".into());
    }
    let profile = Profile::parse(
        &profile_path.display().to_string(),
        &std::fs::read_to_string(&profile_path)?,
    )?;
    std::fs::remove_file(&profile_path)?;
    let report = FuncReport::new(&profile, &ModuleResolver::discover(module_dir))?;
    print!("{}", report.to_go_text());
    let total = Summary::of(&profile).total;
    println!("go test: {}", total.go_test_line());
    if total.percent() < min_total {
        return Err(format!(
            "coverage {:.1}% is below the gate of {min_total}%",
            total.percent()
        )
        .into());
    }

    // 3. Tags and annotations from the git repository around the module.
    let repo = GitRepo::discover(module_dir)?;
    let (build, tags) = tags_for(
        &repo,
        &TagRule::defaults(),
        &Flavor::default(),
        Options::default(),
    )?;
    let version = tags.version.clone().unwrap_or_else(|| "dev".to_owned());
    println!("tags: {}", tags.tags.join(" "));

    // 4. A reproducible multi-arch image, ko-style, into an OCI layout.
    let created = source_date_epoch()?.unwrap_or(0);
    let mut options = GoImageOptions::new(vec![
        Platform::parse("linux/amd64")?,
        Platform::parse("linux/arm64")?,
    ])
    .created(created)
    .ldflag_x("main.version", &version)
    .annotation("org.opencontainers.image.created", &rfc3339(created));
    for (key, value) in annotations(&build, &tags) {
        options = options.annotation(&key, &value);
    }
    let layout = OciLayout::create(layout_dir)?;
    let images = build_go_images(module_dir, package, &options, &layout)?;
    for tag in &tags.tags {
        layout.put_manifest(images.top(), Some(&Tag::new(tag)?))?;
    }
    println!(
        "oci:{}:{} @ {}",
        layout_dir.display(),
        tags.tags.first().map_or("-", String::as_str),
        images.top().descriptor().digest
    );
    Ok(())
}
