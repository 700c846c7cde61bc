//! Media types, descriptors, image manifests, indexes and image configs, for both the OCI and the Docker
//! schema 2 flavours.
//!
//! These are slipway's own serde structs rather than `oci-spec`'s: one struct serves both flavours (Docker
//! schema 2 and OCI share their shape and differ in media types), platform strings stay exactly as written
//! (oci-spec maps architectures into an enum), and fields this crate does not model are kept in `extra` so
//! that editing an index written by another tool does not drop them. Field order follows the Go structs of
//! the image spec, so what we write reads like what Go tools write.
//!
//! A manifest is encoded once into [`RawManifest`], whose bytes are digested once and never re-serialised:
//! the digest always names exactly the bytes stored.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::digest::Digest;
use crate::platform::Platform;

/// Media type strings.
pub mod media_type {
    /// OCI image manifest.
    pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
    /// OCI image index.
    pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
    /// OCI image config.
    pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
    /// OCI uncompressed layer.
    pub const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar";
    /// OCI gzip layer.
    pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
    /// OCI zstd layer.
    pub const OCI_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
    /// The OCI empty descriptor (`{}`), used as the config of artifacts.
    pub const OCI_EMPTY: &str = "application/vnd.oci.empty.v1+json";
    /// Docker schema 2 manifest.
    pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
    /// Docker manifest list.
    pub const DOCKER_MANIFEST_LIST: &str =
        "application/vnd.docker.distribution.manifest.list.v2+json";
    /// Docker image config.
    pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
    /// Docker gzip layer.
    pub const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
    /// Docker foreign (non-distributable) layer.
    pub const DOCKER_FOREIGN_LAYER: &str =
        "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";
    /// Docker schema 1 (signed) manifest: recognised only to be refused.
    pub const DOCKER_SCHEMA1_SIGNED: &str =
        "application/vnd.docker.distribution.manifest.v1+prettyjws";
    /// Docker schema 1 manifest: recognised only to be refused.
    pub const DOCKER_SCHEMA1: &str = "application/vnd.docker.distribution.manifest.v1+json";
}

/// Annotation keys this crate reads or writes.
pub mod annotation {
    /// The tag of a manifest in a layout's index.json.
    pub const REF_NAME: &str = "org.opencontainers.image.ref.name";
    /// buildx marks attestation manifests with this (`attestation-manifest`).
    pub const DOCKER_REFERENCE_TYPE: &str = "vnd.docker.reference.type";
    /// buildx names the image an attestation manifest describes with this.
    pub const DOCKER_REFERENCE_DIGEST: &str = "vnd.docker.reference.digest";
    /// The value of [`DOCKER_REFERENCE_TYPE`] on attestation manifests.
    pub const ATTESTATION_MANIFEST: &str = "attestation-manifest";
    /// Creation time (RFC 3339).
    pub const CREATED: &str = "org.opencontainers.image.created";
}

/// Why a manifest, index or config could not be decoded or is inconsistent.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The bytes are not the JSON document expected.
    #[error(
        "{what} is not valid JSON at line {line}, column {column}: {}",
        crate::quote::excerpt(message)
    )]
    Json {
        /// What was being decoded (`image manifest`, `image index`, …).
        what: &'static str,
        /// 1-based line of the fault.
        line: usize,
        /// 1-based column of the fault.
        column: usize,
        /// The JSON parser's description.
        message: String,
    },
    /// `schemaVersion` is not 2.
    #[error("{what} has schemaVersion {found}; only 2 is supported")]
    SchemaVersion {
        /// What was being decoded.
        what: &'static str,
        /// The version found (0 when missing).
        found: u64,
    },
    /// The media type is not a manifest or index this crate reads.
    #[error("unsupported manifest media type {}", crate::quote::quoted(media_type))]
    UnsupportedMediaType {
        /// The media type.
        media_type: String,
    },
    /// Neither a media type nor the fields say whether this is a manifest or an index.
    #[error(
        "cannot tell whether the document is an image manifest or an index (no mediaType, no manifests/layers)"
    )]
    Ambiguous,
    /// A child descriptor's media type does not belong in its parent's flavour.
    #[error(
        "{parent} ({parent_media_type}) cannot hold {child} entry {position} ({digest}) of media type {}",
        crate::quote::quoted(child_media_type)
    )]
    ChildMediaType {
        /// `index` or `manifest`.
        parent: &'static str,
        /// The parent's media type.
        parent_media_type: String,
        /// `manifest`, `config` or `layer`.
        child: &'static str,
        /// 0-based position of the child.
        position: usize,
        /// The child's digest.
        digest: Digest,
        /// The child's media type.
        child_media_type: String,
    },
    /// A Docker manifest or list carries a field only OCI defines.
    #[error("{media_type} cannot carry {field}; use the OCI media types for it")]
    OciOnlyField {
        /// The Docker media type.
        media_type: String,
        /// The field (`annotations`, `subject`, `artifactType`).
        field: &'static str,
    },
}

