//! The registry store against a real CNCF Distribution registry on loopback (`slipway_testkit::registry()`),
//! checked with skopeo; a second registry with htpasswd auth; and a fault-injecting TCP proxy.

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use slipway_oci::copy::{CopyOptions, copy};
use slipway_oci::manifest::{Descriptor, Flavor, ImageManifest, RawManifest, media_type};
use slipway_oci::reference::{ManifestRef, Reference, RegistryReference, Tag};
use slipway_oci::store::registry::{CredentialSource, Credentials, RegistryOptions, RegistryStore};
use slipway_oci::store::{
    BlobStore, BlobStoreExt, ManifestStore, ManifestStoreExt, MemoryStore, OciLayout, Referrers,
};
use slipway_testkit::{require_tool, run_ok};

use super::{sample_image, write_multi_arch};

/// A repository name no other test (or earlier run against the same registry) uses.
fn unique_repo(name: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("slipway-test/{name}-{}-{nanos}", std::process::id())
}

fn reference(addr: &str, repo: &str) -> RegistryReference {
    match Reference::parse(&format!("{addr}/{repo}")).unwrap() {
        Reference::Registry(r) => r,
        Reference::Layout(_) => unreachable!("a HOST/REPO reference"),
    }
}

fn store_at(addr: &str, repo: &str, options: RegistryOptions) -> RegistryStore {
    RegistryStore::new(&reference(addr, repo), options).unwrap()
}

fn test_store(repo: &str) -> RegistryStore {
    store_at(
        &slipway_testkit::registry(),
        repo,
        RegistryOptions::default().credentials(CredentialSource::Anonymous),
    )
}

fn skopeo() -> Command {
    let mut cmd = Command::new(require_tool("skopeo"));
    cmd.arg("--insecure-policy");
    cmd
}

fn skopeo_raw(reference: &str) -> Vec<u8> {
    run_ok(skopeo().args(["inspect", "--raw", "--tls-verify=false", reference])).stdout
}

fn tag(t: &str) -> Tag {
    Tag::new(t).unwrap()
}

fn all() -> CopyOptions {
    CopyOptions::default().all(true)
}

#[test]
fn layout_to_registry_to_layout_keeps_every_digest_and_skopeo_agrees() {
    let src_dir = tempfile::tempdir().unwrap();
    let (index, images) = write_multi_arch(src_dir.path(), "multi", Flavor::Oci);
    let src = OciLayout::open(src_dir.path()).unwrap();
    let repo = unique_repo("roundtrip");
    let registry = test_store(&repo);
    let report = copy(
        &src,
        &ManifestRef::Tag(tag("multi")),
        &registry,
        Some(&tag("v1")),
        &all(),
    )
    .unwrap();
    assert_eq!(report.manifest.digest, *index.digest());
    let addr = slipway_testkit::registry();
    // skopeo sees exactly the bytes slipway wrote: the index by tag, each image by digest.
    assert_eq!(
        skopeo_raw(&format!("docker://{addr}/{repo}:v1")),
        index.bytes()
    );
    for image in &images {
        let d = image.manifest().digest();
        assert_eq!(
            skopeo_raw(&format!("docker://{addr}/{repo}@{d}")),
            image.manifest().bytes()
        );
    }
    assert_eq!(registry.tags().unwrap(), vec![tag("v1")]);
    // A second push sends nothing but the tag's manifest.
    let again = copy(
        &src,
        &ManifestRef::Tag(tag("multi")),
        &registry,
        Some(&tag("v1")),
        &all(),
    )
    .unwrap();
    assert_eq!(again.blobs_copied, 1, "{again:?}");
    // And back into a fresh layout: same digests, a sound layout.
    let back_dir = tempfile::tempdir().unwrap();
    let back = OciLayout::create(back_dir.path()).unwrap();
    let report = copy(
        &registry,
        &ManifestRef::Tag(tag("v1")),
        &back,
        Some(&tag("v1")),
        &all(),
    )
    .unwrap();
    assert_eq!(report.manifest.digest, *index.digest());
    assert!(back.verify().unwrap().is_ok());
    let (raw, _) = back.get_decoded(&ManifestRef::Tag(tag("v1"))).unwrap();
    assert_eq!(raw.bytes(), index.bytes());
    assert_eq!(raw.media_type(), media_type::OCI_INDEX);
}

