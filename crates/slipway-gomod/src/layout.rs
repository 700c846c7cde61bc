//! The layout of a Go module tree, read from the source alone (no `go list`): its packages, main
//! packages, conventional top-level directories, violations of the `internal/` rule and go.mod tidiness.
//!
//! The walk follows the go command: it skips `vendor/`, `testdata/`, directories whose names start with
//! `.` or `_`, and nested modules (directories with their own go.mod); files whose names start with `.`
//! or `_` are ignored. Build constraints are NOT evaluated: every `.go` file counts, whatever its
//! `//go:build` line or `_GOOS`/`_GOARCH` suffix, so the report covers all platforms at once.
//!
//! ```
//! let dir = tempfile::tempdir()?;
//! std::fs::write(dir.path().join("go.mod"), "module example.com/m\n\ngo 1.22\n")?;
//! std::fs::write(dir.path().join("main.go"), "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println() }\n")?;
//! let layout = slipway_gomod::layout::analyze(dir.path())?;
//! assert_eq!(layout.packages[0].import_path, "example.com/m");
//! assert!(layout.packages[0].is_main);
//! assert_eq!(layout.main_packages[0].outside_cmd, true);
//! Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::{BTreeSet, HashSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::modfile::{self, ModFile};

/// What can go wrong reading a module tree.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file or directory could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The go.mod file was rejected.
    #[error(transparent)]
    GoMod {
        /// The parser's error (Go's `file:line[:col]: message`).
        source: Box<modfile::Error>,
    },
    /// The go.mod file has no `module` statement.
    #[error("{}: no module statement", file.display())]
    NoModule {
        /// The go.mod file.
        file: PathBuf,
    },
    /// A Go file whose package clause or import declarations cannot be read.
    #[error("{}:{line}:{column}: {message}", file.display())]
    Syntax {
        /// The Go file.
        file: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column (in bytes).
        column: usize,
        /// What is wrong.
        message: String,
    },
}

/// The result type of this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// One package (a directory with `.go` files).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Package {
    /// Its import path.
    pub import_path: String,
    /// Its directory relative to the module root, `/`-separated (`.` for the root).
    pub dir: String,
    /// The package name (an external test package's `_test` suffix removed when only tests exist).
    pub name: String,
    /// Other package names found in non-test files (a directory Go would reject); usually empty.
    pub other_names: Vec<String>,
    /// The external test package name (`foo_test`) when `_test.go` files declare one.
    pub external_test_package: Option<String>,
    /// Whether the package is `main`.
    pub is_main: bool,
    /// Imports of the non-test files, sorted, deduplicated.
    pub imports: Vec<String>,
    /// Imports of the `_test.go` files (internal and external), sorted, deduplicated.
    pub test_imports: Vec<String>,
    /// Whether the directory has `_test.go` files.
    pub has_tests: bool,
}

/// A `main` package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MainPackage {
    /// Its directory relative to the module root.
    pub dir: String,
    /// Whether it lives outside `cmd/` (the conventional home of commands).
    pub outside_cmd: bool,
}

/// An import that breaks the `internal/` rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// The importing package.
    pub importer: String,
    /// The imported `…/internal/…` package.
    pub imported: String,
    /// The tree the imported package is private to (the parent of its last `internal` element).
    pub allowed_under: String,
}

/// The layout report of one module.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Layout {
    /// The module path from go.mod.
    pub module_path: String,
    /// The packages, sorted by directory.
    pub packages: Vec<Package>,
    /// The `main` packages.
    pub main_packages: Vec<MainPackage>,
    /// Which of the conventional top-level directories exist, in the order
    /// `cmd internal pkg api configs scripts`.
    pub conventional_dirs: Vec<String>,
    /// Imports that break the `internal/` rule.
    pub internal_violations: Vec<Violation>,
    /// Direct (not `// indirect`) requirements that no package imports from.
    pub unused_requires: Vec<String>,
    /// Imported non-standard packages that no requirement (nor the module itself) provides.
    pub missing_requires: Vec<String>,
}

