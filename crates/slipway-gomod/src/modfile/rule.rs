//! The typed view of a go.mod file (x/mod's rule.go): parsing directives, edits, sorting and clean-up.

use std::cmp::Ordering;
use std::collections::HashSet;

use super::chars::{auto_quote, trim_space, unquote};
use super::syntax::{self, Comment, Comments, FileSyntax, LineId, Stmt};
use super::{Error, Problem, QuoteProblem, Result};
use crate::{module, version};

/// A module path and version (either may be empty where the directive allows it).
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ModuleVersion {
    /// The module path (or, for a replacement, possibly a directory).
    pub path: String,
    /// The version; empty when absent.
    pub version: String,
}

/// The `module` statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Module {
    /// The module path.
    pub path: String,
    /// The text of a `Deprecated:` paragraph in the comments on the statement; empty when there is none.
    pub deprecated: String,
    /// The statement's line.
    pub syntax: LineId,
}

/// The `go` statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoStmt {
    /// The Go version (`1.23`, `1.23.0`, `1.23rc1`).
    pub version: String,
    /// The statement's line.
    pub syntax: LineId,
}

/// The `toolchain` statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Toolchain {
    /// The toolchain name (`go1.23.0`, `default`).
    pub name: String,
    /// The statement's line.
    pub syntax: LineId,
}

/// One `godebug key=value` setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Godebug {
    /// The key.
    pub key: String,
    /// The value.
    pub value: String,
    /// Its line.
    pub syntax: LineId,
}

/// One requirement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Require {
    /// The module and its (canonical) version.
    pub module: ModuleVersion,
    /// Whether the line carries a `// indirect` comment.
    pub indirect: bool,
    /// Its line.
    pub syntax: LineId,
}

/// One excluded module version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exclude {
    /// The module and (canonical) version.
    pub module: ModuleVersion,
    /// Its line.
    pub syntax: LineId,
}

/// One replacement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replace {
    /// What is replaced: a path, and a version or empty for all versions.
    pub old: ModuleVersion,
    /// The replacement: a module path and version, or a directory and no version.
    pub new: ModuleVersion,
    /// Its line.
    pub syntax: LineId,
}

/// A closed version interval; `low == high` for a single version.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct VersionInterval {
    /// The lowest version included.
    pub low: String,
    /// The highest version included.
    pub high: String,
}

/// One retraction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retract {
    /// The retracted versions.
    pub interval: VersionInterval,
    /// The comment text on the directive (or its block), one line per comment line.
    pub rationale: String,
    /// Its line.
    pub syntax: LineId,
}

/// One `tool` statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tool {
    /// The tool's package path.
    pub path: String,
    /// Its line.
    pub syntax: LineId,
}

/// One `ignore` statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ignore {
    /// The ignored directory.
    pub path: String,
    /// Its line.
    pub syntax: LineId,
}

/// A parsed go.mod file: the typed directives over the lossless [`FileSyntax`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModFile {
    /// The `module` statement.
    pub module: Option<Module>,
    /// The `go` statement.
    pub go: Option<GoStmt>,
    /// The `toolchain` statement.
    pub toolchain: Option<Toolchain>,
    /// `godebug` settings in file order.
    pub godebug: Vec<Godebug>,
    /// Requirements in file order.
    pub require: Vec<Require>,
    /// Exclusions in file order.
    pub exclude: Vec<Exclude>,
    /// Replacements in file order.
    pub replace: Vec<Replace>,
    /// Retractions in file order.
    pub retract: Vec<Retract>,
    /// Tools in file order.
    pub tool: Vec<Tool>,
    /// Ignored directories in file order.
    pub ignore: Vec<Ignore>,
    /// The syntax tree.
    pub syntax: FileSyntax,
}

// The argument reading helpers shared with go.work.

/// Reads a possibly quoted argument and rewrites the token in the form Go prints it.
pub(crate) fn parse_string(token: &mut String) -> Result<String, QuoteProblem> {
    let text = if token.starts_with('"') {
        unquote(token).map_err(|_| QuoteProblem::InvalidSyntax)?
    } else if token.contains(['"', '\'', '`']) {
        // Other quotes are reserved, so that 'x' is an error rather than a path with quotes in it.
        return Err(QuoteProblem::UnquotedQuote);
    } else {
        token.clone()
    };
    // Most tokens need no change: keep them rather than allocate a copy.
    if super::chars::must_quote(&text) {
        *token = super::chars::quote(&text);
    } else if *token != text {
        token.clone_from(&text);
    }
    Ok(text)
}

/// Reads a version argument; with `canonicalise` (everything but retract) the version must be a Go semantic
/// version and is rewritten in canonical form, as `go mod edit` (x/mod with no fixer) does.
fn parse_version(
    verb: &str,
    path: &str,
    token: &mut String,
    canonicalise: bool,
    fix: Option<&VersionFixer<'_>>,
) -> Result<String, Problem> {
    let text = parse_string(token).map_err(|problem| Problem::InvalidVersion {
        verb: verb.to_owned(),
        path: path.to_owned(),
        version: token.clone(),
        reason: problem.to_string(),
    })?;
    if !canonicalise {
        token.clone_from(&text);
        return Ok(text);
    }
    // x/mod with a fixer leaves the version to it. cmd/go's fixVersion keeps a canonical version as it
    // is (the path's major version is checked by the caller either way) and resolves anything else.
    if let Some(fix) = fix
        && version::canonical_module_version_cow(&text).as_deref() != Some(text.as_str())
    {
        let fixed = fix(path, &text).map_err(|e| match e {
            FixError::Module { message } => Problem::Fixer {
                prefix: format!("{verb} {path}: "),
                message,
            },
            FixError::Other { message } => Problem::Fixer {
                prefix: String::new(),
                message,
            },
        })?;
        token.clone_from(&fixed);
        return Ok(fixed);
    }
    let Some(cv) = version::canonical_module_version_cow(&text).map(std::borrow::Cow::into_owned)
    else {
        return Err(Problem::InvalidVersion {
            verb: verb.to_owned(),
            path: path.to_owned(),
            version: text,
            reason: "must be of the form v1.2.3".to_owned(),
        });
    };
    token.clone_from(&cv);
    Ok(cv)
}

