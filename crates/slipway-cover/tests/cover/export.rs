//! JSON and HTML exports of the fixture profiles, checked against the schema file, `go tool cover -func`,
//! `go test`'s percentages and `go tool cover -html` (fixtures from `scripts/gen-cover-export-fixtures.sh`).

use std::fmt::Write as _;
use std::path::PathBuf;

use serde_json::Value;
use slipway_cover::{Coverage, Html, Json, ModuleResolver, Profile, ReportWriter, SourceResolver};

use crate::{module_dir, out, read};

const PROFILES: [&str; 6] = [
    "set",
    "count",
    "atomic",
    "coverpkg-set",
    "coverpkg-count",
    "coverpkg-atomic",
];

fn resolver() -> ModuleResolver {
    ModuleResolver::discover(module_dir()).with_goroot(None)
}

fn coverage(name: &str, resolver: &ModuleResolver) -> Coverage {
    let profile = Profile::open(out(&format!("{name}.out"))).unwrap();
    let names: Vec<String> = profile.files().iter().map(|f| f.name.clone()).collect();
    let mut coverage = Coverage::new(profile, resolver).unwrap();
    for file in names {
        let path = resolver.locate(&file).unwrap();
        coverage = coverage.with_source_path(file, path.display().to_string());
    }
    coverage
}

fn schema() -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/cover-json.schema.json");
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// Checks `value` against the subset of JSON Schema the schema file uses (`type`, `enum`, `required`,
/// `properties`, `items`, `minimum`, `maximum`, local `$ref`), collecting every violation with its path.
fn validate(root: &Value, schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        let name = r.strip_prefix("#/$defs/").expect("local $ref");
        return validate(root, &root["$defs"][name], value, at, errors);
    }
    if let Some(types) = schema.get("type") {
        let types: Vec<&str> = match types {
            Value::String(t) => vec![t.as_str()],
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
            _ => panic!("bad type in schema at {at}"),
        };
        let ok = types.iter().any(|t| match *t {
            "object" => value.is_object(),
            "array" => value.is_array(),
            "string" => value.is_string(),
            "integer" => value.is_u64() || value.is_i64(),
            "number" => value.is_number(),
            "null" => value.is_null(),
            "boolean" => value.is_boolean(),
            other => panic!("unknown type {other}"),
        });
        if !ok {
            errors.push(format!("{at}: {value} is not {types:?}"));
            return;
        }
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
        && !allowed.contains(value)
    {
        errors.push(format!("{at}: {value} not in {allowed:?}"));
    }
    if let Some(min) = schema.get("minimum").and_then(Value::as_f64)
        && value.as_f64().is_some_and(|v| v < min)
    {
        errors.push(format!("{at}: {value} < {min}"));
    }
    if let Some(max) = schema.get("maximum").and_then(Value::as_f64)
        && value.as_f64().is_some_and(|v| v > max)
    {
        errors.push(format!("{at}: {value} > {max}"));
    }
    if let Some(required) = schema.get("required").and_then(Value::as_array) {
        for key in required.iter().filter_map(Value::as_str) {
            if value.get(key).is_none() {
                errors.push(format!("{at}: missing {key}"));
            }
        }
    }
    if let (Some(props), Some(object)) = (
        schema.get("properties").and_then(Value::as_object),
        value.as_object(),
    ) {
        for (key, sub) in props {
            if let Some(v) = object.get(key) {
                validate(root, sub, v, &format!("{at}.{key}"), errors);
            }
        }
    }
    if let (Some(items), Some(array)) = (schema.get("items"), value.as_array()) {
        for (i, v) in array.iter().enumerate() {
            validate(root, items, v, &format!("{at}[{i}]"), errors);
        }
    }
}

