//! One repository of a registry as a store (feature `registry`), speaking the OCI distribution API.
//!
//! # What does the work
//!
//! [`oci_client::Client`] (0.18, on reqwest + rustls) carries the requests its API can express:
//! manifests by tag or digest (`pull_manifest_raw`, with its digest checks), manifest existence
//! (`fetch_manifest_digest`), manifest pushes (`push_manifest_raw`), blob existence (`blob_exists`), blob
//! downloads (`pull_blob_stream`, which verifies the digest as the stream ends), one-request uploads of blobs held in memory (`push_blob` with `use_monolithic_push`),
//! tags (`list_tags`, paged with `last`), the referrers API with its `sha256-<hex>` tag fallback on `404`
//! (`pull_referrers`), and the token flow (`Client::auth` with `Basic` credentials or anonymous): it reads
//! the registry's `WWW-Authenticate` challenge, fetches a bearer token for the repository and caches it per
//! operation, or sends `Basic` credentials when that is what the registry asks for. Plain HTTP
//! (`ClientProtocol::Http`) is used for loopback registries, as Docker does, or with
//! [`RegistryOptions::plain_http`]; connect and read timeouts come from [`RegistryOptions::timeout`].
//!
//! # What this module adds, and why
//!
//! - **Credentials**: oci-client takes a user and password; where they come from is ours: the
//!   Docker/containers auth files and `credsStore`/`credHelpers` executables ([`CredentialSource`]).
//! - **Identity tokens**: 0.18 has no `refresh_token` grant, so for an `identitytoken` this module reads
//!   the challenge and posts the grant to the token realm itself, then hands the access token to
//!   `Client::auth` as `RegistryAuth::Bearer`, where oci-client caches and sends it like any other.
//! - **Chunked uploads**: 0.18's chunked push cuts fixed 4 MiB chunks (its `push_chunk_size` is private)
//!   and ignores `OCI-Chunk-Min-Length`; `push_blob` needs the whole blob in memory, and
//!   `push_blob_stream` has no monolithic fallback (a consumed stream cannot be replayed). Blobs above
//!   [`RegistryOptions::monolithic_limit`] are spooled to a temporary file while their digest is checked,
//!   then sent here in `PATCH` chunks of [`RegistryOptions::chunk_size`] raised to the registry's
//!   `OCI-Chunk-Min-Length`, falling back to one streamed `PUT` when the registry refuses chunks. These
//!   requests use a reqwest client of the same stack with the token `Client::auth` returned.
//! - **Retries**: oci-client makes each request once. Its calls are wrapped here: on connection
//!   failures, timeouts, `429` and `5xx` they are repeated with exponential backoff, bounded by
//!   [`RegistryOptions::retries`]; only idempotent requests are repeated, and a failed upload session is
//!   restarted as a whole. A `401` re-runs the token flow once (the token may have expired).
//! - **Blob sizes**: `blob_exists` answers yes or no; [`BlobStore::blob_size`] needs `Content-Length`, so
//!   that `HEAD` is made here.
//! - **Referrers on push**: `push_manifest_raw` does not return the response headers, so a manifest with
//!   a `subject` is put here, where the `OCI-Subject` answer tells whether the registry indexes it; when it
//!   does not, the `sha256-<hex>` fallback index is updated (oci-client only reads that index).
//! - **Verification**: on top of oci-client's checks, blobs are hashed as they are read (a mismatch fails
//!   the read at its end) and manifests fetched by digest are hashed again; a manifest's media type is
//!   taken from the document (`pull_manifest_raw` does not return `Content-Type`), which names OCI
//!   indexes and Docker manifest lists alike.
//! - **Errors**: oci-client's `OciDistributionError` never leaves this module; it is turned into
//!   [`Error::Registry`] (with the HTTP status where the answer gives it) or [`Error::DigestMismatch`].
//!
//! The store traits are synchronous: the store owns a small multi-threaded tokio runtime (shared by its
//! clones) and blocks on it from the calling thread, so several threads can use one store at once; called
//! from inside another runtime, the future is driven from a scoped thread instead of blocking that
//! runtime.
//!
//! Cross-repository mounts are this module's own `POST`: oci-client's tokens cover one repository, and a
//! mount needs `pull` on the source repository too, so the token for a mount is fetched here with both
//! scopes (a `202`'s upload session is cancelled). One cost of oci-client 0.18 remains: against a registry
//! that asks for no authentication at all, it probes `GET /v2/` before each of its requests (it caches
//! tokens, and there is none to cache).
//!
//! Credentials and tokens never appear in errors or `Debug` output.

mod auth;

#[doc(hidden)]
pub use auth::fuzz_parsers;

use std::collections::HashMap;
use std::fmt;
use std::fs::File;
use std::future::Future;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::errors::{OciDistributionError, OciErrorCode};
use oci_client::secrets::RegistryAuth;
use oci_client::{Reference as OciReference, RegistryOperation};
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{Method, Response, StatusCode};
use serde::Deserialize;

pub use auth::{CredentialSource, Credentials};

use super::{
    BlobReader, BlobStore, Error, ManifestStore, Referrers, Result, children, referrer_descriptor,
};
use crate::digest::{Digest, Digester};
use crate::manifest::{self, Descriptor, Flavor, ImageIndex, Manifest, RawManifest, media_type};
use crate::reference::{DOCKER_HUB, ManifestRef, RegistryReference, Tag};

/// The manifest media types asked for on every manifest request.
const MANIFEST_ACCEPT: [&str; 4] = [
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
];
/// How much of an error body is kept for its message.
const ERROR_BODY_LIMIT: usize = 64 << 10;
/// The longest single backoff.
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// Tags asked for per page.
const TAG_PAGE: usize = 1000;
/// The block size of streamed request bodies read from a spool file.
const STREAM_BLOCK: usize = 1 << 20;
const USER_AGENT: &str = concat!("slipway/", env!("CARGO_PKG_VERSION"));

/// How a [`RegistryStore`] talks to its registry.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RegistryOptions {
    /// Plain HTTP even when the registry is not on loopback.
    pub plain_http: bool,
    /// Where credentials come from.
    pub credentials: CredentialSource,
    /// How many times a failed idempotent request (or upload session) is tried again.
    pub retries: u32,
    /// The first backoff; each retry doubles it (at most 5 s).
    pub backoff: Duration,
    /// How long to wait for a connection, or for the next bytes of a response, before giving up.
    pub timeout: Duration,
    /// Blobs up to this size are uploaded in one `PUT` from memory; larger ones are spooled to a
    /// temporary file and sent in chunks.
    pub monolithic_limit: u64,
    /// The chunk size of chunked uploads (raised to the registry's `OCI-Chunk-Min-Length`).
    pub chunk_size: u64,
    /// Repositories of the same registry to try a cross-repository mount from before uploading a blob.
    pub mount_from: Vec<String>,
}

impl Default for RegistryOptions {
    fn default() -> Self {
        RegistryOptions {
            plain_http: false,
            credentials: CredentialSource::Environment,
            retries: 4,
            backoff: Duration::from_millis(200),
            timeout: Duration::from_secs(60),
            monolithic_limit: 16 << 20,
            chunk_size: 16 << 20,
            mount_from: Vec::new(),
        }
    }
}

impl RegistryOptions {
    /// Plain HTTP for a non-loopback registry.
    #[must_use]
    pub fn plain_http(mut self, plain_http: bool) -> Self {
        self.plain_http = plain_http;
        self
    }

    /// Where credentials come from.
    #[must_use]
    pub fn credentials(mut self, source: CredentialSource) -> Self {
        self.credentials = source;
        self
    }