/// `Result` with this module's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

fn json_error(what: &'static str, e: &serde_json::Error) -> Error {
    Error::Json {
        what,
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    }
}

/// The two manifest flavours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Flavor {
    /// OCI image spec media types.
    Oci,
    /// Docker schema 2 media types.
    Docker,
}

impl Flavor {
    /// The image manifest media type of this flavour.
    pub fn manifest_media_type(self) -> &'static str {
        match self {
            Flavor::Oci => media_type::OCI_MANIFEST,
            Flavor::Docker => media_type::DOCKER_MANIFEST,
        }
    }

    /// The index (manifest list) media type of this flavour.
    pub fn index_media_type(self) -> &'static str {
        match self {
            Flavor::Oci => media_type::OCI_INDEX,
            Flavor::Docker => media_type::DOCKER_MANIFEST_LIST,
        }
    }

    /// The config media type of this flavour.
    pub fn config_media_type(self) -> &'static str {
        match self {
            Flavor::Oci => media_type::OCI_CONFIG,
            Flavor::Docker => media_type::DOCKER_CONFIG,
        }
    }

    /// The gzip layer media type of this flavour.
    pub fn gzip_layer_media_type(self) -> &'static str {
        match self {
            Flavor::Oci => media_type::OCI_LAYER_GZIP,
            Flavor::Docker => media_type::DOCKER_LAYER_GZIP,
        }
    }

    /// The flavour of a manifest or index media type.
    pub fn of(media_type: &str) -> Option<Flavor> {
        match media_type {
            media_type::OCI_MANIFEST | media_type::OCI_INDEX => Some(Flavor::Oci),
            media_type::DOCKER_MANIFEST | media_type::DOCKER_MANIFEST_LIST => Some(Flavor::Docker),
            _ => None,
        }
    }
}

/// Whether `media_type` is an index or manifest list.
pub fn is_index(media_type: &str) -> bool {
    matches!(
        media_type,
        media_type::OCI_INDEX | media_type::DOCKER_MANIFEST_LIST
    )
}

/// Whether `media_type` is an image manifest.
pub fn is_manifest(media_type: &str) -> bool {
    matches!(
        media_type,
        media_type::OCI_MANIFEST | media_type::DOCKER_MANIFEST
    )
}

/// A content descriptor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    /// Media type of the content.
    pub media_type: String,
    /// Digest of the content.
    pub digest: Digest,
    /// Size of the content in bytes.
    pub size: u64,
    /// Alternate download locations.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub urls: Vec<String>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// Platform (index entries).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    /// Artifact type (index entries of artifacts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// Fields not modelled here (e.g. `data`), kept as written.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

impl Descriptor {
    /// A descriptor of `media_type` content with `digest` and `size`.
    pub fn new(media_type: &str, digest: Digest, size: u64) -> Self {
        Descriptor {
            media_type: media_type.to_owned(),
            digest,
            size,
            urls: Vec::new(),
            annotations: BTreeMap::new(),
            platform: None,
            artifact_type: None,
            extra: BTreeMap::new(),
        }
    }

    /// The descriptor of `data`, digested with SHA-256.
    pub fn of_bytes(media_type: &str, data: &[u8]) -> Self {
        Descriptor::new(media_type, Digest::sha256(data), data.len() as u64)
    }

    /// Whether this is a buildx attestation entry (`unknown/unknown` platform or the attestation
    /// annotation).
    pub fn is_attestation(&self) -> bool {
        self.annotations
            .get(annotation::DOCKER_REFERENCE_TYPE)
            .is_some_and(|t| t == annotation::ATTESTATION_MANIFEST)
            || self.platform.as_ref().is_some_and(Platform::is_unknown)
    }

