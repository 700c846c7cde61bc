#!/usr/bin/env bash
# Regenerates crates/slipway-kubesim/tests/kubesim/fixtures/patch/: random Deployments, Pods and Services
# and strategic merge / merge / JSON patches of them, applied by the real `kubectl patch --local` (no
# cluster: KUBECONFIG points nowhere), recorded as the ground truth tests/kubesim/patch.rs holds
# slipway_kubesim::patch to.
#
#   bash scripts/gen-kubesim-patch-fixtures.sh [COUNT [SEED [OUT_DIR]]]
#
# Defaults: 700 cases, seed 12, the fixture directory. A larger throwaway run:
#   bash scripts/gen-kubesim-patch-fixtures.sh 5000 99 /tmp/kubesim-patch-big
#   SLIPWAY_KUBESIM_PATCH_FIXTURES=/tmp/kubesim-patch-big cargo test -p slipway-kubesim --test kubesim patch::
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
command -v kubectl >/dev/null || { echo "kubectl is needed" >&2; exit 1; }
kubectl version --client
python3 "$root/scripts/gen-kubesim-patch-fixtures.py" "${3:-$root/crates/slipway-kubesim/tests/kubesim/fixtures/patch}" "${1:-700}" "${2:-12}"
