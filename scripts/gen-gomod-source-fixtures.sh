#!/usr/bin/env bash
# Runs Go's own module.MatchPrefixPatterns (golang.org/x/mod as vendored in the installed Go toolchain: the
# matcher cmd/go applies to GOPRIVATE, GONOPROXY, GONOSUMDB and GOINSECURE) over every glob list x module
# path pair built from crates/slipway-gomod/tests/fixtures/source/{globs,targets}.txt and writes
# crates/slipway-gomod/tests/fixtures/source/match.tsv: `glob-list TAB target TAB true|false` per line.
# The source tests compare slipway_gomod::source::match_prefix_patterns against every line.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
. "$root/scripts/env.sh"
fixtures="$root/crates/slipway-gomod/tests/fixtures/source"
vendor="$(go env GOROOT)/src/cmd/vendor/golang.org/x/mod"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

mkdir -p "$work/xmod/internal"
cp -r "$vendor/module" "$vendor/semver" "$work/xmod/"
cp -r "$vendor/internal/lazyregexp" "$work/xmod/internal/"
printf 'module golang.org/x/mod\n\ngo 1.22\n' >"$work/xmod/go.mod"

mkdir -p "$work/gen"
printf 'module fixgen\n\ngo 1.22\n\nrequire golang.org/x/mod v0.0.0\n\nreplace golang.org/x/mod => ../xmod\n' \
    >"$work/gen/go.mod"
cat >"$work/gen/main.go" <<'GO'
package main

import (
	"bufio"
	"fmt"
	"os"
	"strings"

	"golang.org/x/mod/module"
)

func lines(name string) []string {
	data, err := os.ReadFile(name)
	if err != nil {
		panic(err)
	}
	var out []string
	for _, l := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		out = append(out, l)
	}
	return out
}

func main() {
	w := bufio.NewWriter(os.Stdout)
	defer w.Flush()
	for _, g := range lines(os.Args[1]) {
		for _, t := range lines(os.Args[2]) {
			fmt.Fprintf(w, "%s\t%s\t%v\n", g, t, module.MatchPrefixPatterns(g, t))
		}
	}
}
GO
(cd "$work/gen" && GOFLAGS=-mod=mod go run . "$fixtures/globs.txt" "$fixtures/targets.txt") >"$fixtures/match.tsv"
echo "wrote $(wc -l <"$fixtures/match.tsv") lines to $fixtures/match.tsv" >&2
