//! `module` and `pseudo` against Go's own x/mod/module: every record of `fixtures/module/go.jsonl`
//! (written by `scripts/gen-gomod-module-fixtures.sh`) is replayed and compared, result and error text.

use slipway_gomod::{module, pseudo};

fn outcome<T: ToString, E: ToString>(r: Result<T, E>) -> (String, String) {
    match r {
        Ok(v) => (v.to_string(), String::new()),
        Err(e) => (String::new(), e.to_string()),
    }
}

fn replay(fun: &str, args: &[String]) -> (String, String) {
    let a = |i: usize| args[i].as_str();
    match fun {
        "check_path" => outcome(module::check_path(a(0)).map(|()| "")),
        "check_import_path" => outcome(module::check_import_path(a(0)).map(|()| "")),
        "check_file_path" => outcome(module::check_file_path(a(0)).map(|()| "")),
        "check" => outcome(module::check(a(0), a(1)).map(|()| "")),
        "check_path_major" => outcome(module::check_path_major(a(0), a(1)).map(|()| "")),
        "split_path_version" => match module::split_path_version(a(0)) {
            Some((prefix, major)) => (format!("{prefix}|{major}"), String::new()),
            None => (String::new(), "not ok".to_owned()),
        },
        "escape_path" => outcome(module::escape_path(a(0))),
        "unescape_path" => outcome(module::unescape_path(a(0))),
        "escape_version" => outcome(module::escape_version(a(0))),
        "unescape_version" => outcome(module::unescape_version(a(0))),
        "is_pseudo_version" => (pseudo::is_pseudo_version(a(0)).to_string(), String::new()),
        "is_zero_pseudo_version" => (
            pseudo::is_zero_pseudo_version(a(0)).to_string(),
            String::new(),
        ),
        "pseudo_version_base" => {
            outcome(pseudo::pseudo_version_base(a(0)).map(Option::unwrap_or_default))
        }
        "pseudo_version_rev" => outcome(pseudo::pseudo_version_rev(a(0))),
        "pseudo_version_time" => outcome(pseudo::pseudo_version_time(a(0))),
        "pseudo_version" => {
            let time = pseudo::Timestamp::parse(a(2)).expect("fixture time");
            (
                pseudo::pseudo_version(a(0), a(1), time, a(3)),
                String::new(),
            )
        }
        "zero_pseudo_version" => (pseudo::zero_pseudo_version(a(0)), String::new()),
        other => panic!("fixture names an unknown function {other}"),
    }
}

#[test]
fn every_record_matches_go() {
    let path = slipway_testkit::workspace_root()
        .join("crates/slipway-gomod/tests/fixtures/module/go.jsonl");
    let text = std::fs::read_to_string(&path).expect("run scripts/gen-gomod-module-fixtures.sh");
    let mut compared = 0;
    let mut failures = Vec::new();
    for line in text.lines() {
        let record: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
        let fun = record["fn"].as_str().expect("fn");
        let want = (
            record["out"].as_str().unwrap_or_default().to_owned(),
            record["err"].as_str().unwrap_or_default().to_owned(),
        );
        let args: Vec<String> = record["args"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|v| v.as_str().unwrap_or_default().to_owned())
                    .collect()
            })
            .unwrap_or_default();
        let got = if fun == "sort" {
            let mut list: Vec<module::Version> = want
                .0
                .lines()
                .rev()
                .map(|l| {
                    let (p, v) = l.split_once(' ').expect("path version");
                    module::Version::new(p, v)
                })
                .collect();
            module::sort(&mut list);
            let shown: Vec<String> = list
                .iter()
                .map(|m| format!("{} {}", m.path, m.version))
                .collect();
            (shown.join("\n"), String::new())
        } else {
            replay(fun, &args)
        };
        compared += 1;
        if got != want {
            failures.push(format!("{fun}{args:?}: got {got:?}, go says {want:?}"));
        }
    }
    assert!(compared > 8000, "only {compared} records");
    assert!(
        failures.is_empty(),
        "{} of {compared} records differ from Go:\n{}",
        failures.len(),
        failures[..failures.len().min(30)].join("\n")
    );
}

proptest::proptest! {
    #[test]
    fn nothing_panics_on_arbitrary_strings(s in ".{0,40}") {
        let _ = (module::check_path(&s), module::check_import_path(&s), module::check_file_path(&s));
        let _ = (module::escape_path(&s), module::unescape_path(&s));
        let _ = (module::escape_version(&s), module::unescape_version(&s));
        let _ = (module::split_path_version(&s), module::path_major_prefix(&s));
        let _ = (module::check_path_major(&s, ""), module::check_path_major("v2.0.0", &s));
        let _ = (pseudo::is_pseudo_version(&s), pseudo::pseudo_version_base(&s));
        let _ = (pseudo::pseudo_version_rev(&s), pseudo::pseudo_version_time(&s));
    }

    #[test]
    fn escaping_round_trips_valid_paths(path in "[a-z]{1,8}\\.[a-z]{2,3}(/[A-Za-z0-9_~-]{1,8}){0,4}") {
        if module::check_path(&path).is_ok() {
            let escaped = module::escape_path(&path).unwrap();
            proptest::prop_assert!(!escaped.chars().any(|c| c.is_ascii_uppercase()));
            proptest::prop_assert_eq!(module::unescape_path(&escaped).unwrap(), path);
        }
    }

    #[test]
    fn pseudo_versions_parse_back(major in 0u32..5, base in proptest::option::of((0u32..3, 0u32..20, 0u32..20, proptest::option::of("[a-z]{1,4}"))),
                                  secs in 0i64..4_000_000_000, rev in "[0-9a-f]{12}") {
        let time = pseudo::Timestamp::from_unix(secs).unwrap();
        let older = base.map(|(_, mi, pa, pre)| match pre {
            Some(pre) => format!("v{major}.{mi}.{pa}-{pre}"),
            None => format!("v{major}.{mi}.{pa}"),
        }).unwrap_or_default();
        let v = pseudo::pseudo_version(&format!("v{major}"), &older, time, &rev);
        proptest::prop_assert!(pseudo::is_pseudo_version(&v), "{}", v);
        proptest::prop_assert_eq!(pseudo::pseudo_version_time(&v).unwrap(), time);
        proptest::prop_assert_eq!(pseudo::pseudo_version_rev(&v).unwrap(), rev.as_str());
        let want_base = if older.is_empty() { None } else { Some(older.clone()) };
        proptest::prop_assert_eq!(pseudo::pseudo_version_base(&v).unwrap(), want_base);
        // A pseudo-version sorts after its base.
        if !older.is_empty() {
            proptest::prop_assert_eq!(slipway_gomod::version::compare(&v, &older), std::cmp::Ordering::Greater);
        }
    }
}
