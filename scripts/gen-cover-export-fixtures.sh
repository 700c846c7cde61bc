#!/usr/bin/env bash
# Regenerates the reference HTML for slipway-cover's HTML export from the real Go toolchain.
#
# Inputs: the profiles scripts/gen-cover-fixtures.sh wrote (crates/slipway-cover/tests/fixtures/out/<mode>.out
# and coverpkg-<mode>.out) over the fixture module crates/slipway-cover/tests/fixtures/src.
# Outputs (committed): crates/slipway-cover/tests/fixtures/export/<name>.html, `go tool cover -html` of each
# profile, run in the module directory. Tests compare the highlighted source of every file byte for byte
# (after undoing the two presentation choices that differ on purpose: Go expands tabs and leaves `"` as is).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
. "$root/scripts/env.sh"
src="$root/crates/slipway-cover/tests/fixtures/src"
in="$root/crates/slipway-cover/tests/fixtures/out"
out="$root/crates/slipway-cover/tests/fixtures/export"
rm -rf "$out"
mkdir -p "$out"
cd "$src"
for name in set count atomic coverpkg-set coverpkg-count coverpkg-atomic; do
  go tool cover -html="$in/$name.out" -o "$out/$name.html"
done
echo "fixtures written to $out:"
ls "$out" | wc -l
