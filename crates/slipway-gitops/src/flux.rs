//! Flux image automation's setter comments: `# {"$imagepolicy": "NS:POLICY"}` (the whole image),
//! `"NS:POLICY:tag"` and `"NS:POLICY:name"`, on any line of any YAML file, in any document.

use crate::error::{Error, Result};
use crate::image::{self, ImageSpec, PRESERVE};
use crate::yaml::{self, Edits, Scalar, Style};

/// Which part of the image a setter stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Full,
    Tag,
    Name,
}

#[derive(Debug)]
struct Setter {
    policy: String,
    part: Part,
    value: Scalar,
}

/// Every setter of `text`: the policy, the part, and the scalar on the setter's line.
fn setters(text: &str) -> Vec<Setter> {
    let mut out = Vec::new();
    let mut start = 0;
    for line in text.split_inclusive('\n') {
        let content = line.trim_end_matches(['\n', '\r']);
        if let Some(setter) = setter_on(content, start) {
            out.push(setter);
        }
        start += line.len();
    }
    out
}

fn setter_on(line: &str, offset: usize) -> Option<Setter> {
    let marker = line.find("\"$imagepolicy\"")?;
    let hash = line[..marker].rfind('#')?;
    let comment = &line[marker + "\"$imagepolicy\"".len()..];
    let comment = comment
        .trim_start()
        .strip_prefix(':')?
        .trim_start()
        .strip_prefix('"')?;
    let reference = &comment[..comment.find('"')?];
    let mut parts = reference.splitn(3, ':');
    let (ns, name) = (parts.next()?, parts.next()?);
    let part = match parts.next() {
        None => Part::Full,
        Some("tag") => Part::Tag,
        Some("name") => Part::Name,
        Some(_) => return None,
    };
    // The value: after `key:` or `- ` and before the comment.
    let before = &line[..hash];
    let indent = before.len() - before.trim_start().len();
    let body = &before[indent..];
    let value_at = if let Some(rest) = body.strip_prefix("- ") {
        indent + 2 + (rest.len() - rest.trim_start().len())
    } else {
        let colon = body.find(": ")?;
        indent + colon + 2 + (body[colon + 2..].len() - body[colon + 2..].trim_start().len())
    };
    let raw = before[value_at..].trim_end();
    if raw.is_empty() {
        return None;
    }
    let (style, value) = match raw.as_bytes()[0] {
        b'"' => (Style::Double, raw.trim_matches('"').to_owned()),
        b'\'' => (Style::Single, raw.trim_matches('\'').replace("''", "'")),
        _ => (Style::Plain, raw.to_owned()),
    };
    Some(Setter {
        policy: format!("{ns}:{name}"),
        part,
        value: Scalar {
            span: offset + value_at..offset + value_at + raw.len(),
            style,
            value,
        },
    })
}

/// Writes the image into the setters of `policy` (`NS:POLICY`), or when `policy` is `None`, of every policy
/// one of whose whole-image or name setters currently holds an image of the spec's name (or new name).
pub fn set_image(file: &str, text: &str, spec: &ImageSpec, policy: Option<&str>) -> Result<String> {
    if [&spec.new_name, &spec.new_tag, &spec.digest]
        .iter()
        .any(|v| v.as_str() == PRESERVE)
    {
        return Err(Error::Image {
            input: spec.to_string(),
            reason: "`*` applies to kustomizations only",
        });
    }
    let all = setters(text);
    let chosen: Vec<String> = match policy {
        Some(p) => vec![p.to_owned()],
        None => all
            .iter()
            .filter(|s| s.part != Part::Tag)
            .filter(|s| {
                let name = if s.part == Part::Full {
                    image::split(&s.value.value).0
                } else {
                    s.value.value.as_str()
                };
                name == spec.name || name == spec.target_name()
            })
            .map(|s| s.policy.clone())
            .collect(),
    };
    let targets: Vec<&Setter> = all.iter().filter(|s| chosen.contains(&s.policy)).collect();
    if targets.is_empty() {
        return Err(Error::NothingToEdit {
            path: file.into(),
            reason: match policy {
                Some(p) => format!("no $imagepolicy setter for {p}"),
                None => format!("no $imagepolicy setter holds an image named {}", spec.name),
            },
        });
    }
    let mut edits = Edits::default();
    for setter in targets {
        let value = match setter.part {
            Part::Full => spec.target(),
            Part::Name => spec.target_name().to_owned(),
            Part::Tag => match (spec.new_tag.as_str(), spec.digest.as_str()) {
                ("", _) => {
                    return Err(Error::Image {
                        input: spec.to_string(),
                        reason: "a Flux `:tag` setter needs a tag",
                    });
                }
                (tag, "") => tag.to_owned(),
                (tag, digest) => format!("{tag}@{digest}"),
            },
        };
        yaml::set_scalar(&mut edits, &setter.value, &value);
    }
    Ok(edits.apply(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_tag_and_name_setters() {
        let text = "---\nspec:\n  image: ghcr.io/acme/api:v1 # {\"$imagepolicy\": \"flux-system:api\"}\n---\nimage:\n  repository: ghcr.io/acme/api # {\"$imagepolicy\": \"flux-system:api:name\"}\n  tag: \"v1\" # {\"$imagepolicy\": \"flux-system:api:tag\"}\nother: x:v1 # {\"$imagepolicy\": \"flux-system:other\"}\n";
        let spec = ImageSpec::parse("ghcr.io/acme/api:v2").expect("spec");
        let out = set_image("f.yaml", text, &spec, None).expect("edit");
        assert_eq!(
            out,
            text.replace("api:v1", "api:v2").replace("\"v1\"", "\"v2\"")
        );
    }
}