#[test]
fn docker_manifest_lists_and_skopeo_copies_both_ways() {
    let src_dir = tempfile::tempdir().unwrap();
    let (list, _) = write_multi_arch(src_dir.path(), "list", Flavor::Docker);
    let src = OciLayout::open(src_dir.path()).unwrap();
    let addr = slipway_testkit::registry();
    let ours = unique_repo("ours");
    let registry = test_store(&ours);
    copy(
        &src,
        &ManifestRef::Tag(tag("list")),
        &registry,
        Some(&tag("v1")),
        &all(),
    )
    .unwrap();
    let raw = registry
        .require_manifest(&ManifestRef::Tag(tag("v1")))
        .unwrap();
    assert_eq!(raw.media_type(), media_type::DOCKER_MANIFEST_LIST);
    assert_eq!(raw.bytes(), list.bytes());
    // skopeo copies slipway's push to another repository with --all: identical bytes.
    let theirs = unique_repo("theirs");
    run_ok(skopeo().args([
        "copy",
        "--quiet",
        "--all",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        &format!("docker://{addr}/{ours}:v1"),
        &format!("docker://{addr}/{theirs}:v1"),
    ]));
    assert_eq!(
        skopeo_raw(&format!("docker://{addr}/{theirs}:v1")),
        list.bytes()
    );
    // skopeo pushes an OCI layout; slipway pulls it back with every digest intact.
    let oci_dir = tempfile::tempdir().unwrap();
    let (index, _) = write_multi_arch(oci_dir.path(), "multi", Flavor::Oci);
    let pushed = unique_repo("skopeo-pushed");
    run_ok(skopeo().args([
        "copy",
        "--quiet",
        "--all",
        "--dest-tls-verify=false",
        &format!("oci:{}:multi", oci_dir.path().display()),
        &format!("docker://{addr}/{pushed}:v1"),
    ]));
    let from_skopeo = test_store(&pushed);
    let memory = MemoryStore::new();
    let report = copy(
        &from_skopeo,
        &ManifestRef::Tag(tag("v1")),
        &memory,
        Some(&tag("v1")),
        &all(),
    )
    .unwrap();
    assert_eq!(report.manifest.digest, *index.digest());
    assert_eq!(report.blobs_copied, 13, "{report:?}");
}

#[test]
fn large_blobs_go_in_chunks_and_small_limits_still_work() {
    let dir = tempfile::tempdir().unwrap();
    let layout = OciLayout::create(dir.path()).unwrap();
    let image = sample_image(&layout, "linux/amd64", Flavor::Oci);
    // A store that chunks anything over 100 bytes in 64-byte PATCHes.
    let repo = unique_repo("chunked");
    let registry = store_at(
        &slipway_testkit::registry(),
        &repo,
        RegistryOptions::default()
            .credentials(CredentialSource::Anonymous)
            .monolithic_limit(100)
            .chunk_size(64),
    );
    let blob: Vec<u8> = (0..5000u32).flat_map(u32::to_le_bytes).collect();
    let desc = registry
        .put_blob_bytes("application/octet-stream", &blob)
        .unwrap();
    assert_eq!(registry.blob_size(&desc.digest).unwrap(), Some(20_000));
    assert_eq!(registry.read_blob(&desc.digest).unwrap(), blob);
    copy(
        &layout,
        &ManifestRef::Digest(image.manifest().digest().clone()),
        &registry,
        Some(&tag("one")),
        &CopyOptions::default(),
    )
    .unwrap();
    let addr = slipway_testkit::registry();
    assert_eq!(
        skopeo_raw(&format!("docker://{addr}/{repo}:one")),
        image.manifest().bytes()
    );
}

