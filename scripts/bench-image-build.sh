#!/usr/bin/env bash
# Side by side: `slipway image build` of testdata/hello ./cmd/hello for linux/amd64 into a fresh OCI
# layout against plain `go build` of the same package for the same platform (CGO_ENABLED=0, -trimpath,
# which is how slipway calls go build). One untimed warm-up run of each first, so both find Go's build
# cache warm; then RUNS runs of each, interleaved; prints the mean and range of each, the binary used,
# the machine and the date.
#
#   bash scripts/bench-image-build.sh [RUNS]     (default 10)
#
# The slipway binary: $SLIPWAY when set, else target/debug/slipway (or $CARGO_TARGET_DIR/debug/slipway)
# when present, else `cargo build -p slipway-cli` first. A debug build: the image assembly (tar, gzip,
# SHA-256, SBOM) runs unoptimised, so the figure is an upper bound for slipway's own share.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
runs="${1:-10}"
. "$root/scripts/env.sh"

slipway="${SLIPWAY:-}"
if [ -z "$slipway" ]; then
  for candidate in "$root/target/debug/slipway" "${CARGO_TARGET_DIR:-$root/target}/debug/slipway"; do
    if [ -x "$candidate" ]; then slipway="$candidate"; break; fi
  done
fi
if [ -z "$slipway" ]; then
  cargo build --quiet -p slipway-cli --manifest-path "$root/Cargo.toml"
  slipway="${CARGO_TARGET_DIR:-$root/target}/debug/slipway"
fi

module="$root/testdata/hello"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

now() { date +%s%N; }
slipway_build() {
  rm -rf "$work/layout"
  "$slipway" image build -C "$module" --platform linux/amd64 --to "oci:$work/layout:bench" ./cmd/hello \
    >/dev/null 2>"$work/slipway.err" || { cat "$work/slipway.err" >&2; exit 1; }
}
go_build() {
  rm -f "$work/hello"
  (cd "$module" && CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go build -trimpath -o "$work/hello" ./cmd/hello)
}

# Warm-up: fills Go's build cache for this package and platform (both tools share it).
slipway_build
go_build

s_times=()
g_times=()
for _ in $(seq 1 "$runs"); do
  t0=$(now); slipway_build; t1=$(now)
  go_build; t2=$(now)
  s_times+=($(( (t1 - t0) / 1000000 )))
  g_times+=($(( (t2 - t1) / 1000000 )))
done

stats() { printf '%s\n' "$@" | awk '{s+=$1; if(NR==1||$1<lo)lo=$1; if(NR==1||$1>hi)hi=$1} END {printf "mean %.0f ms (range %d-%d ms)", s/NR, lo, hi}'; }

printf 'date:    %s\n' "$(date -u +%Y-%m-%dT%H:%MZ)"
printf 'machine: %s, %s cores, %s, load average %s\n' "$(uname -m)" "$(nproc)" \
  "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)" "$(cut -d' ' -f1-3 /proc/loadavg)"
printf 'go:      %s\n' "$(go version)"
printf 'slipway: %s (%s)\n' "$slipway" "$("$slipway" --version)"
printf 'image:   %s bytes of layout (app layer, CA layer, SBOM)\n' "$(du -sb "$work/layout" | cut -f1)"
printf 'runs:    %s each, interleaved, warm build cache\n' "$runs"
printf 'slipway image build --platform linux/amd64 --to oci:DIR:TAG ./cmd/hello: %s\n' "$(stats "${s_times[@]}")"
printf 'go build -trimpath (CGO_ENABLED=0 GOOS=linux GOARCH=amd64) ./cmd/hello:   %s\n' "$(stats "${g_times[@]}")"
