#!/usr/bin/env bash
# One night of an append-mode job whose final table already holds older runs: which statements
# read the history, and the whole `mfpipe run`'s wall time. Results: benchmarks/RESULTS.md.
#
#   benchmarks/bench_history.sh [CHECKOUT ...]     (default: this checkout)
#
# Each CHECKOUT is a directory with mfpipe and its .venv (e.g. a `git worktree` of an older
# commit): every one gets a fresh PostgreSQL schema, loads benchmarks/data/customer_1000000.dat,
# copies its final rows three times under older run ids (4M rows of history), runs
# VACUUM ANALYZE, then loads the next night's file (seed 8, generated once by bench_load's
# generator). The server's statement log (log_min_duration_statement = 50 ms for the postgres
# role, reset at the end) gives each statement's time.
set -euo pipefail
cd "$(dirname "$0")/.."
here=$(pwd)
checkouts=("${@:-$here}")
P="psql -h 127.0.0.1 -U postgres -d test -X -q"
LOG=$(ls /var/log/postgresql/postgresql-*-main.log | head -n 1)
.venv/bin/python - <<'PY'
import sys
from pathlib import Path
sys.path.insert(0, "benchmarks")
import bench_load as b
from mfpipe.framing import FramingOptions
from mfpipe.layout import load_layout
from mfpipe.pipeline import generate_file
b.sample_file(1_000_000)
night = b.DATA / "customer_1000000_seed8.dat"
if not night.exists():
    record = load_layout(b.LAYOUT).record()
    generate_file(record, night, 1_000_000, FramingOptions("FB", lrecl=record.size), b.OPTIONS,
                  seed=8)
PY
$P -c "ALTER ROLE postgres SET log_min_duration_statement = 50"
trap '$P -c "ALTER ROLE postgres RESET log_min_duration_statement"' EXIT
columns="cust_id, cust_name, branch_code, acct_type, open_date, balance, credit_limit, \
interest_rate, txn_count, last_txn_amount, status_code, risk_score, bonus_points"
for checkout in "${checkouts[@]}"; do
  schema=hist_$RANDOM$RANDOM
  $P -c "CREATE SCHEMA $schema"
  url="postgresql://postgres@127.0.0.1:5432/test?options=-csearch_path%3D$schema"
  run() { "$checkout/.venv/bin/mfpipe" run --layout "$checkout/mfpipe/data/customer.cpy" \
            --input "$1" --db "$url" --date open_date=YYYYMMDD --max-errors 0 --json 2>/dev/null \
            | tail -n 1; }
  run benchmarks/data/customer_1000000.dat > /dev/null
  first=$($P -tAc "SELECT run_id FROM $schema.mfp_run")
  $P -c "INSERT INTO $schema.customer_account SELECT $columns, '2026000' || g || 'T000000Z-aaaaaa'
         FROM $schema.customer_account, generate_series(1, 3) g WHERE last_run_id = '$first'"
  $P -c "VACUUM ANALYZE $schema.customer_account"
  $P -c "CHECKPOINT"
  mark=$(wc -l < "$LOG")
  started=$(date +%s.%N)
  status=$(run benchmarks/data/customer_1000000_seed8.dat | .venv/bin/python -c \
           'import json, sys; d = json.load(sys.stdin); print(d["status"], d["elapsed_s"])')
  ended=$(date +%s.%N)
  echo "$checkout: $status, whole run $(echo "$ended - $started" | bc) s"
  tail -n +$((mark + 1)) "$LOG" | grep -o "duration: [0-9.]* ms  [a-z]*[^:]*: .\{0,60\}" \
    | grep -v COPY | cut -c1-100 || true
  $P -c "DROP SCHEMA $schema CASCADE" 2>/dev/null
done
