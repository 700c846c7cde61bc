//! Hostile CI values: a newline (or another control character) in a description, title, source URL, ref
//! or commit must not reach any line-based output raw.

use slipway_tag::text::{escape_control, github_output_entry, one_line};
use slipway_tag::{Build, CiEnv, Flavor, Options, TagRule, annotations, compute_tags};

const FORGED: &str = "An API\n::add-mask::secret\r\norg.opencontainers.image.title=forged\u{1b}[2J\u{85}x\u{2028}y\n";

#[test]
fn annotation_values_are_one_line_whatever_the_ci_variables_hold() {
    let dir = tempfile::tempdir().unwrap();
    let payload = dir.path().join("event.json");
    let json = serde_json::json!({
        "repository": {"description": FORGED, "name": "api\n::warning::x", "license": {"spdx_id": "MIT\nx=y"}},
    });
    std::fs::write(&payload, json.to_string()).unwrap();
    let ci = CiEnv::from_vars([
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_EVENT_NAME", "push"),
        ("GITHUB_REF", "refs/tags/v1.0.0"),
        ("GITHUB_SHA", "0123456789abcdef\n::set-output name=x::y"),
        ("GITHUB_SERVER_URL", "https://github.example\n"),
        ("GITHUB_REPOSITORY", "acme/api"),
        ("GITHUB_EVENT_PATH", payload.to_str().unwrap()),
    ]);
    let build = Build::resolve(ci.read().unwrap(), Options::default()).unwrap();
    let tags = compute_tags(&build, &TagRule::defaults(), &Flavor::default()).unwrap();
    let ann = annotations(&build, &tags);
    let got: Vec<String> = ann.iter().map(|(k, v)| format!("{k}={v}")).collect();
    assert_eq!(
        got,
        [
            "org.opencontainers.image.created=1970-01-01T00:00:00Z",
            "org.opencontainers.image.description=An API ::add-mask::secret org.opencontainers.image.title=forged [2J x y",
            "org.opencontainers.image.licenses=MIT x=y",
            "org.opencontainers.image.revision=0123456789abcdef ::set-output name=x::y",
            "org.opencontainers.image.source=https://github.example /acme/api",
            "org.opencontainers.image.title=api",
            "org.opencontainers.image.url=https://github.example /acme/api",
            "org.opencontainers.image.version=v1.0.0",
        ]
    );
    for tag in &tags.tags {
        assert!(slipway_tag::is_valid_tag(tag), "{tag:?}");
    }
}

#[test]
fn notes_quoting_a_ref_escape_its_control_characters() {
    let ci = CiEnv::from_vars([("SLIPWAY_REF", "refs/tags/v1.0.0\n::error::forged")]);
    let build = Build::resolve(ci.read().unwrap(), Options::default()).unwrap();
    let tags = compute_tags(&build, &TagRule::defaults(), &Flavor::default()).unwrap();
    assert!(!tags.notes.is_empty());
    for note in &tags.notes {
        assert!(!note.contains('\n'), "{note:?}");
    }
    assert!(
        tags.notes[0].starts_with("tag v1.0.0\\n::error::forged is not among"),
        "{:?}",
        tags.notes
    );
}

#[test]
fn text_helpers() {
    assert_eq!(one_line("\n\n"), "");
    assert_eq!(one_line("a\t\tb"), "a b");
    assert_eq!(escape_control("tab\there\u{2028}"), "tab\\there\\u{2028}");
    assert_eq!(
        github_output_entry("json", "{\"a\":1}", "D").as_deref(),
        Some("json<<D\n{\"a\":1}\nD\n")
    );
    // A value holding the delimiter, or a name that could itself start a heredoc or assignment.
    assert_eq!(github_output_entry("tags", "x\nD\nversion=evil", "D"), None);
    assert_eq!(github_output_entry("a<<b", "x", "D"), None);
    assert_eq!(github_output_entry("a=b", "x", "D"), None);
    assert_eq!(github_output_entry("a\nb", "x", "D"), None);
    assert_eq!(github_output_entry("tags", "x", ""), None);
}

/// Error messages quote at most 200 bytes of an input, with control characters escaped: a 100 KB rule or
/// variable is named, not echoed (a rule error quoted the rule, the field's value and the template).
#[test]
fn errors_cut_long_inputs() {
    let long = "x".repeat(100_000);
    let rule = format!("type=raw,value={{{{{long}}}}}");
    let err = rule.parse::<TagRule>().map_or_else(
        |e| e.to_string(),
        |r| {
            let build =
                Build::resolve(slipway_tag::BuildRef::default(), Options::default()).unwrap();
            compute_tags(&build, &[r], &Flavor::default())
                .unwrap_err()
                .to_string()
        },
    );
    assert!(err.len() < 1000, "{} bytes: {}", err.len(), &err[..400]);
    assert_eq!(err.matches("… (").count(), 3, "{err}");
    assert!(
        err.starts_with(&format!(
            "rule `type=raw,value={{{{{}… ({} bytes)`",
            &long[..183],
            rule.len()
        )),
        "{err}"
    );

    let value = format!("{}\n{long}", "v".repeat(10));
    let err = CiEnv::from_vars([("SLIPWAY_PR", value.as_str())])
        .read()
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        format!(
            "environment variable SLIPWAY_PR={:?}… ({} bytes): not a positive number",
            &value[..200],
            value.len()
        )
    );
}
