//! Reading the main module(s) and loading the requirement graph as cmd/go's modload does: roots from
//! go.mod or go.work, go.mod summaries of dependencies (replacements, excludes, go lines), pruned,
//! unpruned and workspace graph loading, and the root updates `-mod=mod` makes before listing.

use std::collections::BTreeSet;

use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use super::graph::{Graph, Mv, NONE, is_toolchain, mod_compare, mod_sort};
use super::{Command, Error, GoWork, ModError, Options, Result, godebug};
use crate::modfile::{self, LaxRef, ModFile, WorkFile};
use crate::source::{self, ModuleSource};
use crate::version;

/// Below this go version a module's go.mod does not list its transitive requirements (no pruning).
const EXPLICIT_INDIRECT_VERSION: &str = "1.17";
/// From this go version on, go lines are requirements on the `go` pseudo-module.
const GO_STRICT_VERSION: &str = "1.21";
/// The go version of a go.mod without a go line.
const DEFAULT_GO_MOD_VERSION: &str = "1.16";
/// The go version of a go.work without a go line.
const DEFAULT_GO_WORK_VERSION: &str = "1.18";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Pruning {
    Pruned,
    Unpruned,
    Workspace,
}

fn pruning_for(go: &str) -> Pruning {
    if version::compare_go(go, EXPLICIT_INDIRECT_VERSION).is_lt() {
        Pruning::Unpruned
    } else {
        Pruning::Pruned
    }
}

/// What a go.mod says that the graph needs.
#[derive(Debug, Clone)]
pub(crate) struct Summary {
    pub(crate) module: Box<str>,
    pub(crate) pruning: Pruning,
    pub(crate) require: Arc<[Mv]>,
}

#[derive(Debug)]
struct MainModule {
    mv: Mv,
    root: PathBuf,
    file: ModFile,
    go_mod_path: PathBuf,
}

/// Where a replacement points, and where its go.mod lives when it is a directory.
#[derive(Debug, Clone)]
pub(crate) struct Replacement {
    pub(crate) target: Mv,
    pub(crate) dir: Option<PathBuf>,
}

/// A set of roots, as modload's `Requirements`.
#[derive(Debug, Clone)]
pub(crate) struct Reqs {
    pub(crate) pruning: Pruning,
    pub(crate) roots: Vec<Mv>,
    max_root: HashMap<Arc<str>, Arc<str>>,
    direct: HashSet<String>,
}

impl Reqs {
    fn new(pruning: Pruning, roots: Vec<Mv>, direct: HashSet<String>) -> Reqs {
        let mut max_root: HashMap<Arc<str>, Arc<str>> = HashMap::new();
        for m in &roots {
            let keep = max_root
                .get(&m.path)
                .is_some_and(|v| mod_compare(&m.path, v, &m.version).is_ge());
            if !keep {
                max_root.insert(m.path.clone(), m.version.clone());
            }
        }
        Reqs {
            pruning,
            roots,
            max_root,
            direct,
        }
    }
}

/// A loaded summary, or why it could not be loaded (shared: the maps holding these stay small).
type Loaded = HashMap<Mv, std::result::Result<Arc<Summary>, Arc<ModError>>>;

/// What the parallel graph traversal shares: the (module, pruning) pairs queued so far, the summaries
/// loaded, and the order they were loaded in.
struct Traversal {
    loading: HashSet<(Mv, Pruning)>,
    loaded: Loaded,
    order: Vec<(Mv, Arc<Summary>)>,
}

/// What summaries share: interned strings, and what each go line means.
#[derive(Default)]
struct Shared {
    strings: HashSet<Arc<str>>,
    go_lines: HashMap<Box<str>, GoLine>,
}

/// What a dependency's go line means for the graph.
#[derive(Clone, Copy)]
struct GoLine {
    pruning: Pruning,
    /// Go >= 1.21: the go line is a requirement on `go`.
    strict: bool,
    /// Newer than the running go (only when `strict`).
    too_new: bool,
}

impl Shared {
    fn intern(&mut self, s: &str) -> Arc<str> {
        if let Some(shared) = self.strings.get(s) {
            return shared.clone();
        }
        let shared: Arc<str> = Arc::from(s);
        self.strings.insert(shared.clone());
        shared
    }

    /// The meaning of go line `go` (empty when there is none) under a running go of `running`.
    fn go_line(&mut self, go: &str, running: &str) -> GoLine {
        if let Some(known) = self.go_lines.get(go) {
            return *known;
        }
        let line = if go.is_empty() {
            GoLine {
                pruning: Pruning::Unpruned,
                strict: false,
                too_new: false,
            }
        } else {
            let strict = version::compare_go(go, GO_STRICT_VERSION).is_ge();
            GoLine {
                pruning: pruning_for(go),
                strict,
                too_new: strict && version::compare_go(go, running).is_gt(),
            }
        };
        self.go_lines.insert(go.into(), line);
        line
    }
}

/// The loader of one main module or workspace.
pub(crate) struct Loader<'a> {
    source: &'a dyn ModuleSource,
    options: Options,
    command: Command,
    /// The directory commands run in (`-C`).
    cwd: PathBuf,
    mains: Vec<MainModule>,
    work: Option<(PathBuf, WorkFile)>,
    work_replace: HashMap<Mv, Replacement>,
    mod_replace: HashMap<Mv, Replacement>,
    excludes: HashSet<Mv>,
    raw: Mutex<Loaded>,
    /// One shared copy of each path and version the summaries name: thousands of requirements name the
    /// same few hundred strings (and go lines, the same few versions).
    shared: Mutex<Shared>,
    pub(crate) warnings: Vec<String>,
    /// Whether go reported an error among `warnings` without stopping (`base.Errorf`): the command goes
    /// on but exits with status 1.
    pub(crate) errored: bool,
    // Fetches run here (more threads than cores: they wait on I/O); `None` if it could not be built.
    pool: Option<rayon::ThreadPool>,
}

