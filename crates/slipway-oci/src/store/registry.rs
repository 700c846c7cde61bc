//! One repository of a registry as a store (feature `registry`), speaking the OCI distribution API.
//!
//! What it does beyond plain pulls and pushes:
//!
//! - **Auth**: credentials from the Docker/containers auth files, `credsStore`/`credHelpers` executables
//!   ([`auth`](CredentialSource)); the `WWW-Authenticate` flow: `Basic` sends the credentials, `Bearer`
//!   fetches a token from the realm (`GET` with basic credentials when there are some, anonymous
//!   otherwise; `POST` with `grant_type=refresh_token` for an identity token) for the scope the request
//!   needs (`pull`, `pull,push`, plus `pull` on the source repository of a cross-repository mount).
//! - **Uploads**: `HEAD` first (a blob already there is not sent); cross-repository mount from the
//!   repositories in [`RegistryOptions::mount_from`] (a `202` answer means "not mounted": upload instead);
//!   small blobs in one `PUT`, large ones in `PATCH` chunks of at least `OCI-Chunk-Min-Length` bytes, and a
//!   monolithic `PUT` when the registry refuses chunks. Large blobs are spooled to a temporary file while
//!   their digest is checked, so an upload session can be restarted from scratch.
//! - **Retries**: on connection failures, timeouts, `429` and `5xx`, with exponential backoff, bounded by
//!   [`RegistryOptions::retries`]; only idempotent requests are repeated, and a failed upload session is
//!   restarted as a whole.
//! - **Verification**: blobs are hashed while read (a mismatch fails the read at its end); manifests fetched
//!   by digest are checked against it, by tag against `Docker-Content-Digest` when the registry sends one.
//! - **Referrers**: `GET /v2/<repo>/referrers/<digest>`, falling back to the `sha256-<hex>` tag schema on
//!   `404`; pushing a manifest with a `subject` to a registry that does not answer `OCI-Subject` updates
//!   that fallback index.
//! - **Transport**: plain HTTP to loopback hosts (as Docker does), or with [`RegistryOptions::plain_http`];
//!   TLS (rustls, webpki roots) otherwise.
//!
//! The HTTP client is `ureq` (synchronous, already used by `slipway-gomod`): the store traits are
//! synchronous, and what this store needs (streaming sync readers, Docker config auth, chunk sizes,
//! mount fallback, the referrers fallback, OCI index media types) is outside `oci-client`'s API, so a
//! second, async HTTP stack and a tokio runtime would add weight without doing any of the work.
//!
//! Credentials and tokens never appear in errors or `Debug` output.

mod auth;

use std::collections::HashMap;
use std::fmt;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde::Deserialize;
use ureq::http::{self, HeaderMap, Method, Response};
use ureq::{Body, SendBody};

pub use auth::{CredentialSource, Credentials};

use super::{
    BlobReader, BlobStore, Error, ManifestStore, Referrers, Result, children, referrer_descriptor,
};
use crate::digest::{Digest, Digester};
use crate::manifest::{self, Descriptor, Flavor, ImageIndex, Manifest, RawManifest, media_type};
use crate::reference::{DOCKER_HUB, ManifestRef, RegistryReference, Tag};

/// The manifest media types asked for on every manifest request.
const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.index.v1+json, \
    application/vnd.oci.image.manifest.v1+json, \
    application/vnd.docker.distribution.manifest.list.v2+json, \
    application/vnd.docker.distribution.manifest.v2+json";
/// The largest manifest read (the distribution spec lets registries refuse more than 4 MiB).
const MANIFEST_LIMIT: u64 = 8 << 20;
/// How much of an error body is read for its message.
const ERROR_BODY_LIMIT: u64 = 64 << 10;
/// The longest single backoff.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

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
    /// How long to wait for a connection, a response, or the next bytes of one, before giving up.
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

    /// The connect / response / stall timeout.
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

/// One repository of a registry. Cheap to clone (clones share connections and tokens).
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

/// What a request needs the token to allow.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Scope {
    Pull,
    Push,
    Mount(String),
}

/// The body of a request: nothing, bytes in memory, or a range of a (spool) file.
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

