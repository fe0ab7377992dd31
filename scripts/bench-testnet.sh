#!/usr/bin/env bash
# Reproduces BENCHMARKS.md "Many validators (SCP over libp2p)": a fresh 4-validator `watt
# testnet` on loopback, then
#   1. latency, submission to finality, at a light paced load through all four nodes;
#   2. sustained finalized transfers/s with many funded senders through all four nodes;
#   3. the share of slots that needed a second nomination round (Prometheus counters per node);
#   4. catch-up: one validator stopped, the other three finalize under load, the stopped one
#      restarted with its own command from testnet.json; its blocks/s and re-executed
#      transfers/s are read from its log.
# Everything (nodes' data and logs, the tool's JSON lines in results.jsonl) stays in $DIR.
#
# Knobs (environment): DIR (default: a new temp dir), PORT (first RPC port, default 19944),
# LAT_SENDERS=6 LAT_INTERVAL_MS=300 LAT_SECONDS=60, TP_ACCOUNTS=2000 TP_TXS=40000 TP_CONC=64,
# TP_RATES="0 1000 2000" (one throughput run per offered rate, 0 = unpaced),
# SYNC_TXS=40000 (load while a validator is down), NO_BUILD=1 (use the binaries as built),
# BIN (directory of watt and watt-testnet-load; default: the release build directory).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${NO_BUILD:-}" ]; then
  source scripts/setup.sh
  cargo build --release -p watt -p watt-e2e --bins
fi
BIN="${BIN:-${CARGO_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/watt/target}/release}"
DIR="${DIR:-$(mktemp -d /tmp/watt-bench-testnet.XXXXXX)}"
PORT="${PORT:-19944}"
LAT_SENDERS="${LAT_SENDERS:-6}" LAT_INTERVAL_MS="${LAT_INTERVAL_MS:-300}" LAT_SECONDS="${LAT_SECONDS:-60}"
TP_ACCOUNTS="${TP_ACCOUNTS:-2000}" TP_TXS="${TP_TXS:-40000}" TP_CONC="${TP_CONC:-64}"
TP_RATES="${TP_RATES:-0 1000 2000}"
SYNC_TXS="${SYNC_TXS:-40000}"
mkdir -p "$DIR"
RESULTS="$DIR/results.jsonl"
say() { echo "[bench-testnet $(date -u +%H:%M:%S)] $*" >&2; }

