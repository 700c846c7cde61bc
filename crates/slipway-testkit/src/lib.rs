//! Test support shared by slipway's crates (a dev-dependency only; never published).
//!
//! Tests use the real tools: the Go toolchain installed by `scripts/install-test-tools.sh`, Debian's
//! `docker-registry`, `skopeo` and `oci-image-tool`. A missing tool fails the test with a message that names
//! the install script: nothing is skipped silently.
//!
//! ```
//! let root = slipway_testkit::workspace_root();
//! assert!(root.join("Cargo.toml").exists());
//! Ok::<(), Box<dyn std::error::Error>>(())
//! ```

// Panicking with a clear message is what a test helper is for.
#![allow(clippy::missing_panics_doc)]

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// The install script named in every "missing tool" message.
pub const INSTALL_HINT: &str =
    "run `bash scripts/install-test-tools.sh` (or the README's test command)";

/// The root of the slipway workspace.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("slipway-testkit lives at crates/slipway-testkit")
        .to_path_buf()
}

/// `testdata/<name>` in the workspace.
pub fn testdata(name: &str) -> PathBuf {
    workspace_root().join("testdata").join(name)
}

/// Finds an executable on `PATH` or in the workspace's `.tools/bin`.
pub fn find_tool(name: &str) -> Option<PathBuf> {
    let local = workspace_root().join(".tools/bin");
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::iter::once(local)
        .chain(std::env::split_paths(&path))
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// Like [`find_tool`], but a missing tool fails the test with the install hint.
pub fn require_tool(name: &str) -> PathBuf {
    find_tool(name).unwrap_or_else(|| panic!("`{name}` is not installed: {INSTALL_HINT}"))
}

/// A `go` command that never reaches the network: local toolchain, `GOPROXY=off` unless the caller sets a
/// `file://` proxy, checksum database off, telemetry off.
pub fn go() -> Command {
    let mut cmd = Command::new(require_tool("go"));
    cmd.env("GOTOOLCHAIN", "local")
        .env("GOPROXY", "off")
        .env("GOSUMDB", "off")
        .env("GOTELEMETRY", "off")
        .env("GOFLAGS", "-mod=mod")
        .env_remove("GOWORK");
    cmd
}

/// Runs a command and returns its output, failing the test (with stderr) when it exits non-zero.
pub fn run_ok(cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", describe(cmd)));
    assert!(
        out.status.success(),
        "{} failed with {}\nstdout:\n{}\nstderr:\n{}",
        describe(cmd),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn describe(cmd: &Command) -> String {
    let mut words = vec![cmd.get_program().to_string_lossy().into_owned()];
    words.extend(cmd.get_args().map(|a| a.to_string_lossy().into_owned()));
    words.join(" ")
}

/// `HOST:PORT` of the loopback test registry: `SLIPWAY_TEST_REGISTRY` when set (scripts/test.sh sets it),
/// else one started once for this test process with `scripts/registry.sh start`.
pub fn registry() -> String {
    static ADDR: OnceLock<String> = OnceLock::new();
    ADDR.get_or_init(|| {
        if let Ok(addr) = std::env::var("SLIPWAY_TEST_REGISTRY")
            && !addr.is_empty()
        {
            return addr;
        }
        require_tool("docker-registry");
        let script = workspace_root().join("scripts/registry.sh");
        let out = run_ok(Command::new("bash").arg(script).arg("start"));
        String::from_utf8(out.stdout)
            .expect("registry.sh prints an address")
            .trim()
            .to_owned()
    })
    .clone()
}

/// The text of a command's standard output, failing the test on a non-zero exit.
pub fn stdout_of<I, S>(program: &Path, args: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let out = run_ok(Command::new(program).args(args));
    String::from_utf8(out.stdout).expect("tool output is UTF-8")
}
