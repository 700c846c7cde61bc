//! Platforms (`os/arch[/variant]`), parsed, normalised, formatted and matched as containerd's `platforms`
//! package does, so that `arm64`, `arm64/v8` and `aarch64` all name one platform and `armhf` is `arm/v7`.
//!
//! Two steps are kept apart on purpose, as in containerd: [`Platform::parse`] turns a specifier into the
//! platform the user spelled (`linux/arm` keeps an empty variant, `linux/arm64/v8` keeps `v8`), and
//! [`Platform::normalize`] gives the canonical value used for comparison (`arm` gains `v7`, `arm64` loses
//! `v8`). Image configs and index entries are compared after normalising both sides.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Why a platform specifier was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// containerd does not support `*` in specifiers.
    #[error(
        "platform {}: wildcards are not supported",
        crate::quote::quoted(input)
    )]
    Wildcard {
        /// The rejected text.
        input: String,
    },
    /// A component holds characters outside the allowed set.
    #[error(
        "platform {}: component {} (number {position}) is invalid: {reason}",
        crate::quote::quoted(input),
        crate::quote::quoted(component)
    )]
    InvalidComponent {
        /// The rejected text.
        input: String,
        /// The offending `/`-separated component.
        component: String,
        /// 1-based position of the component.
        position: usize,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A single word that is neither a known OS nor a known architecture.
    #[error(
        "platform {}: unknown operating system or architecture",
        crate::quote::quoted(input)
    )]
    Unknown {
        /// The rejected text.
        input: String,
    },
    /// More than three components.
    #[error(
        "platform {}: expected os/arch[/variant], found {components} components",
        crate::quote::quoted(input)
    )]
    TooManyComponents {
        /// The rejected text.
        input: String,
        /// How many `/`-separated components were found (at least 4).
        components: usize,
    },
}

/// An OCI platform: the `platform` object of an index entry, plus the fields an image config carries.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Platform {
    /// CPU architecture, Go's `GOARCH` spelling (`amd64`, `arm64`, `arm`, …).
    pub architecture: String,
    /// Operating system, Go's `GOOS` spelling.
    pub os: String,
    /// Windows build, e.g. `10.0.17763.1234`.
    #[serde(
        rename = "os.version",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub os_version: String,
    /// Required OS features (Windows: `win32k`).
    #[serde(rename = "os.features", default, skip_serializing_if = "Vec::is_empty")]
    pub os_features: Vec<String>,
    /// CPU variant (`v7` for arm, `v8` for arm64, `v3` for amd64, …).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub variant: String,
}

impl Platform {
    /// A platform from its parts, exactly as given.
    pub fn new(os: &str, architecture: &str, variant: &str) -> Self {
        Platform {
            architecture: architecture.to_owned(),
            os: os.to_owned(),
            variant: variant.to_owned(),
            ..Platform::default()
        }
    }

    /// The `unknown/unknown` platform docker buildx gives attestation manifests.
    pub fn unknown() -> Self {
        Platform::new("unknown", "unknown", "")
    }

    /// Whether this is the `unknown/unknown` attestation platform.
    pub fn is_unknown(&self) -> bool {
        self.os == "unknown" && self.architecture == "unknown"
    }

    /// The platform this process runs on (`linux/amd64` on an x86-64 Linux host).
    pub fn host() -> Self {
        let (architecture, variant) = normalize_arch(host_arch(), "");
        Platform {
            architecture,
            os: normalize_os(std::env::consts::OS),
            variant,
            ..Platform::default()
        }
    }

