//! Minimal version selection as cmd/go computes it: the build list (`go list -m all`) and the requirement
//! graph (`go mod graph`) of a main module or a go.work workspace, read from a [`ModuleSource`].
//!
//! What is modelled (cmd/go's modload, mvs and gover packages): the main module's requirements with its
//! excludes (a requirement on an excluded version is dropped, with go's `dropping requirement` warning;
//! dependencies' requirements on excluded versions are dropped silently), replacements (module to module,
//! with or without a version, and directories whose go.mod is read from disk), graph pruning (a main
//! module at go >= 1.17 loads only the requirements of its direct dependencies, and everything below a
//! dependency at go < 1.17), go.work workspaces (several main modules, go.work replacements taking
//! precedence), the `go@X` / `toolchain@goX` nodes of go lines >= 1.21, the root updates `-mod=mod` makes
//! before listing (roots raised to their selected versions until consistent), `go: module X requires
//! go >= Y` when a go.mod needs a newer Go than the running one, and go's error text when a go.mod cannot
//! be read. Fetches of go.mod files run in parallel, wave by wave.
//!
//! ```
//! use slipway_gomod::mvs::{self, Options};
//! use slipway_gomod::source::MemorySource;
//!
//! let mut world = MemorySource::new();
//! world.add("example.com/a", "v1.0.0", "module example.com/a\n\ngo 1.17\n\nrequire example.com/c v1.1.0\n");
//! world.add("example.com/b", "v1.0.0", "module example.com/b\n\ngo 1.17\n\nrequire example.com/c v1.2.0\n");
//! world.add("example.com/c", "v1.1.0", "module example.com/c\n\ngo 1.17\n");
//! world.add("example.com/c", "v1.2.0", "module example.com/c\n\ngo 1.17\n");
//! let dir = tempfile::tempdir()?;
//! std::fs::write(
//!     dir.path().join("go.mod"),
//!     "module example.com/main\n\ngo 1.17\n\nrequire (\n\texample.com/a v1.0.0\n\texample.com/b v1.0.0\n)\n",
//! )?;
//! let options = Options::default().go_version("1.27.3").go_work(mvs::GoWork::Off);
//! let list = mvs::list(dir.path(), &world, &options)?;
//! assert_eq!(
//!     list.to_string(),
//!     "example.com/main\nexample.com/a v1.0.0\nexample.com/b v1.0.0\nexample.com/c v1.2.0\n"
//! );
//! let graph = mvs::graph(dir.path(), &world, &options)?;
//! assert!(graph.to_string().starts_with("example.com/main example.com/a@v1.0.0\n"));
//! Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod godebug;
mod graph;
mod load;
mod query;

use std::fmt;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

pub use graph::Mv;
use load::Loader;

use crate::source::ModuleSource;
use crate::version;

/// Result of minimal version selection.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The Go version assumed to be running when [`Options::from_env`] finds no Go installation: the release
/// slipway's fixtures were generated with.
pub const DEFAULT_GO_VERSION: &str = "1.27.3";

/// Which go.work file applies (the `GOWORK` variable).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum GoWork {
    /// Look for go.work in the directory and its parents (`GOWORK` unset or empty).
    #[default]
    Auto,
    /// Workspace mode disabled (`GOWORK=off`).
    Off,
    /// This go.work file.
    File(PathBuf),
}

/// The environment cmd/go would run in.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Options {
    go_version: String,
    gotoolchain: String,
    mod_mod: bool,
    go_work: GoWork,
    jobs: usize,
    // The -mod value given in GOFLAGS, if any (cmd/go words its errors differently when it was given).
    mod_flag: Option<String>,
}

impl Default for Options {
    /// Go [`DEFAULT_GO_VERSION`], `GOTOOLCHAIN=local`, `-mod=mod`, go.work looked up.
    fn default() -> Options {
        Options {
            go_version: DEFAULT_GO_VERSION.to_owned(),
            gotoolchain: "local".to_owned(),
            mod_mod: true,
            go_work: GoWork::Auto,
            jobs: DEFAULT_JOBS,
            mod_flag: Some("mod".to_owned()),
        }
    }
}

/// go.mod fetches in flight at once by default: fetching is I/O bound on a remote proxy, so more than the
/// number of cores (cmd/go uses GOMAXPROCS workers; slipway's default is a little more generous).
pub const DEFAULT_JOBS: usize = 8;

