"""The U-Net paper's two cell sets (Cell Tracking Challenge, sequence 01): frames, a split by
time, and the challenge's SEG measure.

    python -m benchmarks.ctc [--data ../shared/data]    # prints each set's split

``../shared/data/ctc/<set>/`` holds gold frames (``"gt"``) and every 4th frame with a silver
segmentation (``"st"``). Frames of one sequence show the same cells over time, so the split is
by time: training frames before ``EVAL_FROM``, evaluation frames from it on (the gold ones for
SEG, the silver ones as a second, larger check). SEG (Maška et al. 2014): for each true cell,
the Jaccard index with the predicted object that covers more than half of it, else 0; the mean
over true cells.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from benchmarks.datasets import add_data, index

SETS = ("phc-u373", "dic-hela")
# first evaluation frame: U373 has gold frames up to 112, HeLa only up to 67 (3 gold frames from 36 on)
EVAL_FROM = {"phc-u373": 60, "dic-hela": 36}
PAPER_SEG = {"phc-u373": 0.9203, "dic-hela": 0.7756}  # U-Net on the challenge's test sequences


def rows(data: Path, name: str) -> list[dict]:
    root = data / "ctc" / name
    if not (root / "index.json").is_file():
        raise SystemExit(f"{root}/index.json not found: the CTC data lives in DATA/ctc (pass --data)")
    return index(root)


def split(data: Path, name: str, part: str, labels: str | None = None) -> list[dict]:
    """Rows of ``part`` ("train": frames before EVAL_FROM, "eval": from it on), optionally only
    those whose labels are ``"gt"`` (gold) or ``"st"`` (silver)."""
    t = EVAL_FROM[name]
    out = [r for r in rows(data, name) if (r["frame"] < t) == (part == "train")]
    return [r for r in out if labels is None or r["labels"] == labels]


def load(data: Path, name: str, row: dict) -> tuple[np.ndarray, np.ndarray]:
    """The frame (uint8) and its instance labels (0 = background)."""
    import skimage.io

    root = data / "ctc" / name
    image = np.asarray(skimage.io.imread(root / "images" / f"{row['name']}.png"))
    return image, np.asarray(skimage.io.imread(root / "labels" / f"{row['name']}.png")).astype(np.int32)


def seg(pred: np.ndarray, truth: np.ndarray) -> tuple[float, int]:
    """(sum of the true cells' Jaccard indices, number of true cells): SEG is their ratio."""
    from skimage.segmentation import relabel_sequential

    p = relabel_sequential(np.asarray(pred).astype(np.int64))[0]
    t = relabel_sequential(np.asarray(truth).astype(np.int64))[0]
    n_p, n_t = int(p.max(initial=0)) + 1, int(t.max(initial=0)) + 1
    table = np.bincount((t * n_p + p).ravel(), minlength=n_t * n_p).reshape(n_t, n_p)
    total = 0.0
    for i in range(1, n_t):
        area = table[i].sum()
        j = int(np.argmax(table[i, 1:])) + 1 if n_p > 1 else 0
        if j and table[i, j] > 0.5 * area:
            total += table[i, j] / (area + table[:, j].sum() - table[i, j])
    return total, n_t - 1


def seg_score(preds, truths) -> float:
    """SEG over several frames: the mean over all their true cells."""
    sums = [seg(p, t) for p, t in zip(preds, truths)]
    return sum(s for s, _ in sums) / max(sum(n for _, n in sums), 1)


def self_check() -> None:
    truth = np.zeros((10, 10), int)
    truth[:5, :5], truth[5:, 5:] = 1, 2
    assert seg_score([truth], [truth]) == 1.0
    half = truth.copy()
    half[5:, 5:8] = 0  # the prediction keeps 10 of cell 2's 25 pixels: not more than half
    assert seg(half, truth) == (1.0, 2)
    merged = (truth > 0).astype(int)  # one object covering both: each Jaccard 25 / 50
    assert seg(merged, truth) == (1.0, 2)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data(ap)
    args = ap.parse_args(argv)
    self_check()
    for name in SETS:
        for part in ("train", "eval"):
            r = split(args.data, name, part)
            gold = [x["frame"] for x in r if x["labels"] == "gt"]
            print(f"{name} {part}: {len(r)} frames, gold {gold}, cells {sum(x['cells'] for x in r)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
