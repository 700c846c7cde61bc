#!/usr/bin/env bash
# Times `slipway gomod list` against `go list -m all` (and `slipway gomod graph` against `go mod graph`),
# process to process, on the same generated world and the same warm module cache.
#
# The world: 400 modules x 5 versions (2,000 module versions) in a file:// proxy. Version k of module i
# requires up to three modules further down the chain, so dependency chains run hundreds of modules deep;
# most go.mod files say go 1.21 (pruned), one in ten go 1.16 (unpruned: its whole subgraph is loaded). The
# main module (go 1.21) requires every module at its latest version, as `go mod tidy` would leave it.
#
#   scripts/bench-gomod-list.sh [RUNS]        (default 15 runs each; prints medians)
#   SLIPWAY=/path/to/slipway scripts/bench-gomod-list.sh   to time an existing binary
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
. "$root/scripts/env.sh"
runs="${1:-15}"
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
echo "world: $(find "$work/proxy" -name '*.mod' | wc -l) module versions; build list $(wc -l <"$work/go.list") lines, graph $(wc -l <"$work/go.graph") edges; outputs identical"

# measure CMD...: medians over RUNS runs of wall time and of CPU time (user + system), in milliseconds.
# Both are shown: on a shared machine wall time mostly measures waiting for a CPU.
measure() {
    local i walls=() cpus=()
    for ((i = 0; i < runs; i++)); do
        /usr/bin/time -f '%e %U %S' -o "$work/time" "$@" >/dev/null
        read -r e u s <"$work/time"
        walls+=("$(echo "$e * 1000" | bc -l)")
        cpus+=("$(echo "($u + $s) * 1000" | bc -l)")
    done
    printf '%s %s\n' "$(median "${walls[@]}")" "$(median "${cpus[@]}")"
}
median() {
    printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {m = (NR % 2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2; printf "%.0f\n", m}'
}

read -r go_list_wall go_list_cpu <<<"$(measure go list -m all)"
read -r sw_list_wall sw_list_cpu <<<"$(measure "$SLIPWAY" gomod list)"
# Without the module cache pack (cache/slipway/pack): every .mod and .info read from its own file.
read -r raw_list_wall raw_list_cpu <<<"$(measure env SLIPWAY_MODCACHE_PACK=off "$SLIPWAY" gomod list)"
read -r go_graph_wall go_graph_cpu <<<"$(measure go mod graph)"
read -r sw_graph_wall sw_graph_cpu <<<"$(measure "$SLIPWAY" gomod graph)"
ratio() { echo "scale=1; $1 / ($2 + 0.0001)" | bc -l; }
printf '%-22s %8s %8s\n' "median of $runs runs" "wall ms" "CPU ms"
printf '%-22s %8s %8s\n' "go list -m all" "$go_list_wall" "$go_list_cpu"
printf '%-22s %8s %8s   (%sx wall, %sx CPU)\n' "slipway gomod list" "$sw_list_wall" "$sw_list_cpu" \
    "$(ratio "$go_list_wall" "$sw_list_wall")" "$(ratio "$go_list_cpu" "$sw_list_cpu")"
printf '%-22s %8s %8s   (%sx wall, %sx CPU)\n' "  without the pack" "$raw_list_wall" "$raw_list_cpu" \
    "$(ratio "$go_list_wall" "$raw_list_wall")" "$(ratio "$go_list_cpu" "$raw_list_cpu")"
printf '%-22s %8s %8s\n' "go mod graph" "$go_graph_wall" "$go_graph_cpu"
printf '%-22s %8s %8s   (%sx wall, %sx CPU)\n' "slipway gomod graph" "$sw_graph_wall" "$sw_graph_cpu" \
    "$(ratio "$go_graph_wall" "$sw_graph_wall")" "$(ratio "$go_graph_cpu" "$sw_graph_cpu")"