impl Options {
    /// Options from the process environment as cmd/go reads it: `GOFLAGS` (`-mod=`), `GOWORK`,
    /// `GOTOOLCHAIN`, and the running Go version from `$GOROOT/VERSION` (GOROOT from the environment or
    /// from the `go` found on `PATH`; [`DEFAULT_GO_VERSION`] when there is none).
    #[must_use]
    pub fn from_env() -> Options {
        let var = |k: &str| std::env::var(k).unwrap_or_default();
        let flags = var("GOFLAGS");
        let mut mod_flag = None;
        let mut words = flags.split_whitespace();
        while let Some(w) = words.next() {
            let w = w.trim_start_matches('-');
            if let Some(v) = w.strip_prefix("mod=") {
                mod_flag = Some(v.to_owned());
            } else if w == "mod" {
                mod_flag = words.next().map(str::to_owned);
            }
        }
        let mod_mod = mod_flag.as_deref() == Some("mod");
        let go_work = match var("GOWORK").as_str() {
            "" => GoWork::Auto,
            "off" => GoWork::Off,
            path => GoWork::File(PathBuf::from(path)),
        };
        let gotoolchain = match var("GOTOOLCHAIN") {
            t if t.is_empty() => "auto".to_owned(),
            t => t,
        };
        Options {
            go_version: running_go_version().unwrap_or_else(|| DEFAULT_GO_VERSION.to_owned()),
            gotoolchain,
            mod_mod,
            go_work,
            jobs: DEFAULT_JOBS,
            mod_flag,
        }
    }

    /// The running Go version (`1.27.3`): go.mod files asking for more fail as with `GOTOOLCHAIN=local`.
    #[must_use]
    pub fn go_version(mut self, v: &str) -> Options {
        v.clone_into(&mut self.go_version);
        self
    }

    /// The `GOTOOLCHAIN` value named in "requires go >=" errors (`auto` names none).
    #[must_use]
    pub fn gotoolchain(mut self, v: &str) -> Options {
        v.clone_into(&mut self.gotoolchain);
        self
    }

    /// Whether `-mod=mod` is in effect (`GOFLAGS=-mod=mod`): go.mod may be updated in memory (nothing is
    /// written), and `go list -m` refuses workspaces. `false` is `GOFLAGS=-mod=readonly`: `go list -m`
    /// fails with "updates to go.mod needed" where `-mod=mod` would change the requirements. (`go mod
    /// graph` always runs as with `-mod=mod`.)
    #[must_use]
    pub fn mod_mod(mut self, on: bool) -> Options {
        self.mod_mod = on;
        self.mod_flag = Some(if on { "mod" } else { "readonly" }.to_owned());
        self
    }

    /// Which go.work applies.
    #[must_use]
    pub fn go_work(mut self, go_work: GoWork) -> Options {
        self.go_work = go_work;
        self
    }

    /// How many go.mod / `.info` fetches run at once (at least 1).
    #[must_use]
    pub fn jobs(mut self, jobs: usize) -> Options {
        self.jobs = jobs.max(1);
        self
    }
}

// GOROOT/VERSION's first line is `go1.27.3`.
fn running_go_version() -> Option<String> {
    let goroot = match std::env::var_os("GOROOT") {
        Some(g) if !g.is_empty() => PathBuf::from(g),
        _ => {
            let path = std::env::var_os("PATH")?;
            let go = std::env::split_paths(&path)
                .map(|d| d.join("go"))
                .find(|p| p.is_file())?;
            std::fs::canonicalize(go)
                .ok()?
                .parent()?
                .parent()?
                .to_path_buf()
        }
    };
    let text = std::fs::read_to_string(goroot.join("VERSION")).ok()?;
    let v = text.lines().next()?.strip_prefix("go")?;
    version::is_valid_go(v).then(|| v.to_owned())
}

/// Which command's behaviour to follow where `go list -m` and `go mod graph` differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Command {
    List,
    Graph,
}

/// An error about one module version, worded as cmd/go words it (`example.com/a@v1.0.0: reading …`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ModError {
    /// An error about `path@version`.
    #[error("{}: {message}", Mv::new(path, version))]
    Module {
        /// The module path.
        path: String,
        /// The version (empty for a directory replacement).
        version: String,
        /// What went wrong.
        message: String,
    },
    /// An error that names its module itself.
    #[error("{message}")]
    Other {
        /// The whole text.
        message: String,
    },
}

