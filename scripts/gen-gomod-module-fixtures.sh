#!/usr/bin/env bash
# Runs Go's own golang.org/x/mod/module (the copy vendored in the installed Go toolchain) over the inputs in
# crates/slipway-gomod/tests/fixtures/module/{paths,versions,majors}.txt and writes what each function
# returns, one JSON object per line, to crates/slipway-gomod/tests/fixtures/module/go.jsonl.
# The module tests compare slipway_gomod::module / ::pseudo against every line.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
. "$root/scripts/env.sh"
fixtures="$root/crates/slipway-gomod/tests/fixtures/module"
vendor="$(go env GOROOT)/src/cmd/vendor/golang.org/x/mod"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# A module golang.org/x/mod made of the vendored packages the program needs.
mkdir -p "$work/xmod/internal"
cp -r "$vendor/module" "$vendor/semver" "$work/xmod/"
cp -r "$vendor/internal/lazyregexp" "$work/xmod/internal/"
printf 'module golang.org/x/mod\n\ngo 1.22\n' >"$work/xmod/go.mod"

mkdir -p "$work/gen"
cat >"$work/gen/go.mod" <<'MOD'
module fixgen

go 1.22

require golang.org/x/mod v0.0.0

replace golang.org/x/mod => ../xmod
MOD
cat >"$work/gen/main.go" <<'GO'
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
)

type record struct {
	Fn   string   `json:"fn"`
	Args []string `json:"args"`
	Out  string   `json:"out"`
	Err  string   `json:"err"`
}

var out = json.NewEncoder(os.Stdout)

func emit(fn string, args []string, o string, err error) {
	r := record{Fn: fn, Args: args, Out: o}
	if err != nil {
		r.Err = err.Error()
	}
	out.Encode(r)
}

func lines(dir, name string) []string {
	data, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		panic(err)
	}
	return strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
}

func main() {
	out.SetEscapeHTML(false)
	dir := os.Args[1]
	paths, versions, majors := lines(dir, "paths.txt"), lines(dir, "versions.txt"), lines(dir, "majors.txt")
	for _, p := range paths {
		emit("check_path", []string{p}, "", module.CheckPath(p))
		emit("check_import_path", []string{p}, "", module.CheckImportPath(p))
		emit("check_file_path", []string{p}, "", module.CheckFilePath(p))
		prefix, major, ok := module.SplitPathVersion(p)
		if ok {
			emit("split_path_version", []string{p}, prefix+"|"+major, nil)
		} else {
			emit("split_path_version", []string{p}, "", fmt.Errorf("not ok"))
		}
		e, err := module.EscapePath(p)
		emit("escape_path", []string{p}, e, err)
		u, err := module.UnescapePath(p)
		emit("unescape_path", []string{p}, u, err)
		for _, v := range versions {
			emit("check", []string{p, v}, "", module.Check(p, v))
		}
	}
	for _, v := range versions {
		e, err := module.EscapeVersion(v)
		emit("escape_version", []string{v}, e, err)
		u, err := module.UnescapeVersion(v)
		emit("unescape_version", []string{v}, u, err)
		emit("is_pseudo_version", []string{v}, fmt.Sprint(module.IsPseudoVersion(v)), nil)
		emit("is_zero_pseudo_version", []string{v}, fmt.Sprint(module.IsZeroPseudoVersion(v)), nil)
		b, err := module.PseudoVersionBase(v)
		emit("pseudo_version_base", []string{v}, b, err)
		r, err := module.PseudoVersionRev(v)
		emit("pseudo_version_rev", []string{v}, r, err)
		t, err := module.PseudoVersionTime(v)
		ts := ""
		if err == nil {
			ts = t.UTC().Format(module.PseudoVersionTimestampFormat)
		}
		emit("pseudo_version_time", []string{v}, ts, err)
		for _, m := range majors {
			emit("check_path_major", []string{v, m}, "", module.CheckPathMajor(v, m))
		}
		for _, major := range []string{"", "v0", "v1", "v2"} {
			stamp := time.Date(2006, 1, 2, 15, 4, 5, 0, time.UTC)
			emit("pseudo_version", []string{major, v, "20060102150405", "abcdefabcdef"},
				module.PseudoVersion(major, v, stamp, "abcdefabcdef"), nil)
		}
	}
	for _, major := range []string{"v0", "v1", "v2"} {
		emit("zero_pseudo_version", []string{major}, module.ZeroPseudoVersion(major), nil)
	}
	// module.Sort over every path x version pair (with and without /go.mod), printed one per line.
	var list []module.Version
	for _, p := range []string{"rsc.io/quote", "a.b/c", "gopkg.in/yaml.v2"} {
		for _, v := range versions {
			// Versions that compare equal (invalid ones, shorthands, build metadata) have no defined order:
			// only canonical ones take part.
			if semver.Canonical(v) != v {
				continue
			}
			list = append(list, module.Version{Path: p, Version: v}, module.Version{Path: p, Version: v + "/go.mod"})
		}
	}
	slices.Reverse(list) // a reversed start, so sorting has work to do
	module.Sort(list)
	var sorted []string
	for _, m := range list {
		sorted = append(sorted, m.Path+" "+m.Version)
	}
	emit("sort", nil, strings.Join(sorted, "\n"), nil)
}
GO
(cd "$work/gen" && GOFLAGS=-mod=mod GOPROXY=off go run . "$fixtures") >"$fixtures/go.jsonl"
echo "wrote $(wc -l <"$fixtures/go.jsonl") records to $fixtures/go.jsonl"