impl<'a> Loader<'a> {
    pub(crate) fn new(
        dir: &Path,
        source: &'a dyn ModuleSource,
        options: &Options,
        command: Command,
    ) -> Result<Loader<'a>> {
        let cwd = absolute(dir)?;
        let mut loader = Loader {
            source,
            options: options.clone(),
            command,
            cwd: cwd.clone(),
            mains: Vec::new(),
            work: None,
            work_replace: HashMap::new(),
            mod_replace: HashMap::new(),
            excludes: HashSet::new(),
            raw: Mutex::new(HashMap::new()),
            shared: Mutex::new(Shared::default()),
            warnings: Vec::new(),
            errored: false,
            pool: fetch_pool(fetch_threads(source, options.jobs)),
        };
        if let Some(path) = work_file(&cwd, options) {
            loader.load_work(&path)?;
        } else {
            let Some(root) =
                find_upwards(&cwd, "go.mod").and_then(|p| p.parent().map(Path::to_path_buf))
            else {
                return Err(Error::NoGoMod);
            };
            loader.load_main(&root)?;
            let main = &loader.mains[0];
            // modload.loadModFile outside a workspace: the godebug lines (every bad one reported), then
            // indexModFile's toReplaceMap (fatal at once), then the module path.
            let errors: Vec<Error> = main
                .file
                .godebug
                .iter()
                .filter_map(|g| {
                    godebug::check("godebug", &g.key, &g.value, &options.go_version)
                        .err()
                        .map(|message| Error::Loading {
                            what: "go.mod".to_owned(),
                            file: short_path(&cwd, &main.go_mod_path),
                            line: main.file.syntax.line(g.syntax).start.line,
                            message,
                        })
                })
                .collect();
            if !errors.is_empty() {
                return Err(Error::Joined { errors });
            }
            check_replace_conflicts(&main.file.replace)?;
            check_module_path(&main.mv.path)?;
        }
        loader.index_replacements()?;
        Ok(loader)
    }

    fn load_main(&mut self, root: &Path) -> Result<()> {
        let go_mod_path = root.join("go.mod");
        let src = std::fs::read(&go_mod_path).map_err(|e| Error::Read {
            path: go_mod_path.clone(),
            message: io_message(&e),
        })?;
        // cmd/go names the file (and its errors' positions) by `base.ShortPath`.
        let name = short_path(&self.cwd, &go_mod_path);
        let text = String::from_utf8_lossy(&src);
        // modload.ReadModFile parses with fixVersion: versions that are not canonical are queried.
        let source = self.source;
        let fix = |path: &str, vers: &str| super::query::fix_version(source, path, vers);
        let file = match ModFile::parse_with_fixer(&name, &text, &fix) {
            Ok(file) => file,
            Err(error) => {
                // modload.ReadModFile: a file that only parses laxly but needs a newer go is reported as
                // too new (a newer toolchain may understand it) rather than as a syntax error. The lax
                // parse has the fixer too: a query that fails fails it as well.
                if let Ok(lax) = ModFile::parse_lax_with_fixer(&name, &text, &fix)
                    && let Some(e) = self.too_new(&name, lax.go.as_ref())
                {
                    return Err(e);
                }
                return Err(Error::Parse {
                    path: PathBuf::from(&name),
                    error: Box::new(error),
                });
            }
        };
        // ReadModFile: too new before anything else about the content.
        if let Some(e) = self.too_new(&name, file.go.as_ref()) {
            return Err(e);
        }
        let Some(module) = &file.module else {
            return Err(Error::NoModuleLine {
                path: PathBuf::from(name),
            });
        };
        for e in &file.exclude {
            self.excludes
                .insert(Mv::new(&e.module.path, &e.module.version));
        }
        self.mains.push(MainModule {
            mv: Mv::new(&module.path, ""),
            root: root.to_path_buf(),
            file,
            go_mod_path,
        });
        Ok(())
    }

    /// go's "requires go >= …" error when the go line of `what` is newer than the running Go.
    fn too_new(&self, what: &str, go: Option<&crate::modfile::GoStmt>) -> Option<Error> {
        let go = go?;
        version::compare_go(&go.version, &self.options.go_version)
            .is_gt()
            .then(|| Error::TooNew {
                what: what.to_owned(),
                go_version: go.version.clone(),
                running: self.options.go_version.clone(),
                gotoolchain: self.options.gotoolchain.clone(),
            })
    }

    fn load_work(&mut self, path: &Path) -> Result<()> {
        let src = std::fs::read(path).map_err(|e| Error::Read {
            path: path.to_path_buf(),
            message: io_message(&e),
        })?;
        // modload.ReadWorkFile: positions by `base.ShortPath`, the header always says `go.work`.
        let name = short_path(&self.cwd, path);
        let work = WorkFile::parse(&name, &String::from_utf8_lossy(&src)).map_err(|error| {
            Error::Parse {
                path: PathBuf::from("go.work"),
                error: Box::new(error),
            }
        })?;
        let work_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let work_go = work
            .go
            .as_ref()
            .map_or(DEFAULT_GO_WORK_VERSION.to_owned(), |g| g.version.clone());
        if version::compare_go(&work_go, &self.options.go_version).is_gt() {
            return Err(Error::TooNew {
                what: short_path(&self.cwd, path),
                go_version: work_go,
                running: self.options.go_version.clone(),
                gotoolchain: self.options.gotoolchain.clone(),
            });
        }
        // modload.LoadWorkFile: a directory used twice, then the godebug lines (the first bad one).
        let mut seen = HashSet::new();
        for u in &work.uses {
            let root = clean_join(&work_dir, Path::new(&u.path));
            if !seen.insert(root.clone()) {
                return Err(Error::Loading {
                    what: "go.work".to_owned(),
                    file: name,
                    line: work.syntax.line(u.syntax).start.line,
                    message: format!(
                        "path {} appears multiple times in workspace",
                        root.display()
                    ),
                });
            }
        }
        for g in &work.godebug {
            if let Err(message) =
                godebug::check("godebug", &g.key, &g.value, &self.options.go_version)
            {
                return Err(Error::Loading {
                    what: "go.work".to_owned(),
                    file: name,
                    line: work.syntax.line(g.syntax).start.line,
                    message,
                });
            }
        }
        // modload.loadModFile reports every workspace module that fails, not only the first.
        let mut errors = Vec::new();
        for u in &work.uses {
            let root = clean_join(&work_dir, Path::new(&u.path));
            let module_dir = short_path(&self.cwd, &root);
            let too_old = |go_version: String| Error::WorkTooOld {
                module_dir: module_dir.clone(),
                go_version,
                work_go: work_go.clone(),
                implicit: work.go.is_none(),
            };
            match self.load_main(&root) {
                Ok(()) => {}
                Err(Error::TooNew { go_version, .. }) => {
                    errors.push(too_old(go_version));
                    continue;
                }
                Err(error) => {
                    let message = match error {
                        // fsys.ReadFile's error, its path shortened by base.ShortPathError.
                        Error::Read { path, message } => {
                            format!("open {}: {message}", short_path(&self.cwd, &path))
                        }
                        other => other.to_string(),
                    };
                    errors.push(Error::WorkModule {
                        module_dir,
                        message,
                    });
                    continue;
                }
            }
            let main = self.mains.last().expect("load_main pushed a main module");
            let mv = main.go_version();
            if version::compare_go(&mv, &work_go).is_gt()
                && version::compare_go(&mv, GO_STRICT_VERSION).is_ge()
            {
                errors.push(too_old(mv));
                continue;
            }
            // indexModFile runs for a module that passed the checks above, and its conflict is fatal at
            // once (errors gathered so far are not printed).
            check_replace_conflicts(&main.file.replace)?;
            if let Err(e) = check_module_path(&main.mv.path) {
                errors.push(e);
            }
        }
        if !errors.is_empty() {
            return Err(Error::Joined { errors });
        }
        // makeMainModules: the go.work's own replacements, then those across modules (index_replacements).
        check_replace_conflicts(&work.replace)?;
        self.work = Some((work_dir, work));
        Ok(())
    }

    // cmd/go's makeMainModules: the go.work replacements, then each main module's (relative directories in
    // a workspace are made absolute, as each is relative to its own go.mod).
    fn index_replacements(&mut self) -> Result<()> {
        let mut replaced_by_work: HashSet<String> = HashSet::new();
        // What each replaced module version was first replaced by (directories made absolute, as go
        // compares them), to refuse two workspace modules replacing it differently.
        let mut first: HashMap<Mv, Mv> = HashMap::new();
        if let Some((work_dir, work)) = &self.work {
            // makeMainModules reports these with base.Errorf: printed at once, go carries on.
            let mut main_paths = HashSet::new();
            let mut reported = Vec::new();
            for m in &self.mains {
                if !main_paths.insert(m.mv.path.clone()) {
                    reported.push(format!(
                        "go: module {} appears multiple times in workspace",
                        m.mv.path
                    ));
                }
            }
            for r in &work.replace {
                if r.old.version.is_empty() && main_paths.contains(&*r.old.path) {
                    reported.push(format!(
                        "go: workspace module {} is replaced at all versions in the go.work file. To fix, remove the replacement from the go.work file or specify the version at which to replace the module.",
                        r.old.path
                    ));
                }
            }
            self.errored |= !reported.is_empty();
            self.warnings.extend(reported);
            for r in &work.replace {
                replaced_by_work.insert(r.old.path.clone());
                let dir = r
                    .new
                    .version
                    .is_empty()
                    .then(|| clean_join(work_dir, Path::new(&r.new.path)));
                self.work_replace.insert(
                    Mv::new(&r.old.path, &r.old.version),
                    Replacement {
                        target: Mv::new(&r.new.path, &r.new.version),
                        dir,
                    },
                );
            }
        }
        let work_dir = self.work.as_ref().map(|(d, _)| d.clone());
        for main in &self.mains {
            let mut own: HashSet<Mv> = HashSet::new();
            for r in &main.file.replace {
                if replaced_by_work.contains(&r.old.path) {
                    continue;
                }
                if work_dir.is_some() {
                    let old = Mv::new(&r.old.path, &r.old.version);
                    let new = if r.new.version.is_empty() && !Path::new(&r.new.path).is_absolute() {
                        let abs = clean_join(&main.root, Path::new(&r.new.path));
                        Mv::new(&abs.to_string_lossy(), "")
                    } else {
                        Mv::new(&r.new.path, &r.new.version)
                    };
                    if let Some(prev) = first.get(&old)
                        && !own.contains(&old)
                        && *prev != new
                    {
                        return Err(Error::ConflictingWorkspaceReplacements {
                            first: prev.clone(),
                            old,
                            second: new,
                        });
                    }
                    own.insert(old.clone());
                    first.insert(old, new);
                }
                let mut target = Mv::new(&r.new.path, &r.new.version);
                let mut dir = None;
                if r.new.version.is_empty() {
                    let abs = clean_join(&main.root, Path::new(&r.new.path));
                    // In a workspace go names a module's relative directory replacement relative to the
                    // go.work directory (modload's canonicalizeReplacePath).
                    if let Some(work_dir) = &work_dir
                        && !Path::new(&r.new.path).is_absolute()
                    {
                        let shown = relative(work_dir, &abs).map_or_else(
                            || abs.to_string_lossy().into_owned(),
                            |p| to_directory_path(&p),
                        );
                        target = Mv::new(&shown, "");
                    }
                    dir = Some(abs);
                }
                self.mod_replace.insert(
                    Mv::new(&r.old.path, &r.old.version),
                    Replacement { target, dir },
                );
            }
        }
        Ok(())
    }

    /// Hands the fetch pool to the caller (who runs the whole load in it; `in_pool` then runs inline).
    pub(crate) fn take_pool(&mut self) -> Option<rayon::ThreadPool> {
        self.pool.take()
    }

    /// Runs `f` (which uses rayon's parallel iterators) on the fetch pool.
    pub(crate) fn in_pool<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        match &self.pool {
            Some(pool) => pool.install(f),
            None => f(),
        }
    }

    // cfg.BuildMod == "mod": `go mod graph` always runs so; `go list` as -mod says.
    fn build_mod_mod(&self) -> bool {
        self.command == Command::Graph || self.options.mod_mod
    }

    // modload's mustHaveCompleteRequirements: go.mod may not change.
    fn must_have_complete_requirements(&self) -> bool {
        !self.build_mod_mod() && !self.in_workspace()
    }

    fn dirty(&self) -> Error {
        Error::GoModDirty {
            flag: self.options.mod_flag.clone(),
        }
    }

    pub(crate) fn in_workspace(&self) -> bool {
        self.work.is_some()
    }

    fn is_main(&self, path: &str) -> bool {
        self.mains.iter().any(|m| &*m.mv.path == path)
    }

    /// The replacement for `m`, if any (modload's `Replacement`).
    pub(crate) fn replacement(&self, m: &Mv) -> Option<&Replacement> {
        if (m.version.is_empty() && self.is_main(&m.path))
            || (self.work_replace.is_empty() && self.mod_replace.is_empty())
        {
            return None;
        }
        let bare = Mv::new(&m.path, "");
        self.work_replace
            .get(m)
            .or_else(|| self.work_replace.get(&bare))
            .or_else(|| self.mod_replace.get(m))
            .or_else(|| self.mod_replace.get(&bare))
    }

    /// The initial requirements (modload's loadModFile for `go list -m` / `go mod graph`).
    pub(crate) fn requirements(&mut self) -> Result<Reqs> {
        if let Some((_, work)) = &self.work {
            let go = work
                .go
                .as_ref()
                .map_or(DEFAULT_GO_WORK_VERSION.to_owned(), |g| g.version.clone());
            let mut roots: Vec<Mv> = self.mains.iter().map(|m| m.mv.clone()).collect();
            roots.push(Mv::new("go", &go));
            if let Some(t) = &work.toolchain {
                roots.push(Mv::new("toolchain", &t.name));
            }
            mod_sort(&mut roots);
            let mut direct = HashSet::new();
            for main in &self.mains {
                for r in &main.file.require {
                    if !r.indirect {
                        direct.insert(r.module.path.clone());
                    }
                }
            }
            return Ok(Reqs::new(Pruning::Workspace, roots, direct));
        }
        let main = &self.mains[0];
        let mut roots = Vec::with_capacity(main.file.require.len() + 2);
        let mut direct: HashSet<String> = HashSet::new();
        let mut warnings = Vec::new();
        for r in &main.file.require {
            let m = Mv::new(&r.module.path, &r.module.version);
            if self.excludes.contains(&m) {
                let verb = if self.build_mod_mod() {
                    "dropping"
                } else {
                    "ignoring"
                };
                warnings.push(format!(
                    "go: {verb} requirement on excluded version {} {}",
                    m.path, m.version
                ));
                continue;
            }
            roots.push(m);
            if !r.indirect {
                direct.insert(r.module.path.clone());
            }
        }
        self.warnings.extend(warnings);
        let go = main.go_version();
        roots.push(Mv::new("go", &go));
        direct.insert("go".to_owned());
        if let Some(t) = &main.file.toolchain {
            roots.push(Mv::new("toolchain", &t.name));
        }
        mod_sort(&mut roots);
        let mut rs = Reqs::new(pruning_for(&go), roots, direct);
        if self.has_redundant_root(&rs) {
            rs = self.update_roots(&rs, None)?;
        }
        if main.file.go.is_none() && self.options.mod_mod && self.command == Command::List {
            // `go list` with -mod=mod adds the missing go line (the running version) and, that version
            // supporting pruning, converts the requirements to a pruned graph.
            let local = self.options.go_version.clone();
            let mut roots: Vec<Mv> = rs
                .roots
                .iter()
                .filter(|m| &*m.path != "go")
                .cloned()
                .collect();
            roots.push(Mv::new("go", &local));
            mod_sort(&mut roots);
            rs = Reqs::new(rs.pruning, roots, rs.direct.clone());
            if pruning_for(&local) == Pruning::Pruned {
                let (g, err) = self.read_graph(rs.pruning, &rs.roots);
                if let Some(err) = err {
                    return Err(err);
                }
                let list = g.build_list();
                rs = Reqs::new(
                    Pruning::Pruned,
                    list[self.mains.len()..].to_vec(),
                    rs.direct.clone(),
                );
            }
        }
        Ok(rs)
    }

    fn has_redundant_root(&self, rs: &Reqs) -> bool {
        rs.roots
            .iter()
            .enumerate()
            .any(|(i, m)| self.is_main(&m.path) || (i > 0 && rs.roots[i - 1].path == m.path))
    }

    /// modload's expandGraph: the graph of `rs`, and when some root is not selected, the graph of the
    /// updated roots. On error the (possibly incomplete) graph comes back too.
    pub(crate) fn expand_graph(&self, rs: &Reqs) -> (Graph, Option<Error>) {
        let (g, err) = self.read_graph(rs.pruning, &rs.roots);
        if err.is_some() {
            return (g, err);
        }
        if self.all_roots_selected(&g, rs) {
            return (g, None);
        }
        match self.update_roots(rs, Some(&g)) {
            Ok(new) => self.read_graph(new.pruning, &new.roots),
            Err(e) => (g, Some(e)),
        }
    }

    fn all_roots_selected(&self, g: &Graph, rs: &Reqs) -> bool {
        let roots: &[Mv] = if self.in_workspace() {
            return self
                .mains
                .iter()
                .all(|m| g.selected(&m.mv.path) == &*m.mv.version);
        } else {
            &rs.roots
        };
        roots.iter().all(|m| g.selected(&m.path) == &*m.version)
    }

    fn update_roots(&self, rs: &Reqs, graph: Option<&Graph>) -> Result<Reqs> {
        match rs.pruning {
            Pruning::Workspace => Ok(rs.clone()),
            Pruning::Pruned => self.update_pruned_roots(rs, graph),
            Pruning::Unpruned => self.update_unpruned_roots(rs, graph),
        }
    }

    // modload's updatePrunedRoots with no packages: raise every root to its selected version until the
    // roots are consistent (each raise may pull in requirements that were pruned out).
    fn update_pruned_roots(&self, rs: &Reqs, graph: Option<&Graph>) -> Result<Reqs> {
        let mut rs = rs.clone();
        let mut owned: Option<Graph> = None;
        let mut first = true;
        loop {
            let g: Option<&Graph> = if first { graph } else { owned.as_ref() };
            first = false;
            let mut roots = Vec::with_capacity(rs.roots.len());
            let mut upgraded = false;
            let mut seen: HashSet<&str> = self.mains.iter().map(|m| &*m.mv.path).collect();
            for m in &rs.roots {
                if !seen.insert(&m.path) {
                    continue;
                }
                let v: Arc<str> = match g {
                    Some(g) => Arc::from(g.selected(&m.path)),
                    None => rs
                        .max_root
                        .get(&m.path)
                        .cloned()
                        .unwrap_or_else(|| m.version.clone()),
                };
                if v != m.version {
                    upgraded = true;
                }
                roots.push(Mv {
                    path: m.path.clone(),
                    version: v,
                });
            }
            if !upgraded {
                if roots == rs.roots || !self.build_mod_mod() {
                    return Ok(rs);
                }
                return Ok(Reqs::new(Pruning::Pruned, roots, rs.direct.clone()));
            }
            if self.must_have_complete_requirements() {
                return Err(self.dirty());
            }
            rs = Reqs::new(Pruning::Pruned, roots, rs.direct.clone());
            let (g, err) = self.read_graph(Pruning::Pruned, &rs.roots);
            if let Some(err) = err {
                return Err(err);
            }
            owned = Some(g);
        }
    }

    // modload's updateUnprunedRoots: the minimal roots (mvs.Req) that keep the build list, keeping roots
    // that are selected and every direct requirement.
    fn update_unpruned_roots(&self, rs: &Reqs, graph: Option<&Graph>) -> Result<Reqs> {
        let loaded;
        let g = if let Some(g) = graph {
            g
        } else {
            let (g, err) = self.read_graph(rs.pruning, &rs.roots);
            if let Some(err) = err {
                return Err(err);
            }
            loaded = g;
            &loaded
        };
        if self.must_have_complete_requirements() {
            let consistent = rs.roots.iter().all(|m| g.selected(&m.path) == &*m.version)
                && rs
                    .direct
                    .iter()
                    .all(|p| rs.max_root.contains_key(p.as_str()) || self.is_main(p));
            return if consistent {
                Ok(rs.clone())
            } else {
                Err(self.dirty())
            };
        }
        let mut root_paths: Vec<Arc<str>> = Vec::new();
        let mut in_root: HashSet<Arc<str>> = HashSet::new();
        for r in &rs.roots {
            if !in_root.contains(&r.path) && g.selected(&r.path) == &*r.version {
                root_paths.push(r.path.clone());
                in_root.insert(r.path.clone());
            }
        }
        let keep: Vec<Mv> = g.build_list()[self.mains.len()..].to_vec();
        for m in &keep {
            if rs.direct.contains(&*m.path) && !in_root.contains(&m.path) {
                root_paths.push(m.path.clone());
                in_root.insert(m.path.clone());
            }
        }
        let mut roots = Vec::new();
        for main in &self.mains {
            roots.extend(self.mvs_req(&main.mv, &root_paths, &keep)?);
        }
        if roots == rs.roots {
            return Ok(rs.clone());
        }
        Ok(Reqs::new(Pruning::Unpruned, roots, rs.direct.clone()))
    }

    // mvs.Req: the minimal requirement list of `main` (which requires `keep`) that still selects the same
    // versions, listing every path in `base`.
    fn mvs_req(&self, main: &Mv, base: &[Arc<str>], keep: &[Mv]) -> Result<Vec<Mv>> {
        let required = |m: &Mv| -> Result<Vec<Mv>> {
            if m == main {
                return Ok(keep.to_vec());
            }
            if &*m.version == NONE {
                return Ok(Vec::new());
            }
            self.summary(m)
                .map(|s| s.require.to_vec())
                .map_err(|e| Error::build_list(vec![m.clone()], e))
        };
        // The full (unpruned) build list of main.
        let mut g = Graph::new(vec![main.clone()]);
        let mut queue = vec![main.clone()];
        let mut seen: HashSet<Mv> = std::iter::once(main.clone()).collect();
        while let Some(m) = queue.pop() {
            let reqs = required(&m)?;
            for r in &reqs {
                if seen.insert(r.clone()) {
                    queue.push(r.clone());
                }
            }
            g.require(&m, reqs);
        }
        let list = g.build_list();
        let max: HashMap<Arc<str>, Arc<str>> = list
            .iter()
            .map(|m| (m.path.clone(), m.version.clone()))
            .collect();

        // Postorder of the requirement graph below the build list (iterative, for deep chains).
        let mut req_cache: HashMap<Mv, Vec<Mv>> =
            std::iter::once((main.clone(), Vec::new())).collect();
        let mut postorder: Vec<Mv> = Vec::new();
        for start in &list {
            if req_cache.contains_key(start) {
                continue;
            }
            let mut stack: Vec<(Mv, usize)> = vec![(start.clone(), 0)];
            req_cache.insert(start.clone(), required(start)?);
            while let Some((m, i)) = stack.pop() {
                let next = req_cache.get(&m).and_then(|r| r.get(i)).cloned();
                if let Some(child) = next {
                    stack.push((m, i + 1));
                    if !req_cache.contains_key(&child) {
                        req_cache.insert(child.clone(), required(&child)?);
                        stack.push((child, 0));
                    }
                } else {
                    postorder.push(m);
                }
            }
        }
        let mut have: HashSet<Mv> = HashSet::new();
        let mark = |have: &mut HashSet<Mv>, m: &Mv| {
            let mut stack = vec![m.clone()];
            while let Some(m) = stack.pop() {
                if have.insert(m.clone()) {
                    stack.extend(req_cache.get(&m).into_iter().flatten().cloned());
                }
            }
        };
        let mut minimal = Vec::new();
        let mut have_base: HashSet<&str> = HashSet::new();
        for path in base {
            if !have_base.insert(path) {
                continue;
            }
            let m = Mv {
                path: path.clone(),
                version: max.get(path).cloned().unwrap_or_else(|| Arc::from(NONE)),
            };
            mark(&mut have, &m);
            minimal.push(m);
        }
        for m in postorder.iter().rev() {
            if max.get(&m.path) != Some(&m.version) {
                continue;
            }
            if !have.contains(m) {
                mark(&mut have, m);
                minimal.push(m.clone());
            }
        }
        minimal.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(minimal)
    }

    /// modload's readModGraph: loads go.mod summaries breadth first, in parallel, as the pruning allows.
    pub(crate) fn read_graph(&self, pruning: Pruning, roots: &[Mv]) -> (Graph, Option<Error>) {
        let graph_roots = if self.in_workspace() {
            roots.to_vec()
        } else {
            vec![self.mains[0].mv.clone()]
        };
        let mut g = Graph::new(graph_roots);
        if pruning != Pruning::Workspace {
            g.require(&self.mains[0].mv, roots.to_vec());
        }
        let mut loading: HashSet<(Mv, Pruning)> = HashSet::new();
        let mut loaded: Loaded = HashMap::new();
        let mut queue: Vec<(Mv, Pruning)> = Vec::new();
        for m in roots {
            enqueue(&mut loading, &mut queue, m, pruning);
        }
        self.drain(&mut g, &mut loading, &mut loaded, queue);

        if pruning == Pruning::Workspace {
            // Dependencies of the workspace modules not at their selected versions are loaded again at
            // the selected versions, until nothing changes.
            let mut deps_in_all: BTreeSet<Arc<str>> =
                roots.iter().map(|m| m.path.clone()).collect();
            let mut seen: HashSet<Mv> = HashSet::new();
            loop {
                let mut needs: BTreeSet<Mv> = BTreeSet::new();
                for p in &deps_in_all {
                    let m = Mv {
                        path: p.clone(),
                        version: Arc::from(g.selected(p)),
                    };
                    if !seen.contains(&m) {
                        needs.insert(m);
                        continue;
                    }
                    for r in g.required_by(&m).unwrap_or_default() {
                        let s = Mv {
                            path: r.path.clone(),
                            version: Arc::from(g.selected(&r.path)),
                        };
                        if mod_compare(&r.path, &s.version, &r.version).is_gt()
                            && !seen.contains(&s)
                        {
                            needs.insert(s);
                        }
                    }
                }
                if needs.is_empty() {
                    break;
                }
                let mut queue = Vec::new();
                for m in needs {
                    enqueue(&mut loading, &mut queue, &m, Pruning::Workspace);
                    deps_in_all.insert(m.path.clone());
                    seen.insert(m);
                }
                self.drain(&mut g, &mut loading, &mut loaded, queue);
            }
        }

        if loaded.values().any(std::result::Result::is_err) {
            let stack = g.find_path(|m| matches!(loaded.get(m), Some(Err(_))));
            let err = stack
                .last()
                .and_then(|m| loaded.get(m))
                .and_then(|r| r.as_ref().err())
                .map(|e| ModError::clone(e));
            if let Some(err) = err {
                return (g, Some(Error::build_list(stack, err)));
            }
        }
        (g, None)
    }

    // Loads everything queued and everything it leads to, as one parallel traversal: each loaded go.mod
    // queues its own requirements at once (no waiting for the rest of a breadth-first wave, which matters
    // for long unpruned chains). The set of (module, pruning) pairs visited is the closure of the queue
    // whatever the order, and the graph's selection does not depend on the order requirements arrive in.
    fn drain(
        &self,
        g: &mut Graph,
        loading: &mut HashSet<(Mv, Pruning)>,
        loaded: &mut Loaded,
        queue: Vec<(Mv, Pruning)>,
    ) {
        let shared = Mutex::new(Traversal {
            loading: std::mem::take(loading),
            loaded: std::mem::take(loaded),
            order: Vec::new(),
        });
        self.in_pool(|| {
            rayon::scope(|scope| {
                for item in queue {
                    let shared = &shared;
                    scope.spawn(move |scope| self.visit(scope, shared, item));
                }
            });
        });
        let t = shared.into_inner().unwrap_or_else(PoisonError::into_inner);
        for (m, s) in &t.order {
            g.require(m, s.require.clone());
        }
        *loading = t.loading;
        *loaded = t.loaded;
    }

    fn visit<'s>(
        &'s self,
        scope: &rayon::Scope<'s>,
        shared: &'s Mutex<Traversal>,
        (m, pruning): (Mv, Pruning),
    ) {
        let lock = || shared.lock().unwrap_or_else(PoisonError::into_inner);
        let known = lock().loaded.get(&m).cloned();
        let result = known.unwrap_or_else(|| {
            let r = self.summary(&m).map_err(Arc::new);
            let mut t = lock();
            if !t.loaded.contains_key(&m) {
                if let Ok(s) = &r {
                    t.order.push((m.clone(), s.clone()));
                }
                t.loaded.insert(m.clone(), r.clone());
            }
            r
        });
        let Ok(s) = result else {
            return;
        };
        if pruning == Pruning::Pruned && s.pruning != Pruning::Unpruned {
            return;
        }
        let next_pruning = if pruning == Pruning::Unpruned {
            Pruning::Unpruned
        } else {
            s.pruning
        };
        let mut t = lock();
        for r in s.require.iter() {
            if &*r.version == NONE || !t.loading.insert((r.clone(), next_pruning)) {
                continue;
            }
            let item = (r.clone(), next_pruning);
            scope.spawn(move |scope| self.visit(scope, shared, item));
        }
    }

    /// modload's goModSummary: the go.mod of `m` or of its replacement, with requirements on excluded
    /// versions dropped.
    pub(crate) fn summary(&self, m: &Mv) -> std::result::Result<Arc<Summary>, ModError> {
        if is_toolchain(&m.path) {
            return Ok(Arc::new(toolchain_summary(m)));
        }
        let replacement = self.replacement(m);
        let actual = replacement.map_or(m, |r| &r.target);
        let summary = self.raw_summary(actual, replacement.and_then(|r| r.dir.as_deref()))?;
        if !actual.version.is_empty() {
            if summary.module.is_empty() {
                return Err(ModError::module(
                    actual,
                    "parsing go.mod: missing module line",
                ));
            }
            if *summary.module != *m.path && *summary.module != *actual.path {
                return Err(ModError::module(
                    actual,
                    format!(
                        "parsing go.mod:\n\tmodule declares its path as: {}\n\t        but was required as: {}",
                        summary.module, m.path
                    ),
                ));
            }
        }
        if !self.excludes.is_empty() && summary.require.iter().any(|r| self.excludes.contains(r)) {
            let mut s = (*summary).clone();
            s.require = summary
                .require
                .iter()
                .filter(|r| !self.excludes.contains(*r))
                .cloned()
                .collect();
            return Ok(Arc::new(s));
        }
        Ok(summary)
    }

    /// The go.mod summary of exactly `m` (no replacement), cached.
    pub(crate) fn raw_summary(
        &self,
        m: &Mv,
        dir: Option<&Path>,
    ) -> std::result::Result<Arc<Summary>, ModError> {
        if let Some(hit) = self
            .raw
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(m)
        {
            return hit.clone().map_err(|e| ModError::clone(&e));
        }
        let result = self.read_summary(m, dir);
        let shared = match &result {
            Ok(s) => Ok(s.clone()),
            Err(e) => Err(Arc::new(e.clone())),
        };
        self.raw
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(m.clone(), shared);
        result
    }

    fn read_summary(
        &self,
        m: &Mv,
        dir: Option<&Path>,
    ) -> std::result::Result<Arc<Summary>, ModError> {
        let (name, data) = if m.version.is_empty() {
            let dir = match dir {
                Some(d) => d.to_path_buf(),
                None => match self.mains.iter().find(|x| x.mv.path == m.path) {
                    Some(main) => main.root.clone(),
                    None => clean_join(&self.replace_relative_to(), Path::new(&*m.path)),
                },
            };
            let file = dir.join("go.mod");
            let data = std::fs::read(&file).map_err(|e| {
                let shown = short_path(&self.cwd, &file);
                ModError::module(
                    m,
                    format!(
                        "reading {shown}: open {}: {}",
                        file.display(),
                        io_message(&e)
                    ),
                )
            })?;
            (short_path(&self.cwd, &file), data)
        } else {
            let data = self
                .source
                .go_mod(&m.path, &m.version)
                .map_err(|e| ModError::module(m, source_message(self.source, &e, "mod")))?;
            ("go.mod".to_owned(), data)
        };
        if let Some(main) = self.mains.iter().find(|x| x.mv == *m) {
            // A workspace module: its go.mod was parsed strictly already.
            return self.summary_from(m, &lax_view(&main.file));
        }
        // Most dependency go.mod files are plain UTF-8 the fast reader takes; the full parser reads the
        // rest (and reports errors).
        let plain = std::str::from_utf8(&data).ok();
        if let Some(lax) = plain.and_then(modfile::lax_ref) {
            return self.summary_from(m, &lax);
        }
        let text = String::from_utf8_lossy(&data);
        let f = ModFile::parse_lax(&name, &text)
            .map_err(|e| ModError::module(m, format!("parsing {name}: {e}")))?;
        self.summary_from(m, &lax_view(&f))
    }

    fn summary_from(&self, m: &Mv, f: &LaxRef<'_>) -> std::result::Result<Arc<Summary>, ModError> {
        let go_version = f.go.unwrap_or_default();
        let mut require = Vec::with_capacity(f.require.len() + 1);
        let mut shared = self.shared.lock().unwrap_or_else(PoisonError::into_inner);
        require.extend(f.require.iter().map(|(path, v)| Mv {
            path: shared.intern(path),
            version: shared.intern(v),
        }));
        let go = shared.go_line(go_version, &self.options.go_version);
        let go_mv = go.strict.then(|| Mv {
            path: shared.intern("go"),
            version: shared.intern(go_version),
        });
        drop(shared);
        if let Some(go_mv) = go_mv {
            require.push(go_mv);
            if go.too_new {
                return Err(ModError::Other {
                    message: Error::TooNew {
                        what: format!("module {m}"),
                        go_version: go_version.to_owned(),
                        running: self.options.go_version.clone(),
                        gotoolchain: self.options.gotoolchain.clone(),
                    }
                    .to_string(),
                });
            }
        }
        Ok(Arc::new(Summary {
            module: f.module.unwrap_or_default().into(),
            pruning: go.pruning,
            require: require.into(),
        }))
    }

    fn replace_relative_to(&self) -> PathBuf {
        match &self.work {
            Some((dir, _)) => dir.clone(),
            None => self.mains[0].root.clone(),
        }
    }

    /// The `.info` check `go list -m` makes for a listed module (modload's Query on its exact version).
    pub(crate) fn stat(&self, m: &Mv) -> std::result::Result<(), ModError> {
        self.source
            .info(&m.path, &m.version)
            .map(|_| ())
            .map_err(|e| ModError::module(m, source_message(self.source, &e, "info")))
    }
}

