#!/usr/bin/env bash
# Runs every cargo-fuzz target in fuzz/ for a short, bounded time (FUZZ_SECONDS each, default
# 20), starting from the committed seed corpus (fuzz/corpus/<target>). Exits non-zero on the
# first crash, panic, timeout or out-of-memory, and says where the input that caused it is.
# Called by scripts/test.sh; run alone with e.g. `FUZZ_SECONDS=600 scripts/fuzz.sh rpc_params`.
#
# Installs what it needs when missing: a nightly toolchain (cargo-fuzz's sanitizer flags are
# unstable; if none can be had, stable with RUSTC_BOOTSTRAP=1 takes the same flags) and
# cargo-fuzz. Builds in ~/.cache/watt/fuzz-target, apart from the main build.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { echo "[fuzz] $*" >&2; }

seconds="${FUZZ_SECONDS:-20}"
cache_home="${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}"
target_dir="${WATT_FUZZ_TARGET_DIR:-$cache_home/watt/fuzz-target}"
# Inputs the runs found are kept here (not in the repo), so later runs on this machine start
# from further along; crash inputs and each run's log too.
work="$cache_home/watt/fuzz-work"
cargo_fuzz_version=0.13.2

# FUZZ_TOOLCHAIN=stable builds with stable rustc and RUSTC_BOOTSTRAP=1 (the fallback below).
toolchain="${FUZZ_TOOLCHAIN:-nightly}"
if [ "$toolchain" = stable ]; then
  export RUSTC_BOOTSTRAP=1
elif ! rustup run nightly rustc --version >/dev/null 2>&1; then
  log "installing the nightly toolchain"
  if ! rustup toolchain install nightly --profile minimal; then
    log "no nightly toolchain to be had: using stable with RUSTC_BOOTSTRAP=1"
    toolchain=stable
    export RUSTC_BOOTSTRAP=1
  fi
fi
if ! cargo fuzz --version 2>/dev/null | grep -qF "$cargo_fuzz_version"; then
  log "installing cargo-fuzz $cargo_fuzz_version"
  cargo install cargo-fuzz --version "$cargo_fuzz_version" --locked
fi

if [ "$#" -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <(cargo "+$toolchain" fuzz list --fuzz-dir fuzz)
fi

# Release build with debug assertions and overflow checks (cargo-fuzz's default). No sanitizer
# by default: the code under test is safe Rust, and in a 20-second run AddressSanitizer costs
# about ten times the executions (measured: 0.4M against 5M runs of chain_spec). For a long run
# set FUZZ_SANITIZER=address. Versions come from fuzz/Cargo.lock (its own workspace).
fuzz_args=(--fuzz-dir fuzz --target-dir "$target_dir" --sanitizer "${FUZZ_SANITIZER:-none}")
start=$(date +%s)
log "building ${#targets[@]} fuzz targets ($toolchain) in $target_dir"
if [ "$#" -gt 0 ]; then
  for t in "${targets[@]}"; do cargo "+$toolchain" fuzz build "${fuzz_args[@]}" "$t"; done
else
  cargo "+$toolchain" fuzz build "${fuzz_args[@]}"
fi
log "build took $(( $(date +%s) - start )) s"

for t in "${targets[@]}"; do
  grown="$work/corpus/$t"
  artifacts="$work/artifacts/$t"
  out="$work/logs/$t.log"
  mkdir -p "$grown" "$(dirname "$out")"
  rm -rf "$artifacts" && mkdir -p "$artifacts"   # so that only this run's crash is listed
  log "fuzzing $t for ${seconds} s"
  # New inputs go to the first corpus directory; the committed seeds are only read.
  if ! cargo "+$toolchain" fuzz run "${fuzz_args[@]}" "$t" "$grown" "fuzz/corpus/$t" -- \
      -max_total_time="$seconds" -timeout=20 -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="$artifacts/" >"$out" 2>&1; then
    tail -n 60 "$out" >&2
    log "FAILED: fuzz target $t found a crashing input; full log: $out"
    for a in "$artifacts"/*; do
      [ -e "$a" ] || continue
      log "  input: $a (base64: $(base64 -w0 "$a" | head -c 2000))"
      log "  replay: cargo +$toolchain fuzz run --fuzz-dir fuzz --sanitizer ${FUZZ_SANITIZER:-none} $t $a"
    done
    exit 1
  fi
  log "  $(grep -E '^Done [0-9]+ runs' "$out" || echo "finished"); log: $out"
done
log "all ${#targets[@]} targets ran ${seconds} s each without a crash ($(( $(date +%s) - start )) s in all)"
