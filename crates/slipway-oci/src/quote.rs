//! Bounded quotes of inputs in error messages: a 100 MB digest or media type from a hostile manifest is
//! named, not echoed.

use std::borrow::Cow;

/// The most bytes of one input an error message quotes.
pub(crate) const MAX_QUOTED: usize = 200;

/// `text` as `{:?}` quotes it; past [`MAX_QUOTED`] bytes, its start (cut at a character boundary)
/// quoted, then `…` and the whole length: `"aaaa"… (1000000 bytes)`.
pub(crate) fn quoted(text: &str) -> String {
    match cut(text) {
        None => format!("{text:?}"),
        Some(head) => format!("{head:?}… ({} bytes)", text.len()),
    }
}

/// `text` as it is; past [`MAX_QUOTED`] bytes, its start, `…` and the whole length.
pub(crate) fn excerpt(text: &str) -> Cow<'_, str> {
    match cut(text) {
        None => Cow::Borrowed(text),
        Some(head) => Cow::Owned(format!("{head}… ({} bytes)", text.len())),
    }
}

fn cut(text: &str) -> Option<&str> {
    if text.len() <= MAX_QUOTED {
        return None;
    }
    let end = (0..=MAX_QUOTED)
        .rev()
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(0);
    Some(&text[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_inputs_are_cut_at_a_character_boundary() {
        assert_eq!(quoted("short"), "\"short\"");
        let long = format!("{}é{}", "a".repeat(199), "b".repeat(1000));
        assert_eq!(
            quoted(&long),
            format!("\"{}\"… (1201 bytes)", "a".repeat(199))
        );
        assert_eq!(excerpt(&long), format!("{}… (1201 bytes)", "a".repeat(199)));
    }
}
