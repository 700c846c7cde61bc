#!/usr/bin/env bash
# The whole pipeline on the embedded defaults, no cluster and no registry: install Go (when missing), build
# slipway, and run `slipway ship` on the sample Go service (or the directory given): layout, go mod tidy
# drift and verify, go vet, golangci-lint (when installed), go test -race with coverage gates, a multi-arch
# image with an SBOM in the OCI layout DIR/target/ship/image, tags from git, and a canary rollout on an
# in-process kubesim whose pods really run the image; it ends with the service answering on its NodePort.
#
#   bash scripts/ship.sh [DIR [slipway ship flags…]]     (default: testdata/hello)
#   bash scripts/ship.sh testdata/hello --serve           keep kubesim and the service running (Ctrl-C stops)
#
# Output: the summary table; logs, cover.out and the image layout under DIR/target/ship/.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
service="${1:-testdata/hello}"
shift || true
# Every timestamp in the image is the commit's: the same commit gives the same image digest.
SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-$(git -C "$root" log -1 --format=%ct 2>/dev/null || echo 0)}"
export SOURCE_DATE_EPOCH

step() { printf '\n==> %s\n' "$*"; }

step "Go toolchain (scripts/install-test-tools.sh --go-only)"
bash scripts/install-test-tools.sh --go-only
. scripts/env.sh

step "build slipway"
cargo build --quiet -p slipway-cli
slipway="${CARGO_TARGET_DIR:-$root/target}/debug/slipway"
"$slipway" --version

step "slipway ship -C $service $*"
exec "$slipway" ship -C "$service" "$@"
