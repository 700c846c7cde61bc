//! Unit tests of the registry store against small fake registries on loopback.

use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;
use crate::store::BlobStoreExt;

#[test]
fn query_values_are_encoded() {
    assert_eq!(encode_query("a/b:c d"), "a%2Fb%3Ac%20d");
    let d = Digest::sha256(b"x");
    assert!(with_digest("http://h/u?_state=1", &d).contains("&digest=sha256%3A"));
    assert!(with_digest("http://h/u", &d).contains("?digest=sha256%3A"));
}

#[test]
fn registry_errors_read_well() {
    let body = br#"{"errors":[{"code":"MANIFEST_BLOB_UNKNOWN","message":"blob unknown to registry","detail":"x"}]}"#;
    assert_eq!(
        registry_error_text(body).unwrap(),
        "MANIFEST_BLOB_UNKNOWN: blob unknown to registry"
    );
    assert_eq!(registry_error_text(b"404 page not found"), None);
}

#[test]
fn media_type_from_header_or_document() {
    assert_eq!(
        manifest_media_type(Some("application/vnd.oci.image.index.v1+json"), b"{}"),
        media_type::OCI_INDEX
    );
    assert_eq!(
        manifest_media_type(
            Some("application/json; charset=utf-8"),
            br#"{"manifests":[]}"#
        ),
        media_type::OCI_INDEX
    );
    assert_eq!(
        manifest_media_type(
            None,
            br#"{"mediaType":"application/vnd.docker.distribution.manifest.v2+json"}"#
        ),
        media_type::DOCKER_MANIFEST
    );
}

#[test]
fn spool_checks_digest_and_size_in_memory_and_on_disk() {
    let data = vec![7u8; 3000];
    let d = Digest::sha256(&data);
    let small = spool(&d, Some(3000), &mut &data[..], 10_000).unwrap();
    assert!(matches!(small, Spool::Memory(_)));
    let big = spool(&d, None, &mut &data[..], 100).unwrap();
    assert!(matches!(big, Spool::File { len: 3000, .. }));
    let err = spool(&d, Some(2999), &mut &data[..], 100).unwrap_err();
    assert!(matches!(err, Error::SizeMismatch { .. }), "{err}");
    let err = spool(&Digest::sha256(b"other"), None, &mut &data[..], 100).unwrap_err();
    assert!(matches!(err, Error::DigestMismatch { .. }), "{err}");
}

/// What a fake registry does with one request.
enum Reply {
    /// A whole answer (with `Content-Length`; no body after a `HEAD`).
    Full(u16, Vec<(String, String)>, Vec<u8>),
    /// `status` with a chunked body of zeros that never ends: it stops when the client goes away or after
    /// `FAKE_CAP` bytes, counting what it sent into `sent`.
    Endless { status: u16, sent: Arc<AtomicUsize> },
    /// `200` declaring `Content-Length: length`, then one byte every few milliseconds, until the client
    /// goes away (or after 2,000 bytes, some seconds: the test-side cap).
    Dribble { length: u64 },
}

impl From<(u16, Vec<(String, String)>, Vec<u8>)> for Reply {
    fn from((status, headers, body): (u16, Vec<(String, String)>, Vec<u8>)) -> Self {
        Reply::Full(status, headers, body)
    }
}

/// The most a fake registry sends of an endless body: far more than any limit the client should keep.
const FAKE_CAP: usize = 64 << 20;

