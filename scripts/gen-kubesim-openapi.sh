#!/usr/bin/env bash
# Regenerates crates/slipway-kubesim/openapi/*.json: the apiserver's OpenAPI v3 documents trimmed to the
# kinds slipway-kubesim serves (see scripts/gen-kubesim-openapi.py for what is kept).
#
#   bash scripts/gen-kubesim-openapi.sh SOURCE_DIR
#
# SOURCE_DIR holds the untrimmed documents a Kubernetes v1.32 apiserver serves at /openapi/v3/<path>, under
# the names kubernetes/kubernetes commits them as in api/openapi-spec/v3/ (at tag v1.32.x):
#   api__v1_openapi.json  apis__apps__v1_openapi.json  apis__discovery.k8s.io__v1_openapi.json
#   apis__apiextensions.k8s.io__v1_openapi.json
# (The Scale kind of the /scale subresources is defined in apps/v1's own components, which its /scale paths
# reference; the autoscaling/v1 document serves only HorizontalPodAutoscaler, which kubesim does not.)
# The committed documents were made from the copies of those files that kubernetes-sigs/kubectl-validate
# keeps in pkg/openapiclient/builtins/1.32/ (api/v1.json, apis/apps/v1.json, ...; commit 231e3efa "feat:
# k8s v1.32 support"), renamed to the names above. A directory in that layout is accepted as well.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
src="${1:?usage: gen-kubesim-openapi.sh SOURCE_DIR}"
if [ ! -e "$src/api__v1_openapi.json" ] && [ -e "$src/api/v1.json" ]; then
  # kubectl-validate's layout: api/v1.json, apis/GROUP/VERSION.json.
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  for f in api/v1 apis/apps/v1 apis/discovery.k8s.io/v1 apis/apiextensions.k8s.io/v1; do
    [ -e "$src/$f.json" ] && cp "$src/$f.json" "$tmp/${f//\//__}_openapi.json"
  done
  src="$tmp"
fi
python3 "$root/scripts/gen-kubesim-openapi.py" "$src" "$root/crates/slipway-kubesim/openapi"