const CONVENTIONAL: [&str; 6] = ["cmd", "internal", "pkg", "api", "configs", "scripts"];

/// Analyses the module whose go.mod is in `root`.
///
/// # Errors
/// An unreadable or invalid go.mod, an unreadable directory or file, or a Go file whose package clause or
/// imports cannot be parsed.
pub fn analyze(root: &Path) -> Result<Layout> {
    let gomod = root.join("go.mod");
    let src = std::fs::read(&gomod).map_err(|source| Error::Io {
        path: gomod.clone(),
        source,
    })?;
    let file =
        ModFile::parse(&gomod.to_string_lossy(), &String::from_utf8_lossy(&src)).map_err(|e| {
            Error::GoMod {
                source: Box::new(e),
            }
        })?;
    let module_path = file
        .module
        .as_ref()
        .map(|m| m.path.clone())
        .ok_or_else(|| Error::NoModule {
            file: gomod.clone(),
        })?;

    let mut packages = Vec::new();
    walk(root, root, &module_path, &mut packages)?;
    packages.sort_by(|a, b| a.dir.cmp(&b.dir));

    let main_packages = packages
        .iter()
        .filter(|p| p.is_main)
        .map(|p| MainPackage {
            dir: p.dir.clone(),
            outside_cmd: !(p.dir == "cmd" || p.dir.starts_with("cmd/")),
        })
        .collect();
    let conventional_dirs = CONVENTIONAL
        .iter()
        .filter(|d| root.join(d).is_dir())
        .map(|d| (*d).to_owned())
        .collect();

    let mut internal_violations = Vec::new();
    for p in &packages {
        let all: BTreeSet<&String> = p.imports.iter().chain(&p.test_imports).collect();
        for imp in all {
            if is_std(imp) {
                continue;
            }
            if let Some(parent) = internal_parent(imp)
                && !(p.import_path == parent || p.import_path.starts_with(&format!("{parent}/")))
            {
                internal_violations.push(Violation {
                    importer: p.import_path.clone(),
                    imported: imp.clone(),
                    allowed_under: parent.to_owned(),
                });
            }
        }
    }

    let (unused_requires, missing_requires) = tidiness(&file, &module_path, &packages);
    Ok(Layout {
        module_path,
        packages,
        main_packages,
        conventional_dirs,
        internal_violations,
        unused_requires,
        missing_requires,
    })
}

impl Layout {
    /// The report as pretty-printed JSON (with a trailing newline).
    #[must_use]
    pub fn to_json(&self) -> String {
        // Serialising plain strings, vectors and booleans cannot fail.
        let mut s = serde_json::to_string_pretty(self).unwrap_or_default();
        s.push('\n');
        s
    }