impl MainModule {
    fn go_version(&self) -> String {
        self.file
            .go
            .as_ref()
            .map_or(DEFAULT_GO_MOD_VERSION.to_owned(), |g| g.version.clone())
    }
}

// modload's toReplaceMap: one file may not replace the same module version two different ways.
/// loadModFile's `module.CheckImportPath` on a main module's path, reported as a module path.
fn check_module_path(path: &str) -> Result<()> {
    crate::module::check_import_path(path).map_err(|e| match e {
        crate::module::Error::InvalidPath { path, problem, .. } => Error::ModulePath {
            error: crate::module::Error::InvalidPath {
                kind: crate::module::PathKind::Module,
                path,
                problem,
            },
        },
        other => Error::ModulePath { error: other },
    })
}

fn check_replace_conflicts(replace: &[crate::modfile::Replace]) -> Result<()> {
    let mut seen: HashMap<(&str, &str), &crate::modfile::ModuleVersion> = HashMap::new();
    for r in replace {
        let key = (r.old.path.as_str(), r.old.version.as_str());
        if let Some(prev) = seen.get(&key)
            && **prev != r.new
        {
            return Err(Error::ConflictingReplacements {
                old: Mv::new(&r.old.path, &r.old.version),
                first: Mv::new(&prev.path, &prev.version),
                second: Mv::new(&r.new.path, &r.new.version),
            });
        }
        seen.insert(key, &r.new);
    }
    Ok(())
}

