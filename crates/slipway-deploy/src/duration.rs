//! Go durations (`30s`, `1m30s`, `1.5h`, `500ms`) exactly as Go's `time.ParseDuration` reads them: the one
//! reader of them in slipway (rollout specs, analysis templates, the CLI's duration flags).

use std::time::Duration;

/// Why a text is not a Go duration, in the cases Go's messages tell apart.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DurationError {
    /// A number without a unit (`5`).
    #[error("missing unit in duration {text:?}")]
    MissingUnit {
        /// The text.
        text: String,
    },
    /// A unit Go does not know (`5d`).
    #[error("unknown unit {unit:?} in duration {text:?}")]
    UnknownUnit {
        /// The unit as written.
        unit: String,
        /// The text.
        text: String,
    },
    /// Anything else: empty, a sign, a stray character, or more than Go's ~292 years.
    #[error("invalid duration {text:?}")]
    Invalid {
        /// The text.
        text: String,
    },
}

/// Parses an unsigned Go duration (a sign is for the caller to decide on), to the nanosecond as Go does:
/// fractions are read digit by digit, digits past nanosecond precision ignored.
///
/// ```
/// use std::time::Duration;
/// use slipway_deploy::duration::go_duration;
///
/// assert_eq!(go_duration("1m30s")?, Duration::from_secs(90));
/// assert_eq!(go_duration("1.5h")?, Duration::from_secs(5400));
/// assert_eq!(go_duration("0")?, Duration::ZERO);
/// assert!(go_duration("5").is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn go_duration(text: &str) -> Result<Duration, DurationError> {
    let invalid = || DurationError::Invalid {
        text: text.to_owned(),
    };
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    if text.is_empty() {
        return Err(invalid());
    }
    let mut rest = text;
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let int_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        let int_part = &rest[..int_len];
        rest = &rest[int_len..];
        let mut frac_part = "";
        if let Some(after_dot) = rest.strip_prefix('.') {
            let frac_len = after_dot.bytes().take_while(u8::is_ascii_digit).count();
            frac_part = &after_dot[..frac_len];
            rest = &after_dot[frac_len..];
        }
        if int_part.is_empty() && frac_part.is_empty() {
            return Err(invalid());
        }
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit: u128 = match &rest[..unit_len] {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            "" => {
                return Err(DurationError::MissingUnit {
                    text: text.to_owned(),
                });
            }
            other => {
                return Err(DurationError::UnknownUnit {
                    unit: other.to_owned(),
                    text: text.to_owned(),
                });
            }
        };
        rest = &rest[unit_len..];
        let whole: u128 = if int_part.is_empty() {
            0
        } else {
            int_part.parse().map_err(|_| invalid())?
        };
        let mut value = whole.checked_mul(unit).ok_or_else(invalid)?;
        // The fraction, digit by digit (as Go does, ignoring digits past nanosecond precision).
        let mut scale = unit;
        for d in frac_part.bytes() {
            scale /= 10;
            if scale == 0 {
                break;
            }
            value += u128::from(d - b'0') * scale;
        }
        total = total.checked_add(value).ok_or_else(invalid)?;
    }
    // Go refuses durations above ~292 years (int64 nanoseconds).
    let nanos = u64::try_from(total)
        .ok()
        .filter(|n| i64::try_from(*n).is_ok())
        .ok_or_else(invalid)?;
    Ok(Duration::from_nanos(nanos))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_errors_are_told_apart() {
        assert!(matches!(
            go_duration("5"),
            Err(DurationError::MissingUnit { .. })
        ));
        assert!(
            matches!(go_duration("5d"), Err(DurationError::UnknownUnit { unit, .. }) if unit == "d")
        );
        for bad in ["", "s", "-5s", "1..5s", "30 s", "99999999999999999999h"] {
            assert!(go_duration(bad).is_err(), "{bad:?}");
        }
        assert_eq!(go_duration("1.0000000001s"), Ok(Duration::from_secs(1)));
        assert_eq!(go_duration("1.5us"), Ok(Duration::from_nanos(1500)));
    }
}
