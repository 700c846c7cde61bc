//! Mapping a profile's file names (`import/path/file.go`) to Go source text.
//!
//! `go tool cover` asks `go list` where each package lives. [`ModuleResolver`] answers the same
//! question from the file system alone: the main module (the `module` line of the nearest `go.mod`),
//! the modules a `go.work` uses, their `vendor/` directories, and `GOROOT/src` for the standard library.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

/// Why a Go file's source could not be produced.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ResolveError {
    /// No candidate location holds the file.
    #[error("cannot find Go source for {}: looked at {}", crate::quote::excerpt(file), looked_list(.looked))]
    NotFound {
        /// The file as the profile names it.
        file: String,
        /// Every path tried, in order.
        looked: Vec<PathBuf>,
    },
    /// The file exists but could not be read.
    #[error(
        "cannot read Go source for {} at {}: {error}",
        crate::quote::excerpt(file),
        crate::quote::excerpt(&path.display().to_string())
    )]
    Unreadable {
        /// The file as the profile names it.
        file: String,
        /// Where it was found.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        error: std::io::Error,
    },
    /// A custom resolver failed.
    #[error("cannot resolve Go source for {}", crate::quote::excerpt(file))]
    Other {
        /// The file as the profile names it.
        file: String,
        /// The resolver's own error.
        #[source]
        error: Box<dyn std::error::Error + Send + Sync>,
    },
}

fn looked_list(looked: &[PathBuf]) -> String {
    if looked.is_empty() {
        return "nothing (no module, workspace or GOROOT found)".to_owned();
    }
    looked
        .iter()
        .map(|p| crate::quote::excerpt(&p.display().to_string()).into_owned())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Maps a profile's file name to the Go source text it was compiled from.
pub trait SourceResolver {
    /// The source of `file` (as a profile names it, e.g. `example.com/m/pkg/file.go`).
    fn resolve(&self, file: &str) -> Result<Vec<u8>, ResolveError>;
}

impl<T: SourceResolver + ?Sized> SourceResolver for &T {
    fn resolve(&self, file: &str) -> Result<Vec<u8>, ResolveError> {
        (**self).resolve(file)
    }
}

impl<T: SourceResolver + ?Sized> SourceResolver for Box<T> {
    fn resolve(&self, file: &str) -> Result<Vec<u8>, ResolveError> {
        (**self).resolve(file)
    }
}

impl<T: SourceResolver + ?Sized> SourceResolver for Arc<T> {
    fn resolve(&self, file: &str) -> Result<Vec<u8>, ResolveError> {
        (**self).resolve(file)
    }
}

/// Sources held in memory, keyed by the names a profile uses (handy for tests and for sources that
/// do not live on disk).
#[derive(Debug, Clone, Default)]
pub struct MemoryResolver {
    files: BTreeMap<String, Vec<u8>>,
}

impl MemoryResolver {
    /// An empty resolver.
    pub fn new() -> Self {
        MemoryResolver::default()
    }

    /// Adds (or replaces) a file.
    #[must_use]
    pub fn with_file(mut self, name: impl Into<String>, source: impl Into<Vec<u8>>) -> Self {
        self.files.insert(name.into(), source.into());
        self
    }
}

impl SourceResolver for MemoryResolver {
    fn resolve(&self, file: &str) -> Result<Vec<u8>, ResolveError> {
        self.files
            .get(file)
            .cloned()
            .ok_or_else(|| ResolveError::NotFound {
                file: file.to_owned(),
                looked: Vec::new(),
            })
    }
}

/// A module: its path (from `go.mod`'s `module` line) and root directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Module {
    /// The module path.
    pub path: String,
    /// The directory holding its `go.mod`.
    pub root: PathBuf,
}

/// Resolves file names the way `go list` would from a working directory, reading only the file system
/// (and running `go env GOROOT` once, only when a file is not found elsewhere and `GOROOT` is unset).
#[derive(Debug)]
pub struct ModuleResolver {
    dir: PathBuf,
    /// Longest module path first, so nested modules win over their parents.
    modules: Vec<Module>,
    goroot: OnceLock<Option<PathBuf>>,
}

