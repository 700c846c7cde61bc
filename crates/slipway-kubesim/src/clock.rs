//! Times as the API writes them (RFC 3339, whole seconds, UTC) and reads them back.

use k8s_openapi::jiff::Timestamp;

/// The current time.
pub fn now() -> Timestamp {
    Timestamp::now()
}

/// `2026-12-04T18:21:45Z`: the apiserver's `metav1.Time` format.
pub fn format(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// The current time in the API's format.
pub fn now_string() -> String {
    format(now())
}

/// Parses an API time; `None` when it is not one.
pub fn parse(text: &str) -> Option<Timestamp> {
    text.parse().ok()
}

/// Seconds from `earlier` to `later` (negative when `later` is before).
pub fn seconds_between(earlier: Timestamp, later: Timestamp) -> f64 {
    let nanos = later.as_nanosecond() - earlier.as_nanosecond();
    // Precision beyond microseconds does not matter for controller timing.
    #[allow(clippy::cast_precision_loss)]
    let secs = nanos as f64 / 1e9;
    secs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let t = parse("2026-12-04T18:21:45Z").expect("parses");
        assert_eq!(format(t), "2026-12-04T18:21:45Z");
        let later = parse("2026-12-04T18:22:00Z").expect("parses");
        assert!((seconds_between(t, later) - 15.0).abs() < 1e-9);
    }
}
