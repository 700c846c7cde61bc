#!/usr/bin/env bash
# Times `slipway cover percent|func|textfmt -i` against `go tool covdata`, process to process, on large
# GOCOVERDIR data: the tests of fmt and of strconv, each instrumenting every standard-library package
# it links (-coverpkg=std): two directories, two pods over mostly the same packages.
#
#   bash scripts/bench-cover-covdata.sh [RUNS]
#
# The data is generated once (a few minutes: the standard library is compiled with coverage) into
# $CARGO_TARGET_DIR/covdata-bench and reused; it is not committed. Outputs are compared byte for byte
# first. Commands are interleaved so machine load affects both alike; the median wall time of RUNS runs
# is printed for `go tool covdata`, for the covdata binary run directly (no `go` wrapper), and for
# slipway.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
. "$root/scripts/env.sh"
runs="${1:-11}"
target="${CARGO_TARGET_DIR:-$root/target}"
cargo build --release -q -p slipway-cli
slipway="$target/release/slipway"
data="$target/covdata-bench"
if [ ! -f "$data/.done" ]; then
  rm -rf "$data"
  mkdir -p "$data/fmt" "$data/strconv"
  (cd "$root/testdata/hello" &&
    go test -count=1 -cover -covermode=count -coverpkg=std -skip TestCountMallocs fmt \
      -args -test.gocoverdir="$data/fmt" >/dev/null &&
    go test -count=1 -cover -covermode=count -coverpkg=std strconv \
      -args -test.gocoverdir="$data/strconv" >/dev/null)
  touch "$data/.done"
fi
# `go tool -n` prints where the covdata binary is (built into the cache on first use).
covdata="$(go tool -n covdata)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cd "$data"
dirs="fmt,strconv"

# Same output first: a speed figure for wrong output would mean nothing.
go tool covdata textfmt -i="$dirs" -o="$tmp/go.txt"
"$slipway" cover textfmt -i "$dirs" -o "$tmp/slipway.txt"
cmp "$tmp/go.txt" "$tmp/slipway.txt"
for cmd in percent func; do
  go tool covdata "$cmd" -i="$dirs" >"$tmp/go.txt"
  "$slipway" cover "$cmd" -i "$dirs" >"$tmp/slipway.txt"
  cmp "$tmp/go.txt" "$tmp/slipway.txt"
done
units=$(($(wc -l <"$tmp/go.txt") - 1))
echo "data: $(du -sh "$data" | cut -f1) in 2 dirs, $(ls "$data"/*/covmeta.* | wc -l) pods," \
  "$(($(go tool covdata textfmt -i="$dirs" -o=/dev/stdout | wc -l) - 1)) units, $units functions"

now() { date +%s%N; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ms() { awk "BEGIN{printf \"%.1f\", $1/1000000}"; }
for cmd in percent func textfmt; do
  : >"$tmp/go.ns" && : >"$tmp/tool.ns" && : >"$tmp/sw.ns"
  for _ in $(seq "$runs"); do
    out=()
    if [ "$cmd" = textfmt ]; then out=(-o="$tmp/out.txt"); fi
    t0=$(now); go tool covdata "$cmd" -i="$dirs" "${out[@]}" >/dev/null; t1=$(now)
    "$covdata" "$cmd" -i="$dirs" "${out[@]}" >/dev/null; t2=$(now)
    if [ "$cmd" = textfmt ]; then
      "$slipway" cover textfmt -i "$dirs" -o "$tmp/out.txt" >/dev/null
    else
      "$slipway" cover "$cmd" -i "$dirs" >/dev/null
    fi
    t3=$(now)
    echo $((t1 - t0)) >>"$tmp/go.ns"; echo $((t2 - t1)) >>"$tmp/tool.ns"; echo $((t3 - t2)) >>"$tmp/sw.ns"
  done
  g=$(median <"$tmp/go.ns") t=$(median <"$tmp/tool.ns") s=$(median <"$tmp/sw.ns")
  echo "$cmd, median of $runs: go tool covdata $(ms "$g") ms, covdata binary $(ms "$t") ms," \
    "slipway $(ms "$s") ms; ratio $(awk "BEGIN{printf \"%.1f\", $g/$s}")x" \
    "($(awk "BEGIN{printf \"%.1f\", $t/$s}")x against the binary)"
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs"