#[test]
fn digests_are_verified_and_missing_content_is_refused() {
    let repo = unique_repo("verify");
    let registry = test_store(&repo);
    let err = registry
        .put_blob(
            &slipway_oci::Digest::sha256(b"right"),
            None,
            &mut &b"wrong"[..],
        )
        .unwrap_err();
    assert!(err.to_string().contains("hashes to"), "{err}");
    // A manifest naming a blob the repository lacks is refused before it is sent.
    let config = Descriptor::of_bytes(media_type::OCI_CONFIG, b"{}");
    let manifest = RawManifest::encode_image(&ImageManifest::new(Flavor::Oci, config, vec![]));
    let err = registry
        .put_manifest(&manifest, Some(&tag("v1")))
        .unwrap_err();
    assert!(err.to_string().contains("push it first"), "{err}");
    assert!(registry.tags().unwrap().is_empty());
    // Unknown content reads as absent, not as an error.
    let missing = slipway_oci::Digest::sha256(b"nothing");
    assert_eq!(registry.blob_size(&missing).unwrap(), None);
    assert!(registry.open_blob(&missing).unwrap().is_none());
    assert!(
        registry
            .get_manifest(&ManifestRef::Tag(tag("nope")))
            .unwrap()
            .is_none()
    );
}

#[test]
fn cross_repository_mount() {
    let src_dir = tempfile::tempdir().unwrap();
    let layout = OciLayout::create(src_dir.path()).unwrap();
    let image = sample_image(&layout, "linux/arm64", Flavor::Oci);
    let from = unique_repo("mount-from");
    let to = unique_repo("mount-to");
    let target = ManifestRef::Digest(image.manifest().digest().clone());
    copy(
        &layout,
        &target,
        &test_store(&from),
        Some(&tag("v1")),
        &CopyOptions::default(),
    )
    .unwrap();
    let dest = store_at(
        &slipway_testkit::registry(),
        &to,
        RegistryOptions::default()
            .credentials(CredentialSource::Anonymous)
            .mount_from(vec![from.clone()]),
    );
    let layer = &image.layers()[0].info().descriptor;
    assert!(dest.mount_blob(&layer.digest, &from).unwrap());
    assert_eq!(dest.blob_size(&layer.digest).unwrap(), Some(layer.size));
    // A blob the source repository lacks is not mounted (the registry opens an upload session instead).
    assert!(
        !dest
            .mount_blob(&slipway_oci::Digest::sha256(b"absent"), &from)
            .unwrap()
    );
    // Copy between the two repositories: the config comes by mount, nothing is read from the source.
    let source = test_store(&from);
    copy(
        &source,
        &target,
        &dest,
        Some(&tag("v1")),
        &CopyOptions::default(),
    )
    .unwrap();
    assert_eq!(
        dest.require_manifest(&ManifestRef::Tag(tag("v1")))
            .unwrap()
            .bytes(),
        image.manifest().bytes()
    );
}

/// A referrer of `subject`: an artifact manifest with the empty config and one layer.
fn referrer(
    store: &impl BlobStore<Error = slipway_oci::store::Error>,
    subject: &Descriptor,
    artifact_type: &str,
    body: &[u8],
) -> RawManifest {
    let config = store.put_blob_bytes(media_type::OCI_EMPTY, b"{}").unwrap();
    let layer = store.put_blob_bytes("text/plain", body).unwrap();
    let mut m = ImageManifest::new(Flavor::Oci, config, vec![layer]);
    m.artifact_type = Some(artifact_type.to_owned());
    m.subject = Some(Descriptor::new(
        &subject.media_type,
        subject.digest.clone(),
        subject.size,
    ));
    m.annotations.insert(
        "org.example.note".into(),
        String::from_utf8_lossy(body).into_owned(),
    );
    RawManifest::encode_image(&m)
}