    /// Retries of idempotent requests and upload sessions.
    #[must_use]
    pub fn retries(mut self, retries: u32) -> Self {
        self.retries = retries;
        self
    }

    /// The first backoff between retries.
    #[must_use]
    pub fn backoff(mut self, backoff: Duration) -> Self {
        self.backoff = backoff;
        self
    }

    /// The connect / stall timeout.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The largest blob uploaded in one request.
    #[must_use]
    pub fn monolithic_limit(mut self, bytes: u64) -> Self {
        self.monolithic_limit = bytes;
        self
    }

    /// The chunk size of chunked uploads.
    #[must_use]
    pub fn chunk_size(mut self, bytes: u64) -> Self {
        self.chunk_size = bytes.max(1);
        self
    }

    /// Repositories to mount blobs from.
    #[must_use]
    pub fn mount_from(mut self, repositories: Vec<String>) -> Self {
        self.mount_from = repositories;
        self
    }
}

/// One repository of a registry. Cheap to clone (clones share the runtime, connections and tokens).
#[derive(Clone)]
pub struct RegistryStore {
    client: Arc<Client>,
}

impl fmt::Debug for RegistryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistryStore")
            .field("registry", &self.client.registry)
            .field("repository", &self.client.repository)
            .field("base", &self.client.base)
            .finish_non_exhaustive()
    }
}

impl fmt::Display for RegistryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.client.registry, self.client.repository)
    }
}

/// What a request needs the credentials to allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Op {
    Pull,
    Push,
}

impl From<Op> for RegistryOperation {
    fn from(op: Op) -> Self {
        match op {
            Op::Pull => RegistryOperation::Pull,
            Op::Push => RegistryOperation::Push,
        }
    }
}

/// The body of one of this module's own requests: nothing, bytes in memory, or a range of a spool file.
#[derive(Clone, Copy)]
enum Payload<'a> {
    Empty,
    Bytes(&'a [u8]),
    File {
        file: &'a File,
        offset: u64,
        len: u64,
    },
}

/// One of this module's own requests, replayable (for auth and retries).
struct Call<'a> {
    method: Method,
    url: String,
    headers: Vec<(&'static str, String)>,
    payload: Payload<'a>,
    op: Op,
    idempotent: bool,
}

impl<'a> Call<'a> {
    fn new(method: Method, url: String, op: Op) -> Self {
        let idempotent = matches!(method, Method::GET | Method::HEAD | Method::PUT);
        Call {
            method,
            url,
            headers: Vec::new(),
            payload: Payload::Empty,
            op,
            idempotent,
        }
    }

    fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    fn payload(mut self, payload: Payload<'a>) -> Self {
        self.payload = payload;
        self
    }

    /// Part of an upload session: never repeated on its own (the session is restarted instead).
    fn in_session(mut self) -> Self {
        self.idempotent = false;
        self
    }
}

/// Why a request failed, before it is named for the caller.
#[derive(Debug)]
struct Failure {
    status: Option<u16>,
    message: String,
    /// Worth retrying (connection trouble, timeouts, 429, 5xx).
    transient: bool,
}

impl Failure {
    fn status(status: u16, message: String) -> Self {
        Failure {
            status: Some(status),
            message,
            transient: retryable_status(status),
        }
    }

    fn plain(message: String) -> Self {
        Failure {
            status: None,
            message,
            transient: false,
        }
    }
}

/// How a wrapped oci-client call failed: in our own auth step, or in oci-client (kept whole, so that
/// callers can tell "not found" and digest mismatches from other failures).
enum Fail {
    Auth(Failure),
    Oci(OciDistributionError),
}

fn retryable_status(status: u16) -> bool {
    status == 408 || status == 429 || status >= 500
}

#[derive(Default)]
struct AuthState {
    /// Whether `credentials` has been looked up yet.
    looked_up: bool,
    /// The credentials found (`None`: there are none).
    credentials: Option<Credentials>,
    /// Operations authorised so far, with the `Authorization` header this module's own requests send
    /// for them (`None`: anonymous).
    granted: HashMap<Op, Option<String>>,
}