impl ModError {
    fn module(m: &Mv, message: impl Into<String>) -> ModError {
        ModError::Module {
            path: m.path.to_string(),
            version: m.version.to_string(),
            message: message.into(),
        }
    }
}

/// Why the build list or graph cannot be computed. Texts are cmd/go's (without its `go: ` prefix).
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No go.mod in the directory or its parents.
    #[error(
        "go.mod file not found in current directory or any parent directory; see 'go help modules'"
    )]
    NoGoMod,
    /// A go.mod or go.work file that cannot be read.
    #[error("reading {}: {message}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        message: String,
    },
    /// A main go.mod or go.work that does not parse.
    #[error("errors parsing {}:\n{error}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's errors (they carry file, line and column).
        error: Box<crate::modfile::Error>,
    },
    /// A main go.mod without a module line.
    #[error("error reading {}: missing module declaration. To specify the module path:\n\tgo mod edit -module=example.com/mod", path.display())]
    NoModuleLine {
        /// The file.
        path: PathBuf,
    },
    /// One go.mod or go.work replacing the same module version two ways.
    #[error("conflicting replacements for {old}:\n\t{first}\n\t{second}")]
    ConflictingReplacements {
        /// What is replaced.
        old: Mv,
        /// The first replacement.
        first: Mv,
        /// The other one.
        second: Mv,
    },
    /// Two workspace modules replacing the same module version differently.
    #[error(
        "conflicting replacements for {old}:\n\t{first}\n\t{second}\nuse \"go work edit -replace {old}=[override]\" to resolve"
    )]
    ConflictingWorkspaceReplacements {
        /// What is replaced.
        old: Mv,
        /// The first module's replacement.
        first: Mv,
        /// The other module's.
        second: Mv,
    },
    /// A go.mod or go.work needing a newer Go than the running one.
    #[error(
        "{what} requires go >= {go_version} (running go {running}{})",
        toolchain_note(gotoolchain)
    )]
    TooNew {
        /// What needs it: `go.mod`, `module example.com/a@v1.0.0`.
        what: String,
        /// The go line.
        go_version: String,
        /// The running Go version.
        running: String,
        /// The GOTOOLCHAIN setting.
        gotoolchain: String,
    },
    /// A workspace module at a newer go than the go.work.
    #[error(
        "module {module_dir} listed in go.work file requires go >= {go_version}, but go.work {} go {work_go}; to download and use go {go_version}:\n\tgo work use",
        if *implicit { "implicitly requires" } else { "lists" }
    )]
    WorkTooOld {
        /// The module directory, relative to the working directory.
        module_dir: String,
        /// The module's go line.
        go_version: String,
        /// The go.work's go version.
        work_go: String,
        /// Whether the go.work has no go line.
        implicit: bool,
    },
    /// A `godebug` line (or a repeated `use`) go refuses: `error loading go.mod:\nFILE:LINE: MESSAGE`.
    #[error("error loading {what}:\n{file}:{line}: {message}")]
    Loading {
        /// `go.mod` or `go.work`.
        what: String,
        /// The file, relative to the working directory when shorter.
        file: String,
        /// The offending line.
        line: usize,
        /// What is wrong (go's text).
        message: String,
    },
    /// A main module whose path is not a valid module path.
    #[error("{error}")]
    ModulePath {
        /// The path check's error.
        error: crate::module::Error,
    },
    /// A workspace module whose go.mod cannot be read or parsed.
    #[error("cannot load module {module_dir} listed in go.work file: {message}")]
    WorkModule {
        /// The module directory, relative to the working directory.
        module_dir: String,
        /// Why (go's text, paths shortened).
        message: String,
    },
    /// Several errors go reports together (`errors.Join`); a [`Failure`] lists them one by one.
    #[error("{}", errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Joined {
        /// The errors, in go's order.
        errors: Vec<Error>,
    },
    /// `go list -m` in a workspace with `-mod=mod`.
    #[error(
        "-mod may only be set to readonly or vendor when in workspace mode, but it is set to \"mod\"\n\tRemove the -mod flag to use the default readonly value, \n\tor set GOWORK=off to disable workspace mode."
    )]
    WorkspaceModMod,
    /// `-mod=readonly` (the default outside workspaces) and go.mod's requirements are not consistent.
    #[error(
        "updates to go.mod needed{}; to update it:\n\tgo mod tidy",
        flag.as_ref().map(|f| format!(", disabled by -mod={f}")).unwrap_or_default()
    )]
    GoModDirty {
        /// The -mod value when it was given explicitly.
        flag: Option<String>,
    },
    /// A module version in the graph whose go.mod cannot be loaded, with the requirement path to it.
    #[error("{}", render_build_list(stack, error))]
    BuildList {
        /// The shortest requirement path from a root to the failing module.
        stack: Vec<Mv>,
        /// What failed.
        error: ModError,
    },
    /// A listed module whose version cannot be confirmed (`.info` missing).
    #[error("{error}")]
    Module {
        /// What failed.
        error: ModError,
    },
}

