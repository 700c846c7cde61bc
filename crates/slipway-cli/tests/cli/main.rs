//! Runs the built `slipway` binary as a user would. One submodule per subcommand family.

use std::process::{Command, Output};

mod buildinfo;
mod cover;
mod cover_export;
mod deploy;
mod gitops;
mod gomod;
mod image;
mod init;
mod knative;
mod kubesim;
mod oci;
mod oci_registry;
mod ship;
mod tag;

/// The `slipway` binary under test.
pub fn slipway() -> Command {
    Command::new(env!("CARGO_BIN_EXE_slipway"))
}

/// Runs `slipway` with `args`, returning its output whatever the exit status.
///
/// # Panics
/// When the binary cannot be started.
pub fn run(args: &[&str]) -> Output {
    slipway()
        .args(args)
        .output()
        .expect("the slipway binary runs")
}

#[test]
fn version_names_the_package_version_and_commit() {
    for args in [&["--version"][..], &["version"][..]] {
        let out = run(args);
        assert!(out.status.success(), "slipway {args:?}: {out:?}");
        let line = String::from_utf8(out.stdout).unwrap();
        let expected = format!("slipway {} (commit ", env!("CARGO_PKG_VERSION"));
        assert!(line.starts_with(&expected), "{line}");
        let commit = line
            .trim_end()
            .trim_start_matches(&expected)
            .trim_end_matches(')');
        // A 40-hex commit (optionally -dirty), or `unknown` only when built outside git.
        let sha = commit.trim_end_matches("-dirty");
        assert!(
            sha == "unknown" || (sha.len() == 40 && sha.bytes().all(|b| b.is_ascii_hexdigit())),
            "commit part {commit:?} in {line:?}"
        );
    }
}

#[test]
fn unknown_subcommand_fails_with_usage() {
    let out = run(&["no-such-command"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("Usage"));
}

#[test]
fn the_cli_reference_in_docs_is_the_binarys_own() {
    let out = run(&["cli-reference"]);
    assert!(out.status.success(), "{out:?}");
    let generated = String::from_utf8(out.stdout).expect("utf-8");
    let committed = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/cli.md"),
    )
    .expect("docs/cli.md");
    assert!(
        generated == committed,
        "docs/cli.md is stale: run `bash scripts/gen-cli-reference.sh`"
    );
}