/// One request, replayable (for auth and retries).
struct Call<'a> {
    method: Method,
    url: String,
    headers: Vec<(&'static str, String)>,
    payload: Payload<'a>,
    scope: Scope,
    idempotent: bool,
}

impl<'a> Call<'a> {
    fn new(method: Method, url: String, scope: Scope) -> Self {
        let idempotent = matches!(method, Method::GET | Method::HEAD | Method::PUT);
        Call {
            method,
            url,
            headers: Vec::new(),
            payload: Payload::Empty,
            scope,
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
}

fn retryable_status(status: u16) -> bool {
    status == 408 || status == 429 || status >= 500
}

#[derive(Default)]
struct AuthState {
    challenge: Option<auth::Challenge>,
    /// Bearer tokens by scope key.
    tokens: HashMap<String, String>,
    /// Whether `credentials` has been looked up yet.
    looked_up: bool,
    /// The credentials found (`None`: there are none).
    credentials: Option<Credentials>,
}

struct Client {
    agent: ureq::Agent,
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
        // Docker Hub's API lives on another host than its name.
        let host = if reference.registry == DOCKER_HUB {
            "registry-1.docker.io"
        } else {
            reference.registry.as_str()
        };
        let base = format!("{}://{host}", if plain { "http" } else { "https" });
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .user_agent(concat!("slipway/", env!("CARGO_PKG_VERSION")))
            // Blobs are compressed already, and a transparently decoded body would not match its digest.
            .accept_encoding(ureq::config::AutoHeaderValue::None)
            .timeout_connect(Some(options.timeout))
            .timeout_recv_response(Some(options.timeout))
            .timeout_per_read(Some(options.timeout))
            .timeout_per_write(Some(options.timeout))
            .max_idle_connections_per_host(8)
            .build();
        Ok(RegistryStore {
            client: Arc::new(Client {
                agent: ureq::Agent::new_with_config(config),
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
    /// (it then opened an upload session, which is cancelled).
    pub fn mount_blob(&self, digest: &Digest, from: &str) -> Result<bool> {
        let c = &self.client;
        let url = format!(
            "{}?mount={}&from={}",
            c.url("blobs/uploads/"),
            digest,
            encode_query(from)
        );
        let resp = c
            .send(&Call::new(Method::POST, url, Scope::Mount(from.to_owned())).in_session())
            .map_err(|f| c.error("mounting blob", digest.as_str(), f))?;
        match resp.status().as_u16() {
            201 => Ok(true),
            202 => {
                if let Some(location) = header(resp.headers(), "location") {
                    // A session nobody will use; cancelling it is a courtesy, so a failure is ignored.
                    let _ = c.send(&Call::new(
                        Method::DELETE,
                        c.resolve(&location),
                        Scope::Push,
                    ));
                }
                Ok(false)
            }
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
        let call = Call::new(
            Method::HEAD,
            c.url(&format!("manifests/{digest}")),
            Scope::Pull,
        )
        .header("accept", MANIFEST_ACCEPT);
        let resp = c
            .send(&call)
            .map_err(|f| c.error("checking manifest", digest.as_str(), f))?;
        match resp.status().as_u16() {
            200 => Ok(true),
            404 => Ok(false),
            status => Err(c.error(
                "checking manifest",
                digest.as_str(),
                c.status_failure(status, resp),
            )),
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

    fn put_manifest_bytes(&self, raw: &RawManifest, tag: Option<&Tag>) -> Result<HeaderMap> {
        let c = &self.client;
        let reference = tag.map_or_else(|| raw.digest().to_string(), ToString::to_string);
        let call = Call::new(
            Method::PUT,
            c.url(&format!("manifests/{reference}")),
            Scope::Push,
        )
        .header("content-type", raw.media_type())
        .payload(Payload::Bytes(raw.bytes()));
        let resp = c
            .send(&call)
            .map_err(|f| c.error("pushing manifest", &reference, f))?;
        let status = resp.status().as_u16();
        if !(200..300).contains(&status) {
            return Err(c.error(
                "pushing manifest",
                &reference,
                c.status_failure(status, resp),
            ));
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
        self.put_manifest_bytes(&encoded, Some(&tag))?;
        Ok(())
    }

    /// Uploads verified content from `source` (`len` bytes), restarting the session on transient failures
    /// and falling back from chunks to one `PUT` when chunks are refused.
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
        let start = Call::new(Method::POST, c.url("blobs/uploads/"), Scope::Push).in_session();
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
                let call = Call::new(Method::PATCH, location.clone(), Scope::Push)
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
            let call = Call::new(Method::PUT, with_digest(&location, digest), Scope::Push)
                .in_session()
                .header("content-length", "0");
            let resp = c.send(&call).map_err(SessionFailure::Failed)?;
            let status = resp.status().as_u16();
            if status != 201 {
                return Err(SessionFailure::refused(c.status_failure(status, resp)));
            }
            return Ok(());
        }
        let call = Call::new(Method::PUT, with_digest(&location, digest), Scope::Push)
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

    fn referrers_from_api(
        &self,
        subject: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<Option<Vec<Descriptor>>> {
        let c = &self.client;
        let mut url = c.url(&format!("referrers/{subject}"));
        if let Some(t) = artifact_type {
            url = format!("{url}?artifactType={}", encode_query(t));
        }
        let call = Call::new(Method::GET, url, Scope::Pull).header("accept", media_type::OCI_INDEX);
        let mut resp = c
            .send(&call)
            .map_err(|f| c.error("listing referrers of", subject.as_str(), f))?;
        match resp.status().as_u16() {
            200 => {
                let bytes = resp
                    .body_mut()
                    .with_config()
                    .limit(MANIFEST_LIMIT)
                    .read_to_vec()
                    .map_err(|e| {
                        c.error(
                            "listing referrers of",
                            subject.as_str(),
                            transport_failure(&e),
                        )
                    })?;
                let index = decode_index(&bytes).map_err(|reason| {
                    c.error(
                        "listing referrers of",
                        subject.as_str(),
                        Failure {
                            status: Some(200),
                            message: reason,
                            transient: false,
                        },
                    )
                })?;
                Ok(Some(index.manifests))
            }
            404 => Ok(None),
            status => Err(c.error(
                "listing referrers of",
                subject.as_str(),
                c.status_failure(status, resp),
            )),
        }
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

    fn location(&self, resp: &Response<Body>) -> Result<String, Failure> {
        header(resp.headers(), "location")
            .map(|l| self.resolve(&l))
            .ok_or_else(|| Failure {
                status: Some(resp.status().as_u16()),
                message: "the registry answered without a Location for the upload".to_owned(),
                transient: false,
            })
    }

    fn error(&self, action: &'static str, name: &str, failure: Failure) -> Error {
        Error::Registry {
            registry: self.registry.clone(),
            repository: self.repository.clone(),
            action,
            name: name.to_owned(),
            status: failure.status,
            message: failure.message,
        }
    }

    /// A failure from an unexpected status, with the registry's error text when it gave one.
    fn status_failure(&self, status: u16, mut resp: Response<Body>) -> Failure {
        let body = resp
            .body_mut()
            .with_config()
            .limit(ERROR_BODY_LIMIT)
            .read_to_vec()
            .unwrap_or_default();
        let mut message = registry_error_text(&body).unwrap_or_else(|| {
            http::StatusCode::from_u16(status)
                .ok()
                .and_then(|s| s.canonical_reason())
                .unwrap_or("unexpected answer")
                .to_ascii_lowercase()
        });
        if status == 401 || status == 403 {
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
        Failure::status(status, message)
    }

    fn credentials(&self) -> Result<Option<Credentials>, Failure> {
        {
            let state = self.auth.lock().unwrap_or_else(PoisonError::into_inner);
            if state.looked_up {
                return Ok(state.credentials.clone());
            }
        }
        let found = auth::lookup(&self.options.credentials, &self.registry, &self.repository)
            .map_err(|e| Failure {
                status: None,
                message: e.to_string(),
                transient: false,
            })?;
        let mut state = self.auth.lock().unwrap_or_else(PoisonError::into_inner);
        state.looked_up = true;
        state.credentials.clone_from(&found);
        Ok(found)
    }

    fn scopes(&self, scope: &Scope) -> Vec<String> {
        let repo = &self.repository;
        match scope {
            Scope::Pull => vec![format!("repository:{repo}:pull")],
            Scope::Push => vec![format!("repository:{repo}:pull,push")],
            Scope::Mount(from) => vec![
                format!("repository:{repo}:pull,push"),
                format!("repository:{from}:pull"),
            ],
        }
    }

    /// The `Authorization` header for a request needing `scope`, once a challenge is known.
    fn authorization(&self, scope: &Scope) -> Result<Option<String>, Failure> {
        let scopes = self.scopes(scope);
        let key = scopes.join(" ");
        let challenge = {
            let state = self.auth.lock().unwrap_or_else(PoisonError::into_inner);
            let Some(challenge) = state.challenge.clone() else {
                return Ok(None);
            };
            if let Some(token) = state.tokens.get(&key) {
                return Ok(Some(format!("Bearer {token}")));
            }
            challenge
        };
        match challenge.scheme.as_str() {
            "basic" => Ok(self.credentials()?.and_then(|c| c.basic_header())),
            "bearer" => {
                let token = self.fetch_token(&challenge, &scopes)?;
                let header = format!("Bearer {token}");
                self.auth
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .tokens
                    .insert(key, token);
                Ok(Some(header))
            }
            other => Err(Failure {
                status: Some(401),
                message: format!(
                    "the registry asks for {other:?} authentication, which slipway does not speak"
                ),
                transient: false,
            }),
        }
    }

    fn fetch_token(
        &self,
        challenge: &auth::Challenge,
        scopes: &[String],
    ) -> Result<String, Failure> {
        #[derive(Deserialize)]
        struct TokenAnswer {
            #[serde(default)]
            token: Option<String>,
            #[serde(default)]
            access_token: Option<String>,
        }
        let Some(realm) = challenge.params.get("realm").filter(|r| !r.is_empty()) else {
            return Err(Failure {
                status: Some(401),
                message: "the registry's Bearer challenge names no realm".to_owned(),
                transient: false,
            });
        };
        let service = challenge.params.get("service").cloned().unwrap_or_default();
        let credentials = self.credentials()?;
        let result = if let Some(Credentials::IdentityToken(refresh)) = &credentials {
            let mut form = vec![
                ("grant_type", "refresh_token".to_owned()),
                ("refresh_token", refresh.clone()),
                ("client_id", "slipway".to_owned()),
                ("service", service.clone()),
            ];
            if !scopes.is_empty() {
                form.push(("scope", scopes.join(" ")));
            }
            self.agent
                .post(realm.as_str())
                .send_form(form.iter().map(|(k, v)| (*k, v.as_str())))
        } else {
            let mut request = self.agent.get(realm.as_str());
            if !service.is_empty() {
                request = request.query("service", &service);
            }
            for scope in scopes {
                request = request.query("scope", scope);
            }
            if let Some(basic) = credentials.as_ref().and_then(Credentials::basic_header) {
                request = request.header("authorization", basic);
            }
            request.call()
        };
        let mut resp = result.map_err(|e| {
            let mut f = transport_failure(&e);
            f.message = format!("fetching a token from {realm}: {}", f.message);
            f
        })?;
        let status = resp.status().as_u16();
        if status != 200 {
            let mut f = self.status_failure(status, resp);
            f.message = format!("the token service at {realm} said: {}", f.message);
            return Err(f);
        }
        let answer: TokenAnswer = resp
            .body_mut()
            .with_config()
            .limit(ERROR_BODY_LIMIT)
            .read_to_vec()
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .ok_or_else(|| Failure {
                status: Some(200),
                message: format!("the token service at {realm} did not answer a token"),
                transient: false,
            })?;
        answer
            .token
            .or(answer.access_token)
            .filter(|t| !t.is_empty())
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

    /// Sends a request: authenticates on a `401` challenge (once), retries idempotent requests on
    /// transient failures. Other statuses are returned for the caller to judge.
    fn send(&self, call: &Call<'_>) -> Result<Response<Body>, Failure> {
        let mut attempt = 0;
        let mut challenged = false;
        loop {
            let authorization = self.authorization(&call.scope)?;
            match self.send_once(call, authorization.as_deref()) {
                Ok(resp) if resp.status().as_u16() == 401 && !challenged => {
                    challenged = true;
                    let challenge = resp
                        .headers()
                        .get_all("www-authenticate")
                        .iter()
                        .filter_map(|v| v.to_str().ok())
                        .filter_map(auth::parse_challenge)
                        .max_by_key(|c| c.scheme == "bearer");
                    let Some(challenge) = challenge else {
                        return Err(self.status_failure(401, resp));
                    };
                    let mut state = self.auth.lock().unwrap_or_else(PoisonError::into_inner);
                    state.tokens.clear();
                    state.challenge = Some(challenge);
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
                Err(e) => {
                    let failure = transport_failure(&e);
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

    fn send_once(
        &self,
        call: &Call<'_>,
        authorization: Option<&str>,
    ) -> Result<Response<Body>, ureq::Error> {
        let mut builder = http::Request::builder()
            .method(call.method.clone())
            .uri(&call.url);
        for (name, value) in &call.headers {
            builder = builder.header(*name, value);
        }
        if let Some(a) = authorization {
            builder = builder.header("authorization", a);
        }
        match call.payload {
            Payload::Empty => {
                if matches!(call.method, Method::POST | Method::PUT | Method::PATCH)
                    && !call.headers.iter().any(|(n, _)| *n == "content-length")
                {
                    builder = builder.header("content-length", "0");
                }
                self.agent.run(builder.body(())?)
            }
            Payload::Bytes(bytes) => self.agent.run(builder.body(bytes)?),
            Payload::File { file, offset, len } => {
                let mut reader = file.try_clone()?;
                reader.seek(SeekFrom::Start(offset))?;
                let mut limited = reader.take(len);
                let request = builder
                    .header("content-length", len.to_string())
                    .body(SendBody::from_reader(&mut limited))?;
                self.agent.run(request)
            }
        }
    }
}

fn transport_failure(e: &ureq::Error) -> Failure {
    let transient = matches!(
        e,
        ureq::Error::Io(_)
            | ureq::Error::Timeout(_)
            | ureq::Error::ConnectionFailed
            | ureq::Error::Protocol(_)
    );
    Failure {
        status: None,
        message: e.to_string(),
        transient,
    }
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
/// `mediaType`, else an OCI image manifest.
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

impl BlobStore for RegistryStore {
    type Error = Error;

    fn blob_size(&self, digest: &Digest) -> Result<Option<u64>> {
        let c = &self.client;
        let call = Call::new(Method::HEAD, c.url(&format!("blobs/{digest}")), Scope::Pull);
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
            status => Err(c.error(
                "checking blob",
                digest.as_str(),
                c.status_failure(status, resp),
            )),
        }
    }

    fn open_blob(&self, digest: &Digest) -> Result<Option<BlobReader<'_>>> {
        let c = &self.client;
        let call = Call::new(Method::GET, c.url(&format!("blobs/{digest}")), Scope::Pull);
        let resp = c
            .send(&call)
            .map_err(|f| c.error("fetching blob", digest.as_str(), f))?;
        match resp.status().as_u16() {
            200 => {
                let reader = VerifyingReader {
                    inner: resp.into_body().into_reader(),
                    digester: Some(Digester::new(digest.algorithm())),
                    expected: digest.clone(),
                    origin: self.to_string(),
                };
                Ok(Some(Box::new(reader)))
            }
            404 => Ok(None),
            status => Err(c.error(
                "fetching blob",
                digest.as_str(),
                c.status_failure(status, resp),
            )),
        }
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

    fn get_manifest(&self, target: &ManifestRef) -> Result<Option<RawManifest>> {
        let c = &self.client;
        let name = match target {
            ManifestRef::Tag(t) => t.to_string(),
            ManifestRef::Digest(d) => d.to_string(),
        };
        let call = Call::new(
            Method::GET,
            c.url(&format!("manifests/{name}")),
            Scope::Pull,
        )
        .header("accept", MANIFEST_ACCEPT);
        let mut resp = c
            .send(&call)
            .map_err(|f| c.error("fetching manifest", &name, f))?;
        match resp.status().as_u16() {
            200 => {}
            404 => return Ok(None),
            status => {
                return Err(c.error("fetching manifest", &name, c.status_failure(status, resp)));
            }
        }
        let content_type = header(resp.headers(), "content-type");
        let said = header(resp.headers(), "docker-content-digest");
        let bytes = resp
            .body_mut()
            .with_config()
            .limit(MANIFEST_LIMIT)
            .read_to_vec()
            .map_err(|e| c.error("fetching manifest", &name, transport_failure(&e)))?;
        let expected = match target {
            ManifestRef::Digest(d) => Some(d.clone()),
            ManifestRef::Tag(_) => said.and_then(|s| Digest::parse(&s).ok()),
        };
        if let Some(expected) = expected {
            let actual = Digest::of(expected.algorithm(), &bytes);
            if actual != expected {
                return Err(Error::DigestMismatch {
                    expected,
                    actual,
                    location: None,
                });
            }
        }
        let media_type = manifest_media_type(content_type.as_deref(), &bytes);
        Ok(Some(RawManifest::new(&media_type, bytes)))
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
        let headers = self.put_manifest_bytes(manifest, tag)?;
        let subject = match manifest.decode() {
            Ok(Manifest::Image(m)) => m.subject,
            Ok(Manifest::Index(i)) => i.subject,
            Err(_) => None,
        };
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
        let mut url = c.url("tags/list?n=1000");
        let mut tags = Vec::new();
        // Bounded: a registry whose `Link` never ends cannot keep us here.
        for _ in 0..10_000 {
            let mut resp = c
                .send(&Call::new(Method::GET, url.clone(), Scope::Pull))
                .map_err(|f| c.error("listing tags", "", f))?;
            match resp.status().as_u16() {
                200 => {}
                404 => break,
                status => {
                    return Err(c.error("listing tags", "", c.status_failure(status, resp)));
                }
            }
            let next = header(resp.headers(), "link").and_then(|l| {
                let start = l.find('<')? + 1;
                let end = l[start..].find('>')? + start;
                Some(c.resolve(&l[start..end]))
            });
            let bytes = resp
                .body_mut()
                .with_config()
                .limit(MANIFEST_LIMIT)
                .read_to_vec()
                .map_err(|e| c.error("listing tags", "", transport_failure(&e)))?;
            let list: TagList = serde_json::from_slice(&bytes).map_err(|e| {
                c.error(
                    "listing tags",
                    "",
                    Failure {
                        status: Some(200),
                        message: format!("the tag list is not JSON: {e}"),
                        transient: false,
                    },
                )
            })?;
            tags.extend(
                list.tags
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|t| Tag::new(t).ok()),
            );
            match next {
                Some(n) => url = n,
                None => break,
            }
        }
        tags.sort();
        tags.dedup();
        Ok(tags)
    }
}

impl Referrers for RegistryStore {
    type Error = Error;

    fn referrers(&self, subject: &Digest, artifact_type: Option<&str>) -> Result<Vec<Descriptor>> {
        let listed = match self.referrers_from_api(subject, artifact_type)? {
            Some(listed) => listed,
            None => match self.get_manifest(&ManifestRef::Tag(fallback_tag(subject)?))? {
                Some(raw) => {
                    decode_index(raw.bytes())
                        .map_err(|reason| {
                            self.client.error(
                                "listing referrers of",
                                subject.as_str(),
                                Failure {
                                    status: Some(200),
                                    message: reason,
                                    transient: false,
                                },
                            )
                        })?
                        .manifests
                }
                None => Vec::new(),
            },
        };
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
                        let head = String::from_utf8_lossy(&head).into_owned();
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
                let realm = realm_addr.lock().unwrap().clone();
                let challenge = format!(r#"Bearer realm="http://{realm}/token",service="fake""#);
                return (
                    401,
                    vec![("www-authenticate".into(), challenge)],
                    Vec::new(),
                );
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
    fn fallback_tags_follow_the_schema() {
        let d = Digest::sha256(b"x");
        assert_eq!(
            fallback_tag(&d).unwrap().as_str(),
            format!("sha256-{}", d.encoded())
        );
    }
}
