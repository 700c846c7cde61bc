//! Versions as the Go toolchain reads them.
//!
//! Two different orders live here:
//! - **module versions** (`v1.2.3`, `v1.2`, `v2.0.0-rc.1+incompatible`): Go's semver, the rules of
//!   `golang.org/x/mod/semver` — the leading `v` is required, `vX` and `vX.Y` are shorthands for `vX.0.0` and
//!   `vX.Y.0`, build metadata is ignored when comparing;
//! - **Go versions** (`1.21`, `1.21rc1`, `1.21.0`, as written on `go` and `toolchain` lines): the order of
//!   `go/version` and cmd/go's `gover`, where the language version `1.21` sorts before its release candidates
//!   and `1.21rc1` before the release `1.21.0`.
//!
//! Everything here is a pure function on `&str`: versions are passed around as the strings users wrote.

use std::cmp::Ordering;

// The pieces of a valid module version, each a slice of the input (empty when absent).
#[derive(Debug, Clone, Copy, Default)]
struct Parsed<'a> {
    major: &'a str,
    minor: &'a str,
    patch: &'a str,
    // What `canonical` appends for shorthands: ".0.0", ".0" or "".
    short: &'static str,
    prerelease: &'a str,
    build: &'a str,
}

fn parse(v: &str) -> Option<Parsed<'_>> {
    let rest = v.strip_prefix('v')?;
    let mut p = Parsed::default();
    let (major, rest) = parse_int(rest)?;
    p.major = major;
    if rest.is_empty() {
        p.minor = "0";
        p.patch = "0";
        p.short = ".0.0";
        return Some(p);
    }
    let (minor, rest) = parse_int(rest.strip_prefix('.')?)?;
    p.minor = minor;
    if rest.is_empty() {
        p.patch = "0";
        p.short = ".0";
        return Some(p);
    }
    let (patch, mut rest) = parse_int(rest.strip_prefix('.')?)?;
    p.patch = patch;
    if rest.starts_with('-') {
        let (pre, after) = parse_prerelease(rest)?;
        p.prerelease = pre;
        rest = after;
    }
    if rest.starts_with('+') {
        let (build, after) = parse_build(rest)?;
        p.build = build;
        rest = after;
    }
    rest.is_empty().then_some(p)
}

// A decimal with no superfluous leading zero.
fn parse_int(v: &str) -> Option<(&str, &str)> {
    let n = v.bytes().take_while(u8::is_ascii_digit).count();
    if n == 0 || (v.as_bytes()[0] == b'0' && n != 1) {
        return None;
    }
    Some(v.split_at(n))
}

fn is_ident_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'-'
}

// A numeric identifier with a leading zero ("01") is not allowed in a pre-release.
fn is_bad_num(v: &str) -> bool {
    v.len() > 1 && v.starts_with('0') && v.bytes().all(|b| b.is_ascii_digit())
}

fn is_num(v: &str) -> bool {
    v.bytes().all(|b| b.is_ascii_digit())
}

fn parse_prerelease(v: &str) -> Option<(&str, &str)> {
    let end = v[1..].find('+').map_or(v.len(), |i| i + 1);
    let body = &v[1..end];
    let ok = body
        .split('.')
        .all(|ident| !ident.is_empty() && ident.bytes().all(is_ident_char) && !is_bad_num(ident));
    ok.then(|| v.split_at(end))
}

fn parse_build(v: &str) -> Option<(&str, &str)> {
    let body = &v[1..];
    let ok = body
        .split('.')
        .all(|ident| !ident.is_empty() && ident.bytes().all(is_ident_char));
    ok.then_some((v, ""))
}

/// Whether `v` is a valid Go semantic version (`semver.IsValid`): `v` followed by `X`, `X.Y` or
/// `X.Y.Z[-pre][+build]`.
///
/// ```
/// use slipway_gomod::version;
/// assert!(version::is_valid("v1.2"));
/// assert!(!version::is_valid("1.2.3"));
/// assert!(!version::is_valid("v1.2-pre"));
/// ```
pub fn is_valid(v: &str) -> bool {
    parse(v).is_some()
}

