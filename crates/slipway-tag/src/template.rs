//! The `{{…}}` expressions of metadata-action's rules: a small subset of Handlebars.
//!
//! Supported: `{{name}}` variables and `{{date 'FORMAT' tz='ZONE'}}` / `{{commit_date 'FORMAT'}}` helpers
//! with moment.js format tokens. Unlike Handlebars, an unknown name is an error instead of an empty string:
//! a typo in a rule should fail the build, not silently produce a different tag.

use std::fmt::Write as _;

/// One parsed piece of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Segment {
    /// Text copied as is.
    Literal(String),
    /// `{{name 'arg' key=value}}`.
    Expr {
        /// 1-based column of the `{{` in the template.
        column: usize,
        /// The variable or helper name.
        name: String,
        /// Positional (quoted) arguments.
        args: Vec<String>,
        /// `key=value` arguments.
        hash: Vec<(String, String)>,
    },
}

/// A parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Template {
    pub(crate) text: String,
    pub(crate) segments: Vec<Segment>,
}

/// A template problem: column inside the template and message (the caller adds rule and field).
pub(crate) type TemplateError = (usize, String);

impl Template {
    /// Parses `text`.
    pub(crate) fn parse(text: &str) -> Result<Self, TemplateError> {
        let mut segments = Vec::new();
        let mut rest = text;
        let mut offset = 0; // chars consumed so far, for columns
        while let Some(open) = rest.find("{{") {
            if open > 0 {
                segments.push(Segment::Literal(rest[..open].to_owned()));
            }
            let column = offset + rest[..open].chars().count() + 1;
            let after = &rest[open + 2..];
            let close = after
                .find("}}")
                .ok_or((column, "`{{` is never closed by `}}`".to_owned()))?;
            segments.push(parse_expr(&after[..close], column)?);
            let consumed = open + 2 + close + 2;
            offset += rest[..consumed].chars().count();
            rest = &rest[consumed..];
        }
        if !rest.is_empty() {
            segments.push(Segment::Literal(rest.to_owned()));
        }
        Ok(Self {
            text: text.to_owned(),
            segments,
        })
    }

    /// The names used in `{{…}}` expressions.
    pub(crate) fn names(&self) -> impl Iterator<Item = &str> {
        self.segments.iter().filter_map(|s| match s {
            Segment::Expr { name, .. } => Some(name.as_str()),
            Segment::Literal(_) => None,
        })
    }

    /// Whether the template is exactly one `{{name}}` expression.
    pub(crate) fn is_only(&self, wanted: &str) -> bool {
        matches!(self.segments.as_slice(), [Segment::Expr { name, args, hash, .. }]
            if name == wanted && args.is_empty() && hash.is_empty())
    }

    /// Renders the template; `lookup` answers each expression or explains why it cannot.
    pub(crate) fn render(
        &self,
        mut lookup: impl FnMut(&str, &[String], &[(String, String)]) -> Result<String, String>,
    ) -> Result<String, TemplateError> {
        let mut out = String::new();
        for segment in &self.segments {
            match segment {
                Segment::Literal(text) => out.push_str(text),
                Segment::Expr {
                    column,
                    name,
                    args,
                    hash,
                } => out.push_str(&lookup(name, args, hash).map_err(|m| (*column, m))?),
            }
        }
        Ok(out)
    }
}

fn parse_expr(inner: &str, column: usize) -> Result<Segment, TemplateError> {
    let mut tokens = Vec::new();
    let mut chars = inner.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let Some(&first) = chars.peek() else { break };
        let mut token = String::new();
        let mut quoted = false;
        if first == '\'' || first == '"' {
            chars.next();
            quoted = true;
            loop {
                match chars.next() {
                    Some(c) if c == first => break,
                    Some(c) => token.push(c),
                    None => return Err((column, format!("unterminated {first} quote"))),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                chars.next();
                if c == '=' {
                    // key=value: the value may be quoted.
                    token.push('=');
                    if let Some(&q) = chars.peek().filter(|q| **q == '\'' || **q == '"') {
                        chars.next();
                        loop {
                            match chars.next() {
                                Some(c) if c == q => break,
                                Some(c) => token.push(c),
                                None => return Err((column, format!("unterminated {q} quote"))),
                            }
                        }
                    }
                } else {
                    token.push(c);
                }
            }
        }
        tokens.push((token, quoted));
    }
    let mut tokens = tokens.into_iter();
    let Some((name, false)) = tokens.next() else {
        return Err((column, "expected a name after `{{`".to_owned()));
    };
    if name.is_empty() || name.contains('=') {
        return Err((
            column,
            format!("expected a name after `{{{{`, found `{name}`"),
        ));
    }
    let mut args = Vec::new();
    let mut hash = Vec::new();
    for (token, quoted) in tokens {
        match token.split_once('=') {
            Some((key, value)) if !quoted => hash.push((key.to_owned(), value.to_owned())),
            _ if quoted => args.push(token),
            _ => {
                return Err((
                    column,
                    format!("argument `{token}` must be quoted or key=value"),
                ));
            }
        }
    }
    Ok(Segment::Expr {
        column,
        name,
        args,
        hash,
    })
}

