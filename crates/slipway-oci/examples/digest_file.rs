//! Prints `sha256:<hex>  FILE` for each file, streaming: the process-to-process comparison with
//! `sha256sum` in the README uses this.

use std::fs::File;

use slipway_oci::digest::{Algorithm, digest_reader};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    for path in std::env::args_os().skip(1) {
        let mut file = File::open(&path)?;
        let (digest, _) = digest_reader(Algorithm::Sha256, &mut file)?;
        println!("{digest}  {}", path.to_string_lossy());
    }
    Ok(())
}
