#!/usr/bin/env bash
# Times `slipway cover` against the Go tools, process to process, on the large real profile
# crates/slipway-cover/tests/fixtures/out/std.out (10,665 blocks over 158 standard-library files).
#
#   bash scripts/bench-cover-cli.sh [RUNS]
#
# Both commands run in the fixture module directory with GOROOT exported (as `go tool` itself does),
# interleaved so machine load affects both alike. Prints the mean wall time per run of each and the ratio.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
. "$root/scripts/env.sh"
runs="${1:-20}"
target="${CARGO_TARGET_DIR:-$root/target}"
cargo build --release -q -p slipway-cli
slipway="$target/release/slipway"
profile="$root/crates/slipway-cover/tests/fixtures/out/std.out"
GOROOT="$(go env GOROOT)"
export GOROOT
cd "$root/crates/slipway-cover/tests/fixtures/src"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# Same output first: a speed figure for wrong output would mean nothing.
go tool cover -func="$profile" >"$tmp/go.txt"
"$slipway" cover func "$profile" >"$tmp/slipway.txt"
cmp "$tmp/go.txt" "$tmp/slipway.txt"

now() { date +%s%N; }
go_ns=0 sw_ns=0
for _ in $(seq "$runs"); do
  t0=$(now); go tool cover -func="$profile" >/dev/null; t1=$(now)
  "$slipway" cover func "$profile" >/dev/null; t2=$(now)
  go_ns=$((go_ns + t1 - t0)) sw_ns=$((sw_ns + t2 - t1))
done
echo "cover func, std.out, $runs runs: go tool cover -func $((go_ns / runs / 1000000)) ms, slipway cover func $((sw_ns / runs / 1000000)) ms, ratio $(awk "BEGIN{printf \"%.1f\", $go_ns/$sw_ns}")x"

# Merging 50 large profiles (copies of std.out under different names).
for i in $(seq 50); do cp "$profile" "$tmp/run$i.out"; done
t0=$(now)
for _ in $(seq 5); do "$slipway" cover merge "$tmp"/run*.out -o "$tmp/merged.out"; done
t1=$(now)
echo "cover merge, 50 x std.out ($(wc -l <"$profile") lines each): $(((t1 - t0) / 5 / 1000000)) ms per merge"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs"
