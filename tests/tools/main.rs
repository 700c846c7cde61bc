//! The real tools slipway's tests rely on are installed and work: the Go toolchain builds and tests the sample
//! service offline for two architectures, the loopback registry answers, and the independent OCI clients run.
//!
//! A missing tool fails here with a message naming `scripts/install-test-tools.sh`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

use slipway_testkit::{go, require_tool, run_ok, stdout_of, testdata};

/// ELF `e_machine` values for the architectures slipway ships by default.
const EM_X86_64: u16 = 0x3e;
const EM_AARCH64: u16 = 0xb7;

fn elf_machine(path: &Path) -> u16 {
    let bytes = std::fs::read(path).expect("built binary is readable");
    assert_eq!(
        &bytes[..4],
        b"\x7fELF",
        "{} is not an ELF file",
        path.display()
    );
    u16::from_le_bytes([bytes[18], bytes[19]])
}

#[test]
fn go_cross_compiles_the_sample_service_offline() {
    let out = tempfile::tempdir().unwrap();
    for (goarch, machine) in [("amd64", EM_X86_64), ("arm64", EM_AARCH64)] {
        let bin = out.path().join(format!("hello-{goarch}"));
        run_ok(
            go().current_dir(testdata("hello"))
                .env("CGO_ENABLED", "0")
                .env("GOOS", "linux")
                .env("GOARCH", goarch)
                .args([
                    "build",
                    "-trimpath",
                    "-ldflags",
                    "-X main.version=v0.0.0-test",
                    "-o",
                ])
                .arg(&bin)
                .arg("./cmd/hello"),
        );
        assert_eq!(
            elf_machine(&bin),
            machine,
            "GOARCH={goarch} built for another machine"
        );
    }
}

#[test]
fn go_test_cover_reports_statement_coverage() {
    let out = run_ok(
        go().current_dir(testdata("hello"))
            .args(["test", "-cover", "./..."]),
    );
    let text = String::from_utf8_lossy(&out.stdout);
    for pkg in ["internal/config", "internal/handlers", "pkg/greeting"] {
        let line = text
            .lines()
            .find(|l| l.contains(&format!("example.com/hello/{pkg}")))
            .unwrap_or_else(|| panic!("no result line for {pkg} in:\n{text}"));
        assert!(line.starts_with("ok"), "{pkg} failed: {line}");
        assert!(
            line.contains("coverage: ") && line.contains("% of statements"),
            "{line}"
        );
        // The sample deliberately leaves code untested: no package may report full coverage.
        assert!(!line.contains("coverage: 100.0%"), "{line}");
    }
}

#[test]
fn registry_answers_the_v2_api_on_loopback() {
    let addr = slipway_testkit::registry();
    assert!(
        addr.starts_with("127.0.0.1:"),
        "the test registry must be on loopback, got {addr}"
    );
    let mut stream = TcpStream::connect(&addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET /v2/ HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response.lines().next().unwrap_or_default();
    assert_eq!(status, "HTTP/1.1 200 OK", "GET /v2/ on {addr}:\n{response}");
    assert!(
        response
            .to_ascii_lowercase()
            .contains("docker-distribution-api-version: registry/2.0"),
        "{response}"
    );
}

#[test]
fn independent_oci_clients_are_installed() {
    let skopeo = stdout_of(&require_tool("skopeo"), ["--version"]);
    assert!(skopeo.starts_with("skopeo version"), "{skopeo}");
    let oci_image_tool = stdout_of(&require_tool("oci-image-tool"), ["--version"]);
    assert!(
        oci_image_tool.contains("oci-image-tool"),
        "{oci_image_tool}"
    );
    let genhtml = stdout_of(&require_tool("genhtml"), ["--version"]);
    assert!(genhtml.contains("genhtml"), "{genhtml}");
}
