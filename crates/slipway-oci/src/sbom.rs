//! SPDX 2.3 SBOMs of the Go modules in the binaries of an image or multi-platform index, attached to it as
//! an OCI referrer (feature `sbom`).
//!
//! The document is made from the build information Go embeds in every module-aware binary (read with
//! [`slipway_gomod::buildinfo`]): the main module, which the document `DESCRIBES`, and every dependency
//! it `DEPENDS_ON`, each with its version, a `pkg:golang/PATH@VERSION` package URL, and — when the
//! binary records one — the module's `h1:` hash as a SHA-256 checksum (the `h1:` value is base64 of a
//! SHA-256; ko's SBOMs carry it the same way). A module replaced by another module is listed as the
//! replacement (that is the code linked in); one replaced by a directory has no version, URL or checksum.
//!
//! Reproducible like the image: `created` is the image's creation time (`SOURCE_DATE_EPOCH`), the
//! `documentNamespace` is derived from the digest of the image or index the SBOM describes, and the JSON is
//! written in a fixed field order.
//!
//! [`attach`] stores the document as an OCI artifact: an image manifest with `artifactType`
//! `application/spdx+json`, the empty config (`application/vnd.oci.empty.v1+json`, `{}`), one layer
//! holding the document, and `subject` = the image manifest or index. A registry store lists it through the
//! referrers API (or its tag fallback); an [`OciLayout`](crate::store::OciLayout) lists it untagged in
//! index.json with its `artifactType`, as ORAS does for referrers in layouts.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use base64::Engine as _;
use serde::Serialize;
use slipway_gomod::buildinfo::{BuildInfo, Module};

use crate::digest::Digest;
use crate::image::rfc3339;
use crate::manifest::{Descriptor, Flavor, ImageManifest, RawManifest, annotation, media_type};
use crate::store::{self, BlobStore, BlobStoreExt, ManifestStore};

/// The SPDX JSON media type, used as the artifact type and the layer's media type.
pub const SPDX_JSON: &str = "application/spdx+json";

/// The annotation giving a layer's file name (`oras pull` writes the layer under it).
const TITLE: &str = "org.opencontainers.image.title";

// Field names are SPDX's JSON names.
#[allow(clippy::struct_field_names)]
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Document<'a> {
    spdx_version: &'static str,
    data_license: &'static str,
    #[serde(rename = "SPDXID")]
    spdx_id: &'static str,
    name: &'a str,
    document_namespace: String,
    creation_info: CreationInfo,
    packages: Vec<Package>,
    relationships: Vec<Relationship>,
}

