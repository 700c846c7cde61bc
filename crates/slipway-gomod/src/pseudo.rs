//! Pseudo-versions as `golang.org/x/mod/module` builds and reads them.
//!
//! A pseudo-version names an untagged commit by its UTC time and revision, placed just above the closest
//! tag so that it sorts correctly. There are three forms:
//!
//! 1. `vX.0.0-yyyymmddhhmmss-abcdefabcdef`: no earlier tag for the major version;
//! 2. `vX.Y.(Z+1)-0.yyyymmddhhmmss-abcdefabcdef`: the latest earlier tag is the release `vX.Y.Z`;
//! 3. `vX.Y.Z-pre.0.yyyymmddhhmmss-abcdefabcdef`: the latest earlier tag is the pre-release `vX.Y.Z-pre`.
//!
//! Forms 2 and 3 keep an `+incompatible` build suffix of the base tag.
//!
//! ```
//! use slipway_gomod::pseudo::{self, Timestamp};
//!
//! let t = Timestamp::parse("20190510104115").expect("a valid time");
//! let v = pseudo::pseudo_version("v1", "v1.2.3", t, "cbcb75029529");
//! assert_eq!(v, "v1.2.4-0.20190510104115-cbcb75029529");
//! assert!(pseudo::is_pseudo_version(&v));
//! assert_eq!(pseudo::pseudo_version_base(&v)?.as_deref(), Some("v1.2.3"));
//! assert_eq!(pseudo::pseudo_version_rev(&v)?, "cbcb75029529");
//! Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;

use crate::module::{Error, Result, VersionProblem};
use crate::version;

/// A UTC time at one-second resolution, as a pseudo-version's `yyyymmddhhmmss` stamp holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp {
    year: u32,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
}

impl Timestamp {
    /// A time from its parts; `None` when a part is out of range (month 1–12, the month's days, hour < 24,
    /// minute < 60, second < 60, year < 10000).
    pub fn new(
        year: u32,
        month: u32,
        day: u32,
        hour: u32,
        minute: u32,
        second: u32,
    ) -> Option<Self> {
        let valid = year < 10_000
            && (1..=12).contains(&month)
            && day >= 1
            && day <= days_in_month(year, month)
            && hour < 24
            && minute < 60
            && second < 60;
        valid.then_some(Self {
            year,
            month,
            day,
            hour,
            minute,
            second,
        })
    }

    /// Reads a 14-digit `yyyymmddhhmmss` stamp with the ranges Go's `time.Parse` enforces.
    pub fn parse(stamp: &str) -> Option<Self> {
        if stamp.len() != 14 || !stamp.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let part = |range: std::ops::Range<usize>| stamp[range].parse::<u32>().ok();
        Self::new(
            part(0..4)?,
            part(4..6)?,
            part(6..8)?,
            part(8..10)?,
            part(10..12)?,
            part(12..14)?,
        )
    }

    /// The time `seconds` after the Unix epoch, in UTC; `None` outside years 0–9999.
    pub fn from_unix(seconds: i64) -> Option<Self> {
        let days = seconds.div_euclid(86_400);
        let secs = seconds.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        let year = u32::try_from(year).ok()?;
        let secs = u32::try_from(secs).ok()?;
        Self::new(year, month, day, secs / 3600, secs / 60 % 60, secs % 60)
    }

    /// Seconds since the Unix epoch.
    pub fn unix(&self) -> i64 {
        days_from_civil(i64::from(self.year), self.month, self.day) * 86_400
            + i64::from(self.hour * 3600 + self.minute * 60 + self.second)
    }

    /// The year (0–9999).
    pub fn year(&self) -> u32 {
        self.year
    }
    /// The month (1–12).
    pub fn month(&self) -> u32 {
        self.month
    }
    /// The day of the month (1–31).
    pub fn day(&self) -> u32 {
        self.day
    }
    /// The hour (0–23).
    pub fn hour(&self) -> u32 {
        self.hour
    }
    /// The minute (0–59).
    pub fn minute(&self) -> u32 {
        self.minute
    }
    /// The second (0–59).
    pub fn second(&self) -> u32 {
        self.second
    }
}

impl fmt::Display for Timestamp {
    /// The `yyyymmddhhmmss` stamp (`PseudoVersionTimestampFormat`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04}{:02}{:02}{:02}{:02}{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }
}

fn is_leap(year: u32) -> bool {
    year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400))
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

// Howard Hinnant's days-from-civil algorithm (proleptic Gregorian calendar).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

// The inverse of `days_from_civil`.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    // Both are in range by construction (day 1..=31, month 1..=12).
    (
        year,
        u32::try_from(month).unwrap_or(1),
        u32::try_from(day).unwrap_or(1),
    )
}