/// A version fixer (x/mod's `VersionFixer`): given a module path and a version as written, the version to
/// use instead, or why there is none.
pub type VersionFixer<'a> = dyn Fn(&str, &str) -> std::result::Result<String, FixError> + 'a;

/// Why a [`VersionFixer`] could not resolve a version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FixError {
    /// An error about the module (go's `*module.ModuleError`): shown after `verb path: `.
    Module {
        /// The text (e.g. `version "master" invalid: reading …`).
        message: String,
    },
    /// Any other error, shown as it is after the position.
    Other {
        /// The text (e.g. `no matching versions for query "v1.9"`).
        message: String,
    },
}

fn quote_problem(problem: QuoteProblem) -> Problem {
    Problem::InvalidQuotedString { problem }
}

/// x/mod's `IsDirectoryPath`: `.`/`..`-relative, rooted (`/` or `\`) or drive-letter paths, whatever the host.
pub fn is_directory_path(ns: &str) -> bool {
    let b = ns.as_bytes();
    ns == "."
        || ns.starts_with("./")
        || ns.starts_with(".\\")
        || ns == ".."
        || ns.starts_with("../")
        || ns.starts_with("..\\")
        || ns.starts_with('/')
        || ns.starts_with('\\')
        || (b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':')
}

/// Reads `replace` arguments (shared by go.mod and go.work).
pub(crate) fn parse_replace(
    verb: &str,
    args: &mut [String],
    fix: Option<&VersionFixer<'_>>,
) -> Result<(ModuleVersion, ModuleVersion), Problem> {
    let arrow = if args.len() >= 2 && args[1] == "=>" {
        1
    } else {
        2
    };
    if args.len() < arrow + 2 || args.len() > arrow + 3 || args[arrow] != "=>" {
        return Err(Problem::Usage {
            usage: format!(
                "{verb} module/path [v1.2.3] => other/module v1.4\n\t or {verb} module/path [v1.2.3] => ../local/directory"
            ),
        });
    }
    let s = parse_string(&mut args[0]).map_err(quote_problem)?;
    let Some((_, path_major)) = module::split_path_version(&s) else {
        return Err(Problem::InvalidModulePath {
            directive: Some((verb.to_owned(), s)),
        });
    };
    let mut v = String::new();
    if arrow == 2 {
        v = parse_version(verb, &s, &mut args[1], true, fix)?;
        if let Err(error) = module::check_path_major(&v, path_major) {
            return Err(Problem::PathMajor {
                verb: verb.to_owned(),
                path: s,
                error,
            });
        }
    }
    let ns = parse_string(&mut args[arrow + 1]).map_err(quote_problem)?;
    let mut nv = String::new();
    if args.len() == arrow + 2 {
        if !is_directory_path(&ns) {
            if ns.contains('@') {
                return Err(Problem::ReplacementAtVersion);
            }
            return Err(Problem::ReplacementNotDirectory);
        }
        // Go rejects backslashes only where `/` is the separator; slipway follows the Unix behaviour
        // everywhere so that one go.mod reads the same on every host.
        if ns.contains('\\') {
            return Err(Problem::ReplacementWindowsPath);
        }
    }
    if args.len() == arrow + 3 {
        nv = parse_version(verb, &ns, &mut args[arrow + 2], true, fix)?;
        if is_directory_path(&ns) {
            return Err(Problem::ReplacementDirectoryWithVersion { path: ns });
        }
    }
    Ok((
        ModuleVersion {
            path: s,
            version: v,
        },
        ModuleVersion {
            path: ns,
            version: nv,
        },
    ))
}

fn parse_version_interval(
    verb: &str,
    args: &mut [String],
    next: &mut usize,
) -> Result<VersionInterval, Problem> {
    let expected = |expected| Problem::RetractInterval { expected };
    let mut i = *next;
    if i >= args.len() || args[i] == "(" {
        return Err(expected("expected '[' or version"));
    }
    if args[i] != "[" {
        let v = parse_version(verb, "", &mut args[i], false, None)?;
        *next = i + 1;
        return Ok(VersionInterval {
            low: v.clone(),
            high: v,
        });
    }
    i += 1;
    if i >= args.len() {
        return Err(expected("expected version after '['"));
    }
    let low = parse_version(verb, "", &mut args[i], false, None)?;
    i += 1;
    if i >= args.len() || args[i] != "," {
        return Err(expected("expected ',' after version"));
    }
    i += 1;
    if i >= args.len() {
        return Err(expected("expected version after ','"));
    }
    let high = parse_version(verb, "", &mut args[i], false, None)?;
    i += 1;
    if i >= args.len() || args[i] != "]" {
        return Err(expected("expected ']' after version"));
    }
    *next = i + 1;
    Ok(VersionInterval { low, high })
}

// The comment text on a directive: its own comments, or its block's when it has none.
fn directive_comment(block: Option<&Comments>, line: &Comments) -> String {
    let comments = match block {
        Some(b) if line.before.is_empty() && line.suffix.is_empty() => b,
        _ => line,
    };
    comments
        .before
        .iter()
        .chain(&comments.suffix)
        .filter_map(|c| c.token.strip_prefix("//"))
        .map(trim_space)
        .collect::<Vec<_>>()
        .join("\n")
}

// The first paragraph starting with `Deprecated:` (x/mod's deprecatedRE).
fn deprecation(text: &str) -> String {
    const MARK: &str = "Deprecated:";
    let start = if text.starts_with(MARK) {
        Some(MARK.len())
    } else {
        text.find("\n\nDeprecated:").map(|i| i + 2 + MARK.len())
    };
    let Some(start) = start else {
        return String::new();
    };
    let rest = text[start..].trim_start_matches(' ');
    rest[..rest.find("\n\n").unwrap_or(rest.len())].to_owned()
}

