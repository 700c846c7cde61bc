//! Error texts quote at most 200 bytes of any input, then `…` and its length: a 1 MB profile line (or
//! file name) is named once and cut, not echoed whole in every place it appears.

use slipway_cover::{ModuleResolver, Profile, SourceResolver};

/// The first 200 bytes of `text`, quoted, then the total length, as the messages write a long input.
fn cut(text: &str) -> String {
    format!("{:?}… ({} bytes)", &text[..200], text.len())
}

#[test]
fn profile_errors_cut_long_lines() {
    let digits = "1".repeat(1_000_000);
    let line = format!("x.go:{digits}.1,2.1 1 1");
    let err = Profile::parse("p.out", &format!("mode: set\n{line}\n")).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "p.out:2:6: start line {} is not a number in {} (want \"file:SL.SC,EL.EC numStmt count\")",
            cut(&digits),
            cut(&line)
        )
    );

    let line = "a".repeat(1_000_000);
    let err = Profile::parse("p.out", &format!("{line}\n")).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "p.out:1: bad mode line {} (want \"mode: set|count|atomic\")",
            cut(&line)
        )
    );

    let mode = "b".repeat(1_000_000);
    let err = Profile::parse("p.out", &format!("mode: {mode}\n")).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "p.out:1: unknown coverage mode {} (want set, count or atomic)",
            cut(&mode)
        )
    );
}

/// A file name is in the message once, and again in every path tried: each is cut.
#[test]
fn resolve_errors_cut_long_file_names() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("go.mod"), "module example.com/m\n").unwrap();
    let goroot = tempfile::tempdir().unwrap();
    let resolver = ModuleResolver::discover(dir.path()).with_goroot(Some(goroot.path().into()));
    let file = format!("example.com/other/{}.go", "f".repeat(1_000_000));
    let err = resolver.resolve(&file).unwrap_err().to_string();
    assert!(err.len() < 1500, "{} bytes", err.len());
    assert!(
        err.starts_with(&format!(
            "cannot find Go source for {}… ({} bytes): looked at ",
            &file[..200],
            file.len()
        )),
        "{}",
        &err[..300]
    );
    assert_eq!(err.matches(" bytes)").count(), 3, "{err}");
}
