//! An in-memory module source, for tests and benchmarks that build module worlds without files.

use std::collections::BTreeMap;

use super::{Artifact, Error, Info, ModuleSource, Result};

#[derive(Debug, Clone, Default)]
struct Stored {
    info: Option<Info>,
    go_mod: Vec<u8>,
    zip: Option<Vec<u8>>,
}

#[derive(Debug, Clone, Default)]
struct ModuleEntry {
    // Versions in the order they were added: `list` serves them in that order, as a proxy would.
    order: Vec<String>,
    versions: BTreeMap<String, Stored>,
}

/// Module versions held in memory: go.mod files, optional zips and `.info` times.
///
/// `list` serves the versions in the order they were added, leaving pseudo-versions out as proxies do.
///
/// ```
/// use slipway_gomod::source::{MemorySource, ModuleSource};
///
/// let mut world = MemorySource::new();
/// world.add("example.com/a", "v1.0.0", "module example.com/a\n\ngo 1.21\n");
/// world.add("example.com/a", "v1.0.1-0.20230102030405-abcdefabcdef", "module example.com/a\n");
/// assert_eq!(world.list("example.com/a")?, ["v1.0.0"]);
/// assert_eq!(world.go_mod("example.com/a", "v1.0.0")?, b"module example.com/a\n\ngo 1.21\n");
/// assert!(world.zip("example.com/a", "v1.0.0").unwrap_err().is_not_found());
/// Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct MemorySource {
    modules: BTreeMap<String, ModuleEntry>,
}

impl MemorySource {
    /// An empty world.
    pub fn new() -> MemorySource {
        MemorySource::default()
    }

    /// Adds (or replaces) `path@version` with the given go.mod contents.
    pub fn add(
        &mut self,
        path: &str,
        version: &str,
        go_mod: impl Into<Vec<u8>>,
    ) -> &mut MemorySource {
        let entry = self.modules.entry(path.to_owned()).or_default();
        let stored = entry.versions.entry(version.to_owned()).or_insert_with(|| {
            entry.order.push(version.to_owned());
            Stored::default()
        });
        stored.go_mod = go_mod.into();
        self
    }

    /// Sets the commit time served in `.info` for a version added before (RFC 3339).
    pub fn set_time(&mut self, path: &str, version: &str, time: &str) -> &mut MemorySource {
        if let Some(stored) = self.stored_mut(path, version) {
            stored.info = Some(Info {
                version: version.to_owned(),
                time: time.to_owned(),
            });
        }
        self
    }

    /// Sets the zip served for a version added before.
    pub fn set_zip(
        &mut self,
        path: &str,
        version: &str,
        zip: impl Into<Vec<u8>>,
    ) -> &mut MemorySource {
        if let Some(stored) = self.stored_mut(path, version) {
            stored.zip = Some(zip.into());
        }
        self
    }

    /// How many module versions the world holds.
    pub fn len(&self) -> usize {
        self.modules.values().map(|m| m.versions.len()).sum()
    }

    /// Whether the world holds no module version.
    pub fn is_empty(&self) -> bool {
        self.modules.is_empty()
    }

    fn stored_mut(&mut self, path: &str, version: &str) -> Option<&mut Stored> {
        self.modules.get_mut(path)?.versions.get_mut(version)
    }

    fn stored(&self, path: &str, version: &str, what: Artifact) -> Result<&Stored> {
        self.modules
            .get(path)
            .and_then(|m| m.versions.get(version))
            .ok_or_else(|| self.not_found(path, version, what))
    }

    fn not_found(&self, path: &str, version: &str, what: Artifact) -> Error {
        Error::NotFound {
            module: path.to_owned(),
            version: version.to_owned(),
            what,
            source_name: self.describe(),
        }
    }
}

impl ModuleSource for MemorySource {
    fn list(&self, path: &str) -> Result<Vec<String>> {
        let entry = self
            .modules
            .get(path)
            .ok_or_else(|| self.not_found(path, "", Artifact::List))?;
        Ok(entry
            .order
            .iter()
            .filter(|v| !crate::pseudo::is_pseudo_version(v))
            .cloned()
            .collect())
    }

    fn info(&self, path: &str, version: &str) -> Result<Info> {
        let stored = self.stored(path, version, Artifact::Info)?;
        Ok(stored.info.clone().unwrap_or_else(|| Info {
            version: version.to_owned(),
            time: String::new(),
        }))
    }

    fn go_mod(&self, path: &str, version: &str) -> Result<Vec<u8>> {
        Ok(self.stored(path, version, Artifact::GoMod)?.go_mod.clone())
    }

    fn zip(&self, path: &str, version: &str) -> Result<Vec<u8>> {
        self.stored(path, version, Artifact::Zip)?
            .zip
            .clone()
            .ok_or_else(|| self.not_found(path, version, Artifact::Zip))
    }

    fn describe(&self) -> String {
        "memory".to_owned()
    }

    fn is_local(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serves_what_was_added() {
        let mut w = MemorySource::new();
        w.add("example.com/a", "v1.1.0", "module example.com/a\n")
            .add("example.com/a", "v1.0.0", "x")
            .set_time("example.com/a", "v1.0.0", "2023-01-02T03:04:05Z")
            .set_zip("example.com/a", "v1.0.0", b"PK".to_vec());
        assert_eq!(w.len(), 2);
        assert!(!w.is_empty());
        assert_eq!(w.list("example.com/a").unwrap(), ["v1.1.0", "v1.0.0"]);
        assert_eq!(
            w.info("example.com/a", "v1.0.0").unwrap().time,
            "2023-01-02T03:04:05Z"
        );
        assert_eq!(w.info("example.com/a", "v1.1.0").unwrap().time, "");
        assert_eq!(w.zip("example.com/a", "v1.0.0").unwrap(), b"PK");
        // Replacing contents keeps the listing order.
        w.add(
            "example.com/a",
            "v1.1.0",
            "module example.com/a\n\ngo 1.22\n",
        );
        assert_eq!(w.list("example.com/a").unwrap(), ["v1.1.0", "v1.0.0"]);
        assert!(w.list("example.com/b").unwrap_err().is_not_found());
        assert!(
            w.go_mod("example.com/a", "v9.0.0")
                .unwrap_err()
                .is_not_found()
        );
    }
}
