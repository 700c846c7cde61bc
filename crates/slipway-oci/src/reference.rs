//! Image references: `oci:PATH[:TAG|@DIGEST]` (an OCI image layout directory, as skopeo's `oci:` transport
//! reads it) and `[docker://]HOST[:PORT]/REPO[:TAG|@DIGEST]` (a registry, normalised as Docker does).
//!
//! Registry names follow the distribution reference grammar: a first component is a registry host only when
//! it contains `.` or `:`, is `localhost`, or has an uppercase letter; otherwise the name lives on
//! `docker.io`, and a one-component name there gains `library/`. `index.docker.io` is spelled `docker.io`.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::digest::{self, Digest};

/// Docker's default registry host.
pub const DOCKER_HUB: &str = "docker.io";
/// The tag a registry reference without tag or digest means.
pub const DEFAULT_TAG: &str = "latest";
/// The longest repository name (host included) a registry accepts.
const NAME_TOTAL_LENGTH_MAX: usize = 255;

/// Why a reference or tag was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The reference is empty (or only a transport prefix).
    #[error("reference {} is empty", crate::quote::quoted(input))]
    Empty {
        /// The rejected text.
        input: String,
    },
    /// `oci:` with no directory.
    #[error(
        "reference {}: the oci: transport needs a directory path",
        crate::quote::quoted(input)
    )]
    MissingPath {
        /// The rejected text.
        input: String,
    },
    /// A tag breaks `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`.
    #[error(
        "reference {}: tag {} is invalid: {reason}",
        crate::quote::quoted(input),
        crate::quote::quoted(tag)
    )]
    InvalidTag {
        /// The rejected text.
        input: String,
        /// The tag part.
        tag: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The part after `@` is not a valid digest.
    #[error("reference {}: invalid digest", crate::quote::quoted(input))]
    InvalidDigest {
        /// The rejected text.
        input: String,
        /// What is wrong with the digest.
        source: digest::Error,
    },
    /// The registry host (or port) is malformed.
    #[error(
        "reference {}: registry host {} is invalid: {reason}",
        crate::quote::quoted(input),
        crate::quote::quoted(host)
    )]
    InvalidHost {
        /// The rejected text.
        input: String,
        /// The host part.
        host: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A repository path component breaks `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`.
    #[error(
        "reference {}: repository component {} at column {column} is invalid: {reason}",
        crate::quote::quoted(input),
        crate::quote::quoted(component)
    )]
    InvalidRepository {
        /// The rejected text.
        input: String,
        /// The offending `/`-separated component.
        component: String,
        /// 1-based column where the component starts in `input`.
        column: usize,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Host and repository together exceed 255 characters.
    #[error(
        "reference {}: repository name is {len} characters long, the limit is 255",
        crate::quote::quoted(input)
    )]
    NameTooLong {
        /// The rejected text.
        input: String,
        /// The length found.
        len: usize,
    },
}

/// A validated tag: `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tag(String);

impl Tag {
    /// Validates a tag.
    pub fn new(tag: &str) -> Result<Self, Error> {
        check_tag(tag, tag)?;
        Ok(Tag(tag.to_owned()))
    }

    /// `latest`: what a registry reference without tag or digest means.
    pub fn latest() -> Self {
        Tag(DEFAULT_TAG.to_owned())
    }

    /// The tag text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Tag {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Tag::new(s)
    }
}

fn check_tag(input: &str, tag: &str) -> Result<(), Error> {
    let bad = |reason| Error::InvalidTag {
        input: input.to_owned(),
        tag: tag.to_owned(),
        reason,
    };
    let mut chars = tag.chars();
    match chars.next() {
        None => return Err(bad("it is empty")),
        Some(c) if c.is_ascii_alphanumeric() || c == '_' => {}
        Some(_) => return Err(bad("it must start with a letter, digit or `_`")),
    }
    if chars.any(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))) {
        return Err(bad("only letters, digits, `_`, `.` and `-` are allowed"));
    }
    if tag.len() > 128 {
        return Err(bad("it is longer than 128 characters"));
    }
    Ok(())
}

/// Which manifest of a store a reference names.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ManifestRef {
    /// A tag (in a layout: an `org.opencontainers.image.ref.name` annotation).
    Tag(Tag),
    /// A manifest digest.
    Digest(Digest),
}

impl fmt::Display for ManifestRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ManifestRef::Tag(t) => write!(f, ":{t}"),
            ManifestRef::Digest(d) => write!(f, "@{d}"),
        }
    }
}

/// `oci:PATH[:TAG|@DIGEST]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayoutReference {
    /// The layout directory.
    pub path: PathBuf,
    /// The manifest named; `None` means "the only manifest in index.json", as skopeo reads it.
    pub target: Option<ManifestRef>,
}

