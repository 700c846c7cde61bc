//! The module download cache, `$GOMODCACHE/cache/download`, read and written the way cmd/go does.
//!
//! Layout per module version (path and version `!`-escaped): `$path/@v/$version.info` (the `.info` JSON as
//! cmd/go re-marshals it), `.mod`, `.zip`, `.ziphash` (the zip's `h1:` hash, no newline) and `.lock` (the
//! empty file cmd/go locks while it downloads the zip), plus `$path/@v/list`, rewritten after every `.mod`
//! write to the sorted canonical versions whose `.mod` is present. Files are written to a temporary name
//! and renamed into place, so a reader never sees half a file; they get the default `0666 &^ umask` mode,
//! as cmd/go leaves them (only the extracted source trees `$GOMODCACHE/$path@$version` are made read-only,
//! and slipway does not extract: nothing it does needs the unpacked sources).
//!
//! cmd/go consults the cache before any proxy for `.info`, `.mod` and `.zip`, but never for `@v/list`: a
//! version list always comes from the proxies (with `GOPROXY=off`, listing fails). [`CachedSource`] does the
//! same. [`ModCache`]'s own [`ModuleSource::list`] reads `@v/list`, which is what serving the cache as a
//! proxy (`GOPROXY=file://$GOMODCACHE/cache/download`) answers.

use std::fs::{self, OpenOptions};
use std::io::{ErrorKind, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use std::sync::{Arc, Mutex, PoisonError};

use foldhash::HashMap;

use super::pack::Pack;
use super::{Artifact, Error, Info, ModuleSource, Result};
use crate::{dirhash, module, version};

/// A Go module cache directory (`GOMODCACHE`).
///
/// ```
/// use slipway_gomod::source::{ModCache, ModuleSource};
///
/// let dir = tempfile::tempdir()?;
/// let cache = ModCache::new(dir.path());
/// cache.store_go_mod("example.com/M", "v1.0.0", b"module example.com/M\n")?;
/// assert!(dir.path().join("cache/download/example.com/!m/@v/v1.0.0.mod").is_file());
/// assert_eq!(cache.list("example.com/M")?, ["v1.0.0"]);
/// assert_eq!(cache.go_mod("example.com/M", "v1.0.0")?, b"module example.com/M\n");
/// assert!(cache.info("example.com/M", "v1.0.0").unwrap_err().is_not_found());
/// Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct ModCache {
    root: PathBuf,
    pack: Option<Arc<Pack>>,
    /// Module paths already checked and escaped (a graph load asks for each path once per version).
    escaped: Arc<Mutex<HashMap<Box<str>, Arc<str>>>>,
}

/// Where [`ModCache::download`] left one module version, as `go mod download -json` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Download {
    /// The `.info` file.
    pub info: PathBuf,
    /// The `.mod` file.
    pub go_mod: PathBuf,
    /// The `.zip` file.
    pub zip: PathBuf,
    /// The `h1:` hash of the zip (go.sum's `path version h1:…` line).
    pub sum: String,
    /// The `h1:` hash of the go.mod (go.sum's `path version/go.mod h1:…` line).
    pub go_mod_sum: String,
}

/// The `.info` cmd/go writes for a proxy's answer, `{"Version":"…","Time":"…"}` with nothing to unescape,
/// read without a JSON parser; `None` for anything else (which then goes to the parser).
fn plain_info(data: &[u8]) -> Option<Info> {
    let text = std::str::from_utf8(data).ok()?;
    let text = text.strip_suffix('\n').unwrap_or(text);
    let rest = text.strip_prefix("{\"Version\":\"")?;
    let (version, rest) = rest.split_once('"')?;
    let time = rest.strip_prefix(",\"Time\":\"")?.strip_suffix("\"}")?;
    let plain = |s: &str| !s.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20);
    (plain(version) && plain(time)).then(|| Info {
        version: version.to_owned(),
        time: time.to_owned(),
    })
}

/// What cmd/go once wrote into auto-converted go.mod files; such files are treated as absent.
const OLD_VGO_PREFIX: &[u8] = b"//vgo 0.0.";

