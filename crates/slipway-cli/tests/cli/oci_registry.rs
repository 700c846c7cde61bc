//! `slipway copy|inspect|index` with registry references, against the real loopback registry (and one
//! with htpasswd auth), checked with skopeo.

use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use slipway_oci::image::{ImageBuilder, LayerBuilder};
use slipway_oci::manifest::Flavor;
use slipway_oci::platform::Platform;
use slipway_oci::reference::Tag;
use slipway_oci::store::{ManifestStore, OciLayout};
use slipway_testkit::{require_tool, run_ok};

use super::{run, slipway};

fn image_layout(dir: &Path, platform: &str, tag: &str) -> String {
    let layout = OciLayout::create(dir).unwrap();
    let layer = LayerBuilder::new()
        .file(
            "app/hello",
            0o755,
            format!("hello for {platform}").into_bytes(),
        )
        .build()
        .unwrap();
    let image = ImageBuilder::new(Platform::parse(platform).unwrap())
        .flavor(Flavor::Oci)
        .layer(layer)
        .entrypoint(["/app/hello"])
        .write_to(&layout)
        .unwrap();
    layout
        .put_manifest(image.manifest(), Some(&Tag::new(tag).unwrap()))
        .unwrap();
    image.manifest().digest().to_string()
}

fn describe(out: &Output) -> String {
    format!(
        "{}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn ok(args: &[&str]) -> String {
    let out = run(args);
    assert!(out.status.success(), "slipway {args:?}: {}", describe(&out));
    String::from_utf8(out.stdout).unwrap()
}

fn unique(name: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("slipway-cli/{name}-{}-{nanos}", std::process::id())
}

fn skopeo_raw(reference: &str) -> Vec<u8> {
    run_ok(Command::new(require_tool("skopeo")).args([
        "inspect",
        "--raw",
        "--tls-verify=false",
        reference,
    ]))
    .stdout
}

#[test]
fn copy_index_and_inspect_with_registry_references() {
    let addr = slipway_testkit::registry();
    let dir = tempfile::tempdir().unwrap();
    let amd = image_layout(&dir.path().join("amd"), "linux/amd64", "v1");
    let arm = image_layout(&dir.path().join("arm"), "linux/arm64", "v1");
    let (repo_amd, repo_arm, multi) = (unique("amd"), unique("arm"), unique("multi"));
    let pushed = ok(&[
        "copy",
        &format!("oci:{}:v1", dir.path().join("amd").display()),
        &format!("docker://{addr}/{repo_amd}:v1"),
    ]);
    assert_eq!(pushed.trim(), amd);
    // Without `docker://` and without a tag (`latest`), as Docker reads it.
    ok(&[
        "copy",
        &format!("oci:{}:v1", dir.path().join("arm").display()),
        &format!("{addr}/{repo_arm}"),
    ]);
    let index = ok(&[
        "index",
        "create",
        "--to",
        &format!("docker://{addr}/{multi}:v1"),
        &format!("docker://{addr}/{repo_amd}:v1"),
        &format!("{addr}/{repo_arm}@{arm}"),
    ]);
    let index_ref = format!("docker://{addr}/{multi}:v1");
    let raw = ok(&["inspect", "--raw", &index_ref]);
    assert_eq!(skopeo_raw(&index_ref), raw.as_bytes());
    assert!(raw.contains(&amd) && raw.contains(&arm), "{raw}");
    let summary: Value = serde_json::from_str(&ok(&["inspect", &index_ref])).unwrap();
    assert_eq!(summary["Digest"], index.trim());
    assert_eq!(summary["Tags"], serde_json::json!(["v1"]));
    let platforms: Vec<&str> = summary["Manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["Platform"].as_str().unwrap())
        .collect();
    assert_eq!(platforms, ["linux/amd64", "linux/arm64"]);
    let config: Value = serde_json::from_str(&ok(&[
        "inspect",
        "--config",
        "--platform",
        "linux/arm64",
        &index_ref,
    ]))
    .unwrap();
    assert_eq!(config["architecture"], "arm64");
    ok(&["index", "remove", &index_ref, "--platform", "linux/arm64"]);
    let out = dir.path().join("out");
    ok(&[
        "copy",
        "--all",
        &index_ref,
        &format!("oci:{}:back", out.display()),
    ]);
    let back = OciLayout::open(&out).unwrap();
    assert!(back.verify().unwrap().is_ok());
    let raw = ok(&["inspect", "--raw", &format!("oci:{}:back", out.display())]);
    assert!(raw.contains(&amd) && !raw.contains(&arm), "{raw}");
}

/// A registry with htpasswd auth (`alice` / `s3cret`), stopped on drop.
struct AuthRegistry {
    child: Child,
    addr: String,
    _dir: tempfile::TempDir,
}

impl Drop for AuthRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn auth_registry() -> AuthRegistry {
    let dir = tempfile::tempdir().unwrap();
    let line =
        run_ok(Command::new(require_tool("htpasswd")).args(["-Bbn", "alice", "s3cret"])).stdout;
    std::fs::write(dir.path().join("htpasswd"), line).unwrap();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let config = format!(
        "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\nauth:\n  htpasswd:\n    realm: slipway-test\n    path: {}\nhttp:\n  addr: {addr}\n",
        dir.path().join("storage").display(),
        dir.path().join("htpasswd").display(),
    );
    std::fs::write(dir.path().join("config.yml"), config).unwrap();
    let child = Command::new(require_tool("docker-registry"))
        .arg("serve")
        .arg(dir.path().join("config.yml"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(&addr).is_err() {
        assert!(Instant::now() < deadline, "the auth registry did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    AuthRegistry {
        child,
        addr,
        _dir: dir,
    }
}

/// `slipway ARGS` with only `home` as the source of credentials (and `bin` first on PATH).
fn run_with_config(home: &Path, bin: &Path, args: &[&str]) -> Output {
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    slipway()
        .args(args)
        .env("HOME", home)
        .env("DOCKER_CONFIG", home.join(".docker"))
        .env("PATH", path)
        .env_remove("REGISTRY_AUTH_FILE")
        .env_remove("XDG_RUNTIME_DIR")
        .env_remove("XDG_CONFIG_HOME")
        .output()
        .unwrap()
}

#[test]
fn credentials_from_docker_config_and_a_credential_helper() {
    use std::os::unix::fs::PermissionsExt;
    let reg = auth_registry();
    let dir = tempfile::tempdir().unwrap();
    image_layout(&dir.path().join("img"), "linux/amd64", "v1");
    let src = format!("oci:{}:v1", dir.path().join("img").display());
    let dst = format!("docker://{}/app:v1", reg.addr);
    let home = dir.path().join("home");
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(home.join(".docker")).unwrap();
    std::fs::create_dir_all(&bin).unwrap();

    let out = run_with_config(&home, &bin, &["copy", &src, &dst]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("HTTP 401") && err.contains("no credentials"),
        "{err}"
    );

    // A fake helper: answers for this registry only, and logs what it was asked.
    let helper = bin.join("docker-credential-fake");
    std::fs::write(
        &helper,
        format!(
            "#!/bin/sh\nread server\necho \"$1 $server\" >> {log}\nif [ \"$server\" = \"{addr}\" ]; then\n  echo '{{\"ServerURL\":\"{addr}\",\"Username\":\"alice\",\"Secret\":\"s3cret\"}}'\nelse\n  echo 'credentials not found in native keychain'; exit 1\nfi\n",
            log = dir.path().join("helper.log").display(),
            addr = reg.addr
        ),
    )
    .unwrap();
    std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(
        home.join(".docker/config.json"),
        format!(r#"{{"credHelpers":{{"{}":"fake"}}}}"#, reg.addr),
    )
    .unwrap();
    let out = run_with_config(&home, &bin, &["copy", &src, &dst]);
    assert!(out.status.success(), "{}", describe(&out));
    let log = std::fs::read_to_string(dir.path().join("helper.log")).unwrap();
    assert_eq!(
        log.lines().next(),
        Some(format!("get {}", reg.addr).as_str())
    );

    // Wrong credentials in `auths`: a clear error that does not repeat the password.
    std::fs::write(
        home.join(".docker/config.json"),
        format!(
            r#"{{"auths":{{"https://{}":{{"username":"alice","password":"not-the-password"}}}}}}"#,
            reg.addr
        ),
    )
    .unwrap();
    let out = run_with_config(&home, &bin, &["inspect", "--raw", &dst]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("refused the credentials"),
        "{err}"
    );
    assert!(!err.contains("not-the-password"), "{err}");
}