/// The tokio runtime a store blocks on. Shut down in the background when the last clone goes, so that
/// dropping a store inside someone else's runtime does not panic.
struct Runtime {
    handle: tokio::runtime::Handle,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Runtime {
    fn new() -> io::Result<Self> {
        // Two workers drive the connections; the futures themselves run on the callers' threads
        // (`Handle::block_on`), so many threads can wait on the store at once.
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("slipway-registry")
            .enable_all()
            .build()?;
        Ok(Runtime {
            handle: runtime.handle().clone(),
            runtime: Some(runtime),
        })
    }

    fn block_on<F>(&self, future: F) -> F::Output
    where
        F: Future + Send,
        F::Output: Send,
    {
        if tokio::runtime::Handle::try_current().is_ok() {
            // Blocking inside a runtime would panic (or starve it): drive the future from a plain thread.
            std::thread::scope(|scope| {
                scope
                    .spawn(|| self.handle.block_on(future))
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
        } else {
            self.handle.block_on(future)
        }
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

struct Client {
    runtime: Runtime,
    oci: oci_client::Client,
    /// For the requests oci-client cannot make (see the module docs).
    http: reqwest::Client,
    /// `http(s)://HOST[:PORT]` of the API.
    base: String,
    registry: String,
    repository: String,
    options: RegistryOptions,
    auth: Mutex<AuthState>,
}

impl RegistryStore {
    /// A store for the repository `reference` names (its tag or digest is not used here). Nothing is sent
    /// until the first request.
    pub fn new(reference: &RegistryReference, options: RegistryOptions) -> Result<Self> {
        let plain = options.plain_http || reference.is_loopback();
        // Docker Hub's API lives on another host than its name (oci-client maps it the same way).
        let host = if reference.registry == DOCKER_HUB {
            "registry-1.docker.io"
        } else {
            reference.registry.as_str()
        };
        let base = format!("{}://{host}", if plain { "http" } else { "https" });
        let setup_error = |message: String| Error::Registry {
            registry: reference.registry.clone(),
            repository: reference.repository.clone(),
            action: "setting up",
            name: "the HTTP client".to_owned(),
            status: None,
            message,
        };
        let config = ClientConfig {
            // One store talks to one registry, so a single scheme covers it.
            protocol: if plain {
                ClientProtocol::Http
            } else {
                ClientProtocol::Https
            },
            // oci-client only gets the blobs that fit in one request; larger ones are chunked here.
            use_monolithic_push: true,
            // Indexes are read whole; oci-client must never pick a platform on our behalf.
            platform_resolver: None,
            read_timeout: Some(options.timeout),
            connect_timeout: Some(options.timeout),
            user_agent: USER_AGENT,
            ..ClientConfig::default()
        };
        let oci = oci_client::Client::try_from(config).map_err(|e| setup_error(e.to_string()))?;
        let http = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .connect_timeout(options.timeout)
            .read_timeout(options.timeout)
            .pool_max_idle_per_host(8)
            .build()
            .map_err(|e| setup_error(error_chain(&e)))?;
        let runtime = Runtime::new().map_err(|e| setup_error(e.to_string()))?;
        Ok(RegistryStore {
            client: Arc::new(Client {
                runtime,
                oci,
                http,
                base,
                registry: reference.registry.clone(),
                repository: reference.repository.clone(),
                options,
                auth: Mutex::new(AuthState::default()),
            }),
        })
    }

    /// The registry host as the reference names it.
    pub fn registry(&self) -> &str {
        &self.client.registry
    }

    /// The repository.
    pub fn repository(&self) -> &str {
        &self.client.repository
    }

    /// Mounts `digest` from repository `from` of the same registry; `false` when the registry did not
    /// (a `202`: it opened an upload session instead, which is cancelled) or may not (`401`/`403`/`404`:
    /// no pull access to `from`).
    ///
    /// This is this module's own request, not oci-client's `mount_blob`: on a registry with a token
    /// service the token must allow `pull` on `from` as well as `push` here, and oci-client asks for one
    /// repository at a time.
    pub fn mount_blob(&self, digest: &Digest, from: &str) -> Result<bool> {
        let c = &self.client;
        let url = c.url(&format!(
            "blobs/uploads/?mount={}&from={}",
            encode_query(digest.as_str()),
            encode_query(from)
        ));
        let call = Call::new(Method::POST, url, Op::Push);
        let mut attempt = 0;
        // Kept for the cancelling `DELETE`: the token already covers it.
        let mut authorization = None;
        let resp = loop {
            let sent = c.mount_authorization(from).and_then(|a| {
                authorization = a;
                c.send_once(&call, authorization.as_deref())
            });
            match sent {
                Ok(resp)
                    if retryable_status(resp.status().as_u16()) && attempt < c.options.retries => {}
                Err(f) if f.transient && attempt < c.options.retries => {}
                Ok(resp) => break resp,
                Err(f) => return Err(c.error("mounting blob", digest.as_str(), f)),
            }
            c.backoff(attempt, None);
            attempt += 1;
        };
        match resp.status().as_u16() {
            201 => Ok(true),
            202 => {
                // Not mounted: close the session it opened rather than leave it to expire.
                if let Ok(location) = c.location(&resp) {
                    let cancel = Call::new(Method::DELETE, c.resolve(&location), Op::Push);
                    let _ = c.send_once(&cancel, authorization.as_deref());
                }
                Ok(false)
            }
            401 | 403 | 404 => Ok(false),
            status => Err(c.error(
                "mounting blob",
                digest.as_str(),
                c.status_failure(status, resp),
            )),
        }
    }

    /// Whether a manifest with this digest is in the repository.
    pub fn has_manifest(&self, digest: &Digest) -> Result<bool> {
        let c = &self.client;
        let reference = c.oci_ref(Some(&ManifestRef::Digest(digest.clone())));
        let auth = c.registry_auth();
        match c.call(Op::Pull, true, || {
            c.oci.fetch_manifest_digest(&reference, &auth)
        }) {
            Ok(_) => Ok(true),
            Err(Fail::Oci(e)) if status_of(&e) == Some(404) => Ok(false),
            Err(f) => Err(c.fail("checking manifest", digest.as_str(), f)),
        }
    }

    /// Whether the blob is there (`HEAD`), or the manifest for manifest media types.
    fn has_child(&self, desc: &Descriptor) -> Result<bool> {
        if manifest::is_manifest(&desc.media_type) || manifest::is_index(&desc.media_type) {
            self.has_manifest(&desc.digest)
        } else {
            self.has_blob(&desc.digest)
        }
    }

    fn has_blob(&self, digest: &Digest) -> Result<bool> {
        let c = &self.client;
        let reference = c.oci_ref(None);
        let digest_text = digest.to_string();
        c.call(Op::Pull, true, || {
            c.oci.blob_exists(&reference, &digest_text)
        })
        .map_err(|f| c.fail("checking blob", digest.as_str(), f))
    }

    /// Puts a manifest without a `subject` through oci-client.
    fn push_manifest(&self, raw: &RawManifest, tag: Option<&Tag>) -> Result<()> {
        let c = &self.client;
        let target = match tag {
            Some(t) => ManifestRef::Tag(t.clone()),
            None => ManifestRef::Digest(raw.digest().clone()),
        };
        let name = reference_name(&target);
        let reference = c.oci_ref(Some(&target));
        let content_type = HeaderValue::from_str(raw.media_type()).map_err(|_| {
            c.error(
                "pushing manifest",
                &name,
                Failure::plain(format!(
                    "the media type {:?} cannot be sent as a header",
                    raw.media_type()
                )),
            )
        })?;
        let body = bytes::Bytes::copy_from_slice(raw.bytes());
        match c.call(Op::Push, true, || {
            c.oci
                .push_manifest_raw(&reference, body.clone(), content_type.clone())
        }) {
            Ok(_) => Ok(()),
            Err(f) => Err(c.fail("pushing manifest", &name, f)),
        }
    }

    /// Puts a manifest with this module's own request, returning the response headers (for
    /// `OCI-Subject`), and checks the digest the registry says it stored.
    fn put_manifest_bytes(&self, raw: &RawManifest, tag: Option<&Tag>) -> Result<HeaderMap> {
        let c = &self.client;
        let reference = tag.map_or_else(|| raw.digest().to_string(), ToString::to_string);
        let call = Call::new(
            Method::PUT,
            c.url(&format!("manifests/{reference}")),
            Op::Push,
        )
        .header("content-type", raw.media_type())
        .payload(Payload::Bytes(raw.bytes()));
        let resp = c
            .send(&call)
            .map_err(|f| c.error("pushing manifest", &reference, f))?;
        let status = resp.status().as_u16();
        if !(200..300).contains(&status) {
            let failure = c.status_failure(status, resp);
            return Err(c.error("pushing manifest", &reference, failure));
        }
        if let Some(said) = header(resp.headers(), "docker-content-digest")
            && let Ok(said) = Digest::parse(&said)
            && said.algorithm() == raw.digest().algorithm()
            && said != *raw.digest()
        {
            return Err(Error::DigestMismatch {
                expected: raw.digest().clone(),
                actual: said,
                location: None,
            });
        }
        Ok(resp.headers().clone())
    }

    /// Adds `raw` (whose subject is `subject`) to the `sha256-<hex>` fallback index of the referrers API.
    fn update_fallback_index(&self, subject: &Digest, raw: &RawManifest) -> Result<()> {
        let Some(entry) = referrer_descriptor(raw, subject) else {
            return Ok(());
        };
        let tag = fallback_tag(subject)?;
        let mut index = match self.get_manifest(&ManifestRef::Tag(tag.clone()))? {
            Some(existing) => match existing.decode() {
                Ok(Manifest::Index(index)) => index,
                // Something else under that tag: it is replaced, as the distribution spec's clients do.
                _ => ImageIndex::new(Flavor::Oci),
            },
            None => ImageIndex::new(Flavor::Oci),
        };
        index.manifests.retain(|d| d.digest != entry.digest);
        index.manifests.push(entry);
        index.media_type = Some(media_type::OCI_INDEX.to_owned());
        let encoded = RawManifest::encode_index(&index);
        self.push_manifest(&encoded, Some(&tag))
    }

    /// Uploads verified content: small blobs through oci-client in one request, the rest in chunks here.
    fn upload(&self, digest: &Digest, source: &Spool) -> Result<()> {
        let c = &self.client;
        match source {
            // oci-client refuses empty blobs (`PushNoDataError`); those take the path below.
            Spool::Memory(bytes) if !bytes.is_empty() => {
                let reference = c.oci_ref(None);
                let data = bytes::Bytes::copy_from_slice(bytes);
                let digest_text = digest.to_string();
                // Each attempt opens a new session, so the whole push is safe to repeat.
                c.call(Op::Push, true, || {
                    c.oci.push_blob(&reference, data.clone(), &digest_text)
                })
                .map(drop)
                .map_err(|f| c.fail("pushing blob", digest.as_str(), f))
            }
            _ => self.upload_here(digest, source),
        }
    }

    /// Uploads `source` with this module's own requests, restarting the session on transient failures
    /// and falling back from chunks to one `PUT` when chunks are refused.
    fn upload_here(&self, digest: &Digest, source: &Spool) -> Result<()> {
        let c = &self.client;
        let mut chunked = source.len() > c.options.monolithic_limit;
        let mut attempt = 0;
        loop {
            let result = self.upload_session(digest, source, chunked);
            match result {
                Ok(()) => return Ok(()),
                Err(SessionFailure::ChunksRefused(_)) if chunked => {
                    // Some registries take no PATCH (or drop chunks after the first): one PUT instead.
                    chunked = false;
                }
                Err(SessionFailure::ChunksRefused(f) | SessionFailure::Failed(f))
                    if f.transient && attempt < c.options.retries =>
                {
                    c.backoff(attempt, None);
                    attempt += 1;
                }
                Err(SessionFailure::ChunksRefused(f) | SessionFailure::Failed(f)) => {
                    return Err(c.error("pushing blob", digest.as_str(), f));
                }
            }
        }
    }

    fn upload_session(
        &self,
        digest: &Digest,
        source: &Spool,
        chunked: bool,
    ) -> Result<(), SessionFailure> {
        let c = &self.client;
        let start = Call::new(Method::POST, c.url("blobs/uploads/"), Op::Push).in_session();
        let resp = c.send(&start).map_err(SessionFailure::Failed)?;
        let status = resp.status().as_u16();
        if status != 202 {
            return Err(SessionFailure::Failed(c.status_failure(status, resp)));
        }
        let min_chunk = header(resp.headers(), "oci-chunk-min-length")
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(0);
        let mut location = c.location(&resp).map_err(SessionFailure::Failed)?;
        if chunked {
            let chunk = c.options.chunk_size.max(min_chunk).max(1);
            let mut offset = 0;
            while offset < source.len() {
                let len = chunk.min(source.len() - offset);
                let call = Call::new(Method::PATCH, location.clone(), Op::Push)
                    .in_session()
                    .header("content-type", "application/octet-stream")
                    .header("content-range", format!("{offset}-{}", offset + len - 1))
                    .payload(source.range(offset, len));
                let resp = c.send(&call).map_err(SessionFailure::Failed)?;
                let status = resp.status().as_u16();
                if status != 202 {
                    return Err(SessionFailure::refused(c.status_failure(status, resp)));
                }
                location = c.location(&resp).map_err(SessionFailure::Failed)?;
                offset += len;
            }
            let call =
                Call::new(Method::PUT, with_digest(&location, digest), Op::Push).in_session();
            let resp = c.send(&call).map_err(SessionFailure::Failed)?;
            let status = resp.status().as_u16();
            if status != 201 {
                return Err(SessionFailure::refused(c.status_failure(status, resp)));
            }
            return Ok(());
        }
        let call = Call::new(Method::PUT, with_digest(&location, digest), Op::Push)
            .in_session()
            .header("content-type", "application/octet-stream")
            .payload(source.range(0, source.len()));
        let resp = c.send(&call).map_err(SessionFailure::Failed)?;
        let status = resp.status().as_u16();
        if status != 201 {
            return Err(SessionFailure::Failed(c.status_failure(status, resp)));
        }
        Ok(())
    }
}

enum SessionFailure {
    /// The registry refused a chunk (not a transient fault): try one `PUT`.
    ChunksRefused(Failure),
    Failed(Failure),
}

impl SessionFailure {
    /// A non-success answer to a chunk or to the closing `PUT`: transient faults restart the session,
    /// anything else means the registry will not take chunks.
    fn refused(failure: Failure) -> Self {
        if failure.transient {
            SessionFailure::Failed(failure)
        } else {
            SessionFailure::ChunksRefused(failure)
        }
    }
}

impl Client {
    fn url(&self, path: &str) -> String {
        format!("{}/v2/{}/{path}", self.base, self.repository)
    }

    /// The repository as oci-client names it, at `target` (repository-wide calls ignore the tag).
    fn oci_ref(&self, target: Option<&ManifestRef>) -> OciReference {
        let (registry, repository) = (self.registry.clone(), self.repository.clone());
        match target {
            Some(ManifestRef::Digest(d)) => {
                OciReference::with_digest(registry, repository, d.to_string())
            }
            Some(ManifestRef::Tag(t)) => {
                OciReference::with_tag(registry, repository, t.to_string())
            }
            None => OciReference::with_tag(registry, repository, "latest".to_owned()),
        }
    }

    /// A `Location` header made absolute.
    fn resolve(&self, location: &str) -> String {
        if location.starts_with("http://") || location.starts_with("https://") {
            location.to_owned()
        } else if location.starts_with('/') {
            format!("{}{location}", self.base)
        } else {
            format!("{}/{location}", self.base)
        }
    }

    fn location(&self, resp: &Response) -> Result<String, Failure> {
        header(resp.headers(), "location")
            .map(|l| self.resolve(&l))
            .ok_or_else(|| Failure {
                status: Some(resp.status().as_u16()),
                message: "the registry answered without a Location for the upload".to_owned(),
                transient: false,
            })
    }

    fn error(&self, action: &'static str, name: &str, failure: Failure) -> Error {
        let mut message = failure.message;
        if matches!(failure.status, Some(401 | 403)) {
            let has_credentials = self
                .auth
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .credentials
                .is_some();
            message = if has_credentials {
                format!("{message}: the registry refused the credentials")
            } else {
                format!("{message}: no credentials for {} were found", self.registry)
            };
        }
        Error::Registry {
            registry: self.registry.clone(),
            repository: self.repository.clone(),
            action,
            name: name.to_owned(),
            status: failure.status,
            message,
        }
    }

    /// Names a failed oci-client call for the caller: digest mismatches as such, the rest as
    /// registry errors.
    fn fail(&self, action: &'static str, name: &str, fail: Fail) -> Error {
        match fail {
            Fail::Auth(failure) => self.error(action, name, failure),
            Fail::Oci(OciDistributionError::DigestError(
                oci_client::errors::DigestError::VerificationError { expected, actual },
            )) => match (Digest::parse(&expected), Digest::parse(&actual)) {
                (Ok(expected), Ok(actual)) => Error::DigestMismatch {
                    expected,
                    actual,
                    location: None,
                },
                _ => self.error(
                    action,
                    name,
                    Failure::plain(format!(
                        "the registry served content for {expected} that hashes to {actual}"
                    )),
                ),
            },
            Fail::Oci(e) => self.error(action, name, classify(&e)),
        }
    }

    /// A failure from an unexpected status of one of this module's own requests, with the registry's
    /// error text when it gave one.
    fn status_failure(&self, status: u16, resp: Response) -> Failure {
        let body = self.runtime.block_on(resp.bytes()).unwrap_or_default();
        let body = &body[..body.len().min(ERROR_BODY_LIMIT)];
        Failure::status(status, status_message(status, body))
    }

    fn credentials(&self) -> Result<Option<Credentials>, Failure> {
        {
            let state = self.auth.lock().unwrap_or_else(PoisonError::into_inner);
            if state.looked_up {
                return Ok(state.credentials.clone());
            }
        }
        let found = auth::lookup(&self.options.credentials, &self.registry, &self.repository)
            .map_err(|e| Failure::plain(e.to_string()))?;
        let mut state = self.auth.lock().unwrap_or_else(PoisonError::into_inner);
        state.looked_up = true;
        state.credentials.clone_from(&found);
        Ok(found)
    }

    /// What oci-client is told about the credentials on calls that take them (it keeps the first).
    fn registry_auth(&self) -> RegistryAuth {
        let state = self.auth.lock().unwrap_or_else(PoisonError::into_inner);
        match &state.credentials {
            Some(Credentials::Basic { username, password }) => {
                RegistryAuth::Basic(username.clone(), password.clone())
            }
            _ => RegistryAuth::Anonymous,
        }
    }

    /// Runs the token flow for `op` once (until [`Client::forget`]): `Client::auth` caches the token for
    /// oci-client's own requests; the returned header is what this module's requests send.
    fn authorize(&self, op: Op) -> Result<Option<String>, Failure> {
        if let Some(granted) = self
            .auth
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .granted
            .get(&op)
        {
            return Ok(granted.clone());
        }
        let credentials = self.credentials()?;
        let reference = self.oci_ref(None);
        let header = if let Some(Credentials::IdentityToken(refresh)) = &credentials {
            match self
                .runtime
                .block_on(self.exchange_identity_token(refresh, op))?
            {
                Some(access) => {
                    self.runtime
                        .block_on(self.oci.auth(
                            &reference,
                            &RegistryAuth::Bearer(access.clone()),
                            op.into(),
                        ))
                        .map_err(|e| auth_failure(&e))?;
                    Some(format!("Bearer {access}"))
                }
                None => None,
            }
        } else {
            let auth = match &credentials {
                Some(Credentials::Basic { username, password }) => {
                    RegistryAuth::Basic(username.clone(), password.clone())
                }
                _ => RegistryAuth::Anonymous,
            };
            match self
                .runtime
                .block_on(self.oci.auth(&reference, &auth, op.into()))
            {
                Ok(Some(token)) => Some(format!("Bearer {token}")),
                // No token service: Basic credentials if the registry wants them (oci-client sends them
                // too), or nothing.
                Ok(None) => credentials.as_ref().and_then(Credentials::basic_header),
                Err(e) => return Err(auth_failure(&e)),
            }
        };
        self.auth
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .granted
            .insert(op, header.clone());
        Ok(header)
    }

    /// What a cross-repository mount sends: a token allowing `push` here and `pull` on `from` when the
    /// registry has a token service, else what every push sends (basic credentials or nothing).
    fn mount_authorization(&self, from: &str) -> Result<Option<String>, Failure> {
        let credentials = self.credentials()?;
        let scopes = [
            format!("repository:{}:pull,push", self.repository),
            format!("repository:{from}:pull"),
        ];
        match self
            .runtime
            .block_on(self.fetch_token(credentials.as_ref(), &scopes))?
        {
            Some(token) => Ok(Some(format!("Bearer {token}"))),
            None => self.authorize_retrying(Op::Push),
        }
    }

    /// [`Client::authorize`], repeated on transient failures (the token flow only reads).
    fn authorize_retrying(&self, op: Op) -> Result<Option<String>, Failure> {
        let mut attempt = 0;
        loop {
            match self.authorize(op) {
                Err(failure) if failure.transient && attempt < self.options.retries => {
                    self.backoff(attempt, None);
                    attempt += 1;
                }
                result => return result,
            }
        }
    }

    /// Drops what [`Client::authorize`] found for `op`, after the registry refused it.
    fn forget(&self, op: Op) {
        self.auth
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .granted
            .remove(&op);
    }

    /// The `refresh_token` grant oci-client 0.18 lacks: trades the identity token for an access token
    /// scoped to `op`. `None` when the registry asks for nothing.
    async fn exchange_identity_token(
        &self,
        refresh: &str,
        op: Op,
    ) -> Result<Option<String>, Failure> {
        let scope = match op {
            Op::Pull => format!("repository:{}:pull", self.repository),
            Op::Push => format!("repository:{}:pull,push", self.repository),
        };
        self.fetch_token(
            Some(&Credentials::IdentityToken(refresh.to_owned())),
            &[scope],
        )
        .await
    }

    /// The token request: the `refresh_token` grant (`POST`) for an identity token, else a `GET` with
    /// basic credentials or none.
    fn token_request(
        &self,
        realm: &str,
        service: &str,
        credentials: Option<&Credentials>,
        scopes: &[String],
    ) -> reqwest::RequestBuilder {
        if let Some(Credentials::IdentityToken(refresh)) = credentials {
            let scope = scopes.join(" ");
            let form = [
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh.as_str()),
                ("client_id", "slipway"),
                ("service", service),
                ("scope", scope.as_str()),
            ]
            .iter()
            .map(|(k, v)| format!("{k}={}", encode_query(v)))
            .collect::<Vec<_>>()
            .join("&");
            return self
                .http
                .post(realm)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(form);
        }
        let mut query = vec![format!("service={}", encode_query(service))];
        query.extend(scopes.iter().map(|s| format!("scope={}", encode_query(s))));
        let separator = if realm.contains('?') { '&' } else { '?' };
        let mut request = self
            .http
            .get(format!("{realm}{separator}{}", query.join("&")));
        if let Some(basic) = credentials.and_then(Credentials::basic_header) {
            request = request.header("authorization", basic);
        }
        request
    }

    /// A Bearer token for `scopes` from the token service the registry's challenge names (what
    /// oci-client's own flow cannot ask for: several scopes at once, or the `refresh_token` grant):
    /// `POST` with the identity token, else `GET` with basic credentials or none. `None` when the
    /// registry asks for no Bearer token.
    async fn fetch_token(
        &self,
        credentials: Option<&Credentials>,
        scopes: &[String],
    ) -> Result<Option<String>, Failure> {
        #[derive(Deserialize)]
        struct TokenAnswer {
            #[serde(default)]
            token: Option<String>,
            #[serde(default)]
            access_token: Option<String>,
        }
        let probe = self
            .http
            .get(format!("{}/v2/", self.base))
            .send()
            .await
            .map_err(|e| transport_failure(&e))?;
        if probe.status() != StatusCode::UNAUTHORIZED {
            return Ok(None);
        }
        let challenge = probe
            .headers()
            .get_all("www-authenticate")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(auth::parse_challenge)
            .find(|c| c.scheme == "bearer");
        let identity = match credentials {
            Some(Credentials::IdentityToken(refresh)) => Some(refresh.as_str()),
            _ => None,
        };
        let Some(realm) = challenge
            .as_ref()
            .and_then(|c| c.params.get("realm"))
            .filter(|r| !r.is_empty())
        else {
            if identity.is_none() {
                return Ok(None);
            }
            return Err(Failure::status(
                401,
                "an identity token needs a Bearer token service, and the registry names none"
                    .to_owned(),
            ));
        };
        let service = challenge
            .as_ref()
            .and_then(|c| c.params.get("service"))
            .cloned()
            .unwrap_or_default();
        let request = self.token_request(realm, &service, credentials, scopes);
        let resp = request.send().await.map_err(|e| {
            let mut f = transport_failure(&e);
            f.message = format!("fetching a token from {realm}: {}", f.message);
            f
        })?;
        let status = resp.status().as_u16();
        let body = resp.bytes().await.unwrap_or_default();
        if status != 200 {
            let body = &body[..body.len().min(ERROR_BODY_LIMIT)];
            return Err(Failure::status(
                status,
                format!(
                    "the token service at {realm} said: {}",
                    status_message(status, body)
                ),
            ));
        }
        let answer: Option<TokenAnswer> = serde_json::from_slice(&body).ok();
        answer
            .and_then(|a| a.token.or(a.access_token))
            .filter(|t| !t.is_empty())
            .map(Some)
            .ok_or_else(|| Failure {
                status: Some(200),
                message: format!("the token service at {realm} answered no token"),
                transient: false,
            })
    }

    fn backoff(&self, attempt: u32, retry_after: Option<Duration>) {
        let exp = self
            .options
            .backoff
            .saturating_mul(1u32 << attempt.min(16))
            .min(MAX_BACKOFF);
        std::thread::sleep(retry_after.map_or(exp, |r| r.min(MAX_BACKOFF)));
    }

    /// Runs an oci-client call: authorises first, re-authorises once on `401`, and repeats idempotent
    /// calls on transient failures with backoff.
    fn call<T, F, Fut>(&self, op: Op, idempotent: bool, call: F) -> Result<T, Fail>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, OciDistributionError>> + Send,
        T: Send,
    {
        let mut attempt = 0;
        let mut reauthorized = false;
        loop {
            if let Err(failure) = self.authorize_retrying(op) {
                return Err(Fail::Auth(failure));
            }
            let error = match self.runtime.block_on(call()) {
                Ok(value) => return Ok(value),
                Err(e) => e,
            };
            let failure = classify(&error);
            if failure.status == Some(401) && !reauthorized {
                reauthorized = true;
                self.forget(op);
            } else if failure.transient && idempotent && attempt < self.options.retries {
                self.backoff(attempt, None);
                attempt += 1;
            } else {
                return Err(Fail::Oci(error));
            }
        }
    }

    /// Sends one of this module's own requests: re-authorises once on `401`, retries idempotent
    /// requests on transient failures. Other statuses are returned for the caller to judge.
    fn send(&self, call: &Call<'_>) -> Result<Response, Failure> {
        let mut attempt = 0;
        let mut reauthorized = false;
        loop {
            let authorization = self.authorize_retrying(call.op)?;
            match self.send_once(call, authorization.as_deref()) {
                Ok(resp) if resp.status() == StatusCode::UNAUTHORIZED && !reauthorized => {
                    reauthorized = true;
                    self.forget(call.op);
                }
                Ok(resp)
                    if retryable_status(resp.status().as_u16())
                        && call.idempotent
                        && attempt < self.options.retries =>
                {
                    let retry_after = header(resp.headers(), "retry-after")
                        .and_then(|v| v.trim().parse::<u64>().ok())
                        .map(Duration::from_secs);
                    self.backoff(attempt, retry_after);
                    attempt += 1;
                }
                Ok(resp) => return Ok(resp),
                Err(failure) => {
                    if failure.transient && call.idempotent && attempt < self.options.retries {
                        self.backoff(attempt, None);
                        attempt += 1;
                    } else {
                        return Err(failure);
                    }
                }
            }
        }
    }

    fn send_once(&self, call: &Call<'_>, authorization: Option<&str>) -> Result<Response, Failure> {
        let mut request = self.http.request(call.method.clone(), &call.url);
        for (name, value) in &call.headers {
            request = request.header(*name, value);
        }
        if let Some(a) = authorization {
            request = request.header("authorization", a);
        }
        request = match call.payload {
            // Registries want a length on every body-carrying request, even an empty one.
            Payload::Empty if matches!(call.method, Method::POST | Method::PUT | Method::PATCH) => {
                request.header("content-length", "0")
            }
            Payload::Empty => request,
            Payload::Bytes(bytes) => request.body(bytes.to_vec()),
            Payload::File { file, offset, len } => {
                let mut reader = file
                    .try_clone()
                    .map_err(|e| Failure::plain(format!("reopening the spool file: {e}")))?;
                reader
                    .seek(SeekFrom::Start(offset))
                    .map_err(|e| Failure::plain(format!("seeking in the spool file: {e}")))?;
                request
                    .header("content-length", len.to_string())
                    .body(reqwest::Body::wrap_stream(file_stream(reader.take(len))))
            }
        };
        // `send` starts its timers when called, which needs the runtime: call it inside the future.
        self.runtime
            .block_on(async move { request.send().await })
            .map_err(|e| transport_failure(&e))
    }
}

/// A spool file range as a body stream, read in blocks as the connection takes them.
fn file_stream(reader: io::Take<File>) -> BoxStream<'static, io::Result<Vec<u8>>> {
    futures_util::stream::unfold(Some(reader), |state| async move {
        let mut reader = state?;
        let mut block = vec![0u8; STREAM_BLOCK];
        let mut filled = 0;
        // Page-cache reads of one block: short enough not to hold up the runtime.
        while filled < block.len() {
            match reader.read(&mut block[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Some((Err(e), None)),
            }
        }
        if filled == 0 {
            return None;
        }
        block.truncate(filled);
        Some((Ok(block), Some(reader)))
    })
    .boxed()
}

/// The status an oci-client error carries: the HTTP status where it kept one, else the one the
/// distribution spec gives the registry's error code.
fn status_of(e: &OciDistributionError) -> Option<u16> {
    match e {
        OciDistributionError::RequestError(e) => e.status().map(|s| s.as_u16()),
        OciDistributionError::ServerError { code, .. } => Some(*code),
        OciDistributionError::UnauthorizedError { .. } => Some(401),
        OciDistributionError::RegistryError { envelope, .. } => {
            envelope.errors.iter().find_map(|e| match e.code {
                OciErrorCode::BlobUnknown
                | OciErrorCode::ManifestUnknown
                | OciErrorCode::NameUnknown
                | OciErrorCode::NotFound
                | OciErrorCode::BlobUploadUnknown => Some(404),
                OciErrorCode::Unauthorized => Some(401),
                OciErrorCode::Denied => Some(403),
                OciErrorCode::Toomanyrequests => Some(429),
                _ => None,
            })
        }
        _ => None,
    }
}

/// An oci-client error as a [`Failure`]: status, message without URLs' noise, and whether to retry.
fn classify(e: &OciDistributionError) -> Failure {
    let status = status_of(e);
    match e {
        OciDistributionError::RequestError(inner) => match status {
            Some(s) => Failure::status(s, status_message(s, b"")),
            None => transport_failure(inner),
        },
        OciDistributionError::IoError(inner) => Failure {
            status: None,
            message: inner.to_string(),
            transient: true,
        },
        OciDistributionError::ServerError { code, message, .. } => {
            Failure::status(*code, status_message(*code, message.as_bytes()))
        }
        OciDistributionError::RegistryError { envelope, .. } => {
            let text = serde_json::to_vec(envelope)
                .ok()
                .and_then(|body| registry_error_text(&body))
                .unwrap_or_else(|| "the registry refused the request".to_owned());
            Failure {
                status,
                message: text,
                transient: status.is_some_and(retryable_status),
            }
        }
        OciDistributionError::UnauthorizedError { .. } => {
            Failure::status(401, "unauthorized".into())
        }
        other => Failure::plain(other.to_string()),
    }
}

/// A failed `Client::auth`: the token service's refusal, or the transport's trouble.
fn auth_failure(e: &OciDistributionError) -> Failure {
    match e {
        // oci-client keeps the token service's answer but not its status; the registry's own answer
        // that started the flow was a 401 challenge.
        OciDistributionError::AuthenticationFailure(reason) => {
            let said = registry_error_text(reason.as_bytes())
                .or_else(|| reason.lines().next().map(str::trim).map(str::to_owned))
                .filter(|s| !s.is_empty());
            Failure::status(
                401,
                match said {
                    Some(said) => format!("the token service refused to issue a token: {said}"),
                    None => "the token service refused to issue a token".to_owned(),
                },
            )
        }
        OciDistributionError::RegistryTokenDecodeError(_) => {
            Failure::plain("the token service answered something that is not a token".to_owned())
        }
        other => {
            let mut f = classify(other);
            f.message = format!("authenticating: {}", f.message);
            f
        }
    }
}

/// A reqwest error with its causes (its own text names only the URL).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text = format!("{text}: {cause_text}");
        }
        source = cause.source();
    }
    text
}

fn transport_failure(e: &reqwest::Error) -> Failure {
    Failure {
        status: e.status().map(|s| s.as_u16()),
        message: error_chain(e),
        // Connection refused/reset, timeouts, bodies cut short: all worth another try.
        transient: e.is_connect() || e.is_timeout() || e.is_request() || e.is_body(),
    }
}

/// The registry's error text for `status`, or the status's reason phrase.
fn status_message(status: u16, body: &[u8]) -> String {
    registry_error_text(body).unwrap_or_else(|| {
        StatusCode::from_u16(status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("unexpected answer")
            .to_ascii_lowercase()
    })
}

/// The text of a distribution-spec error body: `CODE: message; …`.
fn registry_error_text(body: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct Errors {
        errors: Vec<Item>,
    }
    #[derive(Deserialize)]
    struct Item {
        #[serde(default)]
        code: String,
        #[serde(default)]
        message: String,
    }
    let parsed: Errors = serde_json::from_slice(body).ok()?;
    let text = parsed
        .errors
        .iter()
        .map(|e| match (e.code.is_empty(), e.message.is_empty()) {
            (false, false) => format!("{}: {}", e.code, e.message),
            (false, true) => e.code.clone(),
            _ => e.message.clone(),
        })
        .collect::<Vec<_>>()
        .join("; ");
    (!text.is_empty()).then_some(text)
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

fn reference_name(target: &ManifestRef) -> String {
    match target {
        ManifestRef::Tag(t) => t.to_string(),
        ManifestRef::Digest(d) => d.to_string(),
    }
}

fn with_digest(location: &str, digest: &Digest) -> String {
    let sep = if location.contains('?') { '&' } else { '?' };
    format!("{location}{sep}digest={}", encode_query(digest.as_str()))
}

/// Percent-encodes a query value (everything but unreserved characters).
fn encode_query(value: &str) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            // Writing to a String cannot fail.
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// The tag of the referrers fallback index: `<alg>-<hex>`.
fn fallback_tag(subject: &Digest) -> Result<Tag> {
    let text = format!("{}-{}", subject.algorithm().name(), subject.encoded());
    // sha512's 128 hex digits make a tag longer than the grammar allows; the schema truncates to 128.
    let text: String = text.chars().take(128).collect();
    Tag::new(&text).map_err(|e| Error::Backend(Box::new(e)))
}

fn decode_index(bytes: &[u8]) -> Result<ImageIndex, String> {
    match Manifest::from_slice(bytes, Some(media_type::OCI_INDEX)) {
        Ok(Manifest::Index(index)) => Ok(index),
        Ok(Manifest::Image(_)) => {
            Err("the registry answered an image manifest, not an index".into())
        }
        Err(e) => Err(format!("the registry answered an undecodable index: {e}")),
    }
}

/// The media type of a fetched manifest: the `Content-Type` unless it is generic, else the document's own
/// `mediaType`, else (a document with `manifests`) an OCI index, else an OCI image manifest.
fn manifest_media_type(content_type: Option<&str>, bytes: &[u8]) -> String {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Probe {
        #[serde(default)]
        media_type: Option<String>,
        #[serde(default)]
        manifests: Option<serde_json::Value>,
    }
    let declared = content_type
        .map(|t| t.split(';').next().unwrap_or("").trim().to_owned())
        .filter(|t| !t.is_empty() && t != "application/json" && t != "text/plain");
    if let Some(t) = declared {
        return t;
    }
    match serde_json::from_slice::<Probe>(bytes) {
        Ok(Probe {
            media_type: Some(t),
            ..
        }) => t,
        Ok(Probe {
            manifests: Some(_), ..
        }) => media_type::OCI_INDEX.to_owned(),
        _ => media_type::OCI_MANIFEST.to_owned(),
    }
}

/// Content read for an upload: in memory, or spooled to a temporary file; already verified.
#[derive(Debug)]
enum Spool {
    Memory(Vec<u8>),
    File { file: File, len: u64 },
}

impl Spool {
    fn len(&self) -> u64 {
        match self {
            Spool::Memory(bytes) => bytes.len() as u64,
            Spool::File { len, .. } => *len,
        }
    }

    fn range(&self, offset: u64, len: u64) -> Payload<'_> {
        match self {
            Spool::Memory(bytes) => {
                // Offsets come from `len()`, which is the vector's length: they fit in usize.
                let start = usize::try_from(offset)
                    .unwrap_or(usize::MAX)
                    .min(bytes.len());
                let end = usize::try_from(offset + len)
                    .unwrap_or(usize::MAX)
                    .min(bytes.len());
                Payload::Bytes(&bytes[start..end])
            }
            Spool::File { file, .. } => Payload::File { file, offset, len },
        }
    }
}

/// Reads `data` fully (into memory up to `limit`, else into a temporary file), checking digest and size.
fn spool(digest: &Digest, size: Option<u64>, data: &mut dyn Read, limit: u64) -> Result<Spool> {
    let read_err = |e| Error::io("reading content for", digest.as_str(), e);
    let mut digester = Digester::new(digest.algorithm());
    let mut head = Vec::new();
    data.take(limit.saturating_add(1))
        .read_to_end(&mut head)
        .map_err(read_err)?;
    digester.update(&head);
    let spooled = if head.len() as u64 <= limit {
        Spool::Memory(head)
    } else {
        let mut file =
            tempfile::tempfile().map_err(|e| Error::io("creating", "a spool file", e))?;
        file.write_all(&head)
            .map_err(|e| Error::io("writing", "a spool file", e))?;
        drop(head);
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = match data.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(read_err(e)),
            };
            digester.update(&buf[..n]);
            file.write_all(&buf[..n])
                .map_err(|e| Error::io("writing", "a spool file", e))?;
        }
        let len = digester.len();
        Spool::File { file, len }
    };
    let len = digester.len();
    super::check_content(digest, size, digester.finish(), len)?;
    Ok(spooled)
}

