#!/usr/bin/env bash
# Side by side: a rolling update of a 4-pod Deployment on `slipway kubesim serve`, driven by
# `slipway deploy apply --strategy rolling` against `kubectl set image` + `kubectl rollout status`
# (both wait until the Deployment has rolled out). Prints the mean wall time of each over RUNS updates.
#
#   bash scripts/bench-deploy.sh [RUNS]     (default 20)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
runs="${1:-20}"
cargo build --quiet --release -p slipway-cli --manifest-path "$root/Cargo.toml"
slipway="$root/target/release/slipway"
work="$(mktemp -d)"
trap 'kill "$sim" 2>/dev/null || true; rm -rf "$work"' EXIT
"$slipway" kubesim serve --kubeconfig "$work/config" --ready-after 0s >"$work/serve.log" 2>&1 &
sim=$!
for _ in $(seq 50); do [ -s "$work/config" ] && break; sleep 0.1; done
export KUBECONFIG="$work/config"
"$slipway" deploy apply -q --name web --image web:0 --replicas 4 --strategy rolling >/dev/null
now() { date +%s%N; }
t0=$(now)
for i in $(seq 1 "$runs"); do
  "$slipway" deploy apply -q --name web --image "web:s$i" --strategy rolling >/dev/null
done
t1=$(now)
for i in $(seq 1 "$runs"); do
  kubectl set image deployment/web web="web:k$i" >/dev/null
  kubectl rollout status deployment/web --timeout=60s >/dev/null
done
t2=$(now)
printf 'machine: %s, %s cores\n' "$(uname -m)" "$(nproc)"
printf 'slipway deploy apply --strategy rolling:        %6.1f ms per update\n' "$(echo "($t1 - $t0) / $runs / 1000000" | bc -l)"
printf 'kubectl set image + kubectl rollout status:     %6.1f ms per update\n' "$(echo "($t2 - $t1) / $runs / 1000000" | bc -l)"