    /// Parses `<os>[(<os.version>)]|<arch>|<os>[(<os.version>)]/<arch>[/<variant>]` the way containerd's
    /// `platforms.Parse` does; a lone OS or architecture is completed from the host.
    pub fn parse(specifier: &str) -> Result<Self, Error> {
        if specifier.contains('*') {
            return Err(Error::Wildcard {
                input: specifier.to_owned(),
            });
        }
        let parts: Vec<&str> = specifier.split('/').collect();
        let mut p = Platform::default();
        for (i, part) in parts.iter().enumerate().take(3) {
            let bad = |reason| Error::InvalidComponent {
                input: specifier.to_owned(),
                component: (*part).to_owned(),
                position: i + 1,
                reason,
            };
            if i == 0 {
                let (os, version) = split_os_version(part).ok_or_else(|| {
                    bad("expected <os> or <os>(<version>) with letters, digits, `_` and `-`")
                })?;
                p.os = normalize_os(os);
                version.clone_into(&mut p.os_version);
            } else if part.is_empty()
                || !part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
            {
                return Err(bad("expected letters, digits, `_`, `.` and `-`"));
            }
        }
        match parts.as_slice() {
            [single] => {
                if is_known_os(&p.os) {
                    // containerd fills in the host architecture (and its arm variant when not v7).
                    let (arch, variant) = normalize_arch(host_arch(), "");
                    p.architecture = arch;
                    if p.architecture == "arm" && variant != "v7" {
                        p.variant = variant;
                    }
                    return Ok(p);
                }
                let (arch, variant) = normalize_arch(single, "");
                p.architecture = arch;
                p.variant = if p.architecture == "arm" && variant == "v7" {
                    String::new()
                } else {
                    variant
                };
                if is_known_arch(&p.architecture) {
                    p.os = normalize_os(std::env::consts::OS);
                    p.os_version.clear();
                    return Ok(p);
                }
                Err(Error::Unknown {
                    input: specifier.to_owned(),
                })
            }
            [_, arch] => {
                let (arch, variant) = normalize_arch(arch, "");
                p.architecture = arch;
                p.variant = if p.architecture == "arm" && variant == "v7" {
                    String::new()
                } else {
                    variant
                };
                Ok(p)
            }
            [_, arch, variant] => {
                let (arch, variant) = normalize_arch(arch, variant);
                p.architecture = arch;
                p.variant = if p.architecture == "arm64" && variant.is_empty() {
                    "v8".to_owned()
                } else {
                    variant
                };
                Ok(p)
            }
            _ => Err(Error::TooManyComponents {
                input: specifier.to_owned(),
                components: parts.len(),
            }),
        }
    }

    /// The canonical form used for comparisons (containerd's `Normalize`).
    #[must_use]
    pub fn normalize(&self) -> Self {
        let (architecture, variant) = normalize_arch(&self.architecture, &self.variant);
        Platform {
            architecture,
            os: normalize_os(&self.os),
            variant,
            os_version: self.os_version.clone(),
            os_features: self.os_features.clone(),
        }
    }

    /// Whether an image built for `candidate` satisfies a request for `self`: OS, architecture and variant
    /// equal after normalising both; when `self` names an OS version, the candidate's must be that version
    /// or a more precise one (`10.0.17763` accepts `10.0.17763.1234`).
    pub fn matches(&self, candidate: &Platform) -> bool {
        let want = self.normalize();
        let have = candidate.normalize();
        let version_ok = want.os_version.is_empty()
            || have.os_version == want.os_version
            || have
                .os_version
                .strip_prefix(&want.os_version)
                .is_some_and(|rest| rest.starts_with('.'));
        want.os == have.os
            && want.architecture == have.architecture
            && want.variant == have.variant
            && version_ok
    }

    /// `os/arch[/variant]` without the OS version (containerd's `Format`).
    pub fn format_short(&self) -> String {
        if self.os.is_empty() {
            return "unknown".to_owned();
        }
        join_nonempty(&[&self.os, &self.architecture, &self.variant])
    }
}

/// containerd's `FormatAll`: `os[(version)]/arch[/variant]`.
impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.os.is_empty() {
            return f.write_str("unknown");
        }
        let os = if self.os_version.is_empty() {
            self.os.clone()
        } else {
            format!("{}({})", self.os, self.os_version)
        };
        f.write_str(&join_nonempty(&[&os, &self.architecture, &self.variant]))
    }
}

impl FromStr for Platform {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Platform::parse(s)
    }
}