impl ModCache {
    /// The cache rooted at `root` (the `GOMODCACHE` directory, not its `cache/download` subdirectory).
    pub fn new(root: impl Into<PathBuf>) -> ModCache {
        ModCache {
            root: root.into(),
            pack: None,
            escaped: Arc::default(),
        }
    }

    /// Keeps the cache's small files (`.mod`, `.info`) in one pack file, `cache/slipway/pack`, read in
    /// one go by the next run: a warm graph load then makes one `stat` per `@v` directory instead of
    /// opening a file per module version. A directory is reused only while its identity and modification
    /// time are unchanged (and had not changed just before the run that wrote the pack: within two
    /// seconds, or 100 ms on file systems with sub-second times), which holds for everything cmd/go and
    /// slipway write; a file rewritten in place by hand is not noticed.
    /// [`from_env`](super::from_env) turns this on unless `SLIPWAY_MODCACHE_PACK=off`.
    #[must_use]
    pub fn with_pack(mut self, on: bool) -> ModCache {
        self.pack = on.then(|| Arc::new(Pack::open(&self.root, self.download_root())));
        self
    }

    /// The `GOMODCACHE` directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `$GOMODCACHE/cache/download`, the part of the cache laid out as a module proxy.
    pub fn download_root(&self) -> PathBuf {
        self.root.join("cache").join("download")
    }

    /// The cache file for `path@version` with `suffix` (`info`, `mod`, `zip`, `ziphash`, `lock`), refusing
    /// versions cmd/go refuses to cache (invalid or non-canonical).
    pub fn file(&self, path: &str, version: &str, suffix: &str) -> Result<PathBuf> {
        let (dir, name) = self.locate(path, version, suffix)?;
        let mut file = self.download_root();
        file.reserve(dir.len() + name.len() + 2);
        file.push(dir);
        file.push(name);
        Ok(file)
    }

    // The `@v` directory (relative to `cache/download`) and file name of a cache file.
    fn locate(&self, path: &str, version: &str, suffix: &str) -> Result<(String, String)> {
        let fail = |message: String| Error::Fetch {
            module: path.to_owned(),
            version: version.to_owned(),
            location: self.describe(),
            message,
        };
        let escaped = self.escape_path(path).map_err(|e| fail(e.to_string()))?;
        match version::canonical_module_version_cow(version) {
            None => return Err(fail(format!("non-semver module version {version:?}"))),
            Some(c) if c != version => {
                return Err(fail(format!("non-canonical module version {version:?}")));
            }
            Some(_) => {}
        }
        let escaped_version = module::escape_version(version).map_err(|e| fail(e.to_string()))?;
        let mut dir = String::with_capacity(escaped.len() + 3);
        dir.push_str(&escaped);
        dir.push_str("/@v");
        let mut name = String::with_capacity(escaped_version.len() + 1 + suffix.len());
        name.push_str(&escaped_version);
        name.push('.');
        name.push_str(suffix);
        Ok((dir, name))
    }

    /// [`module::escape_path`], remembered.
    fn escape_path(&self, path: &str) -> module::Result<Arc<str>> {
        let lock = || self.escaped.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(hit) = lock().get(path) {
            return Ok(hit.clone());
        }
        let escaped: Arc<str> = module::escape_path(path)?.into();
        lock().insert(path.into(), escaped.clone());
        Ok(escaped)
    }

    fn not_found(&self, path: &str, version: &str, what: Artifact) -> Error {
        Error::NotFound {
            module: path.to_owned(),
            version: version.to_owned(),
            what,
            source_name: self.describe(),
        }
    }

    /// Reads a cache file; anything that keeps cmd/go from using it (bad version, missing file) is
    /// [`Error::NotFound`], so that a [`CachedSource`] goes on to its upstream.
    fn read(&self, path: &str, version: &str, suffix: &str, what: Artifact) -> Result<Vec<u8>> {
        let Ok((dir, name)) = self.locate(path, version, suffix) else {
            return Err(self.not_found(path, version, what));
        };
        let file = || self.download_root().join(&dir).join(&name);
        let read = match &self.pack {
            Some(pack) if matches!(what, Artifact::GoMod | Artifact::Info) => {
                pack.read(&dir, &name, || super::read_file(&file()))
            }
            _ => super::read_file(&file()),
        };
        match read {
            Ok(data) => Ok(data),
            Err(e) if e.kind() == ErrorKind::NotFound => Err(self.not_found(path, version, what)),
            Err(e) => Err(io_error(path, version, &file(), "reading", &e)),
        }
    }

