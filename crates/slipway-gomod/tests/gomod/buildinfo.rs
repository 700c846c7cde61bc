//! `buildinfo` against `go version -m`: Go programs are cross-compiled at test time into a temporary
//! directory (nothing large is committed) and every binary is read by us and by `go version -m [-json]`.
//!
//! Programs: the sample service `testdata/hello` (with `-ldflags`, so a quoted build setting and VCS stamps),
//! and `fixtures/buildinfo/app`, which depends on modules of the fixture proxy, replaces one module by
//! another version and one by a local directory, and is built with `-trimpath`. Targets: linux/amd64,
//! linux/arm64, linux/386 (32-bit ELF), windows/amd64 (PE) and darwin/arm64 (Mach-O), all with CGO off.

use std::path::{Path, PathBuf};
use std::process::Command;

use slipway_gomod::buildinfo::BuildInfo;
use slipway_testkit::{go, run_ok, testdata, workspace_root};

const TARGETS: &[(&str, &str)] = &[
    ("linux", "amd64"),
    ("linux", "arm64"),
    ("linux", "386"),
    ("windows", "amd64"),
    ("darwin", "arm64"),
];

fn fixtures() -> PathBuf {
    workspace_root().join("crates/slipway-gomod/tests/fixtures")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

fn build(
    dir: &Path,
    modcache: &Path,
    goos: &str,
    goarch: &str,
    args: &[&str],
    out: &Path,
) -> Command {
    let mut cmd = go();
    cmd.current_dir(dir)
        .env(
            "GOPROXY",
            format!("file://{}", fixtures().join("proxy").display()),
        )
        .env("GOMODCACHE", modcache)
        .env("GONOSUMDB", "*")
        .env("CGO_ENABLED", "0")
        .env("GOOS", goos)
        .env("GOARCH", goarch)
        .arg("build")
        .args(args)
        .arg("-o")
        .arg(out);
    cmd
}

#[test]
fn cross_compiled_binaries_read_like_go_version_m() {
    let tmp = tempfile::tempdir().unwrap();
    // The app and its directory replacement, copied so that `go build` may write go.sum.
    copy_dir(&fixtures().join("buildinfo/app"), &tmp.path().join("app"));
    copy_dir(
        &fixtures().join("buildinfo/localdep"),
        &tmp.path().join("localdep"),
    );
    let modcache = tmp.path().join("modcache");
    let bins = tmp.path().join("bin");
    std::fs::create_dir_all(&bins).unwrap();

    // Resolve the app's dependencies once, so the parallel builds below only read the module cache.
    run_ok(
        build(
            &tmp.path().join("app"),
            &modcache,
            "linux",
            "amd64",
            &[],
            &bins.join("warm"),
        )
        .arg("."),
    );

    let mut jobs = Vec::new();
    for &(goos, goarch) in TARGETS {
        let ext = if goos == "windows" { ".exe" } else { "" };
        let hello = bins.join(format!("hello-{goos}-{goarch}{ext}"));
        let mut cmd = build(
            &testdata("hello"),
            &modcache,
            goos,
            goarch,
            &["-ldflags", "-X main.version=1.0.0 -s -w"],
            &hello,
        );
        cmd.arg("./cmd/hello");
        jobs.push((cmd, hello));
        let app = bins.join(format!("app-{goos}-{goarch}{ext}"));
        let mut cmd = build(
            &tmp.path().join("app"),
            &modcache,
            goos,
            goarch,
            &["-trimpath", "-ldflags", "-X main.version=2.0.0"],
            &app,
        );
        cmd.arg(".");
        jobs.push((cmd, app));
    }
    let built: Vec<PathBuf> = std::thread::scope(|s| {
        let handles: Vec<_> = jobs
            .into_iter()
            .map(|(mut cmd, out)| {
                s.spawn(move || {
                    run_ok(&mut cmd);
                    out
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });

    // A universal (fat) Mach-O holding the darwin/arm64 build: Go reads its first architecture.
    let darwin = built
        .iter()
        .find(|b| b.to_str().unwrap().ends_with("hello-darwin-arm64"))
        .unwrap();
    let fat = bins.join("hello-darwin-universal");
    std::fs::write(&fat, universal_macho(&std::fs::read(darwin).unwrap())).unwrap();
    let mut built = built;
    built.push(fat);

    let mut formats = std::collections::BTreeSet::new();
    for bin in &built {
        let name = bin.to_str().unwrap();
        let want = String::from_utf8(run_ok(go().args(["version", "-m", name])).stdout).unwrap();
        let info = BuildInfo::read_file(bin).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(info.to_go_version_m(name), want, "{name}");
        let want_json =
            String::from_utf8(run_ok(go().args(["version", "-m", "-json", name])).stdout).unwrap();
        assert_eq!(info.to_json(), want_json, "{name}");

        let data = std::fs::read(bin).unwrap();
        formats.insert(match &data[..4] {
            b"\x7fELF" => "elf",
            [b'M', b'Z', ..] => "pe",
            b"\xca\xfe\xba\xbe" => "universal",
            _ => "macho",
        });
        if name.contains("/app-") {
            // The replacements came through: module => module with a sum, module => directory.
            let hello = info
                .deps
                .iter()
                .find(|d| d.path == "example.com/hello")
                .unwrap();
            assert_eq!(hello.replace.as_ref().unwrap().version, "v1.1.0");
            let local = info
                .deps
                .iter()
                .find(|d| d.path == "example.com/local")
                .unwrap();
            assert_eq!(local.replace.as_ref().unwrap().path, "../localdep");
        }
    }
    assert_eq!(built.len(), 11);
    assert_eq!(formats.len(), 4, "{formats:?}");
}

/// A universal binary with one architecture: big-endian fat header, one `fat_arch` (CPU type and subtype
/// copied from the little-endian Mach-O header), the Mach-O at a 4096-byte aligned offset.
fn universal_macho(macho: &[u8]) -> Vec<u8> {
    let word = |at: usize| u32::from_le_bytes(macho[at..at + 4].try_into().unwrap());
    let offset: u32 = 4096;
    let mut fat = Vec::new();
    for field in [
        0xcafe_babe,
        1,
        word(4),
        word(8),
        offset,
        u32::try_from(macho.len()).unwrap(),
        12,
    ] {
        fat.extend_from_slice(&field.to_be_bytes());
    }
    fat.resize(offset as usize, 0);
    fat.extend_from_slice(macho);
    fat
}

#[test]
fn non_go_files_are_rejected_like_go() {
    let tmp = tempfile::tempdir().unwrap();
    let text = tmp.path().join("notes.txt");
    std::fs::write(&text, "not an executable at all\n").unwrap();
    let err = BuildInfo::read_file(&text).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "could not read Go build info from {}: unrecognized file format",
            text.display()
        )
    );
}

/// `go version -m [-json] ARG` as a whole, against the real command run on the same arguments: files that
/// are not Go executables (reported only when they look executable), a missing file, symlinks, and a
/// directory walked for the Go executables in it (a copy of the `go` binary itself).
#[test]
fn version_m_reports_arguments_like_go() {
    use std::os::unix::fs::PermissionsExt as _;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(dir.join("notes.txt"), "text\n").unwrap();
    std::fs::write(dir.join("empty"), "").unwrap();
    std::fs::write(dir.join("tool.exe"), "MZ not really\n").unwrap();
    std::fs::write(dir.join("script"), "#!/bin/sh\n").unwrap();
    std::fs::set_permissions(dir.join("script"), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(dir.join("lib.so.1"), "\x7fELF").unwrap();
    // A real Go executable: the toolchain's own `go`.
    let goroot = run_ok(go().args(["env", "GOROOT"])).stdout;
    let goroot = PathBuf::from(String::from_utf8(goroot).unwrap().trim());
    std::fs::create_dir_all(dir.join("bin/nested")).unwrap();
    std::fs::copy(goroot.join("bin/go"), dir.join("bin/nested/gocopy")).unwrap();
    std::fs::write(dir.join("bin/readme"), "x").unwrap();
    std::os::unix::fs::symlink("nested/gocopy", dir.join("bin/link")).unwrap();
    std::os::unix::fs::symlink("nowhere", dir.join("dangling")).unwrap();
    let args = [
        "notes.txt",
        "empty",
        "tool.exe",
        "script",
        "lib.so.1",
        "missing",
        "dangling",
        "bin/link",
        "bin/nested/gocopy",
        "./bin/",
        ".",
    ];
    for arg in args {
        // Absolute arguments (printed as given by both), so that no working directory is shared.
        let arg = format!("{}/{arg}", dir.display());
        for json in [false, true] {
            let mut cmd = go();
            cmd.args(["version", "-m"]);
            if json {
                cmd.arg("-json");
            }
            let want = cmd.arg(&arg).output().unwrap();
            let got = slipway_gomod::buildinfo::go_version_m(&arg, json);
            assert_eq!(
                (got.stdout.as_str(), got.stderr.as_str(), got.success),
                (
                    String::from_utf8_lossy(&want.stdout).as_ref(),
                    String::from_utf8_lossy(&want.stderr).as_ref(),
                    want.status.success()
                ),
                "go version -m {} {arg}",
                if json { "-json" } else { "" }
            );
        }
    }
}
