//! Properties: no input makes the parsers panic; merging is order-independent; written profiles
//! read back to themselves.

use proptest::prelude::*;
use slipway_cover::{Block, Mode, Profile, ProfileMerger, find_funcs};

/// Text made of the characters that matter to the Go scanner and the profile parser.
fn gostring() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            Just("func ".to_owned()),
            Just("(".to_owned()),
            Just(")".to_owned()),
            Just("{".to_owned()),
            Just("}".to_owned()),
            Just("[".to_owned()),
            Just("]".to_owned()),
            Just("\"".to_owned()),
            Just("'".to_owned()),
            Just("`".to_owned()),
            Just("//".to_owned()),
            Just("/*".to_owned()),
            Just("*/".to_owned()),
            Just("//line a.go:3\n".to_owned()),
            Just("/*line :1:2*/".to_owned()),
            Just("\n".to_owned()),
            Just("\\".to_owned()),
            Just("struct".to_owned()),
            Just("x".to_owned()),
            Just("ü".to_owned()),
            Just("1e+5".to_owned()),
            Just(";".to_owned()),
            Just("*".to_owned()),
        ],
        0..60,
    )
    .prop_map(|parts| parts.concat())
}

fn block_line() -> impl Strategy<Value = String> {
    (
        prop_oneof![Just("m/a.go"), Just("m/b:c.go"), Just("n/a.go")],
        0u32..4,
        0u32..4,
        0u32..3,
    )
        .prop_map(|(file, line, col, count)| {
            // numStmt is a function of the range, as it is in real profiles.
            let num_stmt = (line * 7 + col) % 3;
            format!(
                "{file}:{line}.{col},{}.{} {num_stmt} {count}",
                line + 1,
                col + 2
            )
        })
}

fn profile_text(mode: Mode) -> impl Strategy<Value = String> {
    proptest::collection::vec(block_line(), 0..20).prop_map(move |lines| {
        let mut text = format!("mode: {mode}\n");
        for l in lines {
            text.push_str(&l);
            text.push('\n');
        }
        text
    })
}

fn any_mode() -> impl Strategy<Value = Mode> {
    prop_oneof![Just(Mode::Set), Just(Mode::Count), Just(Mode::Atomic)]
}

proptest! {
    #[test]
    fn scanner_never_panics_on_go_like_text(src in gostring()) {
        let _ = find_funcs(src.as_bytes());
    }

    #[test]
    fn scanner_never_panics_on_bytes(src in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = find_funcs(&src);
    }

    #[test]
    fn parser_never_panics(text in "(mode: (set|count|x)?\r?\n)?([a-z:./ ,0-9+-]{0,30}\r?\n){0,6}") {
        if let Ok(profile) = Profile::parse("p", &text) {
            prop_assert_eq!(Profile::parse("w", &profile.to_text()).unwrap(), profile);
        }
    }

    #[test]
    fn merge_is_order_independent(mode in any_mode(), a in any_mode().prop_flat_map(profile_text), b in any_mode().prop_flat_map(profile_text)) {
        // Give both inputs the same mode.
        let fix = |t: &str| format!("mode: {mode}\n{}", t.split_once('\n').map_or("", |(_, rest)| rest));
        let (a, b) = (fix(&a), fix(&b));
        let merge = |x: &str, y: &str| {
            let mut m = ProfileMerger::new();
            m.add_reader("x", x.as_bytes()).unwrap();
            m.add_reader("y", y.as_bytes()).unwrap();
            m.finish().unwrap()
        };
        let ab = merge(&a, &b);
        prop_assert_eq!(&ab, &merge(&b, &a));
        // Merging is also what one concatenated file gives.
        prop_assert_eq!(&ab, &Profile::parse("cat", &format!("{a}{b}")).unwrap());
        // And it reads back from its written form.
        prop_assert_eq!(&Profile::parse("w", &ab.to_text()).unwrap(), &ab);
        if mode == Mode::Set {
            // OR is idempotent: merging a profile with itself changes nothing.
            prop_assert_eq!(merge(&a, &a), Profile::parse("a", &a).unwrap());
        } else {
            // Sums: every merged count is the sum of the inputs' counts for that range.
            let total = |p: &Profile| p.files().iter().flat_map(|f| f.blocks.iter()).map(|b: &Block| b.count).sum::<u64>();
            let single = |t: &str| Profile::parse("s", t).unwrap();
            prop_assert_eq!(total(&ab), total(&single(&a)) + total(&single(&b)));
        }
    }
}