// Go's path.Join drops empty elements; the platform parts never hold `/` or `..` once parsed, so this is
// the whole of what Join does here.
fn join_nonempty(parts: &[&str]) -> String {
    parts
        .iter()
        .filter(|p| !p.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join("/")
}

fn split_os_version(part: &str) -> Option<(&str, &str)> {
    let os_ok = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'))
    };
    match part.split_once('(') {
        None => os_ok(part).then_some((part, "")),
        Some((os, rest)) => {
            let version = rest.strip_suffix(')')?;
            let version_ok = version
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
            (os_ok(os) && version_ok).then_some((os, version))
        }
    }
}

fn host_arch() -> &'static str {
    // Rust's names for the targets we may run on, in Go's spelling where they differ.
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "x86" => "386",
        "aarch64" => "arm64",
        "powerpc64" => "ppc64",
        "loongarch64" => "loong64",
        other => other,
    }
}

fn normalize_os(os: &str) -> String {
    if os.is_empty() {
        return std::env::consts::OS.to_owned();
    }
    let os = os.to_ascii_lowercase();
    if os == "macos" {
        "darwin".to_owned()
    } else {
        os
    }
}

fn normalize_arch(arch: &str, variant: &str) -> (String, String) {
    let arch = arch.to_ascii_lowercase();
    let variant = variant.to_ascii_lowercase();
    match arch.as_str() {
        "i386" => ("386".to_owned(), String::new()),
        "x86_64" | "x86-64" | "amd64" => {
            let variant = if variant == "v1" {
                String::new()
            } else {
                variant
            };
            ("amd64".to_owned(), variant)
        }
        "aarch64" | "arm64" => {
            let variant = if matches!(variant.as_str(), "8" | "v8") {
                String::new()
            } else {
                variant
            };
            ("arm64".to_owned(), variant)
        }
        "armhf" => ("arm".to_owned(), "v7".to_owned()),
        "armel" => ("arm".to_owned(), "v6".to_owned()),
        "arm" => {
            let variant = match variant.as_str() {
                "" | "7" => "v7".to_owned(),
                "5" | "6" | "8" => format!("v{variant}"),
                _ => variant,
            };
            ("arm".to_owned(), variant)
        }
        _ => (arch, variant),
    }
}

fn is_known_os(os: &str) -> bool {
    matches!(
        os,
        "aix"
            | "android"
            | "darwin"
            | "dragonfly"
            | "freebsd"
            | "hurd"
            | "illumos"
            | "ios"
            | "js"
            | "linux"
            | "nacl"
            | "netbsd"
            | "openbsd"
            | "plan9"
            | "solaris"
            | "windows"
            | "zos"
    )
}

