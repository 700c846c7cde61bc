//! `images:` of a kustomization, edited as `kustomize edit set image` edits it.

use crate::edit::{self, shape};
use crate::error::Result;
use crate::image::{ImageSpec, PRESERVE};
use crate::yaml::{self, Node};

/// The fields of one `images:` entry, in the order kustomize declares them.
const FIELDS: [&str; 4] = ["newName", "tagSuffix", "newTag", "digest"];

/// The entry `name` of a kustomization's `images:`, as (newName, newTag, digest); `None` when absent.
pub fn image_entry(file: &str, text: &str, name: &str) -> Result<Option<ImageSpec>> {
    let (root, _) = edit::root(file, text)?;
    let Some(root) = root else { return Ok(None) };
    let Some(images) = root.get("images") else {
        return Ok(None);
    };
    let Node::Seq { items, .. } = &images.value else {
        return Ok(None);
    };
    for item in items {
        if item
            .value
            .get("name")
            .and_then(|e| e.value.scalar())
            .is_some_and(|s| s.value == name)
        {
            let field = |k: &str| {
                item.value
                    .get(k)
                    .and_then(|e| e.value.scalar())
                    .map(|s| s.value.clone())
                    .unwrap_or_default()
            };
            return Ok(Some(ImageSpec {
                name: name.to_owned(),
                new_name: field("newName"),
                new_tag: field("newTag"),
                digest: field("digest"),
            }));
        }
    }
    Ok(None)
}

/// Every entry of a kustomization's `images:` (name, newName, newTag, digest).
pub fn image_entries(file: &str, text: &str) -> Result<Vec<ImageSpec>> {
    let (root, _) = edit::root(file, text)?;
    let mut out = Vec::new();
    let Some(images) = root.as_ref().and_then(|r| r.get("images")) else {
        return Ok(out);
    };
    let Node::Seq { items, .. } = &images.value else {
        return Ok(out);
    };
    for item in items {
        let field = |k: &str| {
            item.value
                .get(k)
                .and_then(|e| e.value.scalar())
                .map(|s| s.value.clone())
                .unwrap_or_default()
        };
        let name = field("name");
        if !name.is_empty() {
            out.push(ImageSpec {
                name,
                new_name: field("newName"),
                new_tag: field("newTag"),
                digest: field("digest"),
            });
        }
    }
    Ok(out)
}

/// Sets an image in a kustomization's text with `kustomize edit set image`'s result: the entry named
/// `spec.name` ends up with exactly the spec's newName, newTag and digest (fields it lacks are removed, `*`
/// keeps the old value), or a new entry is appended. Only the bytes of those values (or whole lines of added
/// and removed fields) change.
pub fn set_image(file: &str, text: &str, spec: &ImageSpec) -> Result<String> {
    let mut text = text.to_owned();
    let old = image_entry(file, &text, &spec.name)?;
    let pick = |new: &str, old: Option<&str>| {
        if new == PRESERVE {
            old.unwrap_or("").to_owned()
        } else {
            new.to_owned()
        }
    };
    let wanted = ImageSpec {
        name: spec.name.clone(),
        new_name: pick(&spec.new_name, old.as_ref().map(|o| o.new_name.as_str())),
        new_tag: pick(&spec.new_tag, old.as_ref().map(|o| o.new_tag.as_str())),
        digest: pick(&spec.digest, old.as_ref().map(|o| o.digest.as_str())),
    };
    let values = [
        wanted.new_name.as_str(),
        "",
        wanted.new_tag.as_str(),
        wanted.digest.as_str(),
    ];
    if old.is_none() {
        return append_entry(file, &text, &wanted);
    }
    for (field, value) in FIELDS.iter().zip(values) {
        let (root, _) = edit::root(file, &text)?;
        let root = root.ok_or_else(|| shape(file, "images", "vanished"))?;
        let item = find_item(file, &root, &spec.name)?;
        let key_path = format!("images[{}].{field}", spec.name);
        let edits = match (item.get(field), value.is_empty()) {
            (Some(entry), true) => edit::remove(file, &text, entry, &key_path)?,
            (None, true) => continue,
            (_, false) => edit::upsert(file, &text, item, &key_path, field, value)?,
        };
        text = edits.apply(&text);
    }
    Ok(text)
}

fn find_item<'a>(file: &str, root: &'a Node, name: &str) -> Result<&'a Node> {
    let images = root
        .get("images")
        .ok_or_else(|| shape(file, "images", "vanished"))?;
    let Node::Seq { items, .. } = &images.value else {
        return Err(shape(file, "images", "is not a sequence"));
    };
    items
        .iter()
        .map(|i| &i.value)
        .find(|v| {
            v.get("name")
                .and_then(|e| e.value.scalar())
                .is_some_and(|s| s.value == name)
        })
        .ok_or_else(|| shape(file, "images", "lost its entry"))
}