/// `HOST[:PORT]/REPO[:TAG][@DIGEST]`, normalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryReference {
    /// Registry host and optional port, e.g. `docker.io`, `localhost:5000`.
    pub registry: String,
    /// Repository path, e.g. `library/alpine`.
    pub repository: String,
    /// Tag, if given.
    pub tag: Option<Tag>,
    /// Digest, if given (it wins over the tag when resolving).
    pub digest: Option<Digest>,
}

impl RegistryReference {
    /// The manifest to fetch: the digest if given, else the tag, else `latest`.
    pub fn target(&self) -> ManifestRef {
        match (&self.digest, &self.tag) {
            (Some(d), _) => ManifestRef::Digest(d.clone()),
            (None, Some(t)) => ManifestRef::Tag(t.clone()),
            (None, None) => ManifestRef::Tag(Tag(DEFAULT_TAG.to_owned())),
        }
    }

    /// Whether the registry is on the loopback interface (Docker talks plain HTTP to those).
    pub fn is_loopback(&self) -> bool {
        let host = match self.registry.rsplit_once(':') {
            // `[::1]:5000` splits at the port colon; a bare `[::1]` has no port.
            Some((h, port)) if !port.contains(']') => h,
            _ => &self.registry,
        };
        host == "localhost" || host == "[::1]" || host.starts_with("127.")
    }
}

impl fmt::Display for RegistryReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

/// An image reference: a layout directory or a registry repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reference {
    /// `oci:PATH[:TAG|@DIGEST]`.
    Layout(LayoutReference),
    /// `[docker://]HOST[:PORT]/REPO[:TAG|@DIGEST]`.
    Registry(RegistryReference),
}

impl Reference {
    /// Parses either form; `oci:` selects the layout transport, anything else (with or without
    /// `docker://`) is a registry reference.
    pub fn parse(input: &str) -> Result<Self, Error> {
        if let Some(rest) = input.strip_prefix("oci:") {
            parse_layout(input, rest).map(Reference::Layout)
        } else {
            let (rest, offset) = match input.strip_prefix("docker://") {
                Some(rest) => (rest, "docker://".len()),
                None => (input, 0),
            };
            parse_registry(input, rest, offset).map(Reference::Registry)
        }
    }

    /// A layout reference to `path` with an optional target.
    pub fn layout(path: impl AsRef<Path>, target: Option<ManifestRef>) -> Self {
        Reference::Layout(LayoutReference {
            path: path.as_ref().to_path_buf(),
            target,
        })
    }
}

impl FromStr for Reference {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Reference::parse(s)
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reference::Layout(l) => {
                write!(f, "oci:{}", l.path.display())?;
                if let Some(t) = &l.target {
                    write!(f, "{t}")?;
                }
                Ok(())
            }
            Reference::Registry(r) => write!(f, "docker://{r}"),
        }
    }
}

fn parse_layout(input: &str, rest: &str) -> Result<LayoutReference, Error> {
    // skopeo splits `oci:` references at the first `:` (so a path cannot hold one). A trailing
    // `@sha256:`/`@sha512:` selects a digest instead; any other `@` is part of the path.
    let digest_at = ["@sha256:", "@sha512:"]
        .iter()
        .filter_map(|marker| rest.rfind(marker))
        .max();
    let (path, target) = if let Some(at) = digest_at
        && !rest[..at].contains(':')
    {
        let digest = Digest::parse(&rest[at + 1..]).map_err(|source| Error::InvalidDigest {
            input: input.to_owned(),
            source,
        })?;
        (&rest[..at], Some(ManifestRef::Digest(digest)))
    } else if let Some((path, tag)) = rest.split_once(':') {
        check_tag(input, tag)?;
        (path, Some(ManifestRef::Tag(Tag(tag.to_owned()))))
    } else {
        (rest, None)
    };
    if path.is_empty() {
        return Err(Error::MissingPath {
            input: input.to_owned(),
        });
    }
    Ok(LayoutReference {
        path: PathBuf::from(path),
        target,
    })
}