    /// Writes `path@version`'s `.info` as cmd/go writes it (`{"Version":…,"Time":…}`, time in Go's
    /// RFC 3339 form) and returns the file.
    pub fn store_info(&self, path: &str, version: &str, info: &Info) -> Result<PathBuf> {
        let file = self.file(path, version, "info")?;
        write_atomic(&file, info_json(info).as_bytes())
            .map_err(|e| io_error(path, version, &file, "writing", &e))?;
        Ok(file)
    }

    /// Writes `path@version`'s `.mod`, then rewrites `@v/list` as cmd/go does, and returns the file.
    pub fn store_go_mod(&self, path: &str, version: &str, data: &[u8]) -> Result<PathBuf> {
        let file = self.file(path, version, "mod")?;
        write_atomic(&file, data).map_err(|e| io_error(path, version, &file, "writing", &e))?;
        let dir = file.parent().unwrap_or(&file);
        rewrite_version_list(dir)
            .map_err(|e| io_error(path, version, &dir.join("list"), "writing", &e))?;
        Ok(file)
    }

    /// Checks and writes `path@version`'s zip: every entry must sit under `path@version/`. Writes `.lock`,
    /// `.ziphash`, then the `.zip` (in that order, under the lock, as cmd/go does) and returns the `h1:`
    /// hash.
    pub fn store_zip(&self, path: &str, version: &str, data: &[u8]) -> Result<String> {
        let zip_file = self.file(path, version, "zip")?;
        let io = |file: &Path, e: &std::io::Error| io_error(path, version, file, "writing", e);
        let fetch = |message: String| Error::Fetch {
            module: path.to_owned(),
            version: version.to_owned(),
            location: zip_file.display().to_string(),
            message,
        };
        check_zip_names(path, version, data).map_err(fetch)?;
        let hash = dirhash::hash_zip(data).map_err(|e| fetch(e.to_string()))?;

        let lock_file = self.file(path, version, "lock")?;
        let hash_file = self.file(path, version, "ziphash")?;
        let dir = zip_file.parent().unwrap_or(&zip_file);
        fs::create_dir_all(dir).map_err(|e| io(dir, &e))?;
        // The same lock cmd/go takes (flock on `$version.lock`), so a concurrent `go mod download` and
        // slipway never write the same zip at once.
        let lock = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_file)
            .map_err(|e| io(&lock_file, &e))?;
        lock.lock().map_err(|e| io(&lock_file, &e))?;
        write_atomic(&hash_file, hash.as_bytes()).map_err(|e| io(&hash_file, &e))?;
        write_atomic(&zip_file, data).map_err(|e| io(&zip_file, &e))?;
        drop(lock);
        Ok(hash)
    }

    /// Brings `path@version` into the cache as `go mod download path@version` does (`.info`, `.mod`, then
    /// the zip with `.lock` and `.ziphash`), fetching from `upstream` only what the cache lacks.
    pub fn download(
        &self,
        upstream: &dyn ModuleSource,
        path: &str,
        version: &str,
    ) -> Result<Download> {
        let info_file = self.file(path, version, "info")?;
        if !is_usable_info(&info_file) {
            let info = upstream.info(path, version)?;
            self.store_info(path, version, &info)?;
        }
        let go_mod = match self.go_mod(path, version) {
            Ok(data) => data,
            Err(e) if e.is_not_found() => {
                let data = upstream.go_mod(path, version)?;
                self.store_go_mod(path, version, &data)?;
                data
            }
            Err(e) => return Err(e),
        };
        let zip_file = self.file(path, version, "zip")?;
        let hash_file = self.file(path, version, "ziphash")?;
        let sum = match (zip_file.is_file(), fs::read_to_string(&hash_file)) {
            (true, Ok(hash)) => hash.trim().to_owned(),
            // A zip without its hash is re-hashed, not re-downloaded (cmd/go's downloadZip).
            (true, Err(_)) => {
                let data = fs::read(&zip_file)
                    .map_err(|e| io_error(path, version, &zip_file, "reading", &e))?;
                self.store_zip(path, version, &data)?
            }
            (false, _) => {
                let data = upstream.zip(path, version)?;
                self.store_zip(path, version, &data)?
            }
        };
        Ok(Download {
            info: info_file,
            go_mod: self.file(path, version, "mod")?,
            zip: zip_file,
            sum,
            go_mod_sum: dirhash::hash_go_mod(&go_mod),
        })
    }
}

