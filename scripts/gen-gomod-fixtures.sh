#!/usr/bin/env bash
# Regenerates slipway-gomod's go.mod / go.work fixtures from the real Go toolchain.
#
# Inputs (written by hand): crates/slipway-gomod/tests/fixtures/modfile/*.mod and *.work
# Outputs (committed, beside each input NAME):
#   NAME.json  `go mod edit -json NAME` (`go work edit -json NAME` for *.work) when Go accepts the file
#   NAME.fmt   the file after `go mod edit -fmt NAME` (`go work edit -fmt`), run on a copy
#   NAME.err   Go's stderr when it rejects the file (then there is no .json or .fmt)
# Each command runs in a scratch directory holding only a copy of the input, under its own name, so the
# file names in Go's messages are the bare NAME.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
. "$root/scripts/env.sh"
dir="$root/crates/slipway-gomod/tests/fixtures/modfile"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
rm -f "$dir"/*.json "$dir"/*.fmt "$dir"/*.err
accepted=0
rejected=0
for input in "$dir"/*.mod "$dir"/*.work; do
  name="$(basename "$input")"
  case "$name" in
    *.work) tool=work ;;
    *) tool=mod ;;
  esac
  rm -rf "$tmp/run" && mkdir "$tmp/run"
  cp "$input" "$tmp/run/$name"
  if (cd "$tmp/run" && go "$tool" edit -json "$name" >"$tmp/json" 2>"$tmp/err"); then
    cp "$tmp/json" "$dir/$name.json"
    (cd "$tmp/run" && go "$tool" edit -fmt "$name")
    cp "$tmp/run/$name" "$dir/$name.fmt"
    accepted=$((accepted + 1))
  else
    cp "$tmp/err" "$dir/$name.err"
    rejected=$((rejected + 1))
  fi
done
echo "gen-gomod-fixtures: $accepted accepted, $rejected rejected ($(go version))"