impl Error {
    fn build_list(stack: Vec<Mv>, error: ModError) -> Error {
        Error::BuildList { stack, error }
    }
}

fn toolchain_note(gotoolchain: &str) -> String {
    if gotoolchain.is_empty() || gotoolchain == "auto" {
        String::new()
    } else {
        format!("; GOTOOLCHAIN={gotoolchain}")
    }
}

// mvs.BuildListError: the chain of requirements (leading versionless main modules dropped), then the
// failing module's error, naming its replacement when the failure was in the replacement.
fn render_build_list(stack: &[Mv], error: &ModError) -> String {
    use std::fmt::Write as _;
    let stack: Vec<&Mv> = stack.iter().skip_while(|m| m.version.is_empty()).collect();
    let Some((last, chain)) = stack.split_last() else {
        return error.to_string();
    };
    let mut out = String::new();
    for m in chain {
        let _ = write!(out, "{m} requires\n\t");
    }
    let _ = match error {
        ModError::Module {
            path,
            version,
            message,
        } => {
            if *path == *last.path && *version == *last.version {
                write!(out, "{error}")
            } else {
                write!(
                    out,
                    "{last} (replaced by {}): {message}",
                    Mv::new(path, version)
                )
            }
        }
        ModError::Other { message } => write!(out, "{last}: {message}"),
    };
    out
}

/// A failed computation: go's warnings printed before, then one or more errors (go prints each as
/// `go: ERROR`).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}", self.errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
pub struct Failure {
    /// Warnings (`go: dropping requirement on excluded version …`), as go prints them.
    pub warnings: Vec<String>,
    /// The errors, in the order go reports them.
    pub errors: Vec<Error>,
}

impl From<Error> for Failure {
    fn from(e: Error) -> Failure {
        // go prints each joined error on its own `go: ` line.
        let errors = match e {
            Error::Joined { errors } => errors,
            e => vec![e],
        };
        Failure {
            warnings: Vec::new(),
            errors,
        }
    }
}

/// One line of `go list -m all`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedModule {
    /// The module path.
    pub path: String,
    /// The selected version; empty for a main module.
    pub version: String,
    /// Where the module's contents come from instead, if it is replaced (the version is empty for a
    /// directory).
    pub replace: Option<Mv>,
}

impl ListedModule {
    /// Whether this is a main module (it has no version).
    pub fn is_main(&self) -> bool {
        self.version.is_empty()
    }
}

/// The build list: `go list -m all` (its `Display` is that command's output, byte for byte).
#[derive(Debug, Clone)]
pub struct ModuleList {
    /// The main module(s), then every selected module sorted by path.
    pub modules: Vec<ListedModule>,
    /// What go would print on stderr before the list.
    pub warnings: Vec<String>,
}

impl fmt::Display for ModuleList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for m in &self.modules {
            f.write_str(&m.path)?;
            if !m.version.is_empty() {
                f.write_str(" ")?;
                f.write_str(&m.version)?;
            }
            if let Some(r) = &m.replace {
                f.write_str(" => ")?;
                f.write_str(&r.path)?;
                if !r.version.is_empty() {
                    f.write_str(" ")?;
                    f.write_str(&r.version)?;
                }
            }
            f.write_str("\n")?;
        }
        Ok(())
    }
}

