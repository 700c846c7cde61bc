#!/usr/bin/env bash
# Module worlds for minimal version selection, with the real `go list -m all` and `go mod graph` as truth.
#
# A world is a txtar file (crates/slipway-gomod/tests/fixtures/mvs/{cases,random}/NAME.txtar):
#   -- path@version --   the go.mod a file:// proxy serves for that version (plus .info and @v/list entries)
#   -- path@latest --    the proxy's path/@latest document, as is
#   -- some/file --      a file written as is under the world directory (main/go.mod, go.work, a/go.mod, ...)
# `go` runs in the world's `main/` directory with GOPROXY=file://<world>/proxy, a fresh GOMODCACHE and
# GOFLAGS=-mod=mod, once per command on a fresh copy (with -mod=mod `go list -m all` may rewrite go.mod).
# Its stdout, stderr and exit status go to NAME.out:
#   -- list (exit N) --  stdout of `go list -m all`, then `-- list stderr --` and its stderr
#   -- graph (exit N) -- the same for `go mod graph`
# cases/ are written by hand; random/ holds seeded random worlds generated here (same seed, same worlds).
# The Rust tests (tests/gomod/mvs.rs) expand the same txtar files and compare byte for byte.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
. "$root/scripts/env.sh"
fixtures="$root/crates/slipway-gomod/tests/fixtures/mvs"
work="$(mktemp -d)"
trap 'chmod -R u+w "$work"; rm -rf "$work"' EXIT
random_count="${RANDOM_WORLDS:-120}"

go env GOVERSION | sed 's/^go//' >"$fixtures/GOVERSION"

# expand TXTAR DIR: writes the world's files and its proxy under DIR.
expand() {
    python3 - "$1" "$2" <<'PY'
import json, os, re, sys
src, dest = sys.argv[1], sys.argv[2]
name, sections = None, []
for line in open(src, encoding="utf-8").read().splitlines(keepends=True):
    m = re.match(r"^-- (.+) --\n?$", line)
    if m:
        name = m.group(1)
        sections.append([name, ""])
    elif name is not None:
        sections[-1][1] += line
pseudo = re.compile(r"[0-9]{14}-[0-9a-f]{12}(\+incompatible)?$")
def esc(s):
    return re.sub(r"[A-Z]", lambda m: "!" + m.group(0).lower(), s)
lists = {}
for name, body in sections:
    if name.endswith("@latest"):
        d = os.path.join(dest, "proxy", esc(name[: -len("@latest")]))
        os.makedirs(d, exist_ok=True)
        open(os.path.join(d, "@latest"), "w").write(body)
    elif "@" in name:
        path, version = name.rsplit("@", 1)
        d = os.path.join(dest, "proxy", esc(path), "@v")
        os.makedirs(d, exist_ok=True)
        open(os.path.join(d, esc(version) + ".mod"), "w").write(body)
        with open(os.path.join(d, esc(version) + ".info"), "w") as f:
            json.dump({"Version": version, "Time": "2023-01-02T03:04:05Z"}, f, separators=(",", ":"))
        lists.setdefault(d, [])
        if not pseudo.search(version):
            lists[d].append(version)
    else:
        p = os.path.join(dest, name)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        open(p, "w").write(body)
for d, versions in lists.items():
    open(os.path.join(d, "list"), "w").write("".join(v + "\n" for v in versions))
os.makedirs(os.path.join(dest, "main"), exist_ok=True)
PY
}

# run TXTAR: writes TXTAR's .out next to it. Worlds with a go.work also get `go list -m all` with
# -mod=readonly (`list-readonly`), as go refuses -mod=mod in workspace mode. (Outside workspaces
# -mod=readonly needs go.sum entries, which these worlds do not have.)
run() {
    local txtar="$1" out="${1%.txtar}.out" label cmd status flags labels=(list graph)
    : >"$out"
    grep -q '^-- go.work --$' "$txtar" && labels+=(list-readonly)
    for label in "${labels[@]}"; do
        local w="$work/$label"
        rm -rf "$w"
        mkdir -p "$w"
        expand "$txtar" "$w"
        flags=-mod=mod
        case "$label" in
            list) cmd=(go list -m all) ;;
            list-readonly) cmd=(go list -m all) flags=-mod=readonly ;;
            *) cmd=(go mod graph) ;;
        esac
        status=0
        (cd "$w/main" && env GOPROXY="file://$w/proxy" GOMODCACHE="$w/modcache" GOFLAGS="$flags" \
            GOWORK= GONOSUMDB='*' GOSUMDB=off GOTOOLCHAIN=local "${cmd[@]}" >"$work/stdout" 2>"$work/stderr") || status=$?
        # Temporary paths in messages become $WORK (the tests put their own directory there).
        { printf -- '-- %s (exit %d) --\n' "$label" "$status"; cat "$work/stdout"
          printf -- '-- %s stderr --\n' "$label"; cat "$work/stderr"; } | sed "s#$w#\$WORK#g" >>"$out"
        chmod -R u+w "$w"
    done
}