fn is_known_arch(arch: &str) -> bool {
    matches!(
        arch,
        "386"
            | "amd64"
            | "amd64p32"
            | "arm"
            | "armbe"
            | "arm64"
            | "arm64be"
            | "ppc64"
            | "ppc64le"
            | "loong64"
            | "mips"
            | "mipsle"
            | "mips64"
            | "mips64le"
            | "mips64p32"
            | "mips64p32le"
            | "ppc"
            | "riscv"
            | "riscv64"
            | "s390"
            | "s390x"
            | "sparc"
            | "sparc64"
            | "wasm"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Platform {
        Platform::parse(s).unwrap()
    }

    #[test]
    fn parse_keeps_what_containerd_keeps() {
        // (specifier, Parse → Format, Normalize(Parse) → Format)
        let cases = [
            ("linux/amd64", "linux/amd64", "linux/amd64"),
            ("linux/x86_64", "linux/amd64", "linux/amd64"),
            ("linux/x86-64", "linux/amd64", "linux/amd64"),
            ("linux/amd64/v1", "linux/amd64", "linux/amd64"),
            ("linux/amd64/v3", "linux/amd64/v3", "linux/amd64/v3"),
            ("linux/aarch64", "linux/arm64", "linux/arm64"),
            ("linux/arm64", "linux/arm64", "linux/arm64"),
            ("linux/arm64/v8", "linux/arm64/v8", "linux/arm64"),
            ("linux/arm64/8", "linux/arm64/v8", "linux/arm64"),
            ("linux/armhf", "linux/arm", "linux/arm/v7"),
            ("linux/armel", "linux/arm/v6", "linux/arm/v6"),
            ("linux/arm", "linux/arm", "linux/arm/v7"),
            ("linux/arm/7", "linux/arm/v7", "linux/arm/v7"),
            ("linux/arm/5", "linux/arm/v5", "linux/arm/v5"),
            ("linux/i386", "linux/386", "linux/386"),
            ("Linux/AMD64", "linux/amd64", "linux/amd64"),
            ("macos/arm64", "darwin/arm64", "darwin/arm64"),
            ("unknown/unknown", "unknown/unknown", "unknown/unknown"),
            ("linux/riscv64", "linux/riscv64", "linux/riscv64"),
        ];
        for (spec, parsed, normalized) in cases {
            let got = p(spec);
            assert_eq!(got.to_string(), parsed, "Parse({spec})");
            assert_eq!(got.normalize().to_string(), normalized, "Normalize({spec})");
        }
    }

    #[test]
    fn windows_os_version() {
        let w = p("windows(10.0.17763)/amd64");
        assert_eq!(w.os, "windows");
        assert_eq!(w.os_version, "10.0.17763");
        assert_eq!(w.to_string(), "windows(10.0.17763)/amd64");
        assert_eq!(w.format_short(), "windows/amd64");
        let mut build = Platform::new("windows", "amd64", "");
        build.os_version = "10.0.17763.5122".to_owned();
        assert!(w.matches(&build));
        build.os_version = "10.0.20348.1".to_owned();
        assert!(!w.matches(&build));
        build.os_version = "10.0.177630".to_owned();
        assert!(!w.matches(&build));
        assert!(p("windows/amd64").matches(&build));
    }

    #[test]
    fn single_word_completes_from_the_host() {
        let host = Platform::host();
        let linux = p("linux");
        assert_eq!(linux.os, "linux");
        assert_eq!(linux.architecture, host.architecture);
        let arm = p("armhf");
        assert_eq!(arm.os, normalize_os(std::env::consts::OS));
        assert_eq!(arm.format_short(), format!("{}/arm", arm.os));
        assert!(matches!(
            Platform::parse("unknown"),
            Err(Error::Unknown { .. })
        ));
    }

    #[test]
    fn rejects_bad_specifiers() {
        assert!(matches!(
            Platform::parse("linux/*"),
            Err(Error::Wildcard { .. })
        ));
        assert!(matches!(
            Platform::parse("linux/amd64/v1/x"),
            Err(Error::TooManyComponents { components: 4, .. })
        ));
        assert!(matches!(
            Platform::parse("linux/am d64"),
            Err(Error::InvalidComponent { position: 2, .. })
        ));
        assert!(matches!(
            Platform::parse("lin.ux/amd64"),
            Err(Error::InvalidComponent { position: 1, .. })
        ));
        assert!(matches!(
            Platform::parse("linux//"),
            Err(Error::InvalidComponent { position: 2, .. })
        ));
        assert!(Platform::parse("").is_err());
    }

    #[test]
    fn matching_normalises_both_sides() {
        assert!(p("linux/arm64").matches(&Platform::new("linux", "arm64", "v8")));
        assert!(p("linux/arm64/v8").matches(&Platform::new("linux", "aarch64", "")));
        assert!(p("linux/armhf").matches(&Platform::new("linux", "arm", "v7")));
        assert!(p("linux/arm").matches(&Platform::new("linux", "arm", "")));
        assert!(!p("linux/arm").matches(&Platform::new("linux", "arm", "v6")));
        assert!(p("linux/x86_64").matches(&Platform::new("linux", "amd64", "")));
        assert!(!p("linux/amd64").matches(&Platform::new("linux", "amd64", "v3")));
        assert!(!p("linux/amd64").matches(&Platform::unknown()));
    }

    #[test]
    fn serde_uses_oci_field_names() {
        let mut w = Platform::new("windows", "amd64", "");
        w.os_version = "10.0".to_owned();
        let json = serde_json::to_string(&w).unwrap();
        assert_eq!(
            json,
            r#"{"architecture":"amd64","os":"windows","os.version":"10.0"}"#
        );
        let back: Platform = serde_json::from_str(&json).unwrap();
        assert_eq!(back, w);
    }
}