// What the graph needs of a fully parsed go.mod.
fn lax_view(f: &ModFile) -> LaxRef<'_> {
    LaxRef {
        module: f.module.as_ref().map(|x| x.path.as_str()),
        go: f.go.as_ref().map(|g| g.version.as_str()),
        require: f
            .require
            .iter()
            .map(|r| (r.module.path.as_str(), r.module.version.as_str().into()))
            .collect(),
    }
}

// The calling thread is one of the pool's threads when it can be (it would only wait otherwise): one
// thread fewer to start. A thread already in a rayon pool cannot join another, and gets a pool of its own.
fn fetch_pool(threads: usize) -> Option<rayon::ThreadPool> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .use_current_thread()
        .build()
        .or_else(|_| rayon::ThreadPoolBuilder::new().num_threads(threads).build())
        .ok()
}

// Local reads are CPU work: more threads than cores only spin. Remote fetches wait on the network, so
// `jobs` of them run at once.
fn fetch_threads(source: &dyn ModuleSource, jobs: usize) -> usize {
    if source.is_local() {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        jobs.min(cores)
    } else {
        jobs
    }
}

fn enqueue(
    loading: &mut HashSet<(Mv, Pruning)>,
    queue: &mut Vec<(Mv, Pruning)>,
    m: &Mv,
    pruning: Pruning,
) {
    if &*m.version == NONE {
        return;
    }
    if loading.insert((m.clone(), pruning)) {
        queue.push((m.clone(), pruning));
    }
}