/// x/mod's `GoVersionRE` with the lax fallback for dependencies: `v1.21`, `1.21-foo` read as `1.21`.
fn lax_go_version(v: &str) -> Option<&str> {
    let s = v.strip_prefix('v').unwrap_or(v);
    let major = s.bytes().take_while(u8::is_ascii_digit).count();
    if major == 0 || s.starts_with('0') || s.as_bytes().get(major) != Some(&b'.') {
        return None;
    }
    let after = &s[major + 1..];
    let minor = after.bytes().take_while(u8::is_ascii_digit).count();
    if minor == 0 || (minor > 1 && after.starts_with('0')) {
        return None;
    }
    let rest = &after[minor..];
    if rest.is_empty() {
        return None;
    }
    Some(&s[..major + 1 + minor])
}

pub(crate) fn is_indirect_line(line: &super::syntax::Line) -> bool {
    is_indirect(&line.comments)
}

// x/mod's `isIndirect`: the first end-of-line comment is exactly `indirect` or starts with `indirect;`.
fn is_indirect(comments: &Comments) -> bool {
    let Some(first) = comments.suffix.first() else {
        return false;
    };
    let text = first.token.strip_prefix("//").unwrap_or(&first.token);
    let mut fields = text.split(super::chars::is_space).filter(|f| !f.is_empty());
    matches!(
        (fields.next(), fields.next()),
        (Some("indirect"), None) | (Some("indirect;"), Some(_))
    )
}

const STRICT_BLOCKS: &[&str] = &[
    "module", "godebug", "require", "exclude", "replace", "retract", "tool", "ignore",
];

impl ModFile {
    /// Parses a main module's go.mod: every directive must be known and well formed (x/mod's `Parse` with
    /// no version fixer, as `go mod edit` calls it). Versions of require, exclude and replace are rewritten
    /// in canonical form (`v1.2` -> `v1.2.0`).
    pub fn parse(file: &str, src: &str) -> Result<ModFile> {
        Self::parse_mode(file, src, true, None)
    }

    /// Parses a dependency's go.mod (x/mod's `ParseLax`): only `module`, `go`, `require`, `retract` and
    /// `ignore` are read; other and unknown directives are ignored, and `go` versions like `v1.21` or
    /// `1.21-foo` are read leniently.
    pub fn parse_lax(file: &str, src: &str) -> Result<ModFile> {
        Self::parse_mode(file, src, false, None)
    }

    /// Parses a main module's go.mod as cmd/go's `modload.ReadModFile` does: like [`ModFile::parse`], but
    /// a require, exclude or replacement version that is not canonical is handed to `fix` (cmd/go
    /// resolves it with a module query: `v1.2` to the highest `v1.2.x`, `latest`, a revision …) and the
    /// answer is used in its place.
    pub fn parse_with_fixer(file: &str, src: &str, fix: &VersionFixer<'_>) -> Result<ModFile> {
        Self::parse_mode(file, src, true, Some(fix))
    }

    /// [`ModFile::parse_lax`] with a version fixer (x/mod's `ParseLax` with one): what cmd/go retries a
    /// main go.mod with when the strict parse fails, to see whether its go line is too new; `require`
    /// versions are still resolved, so a failing query is still an error.
    pub fn parse_lax_with_fixer(file: &str, src: &str, fix: &VersionFixer<'_>) -> Result<ModFile> {
        Self::parse_mode(file, src, false, Some(fix))
    }

    fn parse_mode(
        file: &str,
        src: &str,
        strict: bool,
        fix: Option<&VersionFixer<'_>>,
    ) -> Result<ModFile> {
        let syntax = syntax::parse(file, src)?;
        let mut f = ModFile {
            syntax,
            ..ModFile::default()
        };
        let mut errs = Vec::new();
        for i in 0..f.syntax.stmts.len() {
            match &f.syntax.stmts[i] {
                Stmt::Line(id) => {
                    let id = *id;
                    f.add(&mut errs, None, id, 1, strict, fix);
                }
                Stmt::Block(b) => {
                    let known =
                        b.tokens.len() == 1 && STRICT_BLOCKS.contains(&b.tokens[0].as_str());
                    if !known {
                        if strict {
                            errs.push(Error::at(
                                file,
                                b.start,
                                Problem::UnknownBlockType {
                                    tokens: b.tokens.join(" "),
                                },
                            ));
                        }
                        continue;
                    }
                    let lines = b.lines.clone();
                    for id in lines {
                        f.add(&mut errs, Some(i), id, 0, strict, fix);
                    }
                }
                Stmt::Comments(_) => {}
            }
        }
        match errs.len() {
            0 => Ok(f),
            _ => Err(Error::List { errors: errs }),
        }
    }

    fn block_comments(&self, block: Option<usize>) -> Option<&Comments> {
        match block.map(|i| &self.syntax.stmts[i]) {
            Some(Stmt::Block(b)) => Some(&b.comments),
            _ => None,
        }
    }

    fn block_verb(&self, block: Option<usize>, id: LineId) -> String {
        match block.map(|i| &self.syntax.stmts[i]) {
            Some(Stmt::Block(b)) => b.tokens[0].clone(),
            _ => self.syntax.line(id).tokens[0].clone(),
        }
    }

    // One directive (x/mod's `File.add`). `skip` is 1 for a top-level line (its first token is the verb).
    fn add(
        &mut self,
        errs: &mut Vec<Error>,
        block: Option<usize>,
        id: LineId,
        skip: usize,
        strict: bool,
        fix: Option<&VersionFixer<'_>>,
    ) {
        let verb = self.block_verb(block, id);
        if !strict
            && !matches!(
                verb.as_str(),
                "go" | "module" | "retract" | "require" | "ignore"
            )
        {
            return;
        }
        let line = self.syntax.line_mut(id);
        let start = line.start;
        // The arguments are rewritten in place (canonical versions, quoting), as x/mod does through its
        // shared slices; take them out of the line meanwhile so the typed view can be updated too.
        let mut tokens = std::mem::take(&mut line.tokens);
        let result = self.directive(block, id, &verb, &mut tokens[skip..], strict, fix);
        self.syntax.line_mut(id).tokens = tokens;
        if let Err(problem) = result {
            errs.push(Error::at(&self.syntax.name, start, problem));
        }
    }

