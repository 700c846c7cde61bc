//! One repository of a registry as a store (feature `registry`), speaking the OCI distribution API.
//!
//! # How it talks to the registry
//!
//! Every request is this module's own, on one reqwest client (rustls) driven by a small tokio runtime
//! the store owns: manifests by tag or digest (checked against the digest asked for, or against
//! `Docker-Content-Digest`), manifest and blob existence (`HEAD`), manifest pushes (whose `OCI-Subject`
//! answer tells whether the registry indexes referrers; when it does not, the `sha256-<hex>` fallback
//! index is updated), blob downloads (hashed as they are read: a mismatch fails the read at its end),
//! uploads, tags (paged with `last`), the referrers API with its `sha256-<hex>` tag fallback on `404`,
//! cross-repository mounts, and the token flow. The store used to run on oci-client 0.18, which reads
//! every answer whole with no limit and gives its requests no overall deadline; it is no longer used,
//! so that every request keeps the bounds below.
//!
//! - **Bounded reads**: each answer is read within a limit: a blob within the size its
//!   descriptor gives ([`RegistryStore::open_blob_sized`]; a larger `Content-Length` is refused before
//!   reading), a manifest or index fetched without a known size within [`MANIFEST_LIMIT`] (4 MiB, what
//!   Distribution accepts), a tag page within the same, a token answer within 1 MiB, and an error answer
//!   only as far as its first 64 KiB. A blob pushed with a declared size is read from the caller no further
//!   than one byte past it.
//! - **Deadlines**: each request, from sending it to the last byte of its answer, must finish within
//!   [`RegistryOptions::deadline`]; [`RegistryOptions::timeout`] bounds connecting and each wait for more
//!   bytes. A request past its deadline is not repeated.
//! - **Credentials** go only to the origin (scheme, host, port) of the registry they were found for:
//!   an upload `Location` or a mount's session on another origin (storage backends such as S3 hand these
//!   out) is followed without `Authorization`, and reqwest's redirect policy drops it on redirects to
//!   another origin (a `302` from a blob `GET` to a storage host). The one exception is the token flow,
//!   as Docker does it: the registry's `401` challenge names a token realm, which gets the `Basic`
//!   credentials (`GET`) or the identity token (`POST`, `refresh_token` grant); the token it issues goes
//!   back only to the registry, for the repository scopes it was asked for. A realm over plain HTTP gets
//!   no credentials from a store that reaches its registry over HTTPS.
//! - **Credentials' sources**: the Docker/containers auth files and `credsStore`/`credHelpers`
//!   executables ([`CredentialSource`]); plain HTTP is used for loopback registries, as Docker does, or
//!   with [`RegistryOptions::plain_http`].
//! - **Chunked uploads**: blobs above [`RegistryOptions::monolithic_limit`] are spooled to a temporary file
//!   while their digest is checked, then sent in `PATCH` chunks of [`RegistryOptions::chunk_size`] raised
//!   to the registry's `OCI-Chunk-Min-Length`, falling back to one streamed `PUT` when the registry
//!   refuses chunks; smaller ones go in one `PUT` from memory.
//! - **Retries**: on connection failures, timeouts, `408`, `429` and `5xx`, requests are repeated with
//!   exponential backoff, bounded by [`RegistryOptions::retries`]; only idempotent requests are repeated,
//!   and a failed upload session is restarted as a whole. A `401` re-runs the token flow once (the token
//!   may have expired).
//! - **Errors** name the registry, repository, operation and digest or tag ([`Error::Registry`]), or
//!   the mismatch ([`Error::DigestMismatch`]).
//!
//! The store traits are synchronous: the store owns a small multi-threaded tokio runtime (shared by its
//! clones) and blocks on it from the calling thread, so several threads can use one store at once; called
//! from inside another runtime, the future is driven from a scoped thread instead of blocking that
//! runtime.
//!
//! Credentials and tokens never appear in errors or `Debug` output.

mod auth;
mod body;

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
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode, Url};
use serde::Deserialize;
use tokio::time::{Instant, timeout_at};

