#!/usr/bin/env bash
# The README's test command. Installs what the tests need (scripts/install-test-tools.sh), starts the loopback
# registry (scripts/registry.sh), and runs every test in the workspace against the real tools.
# Extra arguments go to `cargo test` (e.g. `bash scripts/test.sh -p slipway-gomod`).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/install-test-tools.sh
. scripts/env.sh

SLIPWAY_TEST_REGISTRY="$(bash scripts/registry.sh start)"
export SLIPWAY_TEST_REGISTRY
trap 'bash scripts/registry.sh stop' EXIT
echo "test.sh: registry on $SLIPWAY_TEST_REGISTRY" >&2

if [ "$#" -eq 0 ]; then
    set -- --workspace
fi
cargo test --all-features --locked "$@"