    // One match over the verbs, in x/mod's order, so the two can be compared line by line.
    #[allow(clippy::too_many_lines)]
    fn directive(
        &mut self,
        block: Option<usize>,
        id: LineId,
        verb: &str,
        args: &mut [String],
        strict: bool,
        fix: Option<&VersionFixer<'_>>,
    ) -> Result<(), Problem> {
        let one_arg = |verb: &'static str| {
            if args.len() == 1 {
                Ok(())
            } else {
                Err(Problem::ExactlyOneArgument { verb })
            }
        };
        match verb {
            "go" => {
                if self.go.is_some() {
                    return Err(Problem::Repeated { verb: "go" });
                }
                one_arg("go")?;
                if !version::is_valid_go_line(&args[0]) {
                    match lax_go_version(&args[0]).filter(|_| !strict) {
                        Some(v) => {
                            let v = v.to_owned();
                            args[0] = v;
                        }
                        None => {
                            return Err(Problem::InvalidGoVersion {
                                version: args[0].clone(),
                            });
                        }
                    }
                }
                self.go = Some(GoStmt {
                    version: args[0].clone(),
                    syntax: id,
                });
            }
            "toolchain" => {
                if self.toolchain.is_some() {
                    return Err(Problem::Repeated { verb: "toolchain" });
                }
                one_arg("toolchain")?;
                if !version::is_valid_toolchain_line(&args[0]) {
                    return Err(Problem::InvalidToolchain {
                        version: args[0].clone(),
                    });
                }
                self.toolchain = Some(Toolchain {
                    name: args[0].clone(),
                    syntax: id,
                });
            }
            "module" => {
                if self.module.is_some() {
                    return Err(Problem::Repeated { verb: "module" });
                }
                let text =
                    directive_comment(self.block_comments(block), &self.syntax.line(id).comments);
                self.module = Some(Module {
                    path: String::new(),
                    deprecated: deprecation(&text),
                    syntax: id,
                });
                if args.len() != 1 {
                    return Err(Problem::Usage {
                        usage: "module module/path".to_owned(),
                    });
                }
                let path = parse_string(&mut args[0]).map_err(quote_problem)?;
                if let Some(m) = &mut self.module {
                    m.path = path;
                }
            }
            "godebug" => {
                let (key, value) = parse_godebug(args)?;
                self.godebug.push(Godebug {
                    key,
                    value,
                    syntax: id,
                });
            }
            "require" | "exclude" => {
                if args.len() != 2 {
                    return Err(Problem::Usage {
                        usage: format!("{verb} module/path v1.2.3"),
                    });
                }
                let path = parse_string(&mut args[0]).map_err(quote_problem)?;
                let v = parse_version(verb, &path, &mut args[1], true, fix)?;
                let Some((_, path_major)) = module::split_path_version(&path) else {
                    return Err(Problem::InvalidModulePath { directive: None });
                };
                if let Err(error) = module::check_path_major(&v, path_major) {
                    return Err(Problem::PathMajor {
                        verb: verb.to_owned(),
                        path,
                        error,
                    });
                }
                let module = ModuleVersion { path, version: v };
                if verb == "require" {
                    let indirect = is_indirect(&self.syntax.line(id).comments);
                    self.require.push(Require {
                        module,
                        indirect,
                        syntax: id,
                    });
                } else {
                    self.exclude.push(Exclude { module, syntax: id });
                }
            }
            "replace" => {
                let (old, new) = parse_replace(verb, args, fix)?;
                self.replace.push(Replace {
                    old,
                    new,
                    syntax: id,
                });
            }
            "retract" => {
                let rationale =
                    directive_comment(self.block_comments(block), &self.syntax.line(id).comments);
                let mut next = 0;
                let interval = match parse_version_interval(verb, args, &mut next) {
                    Ok(vi) => vi,
                    // Dependencies may use interval syntax from the future: ignore what cannot be read.
                    Err(_) if !strict => return Ok(()),
                    Err(problem) => return Err(problem),
                };
                if next < args.len() && strict {
                    return Err(Problem::UnexpectedTokenAfterVersion {
                        token: args[next].clone(),
                    });
                }
                self.retract.push(Retract {
                    interval,
                    rationale,
                    syntax: id,
                });
            }
            "tool" | "ignore" => {
                let what = if verb == "tool" { "tool" } else { "ignore" };
                one_arg(what)?;
                let path = parse_string(&mut args[0]).map_err(quote_problem)?;
                if verb == "tool" {
                    self.tool.push(Tool { path, syntax: id });
                } else {
                    self.ignore.push(Ignore { path, syntax: id });
                }
            }
            _ => {
                return Err(Problem::UnknownDirective {
                    verb: verb.to_owned(),
                });
            }
        }
        Ok(())
    }

    /// Formats the file as x/mod's `Format` does. `go mod edit -fmt` first calls [`ModFile::sort_blocks`]
    /// and [`ModFile::cleanup`] (see [`super::edit_fmt`]).
    pub fn format(&self) -> String {
        syntax::format(&self.syntax)
    }

    /// Removes duplicate exclude, replace (the last one wins), tool and ignore lines, drops empty blocks and
    /// sorts the lines of every block as x/mod's `SortBlocks` does (excludes by semantic version when the
    /// go line is at least 1.21; retractions newest first).
    pub fn sort_blocks(&mut self) {
        self.remove_dups();
        let semantic_exclude = self.go.as_ref().is_some_and(|g| {
            version::compare(&format!("v{}", g.version), "v1.21") != Ordering::Less
        });
        sort_blocks(&mut self.syntax, |verb| match verb {
            "exclude" if semantic_exclude => compare_line_exclude,
            "retract" => compare_line_retract,
            _ => compare_line,
        });
    }

    fn remove_dups(&mut self) {
        let mut kill: HashSet<LineId> = HashSet::new();
        let mut seen = HashSet::new();
        self.exclude.retain(|x| {
            let keep = seen.insert(x.module.clone());
            if !keep {
                kill.insert(x.syntax);
            }
            keep
        });
        remove_replace_dups(&mut self.replace, &mut kill);
        let mut seen = HashSet::new();
        self.tool.retain(|t| {
            let keep = seen.insert(t.path.clone());
            if !keep {
                kill.insert(t.syntax);
            }
            keep
        });
        let mut seen = HashSet::new();
        self.ignore.retain(|t| {
            let keep = seen.insert(t.path.clone());
            if !keep {
                kill.insert(t.syntax);
            }
            keep
        });
        drop_lines(&mut self.syntax, &kill);
    }

    /// Drops removed lines and empty blocks, and turns one-line blocks into lines (x/mod's `Cleanup`).
    ///
    /// Like x/mod, this also drops entries whose key is empty from the typed view (a `require ""` line
    /// stays in the syntax but is no requirement), because x/mod's edits mark removed entries that way.
    pub fn cleanup(&mut self) {
        self.godebug.retain(|g| !g.key.is_empty());
        self.require.retain(|r| !r.module.path.is_empty());
        self.exclude.retain(|x| !x.module.path.is_empty());
        self.replace.retain(|r| !r.old.path.is_empty());
        self.retract
            .retain(|r| !r.interval.low.is_empty() || !r.interval.high.is_empty());
        self.syntax.cleanup();
    }

    // ----- edits

    /// Sets the module path (x/mod's `AddModuleStmt`).
    pub fn add_module_stmt(&mut self, path: &str) {
        let tokens = [String::from("module"), auto_quote(path)];
        if let Some(m) = &mut self.module {
            path.clone_into(&mut m.path);
            self.syntax.update_line(m.syntax, &tokens);
        } else {
            let id = self.syntax.add_line(None, &tokens);
            self.module = Some(Module {
                path: path.to_owned(),
                deprecated: String::new(),
                syntax: id,
            });
        }
    }

    /// Sets the `go` line, adding it after the module line when absent (x/mod's `AddGoStmt`).
    pub fn add_go_stmt(&mut self, version: &str) -> Result<()> {
        if !version::is_valid_go_line(version) {
            return Err(Error::InvalidLanguageVersion {
                version: version.to_owned(),
            });
        }
        let tokens = [String::from("go"), version.to_owned()];
        if let Some(g) = &mut self.go {
            version.clone_into(&mut g.version);
            self.syntax.update_line(g.syntax, &tokens);
        } else {
            let hint = self.module.as_ref().map(|m| m.syntax);
            let id = self.syntax.add_line(hint, &tokens);
            self.go = Some(GoStmt {
                version: version.to_owned(),
                syntax: id,
            });
        }
        Ok(())
    }

    /// Removes the `go` line.
    pub fn drop_go_stmt(&mut self) {
        if let Some(g) = self.go.take() {
            self.syntax.mark_removed(g.syntax);
        }
    }

    /// Sets the `toolchain` line, adding it after the go (or module) line when absent.
    pub fn add_toolchain_stmt(&mut self, name: &str) -> Result<()> {
        if !version::is_valid_toolchain_line(name) {
            return Err(Error::InvalidToolchainName {
                name: name.to_owned(),
            });
        }
        let tokens = [String::from("toolchain"), name.to_owned()];
        if let Some(t) = &mut self.toolchain {
            name.clone_into(&mut t.name);
            self.syntax.update_line(t.syntax, &tokens);
        } else {
            let hint = self
                .go
                .as_ref()
                .map(|g| g.syntax)
                .or_else(|| self.module.as_ref().map(|m| m.syntax));
            let id = self.syntax.add_line(hint, &tokens);
            self.toolchain = Some(Toolchain {
                name: name.to_owned(),
                syntax: id,
            });
        }
        Ok(())
    }

    /// Removes the `toolchain` line.
    pub fn drop_toolchain_stmt(&mut self) {
        if let Some(t) = self.toolchain.take() {
            self.syntax.mark_removed(t.syntax);
        }
    }

    /// Sets the first `godebug` line for `key` and removes the others (x/mod's `AddGodebug`).
    pub fn add_godebug(&mut self, key: &str, value: &str) {
        add_godebug(&mut self.syntax, &mut self.godebug, key, value);
    }

    /// Removes every `godebug` line for `key`.
    pub fn drop_godebug(&mut self, key: &str) {
        let syntax = &mut self.syntax;
        self.godebug.retain(|g| {
            let keep = g.key != key;
            if !keep {
                syntax.mark_removed(g.syntax);
            }
            keep
        });
    }

    /// Sets the version of `path`'s requirement, removing further requirements of it, or adds a new one
    /// (x/mod's `AddRequire`). Unlike x/mod, the version is checked first: it must be canonical and fit
    /// the path, so that an edit cannot produce a file `go` rejects.
    pub fn add_require(&mut self, path: &str, vers: &str) -> Result<()> {
        check_canonical_version(path, vers)?;
        let tokens = [String::from("require"), auto_quote(path), vers.to_owned()];
        let mut need = true;
        let syntax = &mut self.syntax;
        self.require.retain_mut(|r| {
            if r.module.path != path {
                return true;
            }
            if need {
                vers.clone_into(&mut r.module.version);
                syntax.update_line(r.syntax, &tokens);
                need = false;
                true
            } else {
                syntax.mark_removed(r.syntax);
                false
            }
        });
        if need {
            self.add_new_require(path, vers, false);
        }
        Ok(())
    }

    /// Adds a requirement line without looking for an existing one (x/mod's `AddNewRequire`).
    pub fn add_new_require(&mut self, path: &str, vers: &str, indirect: bool) {
        let tokens = [String::from("require"), auto_quote(path), vers.to_owned()];
        let id = self.syntax.add_line(None, &tokens);
        let mut r = Require {
            module: ModuleVersion {
                path: path.to_owned(),
                version: vers.to_owned(),
            },
            indirect: false,
            syntax: id,
        };
        set_indirect(&mut self.syntax, &mut r, indirect);
        self.require.push(r);
    }

    /// Adds or removes the `// indirect` comment on `path`'s requirements, keeping other comment text.
    pub fn set_indirect(&mut self, path: &str, indirect: bool) {
        for r in &mut self.require {
            if r.module.path == path {
                set_indirect(&mut self.syntax, r, indirect);
            }
        }
    }

    /// Removes every requirement of `path`.
    pub fn drop_require(&mut self, path: &str) {
        let syntax = &mut self.syntax;
        self.require.retain(|r| {
            let keep = r.module.path != path;
            if !keep {
                syntax.mark_removed(r.syntax);
            }
            keep
        });
    }

    /// Adds an exclusion next to other exclusions of the same path (x/mod's `AddExclude`).
    pub fn add_exclude(&mut self, path: &str, vers: &str) -> Result<()> {
        check_canonical_version(path, vers)?;
        let mut hint = None;
        for x in &self.exclude {
            if x.module.path == path && x.module.version == vers {
                return Ok(());
            }
            if x.module.path == path {
                hint = Some(x.syntax);
            }
        }
        let tokens = [String::from("exclude"), auto_quote(path), vers.to_owned()];
        let id = match hint {
            Some(_) => self.syntax.add_line(hint, &tokens),
            None => self.syntax.append_line(&tokens),
        };
        self.exclude.push(Exclude {
            module: ModuleVersion {
                path: path.to_owned(),
                version: vers.to_owned(),
            },
            syntax: id,
        });
        Ok(())
    }

    /// Removes the exclusion of `path@vers`.
    pub fn drop_exclude(&mut self, path: &str, vers: &str) {
        let syntax = &mut self.syntax;
        self.exclude.retain(|x| {
            let keep = !(x.module.path == path && x.module.version == vers);
            if !keep {
                syntax.mark_removed(x.syntax);
            }
            keep
        });
    }

    /// Replaces `old_path` (at `old_vers`, or all versions when empty) with `new_path` at `new_vers` (empty for
    /// a directory), updating an existing replacement when there is one (x/mod's `AddReplace`).
    pub fn add_replace(&mut self, old_path: &str, old_vers: &str, new_path: &str, new_vers: &str) {
        add_replace(
            &mut self.syntax,
            &mut self.replace,
            old_path,
            old_vers,
            new_path,
            new_vers,
        );
    }

    /// Removes the replacement of `old_path` at exactly `old_vers`.
    pub fn drop_replace(&mut self, old_path: &str, old_vers: &str) {
        drop_replace(&mut self.syntax, &mut self.replace, old_path, old_vers);
    }

    /// Adds a retraction with a rationale written as comments before it (x/mod's `AddRetract`).
    pub fn add_retract(&mut self, interval: &VersionInterval, rationale: &str) -> Result<()> {
        let path = self
            .module
            .as_ref()
            .map_or("", |m| m.path.as_str())
            .to_owned();
        check_canonical_version(&path, &interval.high)?;
        check_canonical_version(&path, &interval.low)?;
        let tokens: Vec<String> = if interval.low == interval.high {
            vec!["retract".into(), auto_quote(&interval.low)]
        } else {
            vec![
                "retract".into(),
                "[".into(),
                auto_quote(&interval.low),
                ",".into(),
                auto_quote(&interval.high),
                "]".into(),
            ]
        };
        let id = self.syntax.add_line(None, &tokens);
        if !rationale.is_empty() {
            let line = self.syntax.line_mut(id);
            for text in rationale.split('\n') {
                line.comments.before.push(Comment {
                    token: format!("// {text}"),
                    ..Comment::default()
                });
            }
        }
        // Like x/mod, the new retraction is in the syntax only; reparse to see it in `retract`.
        Ok(())
    }

    /// Removes the retractions of exactly `interval`.
    pub fn drop_retract(&mut self, interval: &VersionInterval) {
        let syntax = &mut self.syntax;
        self.retract.retain(|r| {
            let keep = &r.interval != interval;
            if !keep {
                syntax.mark_removed(r.syntax);
            }
            keep
        });
    }

    /// Adds a `tool` line unless `path` is already a tool.
    pub fn add_tool(&mut self, path: &str) {
        if self.tool.iter().any(|t| t.path == path) {
            return;
        }
        let id = self
            .syntax
            .add_line(None, &["tool".into(), path.to_owned()]);
        self.tool.push(Tool {
            path: path.to_owned(),
            syntax: id,
        });
        self.sort_blocks();
    }

    /// Removes the `tool` lines for `path`.
    pub fn drop_tool(&mut self, path: &str) {
        let syntax = &mut self.syntax;
        self.tool.retain(|t| {
            let keep = t.path != path;
            if !keep {
                syntax.mark_removed(t.syntax);
            }
            keep
        });
    }

    /// Adds an `ignore` line unless `path` is already ignored.
    pub fn add_ignore(&mut self, path: &str) {
        if self.ignore.iter().any(|t| t.path == path) {
            return;
        }
        let id = self
            .syntax
            .add_line(None, &["ignore".into(), path.to_owned()]);
        self.ignore.push(Ignore {
            path: path.to_owned(),
            syntax: id,
        });
        self.sort_blocks();
    }

    /// Removes the `ignore` lines for `path`.
    pub fn drop_ignore(&mut self, path: &str) {
        let syntax = &mut self.syntax;
        self.ignore.retain(|t| {
            let keep = t.path != path;
            if !keep {
                syntax.mark_removed(t.syntax);
            }
            keep
        });
    }

    /// Rewrites the requirements to exactly `req` (x/mod's `SetRequireSeparateIndirect`): existing lines
    /// are updated in place, lines of modules not in `req` removed, and new requirements added to the last
    /// block of direct or of indirect requirements (created when missing), so that direct and indirect
    /// requirements end up in separate blocks.
    pub fn set_require_separate_indirect(&mut self, req: &[(ModuleVersion, bool)]) {
        super::require::set_require_separate_indirect(self, req);
    }
}