    /// The report as readable text.
    #[must_use]
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        let none = |v: &[String]| {
            if v.is_empty() {
                "none".to_owned()
            } else {
                v.join(" ")
            }
        };
        let _ = writeln!(s, "module {}", self.module_path);
        let _ = writeln!(s, "\npackages:");
        for p in &self.packages {
            let mut flags = Vec::new();
            if p.is_main {
                flags.push("main".to_owned());
            }
            if p.has_tests {
                flags.push("tests".to_owned());
            }
            if let Some(x) = &p.external_test_package {
                flags.push(format!("external test {x}"));
            }
            let _ = writeln!(
                s,
                "  {} (dir {}, package {}{}{})",
                p.import_path,
                p.dir,
                p.name,
                if flags.is_empty() { "" } else { ", " },
                flags.join(", ")
            );
            if !p.other_names.is_empty() {
                let _ = writeln!(s, "    other package names: {}", p.other_names.join(" "));
            }
            let _ = writeln!(s, "    imports: {}", none(&p.imports));
            if !p.test_imports.is_empty() {
                let _ = writeln!(s, "    test imports: {}", p.test_imports.join(" "));
            }
        }
        let _ = writeln!(s, "\nmain packages:");
        if self.main_packages.is_empty() {
            let _ = writeln!(s, "  none");
        }
        for m in &self.main_packages {
            let where_ = if m.outside_cmd { " (outside cmd/)" } else { "" };
            let _ = writeln!(s, "  {}{where_}", m.dir);
        }
        let missing: Vec<String> = CONVENTIONAL
            .iter()
            .filter(|d| !self.conventional_dirs.iter().any(|c| c == *d))
            .map(|d| (*d).to_owned())
            .collect();
        let _ = writeln!(
            s,
            "\ndirectories: {} (absent: {})",
            none(&self.conventional_dirs),
            none(&missing)
        );
        let _ = writeln!(s, "\ninternal violations:");
        if self.internal_violations.is_empty() {
            let _ = writeln!(s, "  none");
        }
        for v in &self.internal_violations {
            let _ = writeln!(
                s,
                "  {} imports {} (allowed only under {})",
                v.importer, v.imported, v.allowed_under
            );
        }
        let _ = writeln!(s, "\nunused requires: {}", none(&self.unused_requires));
        let _ = writeln!(s, "missing requires: {}", none(&self.missing_requires));
        s
    }
}

// Standard-library paths have no dot in their first element (cmd/go's `search.IsStandardImportPath`).
fn is_std(path: &str) -> bool {
    !path.split('/').next().unwrap_or(path).contains('.')
}

// The import path the package is private to: everything before its LAST `internal` element, since that
// one is the most restrictive (cmd/go's `findInternal`). `None` when there is no `internal` element.
fn internal_parent(path: &str) -> Option<&str> {
    if let Some(p) = path.strip_suffix("/internal") {
        return Some(p);
    }
    if let Some(i) = path.rfind("/internal/") {
        return Some(&path[..i]);
    }
    (path == "internal" || path.starts_with("internal/")).then_some("")
}

// Each non-standard import is attributed to the longest matching module path among the main module and
// the requirements; direct requirements that get nothing are unused, imports that match none are missing.
fn tidiness(file: &ModFile, module_path: &str, packages: &[Package]) -> (Vec<String>, Vec<String>) {
    let matches = |imp: &str, m: &str| imp == m || imp.starts_with(&format!("{m}/"));
    let mut used: HashSet<&str> = HashSet::new();
    let mut missing = BTreeSet::new();
    for imp in packages
        .iter()
        .flat_map(|p| p.imports.iter().chain(&p.test_imports))
    {
        if is_std(imp) {
            continue;
        }
        let best_req = file
            .require
            .iter()
            .map(|r| r.module.path.as_str())
            .filter(|m| matches(imp, m))
            .max_by_key(|m| m.len());
        let own = matches(imp, module_path);
        match best_req {
            Some(r) if !own || r.len() > module_path.len() => {
                used.insert(r);
            }
            None if !own => {
                missing.insert(imp.clone());
            }
            _ => {}
        }
    }
    let unused = file
        .require
        .iter()
        .filter(|r| !r.indirect && !used.contains(r.module.path.as_str()))
        .map(|r| r.module.path.clone())
        .collect();
    (unused, missing.into_iter().collect())
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_owned(),
        source,
    }
}

// The go command matches the `.go` extension case-sensitively: `x.GO` is not a Go file.
#[allow(clippy::case_sensitive_file_extension_comparisons)]
fn has_go_ext(name: &str) -> bool {
    name.ends_with(".go")
}

