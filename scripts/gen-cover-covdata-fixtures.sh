#!/usr/bin/env bash
# Regenerates slipway-cover's binary coverage data (GOCOVERDIR) fixtures from the real Go toolchain.
#
# Input: the Go module crates/slipway-cover/tests/fixtures/covdata/src (written for the purpose: methods,
# generics, closures, package-level function literals, //line directives, a file and a package with no
# statements, an untested package, a main whose paths end in os.Exit).
# Outputs (committed) under crates/slipway-cover/tests/fixtures/covdata/:
#   data/<dir>/        coverage directories: covmeta.<hash> + covcounters.<hash>.<pid>.<nanotime> files
#     set-a, set-b     `go build -cover -covermode=set` binary, several runs each (one pod over two dirs)
#     count-a, count-b the same with -covermode=count (-coverpkg=./...)
#     atomic-a         -covermode=atomic
#     test-count       `go test -cover -covermode=count -coverpkg=./... ./... -args -test.gocoverdir=DIR`
#                      (one meta file per test binary: several pods over the same packages)
#     test-set         the same with -covermode=set
#     nothing          no coverage files at all
#   cases.txt          one case per line: NAME<TAB>DIRS (comma separated, relative to data/)[<TAB>PKG pattern]
#   out/<case>.<cmd>   for cmd in func, percent, textfmt: what `go tool covdata <cmd> -i=DIRS` printed
#                      (textfmt: the -o file); <case>.<cmd>.err holds stderr when it is not empty and
#                      <case>.<cmd>.rc the exit status when it is not 0.
#   ops.txt            one case per line: NAME<TAB>subtract|intersect<TAB>DIRS
#   out/<name>.textfmt for those: `go tool covdata <op> -i=DIRS -o=TMP` then `go tool covdata textfmt -i=TMP`
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
. "$root/scripts/env.sh"
base="$root/crates/slipway-cover/tests/fixtures/covdata"
src="$base/src"
data="$base/data"
out="$base/out"
rm -rf "$data" "$out"
mkdir -p "$data" "$out"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cd "$src"

# Runs the binary once per argument list, all writing into one coverage directory. Exit statuses other
# than 0 are expected (os.Exit paths) and ignored.
run_all() {
  local bin="$1" dir="$2"
  shift 2
  mkdir -p "$dir"
  for args in "$@"; do
    # shellcheck disable=SC2086 # word splitting of the argument list is intended
    GOCOVERDIR="$dir" "$bin" $args >/dev/null 2>&1 || true
  done
}

go build -cover -covermode=set -o "$tmp/app-set" ./cmd/app
run_all "$tmp/app-set" "$data/set-a" "" "sum" "sqrt"
run_all "$tmp/app-set" "$data/set-b" "greet" "lines" "many"

go build -cover -covermode=count -coverpkg=./... -o "$tmp/app-count" ./cmd/app
run_all "$tmp/app-count" "$data/count-a" "" "many" "many" "sqrt"
run_all "$tmp/app-count" "$data/count-b" "lines" "greet" "sum"

go build -cover -covermode=atomic -coverpkg=./... -o "$tmp/app-atomic" ./cmd/app
run_all "$tmp/app-atomic" "$data/atomic-a" "" "sum" "many"

for mode in count set; do
  mkdir -p "$data/test-$mode"
  go test -count=1 -cover -covermode="$mode" -coverpkg=./... ./... -args -test.gocoverdir="$data/test-$mode" >/dev/null
done

mkdir -p "$data/nothing"
echo "No coverage files here: go tool covdata warns and prints nothing." >"$data/nothing/README.txt"

cat >"$base/cases.txt" <<'CASES'
set-a	set-a
set-ab	set-a,set-b
count-a	count-a
count-ab	count-b,count-a
atomic-a	atomic-a
test-count	test-count
test-set	test-set
count-test	count-a,test-count
mixed	set-a,count-a
pkg-calc	count-ab	example.com/covd/calc
pkg-all	test-count	example.com/covd/...
pkg-none	test-set	nomatch/...
nothing	nothing
missing	no-such-dir
CASES
# pkg-calc reads both count dirs: the DIRS column is rewritten below for it.
sed -i 's/^pkg-calc\tcount-ab\t/pkg-calc\tcount-a,count-b\t/' "$base/cases.txt"

# Paths in Go's messages are the -i arguments joined with the file names: run from data/ with relative
# directory names so the committed messages do not depend on where the repository lives.
cd "$data"
while IFS=$'\t' read -r name dirs pkg; do
  for cmd in func percent textfmt; do
    args=(-i="$dirs")
    if [ -n "${pkg:-}" ]; then args+=(-pkg="$pkg"); fi
    if [ "$cmd" = textfmt ]; then
      rm -f "$tmp/text.out"
      rc=0
      go tool covdata textfmt "${args[@]}" -o="$tmp/text.out" >/dev/null 2>"$out/$name.$cmd.err" || rc=$?
      if [ -f "$tmp/text.out" ]; then cp "$tmp/text.out" "$out/$name.$cmd"; fi
    else
      rc=0
      go tool covdata "$cmd" "${args[@]}" >"$out/$name.$cmd" 2>"$out/$name.$cmd.err" || rc=$?
    fi
    if [ ! -s "$out/$name.$cmd.err" ]; then rm -f "$out/$name.$cmd.err"; fi
    if [ "$rc" != 0 ]; then echo "$rc" >"$out/$name.$cmd.rc"; fi
  done
done <"$base/cases.txt"

cat >"$base/ops.txt" <<'OPS'
sub-set	subtract	set-a,set-b
sub-count	subtract	count-a,test-count
int-count	intersect	count-a,count-b
int-test	intersect	count-a,test-count
int-self	intersect	atomic-a,atomic-a
OPS
while IFS=$'\t' read -r name op dirs; do
  rm -rf "$tmp/op" && mkdir -p "$tmp/op"
  go tool covdata "$op" -i="$dirs" -o="$tmp/op"
  go tool covdata textfmt -i="$tmp/op" -o="$out/$name.textfmt"
done <"$base/ops.txt"

echo "covdata fixtures: $(find "$data" -type f | wc -l) data files, $(ls "$out" | wc -l) outputs"