#[test]
fn referrers_in_registry_and_layout() {
    let dir = tempfile::tempdir().unwrap();
    let layout = OciLayout::create(dir.path()).unwrap();
    let image = sample_image(&layout, "linux/amd64", Flavor::Oci);
    let subject = image.descriptor();
    let repo = unique_repo("referrers");
    let registry = test_store(&repo);
    copy(
        &layout,
        &ManifestRef::Digest(subject.digest.clone()),
        &registry,
        Some(&tag("v1")),
        &CopyOptions::default(),
    )
    .unwrap();
    for (store_name, sbom, sig) in [
        (
            "layout",
            referrer(&layout, &subject, "application/spdx+json", b"sbom"),
            referrer(&layout, &subject, "application/vnd.example.sig", b"sig"),
        ),
        (
            "registry",
            referrer(&registry, &subject, "application/spdx+json", b"sbom"),
            referrer(&registry, &subject, "application/vnd.example.sig", b"sig"),
        ),
    ] {
        let listed = if store_name == "layout" {
            layout.put_manifest(&sbom, None).unwrap();
            layout.put_manifest(&sig, None).unwrap();
            layout.referrers(&subject.digest, None).unwrap()
        } else {
            registry.put_manifest(&sbom, None).unwrap();
            registry.put_manifest(&sig, None).unwrap();
            registry.referrers(&subject.digest, None).unwrap()
        };
        let digests: Vec<_> = listed.iter().map(|d| d.digest.clone()).collect();
        assert_eq!(
            digests,
            vec![sbom.digest().clone(), sig.digest().clone()],
            "{store_name}"
        );
        assert_eq!(
            listed[0].artifact_type.as_deref(),
            Some("application/spdx+json")
        );
        assert_eq!(listed[1].annotations["org.example.note"], "sig");
    }
    let only_sboms = registry
        .referrers(&subject.digest, Some("application/spdx+json"))
        .unwrap();
    assert_eq!(only_sboms.len(), 1);
    assert!(
        registry
            .referrers(&slipway_oci::Digest::sha256(b"no subject"), None)
            .unwrap()
            .is_empty()
    );
    // Debian's Distribution has no referrers API: the tag-schema fallback index holds them, and skopeo
    // reads it as an ordinary OCI index.
    let fallback = format!("sha256-{}", subject.digest.encoded());
    assert!(registry.tags().unwrap().contains(&tag(&fallback)));
    let addr = slipway_testkit::registry();
    let raw = skopeo_raw(&format!("docker://{addr}/{repo}:{fallback}"));
    let text = String::from_utf8(raw).unwrap();
    assert!(
        text.contains(media_type::OCI_INDEX) && text.contains("application/vnd.example.sig"),
        "{text}"
    );
}