/// A blob body hashed as it is read; the read that reaches the end fails when the digest differs.
struct VerifyingReader<R> {
    inner: R,
    digester: Option<Digester>,
    expected: Digest,
    origin: String,
}

impl<R: Read> Read for VerifyingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n > 0 {
            if let Some(d) = self.digester.as_mut() {
                d.update(&buf[..n]);
            }
        } else if !buf.is_empty()
            && let Some(d) = self.digester.take()
        {
            let actual = d.finish();
            if actual != self.expected {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "{} served content for {} that hashes to {actual}",
                        self.origin, self.expected
                    ),
                ));
            }
        }
        Ok(n)
    }
}

/// oci-client's blob stream as a synchronous reader, blocking on the store's runtime for each block.
struct StreamReader {
    client: Arc<Client>,
    stream: BoxStream<'static, io::Result<bytes::Bytes>>,
    pending: bytes::Bytes,
}

impl Read for StreamReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pending.is_empty() {
            match self.client.runtime.block_on(self.stream.next()) {
                None => return Ok(0),
                Some(block) => self.pending = block?,
            }
        }
        let n = buf.len().min(self.pending.len());
        buf[..n].copy_from_slice(&self.pending.split_to(n));
        Ok(n)
    }
}

impl BlobStore for RegistryStore {
    type Error = Error;