impl ModuleResolver {
    /// Discovers the modules visible from `dir`: the `go.work` above it (unless `GOWORK=off`; a
    /// `GOWORK` path is used as given) and the nearest `go.mod`.
    pub fn discover(dir: impl AsRef<Path>) -> ModuleResolver {
        let dir = dir.as_ref().to_path_buf();
        let mut modules = Vec::new();
        let gowork = std::env::var_os("GOWORK").filter(|v| !v.is_empty());
        let work_file = match gowork {
            Some(v) if v == "off" => None,
            Some(v) => Some(dir.join(v)),
            None => find_up(&dir, "go.work"),
        };
        if let Some(work) = work_file
            && let Ok(text) = std::fs::read_to_string(&work)
        {
            let base = work.parent().unwrap_or(Path::new(".")).to_path_buf();
            for used in work_use_dirs(&text) {
                let root = base.join(used);
                if let Some(module) = read_module(&root) {
                    modules.push(module);
                }
            }
        }
        if let Some(gomod) = find_up(&dir, "go.mod")
            && let Some(root) = gomod.parent()
            && let Some(module) = read_module(root)
            && !modules.contains(&module)
        {
            modules.push(module);
        }
        modules.sort_by_key(|m| std::cmp::Reverse(m.path.len()));
        ModuleResolver {
            dir,
            modules,
            goroot: OnceLock::new(),
        }
    }

    /// Uses `goroot` for standard-library sources instead of `GOROOT` / `go env GOROOT`.
    #[must_use]
    pub fn with_goroot(self, goroot: Option<PathBuf>) -> Self {
        let cell = OnceLock::new();
        let _ = cell.set(goroot);
        ModuleResolver {
            goroot: cell,
            ..self
        }
    }

    /// The modules found, longest path first.
    pub fn modules(&self) -> &[Module] {
        &self.modules
    }

    fn goroot(&self) -> Option<&Path> {
        self.goroot.get_or_init(detect_goroot).as_deref()
    }

    /// The first existing file among [`ModuleResolver::candidates`]: where `file`'s source is on disk.
    pub fn locate(&self, file: &str) -> Option<PathBuf> {
        self.candidates(file).into_iter().find(|p| p.is_file())
    }

    /// The places `file` may be, in the order they are tried.
    pub fn candidates(&self, file: &str) -> Vec<PathBuf> {
        let mut out = Vec::new();
        if file.starts_with('.') || Path::new(file).is_absolute() {
            out.push(self.dir.join(file));
            return out;
        }
        for m in &self.modules {
            if let Some(rest) = file
                .strip_prefix(m.path.as_str())
                .and_then(|r| r.strip_prefix('/'))
            {
                out.push(m.root.join(rest));
            }
        }
        for m in &self.modules {
            let vendor = m.root.join("vendor");
            if vendor.is_dir() {
                out.push(vendor.join(file));
            }
        }
        if let Some(goroot) = self.goroot() {
            out.push(goroot.join("src").join(file));
            out.push(goroot.join("src/vendor").join(file));
        }
        out
    }
}

impl SourceResolver for ModuleResolver {
    fn resolve(&self, file: &str) -> Result<Vec<u8>, ResolveError> {
        let looked = self.candidates(file);
        for path in &looked {
            match std::fs::read(path) {
                Ok(text) => return Ok(text),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(error) if path.is_file() => {
                    return Err(ResolveError::Unreadable {
                        file: file.to_owned(),
                        path: path.clone(),
                        error,
                    });
                }
                Err(_) => {}
            }
        }
        Err(ResolveError::NotFound {
            file: file.to_owned(),
            looked,
        })
    }
}

/// `GOROOT` when set, else what `go env GOROOT` prints when `go` runs.
fn detect_goroot() -> Option<PathBuf> {
    if let Some(root) = std::env::var_os("GOROOT").filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(root));
    }
    let out = std::process::Command::new("go")
        .args(["env", "GOROOT"])
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    let root = text.trim();
    (out.status.success() && !root.is_empty()).then(|| PathBuf::from(root))
}

