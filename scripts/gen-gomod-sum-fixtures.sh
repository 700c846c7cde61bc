#!/usr/bin/env bash
# Builds a file:// module proxy from the module sources in crates/slipway-gomod/tests/fixtures/sum/modules/
# (one directory per `path@version`), zipping each with Go's own golang.org/x/mod/zip (the copy vendored in
# the installed toolchain), then lets the real `go` download from it:
#   tests/fixtures/proxy/<escaped path>/@v/{list,<v>.info,<v>.mod,<v>.zip}  the proxy
#   tests/fixtures/sum/main/{go.mod,main.go,go.sum}                       `go mod tidy` in a module using them
#   tests/fixtures/sum/download.json                                       `go mod download -json` (Sum, GoModSum)
# The sum tests hash every zip, go.mod and module directory and compare with what go recorded.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
. "$root/scripts/env.sh"
fixtures="$root/crates/slipway-gomod/tests/fixtures"
modules="$fixtures/sum/modules"
proxy="$fixtures/proxy"
vendor="$(go env GOROOT)/src/cmd/vendor/golang.org/x/mod"
work="$(mktemp -d)"
trap 'chmod -R u+w "$work"; rm -rf "$work"' EXIT

mkdir -p "$work/xmod"
cp -r "$vendor/." "$work/xmod/"
printf 'module golang.org/x/mod\n\ngo 1.25\n' >"$work/xmod/go.mod"

mkdir -p "$work/mkproxy"
cat >"$work/mkproxy/go.mod" <<'MOD'
module mkproxy

go 1.25

require golang.org/x/mod v0.0.0

replace golang.org/x/mod => ../xmod
MOD
cat >"$work/mkproxy/main.go" <<'GO'
package main

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
	"golang.org/x/mod/zip"
)

func must(err error) {
	if err != nil {
		panic(err)
	}
}

func main() {
	src, proxy := os.Args[1], os.Args[2]
	lists := map[string][]string{}
	must(filepath.WalkDir(src, func(dir string, d fs.DirEntry, err error) error {
		must(err)
		if !d.IsDir() || !strings.Contains(d.Name(), "@") {
			return nil
		}
		rel, _ := filepath.Rel(src, dir)
		rel = filepath.ToSlash(rel)
		at := strings.LastIndex(rel, "@")
		m := module.Version{Path: rel[:at], Version: rel[at+1:]}
		must(module.Check(m.Path, m.Version))
		ep, err := module.EscapePath(m.Path)
		must(err)
		ev, err := module.EscapeVersion(m.Version)
		must(err)
		vdir := filepath.Join(proxy, ep, "@v")
		must(os.MkdirAll(vdir, 0o755))
		f, err := os.Create(filepath.Join(vdir, ev+".zip"))
		must(err)
		must(zip.CreateFromDir(f, m, dir))
		must(f.Close())
		gomod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if os.IsNotExist(err) {
			// What a proxy serves for a module without go.mod.
			gomod = []byte("module " + m.Path + "\n")
		} else {
			must(err)
		}
		must(os.WriteFile(filepath.Join(vdir, ev+".mod"), gomod, 0o644))
		info := fmt.Sprintf("{\"Version\":%q,\"Time\":\"2024-01-02T03:04:05Z\"}\n", m.Version)
		must(os.WriteFile(filepath.Join(vdir, ev+".info"), []byte(info), 0o644))
		if !module.IsPseudoVersion(m.Version) {
			lists[vdir] = append(lists[vdir], m.Version)
		}
		return filepath.SkipDir
	}))
	for vdir, versions := range lists {
		semver.Sort(versions)
		must(os.WriteFile(filepath.Join(vdir, "list"), []byte(strings.Join(versions, "\n")+"\n"), 0o644))
	}
}
GO
rm -rf "$proxy"
mkdir -p "$proxy"
(cd "$work/mkproxy" && GOFLAGS=-mod=mod GOPROXY=off go run . "$modules" "$proxy")

main="$fixtures/sum/main"
rm -rf "$main"
mkdir -p "$main"
cat >"$main/go.mod" <<'MOD'
module example.com/main

go 1.25

require (
	example.com/Upper/Case v1.2.0
	example.com/hello v1.1.0
	example.com/lib/v2 v2.0.0
	example.com/old v2.0.0+incompatible
	example.com/pseudo v0.0.0-20240102030405-abcdefabcdef
	example.com/vend v1.1.0
)
MOD
cat >"$main/main.go" <<'GO'
// Command main uses every fixture module so that `go mod tidy` records them all.
package main

import (
	"fmt"

	Case "example.com/Upper/Case"
	"example.com/hello"
	"example.com/lib/v2"
	"example.com/old"
	"example.com/pseudo"
	_ "example.com/vend"
)

func main() {
	fmt.Println(Case.Name, hello.Hello(), lib.Greet(), old.Old, pseudo.Untagged)
}
GO
export GOPROXY="file://$proxy" GOMODCACHE="$work/modcache" GONOSUMDB='*' GOSUMDB=off GOFLAGS=-mod=mod
(cd "$main" && go mod tidy)
# Every module version in the proxy, including the ones the build list does not select.
all=$(cd "$modules" && find . -mindepth 1 -type d -name '*@*' -prune | sed 's|^\./||' | sort)
(cd "$main" && go mod download -json $all) >"$work/download.json"
# Keep only what does not depend on this machine (the cache paths do).
python3 - "$work/download.json" "$fixtures/sum/download.json" <<'PY'
import json, sys
text = open(sys.argv[1]).read()
dec, i, out = json.JSONDecoder(), 0, []
while i < len(text):
    if text[i].isspace():
        i += 1
        continue
    obj, i = dec.raw_decode(text, i)
    out.append({k: obj[k] for k in ("Path", "Version", "Sum", "GoModSum") if k in obj})
json.dump(out, open(sys.argv[2], "w"), indent=1)
open(sys.argv[2], "a").write("\n")
PY
echo "proxy: $(find "$proxy" -name '*.zip' | wc -l) zips; go.sum: $(wc -l <"$main/go.sum") lines; download.json: $(grep -c '"Sum"' "$fixtures/sum/download.json") modules"