    fn blob_size(&self, digest: &Digest) -> Result<Option<u64>> {
        // `blob_exists` drops Content-Length, which is the answer here: this HEAD is ours.
        let c = &self.client;
        let call = Call::new(Method::HEAD, c.url(&format!("blobs/{digest}")), Op::Pull);
        let resp = c
            .send(&call)
            .map_err(|f| c.error("checking blob", digest.as_str(), f))?;
        match resp.status().as_u16() {
            200 => Ok(Some(
                header(resp.headers(), "content-length")
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(0),
            )),
            404 => Ok(None),
            status => {
                let failure = c.status_failure(status, resp);
                Err(c.error("checking blob", digest.as_str(), failure))
            }
        }
    }

    fn open_blob(&self, digest: &Digest) -> Result<Option<BlobReader<'_>>> {
        let c = &self.client;
        let reference = c.oci_ref(None);
        let digest_text = digest.to_string();
        let sized = match c.call(Op::Pull, true, || {
            c.oci.pull_blob_stream(&reference, digest_text.as_str())
        }) {
            Ok(sized) => sized,
            Err(Fail::Oci(e)) if status_of(&e) == Some(404) => return Ok(None),
            Err(f) => return Err(c.fail("fetching blob", digest.as_str(), f)),
        };
        let reader = VerifyingReader {
            inner: StreamReader {
                client: Arc::clone(c),
                stream: sized.stream,
                pending: bytes::Bytes::new(),
            },
            digester: Some(Digester::new(digest.algorithm())),
            expected: digest.clone(),
            origin: self.to_string(),
        };
        Ok(Some(Box::new(reader)))
    }

    fn put_blob(&self, digest: &Digest, size: Option<u64>, data: &mut dyn Read) -> Result<u64> {
        if self.has_blob(digest)? {
            return match size {
                Some(s) => Ok(s),
                None => Ok(self.blob_size(digest)?.unwrap_or(0)),
            };
        }
        for from in &self.client.options.mount_from {
            if from != &self.client.repository && self.mount_blob(digest, from)? {
                return Ok(match size {
                    Some(s) => s,
                    None => self.blob_size(digest)?.unwrap_or(0),
                });
            }
        }
        let source = spool(digest, size, data, self.client.options.monolithic_limit)?;
        self.upload(digest, &source)?;
        Ok(source.len())
    }
}