    /// The image an attestation entry describes.
    pub fn attestation_subject(&self) -> Option<&str> {
        self.annotations
            .get(annotation::DOCKER_REFERENCE_DIGEST)
            .map(String::as_str)
    }

    /// The `org.opencontainers.image.ref.name` annotation.
    pub fn ref_name(&self) -> Option<&str> {
        self.annotations
            .get(annotation::REF_NAME)
            .map(String::as_str)
    }
}

/// An image manifest (OCI or Docker schema 2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageManifest {
    /// Always 2.
    pub schema_version: u64,
    /// Media type; required for Docker, recommended for OCI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// Artifact type (OCI artifacts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// The config blob.
    pub config: Descriptor,
    /// The layers, base first.
    #[serde(default)]
    pub layers: Vec<Descriptor>,
    /// The manifest this one refers to (referrers API).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// Fields not modelled here, kept as written.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

impl ImageManifest {
    /// A manifest of `flavor` with a config and layers.
    pub fn new(flavor: Flavor, config: Descriptor, layers: Vec<Descriptor>) -> Self {
        ImageManifest {
            schema_version: 2,
            media_type: Some(flavor.manifest_media_type().to_owned()),
            artifact_type: None,
            config,
            layers,
            subject: None,
            annotations: BTreeMap::new(),
            extra: BTreeMap::new(),
        }
    }

    /// The flavour, from the media type (an OCI manifest may omit it).
    pub fn flavor(&self) -> Flavor {
        match self.media_type.as_deref() {
            Some(media_type::DOCKER_MANIFEST) => Flavor::Docker,
            _ => Flavor::Oci,
        }
    }

    /// Checks that the config and layers carry media types of the manifest's flavour, and that a Docker
    /// manifest carries no OCI-only field.
    pub fn check_consistency(&self) -> Result<()> {
        let parent_media_type = self
            .media_type
            .clone()
            .unwrap_or_else(|| media_type::OCI_MANIFEST.to_owned());
        let mismatch = |child, position, d: &Descriptor| Error::ChildMediaType {
            parent: "manifest",
            parent_media_type: parent_media_type.clone(),
            child,
            position,
            digest: d.digest.clone(),
            child_media_type: d.media_type.clone(),
        };
        match self.flavor() {
            Flavor::Docker => {
                if self.config.media_type != media_type::DOCKER_CONFIG {
                    return Err(mismatch("config", 0, &self.config));
                }
                for (i, l) in self.layers.iter().enumerate() {
                    if !l
                        .media_type
                        .starts_with("application/vnd.docker.image.rootfs.")
                    {
                        return Err(mismatch("layer", i, l));
                    }
                }
                docker_only_check(
                    &parent_media_type,
                    &self.annotations,
                    self.subject.as_ref(),
                    self.artifact_type.as_ref(),
                )
            }
            Flavor::Oci => {
                // Artifacts may use any config type, but a Docker config in an OCI image is the classic mix-up.
                if self.config.media_type == media_type::DOCKER_CONFIG {
                    return Err(mismatch("config", 0, &self.config));
                }
                for (i, l) in self.layers.iter().enumerate() {
                    if l.media_type.starts_with("application/vnd.docker.") {
                        return Err(mismatch("layer", i, l));
                    }
                }
                Ok(())
            }
        }
    }
}

fn docker_only_check(
    media_type: &str,
    annotations: &BTreeMap<String, String>,
    subject: Option<&Descriptor>,
    artifact_type: Option<&String>,
) -> Result<()> {
    let field = if !annotations.is_empty() {
        "annotations"
    } else if subject.is_some() {
        "subject"
    } else if artifact_type.is_some() {
        "artifactType"
    } else {
        return Ok(());
    };
    Err(Error::OciOnlyField {
        media_type: media_type.to_owned(),
        field,
    })
}

/// An image index (OCI) or manifest list (Docker).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageIndex {
    /// Always 2.
    pub schema_version: u64,
    /// Media type; required for Docker, recommended for OCI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// Artifact type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// The entries.
    #[serde(default)]
    pub manifests: Vec<Descriptor>,
    /// The manifest this index refers to (referrers API).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// Fields not modelled here, kept as written.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

impl ImageIndex {
    /// An empty index of `flavor`.
    pub fn new(flavor: Flavor) -> Self {
        ImageIndex {
            schema_version: 2,
            media_type: Some(flavor.index_media_type().to_owned()),
            artifact_type: None,
            manifests: Vec::new(),
            subject: None,
            annotations: BTreeMap::new(),
            extra: BTreeMap::new(),
        }
    }