/// A second registry, with htpasswd basic auth (user `alice`, password `s3cret`).
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

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn auth_registry() -> AuthRegistry {
    let dir = tempfile::tempdir().unwrap();
    let line =
        run_ok(Command::new(require_tool("htpasswd")).args(["-Bbn", "alice", "s3cret"])).stdout;
    std::fs::write(dir.path().join("htpasswd"), line).unwrap();
    let addr = format!("127.0.0.1:{}", free_port());
    let config = format!(
        "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {root}\nauth:\n  htpasswd:\n    realm: slipway-test\n    path: {htpasswd}\nhttp:\n  addr: {addr}\n",
        root = dir.path().join("storage").display(),
        htpasswd = dir.path().join("htpasswd").display(),
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
        assert!(
            Instant::now() < deadline,
            "the auth registry did not start on {addr}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    AuthRegistry {
        child,
        addr,
        _dir: dir,
    }
}

fn write_config(dir: &Path, registry: &str, user: &str, password: &str) -> std::path::PathBuf {
    use base64::Engine;
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    let path = dir.join("config.json");
    std::fs::write(
        &path,
        format!(r#"{{"auths":{{"http://{registry}":{{"auth":"{auth}"}}}}}}"#),
    )
    .unwrap();
    path
}

#[test]
fn basic_auth_from_config_json_and_clear_errors_without_it() {
    let reg = auth_registry();
    let dir = tempfile::tempdir().unwrap();
    let layout = OciLayout::create(dir.path().join("layout")).unwrap();
    let image = sample_image(&layout, "linux/amd64", Flavor::Oci);
    let target = ManifestRef::Digest(image.manifest().digest().clone());
    let quick = RegistryOptions::default().retries(0);

    let anonymous = store_at(
        &reg.addr,
        "app",
        quick.clone().credentials(CredentialSource::Anonymous),
    );
    let err = copy(
        &layout,
        &target,
        &anonymous,
        Some(&tag("v1")),
        &CopyOptions::default(),
    )
    .unwrap_err();
    let text = format!(
        "{:?}",
        std::error::Error::source(&err).map(ToString::to_string)
    );
    assert!(
        text.contains(&format!("{}/app", reg.addr))
            && text.contains("HTTP 401")
            && text.contains("no credentials"),
        "{text}"
    );

    let wrong = write_config(dir.path(), &reg.addr, "alice", "wrong");
    let bad = store_at(
        &reg.addr,
        "app",
        quick
            .clone()
            .credentials(CredentialSource::Files(vec![wrong])),
    );
    let err = copy(
        &layout,
        &target,
        &bad,
        Some(&tag("v1")),
        &CopyOptions::default(),
    )
    .unwrap_err();
    let text = format!(
        "{:?}",
        std::error::Error::source(&err).map(ToString::to_string)
    );
    assert!(
        text.contains("refused the credentials") && !text.contains("wrong"),
        "{text}"
    );

    let right = write_config(dir.path(), &reg.addr, "alice", "s3cret");
    let good = store_at(
        &reg.addr,
        "app",
        quick.credentials(CredentialSource::Files(vec![right])),
    );
    copy(
        &layout,
        &target,
        &good,
        Some(&tag("v1")),
        &CopyOptions::default(),
    )
    .unwrap();
    assert_eq!(good.tags().unwrap(), vec![tag("v1")]);
    // The store's Debug output never carries the password.
    let debug = format!("{good:?}");
    assert!(!debug.contains("s3cret"), "{debug}");
    let explicit = store_at(
        &reg.addr,
        "app",
        RegistryOptions::default().credentials(CredentialSource::Explicit(Credentials::basic(
            "alice", "s3cret",
        ))),
    );
    assert!(
        explicit
            .get_manifest(&ManifestRef::Tag(tag("v1")))
            .unwrap()
            .is_some()
    );
    assert!(!format!("{explicit:?}").contains("s3cret"));
}

/// What the proxy does to one connection.
#[derive(Debug, Clone, Copy)]
enum Fault {
    /// Forward both ways.
    Pass,
    /// Read the request, then close without answering.
    Reset,
    /// Answer `503` and close.
    Unavailable,
    /// Read the request, then say nothing for this long.
    Stall(Duration),
    /// Forward, but cut the connection after this many request bytes.
    CutAfter(usize),
}

/// A TCP proxy in front of the test registry that applies `faults` to its first connections, then
/// `then` to every later one.
struct FaultProxy {
    addr: String,
}

fn fault_proxy(faults: Vec<Fault>, then: Fault) -> FaultProxy {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let upstream = slipway_testkit::registry();
    let queue = Arc::new(Mutex::new(VecDeque::from(faults)));
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(client) = conn else { continue };
            let fault = queue.lock().unwrap().pop_front().unwrap_or(then);
            let upstream = upstream.clone();
            std::thread::spawn(move || handle(client, &upstream, fault));
        }
    });
    FaultProxy { addr }
}

fn read_head(client: &mut TcpStream) -> Vec<u8> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match client.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => break,
        }
    }
    head
}

