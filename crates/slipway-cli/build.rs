//! Records the git commit the binary is built from, for `slipway --version`.
//!
//! `SLIPWAY_GIT_COMMIT` overrides the lookup (for builds from a source tarball, where there is no `.git`).

use std::path::PathBuf;
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

fn main() {
    println!("cargo:rerun-if-env-changed=SLIPWAY_GIT_COMMIT");
    let commit = std::env::var("SLIPWAY_GIT_COMMIT").ok().or_else(|| {
        // Rebuild when HEAD moves: watch HEAD itself and the ref files it may point through.
        if let Some(git_dir) = git(&["rev-parse", "--absolute-git-dir"]) {
            let git_dir = PathBuf::from(git_dir);
            for watched in ["HEAD", "refs/heads", "packed-refs", "index"] {
                let path = git_dir.join(watched);
                if path.exists() {
                    println!("cargo:rerun-if-changed={}", path.display());
                }
            }
        }
        let sha = git(&["rev-parse", "HEAD"])?;
        // A tree with uncommitted changes to tracked files is not the commit it names.
        let dirty = git(&["status", "--porcelain", "--untracked-files=no"]).is_some();
        Some(if dirty { format!("{sha}-dirty") } else { sha })
    });
    println!(
        "cargo:rustc-env=SLIPWAY_GIT_COMMIT={}",
        commit.unwrap_or_else(|| "unknown".to_owned())
    );
}