/// Writes `reply` to `conn`; `false` when the connection is done.
fn write_reply(conn: &mut std::net::TcpStream, head: &str, reply: Reply) -> bool {
    use std::fmt::Write as _;
    let status_line = |status: u16, headers: &[(String, String)], framing: String| {
        let mut out = format!("HTTP/1.1 {status} X\r\n{framing}");
        for (k, v) in headers {
            let _ = write!(out, "{k}: {v}\r\n");
        }
        out.push_str("\r\n");
        out.into_bytes()
    };
    match reply {
        Reply::Full(status, headers, body) => {
            let mut bytes = status_line(
                status,
                &headers,
                format!("content-length: {}\r\n", body.len()),
            );
            if !head.starts_with("HEAD ") {
                bytes.extend_from_slice(&body);
            }
            conn.write_all(&bytes).is_ok()
        }
        Reply::Endless { status, sent } => {
            let framing = "transfer-encoding: chunked\r\n".to_owned();
            if conn.write_all(&status_line(status, &[], framing)).is_err() {
                return false;
            }
            let block = 64 << 10;
            let mut chunk = format!("{block:x}\r\n").into_bytes();
            chunk.extend(std::iter::repeat_n(b'0', block));
            chunk.extend_from_slice(b"\r\n");
            while sent.load(Ordering::SeqCst) < FAKE_CAP {
                if conn.write_all(&chunk).is_err() {
                    return false;
                }
                sent.fetch_add(block, Ordering::SeqCst);
            }
            let _ = conn.write_all(b"0\r\n\r\n");
            false
        }
        Reply::Dribble { length } => {
            let framing = format!("content-length: {length}\r\n");
            if conn.write_all(&status_line(200, &[], framing)).is_err() {
                return false;
            }
            for _ in 0..length.min(2000) {
                std::thread::sleep(Duration::from_millis(3));
                if conn.write_all(b" ").is_err() {
                    return false;
                }
            }
            false
        }
    }
}

/// A tiny HTTP/1.1 server on loopback: `answer(request head)` says what to send back. Returns its
/// address and the requests it saw (head, then body).
fn fake_registry<R: Into<Reply>>(
    answer: impl Fn(&str) -> R + Send + Sync + 'static,
) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    let answer = Arc::new(answer);
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let (log, answer) = (Arc::clone(&log), Arc::clone(&answer));
            std::thread::spawn(move || {
                loop {
                    let mut head = Vec::new();
                    let mut byte = [0u8; 1];
                    while !head.ends_with(b"\r\n\r\n") {
                        match conn.read(&mut byte) {
                            Ok(1) => head.push(byte[0]),
                            _ => return,
                        }
                    }
                    let mut head = String::from_utf8_lossy(&head).into_owned();
                    // A request body (a token grant, a chunk) is read too, and shown after the head.
                    let length = head
                        .lines()
                        .filter_map(|l| l.split_once(':'))
                        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                        .and_then(|(_, v)| v.trim().parse::<usize>().ok())
                        .unwrap_or(0);
                    let mut body = vec![0u8; length];
                    if conn.read_exact(&mut body).is_err() {
                        return;
                    }
                    head.push_str(&String::from_utf8_lossy(&body));
                    log.lock().unwrap().push(head.clone());
                    let reply = answer(&head).into();
                    if !write_reply(&mut conn, &head, reply) {
                        return;
                    }
                }
            });
        }
    });
    (addr, seen)
}

/// The fake registry's answer to a request without the token: a Bearer challenge naming its realm.
fn bearer_challenge(realm: &Mutex<String>) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let realm = realm.lock().unwrap().clone();
    let challenge = format!(r#"Bearer realm="http://{realm}/token",service="fake""#);
    (
        401,
        vec![("www-authenticate".into(), challenge)],
        Vec::new(),
    )
}

fn store_for(addr: &str, credentials: CredentialSource) -> RegistryStore {
    let reference = RegistryReference {
        registry: addr.to_owned(),
        repository: "team/app".to_owned(),
        tag: None,
        digest: None,
    };
    RegistryStore::new(
        &reference,
        RegistryOptions::default()
            .credentials(credentials)
            .retries(0),
    )
    .unwrap()
}

