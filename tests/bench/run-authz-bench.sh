#!/usr/bin/env bash
# Authorization at national scale: the real authorizer over 2,850 counties, 38,000 townships and 490,000
# villages with 1,000,000 grants (policy load time, memory, permit and case_scope latency), then the share of
# a `cases` query spent on authorization, with the demo county seeded on a fresh embedded database and the
# national grants loaded beside its own. Figures go to bench-results/authz.json and bench-results/authz.md.
#
# Settings (environment; defaults in brackets):
#   COUNTIES [2850] TOWNSHIPS [38000] VILLAGES [490000] GRANTS [1000000] CHECKS [200000] LOADS [3] QUERIES [300]
#   SKIP_BUILD [0]  1: use the release binary already built
#   OUT_DIR [bench-results]  CARGO_TARGET_DIR [$HOME/.cache/fengqiao-bench-target]
# A quick run: COUNTIES=30 TOWNSHIPS=380 VILLAGES=4900 GRANTS=10000 CHECKS=5000 LOADS=1 QUERIES=50

set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
OUT_DIR="$ROOT/${OUT_DIR:-bench-results}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/fengqiao-bench-target}"

if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
    (cd "$ROOT" && cargo build --release -p fengqiao-tests --bin authzbench)
fi

# The second part runs on the embedded defaults in a temporary folder, whatever the shell has configured.
env -u FENGQIAO_CONFIG -u FENGQIAO_DATABASE_URL -u FENGQIAO_DATABASE_OWNER_URL -u FENGQIAO_REDIS_URL \
    FENGQIAO_LOG="${FENGQIAO_LOG:-warn}" \
    "$CARGO_TARGET_DIR/release/authzbench" \
    --counties "${COUNTIES:-2850}" --townships "${TOWNSHIPS:-38000}" --villages "${VILLAGES:-490000}" \
    --grants "${GRANTS:-1000000}" --checks "${CHECKS:-200000}" --loads "${LOADS:-3}" \
    --queries "${QUERIES:-300}" --out "$OUT_DIR/authz.json"
