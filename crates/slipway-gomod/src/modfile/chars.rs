//! Character classes and quoting exactly as Go's `unicode` and `strconv` packages define them.

use super::unicode_tables::{PRINT, SPACE};

fn in_table(table: &[(u32, u32)], c: char) -> bool {
    let c = u32::from(c);
    table
        .binary_search_by(|&(lo, hi)| {
            if hi < c {
                std::cmp::Ordering::Less
            } else if lo > c {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

/// Go's `unicode.IsPrint`: letters, marks, numbers, punctuation, symbols and the ASCII space.
pub(crate) fn is_print(c: char) -> bool {
    if c.is_ascii() {
        return (' '..='~').contains(&c);
    }
    in_table(PRINT, c)
}

/// Go's `unicode.IsSpace`.
pub(crate) fn is_space(c: char) -> bool {
    if c.is_ascii() {
        return matches!(c, '\t' | '\n' | '\u{b}' | '\u{c}' | '\r' | ' ');
    }
    in_table(SPACE, c)
}

/// Go's `strings.TrimSpace`.
pub(crate) fn trim_space(s: &str) -> &str {
    s.trim_matches(is_space)
}

/// Go's `strconv.Quote`: a double-quoted Go string literal.
pub(crate) fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        push_escaped(&mut out, c, '"');
    }
    out.push('"');
    out
}

/// Go's `strconv.QuoteRune`: a single-quoted Go character literal.
pub(crate) fn quote_rune(c: char) -> String {
    let mut out = String::with_capacity(8);
    out.push('\'');
    push_escaped(&mut out, c, '\'');
    out.push('\'');
    out
}

fn push_escaped(out: &mut String, c: char, quote: char) {
    use std::fmt::Write as _;
    if c == quote || c == '\\' {
        out.push('\\');
        out.push(c);
        return;
    }
    if is_print(c) {
        out.push(c);
        return;
    }
    // Writing to a String cannot fail.
    let _ = match c {
        '\u{7}' => out.write_str("\\a"),
        '\u{8}' => out.write_str("\\b"),
        '\u{c}' => out.write_str("\\f"),
        '\n' => out.write_str("\\n"),
        '\r' => out.write_str("\\r"),
        '\t' => out.write_str("\\t"),
        '\u{b}' => out.write_str("\\v"),
        _ if u32::from(c) < 0x20 || c == '\u{7f}' => write!(out, "\\x{:02x}", u32::from(c)),
        _ if u32::from(c) < 0x10000 => write!(out, "\\u{:04x}", u32::from(c)),
        _ => write!(out, "\\U{:08x}", u32::from(c)),
    };
}

/// Why a quoted string could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SyntaxError;

/// Go's `strconv.Unquote` for double-quoted literals (the only kind go.mod accepts as quoted).
///
/// Escapes that produce bytes that are not UTF-8 (`\xff`) decode to U+FFFD: Rust strings hold only
/// UTF-8, and no real module path or version contains such bytes.
pub(crate) fn unquote(s: &str) -> Result<String, SyntaxError> {
    let body = s
        .strip_prefix('"')
        .and_then(|b| b.strip_suffix('"'))
        .ok_or(SyntaxError)?;
    if !body.contains(['\\', '"', '\n']) {
        return Ok(body.to_owned());
    }
    let mut bytes: Vec<u8> = Vec::with_capacity(body.len());
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' | '\n' => return Err(SyntaxError),
            '\\' => {
                let e = chars.next().ok_or(SyntaxError)?;
                let simple = match e {
                    'a' => Some(7u8),
                    'b' => Some(8),
                    'f' => Some(12),
                    'n' => Some(b'\n'),
                    'r' => Some(b'\r'),
                    't' => Some(b'\t'),
                    'v' => Some(11),
                    '\\' => Some(b'\\'),
                    '"' => Some(b'"'),
                    _ => None,
                };
                if let Some(b) = simple {
                    bytes.push(b);
                    continue;
                }
                match e {
                    'x' => bytes.push(
                        hex_value(&mut chars, 2)?
                            .try_into()
                            .map_err(|_| SyntaxError)?,
                    ),
                    '0'..='7' => {
                        let mut v = e.to_digit(8).ok_or(SyntaxError)?;
                        for _ in 0..2 {
                            v = v * 8
                                + chars
                                    .next()
                                    .and_then(|d| d.to_digit(8))
                                    .ok_or(SyntaxError)?;
                        }
                        bytes.push(u8::try_from(v).map_err(|_| SyntaxError)?);
                    }
                    'u' | 'U' => {
                        let n = if e == 'u' { 4 } else { 8 };
                        let v = hex_value(&mut chars, n)?;
                        let ch = char::from_u32(v).ok_or(SyntaxError)?;
                        let mut buf = [0u8; 4];
                        bytes.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                    }
                    _ => return Err(SyntaxError),
                }
            }
            _ => {
                let mut buf = [0u8; 4];
                bytes.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

fn hex_value(chars: &mut std::str::Chars<'_>, n: usize) -> Result<u32, SyntaxError> {
    let mut v = 0u32;
    for _ in 0..n {
        let d = chars
            .next()
            .and_then(|d| d.to_digit(16))
            .ok_or(SyntaxError)?;
        v = v * 16 + d;
    }
    Ok(v)
}

/// x/mod's `MustQuote`: whether `s` needs quoting to be one token on a go.mod line.
pub fn must_quote(s: &str) -> bool {
    for c in s.chars() {
        match c {
            ' ' | '"' | '\'' | '`' => return true,
            '(' | ')' | '[' | ']' | '{' | '}' | ',' => {
                if s.len() > 1 {
                    return true;
                }
            }
            _ => {
                if !is_print(c) {
                    return true;
                }
            }
        }
    }
    s.is_empty() || s.contains("//") || s.contains("/*")
}

/// x/mod's `AutoQuote`: `s`, or its Go quotation when [`must_quote`] says so.
pub fn auto_quote(s: &str) -> String {
    if must_quote(s) {
        quote(s)
    } else {
        s.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_follow_go() {
        assert!(is_print('é'));
        assert!(!is_print('\u{a0}'));
        assert!(!is_print('\u{feff}'));
        assert!(!is_print('\u{200b}'));
        assert!(is_space('\u{a0}'));
        assert!(is_space('\u{85}'));
        assert!(!is_space('\u{200b}'));
        assert_eq!(trim_space("\u{a0} x \t"), "x");
    }

    #[test]
    fn quoting_matches_strconv() {
        assert_eq!(quote("a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(quote("\u{0}\u{7f}\t"), r#""\x00\x7f\t""#);
        assert_eq!(quote("\u{a0}é\u{feff}"), "\"\\u00a0é\\ufeff\"");
        assert_eq!(quote("\u{e0000}"), "\"\\U000e0000\"");
        assert_eq!(quote_rune('\''), r"'\''");
        assert_eq!(quote_rune('\u{b}'), r"'\v'");
    }

    #[test]
    fn unquoting_matches_strconv() {
        assert_eq!(unquote(r#""a b""#).unwrap(), "a b");
        assert_eq!(
            unquote(r#""\x41\101\u00e9\U0001F600\n""#).unwrap(),
            "AAé😀\n"
        );
        for bad in [
            r#""a"#,
            r#""\q""#,
            r#""\400""#,
            r#""\ud800""#,
            r#""a"b""#,
            "'a'",
            r#""\""#,
        ] {
            assert_eq!(unquote(bad), Err(SyntaxError), "{bad}");
        }
    }

    #[test]
    fn auto_quote_matches_x_mod() {
        for (s, want) in [
            ("example.com/m", "example.com/m"),
            ("", "\"\""),
            ("a b", "\"a b\""),
            ("(", "("),
            ("a(", "\"a(\""),
            ("a//b", "\"a//b\""),
            ("a/*b", "\"a/*b\""),
            ("tab\there", "\"tab\\there\""),
        ] {
            assert_eq!(auto_quote(s), want, "{s}");
        }
    }
}