fn walk(root: &Path, dir: &Path, module_path: &str, out: &mut Vec<Package>) -> Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(io_err(dir))?
        .collect::<std::io::Result<_>>()
        .map_err(io_err(dir))?;
    entries.sort_by_key(std::fs::DirEntry::file_name);
    let mut go_files = Vec::new();
    for e in entries {
        let name = e.file_name().to_string_lossy().into_owned();
        let path = e.path();
        // `file_type` does not follow symlinks, as the go command's walk does not.
        let ft = e.file_type().map_err(io_err(&path))?;
        if name.starts_with('.') || name.starts_with('_') {
            continue;
        }
        if ft.is_dir() {
            if name == "vendor" || name == "testdata" || path.join("go.mod").is_file() {
                continue;
            }
            walk(root, &path, module_path, out)?;
        } else if has_go_ext(&name) && (ft.is_file() || path.is_file()) {
            go_files.push((name, path));
        }
    }
    if go_files.is_empty() {
        return Ok(());
    }
    let rel = dir
        .strip_prefix(root)
        .unwrap_or(dir)
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/");
    let import_path = if rel.is_empty() {
        module_path.to_owned()
    } else {
        format!("{module_path}/{rel}")
    };
    let mut names = BTreeSet::new();
    let mut first_name = None;
    let mut test_names = BTreeSet::new();
    let mut external = None;
    let mut imports = BTreeSet::new();
    let mut test_imports = BTreeSet::new();
    let mut has_tests = false;
    for (name, path) in &go_files {
        let bytes = std::fs::read(path).map_err(io_err(path))?;
        let header = parse_header(&bytes).map_err(|(line, column, message)| Error::Syntax {
            file: path.clone(),
            line,
            column,
            message,
        })?;
        if name.ends_with("_test.go") {
            has_tests = true;
            if header.package.ends_with("_test") {
                external = Some(header.package.clone());
            }
            test_names.insert(header.package);
            test_imports.extend(header.imports);
        } else {
            first_name.get_or_insert_with(|| header.package.clone());
            names.insert(header.package);
            imports.extend(header.imports);
        }
    }
    let name = match first_name {
        Some(n) => n,
        None => test_names
            .iter()
            .next()
            .map(|n| n.strip_suffix("_test").unwrap_or(n).to_owned())
            .unwrap_or_default(),
    };
    names.remove(&name);
    out.push(Package {
        import_path,
        dir: if rel.is_empty() { ".".to_owned() } else { rel },
        is_main: name == "main",
        name,
        other_names: names.into_iter().collect(),
        external_test_package: external,
        imports: imports.into_iter().collect(),
        test_imports: test_imports.into_iter().collect(),
        has_tests,
    });
    Ok(())
}

// The package clause and import declarations of one Go file.
#[derive(Debug, PartialEq, Eq)]
struct Header {
    package: String,
    imports: Vec<String>,
}

type SyntaxError = (usize, usize, String);

// A tiny scanner over the start of a Go file: enough of the Go lexer (comments, identifiers, string
// literals, semicolon insertion by newline) to read the package clause and the import declarations,
// which the language requires before any other declaration.
struct Scanner<'a> {
    src: &'a [u8],
    pos: usize,
}

