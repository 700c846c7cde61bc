//! Text that other programs parse: OCI annotation values, `key=value` lines, `$GITHUB_OUTPUT` entries.
//!
//! Values come from CI variables, event payloads and git, which other people control. A newline in a
//! repository description must not become a second `key=value` line, a GitHub workflow command
//! (`::add-mask::`, `::set-env`), or a forged `$GITHUB_OUTPUT` entry. Slipway's rule, per output:
//!
//! - values that are one line by nature (annotation values, tags) are made one line with [`one_line`];
//! - messages for people that quote values (notes) escape control characters with [`escape_control`];
//! - `$GITHUB_OUTPUT` entries use GitHub's `name<<DELIMITER` form ([`github_output_entry`]), with a
//!   delimiter the value does not contain.

use std::borrow::Cow;

/// Whether `c` ends or breaks a line for some parser, or is otherwise invisible control: every Unicode
/// control character (C0, DEL, C1 including NEL) and the line and paragraph separators U+2028/U+2029.
pub fn is_control(c: char) -> bool {
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}')
}

/// `text` on one line: each run of control characters (see [`is_control`]) becomes one space, and
/// leading and trailing whitespace is dropped. Text without control characters is returned as it is.
///
/// ```
/// use slipway_tag::text::one_line;
/// assert_eq!(one_line("An API\r\n::add-mask::x\n"), "An API ::add-mask::x");
/// assert_eq!(one_line("plain"), "plain");
/// ```
pub fn one_line(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_control) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut in_run = false;
    for c in text.chars() {
        if is_control(c) {
            if !in_run {
                out.push(' ');
            }
            in_run = true;
        } else {
            out.push(c);
            in_run = false;
        }
    }
    Cow::Owned(out.trim().to_owned())
}

/// `text` with each control character (see [`is_control`]) escaped as Rust escapes it (`\n`, `\r`, `\t`,
/// `\u{1b}`), so a message quoting a value stays one line and shows what the value held.
///
/// ```
/// use slipway_tag::text::escape_control;
/// assert_eq!(escape_control("a\nb\u{1b}"), "a\\nb\\u{1b}");
/// ```
pub fn escape_control(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_control) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if is_control(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// One `$GITHUB_OUTPUT` entry in GitHub's multi-line form (`name<<DELIMITER`, the value, `DELIMITER`, each
/// line ended by `\n`), or `None` when it cannot be written safely: the delimiter occurs in the value or
/// the name, or the name or delimiter is empty or holds a control character or `=` or `<`. Choose another
/// delimiter then (GitHub's toolkit uses `ghadelimiter_` and a random UUID).
///
/// ```
/// use slipway_tag::text::github_output_entry;
/// assert_eq!(github_output_entry("tags", "a\nb", "EOF_1").as_deref(), Some("tags<<EOF_1\na\nb\nEOF_1\n"));
/// assert_eq!(github_output_entry("tags", "x\nEOF_1\ny=1", "EOF_1"), None);
/// ```
pub fn github_output_entry(name: &str, value: &str, delimiter: &str) -> Option<String> {
    let word = |s: &str| !s.is_empty() && !s.chars().any(|c| is_control(c) || c == '=' || c == '<');
    if !word(name) || !word(delimiter) || value.contains(delimiter) || name.contains(delimiter) {
        return None;
    }
    Some(format!("{name}<<{delimiter}\n{value}\n{delimiter}\n"))
}

/// The most bytes of one input an error message quotes.
pub(crate) const MAX_QUOTED: usize = 200;

/// `text` for an error message: control characters escaped, and past [`MAX_QUOTED`] bytes only its start
/// (cut at a character boundary), then `…` and the whole length.
pub(crate) fn excerpt(text: &str) -> Cow<'_, str> {
    if text.len() <= MAX_QUOTED {
        return escape_control(text);
    }
    let end = (0..=MAX_QUOTED)
        .rev()
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(0);
    Cow::Owned(format!(
        "{}… ({} bytes)",
        escape_control(&text[..end]),
        text.len()
    ))
}

/// [`excerpt`] between double quotes, for values that may be empty or hold spaces.
pub(crate) fn quoted(text: &str) -> String {
    if text.len() <= MAX_QUOTED {
        return format!("{text:?}");
    }
    let end = (0..=MAX_QUOTED)
        .rev()
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(0);
    format!("{:?}… ({} bytes)", &text[..end], text.len())
}
