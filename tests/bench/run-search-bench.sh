#!/usr/bin/env bash
# Case search with a million cases, on PostgreSQL: the embedded index and, when MEILI_URL is set,
# Meilisearch.
#
# Creates a fresh database, seeds the demo county 清水县 through the server (`fengqiao seed-demo`), adds
# CASES cases with varied complaints and two parties each (`rollupbench load --searchable`), and then for
# each engine builds the index from the store with `fengqiao reindex` (its line gives the indexing
# throughput) and runs `searchbench run`: searchCases through the API and the same queries straight to the
# index, alternating, CLIENTS clients each. Figures: bench-results/search-<engine>.json (one per engine, as
# last run) and bench-results/search.md (every engine's file found there). Everything it starts is stopped
# on exit.
#
# Settings (environment; defaults in brackets):
#   PGHOST [127.0.0.1] PGPORT [5432] PGUSER [postgres]   PostgreSQL, trust authentication
#   BENCH_DB [fengqiao_search_bench]   dropped and created afresh unless SKIP_LOAD=1
#   CASES [1000000]  CLIENTS [16]  ROUND_SECONDS [15]  ROUNDS [2]
#   ENGINES [embedded, and meilisearch when MEILI_URL is set]
#   MEILI_URL, MEILI_MASTER_KEY   a Meilisearch server; the benchmark's index is `fengqiao_bench`
#   SKIP_BUILD [0] SKIP_LOAD [0]   1: use the built binaries / the database as they are
#   PROFILE [release]   debug only to smoke-test the script
#   OUT_DIR [bench-results]  CARGO_TARGET_DIR [$HOME/.cache/fengqiao-target]

set -euo pipefail

export PGHOST="${PGHOST:-127.0.0.1}" PGPORT="${PGPORT:-5432}" PGUSER="${PGUSER:-postgres}"
BENCH_DB="${BENCH_DB:-fengqiao_search_bench}"
CASES="${CASES:-1000000}"
CLIENTS="${CLIENTS:-16}"
SECONDS_PER_ROUND="${ROUND_SECONDS:-15}"
ROUNDS="${ROUNDS:-2}"
if [[ -z "${ENGINES:-}" ]]; then
    ENGINES="embedded"
    [[ -n "${MEILI_URL:-}" ]] && ENGINES="embedded meilisearch"
fi
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
OUT_DIR="${OUT_DIR:-bench-results}"
[[ "$OUT_DIR" = /* ]] || OUT_DIR="$ROOT/$OUT_DIR"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/fengqiao-target}"
PROFILE="${PROFILE:-release}"
BIN="$CARGO_TARGET_DIR/$PROFILE"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT INT TERM

if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
    (cd "$ROOT" && cargo build --profile "$([[ $PROFILE == debug ]] && echo dev || echo "$PROFILE")" \
        -p fengqiao -p fengqiao-tests --bins)
fi

# The schema's owner migrates; the server runs as a role that owns nothing, under row-level security.
psql -X -q -d postgres -c "DO \$\$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'fengqiao_bench')
    THEN CREATE ROLE fengqiao_bench LOGIN PASSWORD 'fengqiao_bench'; END IF; END \$\$"
export FENGQIAO_DATABASE_URL="postgres://fengqiao_bench:fengqiao_bench@$PGHOST:$PGPORT/$BENCH_DB"
export FENGQIAO_DATABASE_OWNER_URL="postgres://$PGUSER@$PGHOST:$PGPORT/$BENCH_DB"
export FENGQIAO_DATA_DIR="$WORK/data"
export FENGQIAO_LOG="${FENGQIAO_LOG:-warn}"
export FENGQIAO_SEED_DEMO_IF_EMPTY=false
unset FENGQIAO_CONFIG

if [[ "${SKIP_LOAD:-0}" != 1 ]]; then
    psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $BENCH_DB WITH (FORCE)" -c "CREATE DATABASE $BENCH_DB"
    echo "== seeding the demo county through the server"
    "$BIN/fengqiao" seed-demo >/dev/null
    echo "== bulk loading $CASES cases with complaints and parties"
    "$BIN/rollupbench" load --cases "$CASES" --searchable | tee "$WORK/load.txt"
    psql -X -q -d "$BENCH_DB" -c ANALYZE
fi
TOTAL=$(psql -X -Atq -d "$BENCH_DB" -c "SELECT count(*) FROM cases")

mkdir -p "$OUT_DIR"
for engine in $ENGINES; do
    unset FENGQIAO_SEARCH__MEILI_URL FENGQIAO_SEARCH__MEILI_API_KEY FENGQIAO_SEARCH__MEILI_INDEX \
        FENGQIAO_SEARCH__INDEX_DIR
    case "$engine" in
        embedded)
            export FENGQIAO_SEARCH__INDEX_DIR="$WORK/index-embedded"
            ;;
        meilisearch)
            : "${MEILI_URL:?set MEILI_URL (and MEILI_MASTER_KEY) for the meilisearch engine}"
            export FENGQIAO_SEARCH__MEILI_URL="$MEILI_URL"
            export FENGQIAO_SEARCH__MEILI_API_KEY="${MEILI_MASTER_KEY:-}"
            export FENGQIAO_SEARCH__MEILI_INDEX=fengqiao_bench
            ;;
        *) echo "unknown engine $engine" >&2; exit 2 ;;
    esac
    echo "== $engine: building the index from $TOTAL cases"
    /usr/bin/time -f "reindex: %e s wall, %M KiB max RSS" "$BIN/fengqiao" reindex 2>&1 | tee "$WORK/reindex-$engine.txt"
    echo "== $engine: searching, $CLIENTS clients, $ROUNDS rounds of ${SECONDS_PER_ROUND}s per arm"
    "$BIN/searchbench" run --clients "$CLIENTS" --seconds "$SECONDS_PER_ROUND" --rounds "$ROUNDS" \
        --reindex-log "$WORK/reindex-$engine.txt" --out "$OUT_DIR/search-$engine.json"
done

results=()
for engine in embedded meilisearch; do
    [[ -f "$OUT_DIR/search-$engine.json" ]] && results+=("$OUT_DIR/search-$engine.json")
done
"$BIN/searchbench" report --out "$WORK/table.md" "${results[@]}"
{
    echo "# Case search benchmark"
    echo
    echo "Last run $(date -u +%Y-%m-%dT%H:%MZ) at commit $(cd "$ROOT" && git rev-parse --short HEAD) on $(nproc) cores;"
    echo "PostgreSQL $(psql -X -Atq -d "$BENCH_DB" -c 'SHOW server_version'), $TOTAL cases in the database."
    echo "Each engine's figures come from its own JSON file (search-<engine>.json), run with the settings"
    echo "recorded there."
    echo
    cat "$WORK/table.md"
    echo
    echo "Reproduce: tests/bench/run-search-bench.sh (see tests/bench/README.md)."
} >"$OUT_DIR/search.md"
echo "wrote $OUT_DIR/search.md"
