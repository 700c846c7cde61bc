//! cmd/go's `fixVersion` for main go.mod files: a require, exclude or replacement version that is not
//! canonical is resolved with a module query (`modload.Query` with no current version and no
//! restrictions) against the module source: `v1.2` is the highest `v1.2.x`, `latest` the highest
//! release, `<v1.2.5` the highest below it, `v1.2.3+meta` the tag `v1.2.3`, anything else a revision
//! the proxy is asked about (`@v/REV.info`).

use crate::modfile::FixError;
use crate::module;
use crate::source::{self, ModuleSource};
use crate::version;

use super::load::source_message;

/// Resolves `vers` of `path` as fixVersion does, or says why it cannot (go's texts).
pub(crate) fn fix_version(
    source: &dyn ModuleSource,
    path: &str,
    vers: &str,
) -> Result<String, FixError> {
    let mut vers = vers;
    // The old `-gopkgin-` hack in gopkg.in versions.
    if path.starts_with("gopkg.in/")
        && let Some(i) = vers.find("-gopkgin-")
    {
        vers = &vers[i + "-gopkgin-".len()..];
    }
    if module::split_path_version(path).is_none() {
        return Err(FixError::Module {
            message: format!(
                "version {} invalid: malformed module path {}",
                quote(vers),
                quote(path)
            ),
        });
    }
    query(source, path, vers)
}

fn quote(s: &str) -> String {
    crate::modfile::chars::quote(s)
}

// What the query accepts (newQueryMatcher with current "").
enum Matcher {
    // An exact version or a revision: asked of the proxy directly.
    Stat,
    // Versions with `prefix`, passing `filter`; `prefer_lower` picks the lowest.
    List {
        prefix: String,
        filter: Box<dyn Fn(&str) -> bool>,
        prefer_lower: bool,
        prefer_incompatible: bool,
    },
}

fn matcher(path: &str, query: &str) -> Result<Matcher, FixError> {
    let other = |message: String| FixError::Other { message };
    let bad = |v: &str| {
        other(format!(
            "invalid semantic version {} in range {}",
            quote(v),
            quote(query)
        ))
    };
    let ambiguous = |v: &str| {
        other(format!(
            "ambiguous semantic version {} in range {}",
            quote(v),
            quote(query)
        ))
    };
    let matches_major = |v: &str| {
        module::split_path_version(path)
            .is_some_and(|(_, major)| module::check_path_major(v, major).is_ok())
    };
    let owned = |v: &str| v.to_owned();
    let p = path.to_owned();
    let m = match query {
        "latest" | "upgrade" => Matcher::List {
            prefix: String::new(),
            filter: Box::new(|_| true),
            prefer_lower: false,
            prefer_incompatible: false,
        },
        "patch" => {
            return Err(other(format!(
                "can't query version \"patch\" of module {path}: no existing version is required"
            )));
        }
        q if q.starts_with("<=")
            || q.starts_with('<')
            || q.starts_with(">=")
            || q.starts_with('>') =>
        {
            let (op, v) = if let Some(v) = q.strip_prefix("<=") {
                ("<=", v)
            } else if let Some(v) = q.strip_prefix(">=") {
                (">=", v)
            } else {
                (&q[..1], &q[1..])
            };
            if !version::is_valid(v) {
                return Err(bad(v));
            }
            if matches!(op, "<=" | ">") && is_prefix(v) {
                return Err(ambiguous(v));
            }
            let bound = owned(v);
            let filter: Box<dyn Fn(&str) -> bool> = match op {
                "<=" => Box::new(move |mv| version::compare(mv, &bound).is_le()),
                "<" => Box::new(move |mv| version::compare(mv, &bound).is_lt()),
                ">=" => Box::new(move |mv| version::compare(mv, &bound).is_ge()),
                _ => Box::new(move |mv| version::compare(mv, &bound).is_gt()),
            };
            Matcher::List {
                prefix: String::new(),
                filter,
                prefer_lower: op.starts_with('>'),
                prefer_incompatible: !matches_major(v),
            }
        }
        q if version::is_valid(q) => {
            if is_prefix(q) {
                let low = owned(q);
                let _ = &p;
                Matcher::List {
                    prefix: format!("{q}."),
                    // `v1.2` does not match the pre-releases of v1.2.0.
                    filter: Box::new(move |mv| version::compare(mv, &low).is_ge()),
                    prefer_lower: false,
                    prefer_incompatible: !matches_major(q),
                }
            } else {
                Matcher::Stat
            }
        }
        _ => Matcher::Stat,
    };
    Ok(m)
}

