//! Image layers applied, in order, to a pod's root directory, as containerd applies them, within the
//! root and a byte budget.
//!
//! - Entries name paths inside the root: a name with a `..` component or an absolute name is refused;
//!   `./` prefixes are dropped.
//! - Directories on the way to an entry are resolved inside the root: a symbolic link among them is
//!   followed as it would be inside the container (an absolute target starts at the root), and one that
//!   would climb out of the root is refused.
//! - Symbolic links are written so that they resolve inside the root on the host too: an absolute target
//!   is rewritten to the relative path that reaches it from the link's directory (the pod runs without a
//!   chroot), and a relative target that climbs out of the root is refused. Hard links must name a file
//!   already in the root.
//! - Whiteouts: `.wh.NAME` removes `NAME` from the layers below; `.wh..wh..opq` empties its directory of
//!   what the layers below put there. Neither is written.
//! - Devices and FIFOs are skipped (an unprivileged process cannot make them); ownership is not applied;
//!   setuid, setgid and sticky bits are dropped; directories stay writable by their owner so that later
//!   layers and the final clean-up can change them.
//! - Every entry costs its size plus a 512-byte header against the budget, so neither a decompression bomb
//!   nor a flood of empty entries can fill the disk.

use std::collections::HashSet;
use std::ffi::{OsStr, OsString};
use std::fs;
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt as _;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Component, Path, PathBuf};

/// What a header costs against the budget, whatever its entry holds.
const HEADER_COST: u64 = 512;
/// How many symbolic links one path may go through (Linux's `MAXSYMLINKS`).
const MAX_LINKS: usize = 40;
/// The whiteout prefix.
const WHITEOUT: &str = ".wh.";
/// The opaque-directory marker.
const OPAQUE: &str = ".wh..wh..opq";

/// Why a layer could not be applied.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An entry would write outside the root, or cannot be applied as it is.
    #[error("layer {layer}: entry {entry:?}: {reason}")]
    Refused {
        /// The layer (its digest, or its position).
        layer: String,
        /// The entry's name, as the archive gives it.
        entry: String,
        /// Why: `its name is absolute`, `its name has a .. component`, `a link leaves the root`, …
        reason: &'static str,
    },
    /// The archive could not be read (truncated, not a tar, a gzip fault).
    #[error("layer {layer}: reading the archive")]
    Archive {
        /// The layer.
        layer: String,
        /// What the reader said.
        source: io::Error,
    },
    /// The layers hold more than the budget allows.
    #[error("layer {layer}: the image unpacks to more than {limit} bytes")]
    TooLarge {
        /// The layer where the budget ran out.
        layer: String,
        /// The budget for the whole image.
        limit: u64,
    },
    /// A file system operation in the root failed.
    #[error("{action} {}", path.display())]
    Io {
        /// What was being done (`creating`, `removing`, `linking`, …).
        action: &'static str,
        /// The path on the host.
        path: PathBuf,
        /// What the OS said.
        source: io::Error,
    },
}

/// `Result` with this module's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

fn io_err<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> Error + 'a {
    move |source| Error::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

/// A budget of unpacked bytes shared by the layers of one image.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    limit: u64,
    used: u64,
}

impl Budget {
    /// A budget of `limit` bytes.
    pub fn new(limit: u64) -> Self {
        Budget { limit, used: 0 }
    }

    fn spend(&mut self, bytes: u64, layer: &str) -> Result<()> {
        self.used = self.used.saturating_add(bytes);
        if self.used > self.limit {
            return Err(Error::TooLarge {
                layer: layer.to_owned(),
                limit: self.limit,
            });
        }
        Ok(())
    }

    fn left(&self) -> u64 {
        self.limit.saturating_sub(self.used)
    }
}

