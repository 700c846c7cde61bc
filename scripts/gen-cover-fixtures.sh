#!/usr/bin/env bash
# Regenerates slipway-cover's fixtures from the real Go toolchain.
#
# Inputs: the Go module under crates/slipway-cover/tests/fixtures/src (written by hand for the purpose).
# Outputs (committed): crates/slipway-cover/tests/fixtures/out/
#   <mode>.out          `go test -covermode=<mode> -coverprofile` over ./... (one binary per package)
#   coverpkg-<mode>.out the same with -coverpkg=./... (every binary reports every package: repeated blocks)
#   <name>.func         `go tool cover -func=<name>.out`, run in the module directory
#   <name>.gotest       go test's own "coverage: X% of statements" line per package (timings stripped)
#   <pkg>-<mode>.out    -coverpkg=./... profiles of one test package each (inputs to merge tests)
#   covdata-<mode>.out  `go tool covdata textfmt` over the GOCOVERDIR of the same runs: Go's own merge
#   std.out / std.func  a large profile over standard-library packages (GOROOT source resolution, speed)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
. "$root/scripts/env.sh"
src="$root/crates/slipway-cover/tests/fixtures/src"
out="$root/crates/slipway-cover/tests/fixtures/out"
rm -rf "$out"
mkdir -p "$out"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cd "$src"

# go test prints "ok  <pkg> <time> coverage: ..." or "<pkg> coverage: ..." for untested packages; keep the
# package and the coverage text only, so reruns are byte-stable.
gotest_lines() {
  sed -n 's/^\(ok  \)\{0,1\}\t\([^\t]*\)\t[^\t]*\t\(coverage: .*\)$/\2\t\3/p'
}

for mode in set count atomic; do
  go test -count=1 -covermode="$mode" -coverprofile="$out/$mode.out" ./... | gotest_lines >"$out/$mode.gotest"
  go tool cover -func="$out/$mode.out" >"$out/$mode.func"

  go test -count=1 -covermode="$mode" -coverpkg=./... -coverprofile="$out/coverpkg-$mode.out" ./... \
    | gotest_lines >"$out/coverpkg-$mode.gotest"
  go tool cover -func="$out/coverpkg-$mode.out" >"$out/coverpkg-$mode.func"

  for pkg in shapes user; do
    go test -count=1 -covermode="$mode" -coverpkg=./... -coverprofile="$out/$pkg-$mode.out" "./$pkg" >/dev/null
  done
  rm -rf "$tmp/cov" && mkdir -p "$tmp/cov"
  go test -count=1 -covermode="$mode" -coverpkg=./... ./shapes ./user -args -test.gocoverdir="$tmp/cov" >/dev/null
  go tool covdata textfmt -i "$tmp/cov" -o "$out/covdata-$mode.out"
done

# A large profile: the tests of fmt, instrumenting the standard-library packages it stands on.
# Its counts may differ a little between runs (some of fmt's tests touch timing-dependent code); which
# blocks ran has not, so std.func stays the same.
go test -count=1 -covermode=count -coverpkg=fmt,strconv,strings,bytes,unicode/utf8,unicode,reflect,slices,sort,os,io,errors,math,time,sync \
  -skip TestCountMallocs -coverprofile="$out/std.out" fmt >/dev/null
go tool cover -func="$out/std.out" >"$out/std.func"

echo "fixtures written to $out:"
ls "$out" | wc -l