// gover.ModIsPrefix for module versions: `vX` or `vX.Y`.
fn is_prefix(v: &str) -> bool {
    let Some(rest) = v.strip_prefix('v') else {
        return false;
    };
    let parts: Vec<&str> = rest.split('.').collect();
    parts.len() <= 2
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

fn query(source: &dyn ModuleSource, path: &str, query: &str) -> Result<String, FixError> {
    match matcher(path, query)? {
        Matcher::Stat => {
            let stat = |v: &str| source.info(path, v).map(|i| i.version);
            match stat(query) {
                Ok(v) => Ok(v),
                Err(first) => {
                    // A semantic version with +metadata: the tag without it.
                    if let Some(canonical) = version::canonical_module_version(query)
                        && canonical != query
                    {
                        match stat(&canonical) {
                            Ok(v) => return Ok(v),
                            Err(e) if !e.is_not_found() => {
                                return Err(info_error(source, &e, &canonical));
                            }
                            Err(_) => {}
                        }
                    }
                    Err(info_error(source, &first, query))
                }
            }
        }
        Matcher::List {
            prefix,
            filter,
            prefer_lower,
            prefer_incompatible,
        } => {
            let mut versions: Vec<String> = source
                .list(path)
                .map_err(|e| FixError::Module {
                    message: list_message(source, &e, path),
                })?
                .into_iter()
                .filter(|v| {
                    version::is_valid(v)
                        && v.starts_with(&prefix)
                        && !crate::pseudo::is_pseudo_version(v)
                })
                .collect();
            // semver.Sort: by precedence, then by text.
            versions.sort_by(|a, b| version::compare(a, b).then_with(|| a.cmp(b)));
            versions.dedup();
            let (releases, prereleases) =
                filter_versions(source, path, &versions, &*filter, prefer_incompatible);
            let pick = |list: &[String]| {
                if prefer_lower {
                    list.first().cloned()
                } else {
                    list.last().cloned()
                }
            };
            let Some(v) = pick(&releases).or_else(|| pick(&prereleases)) else {
                // `latest` and `upgrade` (nothing required yet) fall back to the proxy's `@latest`,
                // whose version is taken as it is (cmd/go's Stat of it hits the answer just cached).
                if matches!(query, "latest" | "upgrade") {
                    match source.latest(path) {
                        Ok(info) => return Ok(info.version),
                        Err(e) if e.is_not_found() => {}
                        Err(e) => {
                            return Err(FixError::Module {
                                message: e.to_string(),
                            });
                        }
                    }
                }
                return Err(FixError::Other {
                    message: format!("no matching versions for query {}", quote(query)),
                });
            };
            source
                .info(path, &v)
                .map(|i| i.version)
                .map_err(|e| info_error(source, &e, &v))
        }
    }
}

// queryMatcher.filterVersions: `+incompatible` versions count only when the latest compatible version
// before them has no go.mod of its own (its served go.mod is the synthesized `module PATH`).
fn filter_versions(
    source: &dyn ModuleSource,
    path: &str,
    versions: &[String],
    filter: &dyn Fn(&str) -> bool,
    prefer_incompatible: bool,
) -> (Vec<String>, Vec<String>) {
    let mut need_incompatible = prefer_incompatible;
    let mut last_compatible: Option<&str> = None;
    let (mut releases, mut prereleases) = (Vec::new(), Vec::new());
    for v in versions {
        if !filter(v) {
            continue;
        }
        if !need_incompatible {
            if !v.ends_with("+incompatible") {
                last_compatible = Some(v);
            } else if let Some(last) = last_compatible {
                let synthesized = format!("module {}\n", crate::modfile::auto_quote(path));
                let has_go_mod = source
                    .go_mod(path, last)
                    .is_ok_and(|data| data != synthesized.as_bytes());
                if has_go_mod {
                    break;
                }
                need_incompatible = true;
            }
        }
        if version::prerelease(v).unwrap_or("").is_empty() {
            releases.push(v.clone());
        } else {
            prereleases.push(v.clone());
        }
    }
    (releases, prereleases)
}

// proxyRepo.Stat's error: a module error about the version.
fn info_error(source: &dyn ModuleSource, e: &source::Error, v: &str) -> FixError {
    let reason = match e {
        source::Error::NotFound { source_name, .. } if source_name.starts_with("file://") => {
            source_message(source, e, "info")
        }
        other => other.to_string(),
    };
    FixError::Module {
        message: format!("version {} invalid: {reason}", quote(v)),
    }
}

fn list_message(source: &dyn ModuleSource, e: &source::Error, path: &str) -> String {
    match e {
        source::Error::NotFound { source_name, .. } if source_name.starts_with("file://") => {
            let escaped = module::escape_path(path).unwrap_or_else(|_| path.to_owned());
            format!(
                "reading {source_name}/{}/@v/list: no such file or directory",
                source::path_escape(&escaped)
            )
        }
        other => {
            let _ = source;
            other.to_string()
        }
    }
}