/// Applies one uncompressed layer (a tar stream) to `root`, which must exist. `layer` names it in errors.
pub fn apply_layer(root: &Path, layer: &str, tar: impl Read, budget: &mut Budget) -> Result<()> {
    let archive_err = |source| Error::Archive {
        layer: layer.to_owned(),
        source,
    };
    let mut archive = tar::Archive::new(tar);
    let mut this_layer: HashSet<Vec<OsString>> = HashSet::new();
    for entry in archive.entries().map_err(archive_err)? {
        let mut entry = entry.map_err(archive_err)?;
        budget.spend(HEADER_COST, layer)?;
        let raw_name = entry.path_bytes().into_owned();
        let shown = String::from_utf8_lossy(&raw_name).into_owned();
        let refuse = |reason| Error::Refused {
            layer: layer.to_owned(),
            entry: shown.clone(),
            reason,
        };
        let Some(parts) = components(OsStr::from_bytes(&raw_name)).map_err(&refuse)? else {
            continue; // `./`: the root itself.
        };
        let Some((name, parent)) = parts.split_last() else {
            continue;
        };
        let name_bytes = name.as_bytes();
        if name_bytes == OPAQUE.as_bytes() {
            let dir = resolve(root, parent, true).map_err(|e| e.into_error(refuse))?;
            empty_except(&dir, &this_layer)?;
            continue;
        }
        if let Some(hidden) = name_bytes.strip_prefix(WHITEOUT.as_bytes()) {
            if hidden.is_empty() || hidden == b"." || hidden == b".." {
                return Err(refuse("it whites out no name"));
            }
            if let Ok(dir) = resolve(root, parent, false) {
                remove_any(&dir.host.join(OsStr::from_bytes(hidden)))?;
            }
            continue;
        }
        let dir = resolve(root, parent, true).map_err(|e| e.into_error(refuse))?;
        let path = dir.host.join(name);
        let kind = entry.header().entry_type();
        let mode = entry.header().mode().unwrap_or(0o644) & 0o777;
        if kind.is_dir() {
            let meta = fs::symlink_metadata(&path);
            if !meta.as_ref().is_ok_and(fs::Metadata::is_dir) {
                remove_any(&path)?;
                fs::create_dir(&path).map_err(io_err("creating", &path))?;
            }
            fs::set_permissions(&path, fs::Permissions::from_mode(mode | 0o700))
                .map_err(io_err("setting the mode of", &path))?;
        } else if kind.is_file() || kind.is_contiguous() || kind.is_gnu_sparse() {
            let size = entry.size();
            if size > budget.left() {
                budget.spend(size, layer)?;
            }
            remove_any(&path)?;
            let mut file = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)
                .map_err(io_err("creating", &path))?;
            let copied = io::copy(&mut (&mut entry).take(budget.left() + 1), &mut file)
                .map_err(archive_err)?;
            budget.spend(copied, layer)?;
            fs::set_permissions(&path, fs::Permissions::from_mode(mode))
                .map_err(io_err("setting the mode of", &path))?;
        } else if kind.is_symlink() {
            let target = entry
                .link_name_bytes()
                .ok_or_else(|| refuse("a link without a target"))?
                .into_owned();
            let target = link_target(&dir.inside, OsStr::from_bytes(&target)).map_err(&refuse)?;
            remove_any(&path)?;
            std::os::unix::fs::symlink(&target, &path).map_err(io_err("linking", &path))?;
        } else if kind.is_hard_link() {
            let target = entry
                .link_name_bytes()
                .ok_or_else(|| refuse("a link without a target"))?
                .into_owned();
            hard_link(root, OsStr::from_bytes(&target), &path, &refuse)?;
        } else {
            // Devices, FIFOs and anything newer: nothing an unprivileged process can make.
            continue;
        }
        let mut inside = dir.inside.clone();
        inside.push(name.clone());
        this_layer.insert(inside);
    }
    Ok(())
}

/// Links `path` to the file `target` names inside the root.
fn hard_link(
    root: &Path,
    target: &OsStr,
    path: &Path,
    refuse: &dyn Fn(&'static str) -> Error,
) -> Result<()> {
    let parts = components(target)
        .map_err(refuse)?
        .ok_or_else(|| refuse("a hard link to the root"))?;
    let Some((name, parent)) = parts.split_last() else {
        return Err(refuse("a hard link to the root"));
    };
    let dir = resolve(root, parent, false).map_err(|e| e.into_error(refuse))?;
    let source = dir.host.join(name);
    if fs::symlink_metadata(&source).is_ok_and(|m| m.is_dir()) {
        return Err(refuse("a hard link to a directory"));
    }
    if source != path {
        remove_any(path)?;
        fs::hard_link(&source, path).map_err(io_err("linking", path))?;
    }
    Ok(())
}

/// A name's normal components; `None` for the root itself.
fn components(name: &OsStr) -> Result<Option<Vec<OsString>>, &'static str> {
    let mut out = Vec::new();
    for c in Path::new(name).components() {
        match c {
            Component::Normal(n) => out.push(n.to_owned()),
            Component::CurDir => {}
            Component::ParentDir => return Err("its name has a .. component"),
            Component::RootDir | Component::Prefix(_) => return Err("its name is absolute"),
        }
    }
    Ok((!out.is_empty()).then_some(out))
}