/// Builds a pseudo-version (`module.PseudoVersion`) from the major version (`"v1"`, or `""` for v0), the
/// closest earlier tag (`""`, `"v1.2.3"`, `"v1.2.3-pre"`, possibly `+incompatible`), the commit time and the
/// revision (usually a 12-character commit hash prefix).
pub fn pseudo_version(major: &str, older: &str, time: Timestamp, rev: &str) -> String {
    let major = if major.is_empty() { "v0" } else { major };
    let segment = format!("{time}-{rev}");
    let build = version::build(older).unwrap_or("");
    let older = version::canonical(older).unwrap_or_default();
    if older.is_empty() {
        return format!("{major}.0.0-{segment}");
    }
    if version::prerelease(&older).is_some_and(|p| !p.is_empty()) {
        return format!("{older}.0.{segment}{build}");
    }
    let cut = older.rfind('.').map_or(0, |i| i + 1);
    let (prefix, patch) = older.split_at(cut);
    format!("{prefix}{}-0.{segment}{build}", inc_decimal(patch))
}

/// The placeholder pseudo-version with zero time and revision (`module.ZeroPseudoVersion`).
pub fn zero_pseudo_version(major: &str) -> String {
    let zero = Timestamp {
        year: 1,
        month: 1,
        day: 1,
        ..Timestamp::default()
    };
    pseudo_version(major, "", zero, "000000000000")
}

/// Whether `v` is [`zero_pseudo_version`] of its major (`module.IsZeroPseudoVersion`).
pub fn is_zero_pseudo_version(v: &str) -> bool {
    v == zero_pseudo_version(version::major(v).unwrap_or(""))
}

fn inc_decimal(decimal: &str) -> String {
    let mut digits = decimal.as_bytes().to_vec();
    let mut i = digits.len();
    while i > 0 && digits[i - 1] == b'9' {
        digits[i - 1] = b'0';
        i -= 1;
    }
    if i > 0 {
        digits[i - 1] += 1;
    } else {
        digits.insert(0, b'1');
    }
    String::from_utf8_lossy(&digits).into_owned()
}

// `None` when the decimal is all zeros.
fn dec_decimal(decimal: &str) -> Option<String> {
    let mut digits = decimal.as_bytes().to_vec();
    let mut i = digits.len();
    while i > 0 && digits[i - 1] == b'0' {
        digits[i - 1] = b'9';
        i -= 1;
    }
    if i == 0 {
        return None;
    }
    if i == 1 && digits[0] == b'1' && digits.len() > 1 {
        digits.remove(0);
    } else {
        digits[i - 1] -= 1;
    }
    Some(String::from_utf8_lossy(&digits).into_owned())
}

/// Whether `v` is a pseudo-version (`module.IsPseudoVersion`).
pub fn is_pseudo_version(v: &str) -> bool {
    v.bytes().filter(|&b| b == b'-').count() >= 2 && version::is_valid(v) && matches_pseudo_shape(v)
}

// The shape Go checks with the regular expression
// ^v[0-9]+\.(0\.0-|\d+\.\d+-([^+]*\.)?0\.)\d{14}-[A-Za-z0-9]+(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$
fn matches_pseudo_shape(v: &str) -> bool {
    let (main, build) = match v.split_once('+') {
        Some((main, build)) => (main, Some(build)),
        None => (v, None),
    };
    if let Some(build) = build
        && !build.split('.').all(|ident| {
            !ident.is_empty()
                && ident
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
    {
        return false;
    }
    let Some((rest, rev)) = main.rsplit_once('-') else {
        return false;
    };
    if rev.is_empty() || !rev.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return false;
    }
    let Some(head) = rest
        .len()
        .checked_sub(14)
        .filter(|&i| rest.is_char_boundary(i))
        .map(|i| rest.split_at(i))
        .filter(|(_, stamp)| stamp.bytes().all(|b| b.is_ascii_digit()))
        .map(|(head, _)| head)
    else {
        return false;
    };
    let Some(after_major) = head
        .strip_prefix('v')
        .and_then(|s| strip_digits(s))
        .and_then(|s| s.strip_prefix('.'))
    else {
        return false;
    };
    if after_major == "0.0-" {
        return true;
    }
    let Some(tail) = strip_digits(after_major)
        .and_then(|s| s.strip_prefix('.'))
        .and_then(strip_digits)
        .and_then(|s| s.strip_prefix('-'))
    else {
        return false;
    };
    // `([^+]*\.)?0\.`: either exactly `0.`, or anything that ends with `.0.`.
    tail == "0." || tail.ends_with(".0.")
}

// Strips one or more leading ASCII digits.
fn strip_digits(s: &str) -> Option<&str> {
    let rest = s.trim_start_matches(|c: char| c.is_ascii_digit());
    (rest.len() < s.len()).then_some(rest)
}

struct Parts<'a> {
    base: &'a str,
    timestamp: &'a str,
    rev: &'a str,
    build: &'a str,
}

