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
//! again. A directory modified shortly before the run that wrote the pack started is never trusted (a
//! change right after its stamp may not have moved its time: the "racy" case): within two seconds on a
//! file system that keeps whole seconds (FAT keeps two), within 100 ms where times have sub-second
//! precision (Linux file systems move them with every clock tick, 1–10 ms). What this cannot see is a
//! file rewritten in place, which neither cmd/go nor slipway does; set `SLIPWAY_MODCACHE_PACK=off` to
//! bypass the pack.
//!
//! The pack is rewritten (atomically, by rename) when a run read anything from disk; a pack that cannot
//! be read or written is simply not used.

use std::fs;
use std::io::Write;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use foldhash::{HashMap, HashMapExt};

const MAGIC: &str = "slipway-modcache-pack 1";
/// Directories modified this close before the start of the run that stamped them are read from disk
/// again: on file systems with whole-second times ...
const RACY_COARSE: Duration = Duration::from_secs(2);
/// ... and where times have sub-second precision (a time that happens to fall on a whole second is
/// taken for the coarse kind: the safe side).
const RACY_FINE: Duration = Duration::from_millis(100);

/// A directory's identity and modification time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    ino: u64,
    mtime_ns: u128,
}

impl Stamp {
    /// Whether the directory last changed long enough before `since_ns` (when the run that took this
    /// stamp started) for any later change to show in its time.
    fn settled_by(self, since_ns: u128) -> bool {
        let window = if self.mtime_ns.is_multiple_of(1_000_000_000) {
            RACY_COARSE
        } else {
            RACY_FINE
        };
        self.mtime_ns + window.as_nanos() <= since_ns
    }

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

/// What comparing a packed directory with the disk found.
#[derive(Debug, Clone)]
enum Check {
    /// Unchanged: its packed files are current (each file's name and bytes, as ranges of the pack).
    Trusted(Vec<(Range<usize>, Range<usize>)>),
    /// Changed (or racy, or gone): its files are read from disk again, under the stamp it has now.
    Changed(Option<Stamp>),
}

/// A directory of the loaded pack: its stamp then, the byte range of its file records in the pack, and
/// (once asked for in this process) whether it is unchanged.
#[derive(Debug)]
struct PackedDir {
    stamp: Stamp,
    records: Range<usize>,
    check: OnceLock<Check>,
}

/// The pack as read at start: immutable, so reads need no lock.
#[derive(Debug, Default)]
struct Loaded {
    data: Vec<u8>,
    /// When the run that wrote it opened its pack (nanoseconds since the epoch): every stamp in it was
    /// taken at or after that time, which is what the racy check needs.
    written_ns: u128,
    dirs: HashMap<Box<str>, PackedDir>,
}

/// Files read from disk in this process, by directory, with the directory's stamp taken before them.
#[derive(Debug, Default)]
struct Fresh {
    dirs: HashMap<String, FreshDir>,
    dirty: bool,
}

#[derive(Debug)]
struct FreshDir {
    stamp: Option<Stamp>,
    files: Vec<(String, Arc<[u8]>)>,
}

/// The pack of one module cache. Shared by clones of its [`ModCache`](super::ModCache); written back
/// when the last clone goes.
#[derive(Debug)]
pub(crate) struct Pack {
    file: PathBuf,
    download_root: PathBuf,
    /// `download_root`, open: directories are checked relative to it (a shorter path walk per check).
    #[cfg(unix)]
    root: Option<rustix::fd::OwnedFd>,
    loaded: Loaded,
    fresh: Mutex<Fresh>,
    /// When this pack was opened, before any stamp was taken: the time the next pack is written under.
    /// (The time of writing would be too late: a directory stamped early in a long run could pass the
    /// racy check although it was modified just before its stamp was taken.)
    opened_ns: u128,
}

impl Pack {
    /// The pack of the cache whose `cache/download` is `download_root`, loaded if it exists.
    pub(crate) fn open(gomodcache: &Path, download_root: PathBuf) -> Pack {
        let file = gomodcache.join("cache").join("slipway").join("pack");
        let opened_ns = now_ns();
        let loaded = fs::read(&file).ok().and_then(parse).unwrap_or_default();
        #[cfg(unix)]
        let root = rustix::fs::open(
            &download_root,
            rustix::fs::OFlags::RDONLY
                | rustix::fs::OFlags::DIRECTORY
                | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        )
        .ok();
        Pack {
            file,
            download_root,
            #[cfg(unix)]
            root,
            loaded,
            fresh: Mutex::new(Fresh::default()),
            opened_ns,
        }
    }