fn json_of(name: &str) -> Value {
    let resolver = resolver();
    let mut bytes = Vec::new();
    Json::default()
        .relative_to(module_dir())
        .write_report(&coverage(name, &resolver), &mut bytes)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

#[test]
fn the_validator_rejects_what_the_schema_forbids() {
    let schema = schema();
    let mut report = json_of("set");
    report["schema"] = Value::from(2);
    report["packages"][0]["files"][0]["blocks"][0]
        .as_object_mut()
        .unwrap()
        .remove("count");
    report["totals"]["functions"]["percent"] = Value::from(101.5);
    let mut errors = Vec::new();
    validate(&schema, &schema, &report, "$", &mut errors);
    assert_eq!(errors.len(), 3, "{errors:#?}");
}

#[test]
fn json_follows_the_schema_and_go_tool_cover_func() {
    let schema = schema();
    let mut funcs_compared = 0;
    for name in PROFILES {
        let report = json_of(name);
        let mut errors = Vec::new();
        validate(&schema, &schema, &report, "$", &mut errors);
        assert!(errors.is_empty(), "{name}: {errors:#?}");
        assert_eq!(report["mode"], name.trim_start_matches("coverpkg-"));

        // Rebuild `go tool cover -func` from the JSON alone.
        let mut lines = Vec::new();
        let mut statements = 0;
        let profile = Profile::open(out(&format!("{name}.out"))).unwrap();
        for package in report["packages"].as_array().unwrap() {
            for file in package["files"].as_array().unwrap() {
                let file_name = file["name"].as_str().unwrap();
                let path = file["path"].as_str().unwrap();
                assert_eq!(
                    format!("example.com/covfix/{path}"),
                    file_name,
                    "relative path"
                );
                for f in file["funcs"].as_array().unwrap() {
                    lines.push(format!(
                        "{file_name}:{}: {} {:.1}%",
                        f["line"],
                        f["name"].as_str().unwrap(),
                        f["percent"].as_f64().unwrap()
                    ));
                }
                // Blocks are the profile's, in its order.
                let want = profile
                    .files()
                    .iter()
                    .find(|p| p.name == file_name)
                    .unwrap();
                let blocks = file["blocks"].as_array().unwrap();
                assert_eq!(blocks.len(), want.blocks.len());
                for (got, b) in blocks.iter().zip(&want.blocks) {
                    let got = [
                        "start_line",
                        "start_column",
                        "end_line",
                        "end_column",
                        "statements",
                        "count",
                    ]
                    .map(|k| got[k].as_u64().unwrap());
                    let b = [
                        u64::from(b.start_line),
                        u64::from(b.start_col),
                        u64::from(b.end_line),
                        u64::from(b.end_col),
                        u64::from(b.num_stmt),
                        b.count,
                    ];
                    assert_eq!(got, b, "{file_name}");
                    statements += b[4];
                }
            }
        }
        lines.push(format!(
            "total: (statements) {:.1}%",
            report["totals"]["functions"]["percent"].as_f64().unwrap()
        ));
        let want: Vec<String> = read(&format!("{name}.func"))
            .lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect();
        assert_eq!(lines, want, "{name}");
        funcs_compared += want.len() - 1;
        assert_eq!(report["totals"]["statements"]["total"], statements);

        // Per package, the statement numbers are go test's `coverage:` lines.
        if !name.starts_with("coverpkg") {
            let mut gotest = String::new();
            for package in report["packages"].as_array().unwrap() {
                let c = &package["statements"];
                writeln!(
                    gotest,
                    "{}\tcoverage: {:.1}% of statements",
                    package["path"].as_str().unwrap(),
                    c["percent"].as_f64().unwrap()
                )
                .unwrap();
            }
            assert_eq!(gotest, read(&format!("{name}.gotest")), "{name}");
        }
    }
    assert_eq!(funcs_compared, 6 * 31);
}

#[test]
fn json_totals_differ_where_go_says_they_do() {
    let report = json_of("set");
    let statements = &report["totals"]["statements"];
    let functions = &report["totals"]["functions"];
    // Package-level function literals count for go test, not for -func.
    assert!(statements["total"].as_u64() > functions["total"].as_u64());
}

/// Checks that tags balance (void `meta` aside; `script` is raw text) and that every `<` in text is
/// escaped, returning the number of elements.
fn check_tags(html: &str) -> usize {
    let mut stack: Vec<&str> = Vec::new();
    let mut rest = html;
    let mut elements = 0;
    while let Some(i) = rest.find('<') {
        rest = &rest[i + 1..];
        if let Some(r) = rest.strip_prefix("!DOCTYPE html>") {
            rest = r;
            continue;
        }
        let end = rest.find('>').expect("tag closes");
        let tag = &rest[..end];
        rest = &rest[end + 1..];
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(stack.pop(), Some(name), "unbalanced </{name}>");
            continue;
        }
        let name = tag.split(' ').next().unwrap();
        assert!(
            !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric()),
            "text has an unescaped '<': {tag:?}"
        );
        elements += 1;
        if name == "meta" {
            continue;
        }
        if name == "script" {
            let close = rest.find("</script>").expect("script closes");
            rest = &rest[close + "</script>".len()..];
            continue;
        }
        stack.push(name);
    }
    assert!(stack.is_empty(), "unclosed: {stack:?}");
    elements
}

fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// The contents of every `<pre class="code">`, in file order.
fn code_bodies(html: &str) -> Vec<&str> {
    html.split("<pre class=\"code\">")
        .skip(1)
        .map(|s| &s[..s.find("</pre>").unwrap()])
        .collect()
}

/// Walks a highlighted body: for each source byte, the class of the innermost open span (`None` when
/// outside every span); also returns the text without tags.
fn classes(body: &str) -> (String, Vec<Option<String>>) {
    let mut text = String::new();
    let mut per_byte = Vec::new();
    let mut stack: Vec<String> = Vec::new();
    let mut rest = body;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix("</span>") {
            stack.pop().expect("span open");
            rest = r;
        } else if let Some(r) = rest.strip_prefix("<span class=\"") {
            let end = r.find('"').unwrap();
            stack.push(r[..end].to_owned());
            rest = &r[r.find('>').unwrap() + 1..];
        } else {
            let next = rest.find('<').unwrap_or(rest.len());
            let piece = unescape(&rest[..next]);
            for _ in 0..piece.len() {
                per_byte.push(stack.last().cloned());
            }
            text.push_str(&piece);
            rest = &rest[next..];
        }
    }
    (text, per_byte)
}

#[test]
fn html_shows_every_source_as_go_tool_cover_highlights_it() {
    let resolver = resolver();
    let mut files_compared = 0;
    for name in PROFILES {
        let coverage = coverage(name, &resolver);
        let mut bytes = Vec::new();
        Html::new(&resolver)
            .write_report(&coverage, &mut bytes)
            .unwrap();
        let html = String::from_utf8(bytes).unwrap();
        assert!(check_tags(&html) > 100);
        // Self-contained: nothing is fetched.
        for needle in ["src=", "href=\"http", "<link", "@import", "url("] {
            assert!(!html.contains(needle), "{name}: {needle}");
        }

        let go = read(&format!("../export/{name}.html"));
        let go_bodies: Vec<&str> = go
            .split("style=\"display: none\">")
            .skip(1)
            .map(|s| &s[..s.find("</pre>").unwrap()])
            .collect();
        let ours = code_bodies(&html);
        let files = coverage.profile().files();
        assert_eq!(ours.len(), files.len());
        assert_eq!(go_bodies.len(), files.len());
        for ((body, go_body), file) in ours.iter().zip(&go_bodies).zip(files) {
            let source = String::from_utf8(resolver.resolve(&file.name).unwrap()).unwrap();
            let (text, per_byte) = classes(body);
            // Every line of the source, escaped, and nothing else.
            assert_eq!(text, source, "{name}: {}", file.name);
            // Go's page, after its two presentation differences: tabs expanded, quotes left as is.
            let as_go = body.replace('\t', "        ").replace("&quot;", "\"");
            assert_eq!(&as_go, go_body, "{name}: {}", file.name);

            // Every byte of a block is marked by the block's state; bytes outside blocks are not marked.
            let mut line_starts = vec![0usize];
            line_starts.extend(source.match_indices('\n').map(|(i, _)| i + 1));
            let offset = |line: u32, col: u32| line_starts[line as usize - 1] + col as usize - 1;
            let mut expected: Vec<Option<bool>> = vec![None; source.len()];
            for b in &file.blocks {
                for slot in
                    &mut expected[offset(b.start_line, b.start_col)..offset(b.end_line, b.end_col)]
                {
                    *slot = Some(b.count > 0);
                }
            }
            for (i, (want, got)) in expected.iter().zip(&per_byte).enumerate() {
                match (want, got.as_deref()) {
                    (None, None) | (Some(false), Some("cov0")) => {}
                    (Some(true), Some(c)) if c != "cov0" => {}
                    _ => panic!("{name}: {} byte {i}: want {want:?}, got {got:?}", file.name),
                }
            }
            files_compared += 1;
        }
    }
    assert_eq!(files_compared, 6 * 8);
}