pub(crate) fn parse_godebug(args: &[String]) -> Result<(String, String), Problem> {
    let usage = || Problem::Usage {
        usage: "godebug key=value".to_owned(),
    };
    if args.len() != 1 || args[0].contains(['"', '`', '\'', ',']) {
        return Err(usage());
    }
    let (key, value) = args[0].split_once('=').ok_or_else(usage)?;
    Ok((key.to_owned(), value.to_owned()))
}

pub(crate) fn add_godebug(
    syntax: &mut FileSyntax,
    godebug: &mut Vec<Godebug>,
    key: &str,
    value: &str,
) {
    let tokens = [String::from("godebug"), format!("{key}={value}")];
    let mut need = true;
    godebug.retain_mut(|g| {
        if g.key != key {
            return true;
        }
        if need {
            value.clone_into(&mut g.value);
            syntax.update_line(g.syntax, &tokens);
            need = false;
            true
        } else {
            syntax.mark_removed(g.syntax);
            false
        }
    });
    if need {
        let id = syntax.add_line(None, &tokens);
        godebug.push(Godebug {
            key: key.to_owned(),
            value: value.to_owned(),
            syntax: id,
        });
    }
}

pub(crate) fn add_replace(
    syntax: &mut FileSyntax,
    replace: &mut Vec<Replace>,
    old_path: &str,
    old_vers: &str,
    new_path: &str,
    new_vers: &str,
) {
    let new = ModuleVersion {
        path: new_path.to_owned(),
        version: new_vers.to_owned(),
    };
    let mut tokens = vec![String::from("replace"), auto_quote(old_path)];
    if !old_vers.is_empty() {
        tokens.push(old_vers.to_owned());
    }
    tokens.push("=>".into());
    tokens.push(auto_quote(new_path));
    if !new_vers.is_empty() {
        tokens.push(new_vers.to_owned());
    }
    let mut need = true;
    let mut hint = None;
    replace.retain_mut(|r| {
        if r.old.path == old_path && (old_vers.is_empty() || r.old.version == old_vers) {
            if need {
                r.new = new.clone();
                syntax.update_line(r.syntax, &tokens);
                need = false;
                return true;
            }
            syntax.mark_removed(r.syntax);
            return false;
        }
        if r.old.path == old_path {
            hint = Some(r.syntax);
        }
        true
    });
    if need {
        let id = match hint {
            Some(_) => syntax.add_line(hint, &tokens),
            None => syntax.append_line(&tokens),
        };
        replace.push(Replace {
            old: ModuleVersion {
                path: old_path.to_owned(),
                version: old_vers.to_owned(),
            },
            new,
            syntax: id,
        });
    }
}

