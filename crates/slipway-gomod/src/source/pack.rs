//! A read-through pack of the module cache's small files (`.mod`, `.info`), kept at
//! `$GOMODCACHE/cache/slipway/pack`: one file read instead of thousands.
//!
//! Loading a module graph from a warm cache opens one `.mod` per module version in the graph and one
//! `.info` per listed module; on a 2,000-version world that is nearly 2,000 `open`/`read`/`close` round
//! trips, which were most of `slipway gomod list`'s time. cmd/go never rewrites those files (a version's
//! go.mod is immutable; new files are created and renamed into place), so their bytes can be kept
//! together and reused.
//!
//! Reuse is checked per `@v` directory, as git's index checks files: the pack records each directory's
//! identity (inode) and modification time, and a directory whose identity or time differs — a file was
//! added, removed or renamed into it, or the cache was deleted and filled again — is read from disk
//! again. A directory modified within two seconds before the pack was written is never trusted (its
//! time may not have moved since: the "racy" case). What this cannot see is a file rewritten in place,
//! which neither cmd/go nor slipway does; set `SLIPWAY_MODCACHE_PACK=off` to bypass the pack.
//!
//! The pack is rewritten (atomically, by rename) when a run read anything from disk; a pack that cannot
//! be read or written is simply not used.

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const MAGIC: &str = "slipway-modcache-pack 1";
/// Directories modified this close to the pack's writing are read from disk again.
const RACY: Duration = Duration::from_secs(2);

/// A directory's identity and modification time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    ino: u64,
    mtime_ns: u128,
}

impl Stamp {
    fn of(dir: &Path) -> Option<Stamp> {
        let meta = fs::metadata(dir).ok()?;
        let mtime_ns = meta
            .modified()
            .ok()?
            .duration_since(UNIX_EPOCH)
            .ok()?
            .as_nanos();
        #[cfg(unix)]
        let ino = std::os::unix::fs::MetadataExt::ino(&meta);
        #[cfg(not(unix))]
        let ino = 0;
        Some(Stamp { ino, mtime_ns })
    }
}

#[derive(Debug, Default)]
struct Dir {
    stamp: Option<Stamp>,
    /// Whether the stamp was compared with the directory in this process (and matched).
    checked: bool,
    files: HashMap<String, Arc<[u8]>>,
}

#[derive(Debug, Default)]
struct State {
    dirs: HashMap<String, Dir>,
    /// When the loaded pack was written (nanoseconds since the epoch).
    written_ns: u128,
    dirty: bool,
}

/// The pack of one module cache. Shared by clones of its [`ModCache`](super::ModCache); written back
/// when the last clone goes.
#[derive(Debug)]
pub(crate) struct Pack {
    file: PathBuf,
    download_root: PathBuf,
    state: Mutex<State>,
}

