#!/usr/bin/env bash
# `mfpipe run` of the 1M customer file, alternating between checkouts, into SQLite and
# PostgreSQL: does a change cost anything? Results: benchmarks/RESULTS.md.
#
#   benchmarks/bench_checkouts.sh ROUNDS CHECKOUT ...
#
# Each CHECKOUT is a directory with mfpipe and its .venv (e.g. a `git worktree` of an older
# commit). Runs start in a scratch directory (a launcher's processes import mfpipe from the
# current directory first); each gets a fresh SQLite file or PostgreSQL schema, and must
# exit 0. Wall seconds per run, as /usr/bin/time measures the command. BAD=N: a file with N
# bad records instead (rejects, and their bad file in the scratch directory).
set -euo pipefail
cd "$(dirname "$0")/.."
here=$(pwd)
rounds=$1
shift
bad=${BAD:-0}
file=$(.venv/bin/python -c "import sys; sys.path.insert(0, 'benchmarks'); import bench_load as b; print(b.sample_file(1_000_000, bad=$bad))")
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
P="psql -h 127.0.0.1 -U postgres -d test -X -q"
run() {  # checkout, database URL: wall seconds
  { /usr/bin/time -f "%e" "$1/.venv/bin/mfpipe" run --layout "$here/mfpipe/data/customer.cpy" \
      --input "$file" --date open_date=YYYYMMDD --db "$2" --max-errors 0 \
      --bad-file "$scratch" --json >/dev/null; } 2>&1 | tail -1
}
cd "$scratch"
for round in $(seq 1 "$rounds"); do
  for checkout in "$@"; do
    rm -f "$scratch"/run.db*
    sqlite=$(run "$checkout" "sqlite:///$scratch/run.db")
    schema=bench_$RANDOM$RANDOM
    $P -c "CREATE SCHEMA $schema"
    postgres=$(run "$checkout" "postgresql://postgres@127.0.0.1:5432/test?options=-csearch_path%3D$schema")
    $P -c "DROP SCHEMA $schema CASCADE" 2>/dev/null
    echo "round $round  $checkout  sqlite $sqlite s  postgresql $postgres s"
  done
done
