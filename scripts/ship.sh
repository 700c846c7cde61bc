#!/usr/bin/env bash
# The main job on the embedded default, no cluster and no registry: take the sample Go service (or the module
# given) through analysis, tests with a coverage report, a reproducible multi-arch image build into an OCI layout
# directory, and tagging from git.
#
#   bash scripts/ship.sh [MODULE_DIR [MAIN_PACKAGE]]     (default: testdata/hello ./cmd/hello)
#
# Output goes to target/ship/: cover.out, cover.lcov, coverage.html, and the OCI layout target/ship/image.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
module_dir="$(cd "${1:-testdata/hello}" && pwd)"
package="${2:-./cmd/hello}"
out="$root/target/ship"
platforms="${PLATFORMS:-linux/amd64,linux/arm64}"
# Every timestamp in the image is the commit's: the same commit gives the same image digest.
SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-$(git -C "$root" log -1 --format=%ct 2>/dev/null || echo 0)}"
export SOURCE_DATE_EPOCH

step() { printf '\n==> %s\n' "$*"; }

step "Go toolchain (scripts/install-test-tools.sh --go-only)"
bash scripts/install-test-tools.sh --go-only
. scripts/env.sh

step "build slipway"
cargo build --quiet --release -p slipway-cli
slipway="$root/target/release/slipway"
"$slipway" --version
rm -rf "$out"
mkdir -p "$out"

step "analyse $module_dir/go.mod (slipway gomod parse --json)"
"$slipway" gomod parse --json "$module_dir/go.mod"

step "test with coverage (go test -coverprofile), per-function summary (slipway cover func)"
(cd "$module_dir" && go test -coverprofile="$out/cover.out" ./...)
(cd "$module_dir" && "$slipway" cover func "$out/cover.out")
(cd "$module_dir" && "$slipway" cover convert --to lcov "$out/cover.out" -o "$out/cover.lcov")
echo "LCOV report: $out/cover.lcov"
(cd "$module_dir" && "$slipway" cover convert --to html "$out/cover.out" -o "$out/coverage.html")
echo "HTML report: $out/coverage.html"

step "tags and version from git (slipway tag)"
mapfile -t tags < <("$slipway" tag -C "$root")
version="$("$slipway" version next -C "$root")"
printf 'tags: %s\nnext version: %s\n' "${tags[*]}" "$version"

step "build $package for $platforms into oci:$out/image (slipway image build)"
extra=()
for t in "${tags[@]:1}"; do extra+=(--tag "$t"); done
mapfile -t annotations < <("$slipway" tag -C "$root" --annotations)
for a in "${annotations[@]}"; do extra+=(--annotation "$a"); done
"$slipway" image build -C "$module_dir" "$package" --platform "$platforms" \
    --to "oci:$out/image:${tags[0]}" -X "main.version=$version" "${extra[@]}"

step "inspect the result (slipway inspect)"
"$slipway" inspect "oci:$out/image:${tags[0]}"
echo
echo "done: the image is in $out/image (an OCI image layout; copy it anywhere with skopeo or slipway copy)"
