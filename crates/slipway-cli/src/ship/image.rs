//! Tags (slipway-tag), the multi-arch image with its SBOM (slipway-oci) built into the OCI layout
//! `target/ship/image` under the service's root, and the push (the layout's tags, or a copy to `--to`).

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use slipway_oci::Digest;
use slipway_oci::copy::{CopyOptions, copy as copy_image};
use slipway_oci::gobuild::{CA_CERTIFICATES_PATH, GoImageOptions, build_go_images};
use slipway_oci::image::{rfc3339, source_date_epoch};
use slipway_oci::platform::Platform;
use slipway_oci::reference::{ManifestRef, Reference, Tag};
use slipway_oci::store::{ManifestStore as _, ManifestStoreExt as _, OciLayout, OpenOptions, open};
use slipway_tag::{
    Build, CiEnv, Flavor, GitRepo, Options, RefSource as _, RefSourceExt as _, TagRule,
    annotations, compute_tags,
};

use super::Outcome;
use crate::deploy::chain;

/// The tag used when there is no git repository to read tags from.
pub(crate) const FALLBACK_TAG: &str = "dev";

/// What the tags stage computed.
#[derive(Debug, Clone, Default)]
// `tags.tags` reads as what it is: the tags of the tags stage.
#[allow(clippy::struct_field_names)]
pub(crate) struct Tags {
    pub tags: Vec<String>,
    /// The version linked into the binary as `main.version`.
    pub version: String,
    pub annotations: Vec<(String, String)>,
}

