#!/usr/bin/env bash
# Process-to-process comparisons for slipway-oci:
#   1. digesting a file: slipway's streaming SHA-256 (examples/digest_file) against `sha256sum`;
#   2. `slipway copy --all` of a multi-arch OCI layout into a fresh layout against `skopeo copy --all`;
#   3. `slipway copy --all` of the same layout into the loopback registry (scripts/registry.sh, or
#      $SLIPWAY_TEST_REGISTRY) against `skopeo copy --all --dest-tls-verify=false`, each run into a fresh
#      repository, with the median of the runs.
# Usage: scripts/bench-oci.sh [MIB_PER_LAYER (default 64)] [RUNS (default 3)]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
mib="${1:-64}"
runs="${2:-3}"
target="${CARGO_TARGET_DIR:-$root/target}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

cargo build --quiet --release --manifest-path "$root/Cargo.toml" -p slipway-cli --bin slipway
cargo build --quiet --release --manifest-path "$root/Cargo.toml" -p slipway-oci \
    --example digest_file --example multiarch_layout
slipway="$target/release/slipway"
examples="$target/release/examples"

now() { date +%s.%N; }
elapsed() { echo "$2 - $1" | bc; }

head -c $((mib * 4 * 1024 * 1024)) /dev/urandom >"$work/file.bin"
"$examples/multiarch_layout" "$work/src" v1 "$mib" >/dev/null
size=$(du -sm "$work/src" | cut -f1)
echo "digest of $((mib * 4)) MiB; copy --all of a ${size} MiB 4-platform layout; $runs runs each"

for run in $(seq "$runs"); do
    t0=$(now); "$examples/digest_file" "$work/file.bin" >/dev/null; t1=$(now)
    sha256sum "$work/file.bin" >/dev/null; t2=$(now)
    echo "run $run digest: slipway $(elapsed "$t0" "$t1") s, sha256sum $(elapsed "$t1" "$t2") s"
    rm -rf "$work/a" "$work/b"
    t0=$(now); "$slipway" copy --all "oci:$work/src:v1" "oci:$work/a:v1" >/dev/null 2>&1; t1=$(now)
    skopeo --insecure-policy copy --quiet --all "oci:$work/src:v1" "oci:$work/b:v1" >/dev/null; t2=$(now)
    echo "run $run copy --all: slipway $(elapsed "$t0" "$t1") s, skopeo $(elapsed "$t1" "$t2") s"
done
cmp <(skopeo --insecure-policy inspect --raw "oci:$work/a:v1") <(skopeo --insecure-policy inspect --raw "oci:$work/b:v1") \
    && echo "both copies hold the same index bytes"

# 3. Into the registry. Each run pushes into new repositories, so every blob is uploaded again.
addr="${SLIPWAY_TEST_REGISTRY:-}"
if [ -z "$addr" ]; then
    addr="$(bash "$root/scripts/registry.sh" start)"
fi
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
: >"$work/push-slipway"
: >"$work/push-skopeo"
stamp="$(date +%s)-$$"
for run in $(seq "$runs"); do
    # skopeo remembers which repositories hold a blob and mounts from them on the next push; slipway keeps
    # no such cache, so clear skopeo's to compare uploads with uploads.
    rm -f /var/lib/containers/cache/blob-info-cache-v1.* "$HOME"/.local/share/containers/cache/blob-info-cache-v1.*
    t0=$(now); "$slipway" copy --all "oci:$work/src:v1" "docker://$addr/bench/slipway-$stamp-$run:v1" >/dev/null 2>&1; t1=$(now)
    skopeo --insecure-policy copy --quiet --all --dest-tls-verify=false "oci:$work/src:v1" \
        "docker://$addr/bench/skopeo-$stamp-$run:v1" >/dev/null; t2=$(now)
    elapsed "$t0" "$t1" >>"$work/push-slipway"
    elapsed "$t1" "$t2" >>"$work/push-skopeo"
    echo "run $run copy --all into the registry: slipway $(tail -n1 "$work/push-slipway") s, skopeo $(tail -n1 "$work/push-skopeo") s"
done
echo "median copy --all into the registry ($addr): slipway $(median <"$work/push-slipway") s, skopeo $(median <"$work/push-skopeo") s"
cmp <(skopeo inspect --raw --tls-verify=false "docker://$addr/bench/slipway-$stamp-1:v1") \
    <(skopeo inspect --raw --tls-verify=false "docker://$addr/bench/skopeo-$stamp-1:v1") \
    && echo "both pushes hold the same index bytes"