/// The canonical form of `v` (`semver.Canonical`): shorthands filled in, build metadata dropped.
/// `None` when `v` is invalid.
///
/// ```
/// use slipway_gomod::version;
/// assert_eq!(version::canonical("v1.2").as_deref(), Some("v1.2.0"));
/// assert_eq!(version::canonical("v2.0.0+incompatible").as_deref(), Some("v2.0.0"));
/// ```
pub fn canonical(v: &str) -> Option<String> {
    let p = parse(v)?;
    if !p.build.is_empty() {
        return Some(v[..v.len() - p.build.len()].to_owned());
    }
    Some(format!("{v}{}", p.short))
}

/// The canonical form of a module version (`module.CanonicalVersion`): like [`canonical`] but keeps an
/// `+incompatible` suffix, which is meaningful to the module system.
pub fn canonical_module_version(v: &str) -> Option<String> {
    let mut cv = canonical(v)?;
    if build(v) == Some("+incompatible") {
        cv.push_str("+incompatible");
    }
    Some(cv)
}

/// [`canonical_module_version`] without a copy when `v` is already canonical in the common plain form
/// (`vMAJOR.MINOR.PATCH`, no pre-release or build): graph loading canonicalizes thousands of versions.
pub(crate) fn canonical_module_version_cow(v: &str) -> Option<std::borrow::Cow<'_, str>> {
    if is_plain_release(v) {
        return Some(std::borrow::Cow::Borrowed(v));
    }
    canonical_module_version(v).map(std::borrow::Cow::Owned)
}

// `v` then three dot-separated decimal numbers without leading zeros: canonical as it stands.
pub(crate) fn is_plain_release(v: &str) -> bool {
    plain_release(v).is_some()
}

// The three numbers of a plain release (see `is_plain_release`).
fn plain_release(v: &str) -> Option<[&str; 3]> {
    let b = v.as_bytes();
    if b.first() != Some(&b'v') {
        return None;
    }
    let mut ends = [0usize; 3];
    let mut i = 1;
    for (k, end) in ends.iter_mut().enumerate() {
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start || (i - start > 1 && b[start] == b'0') {
            return None;
        }
        *end = i;
        if k < 2 {
            if b.get(i) != Some(&b'.') {
                return None;
            }
            i += 1;
        }
    }
    if i != b.len() {
        return None;
    }
    // Only ASCII digits and dots were read: every index is a character boundary.
    Some([&v[1..ends[0]], &v[ends[0] + 1..ends[1]], &v[ends[1] + 1..]])
}

/// The major version prefix (`semver.Major`): `"v2"` for `v2.1.0`. `None` when `v` is invalid.
pub fn major(v: &str) -> Option<&str> {
    if let Some([major, _, _]) = plain_release(v) {
        return Some(&v[..=major.len()]);
    }
    let p = parse(v)?;
    Some(&v[..=p.major.len()])
}

/// The major.minor prefix (`semver.MajorMinor`): `"v2.1"` for `v2.1.0`, `"v2.0"` for `v2`. `None` when `v`
/// is invalid.
pub fn major_minor(v: &str) -> Option<String> {
    let p = parse(v)?;
    let i = 1 + p.major.len();
    let j = i + 1 + p.minor.len();
    if j <= v.len() && v.as_bytes()[i] == b'.' && &v[i + 1..j] == p.minor {
        return Some(v[..j].to_owned());
    }
    Some(format!("{}.{}", &v[..i], p.minor))
}

/// The pre-release suffix including its `-` (`semver.Prerelease`): `"-rc.1"` for `v1.0.0-rc.1+b`.
/// `Some("")` for a valid version without one; `None` when `v` is invalid.
pub fn prerelease(v: &str) -> Option<&str> {
    parse(v).map(|p| p.prerelease)
}