impl Scanner<'_> {
    fn here(&self) -> (usize, usize) {
        let before = &self.src[..self.pos];
        let line = before.split(|&b| b == b'\n').count();
        let col = self.pos
            - before
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |i| i + 1)
            + 1;
        (line, col)
    }

    fn err(&self, message: &str) -> SyntaxError {
        let (l, c) = self.here();
        (l, c, message.to_owned())
    }

    // Skips blanks and comments; returns whether a newline was crossed (a newline inside a
    // /* */ comment counts, as in Go).
    fn skip(&mut self) -> Result<bool, SyntaxError> {
        let mut newline = false;
        loop {
            match self.src.get(self.pos..) {
                Some([b'\n', ..]) => {
                    newline = true;
                    self.pos += 1;
                }
                Some([b' ' | b'\t' | b'\r', ..]) => self.pos += 1,
                Some([b'/', b'/', ..]) => {
                    while self.pos < self.src.len() && self.src[self.pos] != b'\n' {
                        self.pos += 1;
                    }
                }
                Some([b'/', b'*', ..]) => {
                    let start = self.pos;
                    let end = self.src[self.pos + 2..]
                        .windows(2)
                        .position(|w| w == b"*/")
                        .ok_or_else(|| self.err("comment not terminated"))?;
                    let body = &self.src[start..start + 2 + end];
                    newline |= body.contains(&b'\n');
                    self.pos = start + 2 + end + 2;
                }
                _ => return Ok(newline),
            }
        }
    }

    fn ident(&mut self) -> Option<String> {
        let start = self.pos;
        let rest = std::str::from_utf8(&self.src[self.pos..])
            .ok()
            .or_else(|| {
                // Only the identifier's bytes matter; cut at the first invalid byte.
                let valid = std::str::from_utf8(&self.src[self.pos..])
                    .err()
                    .map_or(0, |e| e.valid_up_to());
                std::str::from_utf8(&self.src[self.pos..self.pos + valid]).ok()
            })?;
        let len: usize = rest
            .char_indices()
            .take_while(|(i, c)| c.is_alphabetic() || *c == '_' || (*i > 0 && c.is_numeric()))
            .map(|(_, c)| c.len_utf8())
            .sum();
        self.pos += len;
        (len > 0).then(|| String::from_utf8_lossy(&self.src[start..self.pos]).into_owned())
    }

    fn peek(&self) -> Option<u8> {
        self.src.get(self.pos).copied()
    }

    fn string(&mut self) -> Result<String, SyntaxError> {
        match self.peek() {
            Some(b'`') => {
                let end = self.src[self.pos + 1..]
                    .iter()
                    .position(|&b| b == b'`')
                    .ok_or_else(|| self.err("raw string literal not terminated"))?;
                // Go drops carriage returns from raw string literals.
                let s: Vec<u8> = self.src[self.pos + 1..self.pos + 1 + end]
                    .iter()
                    .copied()
                    .filter(|&b| b != b'\r')
                    .collect();
                self.pos += end + 2;
                Ok(String::from_utf8_lossy(&s).into_owned())
            }
            Some(b'"') => {
                // Like go/scanner, an unterminated literal is reported at its opening quote.
                let start = self.pos;
                self.pos += 1;
                let mut out = Vec::new();
                loop {
                    match self.peek() {
                        None | Some(b'\n') => {
                            self.pos = start;
                            return Err(self.err("string literal not terminated"));
                        }
                        Some(b'"') => {
                            self.pos += 1;
                            return Ok(String::from_utf8_lossy(&out).into_owned());
                        }
                        Some(b'\\') => {
                            self.pos += 1;
                            self.escape(&mut out)?;
                        }
                        Some(b) => {
                            out.push(b);
                            self.pos += 1;
                        }
                    }
                }
            }
            _ => Err(self.err("expected import path (string literal)")),
        }
    }

    fn escape(&mut self, out: &mut Vec<u8>) -> Result<(), SyntaxError> {
        let hex = |s: &mut Self, n: usize| -> Result<u32, SyntaxError> {
            let digits = s
                .src
                .get(s.pos..s.pos + n)
                .and_then(|d| std::str::from_utf8(d).ok())
                .and_then(|d| u32::from_str_radix(d, 16).ok())
                .ok_or_else(|| s.err("invalid escape in string literal"))?;
            s.pos += n;
            Ok(digits)
        };
        let c = self
            .peek()
            .ok_or_else(|| self.err("string literal not terminated"))?;
        self.pos += 1;
        let simple = match c {
            b'a' => Some(7),
            b'b' => Some(8),
            b'f' => Some(12),
            b'n' => Some(b'\n'),
            b'r' => Some(b'\r'),
            b't' => Some(b'\t'),
            b'v' => Some(11),
            b'\\' => Some(b'\\'),
            b'"' => Some(b'"'),
            _ => None,
        };
        if let Some(b) = simple {
            out.push(b);
            return Ok(());
        }
        match c {
            b'x' => out.push(u8::try_from(hex(self, 2)?).unwrap_or(0)),
            b'0'..=b'7' => {
                self.pos -= 1;
                let v = self
                    .src
                    .get(self.pos..self.pos + 3)
                    .and_then(|d| std::str::from_utf8(d).ok())
                    .and_then(|d| u32::from_str_radix(d, 8).ok())
                    .and_then(|v| u8::try_from(v).ok())
                    .ok_or_else(|| self.err("invalid escape in string literal"))?;
                self.pos += 3;
                out.push(v);
            }
            b'u' | b'U' => {
                let v = hex(self, if c == b'u' { 4 } else { 8 })?;
                let ch = char::from_u32(v)
                    .ok_or_else(|| self.err("escape is invalid Unicode code point"))?;
                out.extend_from_slice(ch.encode_utf8(&mut [0; 4]).as_bytes());
            }
            _ => {
                self.pos -= 1;
                return Err(self.err("unknown escape sequence"));
            }
        }
        Ok(())
    }

    // One import spec: `[name | . | _] "path"`.
    fn import_spec(&mut self) -> Result<String, SyntaxError> {
        if self.peek() == Some(b'.') {
            self.pos += 1;
            self.skip()?;
        } else if self.ident().is_some() {
            self.skip()?;
        }
        self.string()
    }

    // After a spec: a `;` or a newline must end it (or, in a group, the closing `)`).
    fn end_of_spec(&mut self, in_group: bool) -> Result<(), SyntaxError> {
        let newline = self.skip()?;
        match self.peek() {
            Some(b';') => {
                self.pos += 1;
                Ok(())
            }
            Some(b')') if in_group => Ok(()),
            None => Ok(()),
            _ if newline => Ok(()),
            _ => Err(self.err("expected ';' or newline after import spec")),
        }
    }
}

