# Source this file: puts the tools installed by scripts/install-test-tools.sh on PATH and keeps Go offline.
#   . scripts/env.sh
_slipway_root="$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")/.." && pwd)"
export PATH="$_slipway_root/.tools/bin:$PATH"
# The Go toolchain must never try to download a toolchain or a module: the fixtures are the whole world.
export GOTOOLCHAIN=local
export GOPROXY="${GOPROXY:-off}"
export GOFLAGS="${GOFLAGS:--mod=mod}"
export GONOSUMDB="*" GONOSUMCHECK=1 GOSUMDB=off GOTELEMETRY=off
unset _slipway_root