# Seeded random worlds: a handful of modules with a few versions each, random go lines (pruned and not),
# requirements (cycles allowed), and a main module with random requires, excludes and replaces. Worlds
# from 40 on may also have a toolchain line, a directory replacement, and a go.work with a second module.
rm -rf "$fixtures/random"
mkdir -p "$fixtures/random"
python3 - "$fixtures/random" "$random_count" <<'PY'
import random, sys
out, count = sys.argv[1], int(sys.argv[2])
gos = [None, "1.16", "1.17", "1.20", "1.21", "1.22.0", "1.23"]
for n in range(count):
    rnd = random.Random(1000 + n)
    rich = n >= 40
    paths = []
    for i in range(rnd.randint(3, 8)):
        kind = rnd.random()
        if kind < 0.15:
            paths.append(f"example.com/m{i}/v2")
        elif kind < 0.25:
            paths.append(f"gopkg.in/m{i}.v1")
        else:
            paths.append(f"example.com/m{i}")
    def major(p):
        return "v2" if p.endswith("/v2") else "v1" if p.startswith("gopkg.in/") else rnd.choice(["v0", "v1"])
    versions = {}
    for p in paths:
        mj = major(p)
        vs = []
        for k in range(rnd.randint(1, 4)):
            vs.append(f"{mj}.{k}.{rnd.randint(0, 2)}")
        versions[p] = vs
    def gomod(p, go_choices):
        g = rnd.choice(go_choices)
        lines = [f"module {p}\n"]
        if g:
            lines.append(f"\ngo {g}\n")
        reqs = []
        for q in rnd.sample(paths, rnd.randint(0, min(3, len(paths)))):
            if q != p:
                reqs.append(f"require {q} {rnd.choice(versions[q])}\n")
        if reqs:
            lines.append("\n" + "".join(reqs))
        return "".join(lines)
    parts = [f"# random world {n} (seed {1000 + n})\n"]
    for p in paths:
        for v in versions[p]:
            parts.append(f"-- {p}@{v} --\n" + gomod(p, gos))
    main = ["module example.com/main\n"]
    g = rnd.choice(["1.16", "1.17", "1.21", "1.23", "1.16", "1.17"])
    main.append(f"\ngo {g}\n")
    if rich and rnd.random() < 0.2:
        main.append(f"\ntoolchain go{rnd.choice(['1.21.5', '1.23.1', '1.24.0'])}\n")
    main.append("\n")
    for q in rnd.sample(paths, rnd.randint(1, min(4, len(paths)))):
        main.append(f"require {q} {rnd.choice(versions[q])}\n")
    if rnd.random() < 0.3:
        q = rnd.choice(paths)
        main.append(f"\nexclude {q} {rnd.choice(versions[q])}\n")
    if rnd.random() < 0.3:
        q = rnd.choice(paths)
        if rnd.random() < 0.5:
            main.append(f"\nreplace {q} => {q} {rnd.choice(versions[q])}\n")
        else:
            main.append(f"\nreplace {q} {rnd.choice(versions[q])} => {q} {rnd.choice(versions[q])}\n")
    local = None
    if rich and rnd.random() < 0.3:
        local = rnd.choice(paths)
        main.append(f"\nreplace {local} => ../local\n")
    parts.append("-- main/go.mod --\n" + "".join(main))
    if local:
        parts.append("-- local/go.mod --\n" + gomod(local, ["1.17", "1.21", None]))
    if rich and rnd.random() < 0.3:
        work = [f"go {rnd.choice(['1.23', '1.24'])}\n\nuse (\n\t./main\n\t./other\n)\n"]
        if rnd.random() < 0.5:
            q = rnd.choice(paths)
            work.append(f"\nreplace {q} => {q} {rnd.choice(versions[q])}\n")
        parts.append("-- go.work --\n" + "".join(work))
        parts.append("-- other/go.mod --\n" + gomod("example.com/other", ["1.21", "1.22.0", "1.17"]))
    open(f"{out}/{n:03}.txtar", "w").write("".join(parts))
PY

count=0
for txtar in "$fixtures"/cases/*.txtar "$fixtures"/random/*.txtar; do
    run "$txtar"
    count=$((count + 1))
done
echo "gen-gomod-mvs-fixtures: $count worlds" >&2
