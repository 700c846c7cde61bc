//! Properties of tag sanitising.

use proptest::prelude::*;
use slipway_tag::{is_valid_tag, sanitize_tag};

/// Text mixing tag characters, slashes, spaces, unicode and leading punctuation, up to 300 characters.
fn names() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            4 => prop::char::range('a', 'z'),
            1 => prop::sample::select(vec!['A', 'Z', '0', '9', '_', '.', '-', '/', ' ', 'é', 'ü', '日', '\u{1F600}', ':', '@', '+']),
        ],
        1..300,
    )
    .prop_map(|chars| chars.into_iter().collect())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn sanitised_tags_satisfy_the_grammar(name in names()) {
        let tag = sanitize_tag(&name).expect("non-empty input gives a tag");
        prop_assert!(is_valid_tag(&tag), "{name:?} -> {tag:?}");
        if is_valid_tag(&name) {
            prop_assert_eq!(&tag, &name);
        }
    }

    #[test]
    fn distinct_inputs_stay_distinct(a in names(), b in names()) {
        // `/` -> `-` is the one deliberate collision (metadata-action's readable mapping); every other
        // difference survives sanitising.
        prop_assume!(a.replace('/', "-") != b.replace('/', "-"));
        prop_assert_ne!(sanitize_tag(&a), sanitize_tag(&b), "{:?} vs {:?}", a, b);
    }

    #[test]
    fn near_identical_long_names_stay_distinct(stem in "[a-z/]{130,200}", x in "[a-z]", y in "[a-z]") {
        prop_assume!(x != y);
        let a = sanitize_tag(&format!("{stem}{x}")).unwrap();
        let b = sanitize_tag(&format!("{stem}{y}")).unwrap();
        prop_assert!(a.len() <= 128 && is_valid_tag(&a) && is_valid_tag(&b));
        prop_assert_ne!(a, b);
    }
}

/// A version `major.minor.patch` with an optional `-rc.N`, small numbers so collisions happen.
fn version() -> impl Strategy<Value = semver::Version> {
    (0u64..3, 0u64..3, 0u64..3, prop::option::of(1u64..3)).prop_map(|(ma, mi, pa, rc)| {
        let mut v = semver::Version::new(ma, mi, pa);
        if let Some(n) = rc {
            v.pre = semver::Prerelease::new(&format!("rc.{n}")).unwrap();
        }
        v
    })
}

proptest! {
    #[test]
    fn latest_and_moving_tags_never_move_backwards(
        current in version(),
        others in prop::collection::vec(version(), 0..8),
    ) {
        use slipway_tag::{Build, BuildRef, Event, Flavor, Options, TagRule, compute_tags};
        let mut b = BuildRef::default();
        b.event = Some(Event::Tag);
        b.git_ref = Some(format!("refs/tags/v{current}"));
        b.repo_tags = others.iter().map(|v| format!("v{v}")).collect();
        b.repo_tags.push(format!("v{current}"));
        let build = Build::resolve(b, Options::default()).unwrap();
        let rules: Vec<TagRule> = ["type=semver,pattern={{version}}", "type=semver,pattern=m{{major}}",
            "type=semver,pattern=n{{major}}.{{minor}}", "type=ref,event=tag"]
            .iter().map(|r| r.parse().unwrap()).collect();
        let tags = compute_tags(&build, &rules, &Flavor::default()).unwrap().tags;
        let stable_above = |same: &dyn Fn(&semver::Version) -> bool| {
            others.iter().any(|o| o.pre.is_empty() && same(o) && o.cmp_precedence(&current).is_gt())
        };
        let has = |t: &str| tags.iter().any(|x| x == t);
        prop_assert_eq!(has("latest"), current.pre.is_empty() && !stable_above(&|_| true), "{:?}", tags);
        prop_assert_eq!(
            has(&format!("m{}", current.major)),
            current.pre.is_empty() && !stable_above(&|o| o.major == current.major),
            "{:?}", tags
        );
        prop_assert_eq!(
            has(&format!("n{}.{}", current.major, current.minor)),
            current.pre.is_empty()
                && !stable_above(&|o| o.major == current.major && o.minor == current.minor),
            "{:?}", tags
        );
        // The exact version is always there.
        let exact = current.to_string();
        prop_assert!(has(&exact), "{:?}", tags);
    }
}
