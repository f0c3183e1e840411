"""Whole cells of the U-Net paper's light-microscopy sets: from strokes, from dense labels, from a
base model; SEG on later frames.

    python -m benchmarks.cells --set phc-u373|dic-hela --variant strokes|dense|fine-tune|zero-shot
        [--init MODEL] [--budget 300] [--seeds 0 1 2] [--data ../shared/data] [--out results.jsonl]
        [--threads 2] [--predict LABEL:key=value,...]
    python -m benchmarks.cells --summary results.jsonl

Training frames are those before the split (:mod:`benchmarks.ctc`), gold and silver alike:

* ``strokes``: a quarter of the cells of each frame painted whole plus background strokes on
  1 % of the pixels, none within 3 px of a cell (``simulate_instance_strokes``), from scratch;
* ``dense``: every cell painted (the paper's setting, the ceiling), from scratch;
* ``fine-tune``: the strokes, starting from ``--init``; ``zero-shot``: ``--init`` as it is.

Each run trains ``--budget`` seconds in instance mode with the defaults and reports SEG on the
gold evaluation frames (the paper's measure; its U-Net scored 0.9203 on U373 and 0.7756 on
HeLa test sequences), SEG on the silver evaluation frames, objects predicted per true cell and
F1@0.5. ``--predict`` scores the same network with other ``PredictConfig`` settings too.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from benchmarks import ctc
from benchmarks.common import (add_out, add_seeds, add_threads, emit, grouped, markdown, mean_sd, parse_settings,
                               seconds_since, set_threads)
from benchmarks.datasets import add_data
from benchmarks.instance_metrics import f1_at


def strokes_of(truth: np.ndarray, seed: int) -> np.ndarray:
    from napari_unet.core.samples import simulate_instance_strokes

    return simulate_instance_strokes(truth, object_fraction=0.25, seed=seed)


def dense_of(truth: np.ndarray) -> np.ndarray:
    return np.where(truth > 0, truth + 1, 1).astype(np.int32)


def run(args, name: str, variant: str, seed: int) -> dict:
    from napari_unet.core.config import PredictConfig, TrainConfig
    from napari_unet.models.load import load_model
    from napari_unet.predict.pipeline import predict_labels
    from napari_unet.core.train import fit

    set_threads(args.threads)
    train_rows = ctc.split(args.data, name, "train")
    frames = [ctc.load(args.data, name, r) for r in train_rows]
    images = [f[0] for f in frames]
    labels = [dense_of(t) if variant == "dense" else strokes_of(t, seed * 1000 + i) for i, (_, t) in enumerate(frames)]
    painted = float(np.mean([(lab > 0).mean() for lab in labels]))
    t0 = time.perf_counter()
    if variant == "zero-shot":
        model, steps = load_model(args.init), 0
    else:
        start = load_model(args.init) if variant == "fine-tune" else None
        config = TrainConfig(steps=None, time_budget=args.budget, mode="instance", seed=seed, device="cpu")
        result = fit(images, labels, config, model=start)
        model, steps = result.model, result.steps
    rec = {"set": name, "variant": variant, "seed": seed, "budget": args.budget, "steps": steps,
           "seconds": seconds_since(t0), "painted": round(painted, 4)}
    gold = [ctc.load(args.data, name, r) for r in ctc.split(args.data, name, "eval", "gt")]
    silver = [ctc.load(args.data, name, r) for r in ctc.split(args.data, name, "eval", "st")]
    for label, over in [("", {})] + [parse_settings(s) for s in args.predict]:
        cfg = PredictConfig(device="cpu", **over)
        pg = [predict_labels(model, im, cfg).labels for im, _ in gold]
        ps = [predict_labels(model, im, cfg).labels for im, _ in silver]
        key = f"{label}:" if label else ""
        rec[key + "seg"] = round(ctc.seg_score(pg, [t for _, t in gold]), 4)
        rec[key + "seg_silver"] = round(ctc.seg_score(ps, [t for _, t in silver]), 4)
        rec[key + "objects_per_cell"] = round(sum(int(p.max()) for p in ps) / max(sum(len(np.unique(t)) - 1
                                                                                     for _, t in silver), 1), 3)
        rec[key + "f1_silver"] = round(float(np.mean([f1_at(p, t) for p, (_, t) in zip(ps, silver)])), 4)
    return rec


def summary(path: Path) -> str:
    """Markdown table: mean ± sd over seeds per (set, variant, budget), in order of appearance."""
    keys = ("steps", "seg", "seg_silver", "objects_per_cell", "f1_silver")
    rows = []
    for (name, variant, budget), runs in grouped(path, ("set", "variant", "budget")).items():
        rows.append((["set", "variant", "budget s", "seeds"] + list(keys),
                     [name, variant, "–" if variant == "zero-shot" else f"{budget:g}", str(len(runs))]
                     + [mean_sd([r[k] for r in runs]) for k in keys]))
    return markdown(rows)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--summary", type=Path, default=None, help="print the table of a results file and stop")
    ap.add_argument("--set", choices=ctc.SETS, nargs="+")
    ap.add_argument("--variant", choices=("strokes", "dense", "fine-tune", "zero-shot"), nargs="+")
    ap.add_argument("--init", default=None, help="base model for fine-tune and zero-shot")
    ap.add_argument("--budget", type=float, default=300.0)
    add_seeds(ap)
    add_data(ap)
    add_threads(ap)
    ap.add_argument("--predict", nargs="*", default=[], metavar="LABEL:key=value,...")
    add_out(ap)
    args = ap.parse_args(argv)
    if args.summary:
        print(summary(args.summary))
        return 0
    if not args.set or not args.variant:
        ap.error("--set and --variant are needed to run (or --summary to summarise)")
    for name in args.set:
        for seed in args.seeds:  # seeds outermost within a set: the variants of one seed run side by side
            for variant in args.variant:
                emit(run(args, name, variant, seed), args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