fn parse(v: &str) -> Result<Parts<'_>> {
    if !is_pseudo_version(v) {
        return Err(invalid(v, VersionProblem::PseudoSyntax));
    }
    let build = version::build(v).unwrap_or("");
    let main = &v[..v.len() - build.len()];
    // is_pseudo_version guarantees two dashes and the shape, so these splits exist.
    let (rest, rev) = main.rsplit_once('-').unwrap_or((main, ""));
    let dash = rest.rfind('-').unwrap_or(0);
    let (base, timestamp) = match rest.rfind('.') {
        Some(dot) if dot > dash => (&rest[..dot], &rest[dot + 1..]),
        _ => (&rest[..dash], &rest[dash + 1..]),
    };
    Ok(Parts {
        base,
        timestamp,
        rev,
        build,
    })
}

fn invalid(v: &str, problem: VersionProblem) -> Error {
    Error::InvalidVersion {
        version: v.to_owned(),
        pseudo: true,
        problem,
    }
}

/// The commit time of a pseudo-version (`module.PseudoVersionTime`).
pub fn pseudo_version_time(v: &str) -> Result<Timestamp> {
    let parts = parse(v)?;
    Timestamp::parse(parts.timestamp).ok_or_else(|| {
        invalid(
            v,
            VersionProblem::MalformedTime {
                timestamp: parts.timestamp.to_owned(),
            },
        )
    })
}

/// The revision identifier of a pseudo-version (`module.PseudoVersionRev`).
pub fn pseudo_version_rev(v: &str) -> Result<&str> {
    parse(v).map(|parts| parts.rev)
}