impl ModuleSource for ModCache {
    fn list(&self, path: &str) -> Result<Vec<String>> {
        let escaped =
            module::escape_path(path).map_err(|_| self.not_found(path, "", Artifact::List))?;
        let file = self.download_root().join(escaped).join("@v").join("list");
        let data = match fs::read(&file) {
            Ok(data) => data,
            Err(e) if e.kind() == ErrorKind::NotFound => {
                return Err(self.not_found(path, "", Artifact::List));
            }
            Err(e) => return Err(io_error(path, "", &file, "reading", &e)),
        };
        Ok(super::parse_list(&data))
    }

    fn info(&self, path: &str, version: &str) -> Result<Info> {
        let data = self.read(path, version, "info", Artifact::Info)?;
        if let Some(info) = plain_info(&data) {
            return Ok(info);
        }
        // An unreadable `.info` is treated as missing, as cmd/go's readDiskStat does: it gets fetched again.
        serde_json::from_slice(&data).map_err(|_| self.not_found(path, version, Artifact::Info))
    }

    fn go_mod(&self, path: &str, version: &str) -> Result<Vec<u8>> {
        let data = self.read(path, version, "mod", Artifact::GoMod)?;
        if data.starts_with(OLD_VGO_PREFIX) {
            return Err(self.not_found(path, version, Artifact::GoMod));
        }
        Ok(data)
    }

    fn zip(&self, path: &str, version: &str) -> Result<Vec<u8>> {
        self.read(path, version, "zip", Artifact::Zip)
    }

    fn describe(&self) -> String {
        format!("module cache {}", self.root.display())
    }

    fn is_local(&self) -> bool {
        true
    }
}

/// The chain cmd/go walks: the module cache first, then `upstream` (usually a
/// [`ProxyList`](super::ProxyList)), storing what `upstream` serves in the cache on the way.
///
/// `list` always goes to `upstream`, as in cmd/go. A failure to write the cache does not fail the fetch
/// (cmd/go only warns); [`ModCache::download`] is the strict way to populate a cache.
///
/// ```
/// use slipway_gomod::source::{CachedSource, MemorySource, ModCache, ModuleSource};
///
/// let mut upstream = MemorySource::new();
/// upstream.add("example.com/m", "v1.0.0", "module example.com/m\n");
/// let dir = tempfile::tempdir()?;
/// let chain = CachedSource::new(ModCache::new(dir.path()), upstream);
/// assert_eq!(chain.go_mod("example.com/m", "v1.0.0")?, b"module example.com/m\n");
/// // Now served from the cache.
/// assert!(dir.path().join("cache/download/example.com/m/@v/v1.0.0.mod").is_file());
/// Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct CachedSource<S> {
    cache: ModCache,
    upstream: S,
}

impl<S: ModuleSource> CachedSource<S> {
    /// The module cache in front of `upstream`.
    pub fn new(cache: ModCache, upstream: S) -> CachedSource<S> {
        CachedSource { cache, upstream }
    }

    /// The module cache.
    pub fn cache(&self) -> &ModCache {
        &self.cache
    }

    /// The source behind the cache.
    pub fn upstream(&self) -> &S {
        &self.upstream
    }
}

impl<S: ModuleSource> ModuleSource for CachedSource<S> {
    fn list(&self, path: &str) -> Result<Vec<String>> {
        self.upstream.list(path)
    }