/// Tags and annotations from the CI environment or git, with docker/metadata-action's default rules.
pub(crate) fn tags(dir: &Path) -> (Tags, Outcome) {
    let git = match GitRepo::discover(dir) {
        Ok(git) => git,
        Err(e) => {
            let tags = Tags {
                tags: vec![FALLBACK_TAG.to_owned()],
                version: FALLBACK_TAG.to_owned(),
                annotations: Vec::new(),
            };
            return (
                tags,
                Outcome::skipped(&format!(
                    "no git repository ({}); the image is tagged {FALLBACK_TAG}",
                    chain(&e)
                )),
            );
        }
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    let source = CiEnv::from_vars(std::env::vars()).or(git);
    let computed = source
        .build_ref()
        .map_err(|e| chain(&*e))
        .and_then(|r| Build::resolve(r, Options::default().with_now(now)).map_err(|e| chain(&e)))
        .and_then(|build| {
            compute_tags(&build, &TagRule::defaults(), &Flavor::default())
                .map(|t| (build, t))
                .map_err(|e| chain(&e))
        });
    match computed {
        Ok((build, t)) => {
            let mut tags = Tags {
                tags: t.tags.clone(),
                version: t.version.clone().unwrap_or_else(|| FALLBACK_TAG.to_owned()),
                annotations: annotations(&build, &t).into_iter().collect(),
            };
            let mut outcome = Outcome::passed(tags.tags.join(" "));
            if tags.tags.is_empty() {
                tags.tags.push(FALLBACK_TAG.to_owned());
                outcome = Outcome::passed(format!("{FALLBACK_TAG} (no rule produced a tag)"));
            }
            outcome.notes.extend(t.notes.iter().cloned());
            (tags, outcome)
        }
        Err(e) => (Tags::default(), Outcome::failed(e)),
    }
}

/// The image as built.
#[derive(Debug, Clone)]
pub(crate) struct Built {
    pub layout: PathBuf,
    pub digest: Digest,
}

/// Builds `package` for `platforms` into the layout at `layout_dir`, with an SBOM; nothing is tagged
/// yet (the push stage does that).
pub(crate) fn build(
    dir: &Path,
    package: &str,
    platforms: &[String],
    tags: &Tags,
    layout_dir: &Path,
) -> Result<(Built, Outcome), Outcome> {
    let platforms_parsed = platforms
        .iter()
        .map(|p| Platform::parse(p.trim()).map(|p| p.normalize()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Outcome::failed(format!("platforms: {}", chain(&e))))?;
    let created = source_date_epoch()
        .map_err(|e| Outcome::failed(chain(&e)))?
        .unwrap_or(0);
    let mut options = GoImageOptions::new(platforms_parsed)
        .created(created)
        .annotation("org.opencontainers.image.created", &rfc3339(created))
        .ldflag_x("main.version", &tags.version)
        .sbom(true);
    for (key, value) in &tags.annotations {
        options = options.annotation(key, value);
    }
    let bundle = PathBuf::from(CA_CERTIFICATES_PATH);
    if bundle.is_file() {
        options = options.ca_certificates(bundle);
    }
    let layout = OciLayout::create(layout_dir).map_err(|e| Outcome::failed(chain(&e)))?;
    let images =
        build_go_images(dir, package, &options, &layout).map_err(|e| Outcome::failed(chain(&e)))?;
    let digest = images.top().descriptor().digest;
    // Keep the new image reachable from index.json before it has tags: a layout's garbage is what
    // index.json does not name.
    layout
        .put_manifest(images.top(), None)
        .map_err(|e| Outcome::failed(chain(&e)))?;
    let sbom = if images.sbom.is_some() { ", SBOM" } else { "" };
    let figure = format!("{digest} ({}{sbom})", platforms.join(", "));
    Ok((
        Built {
            layout: layout_dir.to_path_buf(),
            digest,
        },
        Outcome::passed(figure),
    ))
}

/// Tags the image in its layout and, with `--to`, copies it (all platforms) there under each tag.
/// Returns the reference deployments use: by digest, so every build is a new rollout.
pub(crate) fn push(
    built: &Built,
    tags: &Tags,
    to: Option<&str>,
) -> Result<(String, Outcome), Outcome> {
    let layout = OciLayout::open(&built.layout).map_err(|e| Outcome::failed(chain(&e)))?;
    let top = ManifestRef::Digest(built.digest.clone());
    let raw = layout
        .require_manifest(&top)
        .map_err(|e| Outcome::failed(chain(&e)))?;
    let parsed_tags = tags
        .tags
        .iter()
        .map(|t| Tag::new(t).map_err(|e| Outcome::failed(format!("tag {t:?}: {}", chain(&e)))))
        .collect::<Result<Vec<_>, _>>()?;
    for tag in &parsed_tags {
        layout
            .put_manifest(&raw, Some(tag))
            .map_err(|e| Outcome::failed(chain(&e)))?;
    }
    let layout_ref = format!("oci:{}", built.layout.display());
    let Some(to) = to else {
        let first = tags.tags.first().map_or(FALLBACK_TAG, String::as_str);
        return Ok((
            format!("{layout_ref}@{}", built.digest),
            Outcome::passed(format!("{layout_ref}:{first}")),
        ));
    };
    let reference =
        Reference::parse(to).map_err(|e| Outcome::failed(format!("--to {to}: {}", chain(&e))))?;
    let store = open(&reference, &OpenOptions::new().create(true))
        .map_err(|e| Outcome::failed(format!("--to {to}: {}", chain(&e))))?;
    let mut destination_tags = parsed_tags.clone();
    if let Some(ManifestRef::Tag(t)) = match &reference {
        Reference::Layout(l) => l.target.clone(),
        Reference::Registry(r) => r.tag.clone().map(ManifestRef::Tag),
    } {
        destination_tags.insert(0, t);
    }
    for tag in &destination_tags {
        copy_image(
            &layout,
            &top,
            &store,
            Some(tag),
            &CopyOptions::default().all(true),
        )
        .map_err(|e| Outcome::failed(format!("pushing to {to}: {}", chain(&e))))?;
    }
    let base = match &reference {
        Reference::Layout(l) => format!("oci:{}", l.path.display()),
        Reference::Registry(r) => format!("{}/{}", r.registry, r.repository),
    };
    let first = destination_tags
        .first()
        .map_or(FALLBACK_TAG.to_owned(), ToString::to_string);
    Ok((
        format!("{base}@{}", built.digest),
        Outcome::passed(format!("{base}:{first}")),
    ))
}
