#!/usr/bin/env bash
# registerCase throughput against the PostgreSQL floor.
#
# Creates a fresh database, builds the server and the load generator, starts the server against the
# database (it migrates and seeds the demo county 清水县), waits for /readyz, runs
#   loadgen --mode register  (CLIENTS clients, WARMUP + DURATION seconds)
#   loadgen --mode loop      (the whole closed loop per case, same clients and time)
# records the server's resident memory, stops the server, then runs
#   pgbench -n -c CLIENTS -j PGBENCH_THREADS -T DURATION -f tests/bench/register.sql
# on the same database, and writes every figure plus the ratio registerCase/s ÷ pgbench tps to
# bench-results/register.json and bench-results/register.md. Everything it starts is stopped on exit,
# failure or interrupt included.
#
# Usage:
#   tests/bench/run-register-bench.sh                     the full run (release build)
#   tests/bench/run-register-bench.sh --pgbench-vars DB   print the -D options register.sql needs for DB
#
# Settings (environment; defaults in brackets):
#   PGHOST [127.0.0.1] PGPORT [5432] PGUSER [postgres]   PostgreSQL, trust authentication
#   BENCH_DB [fengqiao_bench]      dropped and created afresh
#   PROFILE [release]              cargo profile to build and run (debug: only to smoke-test this script)
#   SKIP_BUILD [0]                 1: use the binaries already built
#   CLIENTS [32] DURATION [20] WARMUP [3] (seconds)  PGBENCH_THREADS [2]  PGBENCH_MODE [simple]
#   PORT [18080]                   the server listens on 127.0.0.1:PORT
#   DB_MAX_CONNECTIONS [32]        the server's pool size
#   SKIP_LOOP [0]                  1: leave out the loop-mode run
#   READY_SECONDS [900]            how long the server may take to migrate and seed before it is ready
#   OUT_DIR [bench-results]        relative to the workspace root
#   CARGO_TARGET_DIR [$HOME/.cache/fengqiao-target]
# Each client registers far faster than a person would, so the server's per-account mutation limit is raised
# out of the way (its bucket is still taken from on every request, so its cost is in the figures).
# Environment variables such as MALLOC_ARENA_MAX or FENGQIAO_REDIS_URL pass through to the server.

set -euo pipefail

export PGHOST="${PGHOST:-127.0.0.1}" PGPORT="${PGPORT:-5432}" PGUSER="${PGUSER:-postgres}"

# The -D options of register.sql: the county, its code, and per demo township tNN its id (tN) and its
# intake clerk's user id (uN).
pgbench_vars() {
    local db=$1 vars
    vars=$(psql -X -v ON_ERROR_STOP=1 -d "$db" -Atq <<'SQL'
WITH clerks AS (
    SELECT n, u.id AS user_id, u.tenant_id
    FROM generate_series(1, 18) AS n
    JOIN users u ON u.username = format('t%s.clerk', lpad(n::text, 2, '0'))
), county AS (
    SELECT c.id, left(c.code, 6) AS code
    FROM users u JOIN tenants t ON t.id = u.tenant_id JOIN tenants c ON c.id = t.county_id
    WHERE u.username = 't01.clerk'
)
SELECT CASE WHEN (SELECT count(*) FROM clerks) = 18 AND (SELECT count(*) FROM county) = 1 THEN
    (SELECT format('-D county=%s -D county_code=%s', id, code) FROM county) || ' ' ||
    (SELECT string_agg(format('-D t%s=%s -D u%s=%s', n, tenant_id, n, user_id), ' ' ORDER BY n) FROM clerks)
END;
SQL
    )
    if [[ -z "$vars" ]]; then
        echo "database $db has no demo county with clerks t01.clerk … t18.clerk (seed it with the server first)" >&2
        return 1
    fi
    echo "$vars"
}

if [[ "${1:-}" == "--pgbench-vars" ]]; then
    [[ -n "${2:-}" ]] || { echo "usage: $0 --pgbench-vars DATABASE" >&2; exit 2; }
    pgbench_vars "$2"
    exit 0