impl ManifestStore for RegistryStore {
    type Error = Error;

    fn get_manifest(&self, target: &ManifestRef) -> Result<Option<RawManifest>> {
        let c = &self.client;
        let name = reference_name(target);
        let reference = c.oci_ref(Some(target));
        let auth = c.registry_auth();
        // oci-client checks the bytes against the digest asked for, or against Docker-Content-Digest.
        let (bytes, _) = match c.call(Op::Pull, true, || {
            c.oci.pull_manifest_raw(&reference, &auth, &MANIFEST_ACCEPT)
        }) {
            Ok(found) => found,
            Err(Fail::Oci(e)) if status_of(&e) == Some(404) => return Ok(None),
            Err(f) => return Err(c.fail("fetching manifest", &name, f)),
        };
        if let ManifestRef::Digest(expected) = target {
            // Again with our own hasher: oci-client passes digests of algorithms it does not know.
            let actual = Digest::of(expected.algorithm(), &bytes);
            if actual != *expected {
                return Err(Error::DigestMismatch {
                    expected: expected.clone(),
                    actual,
                    location: None,
                });
            }
        }
        let media_type = manifest_media_type(None, &bytes);
        Ok(Some(RawManifest::new(&media_type, bytes.to_vec())))
    }

    fn put_manifest(&self, manifest: &RawManifest, tag: Option<&Tag>) -> Result<()> {
        for child in children(manifest)? {
            if child.urls.is_empty() && !self.has_child(&child)? {
                return Err(Error::MissingContent {
                    manifest: manifest.digest().clone(),
                    missing: child.digest,
                    media_type: child.media_type,
                    store: self.to_string(),
                });
            }
        }
        let subject = match manifest.decode() {
            Ok(Manifest::Image(m)) => m.subject,
            Ok(Manifest::Index(i)) => i.subject,
            Err(_) => None,
        };
        let Some(subject) = subject else {
            return self.push_manifest(manifest, tag);
        };
        let headers = self.put_manifest_bytes(manifest, tag)?;
        if headers.get("oci-subject").is_none() {
            self.update_fallback_index(&subject.digest, manifest)?;
        }
        Ok(())
    }