    /// The flavour, from the media type (an OCI index may omit it).
    pub fn flavor(&self) -> Flavor {
        match self.media_type.as_deref() {
            Some(media_type::DOCKER_MANIFEST_LIST) => Flavor::Docker,
            _ => Flavor::Oci,
        }
    }

    /// Checks that every entry's media type belongs in this index's flavour (OCI indexes hold OCI manifests
    /// and indexes; Docker lists hold Docker manifests), and that a Docker list carries no OCI-only field.
    pub fn check_consistency(&self) -> Result<()> {
        let flavor = self.flavor();
        let parent_media_type = self
            .media_type
            .clone()
            .unwrap_or_else(|| media_type::OCI_INDEX.to_owned());
        for (position, d) in self.manifests.iter().enumerate() {
            let ok = match flavor {
                Flavor::Oci => {
                    matches!(
                        d.media_type.as_str(),
                        media_type::OCI_MANIFEST | media_type::OCI_INDEX
                    )
                }
                Flavor::Docker => d.media_type == media_type::DOCKER_MANIFEST,
            };
            if !ok {
                return Err(Error::ChildMediaType {
                    parent: "index",
                    parent_media_type,
                    child: "manifest",
                    position,
                    digest: d.digest.clone(),
                    child_media_type: d.media_type.clone(),
                });
            }
        }
        if flavor == Flavor::Docker {
            docker_only_check(
                &parent_media_type,
                &self.annotations,
                self.subject.as_ref(),
                self.artifact_type.as_ref(),
            )?;
        }
        Ok(())
    }
}

/// The `config` object of an image config (the runtime defaults). Field names are Docker's, as the spec
/// keeps them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerConfig {
    /// `user[:group]` the process runs as.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// `KEY=value` entries.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<String>,
    /// The program and its leading arguments.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub entrypoint: Vec<String>,
    /// Default arguments.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cmd: Vec<String>,
    /// Working directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    /// Labels.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Fields not modelled here, kept as written.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// `rootfs` of an image config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RootFs {
    /// Always `layers`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Digests of the uncompressed layers, base first.
    pub diff_ids: Vec<Digest>,
}

/// One `history` entry of an image config.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct History {
    /// When the layer was made (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// What made it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// Whether the step produced no layer.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub empty_layer: bool,
}

/// An image config (OCI `application/vnd.oci.image.config.v1+json` or its Docker twin).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageConfig {
    /// Creation time (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// Author.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// CPU architecture.
    #[serde(default)]
    pub architecture: String,
    /// Operating system.
    #[serde(default)]
    pub os: String,
    /// OS version (Windows).
    #[serde(
        rename = "os.version",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub os_version: Option<String>,
    /// OS features (Windows).
    #[serde(rename = "os.features", default, skip_serializing_if = "Vec::is_empty")]
    pub os_features: Vec<String>,
    /// CPU variant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// Runtime defaults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<ContainerConfig>,
    /// Layer diff IDs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rootfs: Option<RootFs>,
    /// Layer history.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<History>,
    /// Fields not modelled here, kept as written.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

impl ImageConfig {
    /// Decodes a config blob.
    pub fn from_slice(bytes: &[u8]) -> Result<Self> {
        serde_json::from_slice(bytes).map_err(|e| json_error("image config", &e))
    }

    /// The platform the config describes, as an index entry states it.
    pub fn platform(&self) -> Platform {
        Platform {
            architecture: self.architecture.clone(),
            os: self.os.clone(),
            os_version: self.os_version.clone().unwrap_or_default(),
            os_features: self.os_features.clone(),
            variant: self.variant.clone().unwrap_or_default(),
        }
    }
}

/// A decoded manifest of either kind.
// Both variants are large and similar in size; boxing one would only add an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Manifest {
    /// An image manifest.
    Image(ImageManifest),
    /// An index or manifest list.
    Index(ImageIndex),
}

