#!/usr/bin/env bash
# Boundaries under distribution shift (docs/benchmarks.md, "Boundaries"): the previous defaults
# ("old") against the current ones ("new") and a random forest on the same strokes, 3 seeds,
# on the evaluation splits of benchmarks/boundaries.py, strokes down the middle of regions.
#
#   bash benchmarks/run_boundaries.sh                 # all tasks (about 75 min on a 2-core CPU)
#   TASKS="blobs" bash benchmarks/run_boundaries.sh
#
# Environment: PYTHON, OUT (results file, relative to the repository root; default
# bench-out/boundaries.jsonl), TASKS, SEEDS.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
OUT=${OUT:-bench-out/boundaries.jsonl}
mkdir -p "$(dirname "$OUT")"
for task in ${TASKS:-blobs dsb isbi}; do
  budget=300
  [ "$task" = blobs ] && budget=20
  $PY -m benchmarks.boundaries --task "$task" --split eval --seeds ${SEEDS:-0 1 2} --budget "$budget" --tta \
    --variant old --variant new --out "$OUT"
  $PY -m benchmarks.boundaries --task "$task" --split eval --seeds 0 --variant rf --out "$OUT"
done
$PY -m benchmarks.boundaries --summary "$OUT"