/// The build suffix including its `+` (`semver.Build`): `"+incompatible"` for `v2.0.0+incompatible`.
/// `Some("")` for a valid version without one; `None` when `v` is invalid.
pub fn build(v: &str) -> Option<&str> {
    parse(v).map(|p| p.build)
}

/// Compares two module versions (`semver.Compare`). Invalid versions sort before all valid ones and are
/// equal to each other; build metadata is ignored, so `v1.0.0+a` equals `v1.0.0+b`.
///
/// ```
/// use std::cmp::Ordering;
/// use slipway_gomod::version;
/// assert_eq!(version::compare("v1.19", "v1.2"), Ordering::Greater);
/// assert_eq!(version::compare("v1.0.0-rc.1", "v1.0.0"), Ordering::Less);
/// assert_eq!(version::compare("bad", "v0.0.0"), Ordering::Less);
/// ```
pub fn compare(a: &str, b: &str) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    if let (Some(pa), Some(pb)) = (plain_release(a), plain_release(b)) {
        return cmp_int(pa[0], pb[0])
            .then_with(|| cmp_int(pa[1], pb[1]))
            .then_with(|| cmp_int(pa[2], pb[2]));
    }
    match (parse(a), parse(b)) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (Some(pa), Some(pb)) => cmp_int(pa.major, pb.major)
            .then_with(|| cmp_int(pa.minor, pb.minor))
            .then_with(|| cmp_int(pa.patch, pb.patch))
            .then_with(|| cmp_prerelease(pa.prerelease, pb.prerelease)),
    }
}

/// The larger of two versions in canonical form (`semver.Max`); on a tie, the canonical form of `b`.
pub fn max(a: &str, b: &str) -> String {
    let a = canonical(a).unwrap_or_default();
    let b = canonical(b).unwrap_or_default();
    if compare(&a, &b) == Ordering::Greater {
        a
    } else {
        b
    }
}

/// Sorts versions in increasing order (`semver.Sort`); versions that compare equal are ordered as strings,
/// so the result does not depend on the input order.
pub fn sort(list: &mut [String]) {
    list.sort_by(|a, b| compare(a, b).then_with(|| a.cmp(b)));
}

// Decimal strings without leading zeros compare by length first, then lexically.
fn cmp_int(x: &str, y: &str) -> Ordering {
    x.len().cmp(&y.len()).then_with(|| x.cmp(y))
}

