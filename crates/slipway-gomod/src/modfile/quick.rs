//! A fast reader for the plain go.mod files most dependencies have: what [`ModFile::parse_lax`] would
//! read for `module`, `go` and `require`, without building the syntax tree.
//!
//! Loading a module graph reads thousands of dependency go.mod files; the full parser spends most of its
//! time keeping what only edits need (positions, comments, tokens as written). This reader accepts a
//! strict subset of the syntax — ASCII, no quotes, no `\r`, comments only where whitespace precedes them,
//! parentheses only as a `require (` … `)` block — and within it makes exactly the checks `parse_lax`
//! makes. Anything else (including every file `parse_lax` would reject) gets `None`, and the caller parses
//! the file in full. Tests compare the two readers on every go.mod of the fixture corpora, and the fuzz
//! target `gomod_modfile` compares them on arbitrary input.
//!
//! [`ModFile::parse_lax`]: super::ModFile::parse_lax

use std::borrow::Cow;

use super::ModuleVersion;
use crate::{module, version};

/// What a dependency's go.mod says that a module graph needs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LaxSummary {
    /// The `module` path, if there is a module line.
    pub module: Option<String>,
    /// The `go` version, if there is a go line.
    pub go: Option<String>,
    /// The requirements in file order, versions in canonical form.
    pub require: Vec<ModuleVersion>,
}

/// Reads `module`, `go` and `require` from a plain go.mod exactly as [`ModFile::parse_lax`] reads them,
/// or returns `None` when the file uses syntax outside the plain subset (parse it in full then).
///
/// ```
/// use slipway_gomod::modfile::lax_summary;
///
/// let s = lax_summary("module example.com/a\n\ngo 1.21\n\nrequire (\n\texample.com/b v1.2\n)\n").unwrap();
/// assert_eq!(s.module.as_deref(), Some("example.com/a"));
/// assert_eq!(s.require[0].version, "v1.2.0");
/// assert_eq!(lax_summary("module \"example.com/a\"\n"), None); // quoted: not plain
/// ```
///
/// [`ModFile::parse_lax`]: super::ModFile::parse_lax
#[must_use]
pub fn lax_summary(src: &str) -> Option<LaxSummary> {
    let r = lax_ref(src)?;
    Some(LaxSummary {
        module: r.module.map(str::to_owned),
        go: r.go.map(str::to_owned),
        require: r
            .require
            .into_iter()
            .map(|(path, version)| ModuleVersion {
                path: path.to_owned(),
                version: version.into_owned(),
            })
            .collect(),
    })
}

/// [`LaxSummary`] borrowed from the text it was read from (versions borrowed when already canonical):
/// what graph loading reads, without copying.
#[derive(Debug, Default)]
pub(crate) struct LaxRef<'a> {
    pub(crate) module: Option<&'a str>,
    pub(crate) go: Option<&'a str>,
    pub(crate) require: Vec<(&'a str, Cow<'a, str>)>,
}

/// [`lax_summary`], borrowing.
pub(crate) fn lax_ref(src: &str) -> Option<LaxRef<'_>> {
    let mut summary = LaxRef::default();
    let mut in_block = false;
    let mut tokens = [""; 3];
    let mut at = 0;
    while at < src.len() {
        let n;
        (n, at) = split_line(src, at, &mut tokens)?;
        let args = &tokens[..n.min(3)];
        let Some(&first) = args.first() else {
            continue;
        };
        if in_block {
            match args {
                [")"] => in_block = false,
                [path, v] if !is_paren(path) && !is_paren(v) => require(&mut summary, path, v)?,
                _ => return None,
            }
            continue;
        }
        if args.iter().any(|t| is_paren(t)) {
            // Only `require (` opens a block this reader follows.
            if args != ["require", "("] {
                return None;
            }
            in_block = true;
            continue;
        }
        match (first, n) {
            ("module", 2) if summary.module.is_none() => summary.module = Some(args[1]),
            ("go", 2) if summary.go.is_none() && version::is_valid_go_line(args[1]) => {
                summary.go = Some(args[1]);
            }
            ("require", 3) => require(&mut summary, args[1], args[2])?,
            // Wrong arity, repeats and lax go versions (which parse_lax reports or fixes), and the other
            // verbs parse_lax reads (which can fail): left to it.
            ("module" | "go" | "require" | "retract" | "ignore", _) => return None,
            // Everything else is ignored in a dependency's go.mod.
            _ => {}
        }
    }
    // An unclosed block is a syntax error.
    (!in_block).then_some(summary)
}