elif [[ $# -gt 0 ]]; then
    echo "usage: $0 [--pgbench-vars DATABASE]   (settings come from the environment; see the header)" >&2
    exit 2
fi

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"

BENCH_DB="${BENCH_DB:-fengqiao_bench}"
PROFILE="${PROFILE:-release}"
SKIP_BUILD="${SKIP_BUILD:-0}"
CLIENTS="${CLIENTS:-32}"
DURATION="${DURATION:-20}"
WARMUP="${WARMUP:-3}"
PGBENCH_THREADS="${PGBENCH_THREADS:-2}"
PGBENCH_MODE="${PGBENCH_MODE:-simple}"
PORT="${PORT:-18080}"
DB_MAX_CONNECTIONS="${DB_MAX_CONNECTIONS:-32}"
SKIP_LOOP="${SKIP_LOOP:-0}"
READY_SECONDS="${READY_SECONDS:-900}"
OUT_DIR="${OUT_DIR:-bench-results}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/fengqiao-target}"

[[ "$BENCH_DB" =~ ^[a-z_][a-z0-9_]*$ ]] || { echo "BENCH_DB must be a plain lower-case identifier" >&2; exit 2; }
for tool in psql pgbench curl jq; do
    command -v "$tool" >/dev/null || { echo "$tool is needed" >&2; exit 2; }
done

URL="http://127.0.0.1:${PORT}/graphql"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/fengqiao-bench.XXXXXX")
SERVER_PID=""
KEEP_WORK=0

stop_server() {
    if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        for _ in $(seq 1 50); do
            kill -0 "$SERVER_PID" 2>/dev/null || break
            sleep 0.2
        done
        kill -KILL "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    SERVER_PID=""
}

cleanup() {
    local status=$?
    trap - EXIT INT TERM
    stop_server
    if [[ $status -ne 0 ]]; then
        echo "bench failed (exit $status); the server log is kept at $WORK/server.log" >&2
    elif [[ $KEEP_WORK == 1 ]]; then
        echo "there were errors; the server log and raw outputs are kept in $WORK" >&2
    else
        rm -rf "$WORK"
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

say() { printf '\n== %s\n' "$*" >&2; }

mib_of() { # VmRSS or VmHWM of a process, in MiB
    awk -v f="$2:" '$1 == f { printf "%.1f", $2 / 1024 }' "/proc/$1/status" 2>/dev/null || true
}

# ---- build -----------------------------------------------------------------------------------------------
case "$PROFILE" in
    release) BUILD_FLAGS=(--release) BIN_DIR="$CARGO_TARGET_DIR/release" ;;
    debug | dev) BUILD_FLAGS=() BIN_DIR="$CARGO_TARGET_DIR/debug" ;;
    *) BUILD_FLAGS=(--profile "$PROFILE") BIN_DIR="$CARGO_TARGET_DIR/$PROFILE" ;;
esac
if [[ "$SKIP_BUILD" != 1 ]]; then
    say "building ($PROFILE): fengqiao, fengqiao-tests"
    cargo build "${BUILD_FLAGS[@]}" -p fengqiao -p fengqiao-tests
fi
SERVER_BIN="$BIN_DIR/fengqiao"
LOADGEN_BIN="$BIN_DIR/loadgen"
[[ -x "$SERVER_BIN" && -x "$LOADGEN_BIN" ]] || { echo "missing $SERVER_BIN or $LOADGEN_BIN" >&2; exit 1; }

# ---- database --------------------------------------------------------------------------------------------
say "creating database $BENCH_DB on $PGHOST:$PGPORT"
psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "DROP DATABASE IF EXISTS $BENCH_DB WITH (FORCE)" -c "CREATE DATABASE $BENCH_DB"
# The schema's owner (PGUSER) migrates; the server runs as a role that owns nothing, under row-level security.
psql -X -q -d postgres -c "DO \$\$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'fengqiao_bench')
    THEN CREATE ROLE fengqiao_bench LOGIN PASSWORD 'fengqiao_bench'; END IF; END \$\$"