pub(crate) fn drop_replace(
    syntax: &mut FileSyntax,
    replace: &mut Vec<Replace>,
    old_path: &str,
    old_vers: &str,
) {
    replace.retain(|r| {
        let keep = !(r.old.path == old_path && r.old.version == old_vers);
        if !keep {
            syntax.mark_removed(r.syntax);
        }
        keep
    });
}

// The last replacement of a module version wins.
pub(crate) fn remove_replace_dups(replace: &mut Vec<Replace>, kill: &mut HashSet<LineId>) {
    let mut seen = HashSet::new();
    for r in replace.iter().rev() {
        if !seen.insert(r.old.clone()) {
            kill.insert(r.syntax);
        }
    }
    replace.retain(|r| !kill.contains(&r.syntax));
}

// Removes killed lines from the tree; blocks left empty (or empty to begin with) disappear.
pub(crate) fn drop_lines(syntax: &mut FileSyntax, kill: &HashSet<LineId>) {
    syntax.stmts.retain_mut(|stmt| match stmt {
        Stmt::Line(id) => !kill.contains(id),
        Stmt::Block(b) => {
            b.lines.retain(|id| !kill.contains(id));
            !b.lines.is_empty()
        }
        Stmt::Comments(_) => true,
    });
}

type LineOrder = fn(&[String], &[String]) -> Ordering;