/// Evaluates `date`/`commit_date`: `{{date 'YYYYMMDD' tz='UTC'}}`.
pub(crate) fn render_date(
    unix_seconds: i64,
    args: &[String],
    hash: &[(String, String)],
) -> Result<String, String> {
    let [format] = args else {
        return Err("expects one quoted format argument, e.g. 'YYYYMMDD'".to_owned());
    };
    let mut offset_minutes = 0;
    for (key, value) in hash {
        if key == "tz" {
            offset_minutes = parse_tz(value)?;
        } else {
            return Err(format!("unknown attribute `{key}`"));
        }
    }
    // Saturating: a commit time near the i64 limits (a crafted repository) must not panic.
    Ok(format_moment(
        unix_seconds.saturating_add(i64::from(offset_minutes) * 60),
        offset_minutes,
        format,
    ))
}

/// Accepts `UTC`/`GMT`/`Etc/UTC`/`Z` and fixed offsets (`+09:00`, `-0530`). Named zones need a time-zone
/// database this crate does not carry; asking for one fails instead of silently using UTC.
fn parse_tz(tz: &str) -> Result<i32, String> {
    if matches!(tz, "UTC" | "GMT" | "Etc/UTC" | "Etc/GMT" | "Z") {
        return Ok(0);
    }
    let bad = || format!("time zone `{tz}`: only UTC and fixed offsets like +09:00 are supported");
    let (sign, rest) = match tz.as_bytes().first() {
        Some(b'+') => (1, &tz[1..]),
        Some(b'-') => (-1, &tz[1..]),
        _ => return Err(bad()),
    };
    let digits: String = rest.chars().filter(|c| *c != ':').collect();
    if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let hours: i32 = digits[..2].parse().map_err(|_| bad())?;
    let minutes: i32 = digits[2..].parse().map_err(|_| bad())?;
    if hours > 14 || minutes > 59 {
        return Err(bad());
    }
    Ok(sign * (hours * 60 + minutes))
}

/// Civil date from days since 1970-01-01 (Howard Hinnant's algorithm), valid for the whole i64 range we
/// can meet (commit times).
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    // d is 1..=31 and m 1..=12 by construction.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let (m, d) = (m as u32, d as u32);
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Broken-down time of `local_seconds` (already shifted to the wanted zone).
struct Parts {
    year: i64,
    month: u32,
    day: u32,
    hour: i64,
    minute: i64,
    second: i64,
}

fn parts(local_seconds: i64) -> Parts {
    let days = local_seconds.div_euclid(86_400);
    let secs = local_seconds.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    Parts {
        year,
        month,
        day,
        hour: secs / 3600,
        minute: secs % 3600 / 60,
        second: secs % 60,
    }
}

/// RFC 3339 in UTC (`2024-05-01T12:00:00Z`), as OCI's `created` annotation wants it.
pub(crate) fn rfc3339_utc(unix_seconds: i64) -> String {
    let p = parts(unix_seconds);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        p.year, p.month, p.day, p.hour, p.minute, p.second
    )
}