// The `go` pseudo-module at a strict version requires the matching toolchain; nothing else requires
// anything.
fn toolchain_summary(m: &Mv) -> Summary {
    let mut require = Vec::new();
    if &*m.path == "go" && version::compare_go(&m.version, GO_STRICT_VERSION).is_ge() {
        require.push(Mv::new("toolchain", &format!("go{}", m.version)));
    }
    Summary {
        module: m.path.as_ref().into(),
        pruning: Pruning::Pruned,
        require: require.into(),
    }
}

/// How cmd/go words a failed proxy read. A `file://` proxy's missing file reads as the file system error
/// cmd/go reports for it; other errors keep their own text (without the `module@version: ` prefix the
/// caller adds).
pub(crate) fn source_message(source: &dyn ModuleSource, e: &source::Error, ext: &str) -> String {
    match e {
        source::Error::NotFound {
            module,
            version,
            source_name,
            ..
        } if source_name.starts_with("file://") => {
            let (Ok(p), Ok(v)) = (
                crate::module::escape_path(module),
                crate::module::escape_version(version),
            ) else {
                return e.to_string();
            };
            // cmd/go shows the URL it built: `!` escapes travel percent-encoded (`%21`).
            format!(
                "reading {source_name}/{}/@v/{}.{ext}: no such file or directory",
                source::path_escape(&p),
                source::path_escape(&v)
            )
        }
        source::Error::Fetch {
            location, message, ..
        } => format!("reading {location}: {message}"),
        _ => {
            let _ = source;
            e.to_string()
        }
    }
}

