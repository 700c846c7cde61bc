//! OCI tag grammar: checking and sanitising.
//!
//! The distribution spec allows tags matching `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`. docker/metadata-action
//! replaces runs of other characters with `-` and stops there, so a 300-character branch name or a branch
//! starting with `-` still yields a tag the registry rejects, and `feat/é` and `feat/ü` collapse to the same
//! tag. [`sanitize_tag`] keeps metadata-action's readable mapping for the common case (`feature/login` ->
//! `feature-login`) and appends a short hash of the original text whenever the mapping lost information
//! beyond `/` -> `-`, or the name had to be shortened, so such names stay distinct.

/// Longest tag the OCI distribution spec accepts.
pub const MAX_TAG_LEN: usize = 128;

/// Length of the hexadecimal hash suffix added to names that were shortened or lost characters.
const HASH_LEN: usize = 8;

/// Whether `tag` satisfies the OCI tag grammar `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`.
///
/// ```
/// assert!(slipway_tag::is_valid_tag("v1.2.3"));
/// assert!(!slipway_tag::is_valid_tag("-rc"));
/// assert!(!slipway_tag::is_valid_tag(&"a".repeat(129)));
/// ```
pub fn is_valid_tag(tag: &str) -> bool {
    let bytes = tag.as_bytes();
    match bytes.first() {
        Some(first) if first.is_ascii_alphanumeric() || *first == b'_' => {}
        _ => return false,
    }
    bytes.len() <= MAX_TAG_LEN && bytes.iter().all(|b| is_tag_byte(*b))
}

fn is_tag_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-')
}

/// Turns any text into a valid OCI tag, or `None` when nothing usable is left (empty input).
///
/// - A valid tag is returned unchanged.
/// - `/` becomes `-` (metadata-action's mapping, so `feature/login` stays readable as `feature-login`; it
///   is the one deliberate collision: `feature/login` and `feature-login` give the same tag).
/// - Any other run of characters outside `[a-zA-Z0-9._-]`, and leading `.`/`-`, are replaced or dropped,
///   and then a `-` and 8 hex digits of a hash of the *original* text are appended, so that distinct
///   names (`feat/é`, `feat/ü`) stay distinct.
/// - Names longer than 128 bytes are cut and get the same hash suffix.
///
/// ```
/// use slipway_tag::sanitize_tag;
/// assert_eq!(sanitize_tag("feature/login").as_deref(), Some("feature-login"));
/// let long = sanitize_tag(&"x".repeat(300)).unwrap();
/// assert_eq!(long.len(), 128);
/// assert_ne!(sanitize_tag("feat/é"), sanitize_tag("feat/ü"));
/// ```
pub fn sanitize_tag(input: &str) -> Option<String> {
    if input.is_empty() {
        return None;
    }
    let mut lossy = false;
    let mut out = String::with_capacity(input.len());
    let mut in_bad_run = false;
    for ch in input.chars() {
        if ch.is_ascii() && is_tag_byte(ch as u8) {
            out.push(ch);
            in_bad_run = false;
        } else {
            // Like metadata-action, a whole run of replaced characters becomes one `-`.
            lossy |= ch != '/';
            if !in_bad_run {
                out.push('-');
            }
            in_bad_run = true;
        }
    }
    // The grammar's first character excludes `.` and `-`: drop them rather than invent a character.
    let start = out
        .find(|c: char| c.is_ascii_alphanumeric() || c == '_')
        .unwrap_or(out.len());
    if start > 0 {
        lossy = true;
        out.drain(..start);
    }
    if !lossy && out.len() <= MAX_TAG_LEN {
        return Some(out);
    }
    let suffix = format!("{:0width$x}", short_hash(input), width = HASH_LEN);
    let keep = MAX_TAG_LEN - HASH_LEN - 1;
    // `out` is ASCII here, so any byte index is a char boundary.
    out.truncate(keep);
    let trimmed = out.trim_end_matches('-');
    if trimmed.is_empty() {
        // Nothing readable survived (e.g. a name made only of non-ASCII letters): the hash alone is a tag.
        return Some(suffix);
    }
    Some(format!("{trimmed}-{suffix}"))
}

/// 32 bits of FNV-1a over the text: stable across platforms and releases, which a tag must be (the same
/// branch has to give the same tag on every run), and plenty to tell apart the names one repository has.
fn short_hash(input: &str) -> u32 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in input.as_bytes() {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    // Fold the 64-bit state so every input byte influences the kept bits.
    #[allow(clippy::cast_possible_truncation)]
    let folded = (hash ^ (hash >> 32)) as u32;
    folded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_tags_pass_through() {
        for tag in ["latest", "v1.2.3", "_x", "1", "a.b-c_d"] {
            assert_eq!(sanitize_tag(tag).as_deref(), Some(tag));
        }
    }

    #[test]
    fn slashes_become_dashes_without_hash() {
        assert_eq!(sanitize_tag("feature/a/b").as_deref(), Some("feature-a-b"));
    }

    #[test]
    fn lossy_names_get_a_hash_suffix() {
        let t = sanitize_tag("feat/über").unwrap();
        assert!(t.starts_with("feat-ber-"), "{t}");
        assert_eq!(t.len(), "feat-ber-".len() + 8);
        assert!(is_valid_tag(&t));
        let t = sanitize_tag("-rc").unwrap();
        assert!(t.starts_with("rc-"), "{t}");
        assert_eq!(sanitize_tag("ü").map(|t| t.len()), Some(8));
        assert_eq!(sanitize_tag(""), None);
    }

    #[test]
    fn long_names_are_cut_to_128() {
        let a = sanitize_tag(&format!("{}a", "b".repeat(200))).unwrap();
        let b = sanitize_tag(&format!("{}c", "b".repeat(200))).unwrap();
        assert_eq!(a.len(), 128);
        assert_ne!(a, b);
        assert!(is_valid_tag(&a) && is_valid_tag(&b));
        let exact = "z".repeat(128);
        assert_eq!(sanitize_tag(&exact).as_deref(), Some(exact.as_str()));
    }
}
