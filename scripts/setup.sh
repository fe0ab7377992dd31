#!/usr/bin/env bash
# Installs what building Watt needs on a fresh Debian machine (idempotent, quick when done):
# libclang for rocksdb's bindings, the wasm32 target for the runtime, cargo-nextest for tests.
# Sourced by scripts/dev-node.sh and scripts/test.sh.
set -euo pipefail

log() { echo "[setup] $*" >&2; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# Ask dpkg: a fresh image has libclang-cpp (whose file names look alike) but not libclang itself.
if ! dpkg-query -W -f='${Status}' libclang-dev 2>/dev/null | grep -q 'install ok installed'; then
  log "installing libclang-dev (needed to build rocksdb)"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libclang-dev >/dev/null
fi

# tests/tests/js_peer.rs runs a real js-libp2p peer (tests/js-peer) against the validators.
if ! command -v node >/dev/null 2>&1; then
  log "installing nodejs and npm (Debian's; the js-libp2p peer of tests/js-peer)"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
  log "installed node $(node --version) (the js peer needs 20 or later)"
elif ! command -v npm >/dev/null 2>&1; then
  log "installing npm (Debian's; node is $(node --version))"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >/dev/null
fi
js_peer="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/tests/js-peer"
if [ ! -d "$js_peer/node_modules" ]; then
  log "installing the js peer's packages (npm ci in tests/js-peer)"
  npm ci --prefix "$js_peer" --prefer-offline --no-audit --no-fund --loglevel=error >/dev/null
fi

if ! rustup target list --installed 2>/dev/null | grep -q '^wasm32-unknown-unknown$'; then
  log "adding the wasm32-unknown-unknown target (the runtime is built to wasm)"
  rustup target add wasm32-unknown-unknown
fi

if ! command -v cargo-nextest >/dev/null 2>&1; then
  log "installing cargo-nextest"
  cargo install cargo-nextest --locked
fi

# Build output outside the clone, so a fresh clone on the same machine reuses earlier builds.
cache_home="${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$cache_home/watt/target}"
mkdir -p "$CARGO_TARGET_DIR"
log "build directory: $CARGO_TARGET_DIR"