fn io_message(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".to_owned(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
        _ => e.to_string(),
    }
}

pub(crate) fn absolute(dir: &Path) -> Result<PathBuf> {
    let abs = if dir.is_absolute() {
        dir.to_path_buf()
    } else {
        std::env::current_dir()
            .map_err(|e| Error::Read {
                path: dir.to_path_buf(),
                message: io_message(&e),
            })?
            .join(dir)
    };
    Ok(clean_join(&abs, Path::new("")))
}

/// The go.work that applies in `cwd` (an absolute directory), if any.
pub(crate) fn work_file(cwd: &Path, options: &Options) -> Option<PathBuf> {
    match &options.go_work {
        GoWork::Off => None,
        GoWork::File(p) => Some(if p.is_absolute() {
            p.clone()
        } else {
            cwd.join(p)
        }),
        GoWork::Auto => find_upwards(cwd, "go.work"),
    }
}

fn find_upwards(dir: &Path, name: &str) -> Option<PathBuf> {
    let mut d = Some(dir);
    while let Some(cur) = d {
        let candidate = cur.join(name);
        if candidate.is_file() {
            return Some(candidate);
        }
        d = cur.parent();
    }
    None
}

/// `filepath.Join`: joins and cleans lexically (`..` removes the previous element).
pub(crate) fn clean_join(base: &Path, rel: &Path) -> PathBuf {
    let joined = if rel.is_absolute() {
        rel.to_path_buf()
    } else {
        base.join(rel)
    };
    let mut out: Vec<Component<'_>> = Vec::new();
    for c in joined.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if matches!(out.last(), Some(Component::Normal(_))) {
                    out.pop();
                } else if !matches!(out.last(), Some(Component::RootDir | Component::Prefix(_))) {
                    out.push(c);
                }
            }
            other => out.push(other),
        }
    }
    out.iter().collect()
}