PG_VERSION=$(psql -X -Atq -d "$BENCH_DB" -c 'SHOW server_version')

# ---- server ----------------------------------------------------------------------------------------------
if curl -s -o /dev/null "http://127.0.0.1:${PORT}/healthz"; then
    echo "something already listens on 127.0.0.1:$PORT; set PORT" >&2
    exit 1
fi
say "starting $SERVER_BIN on 127.0.0.1:$PORT (seeds the demo county)"
env -u FENGQIAO_CONFIG \
    FENGQIAO_LISTEN="127.0.0.1:$PORT" \
    FENGQIAO_DATABASE_URL="postgres://fengqiao_bench:fengqiao_bench@$PGHOST:$PGPORT/$BENCH_DB" \
    FENGQIAO_DATABASE_OWNER_URL="postgres://$PGUSER@$PGHOST:$PGPORT/$BENCH_DB" \
    FENGQIAO_DATA_DIR="$WORK/data" \
    FENGQIAO_SEED_DEMO_IF_EMPTY=true \
    FENGQIAO_DATABASE_MAX_CONNECTIONS="$DB_MAX_CONNECTIONS" \
    FENGQIAO_GRAPHQL__MUTATION_BURST=1000000 \
    FENGQIAO_GRAPHQL__MUTATIONS_PER_MINUTE=1000000 \
    FENGQIAO_REDIS_URL="${FENGQIAO_REDIS_URL:-}" \
    "$SERVER_BIN" serve >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
started=$(date +%s)
until curl -sf -o /dev/null "http://127.0.0.1:${PORT}/readyz"; do
    kill -0 "$SERVER_PID" 2>/dev/null || { echo "the server exited:" >&2; tail -20 "$WORK/server.log" >&2; exit 1; }
    (( $(date +%s) - started < READY_SECONDS )) || { echo "the server was not ready within $READY_SECONDS s" >&2; exit 1; }
    sleep 0.5
done
READY_S=$(( $(date +%s) - started ))
RSS_READY=$(mib_of "$SERVER_PID" VmRSS)
HWM_READY=$(mib_of "$SERVER_PID" VmHWM)
say "ready after ${READY_S} s; VmRSS ${RSS_READY} MiB, VmHWM ${HWM_READY} MiB (seeding included)"

run_loadgen() { # mode
    say "loadgen --mode $1: $CLIENTS clients, ${WARMUP} s warm-up, ${DURATION} s measured"
    "$LOADGEN_BIN" --url "$URL" --mode "$1" --clients "$CLIENTS" --duration "${DURATION}s" --warmup "${WARMUP}s" \
        --server-pid "$SERVER_PID" --out "$WORK/loadgen-$1.json" | tee "$WORK/loadgen-$1.txt"
}

run_loadgen register
if [[ "$SKIP_LOOP" != 1 ]]; then
    run_loadgen loop
else
    echo 'null' >"$WORK/loadgen-loop.json"
fi
RSS_END=$(mib_of "$SERVER_PID" VmRSS)
HWM_END=$(mib_of "$SERVER_PID" VmHWM)
CASES=$(psql -X -Atq -d "$BENCH_DB" -c 'SELECT count(*) FROM cases')
PGBENCH_VARS=$(pgbench_vars "$BENCH_DB")
say "stopping the server (VmRSS ${RSS_END} MiB, VmHWM ${HWM_END} MiB; $CASES cases in the database)"
stop_server

# ---- pgbench ---------------------------------------------------------------------------------------------
say "pgbench: $CLIENTS clients, $PGBENCH_THREADS threads, ${DURATION} s, tests/bench/register.sql"
# shellcheck disable=SC2086 # PGBENCH_VARS is a list of options
pgbench -n -c "$CLIENTS" -j "$PGBENCH_THREADS" -T "$DURATION" -M "$PGBENCH_MODE" \
    -f tests/bench/register.sql $PGBENCH_VARS "$BENCH_DB" 2>&1 | tee "$WORK/pgbench.txt"
