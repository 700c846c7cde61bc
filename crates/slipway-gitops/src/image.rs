//! The image argument of `set-image`: `kustomize edit set image`'s syntax and meaning.

use std::fmt;

use crate::error::{Error, Result};

/// `*` in a field keeps what the kustomization has (kustomize's "preserve" marker).
pub const PRESERVE: &str = "*";

/// One image assignment, as `kustomize edit set image` reads it: `NAME=NEWNAME[:TAG][@DIGEST]`,
/// `NAME[:TAG][@DIGEST]` (at least a tag or a digest) or `NAME=NEWNAME`.
///
/// An empty field is absent. The entry this writes into a kustomization replaces the whole entry of the
/// same `name`: a digest alone drops the old tag, a tag alone drops the old digest, no `=` drops `newName`.
/// `*` in a field keeps the old value of that field.
///
/// ```
/// use slipway_gitops::ImageSpec;
/// let spec = ImageSpec::parse("api=ghcr.io/acme/api:v1.2.0")?;
/// assert_eq!((spec.name.as_str(), spec.new_name.as_str(), spec.new_tag.as_str()), ("api", "ghcr.io/acme/api", "v1.2.0"));
/// let pinned = ImageSpec::parse("ghcr.io/acme/api@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")?;
/// assert_eq!(pinned.name, "ghcr.io/acme/api");
/// assert!(pinned.new_tag.is_empty());
/// Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ImageSpec {
    /// The image name the manifests use (the kustomization entry's `name`).
    pub name: String,
    /// The replacement name (`newName`), empty for none.
    pub new_name: String,
    /// The tag (`newTag`), empty for none.
    pub new_tag: String,
    /// The digest (`digest`), empty for none.
    pub digest: String,
}

impl ImageSpec {
    /// Reads an argument as `kustomize edit set image` does (its `parse` and `image.Split`), validating the
    /// tag and digest with the OCI grammar.
    pub fn parse(input: &str) -> Result<ImageSpec> {
        let (key, value) = match input.split_once('=') {
            Some((key, value)) => (Some(key), value),
            None => (None, input),
        };
        let (name, tag, digest) = split(value);
        // kustomize: an argument that is only a name changes nothing and is refused.
        if name == input {
            return Err(Error::Image {
                input: input.to_owned(),
                reason: "needs a tag (NAME:TAG), a digest (NAME@DIGEST) or a new name (NAME=NEWNAME)",
            });
        }
        let spec = match key {
            Some(key) => ImageSpec {
                name: key.to_owned(),
                new_name: name.to_owned(),
                new_tag: tag.to_owned(),
                digest: digest.to_owned(),
            },
            None => ImageSpec {
                name: name.to_owned(),
                new_name: String::new(),
                new_tag: tag.to_owned(),
                digest: digest.to_owned(),
            },
        };
        spec.validate(input)?;
        Ok(spec)
    }

    fn validate(&self, input: &str) -> Result<()> {
        if self.name.is_empty() {
            return Err(Error::Image {
                input: input.to_owned(),
                reason: "the image name is empty",
            });
        }
        if self.name.contains(char::is_whitespace) || self.new_name.contains(char::is_whitespace) {
            return Err(Error::Image {
                input: input.to_owned(),
                reason: "an image name cannot hold white space",
            });
        }
        if !self.new_tag.is_empty() && self.new_tag != PRESERVE {
            slipway_oci::reference::Tag::new(&self.new_tag).map_err(|source| Error::ImagePart {
                input: input.to_owned(),
                source,
            })?;
        }
        if !self.digest.is_empty() && self.digest != PRESERVE {
            slipway_oci::Digest::parse(&self.digest).map_err(|source| Error::ImageDigest {
                input: input.to_owned(),
                source,
            })?;
        }
        Ok(())
    }

