#!/usr/bin/env bash
# The test command: set up the machine, build everything once, run every test with nextest.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh

echo "[test] building the workspace (binaries, tests, benches; the wasm runtime is built by runtime/blob)" >&2
start=$(date +%s)
cargo build --workspace --all-targets --locked
echo "[test] build took $(( $(date +%s) - start )) s" >&2

echo "[test] checking formatting" >&2
cargo fmt --all -- --check

echo "[test] running tests" >&2
cargo nextest run --workspace --no-fail-fast --locked

# Only reached when every test passed (set -e); a crash found by a fuzz target fails the run too.
echo "[test] fuzzing each target for a short, bounded time" >&2
scripts/fuzz.sh