    fn latest(&self, path: &str) -> Result<Info> {
        // Never answered from the cache; the answer's `.info` is kept, as cmd/go keeps it for the
        // `Stat` that follows.
        let info = self.upstream.latest(path)?;
        if self
            .cache
            .info(path, &info.version)
            .is_err_and(|e| e.is_not_found())
        {
            let _ = self.cache.store_info(path, &info.version, &info);
        }
        Ok(info)
    }

    fn info(&self, path: &str, version: &str) -> Result<Info> {
        match self.cache.info(path, version) {
            Err(e) if e.is_not_found() => {
                let info = self.upstream.info(path, version)?;
                // A version the cache cannot name (non-canonical) is simply not stored, as in cmd/go.
                let _ = self.cache.store_info(path, version, &info);
                Ok(info)
            }
            other => other,
        }
    }

    fn go_mod(&self, path: &str, version: &str) -> Result<Vec<u8>> {
        match self.cache.go_mod(path, version) {
            Err(e) if e.is_not_found() => {
                let data = self.upstream.go_mod(path, version)?;
                let _ = self.cache.store_go_mod(path, version, &data);
                Ok(data)
            }
            other => other,
        }
    }

    fn zip(&self, path: &str, version: &str) -> Result<Vec<u8>> {
        // cmd/go trusts a cached zip only next to its `.ziphash`.
        let hashed = self
            .cache
            .file(path, version, "ziphash")
            .is_ok_and(|f| f.is_file());
        if hashed {
            match self.cache.zip(path, version) {
                Err(e) if e.is_not_found() => {}
                other => return other,
            }
        }
        let data = self.upstream.zip(path, version)?;
        // A zip with entries outside `path@version/` is refused, as cmd/go refuses it.
        if let Err(message) = check_zip_names(path, version, &data) {
            return Err(Error::Fetch {
                module: path.to_owned(),
                version: version.to_owned(),
                location: self.upstream.describe(),
                message,
            });
        }
        let _ = self.cache.store_zip(path, version, &data);
        Ok(data)
    }

    fn describe(&self) -> String {
        format!(
            "{} then {}",
            self.cache.describe(),
            self.upstream.describe()
        )
    }

    fn is_local(&self) -> bool {
        self.upstream.is_local()
    }
}

fn io_error(path: &str, version: &str, file: &Path, doing: &str, e: &std::io::Error) -> Error {
    Error::Fetch {
        module: path.to_owned(),
        version: version.to_owned(),
        location: file.display().to_string(),
        message: format!("{doing}: {e}"),
    }
}

fn is_usable_info(file: &Path) -> bool {
    fs::read(file).is_ok_and(|data| serde_json::from_slice::<Info>(&data).is_ok())
}

/// Every entry of a module zip must be named `path@version/…` (cmd/go's downloadZip check).
fn check_zip_names(path: &str, version: &str, data: &[u8]) -> Result<(), String> {
    let prefix = format!("{path}@{version}/");
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(data))
        .map_err(|e| format!("invalid zip: {e}"))?;
    for index in 0..archive.len() {
        let entry = archive
            .by_index_raw(index)
            .map_err(|e| format!("invalid zip: {e}"))?;
        let name = String::from_utf8_lossy(entry.name_raw());
        if !name.starts_with(&prefix) {
            return Err(format!(
                "zip for {path}@{version} has unexpected file {name}"
            ));
        }
    }
    Ok(())
}

/// The `.info` document as Go's `json.Marshal` of cmd/go's `RevInfo` writes it.
fn info_json(info: &Info) -> String {
    format!(
        "{{\"Version\":{},\"Time\":{}}}",
        go_json_string(&info.version),
        go_json_string(&go_time(&info.time))
    )
}

/// A JSON string the way Go's encoder writes it: HTML-sensitive characters escaped.
fn go_json_string(s: &str) -> String {
    let json = serde_json::Value::String(s.to_owned()).to_string();
    json.replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}

