//! Pods: one meta-data file and the counter-data files that belong to it, gathered from directories
//! the way Go's `internal/coverage/pods` gathers them.

use std::path::PathBuf;

use super::Error;

/// A meta-data file and its counter-data files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pod {
    /// The meta-data file, named as Go names it (`filepath.Join(dir, name)`).
    pub meta_file: String,
    /// Where to read it.
    pub meta_path: PathBuf,
    /// Its counter-data files, by input directory then name.
    pub counter_files: Vec<PodCounterFile>,
}

/// A counter-data file of a [`Pod`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodCounterFile {
    /// The file, named as Go names it.
    pub name: String,
    /// Where to read it.
    pub path: PathBuf,
    /// The index of the input directory it was found in.
    pub origin: usize,
    /// The process id from its name.
    pub pid: i64,
}

/// Collects the pods of `dirs`, sorted by meta-data file name.
///
/// A meta-data file is `covmeta.<hash>`; a counter-data file `covcounters.<hash>.<pid>.<nanotime>` joins
/// the pod of the first `covmeta.<hash>` found (directories in order, names sorted); counter files
/// without a meta-data file are skipped, as are sub-directories and other files.
///
/// # Errors
/// [`Error::ReadDir`] when a directory cannot be listed.
pub fn collect_pods<S: AsRef<str>>(dirs: &[S]) -> Result<Vec<Pod>, Error> {
    let mut files: Vec<(String, PathBuf, String, usize)> = Vec::new();
    for (origin, dir) in dirs.iter().enumerate() {
        let dir = dir.as_ref();
        let read_err = |error: std::io::Error| Error::ReadDir {
            dir: dir.to_owned(),
            error,
        };
        // Go's os.ReadDir lists in name order.
        let mut entries: Vec<(String, PathBuf)> = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(read_err)? {
            let entry = entry.map_err(read_err)?;
            // Like Go's DirEntry.IsDir: a symbolic link is not followed.
            if entry.file_type().map_err(read_err)?.is_dir() {
                continue;
            }
            let name = entry.file_name().to_string_lossy().into_owned();
            entries.push((name, entry.path()));
        }
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        for (name, path) in entries {
            let joined = go_join(dir, &name);
            files.push((name, path, joined, origin));
        }
    }

    let mut pods: Vec<(String, Pod)> = Vec::new();
    for (name, path, joined, _) in &files {
        if let Some(tag) = meta_tag(name)
            && !pods.iter().any(|(t, _)| t == tag)
        {
            pods.push((
                tag.to_owned(),
                Pod {
                    meta_file: joined.clone(),
                    meta_path: path.clone(),
                    counter_files: Vec::new(),
                },
            ));
        }
    }
    if pods.is_empty() {
        return Ok(Vec::new());
    }
    for (name, path, joined, origin) in files {
        if let Some((tag, pid)) = counter_tag(&name)
            && let Some((_, pod)) = pods.iter_mut().find(|(t, _)| t == tag)
        {
            pod.counter_files.push(PodCounterFile {
                name: joined,
                path,
                origin,
                pid,
            });
        }
    }
    let mut pods: Vec<Pod> = pods.into_iter().map(|(_, p)| p).collect();
    for pod in &mut pods {
        pod.counter_files
            .sort_by(|a, b| (a.origin, &a.name).cmp(&(b.origin, &b.name)));
    }
    pods.sort_by(|a, b| a.meta_file.cmp(&b.meta_file));
    Ok(pods)
}

/// Go's `\S`: anything but ASCII tab, newline, form feed, carriage return and space.
fn is_go_space(b: u8) -> bool {
    matches!(b, b'\t' | b'\n' | 0x0c | b'\r' | b' ')
}

/// The `<hash>` of `covmeta.<hash>` (`^covmeta\.(\S+)$`).
fn meta_tag(name: &str) -> Option<&str> {
    let tag = name.strip_prefix("covmeta.")?;
    (!tag.is_empty() && !tag.bytes().any(is_go_space)).then_some(tag)
}

/// The `<hash>` and pid of `covcounters.<hash>.<pid>.<nanotime>` (`^covcounters\.(\S+)\.(\d+)\.(\d+)+$`,
/// where the greedy `\S+` leaves the last two dot-separated fields to the numbers).
fn counter_tag(name: &str) -> Option<(&str, i64)> {
    let rest = name.strip_prefix("covcounters.")?;
    if rest.bytes().any(is_go_space) {
        return None;
    }
    let (rest, time) = rest.rsplit_once('.')?;
    let (tag, pid) = rest.rsplit_once('.')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if tag.is_empty() || !digits(pid) || !digits(time) {
        return None;
    }
    // Go skips the file when the pid does not fit an int.
    Some((tag, pid.parse().ok()?))
}

/// Go's `filepath.Join(dir, name)` on Unix: join with `/`, then `filepath.Clean`.
pub(crate) fn go_join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        return go_clean(name);
    }
    go_clean(&format!("{dir}/{name}"))
}

/// Go's `filepath.Clean` on Unix.
pub(crate) fn go_clean(path: &str) -> String {
    if path.is_empty() {
        return ".".to_owned();
    }
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|p| *p != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            other => parts.push(other),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_owned(),
        (false, false) => joined,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_matches_go() {
        for (input, want) in [
            ("", "."),
            ("a/b", "a/b"),
            ("./a//b/", "a/b"),
            ("a/../..", ".."),
            ("/../a", "/a"),
            ("/", "/"),
            ("a/./b/../c", "a/c"),
            ("../../x", "../../x"),
        ] {
            assert_eq!(go_clean(input), want, "{input}");
        }
        assert_eq!(go_join("./cov/", "covmeta.x"), "cov/covmeta.x");
    }

    #[test]
    fn file_names_match_gos_patterns() {
        assert_eq!(meta_tag("covmeta.abc"), Some("abc"));
        assert_eq!(meta_tag("covmeta."), None);
        assert_eq!(meta_tag("covmeta.a b"), None);
        assert_eq!(counter_tag("covcounters.abc.12.34"), Some(("abc", 12)));
        assert_eq!(counter_tag("covcounters.a.1.2.3"), Some(("a.1", 2)));
        assert_eq!(counter_tag("covcounters.abc.12"), None);
        assert_eq!(counter_tag("covcounters.abc.x.34"), None);
        assert_eq!(counter_tag("covcounters.abc.99999999999999999999.1"), None);
    }
}
