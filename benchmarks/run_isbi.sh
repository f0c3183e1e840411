#!/usr/bin/env bash
# ISBI 2012 EM benchmark, end to end: simulated strokes -> random-forest baseline ->
# napari-unet trained on the strokes and on dense labels -> metrics -> markdown table.
#
#   bash benchmarks/run_isbi.sh                 # U-Net trains 300 s per run
#   BUDGET=600 WORK=/tmp/isbi bash benchmarks/run_isbi.sh
#   STEPS=5 bash benchmarks/run_isbi.sh         # smoke check: 5 steps instead of a time budget
#
# Environment: DATA (data root, default ../shared/data beside the repo), WORK (output folder,
# default bench-out/isbi, git-ignored), BUDGET (seconds per U-Net training), STEPS (overrides
# BUDGET), TRAIN_ARGS (extra 'napari-unet train' options, e.g. "--device cuda"), PYTHON, UNET
# (the napari-unet command). Results: $WORK/results.jsonl and the table on stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
UNET=${UNET:-napari-unet}
W=${WORK:-bench-out/isbi}
S=$W/strokes
RES=$W/results.jsonl
if [ -n "${STEPS:-}" ]; then LEN=(--steps "$STEPS"); else LEN=(--time-budget "${BUDGET:-300}"); fi
read -r -a EXTRA <<< "${TRAIN_ARGS:-}"

mkdir -p "$W"
: > "$RES"
$PY -m benchmarks.isbi_strokes --out "$S" ${DATA:+--data "$DATA"}
for L in strokes dense; do
  $PY -m benchmarks.random_forest --strokes "$S" --labels "$L" --out "$W/rf_$L" | tail -n 1 >> "$RES"
done
# U-Net runs, separated by ';': name|labels (strokes or dense)|extra 'napari-unet train' options
VARIANTS=${VARIANTS:-"strokes|strokes|;strokes-w21|strokes|--class-weights 2,1;dense|dense|"}
IFS=';' read -r -a RUNS <<< "$VARIANTS"
for run in "${RUNS[@]}"; do
  IFS='|' read -r N L OPTS <<< "$run"
  read -r -a OPTS <<< "$OPTS"
  t0=$SECONDS
  $UNET train --images "$S"/images/*.tif --labels "$S/$L"/*.tif --out "$W/unet_$N.pt" "${LEN[@]}" "${EXTRA[@]}" "${OPTS[@]}"
  t=$((SECONDS - t0))
  $UNET predict --model "$W/unet_$N.pt" --images "$S"/eval_images/*.tif --out-dir "$W/unet_$N"
  $PY -m benchmarks.metrics --pred "$W/unet_$N" --truth "$S/eval_truth" --name "U-Net ($N)" --seconds "$t" >> "$RES"
done
echo
$PY -m benchmarks.metrics --table "$RES"
