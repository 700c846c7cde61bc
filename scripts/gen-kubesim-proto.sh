#!/usr/bin/env bash
# Regenerates crates/slipway-kubesim/src/protobuf/types.rs: the protobuf schema of the kinds kubesim reads
# from `application/vnd.kubernetes.protobuf` request bodies (see scripts/gen-kubesim-proto.py for what is
# read and how).
#
#   bash scripts/gen-kubesim-proto.sh API_DIR APIMACHINERY_DIR
#
# API_DIR is k8s.io/api and APIMACHINERY_DIR k8s.io/apimachinery at the release kubectl 1.32 was built
# from (tag v0.32.4: kubernetes/api 3cb6d6c4c6bc2adb85da16a5675bb4240878c881, kubernetes/apimachinery
# 59e9003f02d6f0c8fff53719a7a0604ec82ee9a9; the same trees as staging/src/k8s.io/{api,apimachinery} of
# kubernetes/kubernetes v1.32.4). A git clone of either repository may be given instead of a tree: the
# tag is then read from it with git archive. Only generated.proto and the Go files that declare the types
# are read (the Go files for their struct tags: JSON names, omitempty, inline, pointers).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
api="${1:?usage: gen-kubesim-proto.sh API_DIR APIMACHINERY_DIR}"
apimachinery="${2:?usage: gen-kubesim-proto.sh API_DIR APIMACHINERY_DIR}"
tag="${SLIPWAY_K8S_API_TAG:-v0.32.4}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
tree() { # DIR NAME PATHS...: a tree of PATHS at $tag when DIR is a git repository, else DIR itself
  local dir="$1" name="$2"
  shift 2
  if git -C "$dir" rev-parse --verify -q "$tag^{commit}" >/dev/null 2>&1; then
    mkdir -p "$tmp/$name"
    git -C "$dir" archive "$tag" "$@" | tar -x -C "$tmp/$name"
    echo "$tmp/$name"
  else
    echo "$dir"
  fi
}
api="$(tree "$api" api core/v1 apps/v1 discovery/v1 autoscaling/v1 policy/v1)"
apimachinery="$(tree "$apimachinery" apimachinery pkg/apis/meta/v1 pkg/runtime pkg/util/intstr pkg/api/resource)"
python3 "$root/scripts/gen-kubesim-proto.py" "$api" "$apimachinery" \
  "$root/crates/slipway-kubesim/src/protobuf/types.rs"