/// A directory resolved inside the root: its path from the root (no links) and on the host.
struct Resolved {
    inside: Vec<OsString>,
    host: PathBuf,
}

enum ResolveError {
    Refused(&'static str),
    Io(Error),
}

impl ResolveError {
    fn into_error(self, refuse: impl Fn(&'static str) -> Error) -> Error {
        match self {
            ResolveError::Refused(reason) => refuse(reason),
            ResolveError::Io(e) => e,
        }
    }
}

/// Walks `parts` from `root` as the container would see them, following symbolic links inside the root;
/// missing directories are created when `create` is set.
fn resolve(root: &Path, parts: &[OsString], create: bool) -> Result<Resolved, ResolveError> {
    let mut inside: Vec<OsString> = Vec::new();
    let mut todo: std::collections::VecDeque<OsString> = parts.iter().cloned().collect();
    let mut links = 0;
    while let Some(part) = todo.pop_front() {
        if part == ".." {
            if inside.pop().is_none() {
                return Err(ResolveError::Refused("a link leaves the root"));
            }
            continue;
        }
        if part == "." || part.is_empty() {
            continue;
        }
        let host = host_path(root, &inside).join(&part);
        match fs::symlink_metadata(&host) {
            Ok(m) if m.is_dir() => inside.push(part),
            Ok(m) if m.file_type().is_symlink() => {
                links += 1;
                if links > MAX_LINKS {
                    return Err(ResolveError::Refused("too many levels of links"));
                }
                let target = fs::read_link(&host)
                    .map_err(|e| ResolveError::Io(io_err("reading the link", &host)(e)))?;
                if target.is_absolute() {
                    inside.clear();
                }
                for c in target.components().rev() {
                    match c {
                        Component::Normal(n) => todo.push_front(n.to_owned()),
                        Component::ParentDir => todo.push_front(OsString::from("..")),
                        _ => {}
                    }
                }
            }
            Ok(_) => return Err(ResolveError::Refused("a directory on its path is a file")),
            Err(e) if e.kind() == io::ErrorKind::NotFound && create => {
                fs::create_dir(&host)
                    .map_err(|e| ResolveError::Io(io_err("creating", &host)(e)))?;
                fs::set_permissions(&host, fs::Permissions::from_mode(0o755))
                    .map_err(|e| ResolveError::Io(io_err("setting the mode of", &host)(e)))?;
                inside.push(part);
            }
            Err(e) => return Err(ResolveError::Io(io_err("reading", &host)(e))),
        }
    }
    let host = host_path(root, &inside);
    Ok(Resolved { inside, host })
}

fn host_path(root: &Path, inside: &[OsString]) -> PathBuf {
    let mut p = root.to_path_buf();
    p.extend(inside);
    p
}

/// What to write as a symbolic link's target in the directory `dir` (inside the root): absolute targets
/// become relative, and none may climb out of the root.
fn link_target(dir: &[OsString], target: &OsStr) -> Result<PathBuf, &'static str> {
    let path = Path::new(target);
    if path.is_absolute() {
        // Inside a container `..` at the root stays at the root, so an absolute target never leaves it.
        let mut inside: Vec<&OsStr> = Vec::new();
        for c in path.components() {
            match c {
                Component::Normal(n) => inside.push(n),
                Component::ParentDir => {
                    inside.pop();
                }
                _ => {}
            }
        }
        let mut rel = PathBuf::new();
        for _ in dir {
            rel.push("..");
        }
        rel.extend(inside);
        if rel.as_os_str().is_empty() {
            rel.push(".");
        }
        return Ok(rel);
    }
    if climbs_out(dir, path) {
        return Err("a link leaves the root");
    }
    Ok(path.to_path_buf())
}

/// Whether `path`, followed lexically from the directory `dir` (inside the root), leaves the root.
fn climbs_out(dir: &[OsString], path: &Path) -> bool {
    let mut depth = dir.len();
    for c in path.components() {
        match c {
            Component::Normal(_) => depth += 1,
            Component::ParentDir => {
                if depth == 0 {
                    return true;
                }
                depth -= 1;
            }
            _ => {}
        }
    }
    false
}

/// Removes whatever is at `path` (a directory with its contents); nothing there is fine.
fn remove_any(path: &Path) -> Result<()> {
    let result = match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => fs::remove_dir_all(path),
        Ok(_) => fs::remove_file(path),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => Err(e),
    };
    result.map_err(io_err("removing", path))
}

