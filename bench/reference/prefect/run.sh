#!/usr/bin/env bash
# One complete Prefect baseline run from a clean state:
#   fresh PREFECT_HOME (new SQLite DB) -> server (core 0) -> serve.py runner (core 0)
#   -> bench.py load generator (core 1) -> teardown.
# Usage: ./run.sh [label]      (env: N, WARMUP, CONCURRENCY, CANCEL_TRIALS,
#                               PREFECT_RUNNER_POLL_FREQUENCY, SERVE_LIMIT, ...)
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
cd "$HERE"
LABEL="${1:-default}"
OUT="$HERE/results/$(date -u +%Y%m%dT%H%M%SZ)-$LABEL"
mkdir -p "$OUT"

if [ ! -x "$HERE/venv/bin/prefect" ]; then
  python3 -m venv "$HERE/venv"
  "$HERE/venv/bin/pip" install -q 'prefect>=3,<4'
fi
PY="$HERE/venv/bin/python"

export PREFECT_HOME="$HERE/home"
export PREFECT_API_URL="http://127.0.0.1:4200/api"
export PREFECT_SERVER_ANALYTICS_ENABLED=false   # sandbox has no internet
export PREFECT_LOGGING_LEVEL="${PREFECT_LOGGING_LEVEL:-INFO}"
export BENCH_LABEL="$LABEL"

# clean state: new SQLite database every run
rm -rf "$PREFECT_HOME"; mkdir -p "$PREFECT_HOME"

SERVER_PID=""; SERVE_PID=""
cleanup() {
  for p in $SERVE_PID $SERVER_PID; do
    kill -TERM -- "-$p" 2>/dev/null || true
  done
  sleep 3
  for p in $SERVE_PID $SERVER_PID; do
    kill -KILL -- "-$p" 2>/dev/null || true
  done
}
trap cleanup EXIT

"$HERE/venv/bin/prefect" version > "$OUT/prefect-version.txt" 2>&1 || true

# server + runner (and the flow-run subprocesses it spawns) on core 0
setsid nice -n 5 taskset -c 0 "$HERE/venv/bin/prefect" server start \
  --host 127.0.0.1 --port 4200 > "$OUT/server.log" 2>&1 &
SERVER_PID=$!
for i in $(seq 1 240); do
  curl -fs "$PREFECT_API_URL/health" >/dev/null 2>&1 && break
  sleep 0.5
done
curl -fs "$PREFECT_API_URL/health" >/dev/null || { echo "server did not start"; tail -50 "$OUT/server.log"; exit 1; }

setsid nice -n 5 taskset -c 0 "$PY" "$HERE/serve.py" > "$OUT/serve.log" 2>&1 &
SERVE_PID=$!

# load generator on core 1
nice -n 5 taskset -c 1 "$PY" "$HERE/bench.py" > "$OUT/bench.out" 2> "$OUT/bench.err"
grep '^RESULT ' "$OUT/bench.out" | sed 's/^RESULT //' > "$OUT/result.json"
cat "$OUT/result.json"
echo "results in $OUT" >&2
