#!/usr/bin/env bash
# Every benchmark of issue #9, in order (`make bench`). Each line is also runnable alone.
# Generated data goes to bench/data/ (gitignored); results to bench/results/*.json; the tables
# of bench/README.md are regenerated at the end. About 50 min on 2 cores (48 min on 2026-11-24)
# and ~46 GB of disk in bench/data/ (33 GB of it for 1M; BENCH_LARGE=0 below skips that).
#
#   BENCH_SCALES="10k 100k"   scales for the daily run and the floor/pandas comparison
#   BENCH_BACKFILL_SCALE=100k scale of the 90-day backfill
#   BENCH_REPEATS=3           repeats of the floor/pandas comparison
#   BENCH_LARGE=0             skip the 1M accounts block (on by default: daily run in-process,
#                             ours vs the floor) at BENCH_LARGE_EVENTS events per account and
#                             day (default 1: about 90 M events, ~12 GB of landing files and
#                             ~20 min of the total; 6 a day would be ~48 GB of CSV alone)
# A benchmark that fails is reported at the end and makes the run exit non-zero.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
SCALES=${BENCH_SCALES:-"10k 100k"}
BACKFILL_SCALE=${BENCH_BACKFILL_SCALE:-100k}
REPEATS=${BENCH_REPEATS:-3}

echo "== load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
for s in $SCALES; do
  $PY bench/scale_data.py --scale "$s"                      # generated once, then reused
done
for s in $SCALES; do
  $PY bench/daily_run.py --scale "$s" --repeats 2            # day 90, in-process + Dagster run
  $PY bench/floor_and_pandas.py --scale "$s" --repeats "$REPEATS"
done
$PY bench/scale_data.py --scale "$BACKFILL_SCALE"
# Flat cost: day 1 (empty history) and day 35 (first full event window) vs day 90 above.
$PY bench/daily_run.py --scale "$BACKFILL_SCALE" --day-index 1 --skip-dagster --repeats 2
$PY bench/daily_run.py --scale "$BACKFILL_SCALE" --day-index 35 --skip-dagster --repeats 2
# The longest and most memory-hungry run: a failure here must not stop the remaining benchmarks.
FAILED=""
$PY bench/backfill.py --scale "$BACKFILL_SCALE" || FAILED="$FAILED backfill_$BACKFILL_SCALE"
$PY bench/demo_time.py
# Written by the sync and connector helpers; run when present.
[ -f bench/sync_throughput.py ] && $PY bench/sync_throughput.py
[ -f bench/mixpanel_memory.py ] && $PY bench/mixpanel_memory.py
if [ "${BENCH_LARGE:-1}" = "1" ]; then
  # 1M accounts: no Dagster run (about 10x the 100k run) and no pandas (the 35-day window as a
  # DataFrame would need ~13 GB of the 24 GB here); see bench/README.md.
  export BENCH_EVENTS_PER_ACCOUNT_DAY=${BENCH_LARGE_EVENTS:-1}
  # the 35 M-row CRM activities snapshot took DuckDB past 20 GB with its default limit (80 % of
  # RAM); with a limit it spills to disk instead
  export ACCT_DUCKDB_MEMORY_LIMIT=${ACCT_DUCKDB_MEMORY_LIMIT:-8GB}
  { $PY bench/scale_data.py --scale 1m &&
    $PY bench/daily_run.py --scale 1m --skip-dagster --repeats 1 &&
    $PY bench/floor_and_pandas.py --scale 1m --repeats 1 --skip-pandas; } ||
    FAILED="$FAILED 1m"
  unset BENCH_EVENTS_PER_ACCOUNT_DAY ACCT_DUCKDB_MEMORY_LIMIT
fi
$PY bench/report.py
echo "== load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
if [ -n "$FAILED" ]; then
  echo "== FAILED:$FAILED (see above)"
  exit 1
fi
