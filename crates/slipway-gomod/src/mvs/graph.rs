//! The requirement graph and its selected versions (cmd/go's `mvs.Graph`): requirements are pushed in by
//! the loader, and each path's selected version is the highest one any reachable module requires.

use std::cmp::Ordering;
use std::collections::VecDeque;

// The graph hashes thousands of module versions: foldhash is several times faster than SipHash here, and
// still seeded per process.
use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};
use std::sync::Arc;

use crate::version;

/// A module path and version as the graph holds them: cheap to clone, hashable.
///
/// The main modules have the empty version, which sorts above every other version of their path; the
/// pseudo-modules `go` and `toolchain` carry Go and toolchain versions (`go@1.21`, `toolchain@go1.21.5`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Mv {
    /// The module path.
    pub path: Arc<str>,
    /// The version; empty for a main module.
    pub version: Arc<str>,
}

impl Mv {
    /// A module version.
    pub fn new(path: &str, version: &str) -> Mv {
        Mv {
            path: Arc::from(path),
            version: Arc::from(version),
        }
    }

    /// `path@version`, or the path alone for a main module (how `go mod graph` names nodes).
    pub fn node(&self) -> String {
        self.to_string()
    }
}

impl std::fmt::Display for Mv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // module.Version's String: the path alone when there is no version.
        f.write_str(&self.path)?;
        if !self.version.is_empty() {
            f.write_str("@")?;
            f.write_str(&self.version)?;
        }
        Ok(())
    }
}

/// Whether `path` is one of the pseudo-modules for the Go language and toolchain versions.
pub(crate) fn is_toolchain(path: &str) -> bool {
    path == "go" || path == "toolchain"
}

// gover's maybeToolchainVersion: a bare Go version stands for itself, otherwise `goX` names version X.
fn toolchain_version(name: &str) -> &str {
    if version::is_valid_go(name) {
        name
    } else {
        version::from_toolchain(name).unwrap_or("")
    }
}

/// gover.ModCompare: Go versions for `go`, toolchain names for `toolchain`, semver otherwise.
pub(crate) fn mod_compare(path: &str, a: &str, b: &str) -> Ordering {
    match path {
        "go" => version::compare_go(a, b),
        "toolchain" => version::compare_go(toolchain_version(a), toolchain_version(b)),
        _ => version::compare(a, b),
    }
}

/// modload's cmpVersion: the empty version (a main module) is above everything else.
pub(crate) fn cmp_version(path: &str, a: &str, b: &str) -> Ordering {
    match (a.is_empty(), b.is_empty()) {
        (true, true) => Ordering::Equal,
        (false, true) => Ordering::Less,
        (true, false) => Ordering::Greater,
        (false, false) => mod_compare(path, a, b),
    }
}

/// gover.ModSort: by path, then by version (a `/go.mod`-style suffix compared as a string last).
pub(crate) fn mod_sort(list: &mut [Mv]) {
    list.sort_by(|a, b| {
        crate::module::compare_path_versions(
            (&a.path, &a.version),
            (&b.path, &b.version),
            mod_compare,
        )
    });
}

pub(crate) const NONE: &str = "none";

/// An incremental MVS graph.
#[derive(Debug, Clone, Default)]
pub(crate) struct Graph {
    roots: Vec<Mv>,
    required: HashMap<Mv, Arc<[Mv]>>,
    selected: HashMap<Arc<str>, Arc<str>>,
}

impl Graph {
    pub(crate) fn new(roots: Vec<Mv>) -> Graph {
        let mut g = Graph {
            roots: Vec::new(),
            required: HashMap::new(),
            selected: HashMap::new(),
        };
        for m in &roots {
            g.select(m);
        }
        g.roots = roots;
        g
    }

    fn select(&mut self, m: &Mv) {
        match self.selected.get_mut(&m.path) {
            Some(v) if cmp_version(&m.path, v, &m.version).is_lt() => *v = m.version.clone(),
            None if cmp_version(&m.path, NONE, &m.version).is_lt() => {
                self.selected.insert(m.path.clone(), m.version.clone());
            }
            Some(_) | None => {}
        }
    }

    /// Records that `m` requires `reqs` (once per module; a second call is ignored, as it cannot happen in
    /// the loader).
    pub(crate) fn require(&mut self, m: &Mv, reqs: impl Into<Arc<[Mv]>>) {
        if self.required.contains_key(m) {
            return;
        }
        let reqs = reqs.into();
        for dep in reqs.iter() {
            self.select(dep);
        }
        self.required.insert(m.clone(), reqs);
    }

    pub(crate) fn required_by(&self, m: &Mv) -> Option<&[Mv]> {
        self.required.get(m).map(|r| &**r)
    }

    /// The selected version of `path`, `none` when the path is not in the graph.
    pub(crate) fn selected(&self, path: &str) -> &str {
        self.selected.get(path).map_or(NONE, |v| v)
    }