fn is_paren(token: &str) -> bool {
    token == "(" || token == ")"
}

// Splits the line of `src` starting at `at` into tokens (the first three kept in `out`) and returns how
// many there are and where the next line starts, stopping at a `//` comment; `None` when the line leaves
// the plain subset: a byte other than printable ASCII, space or tab anywhere (`\r` included), a quote in
// a token, a `//` or `/*` glued to a token, or punctuation other than `(` and `)` standing alone.
fn split_line<'a>(src: &'a str, at: usize, out: &mut [&'a str; 3]) -> Option<(usize, usize)> {
    let bytes = src.as_bytes();
    let mut n = 0;
    let mut i = at;
    while i < bytes.len() {
        match CLASS[usize::from(bytes[i])] {
            NEWLINE => return Some((n, i + 1)),
            BLANK => {
                i += 1;
                continue;
            }
            SLASH if bytes.get(i + 1) == Some(&b'/') => {
                // A comment: its text is not read, but must be printable ASCII too.
                while i < bytes.len() && bytes[i] != b'\n' {
                    if CLASS[usize::from(bytes[i])] == OTHER {
                        return None;
                    }
                    i += 1;
                }
                return Some((n, i + 1));
            }
            _ => {}
        }
        let start = i;
        let mut punctuation = false;
        while i < bytes.len() {
            match CLASS[usize::from(bytes[i])] {
                BLANK | NEWLINE => break,
                PUNCTUATION => punctuation = true,
                SLASH if matches!(bytes.get(i + 1), Some(b'/' | b'*')) => return None,
                PLAIN | SLASH => {}
                _ => return None,
            }
            i += 1;
        }
        // Only printable ASCII was taken, so both ends are character boundaries.
        let token = &src[start..i];
        if punctuation && (token.len() > 1 || !is_paren(token)) {
            return None;
        }
        match out.get_mut(n) {
            Some(slot) => *slot = token,
            // The only lines with parentheses this reader takes are `require (` and `)`.
            None if punctuation => return None,
            None => {}
        }
        n += 1;
    }
    Some((n, i + 1))
}

// Byte classes for `split_line`: tokens are made of PLAIN, PUNCTUATION and SLASH bytes; QUOTE bytes may
// only appear in comments, OTHER bytes nowhere.
const OTHER: u8 = 0;
const PLAIN: u8 = 1;
const BLANK: u8 = 2;
const NEWLINE: u8 = 3;
const PUNCTUATION: u8 = 4;
const SLASH: u8 = 5;
const QUOTE: u8 = 6;
const CLASS: [u8; 256] = {
    let mut class = [OTHER; 256];
    let mut c: u8 = 0;
    loop {
        class[c as usize] = match c {
            b' ' | b'\t' => BLANK,
            b'\n' => NEWLINE,
            b'(' | b')' | b'[' | b']' | b'{' | b'}' | b',' => PUNCTUATION,
            b'/' => SLASH,
            b'"' | b'`' | b'\'' => QUOTE,
            _ if c.is_ascii_graphic() => PLAIN,
            _ => OTHER,
        };
        if c == u8::MAX {
            break;
        }
        c += 1;
    }
    class
};