#[derive(Serialize)]
struct CreationInfo {
    created: String,
    creators: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Package {
    name: String,
    #[serde(rename = "SPDXID")]
    spdx_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    version_info: Option<String>,
    download_location: &'static str,
    files_analyzed: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    checksums: Vec<Checksum>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    external_refs: Vec<ExternalRef>,
    primary_package_purpose: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    comment: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Checksum {
    algorithm: &'static str,
    checksum_value: String,
}

#[allow(clippy::struct_field_names)]
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ExternalRef {
    reference_category: &'static str,
    reference_type: &'static str,
    reference_locator: String,
}

#[allow(clippy::struct_field_names)]
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Relationship {
    spdx_element_id: String,
    relationship_type: &'static str,
    related_spdx_element: String,
}

/// Percent-encodes everything but purl's unreserved characters (and `/` in paths).
fn purl_escape(text: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric()
            || matches!(b, b'.' | b'-' | b'_' | b'~')
            || (keep_slash && b == b'/')
        {
            out.push(char::from(b));
        } else {
            // Writing to a String cannot fail.
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// `pkg:golang/PATH@VERSION` (the version left out when there is none).
pub fn purl(path: &str, version: &str) -> String {
    let mut purl = format!("pkg:golang/{}", purl_escape(path, true));
    if !version.is_empty() && version != "(devel)" {
        purl.push('@');
        purl.push_str(&purl_escape(version, false));
    }
    purl
}

/// The hex SHA-256 inside an `h1:` hash, or `None` when it is not one.
fn h1_to_sha256(sum: &str) -> Option<String> {
    let encoded = sum.strip_prefix("h1:")?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()?;
    (bytes.len() == 32).then(|| hex::encode(bytes))
}

/// An SPDX identifier: `SPDXRef-` followed by letters, digits, `.` and `-` only.
fn spdx_id(n: usize, path: &str) -> String {
    let cleaned: String = path
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("SPDXRef-Package-{n}-{cleaned}")
}

fn package(n: usize, module: &Module, purpose: &'static str) -> Package {
    // What is linked in: the replacement when there is one.
    let (effective, comment) = match module.replace.as_deref() {
        Some(r) if r.version.is_empty() => {
            (None, Some(format!("replaced by the directory {}", r.path)))
        }
        Some(r) => (
            Some(r),
            Some(format!("replaces {}@{}", module.path, module.version)),
        ),
        None => (Some(module), None),
    };
    let name = effective.map_or(&module.path, |m| &m.path).clone();
    let version = effective
        .map(|m| m.version.clone())
        .filter(|v| !v.is_empty());
    let checksums = effective
        .and_then(|m| h1_to_sha256(&m.sum))
        .map(|value| Checksum {
            algorithm: "SHA256",
            checksum_value: value,
        })
        .into_iter()
        .collect();
    let external_refs = effective
        .map(|m| ExternalRef {
            reference_category: "PACKAGE-MANAGER",
            reference_type: "purl",
            reference_locator: purl(&m.path, &m.version),
        })
        .into_iter()
        .collect();
    Package {
        spdx_id: spdx_id(n, &name),
        name,
        version_info: version,
        download_location: "NOASSERTION",
        files_analyzed: false,
        checksums,
        external_refs,
        primary_package_purpose: purpose,
        comment,
    }
}

/// The SPDX 2.3 JSON document for the build information of the binaries in one image or one multi-platform
/// index (the same main package built per platform). The first binary's main module is the package the
/// document `DESCRIBES`; the dependencies are the union over all binaries (a platform may link a module the
/// others do not), each listed once, in first-seen order. `subject` is the digest of the image or index the
/// document describes (it makes the namespace unique and stable); `created` is seconds since the epoch.
/// An empty `infos` gives a document describing an `unknown` package.
pub fn spdx_document(infos: &[&BuildInfo], subject: &Digest, created: u64) -> Vec<u8> {
    let unknown = BuildInfo::default();
    let first = infos.first().copied().unwrap_or(&unknown);
    let name = if first.path.is_empty() {
        "unknown"
    } else {
        first.path.as_str()
    };
    let mut packages = vec![package(0, &first.main, "APPLICATION")];
    let mut seen = std::collections::BTreeSet::new();
    for dep in infos.iter().flat_map(|info| &info.deps) {
        let key = (
            dep.path.as_str(),
            dep.version.as_str(),
            dep.replace
                .as_deref()
                .map(|r| (r.path.as_str(), r.version.as_str())),
        );
        if seen.insert(key) {
            packages.push(package(packages.len(), dep, "LIBRARY"));
        }
    }
    let main_id = packages[0].spdx_id.clone();
    let mut relationships = vec![Relationship {
        spdx_element_id: "SPDXRef-DOCUMENT".to_owned(),
        relationship_type: "DESCRIBES",
        related_spdx_element: main_id.clone(),
    }];
    relationships.extend(packages[1..].iter().map(|p| Relationship {
        spdx_element_id: main_id.clone(),
        relationship_type: "DEPENDS_ON",
        related_spdx_element: p.spdx_id.clone(),
    }));
    let mut creators = vec![format!("Tool: slipway-{}", env!("CARGO_PKG_VERSION"))];
    if !first.go_version.is_empty() {
        creators.push(format!("Tool: {}", first.go_version));
    }
    let document = Document {
        spdx_version: "SPDX-2.3",
        data_license: "CC0-1.0",
        spdx_id: "SPDXRef-DOCUMENT",
        name,
        document_namespace: format!(
            "https://spdx.org/spdxdocs/slipway/{}-{}",
            purl_escape(name, true),
            subject.encoded()
        ),
        creation_info: CreationInfo {
            created: rfc3339(created),
            creators,
        },
        packages,
        relationships,
    };
    crate::manifest::encode_json(&document)
}

/// The OCI artifact manifest carrying an SPDX document `sbom` (already stored as `sbom_blob`) for
/// `subject`.
fn artifact_manifest(sbom_blob: Descriptor, subject: &Descriptor, created: u64) -> RawManifest {
    let empty = Descriptor::of_bytes(media_type::OCI_EMPTY, b"{}");
    let mut manifest = ImageManifest::new(Flavor::Oci, empty, vec![sbom_blob]);
    manifest.artifact_type = Some(SPDX_JSON.to_owned());
    // The subject names the manifest only: platform and annotations belong to index entries.
    manifest.subject = Some(Descriptor::new(
        &subject.media_type,
        subject.digest.clone(),
        subject.size,
    ));
    manifest
        .annotations
        .insert(annotation::CREATED.to_owned(), rfc3339(created));
    RawManifest::encode_image(&manifest)
}

/// Writes the SBOM of the binaries `infos` for `subject` (an image, or the index over one image per binary;
/// already in `store`) as a referrer: the empty config, the document, then the artifact manifest. Returns
/// the artifact manifest.
///
/// # Errors
/// A store error when a blob or the manifest cannot be written.
pub fn attach<S>(
    store: &S,
    infos: &[&BuildInfo],
    subject: &Descriptor,
    created: u64,
) -> store::Result<RawManifest>
where
    S: BlobStore + ManifestStore + ?Sized,
{
    let document = spdx_document(infos, &subject.digest, created);
    store.put_blob_bytes(media_type::OCI_EMPTY, b"{}")?;
    let mut blob = store.put_blob_bytes(SPDX_JSON, &document)?;
    blob.annotations = BTreeMap::from([(TITLE.to_owned(), "sbom.spdx.json".to_owned())]);
    let manifest = artifact_manifest(blob, subject, created);
    store
        .put_manifest(&manifest, None)
        .map_err(store::Error::from_backend)?;
    Ok(manifest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info() -> BuildInfo {
        BuildInfo::parse(concat!(
            "path\texample.com/app/cmd/app\n",
            "mod\texample.com/app\t(devel)\t\n",
            "dep\tgolang.org/x/text\tv0.14.0\th1:ScX5w1eTa3QqT8oi6+ziP7dTV1S2+ALU0bI+0zXKWiQ=\n",
            "dep\tgithub.com/old/thing\tv1.0.0+incompatible\th1:ScX5w1eTa3QqT8oi6+ziP7dTV1S2+ALU0bI+0zXKWiQ=\n",
            "=>\tgithub.com/new/thing\tv1.2.0\th1:ScX5w1eTa3QqT8oi6+ziP7dTV1S2+ALU0bI+0zXKWiQ=\n",
            "dep\texample.com/local\tv0.0.0\t\n",
            "=>\t../local\t\t\n",
        ))
        .unwrap()
    }

    #[test]
    fn purls_escape_what_purl_reserves() {
        assert_eq!(
            purl("github.com/a/b", "v1.0.0+incompatible"),
            "pkg:golang/github.com/a/b@v1.0.0%2Bincompatible"
        );
        assert_eq!(
            purl("example.com/app", "(devel)"),
            "pkg:golang/example.com/app"
        );
    }

    #[test]
    fn documents_hold_the_required_spdx_fields_and_are_reproducible() {
        let subject = Digest::sha256(b"image");
        let bytes = spdx_document(&[&info()], &subject, 1_700_000_000);
        assert_eq!(bytes, spdx_document(&[&info()], &subject, 1_700_000_000));
        let doc: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(doc["spdxVersion"], "SPDX-2.3");
        assert_eq!(doc["dataLicense"], "CC0-1.0");
        assert_eq!(doc["SPDXID"], "SPDXRef-DOCUMENT");
        assert_eq!(doc["creationInfo"]["created"], "2023-11-14T22:13:20Z");
        assert!(
            doc["documentNamespace"]
                .as_str()
                .unwrap()
                .ends_with(subject.encoded())
        );
        let packages = doc["packages"].as_array().unwrap();
        assert_eq!(packages.len(), 4);
        assert_eq!(packages[0]["name"], "example.com/app");
        assert_eq!(packages[1]["versionInfo"], "v0.14.0");
        assert_eq!(
            packages[1]["externalRefs"][0]["referenceLocator"],
            "pkg:golang/golang.org/x/text@v0.14.0"
        );
        assert_eq!(
            packages[1]["checksums"][0]["checksumValue"],
            "49c5f9c357936b742a4fca22ebece23fb7535754b6f802d4d1b23ed335ca5a24"
        );
        assert_eq!(packages[2]["name"], "github.com/new/thing");
        assert!(packages[3].get("versionInfo").is_none());
        for p in packages {
            assert_eq!(p["downloadLocation"], "NOASSERTION");
            let id = p["SPDXID"].as_str().unwrap();
            assert!(
                id.strip_prefix("SPDXRef-")
                    .unwrap()
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-'),
                "{id}"
            );
        }
        let relationships = doc["relationships"].as_array().unwrap();
        assert_eq!(relationships[0]["relationshipType"], "DESCRIBES");
        assert_eq!(relationships.len(), 4);
        assert!(
            relationships[1..]
                .iter()
                .all(|r| r["relationshipType"] == "DEPENDS_ON")
        );
    }

    #[test]
    fn the_artifact_refers_to_its_image() {
        let store = crate::store::MemoryStore::new();
        let image = crate::image::ImageBuilder::new(crate::Platform::parse("linux/amd64").unwrap())
            .write_to(&store)
            .unwrap();
        let artifact = attach(&store, &[&info()], &image.descriptor(), 0).unwrap();
        let crate::manifest::Manifest::Image(m) = artifact.decode().unwrap() else {
            panic!("image manifest expected")
        };
        assert_eq!(m.artifact_type.as_deref(), Some(SPDX_JSON));
        assert_eq!(m.config.media_type, media_type::OCI_EMPTY);
        assert_eq!(m.config.size, 2);
        assert_eq!(m.layers[0].media_type, SPDX_JSON);
        let subject = m.subject.unwrap();
        assert_eq!(&subject.digest, image.manifest().digest());
        assert!(subject.platform.is_none());
        assert!(store.has_blob(&m.layers[0].digest).unwrap());
    }
}