pub(crate) fn sort_blocks(syntax: &mut FileSyntax, order_for: impl Fn(&str) -> LineOrder) {
    let mut blocks: Vec<(usize, LineOrder)> = Vec::new();
    for (i, stmt) in syntax.stmts.iter().enumerate() {
        if let Stmt::Block(b) = stmt {
            blocks.push((i, order_for(b.tokens.first().map_or("", String::as_str))));
        }
    }
    for (i, order) in blocks {
        let Stmt::Block(b) = &syntax.stmts[i] else {
            continue;
        };
        let mut lines = b.lines.clone();
        // A stable sort, as Go's slices.SortStableFunc.
        lines.sort_by(|a, b| order(&syntax.line(*a).tokens, &syntax.line(*b).tokens));
        if let Stmt::Block(b) = &mut syntax.stmts[i] {
            b.lines = lines;
        }
    }
}

pub(crate) fn compare_line(a: &[String], b: &[String]) -> Ordering {
    a.cmp(b)
}

fn compare_line_exclude(a: &[String], b: &[String]) -> Ordering {
    if a.len() != 2 || b.len() != 2 {
        return compare_line(a, b);
    }
    a[0].cmp(&b[0]).then_with(|| version::compare(&a[1], &b[1]))
}

fn compare_line_retract(a: &[String], b: &[String]) -> Ordering {
    fn interval(t: &[String]) -> (&str, &str) {
        if t.len() == 1 {
            (&t[0], &t[0])
        } else if t.len() == 5 && t[0] == "[" && t[2] == "," && t[4] == "]" {
            (&t[1], &t[3])
        } else {
            ("", "")
        }
    }
    let (al, ah) = interval(a);
    let (bl, bh) = interval(b);
    // Newest first.
    version::compare(bl, al).then_with(|| version::compare(bh, ah))
}