// The checks x/mod's `add` makes on `require path version`.
fn require<'a>(summary: &mut LaxRef<'a>, path: &'a str, v: &'a str) -> Option<()> {
    let v = version::canonical_module_version_cow(v)?;
    let (_, path_major) = module::split_path_version(path)?;
    module::check_path_major(&v, path_major).ok()?;
    summary.require.push((path, v));
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modfile::ModFile;

    /// What `parse_lax` reads, in the same shape.
    fn full(src: &str) -> Option<LaxSummary> {
        let f = ModFile::parse_lax("go.mod", src).ok()?;
        Some(LaxSummary {
            module: f.module.map(|m| m.path),
            go: f.go.map(|g| g.version),
            require: f.require.into_iter().map(|r| r.module).collect(),
        })
    }

    /// Whether `src` was plain (and then, that both readers agree).
    fn check(src: &str) -> bool {
        let quick = lax_summary(src);
        let plain = quick.is_some();
        if plain {
            assert_eq!(quick, full(src), "readers disagree on {src:?}");
        }
        plain
    }

    #[test]
    fn plain_files_read_as_parse_lax_reads_them() {
        for src in [
            "module example.com/a\n\ngo 1.21\n\nrequire (\n\texample.com/b v1.2\n\texample.com/c/v2 v2.0.0 // indirect\n)\n",
            "// comment\nmodule example.com/a // trailing\nrequire example.com/b v1.0.0\ntoolchain go1.22.1\nreplace x => ../y\nexclude example.com/b v1.1.0\n",
            "module example.com/a\ngo 1.21.0\ngodebug default=go1.21\ntool example.com/t\n",
            "go 1.16\n",
            "",
            "\n\n// only comments\n",
            "require gopkg.in/yaml.v3 v3.0.1\nrequire example.com/m v1.0.0-20200101000000-abcdefabcdef\n",
            "require example.com/m v2.0.0+incompatible\n",
            "module example.com/a // \"quoted\" and 'single' /* not a block */\n",
            "require (\n\n\t// gone\n\texample.com/b v1.0.0\t// indirect\n) // end\n",
            "replace example.com/b v1.0.0 => example.com/c v1.1.0\nexclude example.com/b v0.1.0\n",
        ] {
            assert!(lax_summary(src).is_some(), "{src:?} is plain");
            check(src);
        }
    }

    #[test]
    fn everything_else_is_left_to_the_full_parser() {
        for src in [
            "module \"example.com/a\"\n",
            "module example.com/a\r\n",
            "module example.com/a\nmodule example.com/b\n",
            "go 1.21\ngo 1.22\n",
            "go v1.21\n",
            "go 1.21-foo\n",
            "require example.com/b\n",
            "require example.com/b v1.0.0 extra\n",
            "require example.com/b latest\n",
            "require example.com/b/v2 v1.0.0\n",
            "require example.com/b v2.0.0\n",
            "require (\n\texample.com/b v1.0.0\n",
            "require (\n\texample.com/b v1.0.0\n) x\n",
            "replace (\n\tx => y\n)\n",
            "go (\n\t1.21\n)\n",
            "require example.com//b v1.0.0\n",
            "module example.com/a/* c */\n",
            "retract v1.0.0\n",
            "ignore ./x\n",
            "module ex\u{e9}.com/a\n",
            "require [x] v1.0.0\n",
            "require(\n\texample.com/b v1.0.0\n)\n",
            "require (\n\texample.com/b v1.0.0)\n",
            "require ( example.com/b v1.0.0 )\n",
            "module x//c\n",
            "module x /* c */\n",
            "go 1.21 // caf\u{e9}\n",
            "require example.com/b v1.0.0,\n",
            "exclude {\n",
            // Found by the fuzzer: a parenthesis after the third token opens a block too.
            "use z 2 (",
            "tool a b c (\n)\n",
        ] {
            assert_eq!(lax_summary(src), None, "{src:?} is not plain");
        }
    }

    #[test]
    fn fixture_corpora_agree() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        let mut stack = vec![root];
        let (mut seen, mut plain) = (0, 0);
        while let Some(dir) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_dir() {
                    stack.push(path);
                    continue;
                }
                let Ok(text) = std::fs::read_to_string(&path) else {
                    continue;
                };
                // Whole files, and the go.mod sections of the txtar worlds.
                plain += usize::from(check(&text));
                for section in text.split("\n-- ").skip(1) {
                    if let Some((_, body)) = section.split_once(" --\n") {
                        plain += usize::from(check(body));
                        seen += 1;
                    }
                }
                seen += 1;
            }
        }
        // Both kinds must be well represented for the comparison to mean something.
        assert!(
            seen > 1000 && plain > 500 && seen - plain > 200,
            "{seen} inputs, {plain} plain"
        );
    }
}
