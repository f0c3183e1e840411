#!/usr/bin/env bash
# DSB2018 nuclei benchmark (instance mode), end to end: simulated instance strokes ->
# random-forest + watershed baseline -> napari-unet --mode instance trained on the strokes,
# without and with the U-Net paper's border weight map -> instance metrics -> markdown table.
#
#   bash benchmarks/run_dsb.sh                  # U-Net trains 300 s per run
#   BUDGET=600 WORK=/tmp/dsb bash benchmarks/run_dsb.sh
#   STEPS=3 STROKES_ARGS="--n-train 3 --n-eval 2" bash benchmarks/run_dsb.sh   # smoke check
#
# Environment: DATA (data root, default ../shared/data beside the repo), WORK (output folder,
# default bench-out/dsb, git-ignored), BUDGET (seconds per U-Net training), STEPS (overrides
# BUDGET), STROKES_ARGS (extra dsb_strokes.py options, e.g. "--n-train 60 --n-eval 40"),
# RF_ARGS (extra dsb_random_forest.py options), TRAIN_ARGS (extra 'napari-unet train' options,
# e.g. "--device cuda"), PYTHON, UNET (the napari-unet command), VARIANTS (U-Net runs, see
# below; add "dense|dense|--mode instance" for an upper bound on dense labels).
# Results: $WORK/results.jsonl and the table on stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
UNET=${UNET:-napari-unet}
W=${WORK:-bench-out/dsb}
S=$W/strokes
RES=$W/results.jsonl
if [ -n "${STEPS:-}" ]; then LEN=(--steps "$STEPS"); else LEN=(--time-budget "${BUDGET:-300}"); fi
read -r -a EXTRA <<< "${TRAIN_ARGS:-}"
read -r -a SARGS <<< "${STROKES_ARGS:-}"
read -r -a RARGS <<< "${RF_ARGS:-}"

mkdir -p "$W"
: > "$RES"
rm -rf "$S"  # a new split must not mix with an older, larger one
$PY -m benchmarks.dsb_strokes --out "$S" ${DATA:+--data "$DATA"} "${SARGS[@]}"
$PY -m benchmarks.dsb_random_forest --strokes "$S" --out "$W/rf_strokes" "${RARGS[@]}" | tail -n 1 >> "$RES"
# U-Net runs, separated by ';': name|labels (strokes or dense)|extra 'napari-unet train' options
VARIANTS=${VARIANTS:-"no-border-weights|strokes|--mode instance --no-border-weights;border-weights|strokes|--mode instance"}
IFS=';' read -r -a RUNS <<< "$VARIANTS"
for run in "${RUNS[@]}"; do
  IFS='|' read -r N L OPTS <<< "$run"
  read -r -a OPTS <<< "$OPTS"
  t0=$SECONDS
  $UNET train --images "$S"/images/*.tif --labels "$S/$L"/*.tif --out "$W/unet_$N.pt" "${LEN[@]}" "${EXTRA[@]}" "${OPTS[@]}"
  t=$((SECONDS - t0))
  rm -rf "$W/unet_$N"
  $UNET predict --model "$W/unet_$N.pt" --images "$S"/eval_images/*.tif --out-dir "$W/unet_$N"
  $PY -m benchmarks.instance_metrics --pred "$W/unet_$N" --truth "$S/eval_truth" --name "U-Net ($N)" --seconds "$t" >> "$RES"
done
echo
$PY -m benchmarks.instance_metrics --table "$RES"