/// An RFC 3339 time as Go's `time.Time.MarshalJSON` writes it after parsing: fractional seconds without
/// trailing zeros, `Z` for a zero offset; the zero time when empty. Text that is not RFC 3339 is kept.
fn go_time(time: &str) -> String {
    if time.is_empty() {
        return "0001-01-01T00:00:00Z".to_owned();
    }
    let b = time.as_bytes();
    let digits = |range: std::ops::Range<usize>| {
        b.get(range)
            .is_some_and(|d| d.iter().all(u8::is_ascii_digit))
    };
    let shape_ok = b.len() >= 20
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19);
    if !shape_ok {
        return time.to_owned();
    }
    let mut rest = &time[19..];
    let mut frac = "";
    if let Some(after_dot) = rest.strip_prefix('.') {
        let n = after_dot.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return time.to_owned();
        }
        frac = after_dot[..n].trim_end_matches('0');
        rest = &after_dot[n..];
    }
    let zone = match rest {
        "Z" => "Z",
        _ if rest.len() == 6
            && (rest.starts_with('+') || rest.starts_with('-'))
            && digits(time.len() - 5..time.len() - 3)
            && rest.as_bytes()[3] == b':'
            && digits(time.len() - 2..time.len()) =>
        {
            if &rest[1..] == "00:00" {
                "Z"
            } else {
                rest
            }
        }
        _ => return time.to_owned(),
    };
    let dot = if frac.is_empty() { "" } else { "." };
    format!("{}{dot}{frac}{zone}", &time[..19])
}

/// Writes `data` to `file` through a temporary file in the same directory and a rename.
pub(super) fn write_atomic(file: &Path, data: &[u8]) -> std::io::Result<()> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let dir = file.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir)?;
    let base = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    loop {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        // cmd/go names its temporaries `<name><random>.tmp`; so do we, so that its cleanup finds ours.
        let tmp = dir.join(format!(
            "{base}{}{}.tmp",
            std::process::id(),
            u64::from(nanos) ^ n
        ));
        let mut f = match OpenOptions::new().write(true).create_new(true).open(&tmp) {
            Ok(f) => f,
            Err(e) if e.kind() == ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        };
        let written = f.write_all(data).and_then(|()| f.sync_data());
        drop(f);
        if let Err(e) = written.and_then(|()| fs::rename(&tmp, file)) {
            let _ = fs::remove_file(&tmp);
            return Err(e);
        }
        return Ok(());
    }
}

