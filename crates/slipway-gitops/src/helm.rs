//! Helm values files: the image's repository, tag and digest by key path.

use crate::edit::{self, shape};
use crate::error::{Error, Result};
use crate::image::{ImageSpec, PRESERVE};
use crate::yaml::{self, Node};

/// Where a chart reads its image from (key paths in the values file).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct HelmKeys {
    /// Default `image.repository`.
    pub repository: String,
    /// Default `image.tag`.
    pub tag: String,
    /// Default `image.digest`.
    pub digest: String,
}

impl Default for HelmKeys {
    fn default() -> Self {
        HelmKeys {
            repository: "image.repository".into(),
            tag: "image.tag".into(),
            digest: "image.digest".into(),
        }
    }
}

/// The scalar at a dotted key path, if there is one.
pub fn get(file: &str, text: &str, path: &str) -> Result<Option<String>> {
    let (root, _) = edit::root(file, text)?;
    let Some(mut node) = root else {
        return Ok(None);
    };
    for key in path.split('.') {
        match node.get(key) {
            Some(e) => node = e.value.clone(),
            None => return Ok(None),
        }
    }
    Ok(node.scalar().map(|s| s.value.clone()))
}

/// Sets the scalar at a dotted key path, creating missing mappings (indented two spaces per level).
pub fn set(file: &str, text: &str, path: &str, value: &str) -> Result<String> {
    let (root, doc_end) = edit::root(file, text)?;
    let keys: Vec<&str> = path.split('.').collect();
    let nl = yaml::newline(text);
    let Some(root) = root else {
        return Ok(edit::append_lines(text, doc_end, &nested(&keys, 0, value, nl)).apply(text));
    };
    let mut node = &root;
    for (depth, key) in keys.iter().enumerate() {
        let here = keys[..=depth].join(".");
        if depth + 1 == keys.len() {
            return Ok(edit::upsert(file, text, node, &here, key, value)?.apply(text));
        }
        let Node::Map { indent, entries } = node else {
            return Err(shape(file, &here, "is not a mapping"));
        };
        if let Some(entry) = node.get(key) {
            match &entry.value {
                Node::Map { .. } => node = &entry.value,
                Node::Empty { .. } => {
                    let lines = nested(&keys[depth + 1..], indent + 2, value, nl);
                    return Ok(edit::append_lines(text, entry.end, &lines).apply(text));
                }
                _ => return Err(shape(file, &here, "is not a mapping")),
            }
        } else {
            let end = entries.last().map_or(doc_end, |e| e.end);
            return Ok(
                edit::append_lines(text, end, &nested(&keys[depth..], *indent, value, nl))
                    .apply(text),
            );
        }
    }
    Err(shape(file, path, "is an empty key path"))
}

fn nested(keys: &[&str], indent: usize, value: &str, nl: &str) -> String {
    let mut out = String::new();
    for (i, key) in keys.iter().enumerate() {
        out.push_str(&" ".repeat(indent + 2 * i));
        if i + 1 == keys.len() {
            out.push_str(&format!(
                "{key}: {}{nl}",
                yaml::render(value, yaml::Style::Plain)
            ));
        } else {
            out.push_str(&format!("{key}:{nl}"));
        }
    }
    out
}

/// Writes an image into a values file: the repository (the spec's new name, or its name), the tag when the
/// spec has one, the digest when it has one; a tag without a digest empties a digest the file pins, so the
/// tag is what runs.
pub fn set_image(file: &str, text: &str, spec: &ImageSpec, keys: &HelmKeys) -> Result<String> {
    if [&spec.new_name, &spec.new_tag, &spec.digest]
        .iter()
        .any(|v| v.as_str() == PRESERVE)
    {
        return Err(Error::Image {
            input: spec.to_string(),
            reason: "`*` applies to kustomizations only",
        });
    }
    let mut text = set(file, text, &keys.repository, spec.target_name())?;
    if !spec.new_tag.is_empty() {
        text = set(file, &text, &keys.tag, &spec.new_tag)?;
    }
    if !spec.digest.is_empty() {
        text = set(file, &text, &keys.digest, &spec.digest)?;
    } else if get(file, &text, &keys.digest)?.is_some_and(|d| !d.is_empty()) {
        text = set(file, &text, &keys.digest, "")?;
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_by_key_path_keeping_everything_else() {
        let text = "# values\nreplicaCount: 2\nimage:\n  repository: ghcr.io/acme/api  # repo\n  tag: 'v1'\n  pullPolicy: IfNotPresent\nservice: {port: 80}\n";
        let spec = ImageSpec::parse("ghcr.io/acme/api:v2").expect("spec");
        let out = set_image("v.yaml", text, &spec, &HelmKeys::default()).expect("edit");
        assert_eq!(out, text.replace("'v1'", "'v2'"));
        let out = set("v.yaml", text, "image.digest", "sha256:00").expect("edit");
        assert_eq!(
            out,
            text.replace("IfNotPresent\n", "IfNotPresent\n  digest: sha256:00\n")
        );
        let out = set("v.yaml", "a: 1\n", "image.tag", "1.0").expect("edit");
        assert_eq!(out, "a: 1\nimage:\n  tag: \"1.0\"\n");
    }
}
