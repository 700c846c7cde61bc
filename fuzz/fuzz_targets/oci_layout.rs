//! Walks an OCI layout made of fuzzer bytes: opening it, reading index.json, resolving and reading every
//! entry, listing referrers, verifying, and copying every entry with all it names into memory never panic
//! and always end (reads are bounded, nesting is bounded, each manifest is visited once).
//!
//! The input is split at 0xFF bytes (never in UTF-8 JSON): the first part is index.json, the next ones (up
//! to ten) are blobs. In each part `$N` stands for the digest of blob N and `#N` for its size, so that the
//! fuzzer can build graphs; blob N may name only blobs after it, whose digests are known when its own is
//! computed.
#![no_main]

use std::fs;
use std::path::Path;

use libfuzzer_sys::fuzz_target;
use slipway_oci::copy::{CopyOptions, copy};
use slipway_oci::digest::Digest;
use slipway_oci::reference::ManifestRef;
use slipway_oci::store::{ManifestStore, MemoryStore, OciLayout, Referrers};

const MAX_BLOBS: usize = 10;

/// `part` with `$N` / `#N` replaced by blob N's digest / size, for the N that `named` holds.
fn substitute(part: &[u8], named: &[Option<(Digest, usize)>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(part.len());
    let mut i = 0;
    while i < part.len() {
        let b = part[i];
        let target = part
            .get(i + 1)
            .filter(|d| d.is_ascii_digit())
            .and_then(|d| named.get(usize::from(d - b'0')))
            .and_then(Option::as_ref);
        match (b, target) {
            (b'$', Some((digest, _))) => out.extend_from_slice(digest.as_str().as_bytes()),
            (b'#', Some((_, size))) => out.extend_from_slice(size.to_string().as_bytes()),
            _ => {
                out.push(b);
                i += 1;
                continue;
            }
        }
        i += 2;
    }
    out
}

/// Writes the layout the input describes into `dir`.
fn write_layout(dir: &Path, data: &[u8]) -> std::io::Result<()> {
    let mut parts = data.split(|b| *b == 0xFF);
    let index_json = parts.next().unwrap_or_default();
    let raw_blobs: Vec<&[u8]> = parts.take(MAX_BLOBS).collect();
    // Last to first: blob i may name blobs i+1.. only.
    let mut named: Vec<Option<(Digest, usize)>> = vec![None; raw_blobs.len()];
    let mut blobs = vec![Vec::new(); raw_blobs.len()];
    for i in (0..raw_blobs.len()).rev() {
        let mut visible = named.clone();
        for slot in visible.iter_mut().take(i + 1) {
            *slot = None;
        }
        let bytes = substitute(raw_blobs[i], &visible);
        named[i] = Some((Digest::sha256(&bytes), bytes.len()));
        blobs[i] = bytes;
    }
    let _ = fs::remove_dir_all(dir);
    let blob_dir = dir.join("blobs").join("sha256");
    fs::create_dir_all(&blob_dir)?;
    fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#)?;
    fs::write(dir.join("index.json"), substitute(index_json, &named))?;
    for (bytes, slot) in blobs.iter().zip(&named) {
        if let Some((digest, _)) = slot {
            fs::write(blob_dir.join(digest.encoded()), bytes)?;
        }
    }
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let dir = std::env::temp_dir().join(format!("slipway-fuzz-oci-layout-{}", std::process::id()));
    if write_layout(&dir, data).is_err() {
        return;
    }
    let Ok(layout) = OciLayout::open(&dir) else {
        return;
    };
    let _ = layout.tags();
    let _ = layout.resolve(None);
    let _ = layout.verify();
    let Ok(index) = layout.index() else {
        return;
    };
    let memory = MemoryStore::new();
    for entry in index.manifests.iter().take(MAX_BLOBS) {
        let target = ManifestRef::Digest(entry.digest.clone());
        let _ = layout.get_manifest(&target);
        let _ = layout.referrers(&entry.digest, None);
        let _ = copy(
            &layout,
            &target,
            &memory,
            None,
            &CopyOptions::default().all(true),
        );
    }
});