/// The requirement graph: `go mod graph` (its `Display` is that command's output, byte for byte).
#[derive(Debug, Clone)]
pub struct ModuleGraph {
    /// Requirement edges, in cmd/go's order: modules breadth first from the roots, each with its
    /// requirements in go.mod order.
    pub edges: Vec<(Mv, Mv)>,
    /// What go would print on stderr before the graph.
    pub warnings: Vec<String>,
    /// Whether one of `warnings` is an error go carried on after: it prints the graph all the same but
    /// exits with status 1.
    pub failed: bool,
}

impl fmt::Display for ModuleGraph {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (from, to) in &self.edges {
            fmt::Display::fmt(from, f)?;
            f.write_str(" ")?;
            fmt::Display::fmt(to, f)?;
            f.write_str("\n")?;
        }
        Ok(())
    }
}

/// `go list -m all` in `dir`.
pub fn list(
    dir: &Path,
    source: &dyn ModuleSource,
    options: &Options,
) -> Result<ModuleList, Failure> {
    // go checks the -mod flag against workspace mode before it reads any go.mod.
    if options.mod_mod && load::work_file(&load::absolute(dir)?, options).is_some() {
        return Err(Error::WorkspaceModMod.into());
    }
    let mut loader = Loader::new(dir, source, options, Command::List)?;
    // The whole computation runs on the fetch pool, so that each wave's parallel fetch is shared with
    // the current thread instead of being handed over (and waited for) wave after wave.
    let pool = loader.take_pool();
    run_in(pool.as_ref(), move || list_in(loader))
}

fn run_in<T: Send>(pool: Option<&rayon::ThreadPool>, f: impl FnOnce() -> T + Send) -> T {
    match pool {
        Some(pool) => pool.install(f),
        None => f(),
    }
}

impl Loader<'_> {
    /// The failure to report: `errors`, with the warnings printed before them.
    fn fail(self, errors: Vec<Error>) -> Failure {
        Failure {
            warnings: self.warnings,
            errors,
        }
    }
}

fn list_in(mut loader: Loader<'_>) -> Result<ModuleList, Failure> {
    let rs = match loader.requirements() {
        Ok(rs) => rs,
        Err(e) => return Err(loader.fail(vec![e])),
    };
    let (g, graph_err) = loader.expand_graph(&rs);
    let build_list = g.build_list();
    let mut modules = Vec::with_capacity(build_list.len());
    let mut to_stat = Vec::new();
    for m in &build_list {
        if graph::is_toolchain(&m.path) {
            continue;
        }
        // Main modules are the versionless entries; in a workspace the build list is sorted by path, so
        // they need not come first.
        if m.version.is_empty() {
            modules.push(ListedModule {
                path: m.path.to_string(),
                version: String::new(),
                replace: None,
            });
            continue;
        }
        let replace = loader.replacement(m).map(|r| r.target.clone());
        // go confirms each version with a query (the proxy's .info). For replaced modules the query goes
        // through the replacement-aware repository, which go was not seen to fail, so none is made.
        if replace.is_none() {
            to_stat.push(m.clone());
        }
        modules.push(ListedModule {
            path: m.path.to_string(),
            version: m.version.to_string(),
            replace,
        });
    }
    let stats: Vec<_> = loader.in_pool(|| to_stat.par_iter().map(|m| loader.stat(m)).collect());
    let mut errors: Vec<Error> = stats
        .into_iter()
        .filter_map(std::result::Result::err)
        .map(|error| Error::Module { error })
        .collect();
    errors.extend(graph_err);
    // `go list` exits before printing when any error was reported, even one go carried on after.
    if !errors.is_empty() || loader.errored {
        return Err(loader.fail(errors));
    }
    Ok(ModuleList {
        modules,
        warnings: loader.warnings,
    })
}

/// `go mod graph` in `dir`.
pub fn graph(
    dir: &Path,
    source: &dyn ModuleSource,
    options: &Options,
) -> Result<ModuleGraph, Failure> {
    let mut loader = Loader::new(dir, source, options, Command::Graph)?;
    let pool = loader.take_pool();
    run_in(pool.as_ref(), move || graph_in(loader))
}

fn graph_in(mut loader: Loader<'_>) -> Result<ModuleGraph, Failure> {
    let rs = match loader.requirements() {
        Ok(rs) => rs,
        Err(e) => return Err(loader.fail(vec![e])),
    };
    let (g, err) = loader.expand_graph(&rs);
    if let Some(e) = err {
        return Err(loader.fail(vec![e]));
    }
    let mut edges = Vec::new();
    g.walk_breadth_first(|m| {
        for r in g.required_by(m).unwrap_or_default() {
            edges.push((m.clone(), r.clone()));
        }
    });
    Ok(ModuleGraph {
        edges,
        failed: loader.errored,
        warnings: loader.warnings,
    })
}

