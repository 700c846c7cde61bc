#!/usr/bin/env bash
# Times `slipway gomod list` against `go list -m all` (and `slipway gomod graph` against `go mod graph`),
# process to process, on the same generated world and the same warm module cache.
#
# The world: 400 modules x 5 versions (2,000 module versions) in a file:// proxy. Version k of module i
# requires up to three modules further down the chain, so dependency chains run hundreds of modules deep;
# most go.mod files say go 1.21 (pruned), one in ten go 1.16 (unpruned: its whole subgraph is loaded). The
# main module (go 1.21) requires every module at its latest version, as `go mod tidy` would leave it.
#
#   scripts/bench-gomod-list.sh [RUNS]        (default 30 runs each; prints medians)
#   SLIPWAY=/path/to/slipway scripts/bench-gomod-list.sh   to time an existing binary
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
. "$root/scripts/env.sh"
runs="${1:-30}"
work="$(mktemp -d)"
trap 'chmod -R u+w "$work"; rm -rf "$work"' EXIT

if [ -z "${SLIPWAY:-}" ]; then
    (cd "$root" && cargo build --release -q -p slipway-cli)
    SLIPWAY="${CARGO_TARGET_DIR:-$root/target}/release/slipway"
fi

python3 - "$work" <<'PY'
import json, os, random, sys
work = sys.argv[1]
rnd = random.Random(42)
n, versions = 400, 5
def path(i):
    return f"example.com/bench/m{i:03}"
for i in range(n):
    d = os.path.join(work, "proxy", path(i), "@v")
    os.makedirs(d)
    for k in range(versions):
        v = f"v1.{k}.0"
        go = "1.16" if rnd.random() < 0.1 else "1.21"
        reqs = [j for j in range(i + 1, min(n, i + 4))]
        lines = [f"module {path(i)}\n\ngo {go}\n"]
        if reqs:
            lines.append("\nrequire (\n")
            for j in reqs:
                lines.append(f"\t{path(j)} v1.{rnd.randint(0, k)}.0\n")
            lines.append(")\n")
        open(os.path.join(d, v + ".mod"), "w").write("".join(lines))
        json.dump({"Version": v, "Time": "2023-01-02T03:04:05Z"}, open(os.path.join(d, v + ".info"), "w"))
    open(os.path.join(d, "list"), "w").write("".join(f"v1.{k}.0\n" for k in range(versions)))
main = os.path.join(work, "main")
os.makedirs(main)
with open(os.path.join(main, "go.mod"), "w") as f:
    f.write("module example.com/bench/main\n\ngo 1.21\n\nrequire (\n")
    for i in range(n):
        f.write(f"\t{path(i)} v1.{versions - 1}.0\n")
    f.write(")\n")
PY

export GOPROXY="file://$work/proxy" GOMODCACHE="$work/modcache" GOFLAGS=-mod=mod GOTOOLCHAIN=local GOSUMDB=off
unset GOWORK
cd "$work/main"

# Warm the cache (go fills it; slipway reads it first, as go does) and check both agree.
go list -m all >"$work/go.list"
go mod graph >"$work/go.graph"
"$SLIPWAY" gomod list >"$work/slipway.list"   # also writes the module cache pack
SLIPWAY_MODCACHE_PACK=off "$SLIPWAY" gomod list | cmp - "$work/slipway.list"
"$SLIPWAY" gomod graph >"$work/slipway.graph"
cmp "$work/go.list" "$work/slipway.list"
cmp "$work/go.graph" "$work/slipway.graph"
# Directories written less than two seconds before the pack are not trusted from it ("racy"): let them
# age, then let slipway rewrite the pack once, so that the runs below measure the steady state.
sleep 2
"$SLIPWAY" gomod list >/dev/null
echo "world: $(find "$work/proxy" -name '*.mod' | wc -l) module versions; build list $(wc -l <"$work/go.list") lines, graph $(wc -l <"$work/go.graph") edges; outputs identical"

# Each command runs RUNS times, the five interleaved round by round (so that a busy spell on a shared
# machine lands on all of them alike), timed with a monotonic clock around fork/exec/wait; CPU time is
# user + system from getrusage. Medians are printed; on a shared machine wall time mostly measures
# waiting for a CPU, so CPU time is shown too.
python3 - "$runs" "$SLIPWAY" "$(command -v go)" <<'PY'
import os, resource, statistics, subprocess, sys, time
runs, slipway, go = int(sys.argv[1]), sys.argv[2], sys.argv[3]
commands = [
    ("go list -m all", [go, "list", "-m", "all"], {}),
    ("slipway gomod list", [slipway, "gomod", "list"], {}),
    # Without the module cache pack (cache/slipway/pack): every .mod and .info read from its own file.
    ("  without the pack", [slipway, "gomod", "list"], {"SLIPWAY_MODCACHE_PACK": "off"}),
    ("go mod graph", [go, "mod", "graph"], {}),
    ("slipway gomod graph", [slipway, "gomod", "graph"], {}),
]
wall = {name: [] for name, _, _ in commands}
cpu = {name: [] for name, _, _ in commands}
for _ in range(runs):
    for name, argv, extra in commands:
        env = dict(os.environ, **extra)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(argv, stdout=subprocess.DEVNULL, env=env, check=True)
        wall[name].append((time.perf_counter() - start) * 1000)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu[name].append((after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1000)
median = {name: (statistics.median(wall[name]), statistics.median(cpu[name])) for name, _, _ in commands}
print(f"{'median of ' + str(runs) + ' runs':22} {'wall ms':>8} {'CPU ms':>8}")
for name, _, _ in commands:
    w, c = median[name]
    line = f"{name:22} {w:8.1f} {c:8.1f}"
    base = "go list -m all" if "list" in name or "pack" in name else "go mod graph"
    if name != base:
        bw, bc = median[base]
        line += f"   ({bw / w:.1f}x wall, {bc / c:.1f}x CPU)"
    print(line)
PY
