#!/usr/bin/env bash
# Builds the shippable `watt`: a stripped binary (symbols kept, so backtraces name functions) and
# its line tables in `watt.debug`, linked by .gnu_debuglink: with watt.debug beside the binary a
# backtrace shows file:line, without it the binary is still complete. Output in dist/.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
cargo build -p watt --profile dist --locked
out=dist
mkdir -p "$out"
src="$CARGO_TARGET_DIR/dist/watt"
objcopy --only-keep-debug "$src" "$out/watt.debug"
objcopy --strip-debug --add-gnu-debuglink="$out/watt.debug" "$src" "$out/watt"
ls -l "$out/watt" "$out/watt.debug" >&2