fn find_up(dir: &Path, name: &str) -> Option<PathBuf> {
    dir.ancestors().map(|d| d.join(name)).find(|p| p.is_file())
}

fn read_module(root: &Path) -> Option<Module> {
    let text = std::fs::read_to_string(root.join("go.mod")).ok()?;
    let path = module_path(&text)?;
    Some(Module {
        path,
        root: root.to_path_buf(),
    })
}

/// The module path of a `go.mod` without a full parse: the first line that is `module PATH` once
/// comments are removed (PATH possibly quoted), as x/mod's `ModulePath` reads it.
pub(crate) fn module_path(gomod: &str) -> Option<String> {
    for line in gomod.lines() {
        let line = line.split("//").next().unwrap_or("").trim();
        let Some(rest) = line.strip_prefix("module") else {
            continue;
        };
        // `module` must be followed by space: `modulex` is some other word.
        let arg = rest.trim();
        if arg.len() == rest.len() || arg.is_empty() {
            continue;
        }
        return unquote(arg);
    }
    None
}

/// A Go string argument: bare, `"quoted"` (simple escapes) or `` `raw` ``.
fn unquote(arg: &str) -> Option<String> {
    if let Some(raw) = arg.strip_prefix('`') {
        return raw
            .strip_suffix('`')
            .filter(|s| !s.contains('`'))
            .map(str::to_owned);
    }
    let Some(quoted) = arg.strip_prefix('"') else {
        return Some(arg.to_owned());
    };
    let body = quoted.strip_suffix('"')?;
    let mut out = String::with_capacity(body.len());
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => return None,
            '\\' => match chars.next()? {
                '\\' => out.push('\\'),
                '"' => out.push('"'),
                'n' => out.push('\n'),
                't' => out.push('\t'),
                _ => return None,
            },
            c => out.push(c),
        }
    }
    Some(out)
}

/// The directories named by a `go.work`'s `use` directives (single-line or block form).
fn work_use_dirs(gowork: &str) -> Vec<String> {
    let mut dirs = Vec::new();
    let mut in_block = false;
    for line in gowork.lines() {
        let line = line.split("//").next().unwrap_or("").trim();
        if in_block {
            if line == ")" {
                in_block = false;
            } else if !line.is_empty()
                && let Some(dir) = unquote(line)
            {
                dirs.push(dir);
            }
            continue;
        }
        let Some(rest) = line.strip_prefix("use") else {
            continue;
        };
        let arg = rest.trim();
        if arg.len() == rest.len() && arg != "(" {
            continue;
        }
        if arg == "(" {
            in_block = true;
        } else if let Some(dir) = unquote(arg) {
            dirs.push(dir);
        }
    }
    dirs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_line_forms() {
        assert_eq!(
            module_path("// c\nmodule example.com/m // tail\n").as_deref(),
            Some("example.com/m")
        );
        assert_eq!(
            module_path("module \"example.com/q\"\n").as_deref(),
            Some("example.com/q")
        );
        assert_eq!(
            module_path("module `example.com/r`\n").as_deref(),
            Some("example.com/r")
        );
        assert_eq!(module_path("modulex foo\ngo 1.22\n"), None);
        assert_eq!(module_path("module\n"), None);
        assert_eq!(module_path("module \"bad\n"), None);
    }

    #[test]
    fn go_work_use_forms() {
        let text =
            "go 1.22\nuse ./a // first\nuse (\n\t./b\n\t\"./c d\"\n)\nuse(\n./e\n)\nuser ./x\n";
        assert_eq!(work_use_dirs(text), vec!["./a", "./b", "./c d", "./e"]);
    }

    #[test]
    fn memory_resolver_names_the_missing_file() {
        let r = MemoryResolver::new().with_file("m/a.go", "package a");
        assert_eq!(r.resolve("m/a.go").unwrap(), b"package a");
        let err = r.resolve("m/b.go").unwrap_err();
        assert!(err.to_string().contains("m/b.go"), "{err}");
    }
}
