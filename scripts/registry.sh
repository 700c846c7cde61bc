#!/usr/bin/env bash
# Runs a real OCI registry (CNCF Distribution, Debian's docker-registry) on 127.0.0.1 for tests.
#
#   scripts/registry.sh start   start it on a free port (or reuse a running one); prints HOST:PORT
#   scripts/registry.sh addr    prints HOST:PORT of the running registry, exit 1 when none runs
#   scripts/registry.sh stop    stop it and remove its storage
#
# Tests read the address from SLIPWAY_TEST_REGISTRY; scripts/test.sh exports it.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
state="${SLIPWAY_REGISTRY_STATE:-$root/.tools/registry}"
bin="$(command -v docker-registry || echo /usr/bin/docker-registry)"

running() {
    [ -f "$state/pid" ] && kill -0 "$(cat "$state/pid")" 2>/dev/null
}

answers() {
    curl -fsS -o /dev/null "http://$1/v2/" 2>/dev/null
}

case "${1:-}" in
start)
    if running && answers "$(cat "$state/addr")"; then
        cat "$state/addr"
        exit 0
    fi
    [ -x "$bin" ] || { echo "registry.sh: docker-registry not installed: run scripts/install-test-tools.sh" >&2; exit 1; }
    rm -rf "$state"
    mkdir -p "$state/storage"
    port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    addr="127.0.0.1:$port"
    cat >"$state/config.yml" <<YAML
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $state/storage
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: $addr
  headers:
    X-Content-Type-Options: [nosniff]
YAML
    nohup "$bin" serve "$state/config.yml" >"$state/log" 2>&1 &
    echo $! >"$state/pid"
    echo "$addr" >"$state/addr"
    for _ in $(seq 1 100); do
        if answers "$addr"; then
            echo "$addr"
            exit 0
        fi
        running || break
        sleep 0.1
    done
    echo "registry.sh: registry did not answer on $addr; its log:" >&2
    cat "$state/log" >&2
    exit 1
    ;;
addr)
    running && cat "$state/addr" || exit 1
    ;;
stop)
    if running; then
        kill "$(cat "$state/pid")" 2>/dev/null || true
    fi
    rm -rf "$state"
    ;;
*)
    echo "usage: scripts/registry.sh start|addr|stop" >&2
    exit 2
    ;;
esac