    fn fresh(&self) -> std::sync::MutexGuard<'_, Fresh> {
        self.fresh.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The stamp `dir` (relative to `cache/download`) has now.
    fn stamp(&self, dir: &str) -> Option<Stamp> {
        #[cfg(unix)]
        if let Some(root) = &self.root {
            let st = rustix::fs::statat(root, dir, rustix::fs::AtFlags::empty()).ok()?;
            // As `Stamp::of` reads it: no stamp for a time before the epoch.
            let secs = u128::try_from(st.st_mtime).ok()?;
            // The field's integer type differs between platforms (unsigned on some).
            #[allow(clippy::unnecessary_fallible_conversions)]
            let nanos = u128::try_from(st.st_mtime_nsec).ok()?;
            return Some(Stamp {
                ino: st.st_ino,
                mtime_ns: secs * 1_000_000_000 + nanos,
            });
        }
        Stamp::of(&self.download_root.join(dir))
    }

    fn check<'p>(&self, dir: &str, packed: &'p PackedDir) -> &'p Check {
        packed.check.get_or_init(|| {
            let now = self.stamp(dir);
            let trusted =
                now == Some(packed.stamp) && packed.stamp.settled_by(self.loaded.written_ns);
            if trusted {
                Check::Trusted(index(&self.loaded.data, packed.records.clone()))
            } else {
                Check::Changed(now)
            }
        })
    }

    /// The bytes of `dir/name` (`dir` relative to `cache/download`): from the pack when the directory
    /// is unchanged, else from disk through `read` (and then kept for the next run).
    pub(crate) fn read(
        &self,
        dir: &str,
        name: &str,
        read: impl FnOnce() -> std::io::Result<Vec<u8>>,
    ) -> std::io::Result<Vec<u8>> {
        let packed = self.loaded.dirs.get(dir);
        // The stamp files read from disk are kept under: taken before reading them, so that a file added
        // after it changes the directory's time and is noticed by the next run.
        let stamp = match packed.map(|p| (p, self.check(dir, p))) {
            Some((p, Check::Trusted(files))) => {
                let data = &self.loaded.data;
                if let Some((_, body)) = files
                    .iter()
                    .find(|(n, _)| &data[n.clone()] == name.as_bytes())
                {
                    return Ok(data[body.clone()].to_vec());
                }
                Some(p.stamp)
            }
            Some((_, Check::Changed(now))) => *now,
            None => None,
        };
        let stamp = {
            let fresh = self.fresh();
            let entry = fresh.dirs.get(dir);
            if let Some(bytes) = entry.and_then(|d| d.files.iter().find(|f| f.0 == name)) {
                return Ok(bytes.1.to_vec());
            }
            match (entry, packed) {
                (Some(d), _) => d.stamp,
                (None, Some(_)) => stamp,
                (None, None) => {
                    drop(fresh);
                    self.stamp(dir)
                }
            }
        };
        let data = read()?;
        if stamp.is_some() {
            let mut fresh = self.fresh();
            fresh.dirty = true;
            let d = fresh.dirs.entry(dir.to_owned()).or_insert(FreshDir {
                stamp,
                files: Vec::new(),
            });
            // Kept only under the stamp taken before these bytes were read: another thread may have
            // stamped the directory first, and if it changed in between, the bytes may predate that
            // stamp (they are still this run's answer, just not the pack's).
            if d.stamp == stamp && !d.files.iter().any(|f| f.0 == name) {
                d.files.push((name.to_owned(), Arc::from(data.as_slice())));
            }
        }
        Ok(data)
    }

    // Writes the pack through a temporary file and a rename (the module cache's own way of writing its
    // files); a failure leaves the old one.
    fn save(&self) {
        let fresh = self.fresh();
        if !fresh.dirty {
            return;
        }
        let written_ns = self.opened_ns;
        let mut out = Vec::with_capacity(self.loaded.data.len() + (64 << 10));
        let _ = writeln!(out, "{MAGIC} {written_ns}");
        let mut names: Vec<&str> = self.loaded.dirs.keys().map(|d| &**d).collect();
        names.extend(
            fresh
                .dirs
                .keys()
                .map(String::as_str)
                .filter(|d| !self.loaded.dirs.contains_key(*d)),
        );
        names.sort_unstable();
        for name in names {
            if name.contains('\n') {
                continue;
            }
            let added = fresh.dirs.get(name);
            // A packed directory not found changed keeps its records (unchecked ones are checked next
            // time), plus whatever was read into it now. One that was racy under the old pack is
            // dropped: carried over under the new pack's later time it would pass the racy check
            // without ever having been stamped safely.
            let packed = self.loaded.dirs.get(name).filter(|p| {
                !matches!(p.check.get(), Some(Check::Changed(_)))
                    && p.stamp.settled_by(self.loaded.written_ns)
            });
            let stamp = match (packed, added) {
                (Some(p), _) => p.stamp,
                (None, Some(FreshDir { stamp: Some(s), .. })) => *s,
                _ => continue,
            };
            let files = added.map_or(&[][..], |d| d.files.as_slice());
            if packed.is_none() && files.is_empty() {
                continue;
            }
            let _ = writeln!(out, "d {} {} {name}", stamp.ino, stamp.mtime_ns);
            if let Some(p) = packed {
                out.extend_from_slice(&self.loaded.data[p.records.clone()]);
            }
            for (file, bytes) in files {
                if file.contains('\n') {
                    continue;
                }
                let _ = writeln!(out, "f {} {file}", bytes.len());
                out.extend_from_slice(bytes);
                out.push(b'\n');
            }
        }
        drop(fresh);
        // A pack that cannot be written is simply not used next time.
        let _ = super::cache::write_atomic(&self.file, &out);
    }
}