    /// The roots' selected versions (first occurrence of each path), then every other selected module
    /// sorted by path.
    pub(crate) fn build_list(&self) -> Vec<Mv> {
        let mut seen: HashSet<&str> = HashSet::new();
        let mut list = Vec::with_capacity(self.selected.len());
        for r in &self.roots {
            if !seen.insert(&r.path) {
                continue;
            }
            let v = self.selected(&r.path);
            if v != NONE {
                list.push(Mv {
                    path: r.path.clone(),
                    version: Arc::from(v),
                });
            }
        }
        let unique_roots = list.len();
        for (path, v) in &self.selected {
            if !seen.contains(&**path) {
                list.push(Mv {
                    path: path.clone(),
                    version: v.clone(),
                });
            }
        }
        mod_sort(&mut list[unique_roots..]);
        list
    }

    /// Every module version in the graph (selected or not, except `none`), breadth first from the roots.
    pub(crate) fn walk_breadth_first(&self, mut f: impl FnMut(&Mv)) {
        let mut queue: VecDeque<&Mv> = VecDeque::new();
        let mut enqueued: HashSet<&Mv> = HashSet::new();
        for m in &self.roots {
            if &*m.version != NONE && enqueued.insert(m) {
                queue.push_back(m);
            }
        }
        while let Some(m) = queue.pop_front() {
            f(m);
            for r in self.required_by(m).unwrap_or_default() {
                if &*r.version != NONE && enqueued.insert(r) {
                    queue.push_back(r);
                }
            }
        }
    }

    /// A shortest requirement path from a root to a module for which `f` holds.
    pub(crate) fn find_path(&self, f: impl Fn(&Mv) -> bool) -> Vec<Mv> {
        let mut first: HashMap<&Mv, Option<&Mv>> = HashMap::new();
        let mut queue: VecDeque<&Mv> = VecDeque::new();
        for m in &self.roots {
            first.insert(m, None);
            queue.push_back(m);
        }
        while let Some(m) = queue.pop_front() {
            if f(m) {
                let mut path = vec![m.clone()];
                let mut cur = m;
                while let Some(Some(prev)) = first.get(cur) {
                    path.push((*prev).clone());
                    cur = prev;
                }
                path.reverse();
                return path;
            }
            for r in self.required_by(m).unwrap_or_default() {
                if !first.contains_key(r) {
                    first.insert(r, Some(m));
                    queue.push_back(r);
                }
            }
        }
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mv(p: &str, v: &str) -> Mv {
        Mv::new(p, v)
    }

    #[test]
    fn highest_required_version_is_selected_and_main_wins() {
        let mut g = Graph::new(vec![mv("m", "")]);
        g.require(
            &mv("m", ""),
            vec![mv("a", "v1.0.0"), mv("b", "v1.0.0"), mv("m", "v9.0.0")],
        );
        g.require(&mv("a", "v1.0.0"), vec![mv("c", "v1.1.0")]);
        g.require(
            &mv("b", "v1.0.0"),
            vec![mv("c", "v1.2.0"), mv("go", "1.21")],
        );
        assert_eq!(g.selected("c"), "v1.2.0");
        assert_eq!(g.selected("m"), "");
        assert_eq!(g.selected("x"), NONE);
        let list: Vec<String> = g.build_list().iter().map(Mv::node).collect();
        assert_eq!(list, ["m", "a@v1.0.0", "b@v1.0.0", "c@v1.2.0", "go@1.21"]);
        let mut walked = Vec::new();
        g.walk_breadth_first(|m| walked.push(m.node()));
        assert_eq!(
            walked,
            [
                "m", "a@v1.0.0", "b@v1.0.0", "m@v9.0.0", "c@v1.1.0", "c@v1.2.0", "go@1.21"
            ]
        );
        let path = g.find_path(|m| &*m.path == "c");
        assert_eq!(path, [mv("m", ""), mv("a", "v1.0.0"), mv("c", "v1.1.0")]);
        assert!(g.find_path(|m| &*m.path == "zzz").is_empty());
    }

    #[test]
    fn go_and_toolchain_versions_order_as_go_does() {
        assert!(mod_compare("go", "1.21", "1.21.0").is_lt());
        assert!(mod_compare("go", "1.9", "1.21").is_lt());
        assert!(mod_compare("toolchain", "go1.21.5", "go1.24").is_lt());
        assert!(mod_compare("example.com/a", "v1.10.0", "v1.9.0").is_gt());
        assert!(cmp_version("m", "", "v1.0.0").is_gt());
        let mut l = vec![
            mv("b", "v1.0.0/go.mod"),
            mv("b", "v1.0.0"),
            mv("a", "v1.10.0"),
            mv("a", "v1.9.0"),
        ];
        mod_sort(&mut l);
        let l: Vec<String> = l.iter().map(Mv::node).collect();
        assert_eq!(l, ["a@v1.9.0", "a@v1.10.0", "b@v1.0.0", "b@v1.0.0/go.mod"]);
    }
}
