#!/usr/bin/env bash
# Regenerates crates/slipway-kubesim/tests/kubesim/fixtures/protobuf/: request bodies kubectl 1.32 sends
# in protobuf, each with the object `kubectl ... --dry-run=client -o json` shows for the same command (the
# ground truth for slipway_kubesim::protobuf::decode), and content-types.txt (which commands send which
# Content-Type). See scripts/gen-kubesim-proto-fixtures.py. Needs kubectl (1.32) and python3; talks only to
# a capturing server it starts on 127.0.0.1.
#
#   bash scripts/gen-kubesim-proto-fixtures.sh
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
version="$(kubectl version --client 2>/dev/null || true)"
[[ "$version" == *"Client Version: v1.32."* ]] \
  || echo "warning: kubectl is not 1.32; the fixtures are meant to come from kubectl 1.32" >&2
python3 "$root/scripts/gen-kubesim-proto-fixtures.py" "$root/crates/slipway-kubesim/tests/kubesim/fixtures/protobuf"
