#!/usr/bin/env bash
# Regenerates docs/cli.md from the slipway binary's own help (clap), as the CLI test checks it.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cargo run --quiet -p slipway-cli --manifest-path "$root/Cargo.toml" -- cli-reference > "$root/docs/cli.md"
echo "wrote docs/cli.md"