/// Empties `dir` of what lower layers put there (an opaque whiteout), keeping this layer's entries.
fn empty_except(dir: &Resolved, this_layer: &HashSet<Vec<OsString>>) -> Result<()> {
    let listing = fs::read_dir(&dir.host).map_err(io_err("listing", &dir.host))?;
    for child in listing {
        let child = child.map_err(io_err("listing", &dir.host))?;
        let mut inside = dir.inside.clone();
        inside.push(child.file_name());
        if !this_layer.contains(&inside) {
            remove_any(&child.path())?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tar stream from (name, kind, data-or-link-target) entries.
    fn tar_of(entries: &[(&str, tar::EntryType, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, kind, data) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(*kind);
            h.set_mode(if kind.is_dir() { 0o755 } else { 0o644 });
            // Raw names: the builder's own checks would refuse the hostile ones these tests need.
            let bytes = name.as_bytes();
            h.as_old_mut().name[..bytes.len()].copy_from_slice(bytes);
            if kind.is_symlink() || kind.is_hard_link() {
                h.as_old_mut().linkname[..data.len()].copy_from_slice(data);
                h.set_size(0);
                h.set_cksum();
                b.append(&h, io::empty()).expect("append");
            } else {
                h.set_size(data.len() as u64);
                h.set_cksum();
                b.append(&h, *data).expect("append");
            }
        }
        b.into_inner().expect("tar")
    }

    use tar::EntryType as T;

    fn apply(root: &Path, entries: &[(&str, tar::EntryType, &[u8])]) -> Result<()> {
        apply_layer(root, "L", &tar_of(entries)[..], &mut Budget::new(1 << 20))
    }

    #[test]
    fn layers_apply_in_order_with_whiteouts() {
        let dir = tempfile::tempdir().expect("tmp");
        let root = dir.path();
        apply(
            root,
            &[
                ("./etc/", T::Directory, b""),
                ("etc/a", T::Regular, b"a1"),
                ("etc/b", T::Regular, b"b1"),
                ("var/lib/x", T::Regular, b"x"),
                ("var/lib/y", T::Regular, b"y"),
            ],
        )
        .expect("layer 1");
        apply(
            root,
            &[
                ("etc/.wh.a", T::Regular, b""),
                ("etc/b", T::Regular, b"b2"),
                ("var/lib/new", T::Regular, b"n"),
                ("var/lib/.wh..wh..opq", T::Regular, b""),
            ],
        )
        .expect("layer 2");
        assert!(!root.join("etc/a").exists());
        assert!(!root.join("etc/.wh.a").exists());
        assert_eq!(fs::read(root.join("etc/b")).expect("b"), b"b2");
        assert!(!root.join("var/lib/x").exists());
        assert!(!root.join("var/lib/y").exists());
        assert!(!root.join("var/lib/.wh..wh..opq").exists());
        assert_eq!(fs::read(root.join("var/lib/new")).expect("new"), b"n");
    }

    #[test]
    fn names_leaving_the_root_are_refused() {
        for (entries, reason) in [
            (
                vec![("../escape", T::Regular, &b"x"[..])],
                "its name has a .. component",
            ),
            (
                vec![("a/../../escape", T::Regular, b"x")],
                "its name has a .. component",
            ),
            (vec![("/abs", T::Regular, b"x")], "its name is absolute"),
            (
                vec![("up", T::Symlink, b"../.."), ("ok", T::Regular, b"")],
                "a link leaves the root",
            ),
            (
                vec![("d/", T::Directory, b""), ("d/l", T::Symlink, b"../../x")],
                "a link leaves the root",
            ),
            (
                vec![("h", T::Link, b"../outside")],
                "its name has a .. component",
            ),
            (vec![("h", T::Link, b"/etc/passwd")], "its name is absolute"),
            (vec![("d/.wh...", T::Regular, b"")], "it whites out no name"),
        ] {
            let dir = tempfile::tempdir().expect("tmp");
            let root = dir.path().join("root");
            fs::create_dir(&root).expect("root");
            match apply(&root, &entries) {
                Err(Error::Refused { reason: r, .. }) => assert_eq!(r, reason, "{entries:?}"),
                other => panic!("{entries:?}: {other:?}"),
            }
            let outside: Vec<_> = fs::read_dir(dir.path())
                .expect("list")
                .map(|e| e.expect("entry").file_name())
                .collect();
            assert_eq!(outside, vec![OsString::from("root")], "{entries:?}");
        }
    }

    #[test]
    fn links_resolve_inside_the_root() {
        let dir = tempfile::tempdir().expect("tmp");
        let root = dir.path().join("root");
        fs::create_dir(&root).expect("root");
        // An absolute link to a directory: files written through it land inside the root, and the link
        // itself is rewritten so that the host resolves it there too.
        apply(
            &root,
            &[
                ("usr/lib/", T::Directory, b""),
                ("lib", T::Symlink, b"/usr/lib"),
                ("lib/libx.so", T::Regular, b"x"),
                ("usr/bin/tool", T::Symlink, b"/usr/lib/libx.so"),
                ("hard", T::Link, b"usr/lib/libx.so"),
                ("etc", T::Symlink, b"/../../etc"),
            ],
        )
        .expect("layer");
        assert_eq!(fs::read(root.join("usr/lib/libx.so")).expect("x"), b"x");
        assert_eq!(
            fs::read_link(root.join("lib")).expect("link"),
            PathBuf::from("usr/lib")
        );
        assert_eq!(
            fs::read_link(root.join("usr/bin/tool")).expect("link"),
            PathBuf::from("../../usr/lib/libx.so")
        );
        assert_eq!(fs::read(root.join("usr/bin/tool")).expect("via link"), b"x");
        assert_eq!(fs::read(root.join("hard")).expect("hard"), b"x");
        // `/../../etc` is `/etc` inside a container: it stays in the root.
        assert_eq!(
            fs::read_link(root.join("etc")).expect("link"),
            PathBuf::from("etc")
        );
    }

    #[test]
    fn a_link_to_outside_in_a_lower_layer_is_not_written_through() {
        let dir = tempfile::tempdir().expect("tmp");
        let root = dir.path().join("root");
        fs::create_dir(&root).expect("root");
        // Links planted by hand (not by a layer): a relative one that climbs out is refused; an absolute
        // one is followed as inside the container, so it lands in the root.
        std::os::unix::fs::symlink("..", root.join("out")).expect("plant");
        std::os::unix::fs::symlink(dir.path(), root.join("abs")).expect("plant");
        let e = apply(&root, &[("out/x", T::Regular, b"x")]).expect_err("refused");
        assert!(
            matches!(
                e,
                Error::Refused {
                    reason: "a link leaves the root",
                    ..
                }
            ),
            "{e:?}"
        );
        assert!(!dir.path().join("x").exists());
        apply(&root, &[("abs/y", T::Regular, b"y")]).expect("inside");
        assert!(!dir.path().join("y").exists());
        let inside = root
            .join(dir.path().strip_prefix("/").expect("absolute"))
            .join("y");
        assert_eq!(fs::read(inside).expect("y"), b"y");
    }

    #[test]
    fn the_budget_bounds_what_is_written() {
        let dir = tempfile::tempdir().expect("tmp");
        let big = vec![7u8; 4096];
        let tar = tar_of(&[("big", T::Regular, &big)]);
        let e = apply_layer(dir.path(), "L", &tar[..], &mut Budget::new(2048)).expect_err("budget");
        assert!(matches!(e, Error::TooLarge { limit: 2048, .. }), "{e:?}");
        let tar = tar_of(&[("small", T::Regular, b"s")]);
        apply_layer(dir.path(), "L", &tar[..], &mut Budget::new(2048)).expect("fits");
        // Headers cost too: a flood of empty entries runs out.
        let names: Vec<String> = (0..10).map(|i| format!("f{i}")).collect();
        let entries: Vec<_> = names
            .iter()
            .map(|n| (n.as_str(), T::Regular, &b""[..]))
            .collect();
        let e = apply_layer(
            dir.path(),
            "L",
            &tar_of(&entries)[..],
            &mut Budget::new(2048),
        )
        .expect_err("headers");
        assert!(matches!(e, Error::TooLarge { .. }), "{e:?}");
    }
}
