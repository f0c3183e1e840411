"""Segmentation metrics for the ISBI 2012 benchmark (labels coded 1 = membrane, 2 = cell interior).

    python -m benchmarks.metrics --pred DIR --truth DIR [--name NAME] [--seconds S]
    python -m benchmarks.metrics --table RESULTS.jsonl

The first form reads ``DIR/NN_labels.tif`` (what ``napari-unet predict --out-dir DIR``
writes) and the truth ``DIR/NN.tif`` (``isbi_strokes.py``'s ``eval_truth``), and prints one
line of JSON with the mean of each metric over the slices (plus ``name``/``seconds`` when
given). The second prints such JSON lines as a markdown table.

* pixel error: fraction of pixels whose interior/membrane call is wrong;
* foreground IoU: intersection over union of the cell interior (class 2);
* adapted Rand error (SNEMI3D / ISBI 2012 style, :func:`skimage.metrics.adapted_rand_error`):
  cells are the 4-connected components of the interior, membrane is label 0. Label 0 is
  ignored in the truth only, so predicted membrane inside a true cell counts as one big
  segment of the prediction (thick predicted membranes are penalised).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from benchmarks.common import read_jsonl

METRICS = ("pixel_error", "foreground_iou", "adapted_rand_error", "rand_precision", "rand_recall")


def pixel_error(pred_fg: np.ndarray, truth_fg: np.ndarray) -> float:
    """Fraction of pixels where the boolean interior masks disagree."""
    return float(np.mean(np.asarray(pred_fg, bool) != np.asarray(truth_fg, bool)))


def foreground_iou(pred_fg: np.ndarray, truth_fg: np.ndarray) -> float:
    """IoU of the boolean interior masks (1.0 when both are empty)."""
    p, t = np.asarray(pred_fg, bool), np.asarray(truth_fg, bool)
    union = np.logical_or(p, t).sum()
    return float(np.logical_and(p, t).sum() / union) if union else 1.0


def cells(labels: np.ndarray) -> np.ndarray:
    """Instance labels: 4-connected components of class 2, everything else 0."""
    from skimage.measure import label

    return label(labels == 2, connectivity=1)


def adapted_rand_error(pred: np.ndarray, truth: np.ndarray) -> tuple[float, float, float]:
    """(error, precision, recall) of the cells of ``pred`` against those of ``truth`` (1/2 label images).

    Precision and recall as SNEMI3D defines them: precision is low when ``pred`` merges true cells,
    recall is low when it splits them. skimage returns the two the other way round
    (scikit-image issue #6485); the error, with alpha = 0.5, is symmetric and unaffected.
    """
    from skimage.metrics import adapted_rand_error as are

    error, sk_precision, sk_recall = are(cells(truth), cells(pred))
    return float(error), float(sk_recall), float(sk_precision)


def score(pred: np.ndarray, truth: np.ndarray) -> dict:
    """All metrics for one slice of 1/2 labels."""
    error, precision, recall = adapted_rand_error(pred, truth)
    return {"pixel_error": pixel_error(pred == 2, truth == 2), "foreground_iou": foreground_iou(pred == 2, truth == 2),
            "adapted_rand_error": error, "rand_precision": precision, "rand_recall": recall}


def read_pairs(pred_dir, truth_dir) -> list[tuple[np.ndarray, np.ndarray]]:
    """``(prediction, truth)`` per truth image ``truth_dir/<name>.tif``, the prediction read from
    ``pred_dir/<name>_labels.tif``; exits with a message when one is missing or mismatched."""
    import tifffile

    truths = sorted(Path(truth_dir).glob("*.tif"))
    if not truths:
        sys.exit(f"no truth TIFFs in {truth_dir}")
    pairs = []
    for t in truths:
        p = Path(pred_dir) / f"{t.stem}_labels.tif"
        if not p.is_file():
            sys.exit(f"missing prediction {p} for truth {t}")
        pred, truth = tifffile.imread(p), tifffile.imread(t)
        if pred.shape != truth.shape:
            sys.exit(f"{p} has shape {pred.shape}, truth {t} has {truth.shape}")
        pairs.append((pred, truth))
    return pairs


def evaluate(pred_dir, truth_dir) -> dict:
    """Mean of each metric over the truth slices ``truth_dir/NN.tif`` against ``pred_dir/NN_labels.tif``."""
    scores = [score(pred, truth) for pred, truth in read_pairs(pred_dir, truth_dir)]
    means = {k: round(float(np.mean([s[k] for s in scores])), 4) for k in METRICS}
    return {"slices": len(scores), **means}


def table(results: list[dict], cols=("name", "seconds", "pixel_error", "foreground_iou", "adapted_rand_error")) -> str:
    """Markdown table of result dicts (as printed by the CLI)."""
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in results:
        lines.append("| " + " | ".join(str(r.get(c, "")) for c in cols) + " |")
    return "\n".join(lines)


def parser(doc: str, what: str) -> argparse.ArgumentParser:
    """The shared command line of the metrics scripts (``what``: the name pattern of a file)."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--pred", type=Path, help=f"folder of {what}_labels.tif")
    ap.add_argument("--truth", type=Path, help=f"folder of {what}.tif")
    ap.add_argument("--name", help="method name to include in the JSON")
    ap.add_argument("--seconds", type=float, help="training time to include in the JSON")
    ap.add_argument("--table", type=Path, help="print this file of JSON lines as a markdown table")
    return ap


def run(ap: argparse.ArgumentParser, args, evaluate_dirs, to_table) -> int:
    """Print the table of ``--table``, or one JSON line of ``evaluate_dirs(--pred, --truth)``."""
    if args.table:
        print(to_table(read_jsonl(args.table)))
        return 0
    if not (args.pred and args.truth):
        ap.error("give --pred and --truth, or --table")
    extra = {k: v for k, v in (("name", args.name), ("seconds", args.seconds)) if v is not None}
    print(json.dumps({**extra, **evaluate_dirs(args.pred, args.truth)}))
    return 0


def main(argv=None) -> int:
    ap = parser(__doc__, "NN")
    return run(ap, ap.parse_args(argv), evaluate, table)


if __name__ == "__main__":
    sys.exit(main())