impl Manifest {
    /// Decodes manifest bytes. The document's `mediaType` decides; without one, `content_type` (from a
    /// registry or a descriptor) decides; without either, the fields do (`manifests` → index, `config` →
    /// image), as OCI documents may omit the media type.
    pub fn from_slice(bytes: &[u8], content_type: Option<&str>) -> Result<Self> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Probe {
            schema_version: Option<u64>,
            media_type: Option<String>,
            manifests: Option<Value>,
            config: Option<Value>,
        }
        let probe: Probe = serde_json::from_slice(bytes).map_err(|e| json_error("manifest", &e))?;
        let media_type = probe
            .media_type
            .as_deref()
            .or(content_type)
            .map(str::to_owned);
        let index = match media_type.as_deref() {
            Some(media_type::OCI_INDEX | media_type::DOCKER_MANIFEST_LIST) => true,
            Some(media_type::OCI_MANIFEST | media_type::DOCKER_MANIFEST) => false,
            Some(other) if other != "application/json" => {
                return Err(Error::UnsupportedMediaType {
                    media_type: other.to_owned(),
                });
            }
            _ => match (probe.manifests.is_some(), probe.config.is_some()) {
                (true, false) => true,
                (false, true) => false,
                _ => return Err(Error::Ambiguous),
            },
        };
        let what = if index {
            "image index"
        } else {
            "image manifest"
        };
        let version = probe.schema_version.unwrap_or(0);
        if version != 2 {
            return Err(Error::SchemaVersion {
                what,
                found: version,
            });
        }
        if index {
            serde_json::from_slice(bytes)
                .map(Manifest::Index)
                .map_err(|e| json_error(what, &e))
        } else {
            serde_json::from_slice(bytes)
                .map(Manifest::Image)
                .map_err(|e| json_error(what, &e))
        }
    }

    /// The media type to describe this manifest with.
    pub fn media_type(&self) -> &str {
        match self {
            Manifest::Image(m) => m.media_type.as_deref().unwrap_or(media_type::OCI_MANIFEST),
            Manifest::Index(i) => i.media_type.as_deref().unwrap_or(media_type::OCI_INDEX),
        }
    }
}

/// Manifest bytes with their media type and digest, computed once from exactly these bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawManifest {
    media_type: String,
    bytes: Vec<u8>,
    digest: Digest,
}

impl RawManifest {
    /// Wraps bytes read from a store, digesting them.
    pub fn new(media_type: &str, bytes: Vec<u8>) -> Self {
        let digest = Digest::sha256(&bytes);
        RawManifest {
            media_type: media_type.to_owned(),
            bytes,
            digest,
        }
    }

    /// Wraps bytes whose digest is already known and verified by the caller.
    pub(crate) fn from_verified(media_type: String, bytes: Vec<u8>, digest: Digest) -> Self {
        RawManifest {
            media_type,
            bytes,
            digest,
        }
    }

    /// Encodes an image manifest once (compact JSON).
    pub fn encode_image(manifest: &ImageManifest) -> Self {
        let media_type = manifest
            .media_type
            .as_deref()
            .unwrap_or(media_type::OCI_MANIFEST);
        RawManifest::new(media_type, encode_json(manifest))
    }

    /// Encodes an index once (compact JSON).
    pub fn encode_index(index: &ImageIndex) -> Self {
        let media_type = index.media_type.as_deref().unwrap_or(media_type::OCI_INDEX);
        RawManifest::new(media_type, encode_json(index))
    }

    /// The media type.
    pub fn media_type(&self) -> &str {
        &self.media_type
    }

    /// The exact bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The digest of the bytes.
    pub fn digest(&self) -> &Digest {
        &self.digest
    }

    /// A descriptor of these bytes.
    pub fn descriptor(&self) -> Descriptor {
        Descriptor::new(
            &self.media_type,
            self.digest.clone(),
            self.bytes.len() as u64,
        )
    }

    /// Decodes the bytes.
    pub fn decode(&self) -> Result<Manifest> {
        Manifest::from_slice(&self.bytes, Some(&self.media_type))
    }

    /// Gives the bytes back.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
}