#[test]
// One scenario, read top to bottom: the fake registry's rules, then what the client does with them.
#[allow(clippy::too_many_lines)]
fn bearer_tokens_and_the_referrers_api() {
    let subject = Digest::sha256(b"subject");
    let listing = format!(
        r#"{{"schemaVersion":2,"mediaType":"{}","manifests":[
        {{"mediaType":"{m}","digest":"{a}","size":10,"artifactType":"application/spdx+json"}},
        {{"mediaType":"{m}","digest":"{b}","size":11,"artifactType":"application/vnd.example.sig"}}]}}"#,
        media_type::OCI_INDEX,
        m = media_type::OCI_MANIFEST,
        a = Digest::sha256(b"a"),
        b = Digest::sha256(b"b"),
    );
    let addr_cell: Arc<Mutex<String>> = Arc::default();
    let realm_addr = Arc::clone(&addr_cell);
    let (addr, seen) = fake_registry(move |head| {
        let first = head.lines().next().unwrap_or("");
        let lower = head.to_ascii_lowercase();
        if first.starts_with("GET /token?") {
            // Basic alice:pw is required for a token.
            if lower.contains("authorization: basic ywxpy2u6chc=") {
                return (
                    200,
                    vec![],
                    br#"{"access_token":"tok-123-secret"}"#.to_vec(),
                );
            }
            return (401, vec![], Vec::new());
        }
        if !lower.contains("authorization: bearer tok-123-secret") {
            return bearer_challenge(&realm_addr);
        }
        if first.starts_with("GET /v2/team/app/referrers/") {
            return (
                200,
                vec![("content-type".into(), media_type::OCI_INDEX.into())],
                listing.clone().into_bytes(),
            );
        }
        if first.starts_with("GET /v2/team/app/manifests/lying") {
            let said = Digest::sha256(b"something else").to_string();
            return (
                200,
                vec![
                    ("content-type".into(), media_type::OCI_INDEX.into()),
                    ("docker-content-digest".into(), said),
                ],
                listing.clone().into_bytes(),
            );
        }
        (404, vec![], Vec::new())
    });
    *addr_cell.lock().unwrap() = addr.clone();

    let store = store_for(
        &addr,
        CredentialSource::Explicit(Credentials::basic("alice", "pw")),
    );
    let sigs = store
        .referrers(&subject, Some("application/vnd.example.sig"))
        .unwrap();
    assert_eq!(
        sigs.len(),
        1,
        "the client filters when the registry did not"
    );
    assert_eq!(sigs[0].digest, Digest::sha256(b"b"));
    assert_eq!(store.referrers(&subject, None).unwrap().len(), 2);
    let heads = seen.lock().unwrap().clone();
    let token_requests: Vec<_> = heads
        .iter()
        .filter(|h| h.starts_with("GET /token?"))
        .collect();
    assert_eq!(token_requests.len(), 1, "the token is cached: {heads:?}");
    assert!(
        token_requests[0].contains("service=fake"),
        "{}",
        token_requests[0]
    );
    assert!(
        token_requests[0].contains("scope=repository%3Ateam%2Fapp%3Apull")
            || token_requests[0].contains("scope=repository:team/app:pull"),
        "{}",
        token_requests[0]
    );
    assert!(
        heads
            .iter()
            .any(|h| h.starts_with("GET /v2/team/app/referrers/sha256:")
                && h.contains("artifactType=application%2Fvnd.example.sig")),
        "{heads:?}"
    );
    // A tag whose bytes do not match Docker-Content-Digest is refused.
    let err = store
        .get_manifest(&ManifestRef::Tag(Tag::new("lying").unwrap()))
        .unwrap_err();
    assert!(matches!(err, Error::DigestMismatch { .. }), "{err}");
    let debug = format!("{store:?}");
    assert!(
        !debug.contains("tok-123") && !debug.contains("pw\""),
        "{debug}"
    );

    // Anonymous: the token service refuses, and the error says where and why, without secrets.
    let anonymous = store_for(&addr, CredentialSource::Anonymous);
    let err = anonymous.referrers(&subject, None).unwrap_err().to_string();
    assert!(
        err.contains("team/app: listing referrers of sha256:"),
        "{err}"
    );
    assert!(
        err.contains("token service") && err.contains("HTTP 401"),
        "{err}"
    );
}

