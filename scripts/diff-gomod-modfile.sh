#!/usr/bin/env bash
# Differential check of `slipway gomod parse --json` / `slipway gomod fmt` against the real
# `go mod edit -json` / `-fmt` and `go work edit -json` / `-fmt` on generated go.mod and go.work files
# (random mixes of every directive, blocks, comments, quoting, CRLF). Prints each mismatch and a summary;
# exits 1 on any mismatch.
#   scripts/diff-gomod-modfile.sh [COUNT] [SLIPWAY_BINARY]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
. "$root/scripts/env.sh"
count="${1:-200}"
slipway="${2:-$root/target/debug/slipway}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/gen.py" <<'PY'
import random, sys
r = random.Random(int(sys.argv[1])); work = sys.argv[2] == "work"
def com(): return r.choice(["// c", "//x", "// indirect", "//indirect; why", "// Deprecated: old", "//   spaced  ", "// indirect x", "//"])
def sfx(): return (" " + com()) if r.random() < 0.3 else ""
def path(): return r.choice(["example.com/a", "example.com/b/v2", "gopkg.in/yaml.v3", "\"example.com/q\"", "\"ex ample.com/s\"", "example.com/c", "golang.org/x/mod", "Example.com/Up", "example.com/a/v1"])
def ver(p):
    if "v2" in p: return r.choice(["v2.0.0", "v2.1", "v2.3.4-rc.1", "v1.0.0"])
    if "yaml.v3" in p: return r.choice(["v3.0.1", "v3"])
    return r.choice(["v1.0.0", "v1", "v0.1", "v1.2.3+meta", "v2.0.0+incompatible", "\"v1.5.0\"", "v0.0.0-20200101000000-abcdefabcdef", "latest"])
def rep():
    p = path(); old = p + ((" " + ver(p)) if r.random() < 0.4 else "")
    if r.random() < 0.5: new = r.choice(["./x", "../y", "/abs/z", "\"./with space\"", ".", "x@v1"])
    else: q = path(); new = q + " " + ver(q)
    return f"{old} => {new}"
def line(verb):
    if verb in ("require", "exclude"): p = path(); return f"{p} {ver(p)}"
    if verb == "replace": return rep()
    if verb == "retract": return r.choice(["v1.0.0", "[v1.0.0, v1.2.0]", "v0.9.0", "[v0.1.0,v0.2.0]", "v1.0.0 // why", "[v1"])
    if verb == "godebug": return r.choice(["a=1", "b=2", "default=go1.21", "zz=", "nokey"])
    if verb in ("tool", "ignore"): return r.choice(["./cmd/x", "example.com/t/cmd", "\"./sp ace\"", "./a"])
    if verb == "use": return r.choice(["./a", "../b", "\"./c d\"", "."])
verbs = ["godebug", "use", "replace"] if work else ["require", "exclude", "replace", "retract", "godebug", "tool", "ignore"]
out = []
if r.random() < 0.7: out.append(com())
if not work: out.append(r.choice(["module example.com/m", "module \"example.com/m\"", "module example.com/m/v2"]) + sfx())
if r.random() < 0.8: out.append("go " + r.choice(["1.21", "1.22.3", "1.20", "1.21rc1", "1.23.0", "1.21.x"]) + sfx())
if r.random() < 0.3: out.append("toolchain " + r.choice(["go1.22.0", "default", "go1.23rc1-x"]))
for _ in range(r.randint(0, 8)):
    v = r.choice(verbs)
    if r.random() < 0.3: out.append(com())
    if r.random() < 0.5:
        out.append(f"{v} {line(v)}{sfx()}")
    else:
        body = [f"{v} ({sfx()}"]
        for _ in range(r.randint(0, 5)):
            if r.random() < 0.2: body.append("")
            if r.random() < 0.2: body.append("\t" + com())
            body.append("\t" + line(v) + sfx())
        if r.random() < 0.2: body.append("\t" + com())
        body.append(")" + sfx())
        out.extend(body)
    if r.random() < 0.5: out.append("")
nl = "\r\n" if r.random() < 0.1 else "\n"
sys.stdout.write(nl.join(out) + (nl if r.random() < 0.9 else ""))
PY
cd "$tmp"
accepted=0 rejected=0 mismatches=0
for i in $(seq 1 "$count"); do
  for ext in mod work; do
    f="f$i.$ext"
    python3 gen.py "$i" "$ext" >"$f"
    if go "$ext" edit -json "$f" >go.json 2>go.err; then
      accepted=$((accepted + 1))
      "$slipway" gomod parse --json "$f" >our.json 2>/dev/null || true
      "$slipway" gomod fmt "$f" >our.fmt 2>/dev/null || true
      go "$ext" edit -fmt "$f"
      cmp -s go.json our.json || { echo "json differs: seed $i $ext"; mismatches=$((mismatches + 1)); }
      cmp -s "$f" our.fmt || { echo "fmt differs: seed $i $ext"; mismatches=$((mismatches + 1)); }
    else
      rejected=$((rejected + 1))
      if "$slipway" gomod parse --json "$f" >/dev/null 2>our.err; then
        echo "accepted what go rejects: seed $i $ext"; mismatches=$((mismatches + 1))
      else
        grep -v 'errors parsing' go.err >go2.err || true
        cmp -s go2.err our.err || { echo "error differs: seed $i $ext"; mismatches=$((mismatches + 1)); }
      fi
    fi
  done
done
echo "diff-gomod-modfile: $accepted accepted, $rejected rejected, $mismatches mismatches"
[ "$mismatches" -eq 0 ]