pg_field() { sed -n "s/^$1[[:space:]]*\([0-9.]*\).*/\1/p" "$WORK/pgbench.txt" | head -1; }
PG_TPS=$(pg_field 'tps = ')
PG_LAT=$(pg_field 'latency average = ')
PG_TX=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$WORK/pgbench.txt" | head -1)
PG_FAILED=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$WORK/pgbench.txt" | head -1)
[[ -n "$PG_TPS" ]] || { echo "could not read tps from pgbench's output" >&2; exit 1; }

# ---- results ---------------------------------------------------------------------------------------------
mkdir -p "$OUT_DIR"
GIT_COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
GIT_DIRTY=$([[ -n "$(git status --porcelain 2>/dev/null)" ]] && echo true || echo false)
jq -n \
    --arg date "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
    --arg commit "$GIT_COMMIT" --argjson dirty "$GIT_DIRTY" \
    --arg profile "$PROFILE" --arg pg_version "$PG_VERSION" \
    --arg cpu "$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)" \
    --argjson cpus "$(nproc)" --arg kernel "$(uname -r)" \
    --argjson max_conn "$DB_MAX_CONNECTIONS" --argjson ready_s "$READY_S" \
    --arg rss_ready "$RSS_READY" --arg hwm_ready "$HWM_READY" --arg rss_end "$RSS_END" --arg hwm_end "$HWM_END" \
    --argjson cases "$CASES" \
    --slurpfile register "$WORK/loadgen-register.json" --slurpfile loop "$WORK/loadgen-loop.json" \
    --argjson clients "$CLIENTS" --argjson threads "$PGBENCH_THREADS" --argjson duration "$DURATION" \
    --arg pg_mode "$PGBENCH_MODE" --argjson tps "$PG_TPS" --argjson lat "${PG_LAT:-null}" \
    --argjson tx "${PG_TX:-null}" --argjson failed "${PG_FAILED:-0}" \
    '
    def num: if . == "" then null else tonumber end;
    {
      date: $date,
      git: { commit: $commit, dirty: $dirty },
      machine: { cpu: $cpu, cpus: $cpus, kernel: $kernel, postgres: $pg_version,
                 note: "server, load generator and PostgreSQL share these CPUs" },
      server: { profile: $profile, database_max_connections: $max_conn, ready_after_s: $ready_s,
                rss_ready_mib: ($rss_ready | num), vm_hwm_ready_mib: ($hwm_ready | num),
                rss_end_mib: ($rss_end | num), vm_hwm_end_mib: ($hwm_end | num),
                peak_rss_register_mib: $register[0].server.peak_rss_mib,
                peak_rss_loop_mib: ($loop[0].server.peak_rss_mib? // null),
                cases_in_database_after_load: $cases },
      register: $register[0],
      loop: $loop[0],
      pgbench: { script: "tests/bench/register.sql", clients: $clients, threads: $threads, duration_s: $duration,
                 protocol: $pg_mode, tps: $tps, latency_avg_ms: $lat, transactions: $tx, failed: $failed },
      register_per_s: $register[0].register_per_s,
      ratio_register_to_pgbench: (if $tps > 0 then (($register[0].register_per_s / $tps) * 1000 | round) / 1000 else null end)
    }' >"$OUT_DIR/register.json"

jq -r '
  def f(d): if . == null then "–" else ((. * pow(10; d) | round) / pow(10; d) | tostring) end;
  def row(name; o): "| \(name) | \(o.requests) | \(o.errors) | \(o.throughput_per_s | f(1)) | \(o.p50_ms | f(1)) | \(o.p90_ms | f(1)) | \(o.p99_ms | f(1)) | \(o.max_ms | f(1)) |";
  "# registerCase vs. pgbench",
  "",
  "\(.date), commit \(.git.commit)\(if .git.dirty then " (with uncommitted changes)" else "" end), \(.server.profile) build, PostgreSQL \(.machine.postgres), \(.machine.cpus) CPUs (\(.machine.cpu)); server, load generator and PostgreSQL on the same machine.",
  "",
  "| | per second |",
  "|---|---:|",
  "| registerCase through the API (\(.register.clients) clients) | \(.register_per_s | f(1)) |",
  "| the same writes, bare, in pgbench (\(.pgbench.clients) clients, \(.pgbench.protocol) protocol) | \(.pgbench.tps | f(1)) |",
  "| **ratio API ÷ pgbench** | **\(.ratio_register_to_pgbench | f(3))** |",
  "",
  "## registerCase (\(.register.clients) clients, \(.register.duration_s) s after \(.register.warmup_s) s warm-up)",
  "",
  "| operation | requests | errors | /s | p50 ms | p90 ms | p99 ms | max ms |",
  "|---|---:|---:|---:|---:|---:|---:|---:|",
  row("registerCase"; .register.operations.register),
  "",
  "Server CPU in the window: \(.register.server.cpu_s | f(2)) s (\(.register.server.cpu_ms_per_request | f(3)) ms per request); load generator CPU: \(.register.loadgen_cpu_s | f(2)) s.",
  "",
  (if .loop == null then "" else
    ("## The closed loop (\(.loop.clients) clients, \(.loop.duration_s) s): register → accept → dispatch → claim → resolve → follow up → close",
     "",
     "| operation | requests | errors | /s | p50 ms | p90 ms | p99 ms | max ms |",
     "|---|---:|---:|---:|---:|---:|---:|---:|",
     (.loop.operations | to_entries[] | row(.key; .value)),
     row("**whole case**"; .loop.cycles),
     "",
     "Server CPU in the window: \(.loop.server.cpu_s | f(2)) s (\(.loop.server.cpu_ms_per_request | f(3)) ms per request).",
     "")
  end),
  "## pgbench (tests/bench/register.sql)",
  "",
  "\(.pgbench.clients) clients, \(.pgbench.threads) threads, \(.pgbench.duration_s) s: \(.pgbench.transactions) transactions, \(.pgbench.failed) failed, \(.pgbench.tps | f(1)) tps, average latency \(.pgbench.latency_avg_ms | f(3)) ms.",
  "",
  "## Server memory (MiB)",
  "",
  "| when | VmRSS | VmHWM (peak since start) |",
  "|---|---:|---:|",
  "| ready (demo seeded) | \(.server.rss_ready_mib | f(1)) | \(.server.vm_hwm_ready_mib | f(1)) |",
  "| registerCase run: after sign-in → peak sampled | \(.register.server.rss_at_start_mib | f(1)) → \(.register.server.peak_rss_mib | f(1)) | \(.register.server.vm_hwm_mib | f(1)) |",
  (if .loop == null then empty else
    "| loop run: after sign-in → peak sampled | \(.loop.server.rss_at_start_mib | f(1)) → \(.loop.server.peak_rss_mib | f(1)) | \(.loop.server.vm_hwm_mib | f(1)) |" end),
  "| end | \(.server.rss_end_mib | f(1)) | \(.server.vm_hwm_end_mib | f(1)) |",
  "",
  "Each sign-in runs argon2id with 19 MiB of memory; the server runs at most `auth.password_check_concurrency` (2) password checks at once",
  "and allocates with mimalloc, which returns those buffers to the system (see tests/bench/README.md).",
  "",
  "\(.server.cases_in_database_after_load) cases in the database after the API runs. Raw figures: register.json."
' "$OUT_DIR/register.json" >"$OUT_DIR/register.md"

if [[ $(jq '[.register.errors, (.loop.errors // 0), .pgbench.failed] | add' "$OUT_DIR/register.json") != 0 ]]; then
    KEEP_WORK=1
fi
say "results"
jq -r '"registerCase \(.register_per_s)/s, pgbench \(.pgbench.tps) tps, ratio \(.ratio_register_to_pgbench); \(.register.errors) registerCase errors, \(.pgbench.failed) pgbench failures"' "$OUT_DIR/register.json"
echo "written: $OUT_DIR/register.json, $OUT_DIR/register.md"