fn parse_header(src: &[u8]) -> Result<Header, SyntaxError> {
    let mut s = Scanner { src, pos: 0 };
    s.skip()?;
    if s.ident().as_deref() != Some("package") {
        return Err(s.err("expected 'package'"));
    }
    s.skip()?;
    let package = s.ident().ok_or_else(|| s.err("expected package name"))?;
    s.end_of_spec(false)?;
    let mut imports = Vec::new();
    loop {
        s.skip()?;
        // Anything but `import` ends the import declarations; the rest of the file is not read.
        if s.ident().as_deref() != Some("import") {
            break;
        }
        s.skip()?;
        if s.peek() == Some(b'(') {
            s.pos += 1;
            loop {
                s.skip()?;
                match s.peek() {
                    Some(b')') => {
                        s.pos += 1;
                        break;
                    }
                    Some(b';') => s.pos += 1,
                    None => return Err(s.err("import group not closed")),
                    _ => {
                        imports.push(s.import_spec()?);
                        s.end_of_spec(true)?;
                    }
                }
            }
            s.end_of_spec(false)?;
        } else {
            imports.push(s.import_spec()?);
            s.end_of_spec(false)?;
        }
    }
    Ok(Header { package, imports })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, files: &[(&str, &str)]) {
        for (name, text) in files {
            let p = root.join(name);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
    }

    #[test]
    fn header_reads_all_import_forms_and_skips_comments() {
        let src = "// c\n/* package no */ package foo // x\n\nimport \"a\"\nimport (\n\tb \"b/c\" // \"nope\"\n\t. `d`\n\t_ \"e\\x2ff\"; \"g\"\n\t/* \"h\" */\n)\nimport z \"q\"\n\nfunc f() { _ = \"import \\\"x\\\"\" }\n";
        let h = parse_header(src.as_bytes()).unwrap();
        assert_eq!(h.package, "foo");
        assert_eq!(h.imports, ["a", "b/c", "d", "e/f", "g", "q"]);
        let err = parse_header(b"package x\nimport \"a").unwrap_err();
        assert_eq!((err.0, err.1), (2, 8));
        assert!(parse_header(b"func x() {}").is_err());
    }

    #[test]
    fn internal_violation_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            &[
                ("go.mod", "module example.com/m\n\ngo 1.22\n"),
                ("a/internal/x/x.go", "package x\n"),
                (
                    "a/b/b.go",
                    "package b\nimport _ \"example.com/m/a/internal/x\"\n",
                ),
                (
                    "c/c.go",
                    "package c\nimport \"example.com/m/a/internal/x\"\n",
                ),
                ("c/c_test.go", "package c_test\nimport \"testing\"\n"),
            ],
        );
        let l = analyze(dir.path()).unwrap();
        assert_eq!(
            l.internal_violations,
            [Violation {
                importer: "example.com/m/c".into(),
                imported: "example.com/m/a/internal/x".into(),
                allowed_under: "example.com/m/a".into(),
            }]
        );
        let c = l.packages.iter().find(|p| p.dir == "c").unwrap();
        assert_eq!(c.external_test_package.as_deref(), Some("c_test"));
        assert_eq!(c.name, "c");
        assert!(c.has_tests && !c.is_main);
        assert_eq!(l.conventional_dirs, Vec::<String>::new());
    }

    #[test]
    fn untidy_requires_use_longest_module_path() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            &[
                (
                    "go.mod",
                    "module example.com/m\n\ngo 1.22\n\nrequire (\n\tgithub.com/a/b v1.0.0\n\tgithub.com/a/b/sub v1.0.0\n\tgithub.com/unused/x v1.0.0\n\tgithub.com/ind/y v1.0.0 // indirect\n)\n",
                ),
                (
                    "cmd/m/main.go",
                    "package main\nimport (\n\t\"fmt\"\n\t\"github.com/a/b/sub/pkg\"\n\t\"github.com/not/required\"\n)\n",
                ),
                ("main.go", "package main\n"),
            ],
        );
        let l = analyze(dir.path()).unwrap();
        // github.com/a/b/sub/pkg belongs to github.com/a/b/sub, so github.com/a/b is unused.
        assert_eq!(l.unused_requires, ["github.com/a/b", "github.com/unused/x"]);
        assert_eq!(l.missing_requires, ["github.com/not/required"]);
        assert_eq!(
            l.main_packages,
            [
                MainPackage {
                    dir: ".".into(),
                    outside_cmd: true
                },
                MainPackage {
                    dir: "cmd/m".into(),
                    outside_cmd: false
                },
            ]
        );
        assert_eq!(l.conventional_dirs, ["cmd"]);
    }

    #[test]
    fn nested_modules_and_ignored_dirs_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            &[
                ("go.mod", "module example.com/m\n\ngo 1.22\n"),
                ("p/p.go", "package p\n"),
                ("nested/go.mod", "module example.com/m/nested\n"),
                ("nested/n.go", "package n\n"),
                ("vendor/v/v.go", "package v\n"),
                ("testdata/t.go", "package t\n"),
                (".hidden/h.go", "package h\n"),
                ("_skip/s.go", "package s\n"),
                ("p/_ignored.go", "package other\n"),
            ],
        );
        let l = analyze(dir.path()).unwrap();
        let dirs: Vec<_> = l.packages.iter().map(|p| p.dir.as_str()).collect();
        assert_eq!(dirs, ["p"]);
        assert!(l.packages[0].other_names.is_empty());
        assert!(l.to_text().contains("example.com/m/p (dir p, package p)"));
        assert!(l.to_json().contains("\"import_path\": \"example.com/m/p\""));
    }

    #[test]
    fn bad_go_file_names_its_position() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            &[
                ("go.mod", "module example.com/m\n"),
                ("x.go", "package x\nimport (\n\t\"a\n"),
            ],
        );
        let e = analyze(dir.path()).unwrap_err();
        assert!(
            matches!(
                e,
                Error::Syntax {
                    line: 3,
                    column: 2,
                    ..
                }
            ),
            "{e}"
        );
    }
}