fn entry_lines(spec: &ImageSpec, dash_indent: usize, nl: &str) -> String {
    let pad = " ".repeat(dash_indent);
    let mut out = format!(
        "{pad}- name: {}{nl}",
        yaml::render(&spec.name, yaml::Style::Plain)
    );
    for (key, value) in [
        ("newName", &spec.new_name),
        ("newTag", &spec.new_tag),
        ("digest", &spec.digest),
    ] {
        if !value.is_empty() {
            out.push_str(&format!(
                "{pad}  {key}: {}{nl}",
                yaml::render(value, yaml::Style::Plain)
            ));
        }
    }
    out
}

fn append_entry(file: &str, text: &str, spec: &ImageSpec) -> Result<String> {
    let nl = yaml::newline(text);
    let (root, doc_end) = edit::root(file, text)?;
    let Some(root) = root else {
        return Ok(edit::append_lines(
            text,
            doc_end,
            &format!("images:{nl}{}", entry_lines(spec, 0, nl)),
        )
        .apply(text));
    };
    let Node::Map { indent, entries } = &root else {
        return Err(shape(file, "(document)", "is not a mapping"));
    };
    match root.get("images") {
        None => {
            let end = entries.last().map_or(doc_end, |e| e.end);
            let pad = " ".repeat(*indent);
            Ok(edit::append_lines(
                text,
                end,
                &format!("{pad}images:{nl}{}", entry_lines(spec, *indent, nl)),
            )
            .apply(text))
        }
        Some(entry) => match &entry.value {
            Node::Seq {
                indent: dash,
                items,
            } => {
                let end = items.last().map_or(entry.end, |i| i.end);
                Ok(edit::append_lines(text, end, &entry_lines(spec, *dash, nl)).apply(text))
            }
            Node::Empty { .. } => {
                Ok(
                    edit::append_lines(text, entry.end, &entry_lines(spec, *indent, nl))
                        .apply(text),
                )
            }
            _ => Err(shape(file, "images", "is not a block sequence")),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn set(text: &str, arg: &str) -> String {
        set_image("k.yaml", text, &ImageSpec::parse(arg).expect("arg")).expect("edit")
    }

    #[test]
    fn digest_replaces_tag_and_tag_replaces_digest() {
        let text = "images:\n- name: api # the service\n  newName: ghcr.io/acme/api\n  newTag: \"v1\" # pinned\n";
        let pinned = set(text, &format!("api=ghcr.io/acme/api@{D}"));
        assert_eq!(
            pinned,
            format!(
                "images:\n- name: api # the service\n  newName: ghcr.io/acme/api\n  digest: {D}\n"
            )
        );
        let tagged = set(&pinned, "api=ghcr.io/acme/api:v2");
        assert_eq!(
            tagged,
            "images:\n- name: api # the service\n  newName: ghcr.io/acme/api\n  newTag: v2\n"
        );
    }

    #[test]
    fn no_new_name_drops_new_name_and_star_keeps_it() {
        let text = "images:\n  - name: api\n    newName: 'r/api'\n    newTag: v1\n";
        assert_eq!(
            set(text, "api:v2"),
            "images:\n  - name: api\n    newTag: v2\n"
        );
        assert_eq!(
            set(text, "api=*:v2"),
            "images:\n  - name: api\n    newName: 'r/api'\n    newTag: v2\n"
        );
    }

    #[test]
    fn absent_entries_and_lists_are_appended() {
        assert_eq!(
            set("resources:\n- a.yaml\n", "api:v1"),
            "resources:\n- a.yaml\nimages:\n- name: api\n  newTag: v1\n"
        );
        assert_eq!(
            set("images:\n- name: db\n  newTag: \"15\"\n", "api:1.10"),
            "images:\n- name: db\n  newTag: \"15\"\n- name: api\n  newTag: \"1.10\"\n"
        );
        assert_eq!(set("", "api:v1"), "images:\n- name: api\n  newTag: v1\n");
        assert_eq!(
            set("images:\n", "api:v1"),
            "images:\n- name: api\n  newTag: v1\n"
        );
    }

    #[test]
    fn same_value_is_no_change() {
        let text = "images:\n- name: api\n  newTag: 'v1'\n";
        assert_eq!(set(text, "api:v1"), text);
    }
}
