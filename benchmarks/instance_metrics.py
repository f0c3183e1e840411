"""Instance-segmentation metrics for the DSB2018 nuclei benchmark (labels: 0 = background, 1..N = objects).

    python -m benchmarks.instance_metrics --pred DIR --truth DIR [--name NAME] [--seconds S]
    python -m benchmarks.instance_metrics --table RESULTS.jsonl
    python -m benchmarks.instance_metrics --self-check

The first form reads ``DIR/<name>_labels.tif`` (what ``napari-unet predict --out-dir DIR``
writes) and the truth ``DIR/<name>.tif`` (``dsb_strokes.py``'s ``eval_truth``), and prints one
line of JSON: per-image means of F1 at IoU 0.5 and of the DSB2018 score, plus total object
counts (and ``name``/``seconds`` when given). The second prints such lines as a markdown table.

Objects match when their IoU exceeds the threshold (computed from the contingency table of
the two label images). For thresholds >= 0.5 a match is unique (two predictions cannot each
cover more than half of one true object), so no assignment step is needed.

* ``f1_50``: 2 TP / (2 TP + FP + FN) at IoU > 0.5;
* ``ap_dsb``: the DSB2018 score, mean over IoU thresholds 0.5, 0.55, ..., 0.95 of TP / (TP + FP + FN).
An image with no objects in either label image scores 1.
"""

from __future__ import annotations

import sys

import numpy as np

THRESHOLDS = np.round(np.arange(0.5, 1.0, 0.05), 2)


def iou_matrix(pred: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """(true objects, predicted objects) IoU matrix, background excluded, labels relabelled 1..N."""
    from skimage.segmentation import relabel_sequential

    p = relabel_sequential(np.asarray(pred).astype(np.int64, copy=False))[0].ravel()
    t = relabel_sequential(np.asarray(truth).astype(np.int64, copy=False))[0].ravel()
    n_p, n_t = int(p.max(initial=0)) + 1, int(t.max(initial=0)) + 1
    table = np.bincount(t * n_p + p, minlength=n_t * n_p).reshape(n_t, n_p)
    area_t, area_p = table.sum(1, keepdims=True), table.sum(0, keepdims=True)
    inter = table[1:, 1:]
    return inter / (area_t[1:] + area_p[:, 1:] - inter)


def match_counts(pred: np.ndarray, truth: np.ndarray, threshold: float = 0.5, iou=None) -> tuple[int, int, int]:
    """(TP, FP, FN): pairs with IoU > ``threshold`` (>= 0.5, so each object matches at most once)."""
    if threshold < 0.5:
        raise ValueError("matching without an assignment step is unique only for thresholds >= 0.5")
    iou = iou_matrix(pred, truth) if iou is None else iou
    tp = int(np.count_nonzero(iou > threshold))
    n_t, n_p = iou.shape
    return tp, n_p - tp, n_t - tp


def f1_at(pred: np.ndarray, truth: np.ndarray, threshold: float = 0.5) -> float:
    """F1 of the object matching at IoU > ``threshold`` (1.0 when both are empty)."""
    tp, fp, fn = match_counts(pred, truth, threshold)
    return 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 1.0


def dsb_ap(pred: np.ndarray, truth: np.ndarray) -> float:
    """DSB2018 score: mean over IoU thresholds 0.5 .. 0.95 of TP / (TP + FP + FN) (1.0 when both are empty)."""
    iou = iou_matrix(pred, truth)
    if iou.shape == (0, 0):
        return 1.0
    scores = []
    for th in THRESHOLDS:
        tp, fp, fn = match_counts(pred, truth, th, iou)
        scores.append(tp / (tp + fp + fn))
    return float(np.mean(scores))


def self_check() -> None:
    """Identical labels score 1, an empty prediction 0, a half-covered object misses at 0.5."""
    truth = np.zeros((20, 20), np.int32)
    truth[2:8, 2:8], truth[10:18, 10:18] = 3, 7
    assert f1_at(truth, truth) == 1.0 and dsb_ap(truth, truth) == 1.0
    assert f1_at(truth + (truth > 0), truth) == 1.0  # label values do not matter
    empty = np.zeros_like(truth)
    assert f1_at(empty, truth) == 0.0 and dsb_ap(empty, truth) == 0.0
    assert f1_at(empty, empty) == 1.0 and dsb_ap(empty, empty) == 1.0
    half = truth.copy()
    half[10:14, 10:18] = 0  # IoU 0.5 exactly: not a match
    assert match_counts(half, truth) == (1, 1, 1) and f1_at(half, truth) == 0.5


def evaluate_arrays(preds, truths) -> dict:
    """Per-image means of ``f1_50`` and ``ap_dsb``, plus total counts at IoU 0.5."""
    f1s, aps, totals = [], [], np.zeros(3, np.int64)
    for pred, truth in zip(preds, truths):
        totals += match_counts(pred, truth, 0.5)
        f1s.append(f1_at(pred, truth, 0.5))
        aps.append(dsb_ap(pred, truth))
    tp, fp, fn = (int(v) for v in totals)
    return {"images": len(f1s), "f1_50": round(float(np.mean(f1s)), 4), "ap_dsb": round(float(np.mean(aps)), 4),
            "n_true": tp + fn, "n_pred": tp + fp, "tp_50": tp}


def evaluate(pred_dir, truth_dir) -> dict:
    """:func:`evaluate_arrays` over ``truth_dir/<name>.tif`` and ``pred_dir/<name>_labels.tif``."""
    from benchmarks.metrics import read_pairs

    preds, truths = zip(*read_pairs(pred_dir, truth_dir))
    return evaluate_arrays(list(preds), list(truths))


def table(results: list[dict]) -> str:
    """Markdown table of result dicts (as printed by the CLI)."""
    from benchmarks.metrics import table as markdown

    return markdown(results, cols=("name", "seconds", "f1_50", "ap_dsb", "n_pred", "n_true", "tp_50"))


def main(argv=None) -> int:
    from benchmarks.metrics import parser, run

    ap = parser(__doc__, "<name>")
    ap.add_argument("--self-check", action="store_true", help="run the built-in checks and exit")
    args = ap.parse_args(argv)
    if args.self_check:
        self_check()
        print("instance_metrics self-check passed")
        return 0
    return run(ap, args, evaluate, table)


if __name__ == "__main__":
    sys.exit(main())