    /// The image the workloads end up running: `newName` (or `name`), then `:tag` and `@digest` when set.
    pub fn target(&self) -> String {
        let mut out = if self.new_name.is_empty() {
            self.name.clone()
        } else {
            self.new_name.clone()
        };
        if !self.new_tag.is_empty() {
            out.push(':');
            out.push_str(&self.new_tag);
        }
        if !self.digest.is_empty() {
            out.push('@');
            out.push_str(&self.digest);
        }
        out
    }

    /// The repository part of [`Self::target`] (`newName`, or `name`).
    pub fn target_name(&self) -> &str {
        if self.new_name.is_empty() {
            &self.name
        } else {
            &self.new_name
        }
    }
}

impl fmt::Display for ImageSpec {
    /// The argument form `kustomize edit set image` (and Argo CD's `kustomize.images`) reads back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.new_name.is_empty() {
            f.write_str(&self.target())
        } else {
            write!(f, "{}={}", self.name, self.target())
        }
    }
}

/// kustomize's `image.Split`: name, tag and digest of `NAME[:TAG][@DIGEST]`, where the `:` of a registry port
/// (before the first `/`) is not a tag separator.
pub fn split(image: &str) -> (&str, &str, &str) {
    let slash = match image.find('/') {
        Some(i) if i > 0 => i,
        _ => 0,
    };
    let search = &image[slash..];
    let at = search.find('@');
    let colon = search.find(':');
    match (at, colon) {
        (None, None) => (image, "", ""),
        (Some(at), c) if c.is_none_or(|c| at < c) => {
            let at = at + slash;
            (&image[..at], "", &image[at + 1..])
        }
        (Some(at), Some(colon)) => {
            let (at, colon) = (at + slash, colon + slash);
            (&image[..colon], &image[colon + 1..at], &image[at + 1..])
        }
        (_, Some(colon)) => {
            let colon = colon + slash;
            (&image[..colon], &image[colon + 1..], "")
        }
        // `(Some(_), None)` is taken by the second arm.
        (Some(_), None) => unreachable_split(image),
    }
}

/// The `(Some, None)` case, which the digest arm takes first.
fn unreachable_split(image: &str) -> (&str, &str, &str) {
    (image, "", "")
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn splits_as_kustomize_does() {
        assert_eq!(split("nginx"), ("nginx", "", ""));
        assert_eq!(split("nginx:1.2"), ("nginx", "1.2", ""));
        assert_eq!(
            split("localhost:5000/app:v1"),
            ("localhost:5000/app", "v1", "")
        );
        assert_eq!(split("localhost:5000/app"), ("localhost:5000/app", "", ""));
        assert_eq!(split(&format!("a/b@{D}")), ("a/b", "", D));
        assert_eq!(split(&format!("a/b:t@{D}")), ("a/b", "t", D));
    }

    #[test]
    fn parses_every_documented_form() {
        let s = ImageSpec::parse("postgres=eu.gcr.io/my-project/postgres:latest").expect("ok");
        assert_eq!(
            (s.name.as_str(), s.new_name.as_str(), s.new_tag.as_str()),
            ("postgres", "eu.gcr.io/my-project/postgres", "latest")
        );
        let s = ImageSpec::parse("mysql=mariadb").expect("ok");
        assert_eq!((s.new_name.as_str(), s.new_tag.as_str()), ("mariadb", ""));
        let s = ImageSpec::parse(&format!("node:8.15.0@{D}")).expect("ok");
        assert_eq!(
            (s.name.as_str(), s.new_tag.as_str(), s.digest.as_str()),
            ("node", "8.15.0", D)
        );
        let s = ImageSpec::parse("app=*:v2").expect("ok");
        assert_eq!((s.new_name.as_str(), s.new_tag.as_str()), ("*", "v2"));
        assert!(ImageSpec::parse("nginx").is_err());
        assert!(ImageSpec::parse("nginx@sha256:short").is_err());
        assert!(ImageSpec::parse("nginx:bad tag").is_err());
        assert_eq!(
            ImageSpec::parse(&format!("a=b:t@{D}"))
                .expect("ok")
                .to_string(),
            format!("a=b:t@{D}")
        );
    }
}
