#!/usr/bin/env bash
# Runs a single-node development chain on 127.0.0.1:9944 (set-up and build included).
# Extra arguments go to `watt node`, e.g. `scripts/dev-node.sh --base-path ./data --seal-interval 6000`.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
cargo build -p watt --release --locked
exec "$CARGO_TARGET_DIR/release/watt" node --dev "$@"