/// Rewrites `dir/list` (`dir` is an `@v` directory) with the sorted canonical versions whose `.mod` file is
/// present, under a lock on the list file, as cmd/go's rewriteVersionList does.
fn rewrite_version_list(dir: &Path) -> std::io::Result<()> {
    let mut list_file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(dir.join("list"))?;
    list_file.lock()?;
    let mut versions = Vec::new();
    for entry in fs::read_dir(dir)? {
        let name = entry?.file_name();
        let name = name.to_string_lossy();
        // cmd/go checks the file name as it is on disk (escaped): a version with upper-case letters
        // (`v1.0.0-!r!c1`) is not canonical there and so is left out of the list, exactly as cmd/go does.
        if let Some(v) = name.strip_suffix(".mod")
            && !v.is_empty()
            && version::canonical_module_version(v).as_deref() == Some(v)
        {
            versions.push(v.to_owned());
        }
    }
    versions.sort_by(|a, b| version::compare(a, b).then_with(|| a.cmp(b)));
    let mut content = String::new();
    for v in &versions {
        content.push_str(v);
        content.push('\n');
    }
    let mut old = Vec::new();
    list_file.read_to_end(&mut old)?;
    if old == content.as_bytes() {
        return Ok(());
    }
    list_file.set_len(0)?;
    list_file.set_len(content.len() as u64)?;
    list_file.seek(SeekFrom::Start(0))?;
    list_file.write_all(content.as_bytes())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_marshalled_as_go_does() {
        assert_eq!(go_time(""), "0001-01-01T00:00:00Z");
        assert_eq!(go_time("2024-01-02T03:04:05Z"), "2024-01-02T03:04:05Z");
        assert_eq!(
            go_time("2024-01-02T03:04:05.120000Z"),
            "2024-01-02T03:04:05.12Z"
        );
        assert_eq!(
            go_time("2024-01-02T03:04:05.000+00:00"),
            "2024-01-02T03:04:05Z"
        );
        assert_eq!(
            go_time("2024-01-02T03:04:05-07:00"),
            "2024-01-02T03:04:05-07:00"
        );
        assert_eq!(go_time("yesterday"), "yesterday");
        assert_eq!(go_time("2024-01-02T03:04:05.Z"), "2024-01-02T03:04:05.Z");
    }

    #[test]
    fn info_json_matches_go() {
        let info = Info {
            version: "v1.0.0".into(),
            time: "2024-01-02T03:04:05Z".into(),
        };
        assert_eq!(
            info_json(&info),
            r#"{"Version":"v1.0.0","Time":"2024-01-02T03:04:05Z"}"#
        );
        assert_eq!(go_json_string("a<b>&"), r#""a\u003cb\u003e\u0026""#);
    }

    #[test]
    fn plain_info_reads_what_the_json_parser_reads() {
        for data in [
            &br#"{"Version":"v1.0.0","Time":"2024-01-02T03:04:05Z"}"#[..],
            b"{\"Version\":\"v1.0.0\",\"Time\":\"2024-01-02T03:04:05Z\"}\n",
            br#"{"Version":"v1.0.0","Time":""}"#,
        ] {
            let parsed: Info = serde_json::from_slice(data).unwrap();
            assert_eq!(plain_info(data), Some(parsed));
        }
        // Escapes, other fields, other orders and spacing: left to the parser.
        for data in [
            &br#"{"Version":"v1.0.0\u0041","Time":"2024-01-02T03:04:05Z"}"#[..],
            br#"{"Version":"v1.0.0","Time":"2024-01-02T03:04:05Z","Origin":{}}"#,
            br#"{"Time":"2024-01-02T03:04:05Z","Version":"v1.0.0"}"#,
            br#"{"Version": "v1.0.0","Time":"2024-01-02T03:04:05Z"}"#,
            br#"{"Version":"v1.0.0"}"#,
            b"",
        ] {
            assert_eq!(plain_info(data), None, "{}", String::from_utf8_lossy(data));
        }
    }

    #[test]
    fn list_holds_sorted_canonical_versions_with_a_mod_file() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ModCache::new(dir.path());
        for v in ["v1.10.0", "v1.2.0", "v1.0.0-RC1", "v2.0.0+incompatible"] {
            cache
                .store_go_mod("example.com/m", v, b"module example.com/m\n")
                .unwrap();
        }
        cache
            .store_info(
                "example.com/m",
                "v1.3.0",
                &Info {
                    version: "v1.3.0".into(),
                    time: String::new(),
                },
            )
            .unwrap();
        let list =
            fs::read_to_string(dir.path().join("cache/download/example.com/m/@v/list")).unwrap();
        assert_eq!(list, "v1.2.0\nv1.10.0\nv2.0.0+incompatible\n");
        assert!(cache.store_go_mod("example.com/m", "v1.2", b"").is_err());
        assert!(
            cache
                .go_mod("example.com/m", "v1.2")
                .unwrap_err()
                .is_not_found()
        );
    }

    #[test]
    fn zips_must_hold_only_the_module() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ModCache::new(dir.path());
        let mut buf = std::io::Cursor::new(Vec::new());
        {
            let mut w = zip::ZipWriter::new(&mut buf);
            w.start_file(
                "other@v1.0.0/go.mod",
                zip::write::SimpleFileOptions::default(),
            )
            .unwrap();
            w.write_all(b"module other\n").unwrap();
            w.finish().unwrap();
        }
        let err = cache
            .store_zip("example.com/m", "v1.0.0", buf.get_ref())
            .unwrap_err()
            .to_string();
        assert!(err.contains("unexpected file other@v1.0.0/go.mod"), "{err}");
        assert!(
            !dir.path()
                .join("cache/download/example.com/m/@v/v1.0.0.zip")
                .exists()
        );
    }
}