/// moment.js tokens: YYYY YY MM M DD D HH H hh h mm m ss s A a X Z ZZ, and `[literal]` text. Any other
/// character is copied, as moment does for non-token characters.
fn format_moment(local_seconds: i64, offset_minutes: i32, format: &str) -> String {
    const TOKENS: [&str; 20] = [
        "YYYY", "YY", "MM", "M", "DD", "D", "HH", "H", "hh", "h", "mm", "m", "ss", "s", "A", "a",
        "X", "ZZ", "Z", "x",
    ];
    let p = parts(local_seconds);
    let hour12 = match p.hour % 12 {
        0 => 12,
        h => h,
    };
    let mut out = String::new();
    let mut rest = format;
    while let Some(c) = rest.chars().next() {
        if c == '['
            && let Some(end) = rest.find(']')
        {
            out.push_str(&rest[1..end]);
            rest = &rest[end + 1..];
            continue;
        }
        let Some(token) = TOKENS.iter().find(|t| rest.starts_with(**t)) else {
            out.push(c);
            rest = &rest[c.len_utf8()..];
            continue;
        };
        rest = &rest[token.len()..];
        // Writing to a String cannot fail.
        let _ = match *token {
            "YYYY" => write!(out, "{:04}", p.year),
            "YY" => write!(out, "{:02}", p.year.rem_euclid(100)),
            "MM" => write!(out, "{:02}", p.month),
            "M" => write!(out, "{}", p.month),
            "DD" => write!(out, "{:02}", p.day),
            "D" => write!(out, "{}", p.day),
            "HH" => write!(out, "{:02}", p.hour),
            "H" => write!(out, "{}", p.hour),
            "hh" => write!(out, "{hour12:02}"),
            "h" => write!(out, "{hour12}"),
            "mm" => write!(out, "{:02}", p.minute),
            "m" => write!(out, "{}", p.minute),
            "ss" => write!(out, "{:02}", p.second),
            "s" => write!(out, "{}", p.second),
            "A" => write!(out, "{}", if p.hour < 12 { "AM" } else { "PM" }),
            "a" => write!(out, "{}", if p.hour < 12 { "am" } else { "pm" }),
            "X" => write!(
                out,
                "{}",
                local_seconds.saturating_sub(i64::from(offset_minutes) * 60)
            ),
            "x" => write!(
                out,
                "{}",
                local_seconds
                    .saturating_sub(i64::from(offset_minutes) * 60)
                    .saturating_mul(1000)
            ),
            zone => {
                let sign = if offset_minutes < 0 { '-' } else { '+' };
                let abs = offset_minutes.abs();
                let sep = if zone == "Z" { ":" } else { "" };
                write!(out, "{sign}{:02}{sep}{:02}", abs / 60, abs % 60)
            }
        };
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_expressions() {
        let t = Template::parse("v{{major}}.{{ minor }}-{{date 'YYYYMMDD' tz='UTC'}}").unwrap();
        let names: Vec<_> = t.names().collect();
        assert_eq!(names, ["major", "minor", "date"]);
        assert!(Template::parse("{{raw}}").unwrap().is_only("raw"));
        assert!(!Template::parse("x{{raw}}").unwrap().is_only("raw"));
        assert_eq!(Template::parse("ab{{x").unwrap_err().0, 3);
        assert!(Template::parse("{{date YYYY}}").is_err());
    }

    #[test]
    fn dates() {
        // 2024-02-29T23:30:05Z
        let t = 1_709_249_405;
        assert_eq!(rfc3339_utc(t), "2024-02-29T23:30:05Z");
        let f = |fmt: &str, tz: &str| {
            render_date(t, &[fmt.to_owned()], &[("tz".to_owned(), tz.to_owned())]).unwrap()
        };
        assert_eq!(f("YYYYMMDD", "UTC"), "20240229");
        assert_eq!(f("YYYYMMDD-HHmm", "+01:00"), "20240301-0030");
        assert_eq!(
            f("[build-]YY.M.D h A Z", "-0530"),
            "build-24.2.29 6 PM -05:30"
        );
        assert!(
            render_date(
                t,
                &["YYYY".to_owned()],
                &[("tz".to_owned(), "Asia/Tokyo".to_owned())]
            )
            .is_err()
        );
        for extreme in [i64::MAX, i64::MIN] {
            let tz = [("tz".to_owned(), "+14:00".to_owned())];
            assert!(render_date(extreme, &["YYYY X x".to_owned()], &tz).is_ok());
            assert!(!rfc3339_utc(extreme).is_empty());
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
    }
}