pub use auth::{CredentialSource, Credentials};
use body::{Answer, BodyFault, BodyReader};

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
// The registry reads manifests, indexes, tag pages and referrers listings of unknown size within the
// stores' one manifest limit (Distribution's own, 4 MiB).
pub use super::MANIFEST_LIMIT;
/// The largest token service answer read (tokens are a few KiB).
const TOKEN_LIMIT: u64 = 1 << 20;
/// How much of an error answer is read for its message; the rest is never read.
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
    /// How long to wait for a connection, or for the next bytes of a response, before giving up (the
    /// whole request is bounded by [`RegistryOptions::deadline`]).
    pub timeout: Duration,
    /// Blobs up to this size are uploaded in one `PUT` from memory; larger ones are spooled to a
    /// temporary file and sent in chunks.
    pub monolithic_limit: u64,
    /// The chunk size of chunked uploads (raised to the registry's `OCI-Chunk-Min-Length`).
    pub chunk_size: u64,
    /// Repositories of the same registry to try a cross-repository mount from before uploading a blob.
    pub mount_from: Vec<String>,
    /// The longest one request may take, from sending it to the last byte of its answer (a whole
    /// manifest, a whole blob download, one upload chunk). Not repeated when it passes.
    pub deadline: Duration,
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
            deadline: Duration::from_secs(600),
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

    /// The connect / stall timeout (see [`RegistryOptions::deadline`] for the whole request).
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

    /// The deadline of each request, its whole answer included (default 10 minutes: raise it for
    /// layers of gigabytes over slow links).
    #[must_use]
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = deadline;
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

impl Op {
    /// The token scope of this operation on `repository`.
    fn scope(self, repository: &str) -> String {
        match self {
            Op::Pull => format!("repository:{repository}:pull"),
            Op::Push => format!("repository:{repository}:pull,push"),
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
    http: reqwest::Client,
    /// `http(s)://HOST[:PORT]` of the API.
    base: String,
    /// `base`, parsed: the origin credentials are sent to.
    origin: Url,
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
        // Docker Hub's API lives on another host than its name.
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
        let origin = Url::parse(&base).map_err(|e| setup_error(format!("{base}: {e}")))?;
        // reqwest's default redirect policy (at most 10) drops `Authorization` when a redirect leaves the
        // origin (scheme, host or port differ from the previous hop's); the tests hold it to that.
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
                http,
                base,
                origin,
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
    /// On a registry with a token service the token must allow `pull` on `from` as well as `push` here,
    /// so it is asked for with both scopes.
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
        let mut answer = loop {
            let sent = c.mount_authorization(from).and_then(|a| {
                authorization = a;
                c.send_once(&call, authorization.as_deref())
            });
            match sent {
                Ok(answer) if retryable_status(answer.status()) && attempt < c.options.retries => {}
                Err(f) if f.transient && attempt < c.options.retries => {}
                Ok(answer) => break answer,
                Err(f) => return Err(c.error("mounting blob", digest.as_str(), f)),
            }
            c.backoff(attempt, None);
            attempt += 1;
        };
        match answer.status() {
            201 => Ok(true),
            202 => {
                // Not mounted: close the session it opened rather than leave it to expire.
                if let Ok(location) = upload_location(&answer) {
                    let cancel = Call::new(Method::DELETE, location, Op::Push);
                    let _ = c.send_once(&cancel, authorization.as_deref());
                }
                Ok(false)
            }
            401 | 403 | 404 => Ok(false),
            _ => {
                let failure = c.status_failure(&mut answer);
                Err(c.error("mounting blob", digest.as_str(), failure))
            }
        }
    }

    /// A reader of a blob whose descriptor gives its size: refused before reading when the registry
    /// announces more (`Content-Length`), and failing as soon as more than `size` bytes arrive. The bytes
    /// are hashed as they are read; the read that reaches the end fails when they do not match `digest`.
    pub fn open_blob_sized(&self, digest: &Digest, size: u64) -> Result<Option<BlobReader<'_>>> {
        self.open_blob_within(digest, Some(size))
    }