# The debug filter makes the SCP engine log "slot N externalized with K transactions".
export RUST_LOG="${RUST_LOG:-info,watt_consensus=debug}"
"$BIN/watt" testnet --validators 4 --base-path "$DIR" --rpc-port-base "$PORT" >"$DIR/testnet.out" 2>&1 &
TESTNET=$!
RESTARTED=""
cleanup() {
  # Only what this script started: the testnet parent (which stops its children) and the
  # validator restarted outside it.
  [ -n "$RESTARTED" ] && kill -TERM "$RESTARTED" 2>/dev/null || true
  kill -TERM "$TESTNET" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap cleanup EXIT

rpc_call() { # URL METHOD [PARAMS-JSON]
  curl -s -m 5 -H 'Content-Type: application/json' \
    -d "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"$2\",\"params\":${3:-[]}}" "$1"
}
for _ in $(seq 100); do [ -f "$DIR/testnet.json" ] && break; sleep 0.2; done
mapfile -t URLS < <(jq -r '.nodes[].rpc' "$DIR/testnet.json")
for u in "${URLS[@]}"; do
  for _ in $(seq 150); do rpc_call "$u" system_health | grep -q '"result"' && break; sleep 0.2; done
done
say "testnet up in $DIR: ${URLS[*]}"
RPC_ARGS=()
for u in "${URLS[@]}"; do RPC_ARGS+=(--rpc "$u"); done

metrics() { # one line per node: the SCP counters from its /metrics
  for i in 0 1 2 3; do
    log="$DIR/node$i/node.log"
    url=$(sed 's/\x1b\[[0-9;]*m//g' "$log" | grep -o 'Prometheus metrics on http://[^ ]*' | tail -1 | cut -d' ' -f4)
    [ -n "$url" ] || { echo "node$i: no metrics address in its log"; continue; }
    curl -s -m 5 "$url" | awk -v n="node$i" '
      /^watt_scp_slots_externalized_total /{e=$2} /^watt_scp_slots_multi_round_total /{m=$2}
      /^watt_scp_nomination_timeouts_total /{nt=$2} /^watt_scp_ballot_timeouts_total /{bt=$2}
      END{printf "{\"node\":\"%s\",\"externalized\":%s,\"multi_round\":%s,\"nomination_timeouts\":%s,\"ballot_timeouts\":%s}\n", n, e+0, m+0, nt+0, bt+0}'
  done
}

say "1. latency: $LAT_SENDERS senders, every $LAT_INTERVAL_MS ms, $LAT_SECONDS s"
metrics >"$DIR/metrics-0.jsonl"
"$BIN/watt-testnet-load" "${RPC_ARGS[@]}" --seed 1 latency --senders "$LAT_SENDERS" \
  --interval-ms "$LAT_INTERVAL_MS" --seconds "$LAT_SECONDS" | tee -a "$RESULTS"
metrics | tee "$DIR/metrics-1.jsonl"

seed=10
for rate in $TP_RATES; do
  say "2. throughput: $TP_ACCOUNTS accounts, $TP_TXS transfers, $TP_CONC in flight, offered rate $rate/s (0: unpaced)"
  seed=$((seed + 1))
  "$BIN/watt-testnet-load" "${RPC_ARGS[@]}" --seed "$seed" throughput --accounts "$TP_ACCOUNTS" \
    --txs "$TP_TXS" --concurrency "$TP_CONC" --rate "$rate" | tee -a "$RESULTS"
done
metrics | tee "$DIR/metrics-2.jsonl"

say "3. multi-round share per phase (metrics deltas)"
python3 - "$DIR" <<'EOF' | tee -a "$RESULTS"
import json, sys
d = sys.argv[1]
snap = [{r["node"]: r for r in map(json.loads, open(f"{d}/metrics-{i}.jsonl"))} for i in range(3)]
for phase, (a, b) in (("latency", (0, 1)), ("throughput", (1, 2))):
    ext = sum(snap[b][n]["externalized"] - snap[a][n].get("externalized", 0) for n in snap[b])
    multi = sum(snap[b][n]["multi_round"] - snap[a][n].get("multi_round", 0) for n in snap[b])
    nt = sum(snap[b][n]["nomination_timeouts"] - snap[a][n].get("nomination_timeouts", 0) for n in snap[b])
    bt = sum(snap[b][n]["ballot_timeouts"] - snap[a][n].get("ballot_timeouts", 0) for n in snap[b])
    print(json.dumps({"mode": "slots", "phase": phase, "node_slots": ext, "multi_round": multi,
                      "share": round(multi / ext, 3) if ext else None,
                      "nomination_timeouts": nt, "ballot_timeouts": bt}))
EOF

say "4. sync: stopping node3, loading the other three with $SYNC_TXS transfers"
PID3=$(jq -r '.nodes[3].pid' "$DIR/testnet.json")
kill -TERM "$PID3"
while kill -0 "$PID3" 2>/dev/null; do sleep 0.2; done
"$BIN/watt-testnet-load" "${RPC_ARGS[@]:0:6}" --seed 3 throughput --accounts "$TP_ACCOUNTS" \
  --txs "$SYNC_TXS" --concurrency "$TP_CONC" | tee -a "$RESULTS"
LOG3="$DIR/node3/node.log"
OFFSET=$(wc -l <"$LOG3")
mapfile -t CMD3 < <(jq -r '.nodes[3].command[]' "$DIR/testnet.json")
say "restarting node3: ${CMD3[*]}"
"${CMD3[@]}" >>"$LOG3" 2>&1 &
RESTARTED=$!
for _ in $(seq 1200); do
  tail -n +"$((OFFSET + 1))" "$LOG3" | grep -q 'caught up at' && break
  sleep 0.5
done
python3 - "$LOG3" "$OFFSET" <<'EOF' | tee -a "$RESULTS"
import json, re, sys
from datetime import datetime
lines = open(sys.argv[1], errors="replace").read().splitlines()[int(sys.argv[2]):]
ansi = re.compile(r"\x1b\[[0-9;]*m")
def ts(line):
    return datetime.fromisoformat(line.split()[0].rstrip("Z")).timestamp()
start = ts(ansi.sub("", lines[0]))
imports, behind, caught, rates = [], None, None, []
for raw in lines:
    line = ansi.sub("", raw)
    if m := re.search(r"imported #(\d+) .* with (\d+) transactions in (\d+) ms", line):
        if caught is None:
            imports.append((ts(line), int(m[1]), int(m[2]), int(m[3])))
    elif m := re.search(r"behind: at #(\d+), peers at #(\d+)", line):
        behind = behind or (ts(line), int(m[1]), int(m[2]))
    elif m := re.search(r"sync: #(\d+) of #(\d+), (\d+) blocks/s", line):
        rates.append(int(m[3]))
    elif "caught up at" in line and caught is None:
        caught = ts(line)
if not imports or behind is None:
    print(json.dumps({"mode": "sync", "error": "no catch-up seen in the log", "lines": len(lines)}))
    sys.exit()
t0, t1 = behind[0], imports[-1][0]
txs = sum(i[2] for i in imports)
busy = sum(i[3] for i in imports) / 1e3
print(json.dumps({
    "mode": "sync", "from": behind[1], "target": behind[2], "blocks": len(imports),
    "transactions": txs, "start_to_behind_s": round(t0 - start, 2), "sync_s": round(t1 - t0, 3),
    "blocks_per_s": round(len(imports) / max(t1 - t0, 1e-3), 1),
    "txs_per_s": round(txs / max(t1 - t0, 1e-3)),
    "import_ms_sum_s": round(busy, 3), "txs_per_import_s": round(txs / max(busy, 1e-3)),
    "node_reported_blocks_per_s": rates[-1] if rates else None,
    "caught_up": caught is not None,
}))
EOF
say "done; results in $RESULTS, logs in $DIR/node*/node.log"