/// The canonical tag a pseudo-version builds on (`module.PseudoVersionBase`): `None` for form 1
/// (`vX.0.0-…`), `vX.Y.Z` for form 2, `vX.Y.Z-pre` for form 3, each with the build suffix kept.
pub fn pseudo_version_base(v: &str) -> Result<Option<String>> {
    let Parts { base, build, .. } = parse(v)?;
    match version::prerelease(base).unwrap_or("") {
        "" => {
            // `vX.0.0-…+incompatible` makes no sense: no parent tag, yet an incompatible one.
            if build.is_empty() {
                Ok(None)
            } else {
                Err(invalid(
                    v,
                    VersionProblem::LacksBase {
                        build: build.to_owned(),
                    },
                ))
            }
        }
        "-0" => {
            let release = &base[..base.len() - 2];
            let dot = release.rfind('.').unwrap_or(0);
            match dec_decimal(&release[dot + 1..]) {
                Some(patch) => Ok(Some(format!("{}{patch}{build}", &release[..=dot]))),
                None => Err(invalid(
                    v,
                    VersionProblem::NegativePatch {
                        base: release.to_owned(),
                    },
                )),
            }
        }
        _ => {
            let pre = base.strip_suffix(".0").unwrap_or(base);
            Ok(Some(format!("{pre}{build}")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(stamp: &str) -> Timestamp {
        Timestamp::parse(stamp).unwrap()
    }

    // From x/mod's pseudo_test.go: (major, older, version).
    const PSEUDO: &[(&str, &str, &str)] = &[
        ("", "", "v0.0.0-20060102150405-hash"),
        ("v0", "", "v0.0.0-20060102150405-hash"),
        ("v1", "", "v1.0.0-20060102150405-hash"),
        ("v2", "", "v2.0.0-20060102150405-hash"),
        ("unused", "v0.0.0", "v0.0.1-0.20060102150405-hash"),
        ("unused", "v1.2.3", "v1.2.4-0.20060102150405-hash"),
        (
            "unused",
            "v1.2.99999999999999999",
            "v1.2.100000000000000000-0.20060102150405-hash",
        ),
        ("unused", "v1.2.3-pre", "v1.2.3-pre.0.20060102150405-hash"),
        ("unused", "v1.3.0-pre", "v1.3.0-pre.0.20060102150405-hash"),
        ("unused", "v0.0.0--", "v0.0.0--.0.20060102150405-hash"),
        (
            "unused",
            "v1.0.0+metadata",
            "v1.0.1-0.20060102150405-hash+metadata",
        ),
        (
            "unused",
            "v2.0.0+incompatible",
            "v2.0.1-0.20060102150405-hash+incompatible",
        ),
        (
            "unused",
            "v2.3.0-pre+incompatible",
            "v2.3.0-pre.0.20060102150405-hash+incompatible",
        ),
    ];

    #[test]
    fn builds_and_reads_each_form() {
        let time = t("20060102150405");
        for &(major, older, want) in PSEUDO {
            assert_eq!(
                pseudo_version(major, older, time, "hash"),
                want,
                "({major:?}, {older:?})"
            );
            assert!(is_pseudo_version(want), "{want}");
            assert_eq!(pseudo_version_time(want).unwrap(), time);
            assert_eq!(pseudo_version_rev(want).unwrap(), "hash");
            let base = pseudo_version_base(want);
            if older.is_empty() {
                assert_eq!(base.unwrap(), None);
            } else if older == "v1.0.0+metadata" {
                // Base versions keep build metadata verbatim.
                assert_eq!(base.unwrap().as_deref(), Some("v1.0.0+metadata"));
            } else {
                assert_eq!(base.unwrap().as_deref(), Some(older), "{want}");
            }
        }
    }

    #[test]
    fn not_pseudo_versions() {
        for v in [
            "v1.0.0",
            "v1.0.0-pre",
            "v0.0.0-2006010215040-hash",
            "v0.0.0-20060102150405-",
            "v1.2.3-20060102150405-hash",
            "v1.2.3-pre.20060102150405-hash",
            "v0.0.0-20060102150405-ha_sh",
            "vx.0.0-20060102150405-hash",
            "v1.0.0-0.20060102150405-hash+",
        ] {
            assert!(!is_pseudo_version(v), "{v}");
            assert_eq!(
                pseudo_version_rev(v).unwrap_err().to_string(),
                format!("pseudo-version {v:?} invalid: syntax error")
            );
        }
    }

    #[test]
    fn base_errors_read_like_go() {
        assert_eq!(
            pseudo_version_base("v1.0.0-0.20060102150405-hash")
                .unwrap_err()
                .to_string(),
            r#"pseudo-version "v1.0.0-0.20060102150405-hash" invalid: version before v1.0.0 would have negative patch number"#
        );
        assert_eq!(
            pseudo_version_base("v2.0.0-20060102150405-hash+incompatible")
                .unwrap_err()
                .to_string(),
            r#"pseudo-version "v2.0.0-20060102150405-hash+incompatible" invalid: lacks base version, but has build metadata "+incompatible""#
        );
        assert_eq!(
            pseudo_version_time("v1.2.4-0.20061302150405-hash")
                .unwrap_err()
                .to_string(),
            r#"pseudo-version "v1.2.4-0.20061302150405-hash" invalid: malformed time "20061302150405""#
        );
        assert_eq!(
            pseudo_version_base("v1.10.1-0.20060102150405-hash").unwrap(),
            Some("v1.10.0".to_owned())
        );
        assert_eq!(
            pseudo_version_base("v1.2.10-0.20060102150405-hash").unwrap(),
            Some("v1.2.9".to_owned())
        );
    }

    #[test]
    fn decimals() {
        assert_eq!(inc_decimal("0"), "1");
        assert_eq!(inc_decimal("9"), "10");
        assert_eq!(inc_decimal("199"), "200");
        assert_eq!(dec_decimal("0"), None);
        assert_eq!(dec_decimal("1").as_deref(), Some("0"));
        assert_eq!(dec_decimal("10").as_deref(), Some("9"));
        assert_eq!(dec_decimal("200").as_deref(), Some("199"));
        assert_eq!(dec_decimal("101").as_deref(), Some("100"));
    }

    #[test]
    fn zero_pseudo_versions() {
        assert_eq!(
            zero_pseudo_version("v0"),
            "v0.0.0-00010101000000-000000000000"
        );
        assert_eq!(
            zero_pseudo_version("v2"),
            "v2.0.0-00010101000000-000000000000"
        );
        assert!(is_zero_pseudo_version("v0.0.0-00010101000000-000000000000"));
        assert!(!is_zero_pseudo_version(
            "v0.0.0-20060102150405-000000000000"
        ));
    }

    #[test]
    fn timestamps() {
        assert!(Timestamp::parse("20240229000000").is_some());
        assert!(Timestamp::parse("20230229000000").is_none());
        assert!(Timestamp::parse("20230101240000").is_none());
        assert!(Timestamp::parse("20230101006000").is_none());
        assert!(Timestamp::parse("2023010100000").is_none());
        let time = t("20060102150405");
        assert_eq!(time.unix(), 1_136_214_245);
        assert_eq!(Timestamp::from_unix(1_136_214_245), Some(time));
        assert_eq!(
            Timestamp::from_unix(0).unwrap().to_string(),
            "19700101000000"
        );
        assert_eq!(
            Timestamp::from_unix(-62_135_596_800).unwrap().to_string(),
            "00010101000000"
        );
    }
}