fn parse_registry(input: &str, rest: &str, offset: usize) -> Result<RegistryReference, Error> {
    if rest.is_empty() {
        return Err(Error::Empty {
            input: input.to_owned(),
        });
    }
    let (name_and_tag, digest) = match rest.split_once('@') {
        Some((n, d)) => {
            let digest = Digest::parse(d).map_err(|source| Error::InvalidDigest {
                input: input.to_owned(),
                source,
            })?;
            (n, Some(digest))
        }
        None => (rest, None),
    };
    // The tag colon is the last `:` after the last `/` (an earlier one is a port).
    let last_slash = name_and_tag.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match name_and_tag[last_slash..].rfind(':') {
        Some(i) => {
            let tag = &name_and_tag[last_slash + i + 1..];
            check_tag(input, tag)?;
            (&name_and_tag[..last_slash + i], Some(Tag(tag.to_owned())))
        }
        None => (name_and_tag, None),
    };
    if name.is_empty() {
        return Err(Error::Empty {
            input: input.to_owned(),
        });
    }
    let (registry, path, path_offset) = match name.split_once('/') {
        Some((first, remainder))
            if first.contains(['.', ':'])
                || first == "localhost"
                || first.chars().any(|c| c.is_ascii_uppercase()) =>
        {
            check_host(input, first)?;
            let registry = if first == "index.docker.io" {
                DOCKER_HUB
            } else {
                first
            };
            (registry, remainder, offset + first.len() + 1)
        }
        _ => (DOCKER_HUB, name, offset),
    };
    check_repository(input, path, path_offset)?;
    let repository = if registry == DOCKER_HUB && !path.contains('/') {
        format!("library/{path}")
    } else {
        path.to_owned()
    };
    let total = registry.len() + 1 + repository.len();
    if total > NAME_TOTAL_LENGTH_MAX {
        return Err(Error::NameTooLong {
            input: input.to_owned(),
            len: total,
        });
    }
    Ok(RegistryReference {
        registry: registry.to_owned(),
        repository,
        tag,
        digest,
    })
}

fn check_host(input: &str, host_port: &str) -> Result<(), Error> {
    let bad = |reason| Error::InvalidHost {
        input: input.to_owned(),
        host: host_port.to_owned(),
        reason,
    };
    let (host, port) = if let Some(v6) = host_port.strip_prefix('[') {
        let Some((addr, after)) = v6.split_once(']') else {
            return Err(bad("an IPv6 address needs a closing `]`"));
        };
        if addr.is_empty() || !addr.chars().all(|c| c.is_ascii_hexdigit() || c == ':') {
            return Err(bad("an IPv6 address holds only hex digits and `:`"));
        }
        match after {
            "" => return Ok(()),
            p => match p.strip_prefix(':') {
                Some(port) => (None, Some(port)),
                None => return Err(bad("only `:PORT` may follow `]`")),
            },
        }
    } else {
        match host_port.split_once(':') {
            Some((h, p)) => (Some(h), Some(p)),
            None => (Some(host_port), None),
        }
    };
    if let Some(host) = host {
        for label in host.split('.') {
            if label.is_empty() {
                return Err(bad("a host name label is empty"));
            }
            if !label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                return Err(bad("host name labels hold only letters, digits and `-`"));
            }
            if label.starts_with('-') || label.ends_with('-') {
                return Err(bad("a host name label cannot start or end with `-`"));
            }
        }
    }
    if let Some(port) = port
        && (port.is_empty() || !port.chars().all(|c| c.is_ascii_digit()))
    {
        return Err(bad("the port must be decimal digits"));
    }
    Ok(())
}

fn check_repository(input: &str, path: &str, offset: usize) -> Result<(), Error> {
    let mut column = offset + 1;
    for component in path.split('/') {
        if let Some(reason) = component_problem(component) {
            return Err(Error::InvalidRepository {
                input: input.to_owned(),
                component: component.to_owned(),
                column,
                reason,
            });
        }
        column += component.len() + 1;
    }
    // Docker refuses a bare 64-hex name: it would be mistaken for an image ID.
    if path.len() == 64 && path.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(Error::InvalidRepository {
            input: input.to_owned(),
            component: path.to_owned(),
            column: offset + 1,
            reason: "a 64-character hex string is an image ID, not a repository name",
        });
    }
    Ok(())
}

