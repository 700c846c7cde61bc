//! Edit primitives over the scanner's spans: set a mapping's value, add or remove an entry, append a
//! sequence item. Each is one byte-range change; callers re-scan between changes.

use crate::error::{Error, Result};
use crate::yaml::{self, Edits, Entry, Node};

/// Sets `key` of `map` to the scalar `value`: rewrites the old scalar in its quoting style, fills an empty
/// value, or appends `key: value` as the map's last entry.
pub(crate) fn upsert(
    file: &str,
    text: &str,
    map: &Node,
    key_path: &str,
    key: &str,
    value: &str,
) -> Result<Edits> {
    let mut edits = Edits::default();
    let Node::Map { indent, entries } = map else {
        return Err(shape(file, key_path, "is not a mapping"));
    };
    if let Some(entry) = entries.iter().find(|e| e.key == key) {
        match &entry.value {
            Node::Scalar(s) => yaml::set_scalar(&mut edits, s, value),
            Node::Empty { at } => {
                let sep = if text[..*at].ends_with(':') { " " } else { "" };
                edits.insert(
                    *at,
                    format!("{sep}{}", yaml::render(value, yaml::Style::Plain)),
                );
            }
            _ => return Err(shape(file, key_path, "is not a single-line scalar")),
        }
    } else {
        let at = entries.last().map_or(text.len(), |e| e.end);
        edits.insert(
            at,
            format!(
                "{}{}{key}: {}{}",
                yaml::line_prefix(text, at),
                " ".repeat(*indent),
                yaml::render(value, yaml::Style::Plain),
                yaml::newline(text)
            ),
        );
    }
    Ok(edits)
}

/// Removes an entry's lines.
pub(crate) fn remove(file: &str, text: &str, entry: &Entry, key_path: &str) -> Result<Edits> {
    if entry.line_start > 0 && !text[..entry.line_start].ends_with('\n') {
        // The entry shares its line with a `- `: removing it would take the item's dash along.
        return Err(shape(
            file,
            key_path,
            "shares its line with the item's `- ` and cannot be removed in place",
        ));
    }
    let mut edits = Edits::default();
    edits.replace(entry.line_start..entry.end, String::new());
    Ok(edits)
}

/// Appends `lines` (already indented, each ending in a newline) after `end`.
pub(crate) fn append_lines(text: &str, end: usize, lines: &str) -> Edits {
    let mut edits = Edits::default();
    edits.insert(end, format!("{}{lines}", yaml::line_prefix(text, end)));
    edits
}

pub(crate) fn shape(file: &str, key: &str, reason: &'static str) -> Error {
    Error::Shape {
        file: file.to_owned(),
        key: key.to_owned(),
        reason,
    }
}

/// The first document's root mapping (or `None` for an empty document).
pub(crate) fn root(file: &str, text: &str) -> Result<(Option<Node>, usize)> {
    let docs = yaml::parse(file, text)?;
    match docs.into_iter().next() {
        None => Ok((None, text.len())),
        Some(doc) => match doc.root {
            Node::Empty { .. } => Ok((None, doc.end)),
            map @ Node::Map { .. } => Ok((Some(map), doc.end)),
            _ => Err(shape(file, "(document)", "is not a mapping")),
        },
    }
}