// x/mod's `setIndirect` on one requirement.
pub(crate) fn set_indirect(syntax: &mut FileSyntax, r: &mut Require, indirect: bool) {
    r.indirect = indirect;
    let line = syntax.line_mut(r.syntax);
    if is_indirect(&line.comments) == indirect {
        return;
    }
    if indirect {
        let Some(com) = line.comments.suffix.first_mut() else {
            line.comments.suffix = vec![Comment {
                token: "// indirect".into(),
                suffix: true,
                ..Comment::default()
            }];
            return;
        };
        let text = trim_space(com.token.strip_prefix("//").unwrap_or(&com.token)).to_owned();
        com.token = if text.is_empty() {
            "// indirect".into()
        } else {
            format!("// indirect; {text}")
        };
        return;
    }
    let Some(com) = line.comments.suffix.first_mut() else {
        return;
    };
    if trim_space(com.token.strip_prefix("//").unwrap_or(&com.token)) == "indirect" {
        line.comments.suffix.clear();
        return;
    }
    if let Some(i) = com.token.find("indirect;") {
        com.token = format!("//{}", &com.token[i + "indirect;".len()..]);
    }
}

// x/mod's `checkCanonicalVersion` for versions given to edits.
fn check_canonical_version(path: &str, vers: &str) -> Result<()> {
    let split = module::split_path_version(path);
    let path_major = split.map_or("", |(_, m)| m);
    if vers.is_empty() || version::canonical_module_version(vers).as_deref() != Some(vers) {
        let prefix = module::path_major_prefix(path_major).unwrap_or("");
        let reason = if path_major.is_empty() {
            "must be of the form v1.2.3".to_owned()
        } else {
            format!("must be of the form {prefix}.2.3")
        };
        return Err(Error::InvalidVersion {
            version: vers.to_owned(),
            reason,
        });
    }
    if split.is_some()
        && let Err(e) = module::check_path_major(vers, path_major)
    {
        let reason = if path_major.is_empty() {
            format!(
                "should be {vers}+incompatible (or module {path}/{})",
                version::major(vers).unwrap_or("")
            )
        } else {
            match e {
                module::Error::InvalidVersion { problem, .. } => problem.to_string(),
                other => other.to_string(),
            }
        };
        return Err(Error::InvalidVersion {
            version: vers.to_owned(),
            reason,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deprecation_paragraphs() {
        assert_eq!(deprecation("Deprecated: use v2"), "use v2");
        assert_eq!(
            deprecation("intro\n\nDeprecated:   gone\nstill\n\nmore"),
            "gone\nstill"
        );
        assert_eq!(deprecation("intro\nDeprecated: not a paragraph"), "");
        assert_eq!(deprecation("a\n\n\nDeprecated: x"), "x");
    }

    #[test]
    fn lax_go_versions() {
        assert_eq!(lax_go_version("v1.21"), None);
        assert_eq!(lax_go_version("1.21-foo"), Some("1.21"));
        assert_eq!(lax_go_version("v1.21.x"), Some("1.21"));
        assert_eq!(lax_go_version("1.05x"), None);
    }

    #[test]
    fn indirect_comments() {
        let f = ModFile::parse(
            "go.mod",
            "module m\nrequire (\n\ta v1.0.0 // indirect\n\tb v1.0.0 //indirect; why\n\tc v1.0.0 // indirectly\n)\n",
        )
        .unwrap();
        let flags: Vec<bool> = f.require.iter().map(|r| r.indirect).collect();
        assert_eq!(flags, [true, true, false]);
    }

    #[test]
    fn set_indirect_keeps_other_text() {
        let mut f = ModFile::parse("go.mod", "module m\n\nrequire a v1.0.0 // keep me\n").unwrap();
        f.set_indirect("a", true);
        assert_eq!(
            f.format(),
            "module m\n\nrequire a v1.0.0 // indirect; keep me\n"
        );
        f.set_indirect("a", false);
        assert_eq!(f.format(), "module m\n\nrequire a v1.0.0 // keep me\n");
    }

    #[test]
    fn edits_place_lines_like_x_mod() {
        let mut f =
            ModFile::parse("go.mod", "module example.com/m\n\nrequire a.com/x v1.0.0\n").unwrap();
        f.add_go_stmt("1.22").unwrap();
        f.add_toolchain_stmt("go1.22.1").unwrap();
        f.add_require("b.com/y", "v1.2.0").unwrap();
        f.add_replace("a.com/x", "", "../x", "");
        f.add_exclude("a.com/x", "v1.1.0").unwrap();
        f.add_retract(
            &VersionInterval {
                low: "v0.1.0".into(),
                high: "v0.2.0".into(),
            },
            "broken",
        )
        .unwrap();
        f.drop_require("a.com/x");
        f.sort_blocks();
        f.cleanup();
        assert_eq!(
            f.format(),
            "module example.com/m\n\ngo 1.22\n\ntoolchain go1.22.1\n\nrequire b.com/y v1.2.0\n\nreplace a.com/x => ../x\n\nexclude a.com/x v1.1.0\n\n// broken\nretract [v0.1.0, v0.2.0]\n"
        );
        assert!(f.add_require("b.com/y/v2", "v1.0.0").is_err());
        assert_eq!(
            f.add_exclude("a.com/x", "v2.0.0").unwrap_err().to_string(),
            "version \"v2.0.0\" invalid: should be v2.0.0+incompatible (or module a.com/x/v2)"
        );
        assert_eq!(
            f.add_go_stmt("go1.22").unwrap_err().to_string(),
            "invalid language version \"go1.22\""
        );
    }
}