fn cmp_prerelease(x: &str, y: &str) -> Ordering {
    if x == y {
        return Ordering::Equal;
    }
    // A release sorts after all of its pre-releases.
    if x.is_empty() {
        return Ordering::Greater;
    }
    if y.is_empty() {
        return Ordering::Less;
    }
    let mut xs = x[1..].split('.');
    let mut ys = y[1..].split('.');
    loop {
        match (xs.next(), ys.next()) {
            (Some(dx), Some(dy)) => {
                if dx == dy {
                    continue;
                }
                let (nx, ny) = (is_num(dx), is_num(dy));
                // Numeric identifiers sort before alphanumeric ones.
                return match (nx, ny) {
                    (true, false) => Ordering::Less,
                    (false, true) => Ordering::Greater,
                    (true, true) => cmp_int(dx, dy),
                    (false, false) => dx.cmp(dy),
                };
            }
            // The shorter list of otherwise equal identifiers sorts first.
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (None, None) => return Ordering::Equal,
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// Go versions (go/version, cmd/go/internal/gover)

// A parsed Go version; `patch` and `pre` are empty when absent, which matters: `1.21` (no patch) is the
// language version and sorts before `1.21rc1` and `1.21.0`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct GoVersion<'a> {
    major: &'a str,
    minor: &'a str,
    patch: &'a str,
    kind: &'a str,
    pre: &'a str,
}

// `gover.Parse`: `None` for an invalid version.
fn parse_go(x: &str) -> Option<GoVersion<'_>> {
    let mut v = GoVersion::default();
    let (major, x) = cut_int(x)?;
    v.major = major;
    if x.is_empty() {
        v.minor = "0";
        v.patch = "0";
        return Some(v);
    }
    let (minor, x) = cut_int(x.strip_prefix('.')?)?;
    v.minor = minor;
    if x.is_empty() {
        // Before Go 1.21 the first release of a minor version was named 1.N, so 1.N means 1.N.0.
        if cmp_int(minor, "21") == Ordering::Less {
            v.patch = "0";
        }
        return Some(v);
    }
    if let Some(rest) = x.strip_prefix('.') {
        let (patch, rest) = cut_int(rest)?;
        v.patch = patch;
        return rest.is_empty().then_some(v);
    }
    let n = x.bytes().take_while(|b| !b.is_ascii_digit()).count();
    if n == 0 || !x[..n].bytes().all(|b| b.is_ascii_lowercase()) {
        return None;
    }
    let (kind, x) = x.split_at(n);
    v.kind = kind;
    if x.is_empty() {
        return Some(v);
    }
    let (pre, x) = cut_int(x)?;
    v.pre = pre;
    x.is_empty().then_some(v)
}

fn cut_int(x: &str) -> Option<(&str, &str)> {
    parse_int(x)
}

/// Whether `v` is a valid Go version in the sense of `go/version` (without the `go` prefix): `1`, `1.21`,
/// `1.21.3`, `1.21rc1`, `1.22beta2`.
pub fn is_valid_go(v: &str) -> bool {
    parse_go(v).is_some()
}

/// Whether `v` is accepted on a `go` line of go.mod or go.work (x/mod's `GoVersionRE`): `1.N`, `1.N.P` or
/// either followed by a pre-release like `rc1`; no leading zeros.
pub fn is_valid_go_line(v: &str) -> bool {
    let Some((major, rest)) = parse_int(v) else {
        return false;
    };
    if major == "0" {
        return false;
    }
    let Some((_, mut rest)) = rest.strip_prefix('.').and_then(parse_int) else {
        return false;
    };
    if let Some(after) = rest.strip_prefix('.') {
        let Some((_, after)) = parse_int(after) else {
            return false;
        };
        rest = after;
    }
    if rest.is_empty() {
        return true;
    }
    let letters = rest.bytes().take_while(u8::is_ascii_lowercase).count();
    let digits = rest[letters..]
        .bytes()
        .take_while(u8::is_ascii_digit)
        .count();
    letters > 0 && digits > 0 && letters + digits == rest.len()
}

/// Whether `name` is accepted on a `toolchain` line (x/mod's `ToolchainRE`): `default`, `go1` or `go1.…`.
pub fn is_valid_toolchain_line(name: &str) -> bool {
    name == "default" || name == "go1" || name.starts_with("go1.")
}

/// The Go version a toolchain name stands for (cmd/go's `gover.FromToolchain`): `go1.21.3` -> `1.21.3`,
/// `go1.22rc1-bigcorp` -> `1.22rc1`. `None` for `default`, paths and invalid names.
pub fn from_toolchain(name: &str) -> Option<&str> {
    if name.contains(['\\', '/']) {
        return None;
    }
    let v = name.strip_prefix("go")?;
    // A custom suffix after a space, tab or dash is not part of the version.
    let v = v.find([' ', '\t', '-']).map_or(v, |i| &v[..i]);
    is_valid_go(v).then_some(v)
}

/// Compares Go versions (`gover.Compare`): invalid versions sort first and equal each other;
/// `1.21 < 1.21rc1 < 1.21.0 < 1.21.1`, `1.20 == 1.20.0`, `alpha < beta < rc`.
///
/// ```
/// use std::cmp::Ordering;
/// use slipway_gomod::version::compare_go;
/// assert_eq!(compare_go("1.21", "1.21rc1"), Ordering::Less);
/// assert_eq!(compare_go("1.21rc1", "1.21.0"), Ordering::Less);
/// assert_eq!(compare_go("1.20", "1.20.0"), Ordering::Equal);
/// ```
pub fn compare_go(a: &str, b: &str) -> Ordering {
    let va = parse_go(a).unwrap_or_default();
    let vb = parse_go(b).unwrap_or_default();
    cmp_int(va.major, vb.major)
        .then_with(|| cmp_int(va.minor, vb.minor))
        .then_with(|| cmp_int(va.patch, vb.patch))
        .then_with(|| va.kind.cmp(vb.kind))
        .then_with(|| cmp_int(va.pre, vb.pre))
}

/// The larger of two Go versions (`gover.Max`); `a` on a tie.
pub fn max_go<'a>(a: &'a str, b: &'a str) -> &'a str {
    if compare_go(a, b) == Ordering::Less {
        b
    } else {
        a
    }
}

/// The language version of a Go version (`gover.Lang`): `1.21.3` -> `1.21`, `1.0` -> `1`. `None` when
/// invalid.
pub fn go_lang(v: &str) -> Option<String> {
    let p = parse_go(v)?;
    if p.minor.is_empty() || (p.major == "1" && p.minor == "0") {
        return Some(p.major.to_owned());
    }
    Some(format!("{}.{}", p.major, p.minor))
}

/// Whether `v` is a language version (`gover.IsLang`): `1.21`, `1.22`, but not `1.20` (which means
/// `1.20.0`), `1.21.0` or `1.21rc1`.
pub fn is_go_lang(v: &str) -> bool {
    parse_go(v).is_some_and(|p| p.patch.is_empty() && p.kind.is_empty() && p.pre.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_borrowed_canonical_form_agrees_with_the_owned_one() {
        for v in [
            "v1.2.3",
            "v0.0.0",
            "v10.20.30",
            "v01.2.3",
            "v1.02.3",
            "v1.2",
            "v1",
            "v1.2.3.4",
            "v1.2.",
            "1.2.3",
            "v1.2.3+incompatible",
            "v1.2.3-pre",
            "v1..3",
            "v",
            "",
        ] {
            assert_eq!(
                canonical_module_version_cow(v).map(std::borrow::Cow::into_owned),
                canonical_module_version(v),
                "{v}"
            );
        }
    }

    // x/mod semver_test.go's table, in increasing order: (input, canonical or "" when invalid).
    const TESTS: &[(&str, &str)] = &[
        ("bad", ""),
        ("v1-alpha.beta.gamma", ""),
        ("v1-pre", ""),
        ("v1+meta", ""),
        ("v1-pre+meta", ""),
        ("v1.2-pre", ""),
        ("v1.2+meta", ""),
        ("v1.2-pre+meta", ""),
        ("v1.0.0-alpha", "v1.0.0-alpha"),
        ("v1.0.0-alpha.1", "v1.0.0-alpha.1"),
        ("v1.0.0-alpha.beta", "v1.0.0-alpha.beta"),
        ("v1.0.0-beta", "v1.0.0-beta"),
        ("v1.0.0-beta.2", "v1.0.0-beta.2"),
        ("v1.0.0-beta.11", "v1.0.0-beta.11"),
        ("v1.0.0-rc.1", "v1.0.0-rc.1"),
        ("v1", "v1.0.0"),
        ("v1.0", "v1.0.0"),
        ("v1.0.0", "v1.0.0"),
        ("v1.2", "v1.2.0"),
        ("v1.2.0", "v1.2.0"),
        ("v1.2.3-456", "v1.2.3-456"),
        ("v1.2.3-456.789", "v1.2.3-456.789"),
        ("v1.2.3-456-789", "v1.2.3-456-789"),
        ("v1.2.3-456a", "v1.2.3-456a"),
        ("v1.2.3-pre", "v1.2.3-pre"),
        ("v1.2.3-pre+meta", "v1.2.3-pre"),
        ("v1.2.3-pre.1", "v1.2.3-pre.1"),
        ("v1.2.3-zzz", "v1.2.3-zzz"),
        ("v1.2.3", "v1.2.3"),
        ("v1.2.3+meta", "v1.2.3"),
        ("v1.2.3+meta-pre", "v1.2.3"),
        ("v1.2.3+meta-pre.sha.256a", "v1.2.3"),
    ];

    #[test]
    fn validity_and_canonical_form() {
        for &(input, out) in TESTS {
            assert_eq!(is_valid(input), !out.is_empty(), "{input}");
            assert_eq!(canonical(input).unwrap_or_default(), out, "{input}");
        }
    }

    #[test]
    fn parts() {
        for &(input, out) in TESTS {
            let want_major = out.find('.').map(|i| &out[..i]);
            assert_eq!(major(input), want_major, "{input}");
            if out.is_empty() {
                assert_eq!(major_minor(input), None);
                assert_eq!(prerelease(input), None);
                assert_eq!(build(input), None);
                continue;
            }
            let mut want = input;
            if let Some(i) = want.find('+') {
                want = &want[..i];
            }
            if let Some(i) = want.find('-') {
                want = &want[..i];
            }
            let want = match want.matches('.').count() {
                0 => format!("{want}.0"),
                1 => want.to_owned(),
                _ => want[..want.rfind('.').unwrap()].to_owned(),
            };
            assert_eq!(major_minor(input).unwrap(), want, "{input}");
            assert_eq!(
                prerelease(input).unwrap(),
                out.find('-').map_or("", |i| &out[i..])
            );
            assert_eq!(
                build(input).unwrap(),
                input.find('+').map_or("", |i| &input[i..])
            );
        }
    }

    #[test]
    fn table_is_ordered() {
        for (i, &(vi, oi)) in TESTS.iter().enumerate() {
            for (j, &(vj, oj)) in TESTS.iter().enumerate() {
                let want = if oi == oj { Ordering::Equal } else { i.cmp(&j) };
                assert_eq!(compare(vi, vj), want, "{vi} vs {vj}");
                let want_max = if i < j { canonical(vj) } else { canonical(vi) };
                assert_eq!(max(vi, vj), want_max.unwrap_or_default(), "max({vi}, {vj})");
            }
        }
        assert_eq!(compare("v1", "v1"), Ordering::Equal);
        assert_eq!(compare("v2", "v1"), Ordering::Greater);
        assert_eq!(compare("v1.19", "v1.2"), Ordering::Greater);
    }

    #[test]
    fn sorting_is_deterministic() {
        let mut list: Vec<String> = TESTS.iter().rev().map(|(v, _)| (*v).to_owned()).collect();
        sort(&mut list);
        for pair in list.windows(2) {
            assert_ne!(compare(&pair[0], &pair[1]), Ordering::Greater);
            if compare(&pair[0], &pair[1]) == Ordering::Equal {
                assert!(pair[0] <= pair[1]);
            }
        }
        assert_eq!(list[0], "bad");
    }

    #[test]
    fn module_canonical_keeps_incompatible() {
        assert_eq!(
            canonical_module_version("v2.0+incompatible"),
            None,
            "shorthands take no build suffix"
        );
        assert_eq!(
            canonical_module_version("v2.0.0+incompatible").as_deref(),
            Some("v2.0.0+incompatible")
        );
        assert_eq!(
            canonical_module_version("v2.0.0+meta").as_deref(),
            Some("v2.0.0")
        );
        assert_eq!(canonical_module_version("v1.2").as_deref(), Some("v1.2.0"));
    }

    // go/version and internal/gover tests.
    #[test]
    fn go_version_order() {
        let table: &[(&str, &str, i8)] = &[
            ("", "", 0),
            ("x", "x", 0),
            ("", "x", 0),
            ("1", "1.1", -1),
            ("1.5", "1.6", -1),
            ("1.5", "1.10", -1),
            ("1.6", "1.6.1", -1),
            ("1.19", "1.19.0", 0),
            ("1.19rc1", "1.19", -1),
            ("1.20", "1.20.0", 0),
            ("1.20rc1", "1.20", -1),
            ("1.21", "1.21.0", -1),
            ("1.21", "1.21rc1", -1),
            ("1.21rc1", "1.21.0", -1),
            ("1.6", "1.19", -1),
            ("1.19", "1.19.1", -1),
            ("1.19rc1", "1.19.1", -1),
            ("1.19rc1", "1.19rc2", -1),
            ("1.19.0", "1.19.1", -1),
            ("1.19rc1", "1.19.0", -1),
            ("1.19alpha3", "1.19beta2", -1),
            ("1.19beta2", "1.19rc1", -1),
            ("1.1", "1.99999999999999998", -1),
            ("1.99999999999999998", "1.99999999999999999", -1),
        ];
        for &(a, b, want) in table {
            let want = want.cmp(&0);
            assert_eq!(compare_go(a, b), want, "{a} vs {b}");
            assert_eq!(compare_go(b, a), want.reverse(), "{b} vs {a}");
        }
        assert_eq!(max_go("1.21", "1.21rc1"), "1.21rc1");
    }

    #[test]
    fn go_version_parts() {
        for (v, valid) in [
            ("1.2rc3", true),
            ("1.2.3", true),
            ("1.999testmod", true),
            ("1.600+auto", false),
            ("1.22", true),
            ("1.21.0", true),
            ("1.21rc2", true),
            ("1.20", true),
            ("1", true),
            ("01.2", false),
            ("1.02", false),
            ("1.2RC1", false),
        ] {
            assert_eq!(is_valid_go(v), valid, "{v}");
        }
        for (v, lang) in [
            ("1.2rc3", false),
            ("1.2.3", false),
            ("1.999testmod", false),
            ("1.22", true),
            ("1.21", true),
            ("1.20", false),
            ("1.2", false),
            ("1", false),
        ] {
            assert_eq!(is_go_lang(v), lang, "{v}");
        }
        for (v, lang) in [
            ("1.2rc3", "1.2"),
            ("1.2.3", "1.2"),
            ("1.2", "1.2"),
            ("1", "1"),
            ("1.999testmod", "1.999"),
        ] {
            assert_eq!(go_lang(v).as_deref(), Some(lang), "{v}");
        }
    }

    #[test]
    fn go_and_toolchain_lines() {
        for (v, ok) in [
            ("1.21", true),
            ("1.21.0", true),
            ("1.21rc1", true),
            ("1.22beta2", true),
            ("1.21.0rc1", true),
            ("1", false),
            ("0.1", false),
            ("1.021", false),
            ("1.21rc", false),
            ("1.21-rc1", false),
            ("v1.21", false),
            ("1.21.", false),
        ] {
            assert_eq!(is_valid_go_line(v), ok, "{v}");
        }
        for (v, ok) in [
            ("default", true),
            ("go1", true),
            ("go1.21.0", true),
            ("go1.anything", true),
            ("go2", false),
            ("go1x", false),
            ("1.21", false),
        ] {
            assert_eq!(is_valid_toolchain_line(v), ok, "{v}");
        }
        assert_eq!(from_toolchain("go1.21.3"), Some("1.21.3"));
        assert_eq!(from_toolchain("go1.22rc1-bigcorp"), Some("1.22rc1"));
        assert_eq!(from_toolchain("default"), None);
        assert_eq!(from_toolchain("go1.21/x"), None);
        assert_eq!(from_toolchain("go1.x"), None);
    }

    fn version_strategy() -> impl Strategy<Value = String> {
        prop_oneof![
            "v(0|[1-9][0-9]{0,2})(\\.(0|[1-9][0-9]{0,2})(\\.(0|[1-9][0-9]{0,2})(-[0-9a-z]{1,3}(\\.[0-9a-z]{1,3}){0,2})?(\\+[a-z]{1,3})?)?)?",
            "[v0-9.+a-z-]{0,8}",
        ]
    }

    fn go_strategy() -> impl Strategy<Value = String> {
        prop_oneof![
            "1\\.(0|[1-9][0-9]?)(\\.(0|[1-9]))?((alpha|beta|rc)[1-9])?",
            "[0-9.a-z]{0,6}",
        ]
    }

    proptest! {
        #[test]
        fn the_plain_release_shortcuts_agree_with_parsing(a in version_strategy(), b in version_strategy()) {
            let slow_major = parse(&a).map(|p| &a[..=p.major.len()]);
            prop_assert_eq!(major(&a), slow_major);
            let slow = match (parse(&a), parse(&b)) {
                (Some(pa), Some(pb)) => Some(
                    cmp_int(pa.major, pb.major)
                        .then_with(|| cmp_int(pa.minor, pb.minor))
                        .then_with(|| cmp_int(pa.patch, pb.patch))
                        .then_with(|| cmp_prerelease(pa.prerelease, pb.prerelease)),
                ),
                _ => None,
            };
            if let Some(slow) = slow {
                prop_assert_eq!(compare(&a, &b), slow);
            }
        }

        #[test]
        fn the_borrowed_canonical_form_agrees_on_any_version(v in version_strategy()) {
            prop_assert_eq!(
                canonical_module_version_cow(&v).map(std::borrow::Cow::into_owned),
                canonical_module_version(&v)
            );
        }

        #[test]
        fn compare_is_a_total_preorder(a in version_strategy(), b in version_strategy(), c in version_strategy()) {
            prop_assert_eq!(compare(&a, &b), compare(&b, &a).reverse());
            prop_assert_eq!(compare(&a, &a), Ordering::Equal);
            if compare(&a, &b) != Ordering::Greater && compare(&b, &c) != Ordering::Greater {
                prop_assert_ne!(compare(&a, &c), Ordering::Greater);
            }
        }

        #[test]
        fn canonical_is_idempotent_and_equal(a in version_strategy()) {
            if let Some(c) = canonical(&a) {
                prop_assert!(is_valid(&c));
                prop_assert_eq!(canonical(&c), Some(c.clone()));
                prop_assert_eq!(compare(&a, &c), Ordering::Equal);
                prop_assert_eq!(major(&a), major(&c));
            } else {
                prop_assert!(!is_valid(&a));
                prop_assert!(major(&a).is_none());
            }
        }

        #[test]
        fn invalid_sorts_first(a in version_strategy(), b in version_strategy()) {
            if !is_valid(&a) && is_valid(&b) {
                prop_assert_eq!(compare(&a, &b), Ordering::Less);
            }
        }

        #[test]
        fn go_compare_is_a_total_preorder(a in go_strategy(), b in go_strategy(), c in go_strategy()) {
            prop_assert_eq!(compare_go(&a, &b), compare_go(&b, &a).reverse());
            if compare_go(&a, &b) != Ordering::Greater && compare_go(&b, &c) != Ordering::Greater {
                prop_assert_ne!(compare_go(&a, &c), Ordering::Greater);
            }
        }

        #[test]
        fn never_panics(s in "\\PC{0,12}") {
            let _ = (is_valid(&s), canonical(&s), major_minor(&s), compare(&s, "v1.0.0"));
            let _ = (is_valid_go(&s), is_valid_go_line(&s), from_toolchain(&s), go_lang(&s));
            let _ = compare_go(&s, "1.21");
        }
    }
}