#[test]
fn identity_tokens_are_traded_for_access_tokens_and_tags_are_paged() {
    let addr_cell: Arc<Mutex<String>> = Arc::default();
    let realm_addr = Arc::clone(&addr_cell);
    let (addr, seen) = fake_registry(move |head| {
        let first = head.lines().next().unwrap_or("");
        if first.starts_with("POST /token ") {
            if head.contains("grant_type=refresh_token")
                && head.contains("refresh_token=refresh-secret")
            {
                return (200, vec![], br#"{"access_token":"acc-1"}"#.to_vec());
            }
            return (401, vec![], Vec::new());
        }
        if !head
            .to_ascii_lowercase()
            .contains("authorization: bearer acc-1")
        {
            return bearer_challenge(&realm_addr);
        }
        if first.starts_with("GET /v2/team/app/tags/list") {
            let tags = if first.contains("last=b") {
                "[]"
            } else {
                r#"["a","b"]"#
            };
            let body = format!(r#"{{"name":"team/app","tags":{tags}}}"#);
            return (200, vec![], body.into_bytes());
        }
        (404, vec![], Vec::new())
    });
    *addr_cell.lock().unwrap() = addr.clone();
    let store = store_for(
        &addr,
        CredentialSource::Explicit(Credentials::IdentityToken("refresh-secret".into())),
    );
    let tags = store.tags().unwrap();
    assert_eq!(tags.iter().map(Tag::as_str).collect::<Vec<_>>(), ["a", "b"]);
    let heads = seen.lock().unwrap().clone();
    let grants: Vec<_> = heads
        .iter()
        .filter(|h| h.starts_with("POST /token "))
        .collect();
    assert_eq!(grants.len(), 1, "{heads:?}");
    assert!(
        grants[0].contains("scope=repository%3Ateam%2Fapp%3Apull")
            && grants[0].contains("service=fake"),
        "{}",
        grants[0]
    );
    assert!(
        heads.iter().any(|h| h.contains("last=b")),
        "the second page is asked for: {heads:?}"
    );
    assert!(!format!("{store:?}").contains("refresh-secret"));

    // A refused grant names the token service and its status, not the token.
    let refused = store_for(
        &addr,
        CredentialSource::Explicit(Credentials::IdentityToken("stale".into())),
    );
    let err = refused.tags().unwrap_err().to_string();
    assert!(
        err.contains("token service") && err.contains("HTTP 401") && !err.contains("stale"),
        "{err}"
    );
}

#[test]
fn mounts_ask_for_a_token_covering_both_repositories() {
    let digest = Digest::sha256(b"layer");
    let addr_cell: Arc<Mutex<String>> = Arc::default();
    let realm_addr = Arc::clone(&addr_cell);
    let (addr, seen) = fake_registry(move |head| {
        let first = head.lines().next().unwrap_or("");
        let lower = head.to_ascii_lowercase();
        if first.starts_with("GET /token?") {
            // Only a token asked for both scopes allows the mount.
            let both = first.contains("scope=repository%3Ateam%2Fapp%3Apull%2Cpush")
                && first.contains("scope=repository%3Ateam%2Fbase%3Apull");
            let token = if both { "tok-both" } else { "tok-one" };
            return (
                200,
                vec![],
                format!(r#"{{"token":"{token}"}}"#).into_bytes(),
            );
        }
        if !lower.contains("authorization: bearer tok-") {
            return bearer_challenge(&realm_addr);
        }
        if first.starts_with("POST /v2/team/app/blobs/uploads/?mount=") {
            if lower.contains("authorization: bearer tok-both")
                && first.contains("from=team%2Fbase")
            {
                return (
                    201,
                    vec![("location".into(), "/v2/team/app/blobs/x".into())],
                    Vec::new(),
                );
            }
            let session = ("location".into(), "/v2/team/app/blobs/uploads/s1".into());
            return (202, vec![session], Vec::new());
        }
        if first.starts_with("DELETE /v2/team/app/blobs/uploads/s1") {
            return (204, vec![], Vec::new());
        }
        (404, vec![], Vec::new())
    });
    *addr_cell.lock().unwrap() = addr.clone();
    let store = store_for(&addr, CredentialSource::Anonymous);
    let mounted = store.mount_blob(&digest, "team/base").unwrap();
    assert!(mounted, "{:#?}", seen.lock().unwrap());
    // From a repository the fake registry does not hold: a 202, whose session is cancelled.
    assert!(!store.mount_blob(&digest, "team/other").unwrap());
    let seen = seen.lock().unwrap();
    assert!(
        seen.iter()
            .any(|h| h.starts_with("DELETE /v2/team/app/blobs/uploads/s1")),
        "{seen:#?}"
    );
}

#[test]
fn fallback_tags_follow_the_schema() {
    let d = Digest::sha256(b"x");
    assert_eq!(
        fallback_tag(&d).unwrap().as_str(),
        format!("sha256-{}", d.encoded())
    );
}

fn store_with(addr: &str, options: RegistryOptions) -> RegistryStore {
    let reference = RegistryReference {
        registry: addr.to_owned(),
        repository: "team/app".to_owned(),
        tag: None,
        digest: None,
    };
    RegistryStore::new(&reference, options).unwrap()
}

fn first_line(head: &str) -> &str {
    head.lines().next().unwrap_or("")
}

/// Registry A keeps its upload sessions and some blobs on B, another origin (another port), as
/// registries backed by S3-style storage do; with `bearer`, A's token service is on B too. A wants
/// `alice:pw` (Basic) or the token B issues for it. Pushes, a refused mount and redirected reads go
/// through the store; then no request to B may carry credentials, except the token request itself
/// (where Docker sends them too).
// One scenario, read top to bottom: the two fakes' rules, what the store does, what B saw.
#[allow(clippy::too_many_lines)]
fn credentials_stay_with_their_origin(bearer: bool) {
    const BASIC: &str = "authorization: basic ywxpy2u6chc=";
    let redirected = b"a blob kept on the other origin".to_vec();
    let redirected_digest = Digest::sha256(&redirected);
    let b_cell: Arc<Mutex<String>> = Arc::default();
    let b_addr = Arc::clone(&b_cell);
    let redirected_path = format!("/v2/team/app/blobs/{redirected_digest}");
    let (a, a_seen) = fake_registry(move |head| {
        let first = first_line(head);
        let lower = head.to_ascii_lowercase();
        let b = b_addr.lock().unwrap().clone();
        let authorized = if bearer {
            lower.contains("authorization: bearer tok-b")
        } else {
            lower.contains(BASIC)
        };
        if !authorized {
            if bearer {
                return bearer_challenge(&b_addr);
            }
            let challenge = ("www-authenticate".into(), r#"Basic realm="fake""#.into());
            return (401, vec![challenge], Vec::new());
        }
        let location = |path: &str| vec![("location".to_owned(), format!("http://{b}{path}"))];
        if first.starts_with("GET /v2/ ") {
            return (200, vec![], Vec::new());
        }
        if first.contains(&redirected_path) {
            return (302, location("/blob/x"), Vec::new());
        }
        if first.starts_with("POST /v2/team/app/blobs/uploads/?mount=") {
            return (202, location("/upload/m1"), Vec::new());
        }
        if first.starts_with("POST /v2/team/app/blobs/uploads/") {
            return (202, location("/upload/s1?_state=x"), Vec::new());
        }
        (404, vec![], Vec::new())
    });
    let served = redirected.clone();
    let (b, b_seen) = fake_registry(move |head| {
        let first = first_line(head);
        if first.starts_with("GET /token?") {
            if head.to_ascii_lowercase().contains(BASIC) {
                return (200, vec![], br#"{"token":"tok-b"}"#.to_vec());
            }
            return (401, vec![], Vec::new());
        }
        if first.starts_with("PATCH /upload/") {
            // Relative: resolved against B, where this answer comes from.
            let next = ("location".to_owned(), "/upload/s2?_state=y".to_owned());
            return (202, vec![next], Vec::new());
        }
        if first.starts_with("PUT /upload/") {
            return (201, vec![], Vec::new());
        }
        if first.starts_with("DELETE /upload/m1") {
            return (204, vec![], Vec::new());
        }
        if first.starts_with("GET /blob/") || first.starts_with("HEAD /blob/") {
            return (200, vec![], served.clone());
        }
        (404, vec![], Vec::new())
    });
    *b_cell.lock().unwrap() = b.clone();

    let store = store_with(
        &a,
        RegistryOptions::default()
            .credentials(CredentialSource::Explicit(Credentials::basic(
                "alice", "pw",
            )))
            .retries(0)
            .monolithic_limit(16)
            .chunk_size(8),
    );
    for data in [
        &b"forty bytes of a layer, sent in chunks.."[..],
        b"small",
        b"",
    ] {
        let digest = Digest::sha256(data);
        store
            .put_blob(&digest, Some(data.len() as u64), &mut &data[..])
            .unwrap();
    }
    assert!(
        !store
            .mount_blob(&Digest::sha256(b"m"), "team/base")
            .unwrap()
    );
    assert_eq!(
        store.blob_size(&redirected_digest).unwrap(),
        Some(redirected.len() as u64)
    );
    assert_eq!(store.read_blob(&redirected_digest).unwrap(), redirected);

    let a_seen = a_seen.lock().unwrap().clone();
    let b_seen = b_seen.lock().unwrap().clone();
    for h in &b_seen {
        let lower = h.to_ascii_lowercase();
        let carries = lower.contains("authorization:");
        assert!(
            !carries || (bearer && h.starts_with("GET /token?") && lower.contains(BASIC)),
            "credentials went to {b}: {h}"
        );
    }
    for expected in [
        "PATCH /upload/s1",
        "PATCH /upload/s2",
        "PUT /upload/s2",
        "PUT /upload/s1",
        "DELETE /upload/m1",
        "HEAD /blob/",
        "GET /blob/",
    ] {
        assert!(
            b_seen.iter().any(|h| h.starts_with(expected)),
            "{expected} was not sent to B: {b_seen:#?}"
        );
    }
    let a_authorized = a_seen
        .iter()
        .filter(|h| h.to_ascii_lowercase().contains("authorization:"))
        .count();
    assert!(a_authorized > 0, "{a_seen:#?}");
}

#[test]
fn basic_credentials_stay_with_their_origin() {
    credentials_stay_with_their_origin(false);
}

#[test]
fn bearer_tokens_stay_with_their_origin() {
    credentials_stay_with_their_origin(true);
}

/// The error text of whatever the store did, `Ok` included (a test failure then says what happened).
fn outcome<T: fmt::Debug>(result: Result<T>) -> String {
    match result {
        Ok(value) => format!("Ok({value:?})").chars().take(300).collect(),
        Err(e) => e.to_string(),
    }
}

#[test]
fn a_deadline_bounds_each_request_however_slowly_its_body_arrives() {
    let digest = Digest::sha256(b"slow");
    let (addr, _) = fake_registry(|head| {
        let first = first_line(head);
        if first.starts_with("GET /v2/team/app/manifests/")
            || first.starts_with("GET /v2/team/app/blobs/")
        {
            return Reply::Dribble { length: 100_000 };
        }
        if first.starts_with("GET /v2/ ") {
            return (200, vec![], Vec::new()).into();
        }
        (404, vec![], Vec::new()).into()
    });
    let store = store_with(
        &addr,
        RegistryOptions::default()
            .credentials(CredentialSource::Anonymous)
            .retries(0)
            .deadline(Duration::from_millis(300)),
    );
    let err = outcome(store.get_manifest(&ManifestRef::Tag(Tag::new("slow").unwrap())));
    assert!(
        err.contains("fetching manifest slow")
            && err.contains("/v2/team/app/manifests/slow")
            && err.contains("300ms"),
        "{err}"
    );
    let mut reader = store.open_blob(&digest).unwrap().unwrap();
    let err = reader.read_to_end(&mut Vec::new()).unwrap_err().to_string();
    assert!(
        err.contains(&format!("/v2/team/app/blobs/{digest}")) && err.contains("300ms"),
        "{err}"
    );
}

/// A fake registry whose answers to requests starting with `prefix` never end (status `status`); the
/// count is what it sent of them before the client went away.
fn endless(prefix: &'static str, status: u16) -> (String, Arc<AtomicUsize>) {
    let sent = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&sent);
    let (addr, _) = fake_registry(move |head| {
        let first = first_line(head);
        if first.starts_with(prefix) {
            return Reply::Endless {
                status,
                sent: Arc::clone(&counter),
            };
        }
        if first.starts_with("GET /v2/ ") {
            return (200, vec![], Vec::new()).into();
        }
        (404, vec![], Vec::new()).into()
    });
    (addr, sent)
}

/// One request of the store, with the error it gave (or what it read).
type Probe = fn(&RegistryStore, &Digest, &Digest) -> String;

#[test]
fn endless_bodies_stop_at_their_limits() {
    // What the client may have taken in past a limit when it stops: socket buffers on both sides.
    const SLACK: u64 = 16 << 20;
    let anonymous = || {
        RegistryOptions::default()
            .credentials(CredentialSource::Anonymous)
            .retries(0)
    };
    let subject = Digest::sha256(b"subject");
    let blob = Digest::sha256(b"a hundred bytes");
    let cases: [(&str, u16, Probe); 6] = [
        ("GET /v2/team/app/manifests/", 200, |s, _, _| {
            outcome(s.get_manifest(&ManifestRef::Tag(Tag::new("v1").unwrap())))
        }),
        ("GET /v2/team/app/manifests/", 200, |s, subject, _| {
            outcome(s.get_manifest(&ManifestRef::Digest(subject.clone())))
        }),
        // An error answer's body is only read for its message.
        ("GET /v2/team/app/manifests/", 500, |s, _, _| {
            outcome(s.get_manifest(&ManifestRef::Tag(Tag::new("v1").unwrap())))
        }),
        ("GET /v2/team/app/tags/list", 200, |s, _, _| {
            outcome(s.tags())
        }),
        ("GET /v2/team/app/referrers/", 200, |s, subject, _| {
            outcome(s.referrers(subject, None))
        }),
        ("GET /v2/team/app/blobs/", 200, |s, _, blob| {
            match s.open_blob_sized(blob, 100) {
                Ok(Some(mut reader)) => match reader.read_to_end(&mut Vec::new()) {
                    Ok(n) => format!("read {n} bytes"),
                    Err(e) => e.to_string(),
                },
                other => outcome(other.map(|r| r.is_some())),
            }
        }),
    ];
    for (prefix, status, op) in cases {
        let (addr, sent) = endless(prefix, status);
        let store = store_with(&addr, anonymous());
        let said = op(&store, &subject, &blob);
        let sent = sent.load(Ordering::SeqCst);
        assert!(
            (sent as u64) < MANIFEST_LIMIT + SLACK,
            "{prefix} ({status}): {sent} bytes sent before the client stopped; it said: {said}"
        );
        assert!(said.contains("team/app"), "{prefix} ({status}): {said}");
    }

    // The token service's answer is bounded too.
    let (addr, sent) = endless("GET /token?", 200);
    let realm = Arc::new(Mutex::new(String::new()));
    let realm_for_fake = Arc::clone(&realm);
    let (registry, _) = fake_registry(move |_| bearer_challenge(&realm_for_fake));
    *realm.lock().unwrap() = addr;
    let store = store_with(
        &registry,
        anonymous().credentials(CredentialSource::Explicit(Credentials::basic(
            "alice", "pw",
        ))),
    );
    let said = outcome(store.tags());
    let sent = sent.load(Ordering::SeqCst);
    assert!(
        (sent as u64) < SLACK,
        "{sent} bytes of token answer read; {said}"
    );

    // A blob declared at 100 bytes whose answer says more is refused before its body is read.
    let (addr, _) = fake_registry(|head| {
        if first_line(head).starts_with("GET /v2/ ") {
            return (200, vec![], Vec::new());
        }
        (200, vec![], vec![0u8; 1 << 20])
    });
    let store = store_with(&addr, anonymous());
    let err = outcome(store.open_blob_sized(&blob, 100).map(|r| r.is_some()));
    assert!(err.contains("1048576") && err.contains("100"), "{err}");
}

/// A reader that counts what it gave.
struct Counting<R> {
    inner: R,
    given: u64,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.given += n as u64;
        Ok(n)
    }
}

#[test]
fn uploads_read_no_more_than_the_declared_size() {
    let digest = Digest::sha256(b"a hundred bytes");
    for limit in [10_000, 10] {
        let mut endless = Counting {
            inner: io::repeat(0).take(FAKE_CAP as u64),
            given: 0,
        };
        let err = spool(&digest, Some(100), &mut endless, limit).unwrap_err();
        assert!(matches!(err, Error::SizeMismatch { .. }), "{err}");
        assert!(endless.given <= 101, "{} bytes read for 100", endless.given);
    }
}