    fn tags(&self) -> Result<Vec<Tag>> {
        let c = &self.client;
        let reference = c.oci_ref(None);
        let auth = c.registry_auth();
        let mut tags: Vec<Tag> = Vec::new();
        let mut last: Option<String> = None;
        // Paged with `last` (oci-client does not expose `Link`); a page that adds nothing ends it, and
        // the bound keeps a registry that ignores `last` from holding us here.
        for _ in 0..10_000 {
            let page = match c.call(Op::Pull, true, || {
                c.oci
                    .list_tags(&reference, &auth, Some(TAG_PAGE), last.as_deref())
            }) {
                Ok(page) => page,
                Err(Fail::Oci(e)) if status_of(&e) == Some(404) => break,
                Err(f) => return Err(c.fail("listing tags", "", f)),
            };
            let before = tags.len();
            let page_last = page.tags.last().cloned();
            tags.extend(page.tags.iter().filter_map(|t| Tag::new(t).ok()));
            tags.sort();
            tags.dedup();
            if tags.len() == before || page_last.is_none() || page_last == last {
                break;
            }
            last = page_last;
        }
        Ok(tags)
    }
}

impl Referrers for RegistryStore {
    type Error = Error;

    fn referrers(&self, subject: &Digest, artifact_type: Option<&str>) -> Result<Vec<Descriptor>> {
        let c = &self.client;
        let reference = c.oci_ref(Some(&ManifestRef::Digest(subject.clone())));
        // oci-client falls back to the `sha256-<hex>` tag when the registry has no referrers API.
        let index = c
            .call(Op::Pull, true, || {
                c.oci.pull_referrers(&reference, artifact_type)
            })
            .map_err(|f| c.fail("listing referrers of", subject.as_str(), f))?;
        let listed = serde_json::to_vec(&index)
            .map_err(|e| e.to_string())
            .and_then(|bytes| decode_index(&bytes))
            .map_err(|reason| {
                c.error(
                    "listing referrers of",
                    subject.as_str(),
                    Failure {
                        status: Some(200),
                        message: reason,
                        transient: false,
                    },
                )
            })?
            .manifests;
        // Registries may ignore the filter (they say so by leaving out `OCI-Filters-Applied`).
        Ok(listed
            .into_iter()
            .filter(|d| artifact_type.is_none_or(|t| d.artifact_type.as_deref() == Some(t)))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    /// A tiny HTTP/1.1 server on loopback: `answer(request head)` gives status, extra headers and body.
    /// Returns its address and the request heads it saw.
    fn fake_registry(
        answer: impl Fn(&str) -> (u16, Vec<(String, String)>, Vec<u8>) + Send + Sync + 'static,
    ) -> (String, Arc<Mutex<Vec<String>>>) {
        use std::fmt::Write as _;
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
                        // A request body (a token grant) is read too, and shown after the head.
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
                        let (status, headers, body) = answer(&head);
                        let mut out =
                            format!("HTTP/1.1 {status} X\r\ncontent-length: {}\r\n", body.len());
                        for (k, v) in headers {
                            let _ = write!(out, "{k}: {v}\r\n");
                        }
                        out.push_str("\r\n");
                        let mut bytes = out.into_bytes();
                        bytes.extend_from_slice(&body);
                        if conn.write_all(&bytes).is_err() {
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
}