/// A selected version its author retracted (in the go.mod of the module's latest version).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retraction {
    /// The module path.
    pub path: String,
    /// The selected, retracted version.
    pub version: String,
    /// The author's rationale (may be empty).
    pub rationale: String,
}

/// A module whose latest go.mod carries a `// Deprecated:` comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deprecation {
    /// The module path.
    pub path: String,
    /// The deprecation message.
    pub message: String,
}

/// Retractions and deprecations of the listed (non-main, not replaced) modules, read from each module's
/// latest version's go.mod as `go list -m -retracted` / `-u` do: latest is the highest release listed by
/// the source, else the highest pre-release, else the selected version itself.
pub fn retractions_and_deprecations(
    list: &ModuleList,
    source: &dyn ModuleSource,
) -> (Vec<Retraction>, Vec<Deprecation>) {
    let found: Vec<(Vec<Retraction>, Option<Deprecation>)> = list
        .modules
        .par_iter()
        .filter(|m| !m.is_main() && m.replace.is_none())
        .map(|m| {
            let versions = source.list(&m.path).unwrap_or_default();
            let pick = |pre: bool| {
                versions
                    .iter()
                    .filter(|v| {
                        version::is_valid(v)
                            && version::prerelease(v).is_some_and(|p| !p.is_empty()) == pre
                    })
                    .max_by(|a, b| version::compare(a, b))
                    .cloned()
            };
            let latest = pick(false)
                .or_else(|| pick(true))
                .unwrap_or_else(|| m.version.clone());
            let Ok(data) = source.go_mod(&m.path, &latest) else {
                return (Vec::new(), None);
            };
            let Ok(f) =
                crate::modfile::ModFile::parse_lax("go.mod", &String::from_utf8_lossy(&data))
            else {
                return (Vec::new(), None);
            };
            let retractions = f
                .retract
                .iter()
                .filter(|r| {
                    version::compare(&r.interval.low, &m.version).is_le()
                        && version::compare(&m.version, &r.interval.high).is_le()
                })
                .map(|r| Retraction {
                    path: m.path.clone(),
                    version: m.version.clone(),
                    rationale: r.rationale.clone(),
                })
                .collect();
            let deprecation = f
                .module
                .as_ref()
                .filter(|x| !x.deprecated.is_empty())
                .map(|x| Deprecation {
                    path: m.path.clone(),
                    message: x.deprecated.clone(),
                });
            (retractions, deprecation)
        })
        .collect();
    let mut retractions = Vec::new();
    let mut deprecations = Vec::new();
    for (r, d) in found {
        retractions.extend(r);
        deprecations.extend(d);
    }
    (retractions, deprecations)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_list_errors_read_as_go_prints_them() {
        let stack = vec![
            Mv::new("m", ""),
            Mv::new("a", "v1.0.0"),
            Mv::new("b", "v1.9.0"),
        ];
        let e = Error::build_list(
            stack.clone(),
            ModError::module(&Mv::new("b", "v1.9.0"), "reading x: gone"),
        );
        assert_eq!(
            e.to_string(),
            "a@v1.0.0 requires\n\tb@v1.9.0: reading x: gone"
        );
        let e = Error::build_list(
            stack.clone(),
            ModError::module(&Mv::new("c", "v2.0.0"), "reading y: gone"),
        );
        assert_eq!(
            e.to_string(),
            "a@v1.0.0 requires\n\tb@v1.9.0 (replaced by c@v2.0.0): reading y: gone"
        );
        let e = Error::build_list(
            stack,
            ModError::Other {
                message: "too new".into(),
            },
        );
        assert_eq!(e.to_string(), "a@v1.0.0 requires\n\tb@v1.9.0: too new");
        let e = Error::TooNew {
            what: "go.mod".into(),
            go_version: "1.99".into(),
            running: "1.27.3".into(),
            gotoolchain: "local".into(),
        };
        assert_eq!(
            e.to_string(),
            "go.mod requires go >= 1.99 (running go 1.27.3; GOTOOLCHAIN=local)"
        );
    }
}