/// Checks `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`.
fn component_problem(component: &str) -> Option<&'static str> {
    if component.is_empty() {
        return Some("it is empty");
    }
    if component.chars().any(|c| c.is_ascii_uppercase()) {
        return Some("repository names must be lowercase");
    }
    let bytes = component.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
        return Some("it must start and end with a lowercase letter or digit");
    }
    let mut i = 0;
    while i < bytes.len() {
        if alnum(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !alnum(bytes[i]) {
            i += 1;
        }
        let sep = &component[start..i];
        let ok = matches!(sep, "." | "_" | "__") || sep.bytes().all(|b| b == b'-');
        if !ok {
            return Some(
                "separators are `.`, `_`, `__` or dashes, between lowercase letters or digits",
            );
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reg(s: &str) -> RegistryReference {
        match Reference::parse(s).unwrap() {
            Reference::Registry(r) => r,
            Reference::Layout(l) => panic!("{s} parsed as layout {l:?}"),
        }
    }

    #[test]
    fn docker_hub_defaults() {
        let r = reg("alpine");
        assert_eq!(r.to_string(), "docker.io/library/alpine");
        assert_eq!(r.target(), ManifestRef::Tag(Tag::new("latest").unwrap()));
        assert_eq!(
            reg("docker://user/app:1.0").to_string(),
            "docker.io/user/app:1.0"
        );
        assert_eq!(
            reg("index.docker.io/alpine:3").to_string(),
            "docker.io/library/alpine:3"
        );
    }

    #[test]
    fn hosts_and_ports() {
        let r = reg("localhost:5000/app:v1");
        assert_eq!(
            (r.registry.as_str(), r.repository.as_str()),
            ("localhost:5000", "app")
        );
        assert!(r.is_loopback());
        let r = reg("localhost/app");
        assert_eq!(r.registry, "localhost");
        let r = reg("127.0.0.1:5000/a/b/c");
        assert!(r.is_loopback());
        assert_eq!(r.repository, "a/b/c");
        let r = reg("[::1]:5000/app");
        assert_eq!(r.registry, "[::1]:5000");
        assert!(r.is_loopback());
        assert!(!reg("ghcr.io/o/app").is_loopback());
        // A first component without `.`/`:` is a Docker Hub namespace, not a host.
        assert_eq!(reg("myhost/app").registry, "docker.io");
    }

    #[test]
    fn tag_and_digest_together() {
        let d = format!("sha256:{}", "a".repeat(64));
        let r = reg(&format!("ghcr.io/o/app:v1@{d}"));
        assert_eq!(r.tag.as_ref().unwrap().as_str(), "v1");
        assert_eq!(r.target(), ManifestRef::Digest(Digest::parse(&d).unwrap()));
    }

    #[test]
    fn registry_errors_name_the_fault() {
        let e = Reference::parse("ghcr.io/Org/app").unwrap_err();
        assert!(
            matches!(&e, Error::InvalidRepository { component, column: 9, .. } if component == "Org"),
            "{e:?}"
        );
        assert!(e.to_string().contains("lowercase"));
        assert!(matches!(
            Reference::parse("app:-bad"),
            Err(Error::InvalidTag { .. })
        ));
        assert!(matches!(
            Reference::parse("app@sha256:abc"),
            Err(Error::InvalidDigest { .. })
        ));
        assert!(matches!(
            Reference::parse("bad_host.io:x/app"),
            Err(Error::InvalidHost { .. })
        ));
        assert!(matches!(Reference::parse(""), Err(Error::Empty { .. })));
        assert!(matches!(
            Reference::parse("a..b/c"),
            Err(Error::InvalidHost { .. })
        ));
        assert!(matches!(
            Reference::parse("ghcr.io/a//b"),
            Err(Error::InvalidRepository { .. })
        ));
        let long = format!("ghcr.io/{}", "a".repeat(250));
        assert!(matches!(
            Reference::parse(&long),
            Err(Error::NameTooLong { .. })
        ));
        assert!(Reference::parse(&"a".repeat(64)).is_err());
    }

    #[test]
    fn tag_grammar() {
        assert!(Tag::new("_x").is_ok());
        assert!(Tag::new(&"a".repeat(128)).is_ok());
        assert!(Tag::new(&"a".repeat(129)).is_err());
        assert!(Tag::new(".x").is_err());
        assert!(Tag::new("a/b").is_err());
        assert!(Tag::new("").is_err());
    }

    #[test]
    fn layout_references() {
        let d = format!("sha256:{}", "b".repeat(64));
        assert_eq!(
            Reference::parse("oci:/tmp/l:v1").unwrap(),
            Reference::layout("/tmp/l", Some(ManifestRef::Tag(Tag::new("v1").unwrap())))
        );
        assert_eq!(
            Reference::parse(&format!("oci:dir@{d}")).unwrap(),
            Reference::layout("dir", Some(ManifestRef::Digest(Digest::parse(&d).unwrap())))
        );
        assert_eq!(
            Reference::parse("oci:dir").unwrap(),
            Reference::layout("dir", None)
        );
        assert_eq!(
            Reference::parse("oci:a@b").unwrap(),
            Reference::layout("a@b", None)
        );
        assert!(matches!(
            Reference::parse("oci::v1"),
            Err(Error::MissingPath { .. })
        ));
        assert!(matches!(
            Reference::parse("oci:dir@sha256:00"),
            Err(Error::InvalidDigest { .. })
        ));
        assert!(matches!(
            Reference::parse("oci:dir:a:b"),
            Err(Error::InvalidTag { .. })
        ));
        let r = Reference::parse(&format!("oci:x@{d}")).unwrap();
        assert_eq!(r.to_string(), format!("oci:x@{d}"));
    }
}
