#!/usr/bin/env bash
# The county dashboard with a million cases, on PostgreSQL.
#
# Creates a fresh database, seeds the demo county 清水县 through the server (`fengqiao seed-demo`), adds
# CASES cases with their timelines and counters in bulk (`rollupbench load`), checks the counters against a
# replay of the timelines (`fengqiao verify-rollups`), then starts the server and drives the closed loop
# through the API for LOOP_SECONDS (`loadgen --mode loop`) so that live changes land on top of the bulk load,
# stops it, and runs `rollupbench measure`: the dashboard uncached and cached (one month, twelve months),
# the naive GROUP BY over the cases table, the deadline scanner over the county, and verify-rollups again.
# Figures go to bench-results/rollups.json and bench-results/rollups.md. Everything it starts is stopped on
# exit, failure or interrupt included.
#
# Settings (environment; defaults in brackets):
#   PGHOST [127.0.0.1] PGPORT [5432] PGUSER [postgres]   PostgreSQL, trust authentication; PGUSER owns the
#                                                       schema, the server runs as the role fengqiao_bench
#   BENCH_DB [fengqiao_rollup_bench]   dropped and created afresh
#   CASES [1000000]  RUNS [200]  NAIVE_RUNS [7]  LOOP_SECONDS [15]  CLIENTS [16]  PORT [18081]
#   SKIP_BUILD [0]   1: use the release binaries already built
#   FENGQIAO_REDIS_URL [empty: in-process cache]
#   OUT_DIR [bench-results]  CARGO_TARGET_DIR [$HOME/.cache/fengqiao-target]

set -euo pipefail

export PGHOST="${PGHOST:-127.0.0.1}" PGPORT="${PGPORT:-5432}" PGUSER="${PGUSER:-postgres}"
BENCH_DB="${BENCH_DB:-fengqiao_rollup_bench}"
CASES="${CASES:-1000000}"
RUNS="${RUNS:-200}"
NAIVE_RUNS="${NAIVE_RUNS:-7}"
LOOP_SECONDS="${LOOP_SECONDS:-15}"
CLIENTS="${CLIENTS:-16}"
PORT="${PORT:-18081}"
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
OUT_DIR="$ROOT/${OUT_DIR:-bench-results}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/fengqiao-target}"
BIN="$CARGO_TARGET_DIR/release"
WORK="$(mktemp -d)"
SERVER_PID=""

cleanup() {
    if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
    (cd "$ROOT" && cargo build --release -p fengqiao -p fengqiao-tests --bins)
fi

# The schema's owner migrates; the server and the loader run as a role that owns nothing, under row-level
# security, as in production.
psql -X -q -d postgres -c "DO \$\$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'fengqiao_bench')
    THEN CREATE ROLE fengqiao_bench LOGIN PASSWORD 'fengqiao_bench'; END IF; END \$\$"
export FENGQIAO_DATABASE_URL="postgres://fengqiao_bench:fengqiao_bench@$PGHOST:$PGPORT/$BENCH_DB"
export FENGQIAO_DATABASE_OWNER_URL="postgres://$PGUSER@$PGHOST:$PGPORT/$BENCH_DB"
export FENGQIAO_DATA_DIR="$WORK/data"
export FENGQIAO_LOG="${FENGQIAO_LOG:-warn}"
unset FENGQIAO_CONFIG

psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $BENCH_DB" -c "CREATE DATABASE $BENCH_DB"
echo "== seeding the demo county through the server"
"$BIN/fengqiao" seed-demo >/dev/null
echo "== bulk loading $CASES cases"
"$BIN/rollupbench" load --cases "$CASES" | tee "$WORK/load.txt"
psql -X -q -d "$BENCH_DB" -c ANALYZE
echo "== verify-rollups after the bulk load"
"$BIN/fengqiao" verify-rollups | tee "$WORK/verify-after-load.txt"

echo "== closed loop through the API for ${LOOP_SECONDS}s"
FENGQIAO_LISTEN="127.0.0.1:$PORT" FENGQIAO_SEED_DEMO_IF_EMPTY=false FENGQIAO_DEADLINE_SCAN_MINUTES=0 \
    "$BIN/fengqiao" serve >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 120); do
    curl -fsS "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break
    sleep 0.5
done
"$BIN/loadgen" --url "http://127.0.0.1:$PORT/graphql" --mode loop --clients "$CLIENTS" \
    --warmup 2s --duration "${LOOP_SECONDS}s" --out "$WORK/loop.json" | tee "$WORK/loop.txt"
kill "$SERVER_PID"
wait "$SERVER_PID" 2>/dev/null || true
SERVER_PID=""

echo "== measuring"
mkdir -p "$OUT_DIR"
"$BIN/rollupbench" measure --runs "$RUNS" --naive-runs "$NAIVE_RUNS" --out "$OUT_DIR/rollups.json" \
    | tee "$WORK/measure.txt"

{
    echo "# County dashboard benchmark"
    echo
    echo "Run $(date -u +%Y-%m-%dT%H:%MZ) at commit $(cd "$ROOT" && git rev-parse --short HEAD) on $(nproc) cores;"
    echo "PostgreSQL $(psql -X -Atq -d "$BENCH_DB" -c 'SHOW server_version'), cache: $(if [[ -n "${FENGQIAO_REDIS_URL:-}" ]]; then echo Redis; else echo in-process; fi)."
    echo
    echo '```'
    cat "$WORK/load.txt" "$WORK/verify-after-load.txt"
    echo
    echo "closed loop through the API on top of the bulk load:"
    cat "$WORK/loop.txt"
    echo
    cat "$WORK/measure.txt"
    echo '```'
    echo
    echo "Raw figures: rollups.json. Reproduce: tests/bench/run-rollup-bench.sh"
} >"$OUT_DIR/rollups.md"
echo "wrote $OUT_DIR/rollups.md and $OUT_DIR/rollups.json"