fn handle(mut client: TcpStream, upstream: &str, fault: Fault) {
    match fault {
        Fault::Reset => {
            read_head(&mut client);
            let _ = client.shutdown(Shutdown::Both);
        }
        Fault::Unavailable => {
            read_head(&mut client);
            let _ = client.write_all(
                b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
            );
            let _ = client.shutdown(Shutdown::Both);
        }
        Fault::Stall(d) => {
            read_head(&mut client);
            std::thread::sleep(d);
        }
        Fault::Pass | Fault::CutAfter(_) => {
            let Ok(server) = TcpStream::connect(upstream) else {
                return;
            };
            let limit = match fault {
                Fault::CutAfter(n) => Some(n),
                _ => None,
            };
            let (mut c2, mut s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
            let back = std::thread::spawn(move || {
                let _ = std::io::copy(&mut s2, &mut c2);
                let _ = c2.shutdown(Shutdown::Write);
            });
            pump(&mut client, &server, limit);
            let _ = back.join();
        }
    }
}

/// Client to server, cutting both sides after `limit` bytes.
fn pump(client: &mut TcpStream, mut server: &TcpStream, limit: Option<usize>) {
    let mut buf = [0u8; 16 << 10];
    let mut sent = 0;
    loop {
        let n = match client.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if let Some(limit) = limit
            && sent + n > limit
        {
            let _ = server.write_all(&buf[..limit - sent]);
            let _ = client.shutdown(Shutdown::Both);
            let _ = server.shutdown(Shutdown::Both);
            return;
        }
        sent += n;
        if server.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = server.shutdown(Shutdown::Write);
}

fn through(proxy: &FaultProxy, repo: &str) -> RegistryStore {
    store_at(
        &proxy.addr,
        repo,
        RegistryOptions::default()
            .credentials(CredentialSource::Anonymous)
            .retries(5)
            .backoff(Duration::from_millis(10))
            .timeout(Duration::from_millis(700))
            .monolithic_limit(2048)
            .chunk_size(1024),
    )
}

/// Whether the tag exists; when it does, everything it names must be in the repository (checked
/// directly, not through the proxy).
fn tag_exists_and_is_sound(repo: &str, t: &str) -> bool {
    let direct = test_store(repo);
    if !direct.tags().unwrap().contains(&tag(t)) {
        return false;
    }
    copy(
        &direct,
        &ManifestRef::Tag(tag(t)),
        &MemoryStore::new(),
        None,
        &all(),
    )
    .unwrap();
    true
}

#[test]
fn pushes_ride_out_resets_stalls_and_5xx() {
    let src_dir = tempfile::tempdir().unwrap();
    let (index, _) = write_multi_arch(src_dir.path(), "multi", Flavor::Oci);
    let src = OciLayout::open(src_dir.path()).unwrap();
    // A big layer too, so that chunked uploads meet the faults.
    let big: Vec<u8> = (0..3000u32).flat_map(u32::to_be_bytes).collect();
    src.put_blob_bytes("application/octet-stream", &big)
        .unwrap();
    let proxy = fault_proxy(
        vec![
            Fault::Reset,
            Fault::Unavailable,
            Fault::Stall(Duration::from_millis(1500)),
            Fault::Unavailable,
            Fault::CutAfter(300),
            Fault::Reset,
        ],
        Fault::Pass,
    );
    let repo = unique_repo("faults");
    let store = through(&proxy, &repo);
    let report = copy(
        &src,
        &ManifestRef::Tag(tag("multi")),
        &store,
        Some(&tag("v1")),
        &all(),
    )
    .unwrap();
    assert_eq!(report.manifest.digest, *index.digest());
    let desc = store
        .put_blob_bytes("application/octet-stream", &big)
        .unwrap();
    assert_eq!(store.read_blob(&desc.digest).unwrap(), big);
    assert!(tag_exists_and_is_sound(&repo, "v1"));
}

#[test]
fn a_push_that_cannot_finish_fails_clearly_and_leaves_no_dangling_tag() {
    let src_dir = tempfile::tempdir().unwrap();
    write_multi_arch(src_dir.path(), "multi", Flavor::Oci);
    let src = OciLayout::open(src_dir.path()).unwrap();
    for cut in [200, 2_000, 9_000] {
        // The first connection carries `cut` bytes, every later one is reset: the push dies part way.
        let proxy = fault_proxy(vec![Fault::CutAfter(cut)], Fault::Reset);
        let repo = unique_repo("dies");
        let store = through(&proxy, &repo);
        let started = Instant::now();
        let err = copy(
            &src,
            &ManifestRef::Tag(tag("multi")),
            &store,
            Some(&tag("v1")),
            &all(),
        )
        .unwrap_err();
        let text = format!(
            "{err}: {}",
            std::error::Error::source(&err)
                .map(ToString::to_string)
                .unwrap_or_default()
        );
        assert!(text.contains(&format!("{}/{repo}", proxy.addr)), "{text}");
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "retries are bounded"
        );
        assert!(
            !tag_exists_and_is_sound(&repo, "v1"),
            "cut at {cut}: the tag must not exist"
        );
    }
}
