//! Argo CD Image Updater's write-back file, `.argocd-source-APP.yaml`: `kustomize.images` (image arguments in
//! `kustomize edit set image`'s syntax) or `helm.parameters` (`image.name`, `image.tag`, `forcestring: true`),
//! laid out as the image updater writes it (two-space indent, compact sequences).

use crate::edit::{self, shape};
use crate::error::{Error, Result};
use crate::image::{self, ImageSpec, PRESERVE};
use crate::yaml::{self, Node};

/// Which kind of Argo CD source the write-back file overrides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SourceKind {
    /// `kustomize.images`.
    Kustomize,
    /// `helm.parameters`.
    Helm,
}

/// The file name Argo CD reads for application `app`.
pub fn file_name(app: &str) -> String {
    format!(".argocd-source-{app}.yaml")
}

/// The kind an existing file overrides (`None` for an empty file).
pub fn kind_of(file: &str, text: &str) -> Result<Option<SourceKind>> {
    let (root, _) = edit::root(file, text)?;
    Ok(root.and_then(|r| {
        if r.get("kustomize").is_some() {
            Some(SourceKind::Kustomize)
        } else if r.get("helm").is_some() {
            Some(SourceKind::Helm)
        } else {
            None
        }
    }))
}

/// The helm parameter value for the tag, as the image updater's `GetTagWithDigest` makes it.
fn tag_with_digest(spec: &ImageSpec) -> String {
    match (spec.new_tag.as_str(), spec.digest.as_str()) {
        (tag, "") => tag.to_owned(),
        ("", digest) => digest.to_owned(),
        (tag, digest) => format!("{tag}@{digest}"),
    }
}

/// Writes the image into the write-back file's text (empty when the file does not exist yet).
pub fn set_image(
    file: &str,
    text: &str,
    spec: &ImageSpec,
    default_kind: SourceKind,
) -> Result<String> {
    if [&spec.new_name, &spec.new_tag, &spec.digest]
        .iter()
        .any(|v| v.as_str() == PRESERVE)
    {
        return Err(Error::Image {
            input: spec.to_string(),
            reason: "`*` applies to kustomizations only",
        });
    }
    match kind_of(file, text)?.unwrap_or(default_kind) {
        SourceKind::Kustomize => set_kustomize(file, text, spec),
        SourceKind::Helm => {
            let text = set_param(file, text, "image.name", spec.target_name())?;
            set_param(file, &text, "image.tag", &tag_with_digest(spec))
        }
    }
}

fn set_kustomize(file: &str, text: &str, spec: &ImageSpec) -> Result<String> {
    let nl = yaml::newline(text);
    let value = spec.to_string();
    let (root, doc_end) = edit::root(file, text)?;
    let item = |indent: usize| {
        format!(
            "{}- {}{nl}",
            " ".repeat(indent),
            yaml::render(&value, yaml::Style::Plain)
        )
    };
    let Some(root) = root else {
        return Ok(edit::append_lines(
            text,
            doc_end,
            &format!("kustomize:{nl}  images:{nl}{}", item(2)),
        )
        .apply(text));
    };
    let Some(kustomize) = root.get("kustomize") else {
        return Err(shape(file, "kustomize", "is missing"));
    };
    let Node::Map { indent, entries } = &kustomize.value else {
        return Err(shape(file, "kustomize", "is not a mapping"));
    };
    match kustomize.value.get("images") {
        None => {
            let end = entries.last().map_or(kustomize.end, |e| e.end);
            Ok(edit::append_lines(
                text,
                end,
                &format!("{}images:{nl}{}", " ".repeat(*indent), item(*indent)),
            )
            .apply(text))
        }
        Some(images) => match &images.value {
            Node::Seq {
                indent: dash,
                items,
            } => {
                for it in items {
                    let Some(s) = it.value.scalar() else { continue };
                    let key = match s.value.split_once('=') {
                        Some((key, _)) => key,
                        None => image::split(&s.value).0,
                    };
                    if key == spec.name {
                        let mut edits = yaml::Edits::default();
                        yaml::set_scalar(&mut edits, s, &value);
                        return Ok(edits.apply(text));
                    }
                }
                let end = items.last().map_or(images.end, |i| i.end);
                Ok(edit::append_lines(text, end, &item(*dash)).apply(text))
            }
            Node::Empty { .. } => {
                Ok(edit::append_lines(text, images.end, &item(*indent)).apply(text))
            }
            _ => Err(shape(file, "kustomize.images", "is not a block sequence")),
        },
    }
}

fn set_param(file: &str, text: &str, name: &str, value: &str) -> Result<String> {
    let nl = yaml::newline(text);
    let lines = |indent: usize| {
        let pad = " ".repeat(indent);
        format!(
            "{pad}- name: {name}{nl}{pad}  value: {}{nl}{pad}  forcestring: true{nl}",
            yaml::render(value, yaml::Style::Plain)
        )
    };
    let (root, doc_end) = edit::root(file, text)?;
    let Some(root) = root else {
        return Ok(edit::append_lines(
            text,
            doc_end,
            &format!("helm:{nl}  parameters:{nl}{}", lines(2)),
        )
        .apply(text));
    };
    let Some(helm) = root.get("helm") else {
        return Err(shape(file, "helm", "is missing"));
    };
    let Node::Map { indent, entries } = &helm.value else {
        return Err(shape(file, "helm", "is not a mapping"));
    };
    match helm.value.get("parameters") {
        None => {
            let end = entries.last().map_or(helm.end, |e| e.end);
            Ok(edit::append_lines(
                text,
                end,
                &format!("{}parameters:{nl}{}", " ".repeat(*indent), lines(*indent)),
            )
            .apply(text))
        }
        Some(params) => match &params.value {
            Node::Seq {
                indent: dash,
                items,
            } => {
                for it in items {
                    if it
                        .value
                        .get("name")
                        .and_then(|e| e.value.scalar())
                        .is_some_and(|s| s.value == name)
                    {
                        let key = format!("helm.parameters[{name}].value");
                        return Ok(
                            edit::upsert(file, text, &it.value, &key, "value", value)?.apply(text)
                        );
                    }
                }
                let end = items.last().map_or(params.end, |i| i.end);
                Ok(edit::append_lines(text, end, &lines(*dash)).apply(text))
            }
            Node::Empty { .. } => {
                Ok(edit::append_lines(text, params.end, &lines(*indent)).apply(text))
            }
            _ => Err(shape(file, "helm.parameters", "is not a block sequence")),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_and_updates_as_the_image_updater_writes() {
        let spec = ImageSpec::parse("ghcr.io/acme/api:v1").expect("spec");
        let k = set_image("a", "", &spec, SourceKind::Kustomize).expect("edit");
        assert_eq!(k, "kustomize:\n  images:\n  - ghcr.io/acme/api:v1\n");
        let v2 = ImageSpec::parse("ghcr.io/acme/api:v2").expect("spec");
        assert_eq!(
            set_image("a", &k, &v2, SourceKind::Helm).expect("edit"),
            k.replace("v1", "v2")
        );
        let h = set_image("a", "", &spec, SourceKind::Helm).expect("edit");
        assert_eq!(
            h,
            "helm:\n  parameters:\n  - name: image.name\n    value: ghcr.io/acme/api\n    forcestring: true\n  - name: image.tag\n    value: v1\n    forcestring: true\n"
        );
        assert_eq!(
            set_image("a", &h, &v2, SourceKind::Kustomize).expect("edit"),
            h.replace("value: v1", "value: v2")
        );
    }
}