impl Drop for Pack {
    fn drop(&mut self) {
        self.save();
    }
}

// The pack file: a header line, then per directory `d INO MTIME_NS DIR` and per file `f LEN NAME`,
// LEN bytes and a newline. Anything unexpected discards the whole pack. Only the directories are indexed
// here; a directory's records are searched when one of its files is asked for.
fn parse(data: Vec<u8>) -> Option<Loaded> {
    let mut dirs = HashMap::new();
    let (header, mut at) = line(&data, 0)?;
    let written = std::str::from_utf8(header).ok()?.strip_prefix(MAGIC)?;
    let written_ns = written.trim().parse().ok()?;
    let mut current: Option<(Box<str>, Stamp, usize)> = None;
    let mut close = |current: Option<(Box<str>, Stamp, usize)>, end: usize| {
        if let Some((name, stamp, start)) = current {
            let dir = PackedDir {
                stamp,
                records: start..end,
                check: OnceLock::new(),
            };
            dirs.insert(name, dir);
        }
    };
    while at < data.len() {
        let (text, next) = line(&data, at)?;
        match text {
            [b'd', b' ', rest @ ..] => {
                let (ino, rest) = number(rest)?;
                let (mtime_ns, name) = number(rest)?;
                let name: Box<str> = std::str::from_utf8(name).ok()?.into();
                let stamp = Stamp {
                    ino: u64::try_from(ino).ok()?,
                    mtime_ns,
                };
                close(current.take(), at);
                current = Some((name, stamp, next));
                at = next;
            }
            [b'f', b' ', rest @ ..] => {
                current.as_ref()?;
                let (len, _name) = number(rest)?;
                let end = next.checked_add(usize::try_from(len).ok()?)?;
                if data.get(end) != Some(&b'\n') {
                    return None;
                }
                at = end + 1;
            }
            _ => return None,
        }
    }
    close(current, at);
    Some(Loaded {
        data,
        written_ns,
        dirs,
    })
}