impl Pack {
    /// The pack of the cache whose `cache/download` is `download_root`, loaded if it exists.
    pub(crate) fn open(gomodcache: &Path, download_root: PathBuf) -> Pack {
        let file = gomodcache.join("cache").join("slipway").join("pack");
        let state = fs::read(&file)
            .ok()
            .and_then(|data| parse(&data))
            .unwrap_or_default();
        Pack {
            file,
            download_root,
            state: Mutex::new(state),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The bytes of `dir/name` (`dir` relative to `cache/download`): from the pack when the directory
    /// is unchanged, else from disk through `read` (and then kept for the next run).
    pub(crate) fn read(
        &self,
        dir: &str,
        name: &str,
        read: impl FnOnce() -> std::io::Result<Vec<u8>>,
    ) -> std::io::Result<Vec<u8>> {
        let (known, checked) = {
            let state = self.lock();
            match state.dirs.get(dir) {
                Some(d) => (d.stamp, d.checked),
                None => (None, false),
            }
        };
        let stamp = if checked {
            known
        } else {
            let now = Stamp::of(&self.download_root.join(dir));
            let mut state = self.lock();
            let written_ns = state.written_ns;
            let trusted = now.is_some()
                && now == known
                && now.is_some_and(|s| s.mtime_ns + RACY.as_nanos() <= written_ns);
            let d = state.dirs.entry(dir.to_owned()).or_default();
            if !trusted {
                d.files.clear();
            }
            d.stamp = now;
            d.checked = true;
            now
        };
        if let Some(bytes) = self
            .lock()
            .dirs
            .get(dir)
            .and_then(|d| d.files.get(name))
            .cloned()
        {
            return Ok(bytes.to_vec());
        }
        let data = read()?;
        if stamp.is_some() {
            let mut state = self.lock();
            state.dirty = true;
            if let Some(d) = state.dirs.get_mut(dir) {
                d.files.insert(name.to_owned(), Arc::from(data.as_slice()));
            }
        }
        Ok(data)
    }

    // Writes the pack next to a temporary name and renames it into place; failures leave the old one.
    fn save(&self) {
        let state = self.lock();
        if !state.dirty {
            return;
        }
        let written_ns = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let mut out = Vec::with_capacity(256 << 10);
        let _ = writeln!(out, "{MAGIC} {written_ns}");
        let mut dirs: Vec<_> = state.dirs.iter().collect();
        dirs.sort_by(|a, b| a.0.cmp(b.0));
        for (name, d) in dirs {
            let Some(stamp) = d.stamp else { continue };
            if d.files.is_empty() || name.contains('\n') {
                continue;
            }
            let _ = writeln!(out, "d {} {} {name}", stamp.ino, stamp.mtime_ns);
            let mut files: Vec<_> = d.files.iter().collect();
            files.sort_by(|a, b| a.0.cmp(b.0));
            for (file, bytes) in files {
                if file.contains('\n') {
                    continue;
                }
                let _ = writeln!(out, "f {} {file}", bytes.len());
                out.extend_from_slice(bytes);
                out.push(b'\n');
            }
        }
        drop(state);
        let Some(dir) = self.file.parent() else {
            return;
        };
        if fs::create_dir_all(dir).is_err() {
            return;
        }
        let tmp = dir.join(format!("pack.{}.tmp", std::process::id()));
        if fs::write(&tmp, &out).is_err() || fs::rename(&tmp, &self.file).is_err() {
            let _ = fs::remove_file(&tmp);
        }
    }
}

impl Drop for Pack {
    fn drop(&mut self) {
        self.save();
    }
}

// The pack file: a header line, then per directory `d INO MTIME_NS DIR` and per file `f LEN NAME`,
// LEN bytes and a newline. Anything unexpected discards the whole pack.
fn parse(data: &[u8]) -> Option<State> {
    let mut state = State::default();
    let (header, mut rest) = split_line(data)?;
    let written = std::str::from_utf8(header).ok()?.strip_prefix(MAGIC)?;
    state.written_ns = written.trim().parse().ok()?;
    let mut current: Option<String> = None;
    while !rest.is_empty() {
        let (line, after) = split_line(rest)?;
        let line = std::str::from_utf8(line).ok()?;
        let mut fields = line.splitn(4, ' ');
        match (fields.next()?, fields.next()?, fields.next()?) {
            ("d", ino, mtime) => {
                let name = fields.next()?.to_owned();
                let stamp = Stamp {
                    ino: ino.parse().ok()?,
                    mtime_ns: mtime.parse().ok()?,
                };
                state.dirs.insert(
                    name.clone(),
                    Dir {
                        stamp: Some(stamp),
                        checked: false,
                        files: HashMap::new(),
                    },
                );
                current = Some(name);
                rest = after;
            }
            ("f", len, name) => {
                let len: usize = len.parse().ok()?;
                let bytes = after.get(..len)?;
                if after.get(len) != Some(&b'\n') {
                    return None;
                }
                let dir = state.dirs.get_mut(current.as_deref()?)?;
                dir.files.insert(name.to_owned(), Arc::from(bytes));
                rest = &after[len + 1..];
            }
            _ => return None,
        }
    }
    Some(state)
}

fn split_line(data: &[u8]) -> Option<(&[u8], &[u8])> {
    let i = data.iter().position(|&b| b == b'\n')?;
    Some((&data[..i], &data[i + 1..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_counting(pack: &Pack, dir: &str, name: &str, reads: &mut usize) -> Vec<u8> {
        let path = pack.download_root.join(dir).join(name);
        pack.read(dir, name, || {
            *reads += 1;
            fs::read(&path)
        })
        .unwrap()
    }

    #[test]
    fn unchanged_directories_come_from_the_pack_and_changed_ones_from_disk() {
        let root = tempfile::tempdir().unwrap();
        let download = root.path().join("cache/download");
        let v = download.join("example.com/m/@v");
        fs::create_dir_all(&v).unwrap();
        fs::write(v.join("v1.0.0.mod"), "module example.com/m\n").unwrap();
        // Age the directory past the racy window, as a cache filled earlier would be.
        let old = SystemTime::now() - Duration::from_secs(60);
        fs::File::open(&v).unwrap().set_modified(old).unwrap();

        let mut reads = 0;
        let pack = Pack::open(root.path(), download.clone());
        let first = read_counting(&pack, "example.com/m/@v", "v1.0.0.mod", &mut reads);
        assert_eq!(first, b"module example.com/m\n");
        drop(pack);
        assert_eq!(reads, 1);
        assert!(root.path().join("cache/slipway/pack").is_file());

        let pack = Pack::open(root.path(), download.clone());
        let again = read_counting(&pack, "example.com/m/@v", "v1.0.0.mod", &mut reads);
        assert_eq!(again, first);
        assert_eq!(reads, 1, "served from the pack");
        drop(pack);

        // A new file in the directory: everything in it is read again.
        fs::write(v.join("v1.1.0.mod"), "module example.com/m\n// v1.1\n").unwrap();
        fs::write(v.join("v1.0.0.mod"), "module example.com/m // changed\n").unwrap();
        let pack = Pack::open(root.path(), download);
        let changed = read_counting(&pack, "example.com/m/@v", "v1.0.0.mod", &mut reads);
        assert_eq!(changed, b"module example.com/m // changed\n");
        assert_eq!(reads, 2);
    }

    #[test]
    fn recently_modified_directories_are_not_trusted() {
        let root = tempfile::tempdir().unwrap();
        let download = root.path().join("cache/download");
        let v = download.join("example.com/m/@v");
        fs::create_dir_all(&v).unwrap();
        fs::write(v.join("v1.0.0.mod"), "module example.com/m\n").unwrap();
        let mut reads = 0;
        let pack = Pack::open(root.path(), download.clone());
        read_counting(&pack, "example.com/m/@v", "v1.0.0.mod", &mut reads);
        drop(pack);
        let pack = Pack::open(root.path(), download);
        read_counting(&pack, "example.com/m/@v", "v1.0.0.mod", &mut reads);
        assert_eq!(
            reads, 2,
            "a directory changed just before the pack was written is racy"
        );
    }

    #[test]
    fn damaged_packs_are_ignored() {
        for data in [
            &b""[..],
            b"not a pack\n",
            b"slipway-modcache-pack 1 5\nf 3 x\nabc\n",
            b"slipway-modcache-pack 1 5\nd 1 2 a/@v\nf 30 x\nabc\n",
            b"slipway-modcache-pack 1 5\nd 1 2 a/@v\nf 3 x\nabcd",
            b"slipway-modcache-pack 1 5\nq\n",
        ] {
            assert!(parse(data).is_none(), "{:?}", String::from_utf8_lossy(data));
        }
        let ok = parse(b"slipway-modcache-pack 1 5\nd 1 2 a/@v\nf 3 x\nabc\n").unwrap();
        assert_eq!(&*ok.dirs["a/@v"].files["x"], b"abc");
    }
}