/// cmd/go's `base.ShortPath`: relative to the working directory when that is shorter.
pub(crate) fn short_path(cwd: &Path, path: &Path) -> String {
    let full = path.to_string_lossy().into_owned();
    let rel = relative(cwd, path).map(|p| p.to_string_lossy().into_owned());
    match rel {
        Some(r) if r.len() < full.len() => r,
        _ => full,
    }
}

/// modload's `ToDirectoryPath`: a relative path that does not start with `./` or `../` gets `./`.
fn to_directory_path(p: &Path) -> String {
    let s = p.to_string_lossy().replace('\\', "/");
    if crate::modfile::is_directory_path(&s) {
        s
    } else {
        format!("./{s}")
    }
}

fn relative(from: &Path, to: &Path) -> Option<PathBuf> {
    let a: Vec<_> = from.components().collect();
    let b: Vec<_> = to.components().collect();
    let common = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    if common == 0 {
        return None;
    }
    let mut out = PathBuf::new();
    for _ in common..a.len() {
        out.push("..");
    }
    for c in &b[common..] {
        out.push(c);
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_join_and_shorten_as_go_does() {
        assert_eq!(
            clean_join(Path::new("/w/main"), Path::new("../local")),
            Path::new("/w/local")
        );
        assert_eq!(
            clean_join(Path::new("/w"), Path::new("./a/./b/..")),
            Path::new("/w/a")
        );
        assert_eq!(
            short_path(Path::new("/w/main"), Path::new("/w/main/go.mod")),
            "go.mod"
        );
        assert_eq!(
            short_path(Path::new("/work/main"), Path::new("/work/local/go.mod")),
            "../local/go.mod"
        );
        // Only when shorter, as Go's ShortPath.
        assert_eq!(
            short_path(Path::new("/w/main"), Path::new("/w/local/go.mod")),
            "/w/local/go.mod"
        );
        assert_eq!(short_path(Path::new("/a/b/c/d"), Path::new("/x")), "/x");
    }

    #[test]
    fn pruning_follows_the_go_line() {
        assert_eq!(pruning_for("1.16"), Pruning::Unpruned);
        assert_eq!(pruning_for("1.17"), Pruning::Pruned);
        assert_eq!(pruning_for("1.21.0"), Pruning::Pruned);
        let s = toolchain_summary(&Mv::new("go", "1.21"));
        assert_eq!(*s.require, [Mv::new("toolchain", "go1.21")]);
        assert!(toolchain_summary(&Mv::new("go", "1.20")).require.is_empty());
    }
}