    fn open_blob_within(
        &self,
        digest: &Digest,
        size: Option<u64>,
    ) -> Result<Option<BlobReader<'_>>> {
        let c = &self.client;
        let call = Call::new(Method::GET, c.url(&format!("blobs/{digest}")), Op::Pull);
        let mut answer = c
            .send(&call)
            .map_err(|f| c.error("fetching blob", digest.as_str(), f))?;
        match answer.status() {
            200 => {}
            404 => return Ok(None),
            _ => {
                let failure = c.status_failure(&mut answer);
                return Err(c.error("fetching blob", digest.as_str(), failure));
            }
        }
        if let (Some(size), Some(declared)) = (size, answer.response.content_length())
            && declared > size
        {
            return Err(c.error(
                "fetching blob",
                digest.as_str(),
                Failure::plain(format!(
                    "the registry answers {declared} bytes for a blob of {size}"
                )),
            ));
        }
        let reader = VerifyingReader {
            inner: BodyReader {
                client: Arc::clone(c),
                answer: Some(answer),
                limit: size,
                received: 0,
                pending: bytes::Bytes::new(),
            },
            digester: Some(Digester::new(digest.algorithm())),
            expected: digest.clone(),
            origin: self.to_string(),
        };
        Ok(Some(Box::new(reader)))
    }

    /// Whether a manifest with this digest is in the repository.
    pub fn has_manifest(&self, digest: &Digest) -> Result<bool> {
        let c = &self.client;
        let call = Call::new(
            Method::HEAD,
            c.url(&format!("manifests/{digest}")),
            Op::Pull,
        )
        .header("accept", MANIFEST_ACCEPT.join(", "));
        let mut answer = c
            .send(&call)
            .map_err(|f| c.error("checking manifest", digest.as_str(), f))?;
        match answer.status() {
            200 => {
                if let Some(said) = header(answer.headers(), "docker-content-digest")
                    && let Ok(said) = Digest::parse(&said)
                    && said.algorithm() == digest.algorithm()
                    && said != *digest
                {
                    return Err(Error::DigestMismatch {
                        expected: digest.clone(),
                        actual: said,
                        location: None,
                    });
                }
                Ok(true)
            }
            404 => Ok(false),
            _ => {
                let failure = c.status_failure(&mut answer);
                Err(c.error("checking manifest", digest.as_str(), failure))
            }
        }
    }

    /// Whether the blob is there (`HEAD`), or the manifest for manifest media types.
    fn has_child(&self, desc: &Descriptor) -> Result<bool> {
        if manifest::is_manifest(&desc.media_type) || manifest::is_index(&desc.media_type) {
            self.has_manifest(&desc.digest)
        } else {
            Ok(self.blob_size(&desc.digest)?.is_some())
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
        let mut answer = c
            .send(&call)
            .map_err(|f| c.error("pushing manifest", &reference, f))?;
        let status = answer.status();
        if !(200..300).contains(&status) {
            let failure = c.status_failure(&mut answer);
            return Err(c.error("pushing manifest", &reference, failure));
        }
        if let Some(said) = header(answer.headers(), "docker-content-digest")
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
        Ok(answer.headers().clone())
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
        self.put_manifest_bytes(&encoded, Some(&tag)).map(drop)
    }

    /// Uploads verified content, restarting the session on transient failures and falling back from
    /// chunks to one `PUT` when chunks are refused.
    fn upload(&self, digest: &Digest, source: &Spool) -> Result<()> {
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
        let mut resp = c.send(&start).map_err(SessionFailure::Failed)?;
        let status = resp.status();
        if status != 202 {
            return Err(SessionFailure::Failed(c.status_failure(&mut resp)));
        }
        let min_chunk = header(resp.headers(), "oci-chunk-min-length")
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(0);
        let mut location = upload_location(&resp).map_err(SessionFailure::Failed)?;
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
                let mut resp = c.send(&call).map_err(SessionFailure::Failed)?;
                let status = resp.status();
                if status != 202 {
                    return Err(SessionFailure::refused(c.status_failure(&mut resp)));
                }
                location = upload_location(&resp).map_err(SessionFailure::Failed)?;
                offset += len;
            }
            let call =
                Call::new(Method::PUT, with_digest(&location, digest), Op::Push).in_session();
            let mut resp = c.send(&call).map_err(SessionFailure::Failed)?;
            let status = resp.status();
            if status != 201 {
                return Err(SessionFailure::refused(c.status_failure(&mut resp)));
            }
            return Ok(());
        }
        let call = Call::new(Method::PUT, with_digest(&location, digest), Op::Push)
            .in_session()
            .header("content-type", "application/octet-stream")
            .payload(source.range(0, source.len()));
        let mut resp = c.send(&call).map_err(SessionFailure::Failed)?;
        let status = resp.status();
        if status != 201 {
            return Err(SessionFailure::Failed(c.status_failure(&mut resp)));
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

    /// A failure from an unexpected status, with the registry's error text when it gave one (only the
    /// first [`ERROR_BODY_LIMIT`] bytes of the answer are read).
    fn status_failure(&self, answer: &mut Answer) -> Failure {
        let status = answer.status();
        let body = self
            .runtime
            .block_on(body::read_prefix(answer, ERROR_BODY_LIMIT));
        Failure::status(status, status_message(status, &body))
    }

    /// The whole body of `answer`, within `limit` bytes and the answer's deadline.
    fn read_body(&self, answer: &mut Answer, limit: u64) -> Result<Vec<u8>, Failure> {
        let read = self.runtime.block_on(body::read_limited(answer, limit));
        read.map_err(|fault| self.body_failure(answer, fault))
    }

    fn body_failure(&self, answer: &Answer, fault: BodyFault) -> Failure {
        match fault {
            BodyFault::TooLarge {
                limit,
                declared: Some(declared),
            } => Failure::plain(format!(
                "the answer to {} is {declared} bytes, more than the {limit} allowed",
                answer.request
            )),
            BodyFault::TooLarge {
                limit,
                declared: None,
            } => Failure::plain(format!(
                "the answer to {} goes on past the {limit} bytes allowed",
                answer.request
            )),
            BodyFault::Deadline => self.deadline_failure(&answer.request),
            BodyFault::Transport(e) => transport_failure(&e),
        }
    }

    /// A request that did not finish in time: not repeated (the deadline is the caller's bound).
    fn deadline_failure(&self, request: &str) -> Failure {
        Failure::plain(format!(
            "no complete answer to {request} within the {:?} deadline",
            self.options.deadline
        ))
    }

    /// Sends `call` and reads its whole answer: within `limit` bytes when the status is `2xx`, else only
    /// its first bytes for the message. An answer cut short is fetched again when the request may be
    /// repeated.
    fn fetch(&self, call: &Call<'_>, limit: u64) -> Result<Fetched, Failure> {
        let mut attempt = 0;
        loop {
            let mut answer = self.send(call)?;
            let status = answer.status();
            let headers = answer.headers().clone();
            if !(200..300).contains(&status) {
                let body = self
                    .runtime
                    .block_on(body::read_prefix(&mut answer, ERROR_BODY_LIMIT));
                return Ok(Fetched {
                    status,
                    headers,
                    body,
                });
            }
            match self.read_body(&mut answer, limit) {
                Ok(body) => {
                    return Ok(Fetched {
                        status,
                        headers,
                        body,
                    });
                }
                Err(f) if f.transient && call.idempotent && attempt < self.options.retries => {
                    self.backoff(attempt, None);
                    attempt += 1;
                }
                Err(f) => return Err(f),
            }
        }
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

    /// Runs the token flow for `op` once (until [`Client::forget`]); the returned header is what
    /// requests to the registry's origin send: a Bearer token when the registry has a token service,
    /// else Basic credentials when there are some, else nothing.
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
        let scopes = [op.scope(&self.repository)];
        let header = match self
            .runtime
            .block_on(self.fetch_token(credentials.as_ref(), &scopes))?
        {
            Some(token) => Some(format!("Bearer {token}")),
            None => credentials.as_ref().and_then(Credentials::basic_header),
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
            Op::Push.scope(&self.repository),
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

    /// The token realm a challenge names, as a URL fit to receive credentials when `with_credentials`:
    /// Docker sends them to the realm the registry names, wherever it is; never in the clear when the
    /// registry itself is reached over HTTPS.
    fn token_realm(&self, realm: &str, with_credentials: bool) -> Result<Url, Failure> {
        let url = Url::parse(realm)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https"))
            .ok_or_else(|| {
                Failure::plain(format!(
                    "the registry names {realm:?} as its token service, which is not an HTTP(S) URL"
                ))
            })?;
        if with_credentials && self.origin.scheme() == "https" && url.scheme() != "https" {
            return Err(Failure::plain(format!(
                "the registry names a token service over plain HTTP ({}); credentials are not sent \
                 in the clear",
                display_url(&url)
            )));
        }
        Ok(url)
    }

    /// A Bearer token for `scopes` from the token service the registry's challenge names: `POST` with
    /// the identity token (the `refresh_token` grant), else `GET` with basic credentials or none. `None`
    /// when the registry asks for no Bearer token. Every answer is read within the deadline and a limit.
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
        let probe_url = format!("{}/v2/", self.base);
        let deadline = Instant::now() + self.options.deadline;
        let probe = timeout_at(deadline, self.http.get(&probe_url).send())
            .await
            .map_err(|_| self.deadline_failure(&format!("GET {probe_url}")))?
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
        drop(probe);
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
        let realm_url = self.token_realm(realm, credentials.is_some())?;
        let service = challenge
            .as_ref()
            .and_then(|c| c.params.get("service"))
            .cloned()
            .unwrap_or_default();
        let request = self.token_request(realm, &service, credentials, scopes);
        let method = if identity.is_some() { "POST" } else { "GET" };
        let mut answer = Answer {
            response: timeout_at(deadline, request.send())
                .await
                .map_err(|_| {
                    self.deadline_failure(&format!("{method} {}", display_url(&realm_url)))
                })?
                .map_err(|e| {
                    let mut f = transport_failure(&e);
                    f.message = format!("fetching a token from {realm}: {}", f.message);
                    f
                })?,
            deadline,
            request: format!("{method} {}", display_url(&realm_url)),
        };
        let status = answer.status();
        if status != 200 {
            let body = body::read_prefix(&mut answer, ERROR_BODY_LIMIT).await;
            return Err(Failure::status(
                status,
                format!(
                    "the token service at {realm} said: {}",
                    status_message(status, &body)
                ),
            ));
        }
        let body = body::read_limited(&mut answer, TOKEN_LIMIT)
            .await
            .map_err(|fault| self.body_failure(&answer, fault))?;
        let parsed: Option<TokenAnswer> = serde_json::from_slice(&body).ok();
        parsed
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

    /// Sends one of this module's own requests: re-authorises once on `401`, retries idempotent
    /// requests on transient failures. Other statuses are returned for the caller to judge.
    fn send(&self, call: &Call<'_>) -> Result<Answer, Failure> {
        let mut attempt = 0;
        let mut reauthorized = false;
        loop {
            let authorization = self.authorize_retrying(call.op)?;
            match self.send_once(call, authorization.as_deref()) {
                Ok(answer) if answer.status() == 401 && !reauthorized => {
                    reauthorized = true;
                    self.forget(call.op);
                }
                Ok(answer)
                    if retryable_status(answer.status())
                        && call.idempotent
                        && attempt < self.options.retries =>
                {
                    let retry_after = header(answer.headers(), "retry-after")
                        .and_then(|v| v.trim().parse::<u64>().ok())
                        .map(Duration::from_secs);
                    self.backoff(attempt, retry_after);
                    attempt += 1;
                }
                Ok(answer) => return Ok(answer),
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

    /// Sends `call` once, with `authorization` only when it goes to the registry's own origin (an upload
    /// `Location` may point at a storage service elsewhere). The answer's body must arrive before the
    /// deadline set here.
    fn send_once(&self, call: &Call<'_>, authorization: Option<&str>) -> Result<Answer, Failure> {
        let url = Url::parse(&call.url)
            .map_err(|e| Failure::plain(format!("{:?} is not a URL: {e}", call.url)))?;
        let what = format!("{} {}", call.method, display_url(&url));
        let mut request = self.http.request(call.method.clone(), url.clone());
        for (name, value) in &call.headers {
            request = request.header(*name, value);
        }
        if let Some(a) = authorization
            && same_origin(&url, &self.origin)
        {
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
        let deadline = Instant::now() + self.options.deadline;
        // `send` starts its timers when called, which needs the runtime: call it inside the future.
        let response = self
            .runtime
            .block_on(async move { timeout_at(deadline, request.send()).await })
            .map_err(|_| self.deadline_failure(&what))?
            .map_err(|e| transport_failure(&e))?;
        Ok(Answer {
            response,
            deadline,
            request: what,
        })
    }
}

/// What [`Client::fetch`] read.
struct Fetched {
    status: u16,
    headers: HeaderMap,
    /// The whole body of a `2xx` answer; the first bytes of any other.
    body: Vec<u8>,
}

/// Whether two URLs share an origin: scheme, host and port (the default port of the scheme when none is
/// written).
fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
}

/// A URL without its query (an upload location's may carry a signature) or credentials, for messages.
fn display_url(url: &Url) -> String {
    let mut shown = url.clone();
    shown.set_query(None);
    shown.set_fragment(None);
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.to_string()
}

/// The `Location` of an answer, resolved against the URL that gave it (after redirects).
fn upload_location(answer: &Answer) -> Result<String, Failure> {
    header(answer.headers(), "location")
        .and_then(|l| answer.response.url().join(&l).ok())
        .map(String::from)
        .ok_or_else(|| Failure {
            status: Some(answer.status()),
            message: "the registry answered without a usable Location for the upload".to_owned(),
            transient: false,
        })
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
/// With a declared `size`, no more than one byte past it is read: a longer stream fails there.
fn spool(digest: &Digest, size: Option<u64>, data: &mut dyn Read, limit: u64) -> Result<Spool> {
    let read_err = |e| Error::io("reading content for", digest.as_str(), e);
    let mut data = data.take(size.map_or(u64::MAX, |s| s.saturating_add(1)));
    let mut digester = Digester::new(digest.algorithm());
    let mut head = Vec::new();
    (&mut data)
        .take(limit.saturating_add(1))
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
    // Past the declared size the digest cannot match either; the size is the plainer fault.
    if let Some(size) = size
        && len > size
    {
        return Err(Error::SizeMismatch {
            digest: digest.clone(),
            expected: size,
            actual: len,
        });
    }
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

impl BlobStore for RegistryStore {
    type Error = Error;

    fn blob_size(&self, digest: &Digest) -> Result<Option<u64>> {
        let c = &self.client;
        let call = Call::new(Method::HEAD, c.url(&format!("blobs/{digest}")), Op::Pull);
        let mut answer = c
            .send(&call)
            .map_err(|f| c.error("checking blob", digest.as_str(), f))?;
        match answer.status() {
            200 => Ok(Some(
                header(answer.headers(), "content-length")
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(0),
            )),
            404 => Ok(None),
            _ => {
                let failure = c.status_failure(&mut answer);
                Err(c.error("checking blob", digest.as_str(), failure))
            }
        }
    }

    /// The blob's bytes, within the `Content-Length` the registry announces (the trait gives no size:
    /// [`RegistryStore::open_blob_sized`] bounds the read by the descriptor's).
    fn open_blob(&self, digest: &Digest) -> Result<Option<BlobReader<'_>>> {
        self.open_blob_within(digest, None)
    }

    fn put_blob(&self, digest: &Digest, size: Option<u64>, data: &mut dyn Read) -> Result<u64> {
        if let Some(held) = self.blob_size(digest)? {
            return Ok(size.unwrap_or(held));
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

    /// The manifest, read within [`MANIFEST_LIMIT`]; checked against the digest asked for, or against
    /// the `Docker-Content-Digest` the registry gives for a tag.
    fn get_manifest(&self, target: &ManifestRef) -> Result<Option<RawManifest>> {
        let c = &self.client;
        let name = reference_name(target);
        let call = Call::new(Method::GET, c.url(&format!("manifests/{name}")), Op::Pull)
            .header("accept", MANIFEST_ACCEPT.join(", "));
        let fetched = c
            .fetch(&call, MANIFEST_LIMIT)
            .map_err(|f| c.error("fetching manifest", &name, f))?;
        match fetched.status {
            200 => {}
            404 => return Ok(None),
            status => {
                let failure = Failure::status(status, status_message(status, &fetched.body));
                return Err(c.error("fetching manifest", &name, failure));
            }
        }
        let said =
            header(&fetched.headers, "docker-content-digest").and_then(|d| Digest::parse(&d).ok());
        let expected = match target {
            ManifestRef::Digest(d) => Some(d.clone()),
            ManifestRef::Tag(_) => said,
        };
        if let Some(expected) = expected {
            let actual = Digest::of(expected.algorithm(), &fetched.body);
            if actual != expected {
                return Err(Error::DigestMismatch {
                    expected,
                    actual,
                    location: None,
                });
            }
        }
        let content_type = header(&fetched.headers, "content-type");
        let media_type = manifest_media_type(content_type.as_deref(), &fetched.body);
        Ok(Some(RawManifest::new(&media_type, fetched.body)))
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
        let headers = self.put_manifest_bytes(manifest, tag)?;
        if let Some(subject) = subject
            && headers.get("oci-subject").is_none()
        {
            self.update_fallback_index(&subject.digest, manifest)?;
        }
        Ok(())
    }

    fn tags(&self) -> Result<Vec<Tag>> {
        #[derive(Deserialize)]
        struct TagList {
            #[serde(default)]
            tags: Option<Vec<String>>,
        }
        let c = &self.client;
        let mut tags: Vec<Tag> = Vec::new();
        let mut last: Option<String> = None;
        // Paged with `last`; a page that adds nothing ends it, and the bound keeps a registry that
        // ignores `last` from holding us here.
        for _ in 0..10_000 {
            let mut path = format!("tags/list?n={TAG_PAGE}");
            if let Some(last) = &last {
                path = format!("{path}&last={}", encode_query(last));
            }
            let fetched = c
                .fetch(
                    &Call::new(Method::GET, c.url(&path), Op::Pull),
                    MANIFEST_LIMIT,
                )
                .map_err(|f| c.error("listing tags", "", f))?;
            match fetched.status {
                200 => {}
                404 => break,
                status => {
                    let failure = Failure::status(status, status_message(status, &fetched.body));
                    return Err(c.error("listing tags", "", failure));
                }
            }
            let page: TagList = serde_json::from_slice(&fetched.body).map_err(|e| {
                let failure = Failure {
                    status: Some(200),
                    message: format!("the registry answered an undecodable tag list: {e}"),
                    transient: false,
                };
                c.error("listing tags", "", failure)
            })?;
            let page = page.tags.unwrap_or_default();
            let before = tags.len();
            let page_last = page.last().cloned();
            tags.extend(page.iter().filter_map(|t| Tag::new(t).ok()));
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

    /// The referrers API, read within [`MANIFEST_LIMIT`]; on `404` (no referrers API), the
    /// `sha256-<hex>` fallback tag's index.
    fn referrers(&self, subject: &Digest, artifact_type: Option<&str>) -> Result<Vec<Descriptor>> {
        let c = &self.client;
        let mut path = format!("referrers/{subject}");
        if let Some(t) = artifact_type {
            path = format!("{path}?artifactType={}", encode_query(t));
        }
        let call =
            Call::new(Method::GET, c.url(&path), Op::Pull).header("accept", media_type::OCI_INDEX);
        let fetched = c
            .fetch(&call, MANIFEST_LIMIT)
            .map_err(|f| c.error("listing referrers of", subject.as_str(), f))?;
        let listing = match fetched.status {
            200 => fetched.body,
            404 => match self.get_manifest(&ManifestRef::Tag(fallback_tag(subject)?))? {
                Some(index) => index.bytes().to_vec(),
                None => return Ok(Vec::new()),
            },
            status => {
                let failure = Failure::status(status, status_message(status, &fetched.body));
                return Err(c.error("listing referrers of", subject.as_str(), failure));
            }
        };
        let listed = decode_index(&listing)
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
mod tests;