/// The time now, in nanoseconds since the epoch (0 for a clock before it).
fn now_ns() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

/// The decimal number at the start of `field` (digits only, up to a space) and what follows the space.
fn number(field: &[u8]) -> Option<(u128, &[u8])> {
    let space = field.iter().position(|&b| b == b' ')?;
    let digits = &field[..space];
    if digits.is_empty() || digits.len() > 38 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n = digits
        .iter()
        .fold(0u128, |n, &d| n * 10 + u128::from(d - b'0'));
    Some((n, &field[space + 1..]))
}

/// The line starting at `at` and where the next one starts.
fn line(data: &[u8], at: usize) -> Option<(&[u8], usize)> {
    let len = memchr::memchr(b'\n', data.get(at..)?)?;
    Some((&data[at..at + len], at + len + 1))
}

/// The files among one directory's (well-formed) records: each one's name and bytes, as ranges of
/// `data`.
fn index(data: &[u8], records: Range<usize>) -> Vec<(Range<usize>, Range<usize>)> {
    let mut files = Vec::new();
    let mut at = records.start;
    while at < records.end {
        let Some((head, next)) = line(data, at) else {
            break;
        };
        let Some((len, name)) = head.get(2..).and_then(number) else {
            break;
        };
        let Ok(len) = usize::try_from(len) else {
            break;
        };
        files.push((next - 1 - name.len()..next - 1, next..next + len));
        at = next + len + 1;
    }
    files
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

    /// A module cache in a new temporary directory: the directory and its `cache/download`.
    fn cache() -> (tempfile::TempDir, PathBuf) {
        let root = tempfile::tempdir().unwrap();
        let download = root.path().join("cache/download");
        (root, download)
    }

    /// `example.com/MODULE/@v` under `download`, created holding `files` (name, text).
    fn module_dir(download: &Path, module: &str, files: &[(&str, &str)]) -> PathBuf {
        let v = download.join(format!("example.com/{module}/@v"));
        fs::create_dir_all(&v).unwrap();
        for (name, text) in files {
            fs::write(v.join(name), text).unwrap();
        }
        v
    }

    #[test]
    fn unchanged_directories_come_from_the_pack_and_changed_ones_from_disk() {
        let (root, download) = cache();
        let v = module_dir(&download, "m", &[("v1.0.0.mod", "module example.com/m\n")]);
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
    fn directories_not_asked_for_stay_packed_and_new_files_join_their_directory() {
        let (root, download) = cache();
        let old = SystemTime::now() - Duration::from_secs(60);
        for m in ["a", "b"] {
            let go_mod = format!("module example.com/{m}\n");
            let files = [("v1.0.0.mod", go_mod.as_str()), ("v1.0.0.info", "{}")];
            let v = module_dir(&download, m, &files);
            fs::File::open(&v).unwrap().set_modified(old).unwrap();
        }
        let mut reads = 0;
        let pack = Pack::open(root.path(), download.clone());
        read_counting(&pack, "example.com/a/@v", "v1.0.0.mod", &mut reads);
        drop(pack);
        // b only: a is neither checked nor read, and must survive the rewrite.
        let pack = Pack::open(root.path(), download.clone());
        read_counting(&pack, "example.com/b/@v", "v1.0.0.mod", &mut reads);
        drop(pack);
        assert_eq!(reads, 2);
        // a's .info joins a's packed .mod.
        let pack = Pack::open(root.path(), download.clone());
        read_counting(&pack, "example.com/a/@v", "v1.0.0.info", &mut reads);
        assert_eq!(reads, 3);
        drop(pack);
        let pack = Pack::open(root.path(), download);
        for (m, f) in [
            ("a", "v1.0.0.mod"),
            ("a", "v1.0.0.info"),
            ("b", "v1.0.0.mod"),
        ] {
            read_counting(&pack, &format!("example.com/{m}/@v"), f, &mut reads);
        }
        assert_eq!(reads, 3, "all three from the pack");
    }

    #[test]
    fn recently_modified_directories_are_not_trusted() {
        let (root, download) = cache();
        let v = module_dir(&download, "m", &[("v1.0.0.mod", "module example.com/m\n")]);
        // Now, to the whole second: racy whatever the file system and however slow this machine is.
        age(&v, Duration::ZERO);
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

    // Sets `dir`'s modification time to `age` before now, rounded up to a whole second (so that the
    // two-second racy window applies, whatever the file system), and returns its stamp.
    fn age(dir: &Path, age: Duration) -> Stamp {
        let when = (SystemTime::now() - age)
            .duration_since(UNIX_EPOCH)
            .unwrap();
        let secs = when.as_secs() + u64::from(when.subsec_nanos() > 0);
        let when = UNIX_EPOCH + Duration::from_secs(secs);
        fs::File::open(dir).unwrap().set_modified(when).unwrap();
        Stamp::of(dir).unwrap()
    }

    #[test]
    fn whole_second_times_are_racy_for_two_seconds_finer_ones_for_a_tenth() {
        let second = 1_000_000_000u128;
        let coarse = Stamp {
            ino: 1,
            mtime_ns: 100 * second,
        };
        assert!(!coarse.settled_by(101 * second));
        assert!(!coarse.settled_by(102 * second - 1));
        assert!(coarse.settled_by(102 * second));
        let fine = Stamp {
            ino: 1,
            mtime_ns: 100 * second + 4_000_000,
        };
        assert!(!fine.settled_by(100 * second + 103_999_999));
        assert!(fine.settled_by(100 * second + 104_000_000));
    }

    #[test]
    fn a_directory_racy_in_the_old_pack_is_not_carried_into_the_new_one() {
        // The old pack holds `m`'s file as it was when `m` was racy (modified 1 s before that pack);
        // since then the file changed within the same timestamp tick (simulated: the directory's time
        // is what the pack recorded, the bytes are not).
        let (root, download) = cache();
        let m = module_dir(&download, "m", &[("v1.0.0.mod", "new\n")]);
        let n = module_dir(&download, "n", &[("v1.0.0.mod", "new\n")]);
        let stamp = age(&m, Duration::from_secs(60));
        age(&n, Duration::from_secs(60));
        let written = stamp.mtime_ns + Duration::from_secs(1).as_nanos();
        let pack = format!(
            "{MAGIC} {written}\nd {} {} example.com/m/@v\nf 4 v1.0.0.mod\nold\n\n",
            stamp.ino, stamp.mtime_ns
        );
        fs::create_dir_all(root.path().join("cache/slipway")).unwrap();
        fs::write(root.path().join("cache/slipway/pack"), pack).unwrap();

        let mut reads = 0;
        // A run that reads only `n` rewrites the pack, now long after `m`'s time.
        let p = Pack::open(root.path(), download.clone());
        read_counting(&p, "example.com/n/@v", "v1.0.0.mod", &mut reads);
        drop(p);
        let p = Pack::open(root.path(), download);
        let got = read_counting(&p, "example.com/m/@v", "v1.0.0.mod", &mut reads);
        assert_eq!(got, b"new\n", "m was never stamped safely: read from disk");
        assert_eq!(reads, 2);
    }

    #[test]
    fn directories_are_racy_against_the_start_of_the_run_that_stamped_them() {
        let (root, download) = cache();
        let v = module_dir(&download, "m", &[("v1.0.0.mod", "old\n")]);
        // Modified 0.5–1.5 s before the run starts (a whole second); the run takes 1.6 s more, so its
        // pack is written more than two seconds after the directory's time, but the stamp was taken
        // within them.
        age(&v, Duration::from_millis(1500));
        let mut reads = 0;
        let p = Pack::open(root.path(), download.clone());
        read_counting(&p, "example.com/m/@v", "v1.0.0.mod", &mut reads);
        std::thread::sleep(Duration::from_millis(1600));
        drop(p);
        // A change the directory's time does not show (as within one timestamp tick).
        let before = Stamp::of(&v).unwrap();
        fs::write(v.join("v1.0.0.mod"), "new\n").unwrap();
        assert_eq!(Stamp::of(&v), Some(before));
        let p = Pack::open(root.path(), download);
        let got = read_counting(&p, "example.com/m/@v", "v1.0.0.mod", &mut reads);
        assert_eq!(got, b"new\n");
        assert_eq!(reads, 2);
    }

    #[test]
    fn a_file_read_before_another_reader_stamped_its_changed_directory_is_not_packed() {
        let (root, download) = cache();
        let v = module_dir(&download, "m", &[("a.mod", "old\n"), ("b.mod", "b\n")]);
        age(&v, Duration::from_secs(120));
        let p = Pack::open(root.path(), download.clone());
        // While `a` is being read (its directory stamped before), `a` is replaced and a second reader
        // stamps the changed directory and reads `b`, as another thread could.
        let got = p
            .read("example.com/m/@v", "a.mod", || {
                let bytes = fs::read(v.join("a.mod"));
                fs::write(v.join("a.tmp"), "new\n").unwrap();
                fs::rename(v.join("a.tmp"), v.join("a.mod")).unwrap();
                age(&v, Duration::from_secs(60));
                let b = p.read("example.com/m/@v", "b.mod", || fs::read(v.join("b.mod")));
                assert_eq!(b.unwrap(), b"b\n");
                bytes
            })
            .unwrap();
        assert_eq!(got, b"old\n", "what was read");
        drop(p);
        let mut reads = 0;
        let p = Pack::open(root.path(), download);
        assert_eq!(
            read_counting(&p, "example.com/m/@v", "a.mod", &mut reads),
            b"new\n"
        );
        assert_eq!(reads, 1, "a was not packed");
        read_counting(&p, "example.com/m/@v", "b.mod", &mut reads);
        assert_eq!(reads, 1, "b was");
    }

    #[test]
    fn relative_stamps_are_the_stamps_of_the_directories() {
        let (root, download) = cache();
        let v = module_dir(&download, "m", &[]);
        let pack = Pack::open(root.path(), download);
        assert!(pack.stamp("example.com/m/@v").is_some());
        assert_eq!(pack.stamp("example.com/m/@v"), Stamp::of(&v));
        assert_eq!(pack.stamp("example.com/gone/@v"), None);
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
            assert!(
                parse(data.to_vec()).is_none(),
                "{:?}",
                String::from_utf8_lossy(data)
            );
        }
        let ok = parse(b"slipway-modcache-pack 1 5\nd 1 2 a/@v\nf 3 x\nabc\nf 1 y\nz\n".to_vec())
            .unwrap();
        let files = index(&ok.data, ok.dirs["a/@v"].records.clone());
        let files: Vec<(&[u8], &[u8])> = files
            .into_iter()
            .map(|(n, b)| (&ok.data[n], &ok.data[b]))
            .collect();
        assert_eq!(files, [(&b"x"[..], &b"abc"[..]), (&b"y"[..], &b"z"[..])]);
    }
}