/// Compact JSON of a value that is made only of strings, numbers, maps and vectors.
pub(crate) fn encode_json<T: Serialize>(value: &T) -> Vec<u8> {
    // Our manifest types hold only string-keyed maps and plain data, which serde_json always encodes.
    serde_json::to_vec(value).expect("manifest types always encode to JSON")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(n: u8, media_type: &str) -> Descriptor {
        Descriptor::new(media_type, Digest::sha256(&[n]), 1)
    }

    #[test]
    fn decode_dispatches_on_media_type_and_fields() {
        let m = ImageManifest::new(
            Flavor::Oci,
            d(1, media_type::OCI_CONFIG),
            vec![d(2, media_type::OCI_LAYER_GZIP)],
        );
        let raw = RawManifest::encode_image(&m);
        assert_eq!(raw.decode().unwrap(), Manifest::Image(m.clone()));
        // No mediaType in the document: the fields decide.
        let mut bare = m;
        bare.media_type = None;
        let bytes = encode_json(&bare);
        assert!(matches!(
            Manifest::from_slice(&bytes, None).unwrap(),
            Manifest::Image(_)
        ));
        let idx = ImageIndex::new(Flavor::Docker);
        let bytes = encode_json(&idx);
        assert!(matches!(
            Manifest::from_slice(&bytes, None).unwrap(),
            Manifest::Index(_)
        ));
    }

    #[test]
    fn decode_errors_carry_position() {
        let err = Manifest::from_slice(b"{\n  \"schemaVersion\": 2,\n  oops", None).unwrap_err();
        assert!(matches!(err, Error::Json { line: 3, .. }), "{err:?}");
        let err = Manifest::from_slice(
            br#"{"schemaVersion":1,"mediaType":"application/vnd.oci.image.manifest.v1+json"}"#,
            None,
        )
        .unwrap_err();
        assert!(matches!(err, Error::SchemaVersion { found: 1, .. }));
        let err = Manifest::from_slice(
            br#"{"schemaVersion":1,"mediaType":"application/vnd.docker.distribution.manifest.v1+prettyjws"}"#,
            None,
        )
        .unwrap_err();
        assert!(matches!(err, Error::UnsupportedMediaType { .. }));
        assert!(matches!(
            Manifest::from_slice(b"{}", None),
            Err(Error::Ambiguous)
        ));
    }

    #[test]
    fn unknown_fields_survive_a_round_trip() {
        let text = r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855","size":0,"data":"","x-extra":1}],"x-top":true}"#;
        let Manifest::Index(i) = Manifest::from_slice(text.as_bytes(), None).unwrap() else {
            panic!("index expected")
        };
        let back = String::from_utf8(encode_json(&i)).unwrap();
        assert!(back.contains(r#""data":"""#) && back.contains(r#""x-extra":1"#));
        assert!(back.contains(r#""x-top":true"#));
    }

    #[test]
    fn child_media_types_must_match_the_flavour() {
        let mut oci = ImageIndex::new(Flavor::Oci);
        oci.manifests.push(d(1, media_type::OCI_MANIFEST));
        oci.check_consistency().unwrap();
        oci.manifests.push(d(2, media_type::DOCKER_MANIFEST));
        let err = oci.check_consistency().unwrap_err();
        assert!(
            matches!(err, Error::ChildMediaType { position: 1, .. }),
            "{err}"
        );

        let mut docker = ImageIndex::new(Flavor::Docker);
        docker.manifests.push(d(1, media_type::OCI_MANIFEST));
        assert!(docker.check_consistency().is_err());
        docker.manifests[0].media_type = media_type::DOCKER_MANIFEST.to_owned();
        docker.check_consistency().unwrap();
        docker.annotations.insert("a".into(), "b".into());
        assert!(matches!(
            docker.check_consistency(),
            Err(Error::OciOnlyField {
                field: "annotations",
                ..
            })
        ));

        let m = ImageManifest::new(Flavor::Docker, d(1, media_type::OCI_CONFIG), vec![]);
        assert!(m.check_consistency().is_err());
        let m = ImageManifest::new(
            Flavor::Oci,
            d(1, media_type::OCI_CONFIG),
            vec![d(2, media_type::DOCKER_LAYER_GZIP)],
        );
        assert!(matches!(
            m.check_consistency(),
            Err(Error::ChildMediaType { child: "layer", .. })
        ));
    }

    #[test]
    fn raw_manifest_digest_names_its_bytes() {
        let raw = RawManifest::encode_index(&ImageIndex::new(Flavor::Oci));
        assert!(raw.digest().matches(raw.bytes()));
        assert_eq!(raw.descriptor().size, raw.bytes().len() as u64);
    }

    #[test]
    fn config_platform() {
        let c = ImageConfig::from_slice(
            br#"{"architecture":"arm","os":"linux","variant":"v7","rootfs":{"type":"layers","diff_ids":[]}}"#,
        )
        .unwrap();
        assert_eq!(c.platform().to_string(), "linux/arm/v7");
    }
}
