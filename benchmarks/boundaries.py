"""Boundaries under distribution shift: train on strokes down the middle, evaluate on other images.

    python -m benchmarks.boundaries --task blobs|isbi|dsb --split dev|eval [--seeds 0 1 2]
        [--budget SECONDS | --steps N] [--variant NAME[:key=value,...]] ... [--strokes middle|edges|brushR[-spill]|objstrokeR]
        [--tta] [--save DIR] [--threads N] [--parallel N] [--out results.jsonl]
    python -m benchmarks.boundaries --summary results.jsonl     # mean ± sd table

Each variant is trained once per seed, in its own process, through the engine (``train`` /
``predict_labels``), and prints one JSON line per run. Variants: ``new`` (the current
defaults), ``old`` (the training settings before the edge term: class-balanced sampling and
inverse-frequency weights, no edge term, no outline ring; prediction and the rest of the code
are the current ones, so for the exact earlier default run this script from a checkout of its
commit with ``PYTHONPATH=<checkout>/src``), ``rf`` (random forest on the same strokes), ``dense``
(the U-Net on dense labels: the ceiling), or any name followed by ``TrainConfig`` overrides,
e.g. ``plain:balanced_sampling=0,class_balance=0,edge_weight=0``.

Tasks and splits (the ``eval`` split is for reporting only; tune on ``dev``):

* ``blobs``: synthetic blobs on noise. Train on one 256² image (seed = run seed); dev: two
  320² images, eval: three 384² images of other contrast, seeds never used for training.
* ``isbi``: ISBI 2012, train on slices 00-09; dev: 10-19, eval: 20-29. 2 % strokes.
* ``dsb``: DSB2018 greyscale, instance mode. Train on 40 images of 256² (a quarter of the
  nuclei painted whole, background strokes); dev: 30 images of 360² (large nuclei); eval: all
  other greyscale sizes (61 images: 256×320 up to 1040×1388, medium nuclei, and bright-field
  1024²). The split is by size, which is also by acquisition.

Strokes: ``middle`` (default) paints down the middle of regions, nothing within 3 px of a
class edge; ``edges`` adds background strokes hugging a quarter of the objects (blobs, DSB);
``brushR`` (ISBI) paints with a round brush of radius R clipped to the region
(:mod:`benchmarks.strokes`), ``brushR-spill`` lets a tenth of those strokes spill 1-2 px over the edge;
``objstrokeR`` (DSB) paints a quarter of the nuclei by one stroke down their middle instead of
whole.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks.common import (add_out, add_seeds, add_split, add_threads, grouped, markdown, mean_sd, parse_settings,
                               run_jobs, seconds_since, set_threads, summary_only)
from benchmarks.datasets import DATA, dsb_image, dsb_shifted, isbi_slice

OLD = {"edge_weight": 0.0, "balanced_sampling": True, "class_balance": True, "outline": 0}


# ---- data -------------------------------------------------------------------------------------
def blob_image(seed: int, size: int, contrast: float = 1.0, noise: float = 0.35):
    """Blobs on noise: ``(image uint16, truth 1/2, instances)``."""
    from scipy import ndimage as ndi
    from skimage.data import binary_blobs
    from skimage.measure import label

    rng = np.random.default_rng(seed)
    fg = binary_blobs(size, blob_size_fraction=0.08, volume_fraction=0.3, rng=seed)
    img = ndi.gaussian_filter(fg.astype(np.float32), 1.0) * contrast + rng.normal(scale=noise, size=fg.shape)
    image = np.clip(img * 8000 + 10000, 0, 65535).astype(np.uint16)
    return image, np.where(fg, 2, 1).astype(np.uint8), label(fg, connectivity=1)


def blobs_task(split: str, seed: int, strokes: str):
    from napari_unet.core.samples import edge_strokes, simulate_strokes

    image, truth, inst = blob_image(seed, 256)
    s = simulate_strokes(truth, fraction=0.02, seed=seed)
    if strokes == "edges":
        e = edge_strokes(inst, seed=seed)
        s[(e > 0) & (s == 0)] = 1
    if split == "dev":
        evals = [blob_image(1000 + i, 320) for i in range(2)]
    else:
        evals = [blob_image(2000 + i, 384, contrast=c) for i, c in enumerate((0.7, 1.0, 1.4))]
    return [image], [s], [truth], [e[0] for e in evals], [e[1] for e in evals], "semantic"


def isbi_task(split: str, seed: int, strokes: str):
    from napari_unet.core.samples import simulate_strokes

    root = DATA / "isbi2012"
    train = [isbi_slice(root, i) for i in range(10)]
    ev = [isbi_slice(root, i) for i in (range(10, 20) if split == "dev" else range(20, 30))]
    if strokes.startswith("brush"):  # brushR or brushR-spill: a round brush clipped to the region
        from benchmarks.strokes import brush_strokes

        r, spill = int(strokes[5:].split("-")[0]), 0.1 if strokes.endswith("-spill") else 0.0
        s = [brush_strokes(t, r, 0.02, seed * 100 + i, spill) for i, (_, t) in enumerate(train)]
    else:
        s = [simulate_strokes(t, fraction=0.02, seed=seed * 100 + i) for i, (_, t) in enumerate(train)]
    return [im for im, _ in train], s, [t for _, t in train], [im for im, _ in ev], [t for _, t in ev], "semantic"


def dsb_task(split: str, seed: int, strokes: str):
    from napari_unet.core.samples import edge_strokes, simulate_instance_strokes

    root = DATA / "dsb2018"
    train_names, eval_names = dsb_shifted(split)
    train = [dsb_image(root, n) for n in train_names]
    s = []
    for i, (_, t) in enumerate(train):
        if strokes.startswith("objstroke"):  # objstrokeR: objects painted by one stroke down their middle
            from benchmarks.strokes import stroke_objects

            s.append(stroke_objects(t, int(strokes[9:]), seed=seed * 1000 + i))
            continue
        st = simulate_instance_strokes(t, object_fraction=0.25, seed=seed * 1000 + i)
        if strokes == "edges":
            e = edge_strokes(t, seed=seed * 1000 + i)
            st[(e > 0) & (st == 0)] = 1
        s.append(st)
    ev = [dsb_image(root, n) for n in eval_names]
    dense = [np.where(t > 0, t.astype(np.int64) + 2, 1) for _, t in train]
    return [im for im, _ in train], s, dense, [im for im, _ in ev], [t for _, t in ev], "instance"


TASKS = {"blobs": blobs_task, "isbi": isbi_task, "dsb": dsb_task}


# ---- scoring ----------------------------------------------------------------------------------
def score(task: str, preds, truths) -> dict:
    from benchmarks.metrics import foreground_iou, pixel_error
    from benchmarks.metrics import score as isbi_score

    if task == "dsb":
        from benchmarks.instance_metrics import evaluate_arrays

        out = evaluate_arrays(preds, truths)
        out["fg_iou"] = round(float(np.mean([foreground_iou(p > 0, t > 0) for p, t in zip(preds, truths)])), 4)
        out["area_ratio"] = round(float(np.median([(p > 0).sum() / max((t > 0).sum(), 1)
                                                   for p, t in zip(preds, truths)])), 4)
        return out
    if task == "isbi":
        s = [isbi_score(p, t) for p, t in zip(preds, truths)]
        return {k: round(float(np.mean([x[k] for x in s])), 4)
                for k in ("pixel_error", "foreground_iou", "adapted_rand_error", "rand_precision", "rand_recall")}
    return {"fg_iou": round(float(np.mean([foreground_iou(p == 2, t == 2) for p, t in zip(preds, truths)])), 4),
            "area_ratio": round(float(np.mean([(p == 2).sum() / (t == 2).sum() for p, t in zip(preds, truths)])), 4),
            "pixel_error": round(float(np.mean([pixel_error(p == 2, t == 2) for p, t in zip(preds, truths)])), 4)}


# ---- one run ----------------------------------------------------------------------------------
def parse_variant(spec: str) -> tuple[str, dict]:
    """A variant's name and ``TrainConfig`` overrides; ``old`` starts from the previous default."""
    name, over = parse_settings(spec)
    return name, {**OLD, **over} if name == "old" else over


def random_forest(images, strokes, eval_images, mode):
    from benchmarks.random_forest import features, fit_forest, forest_labels

    rf = fit_forest(((features(im), s) for im, s in zip(images, strokes)), mode, jobs=-1)
    return [forest_labels(rf, features(im), mode) for im in eval_images]


def run_one(args: dict) -> dict:
    set_threads(args["threads"])
    from napari_unet.core.config import PredictConfig, TrainConfig
    from napari_unet.predict.pipeline import predict_labels
    from napari_unet.core.train import fit

    images, strokes, dense, eval_images, truths, mode = TASKS[args["task"]](args["split"], args["seed"], args["strokes"])
    name, over = parse_variant(args["variant"])
    t0 = time.perf_counter()
    rec = {"task": args["task"], "split": args["split"], "strokes": args["strokes"], "variant": args["variant"],
           "seed": args["seed"], "tta": args["tta"]}
    if name == "rf":
        preds = random_forest(images, strokes, eval_images, mode)
        rec["train_s"] = seconds_since(t0)
    else:
        labels = dense if name == "dense" else strokes
        cfg = TrainConfig(steps=args["steps"], time_budget=args["budget"], seed=args["seed"], mode=mode, **over)
        result = fit(images, labels, cfg)
        if args.get("save"):  # the trained model, for looking at a run afterwards
            from napari_unet.models.checkpoint import save_model

            save_model(result.model, Path(args["save"]) / f"{args['task']}_{args['strokes']}_{name}_s{args['seed']}.pt")
        rec.update(train_s=round(result.elapsed, 1), steps=result.steps,
                   ms_per_step=round(1000 * result.elapsed / max(result.steps, 1), 1),
                   line_classes=list(result.model.info.line_classes), edge_off_for=list(result.model.history.thin_classes),
                   line_odds={str(k): v for k, v in getattr(result.model.info, "line_odds", {}).items()})
        t1 = time.perf_counter()
        preds = [predict_labels(result.model, im, PredictConfig()).labels for im in eval_images]
        rec["predict_s"] = seconds_since(t1)
        for spec in args.get("predict", []):  # the same model, also predicted with other settings
            label, settings = parse_settings(spec)
            t1 = time.perf_counter()
            other = [predict_labels(result.model, im, PredictConfig(**settings)).labels for im in eval_images]
            rec[f"predict_{label}_s"] = seconds_since(t1, 2)
            rec.update({f"predict_{label}_{k}": v for k, v in score(args["task"], other, truths).items()})
        if args["tta"]:  # the same model, also predicted with test-time augmentation
            t1 = time.perf_counter()
            tta = [predict_labels(result.model, im, PredictConfig(tta=True)).labels for im in eval_images]
            rec["tta_predict_s"] = seconds_since(t1)
            rec.update({f"tta_{k}": v for k, v in score(args["task"], tta, truths).items()})
    rec.update(score(args["task"], preds, truths))
    return rec


SUMMARY = {"blobs": ("fg_iou", "area_ratio", "pixel_error"),
           "isbi": ("pixel_error", "adapted_rand_error", "rand_precision", "rand_recall", "foreground_iou"),
           "dsb": ("f1_50", "ap_dsb", "fg_iou", "area_ratio")}


def summary(path: Path) -> str:
    """Markdown table: mean ± sd over seeds per (task, split, strokes, variant), in order of appearance."""
    rows = []
    for (task, split, strokes, variant), runs in grouped(path, ("task", "split", "strokes", "variant")).items():
        labels = sorted({k.split("_")[1] for k in runs[0] if k.startswith("predict_") and k.count("_") >= 2})
        prefixes = [""] + [f"predict_{label}_" for label in labels] + ["tta_"]
        keys = [p + k for p in prefixes for k in SUMMARY[task] if p + k in runs[0]]

        def stat(k):
            return mean_sd([r[k] for r in runs if k in r])

        rows.append((["task", "strokes", "variant", "seeds", "ms/step"] + keys,
                     [task, strokes, variant, str(len(runs)), stat("ms_per_step")] + [stat(k) for k in keys]))
    return markdown(rows)


def main(argv=None) -> int:
    if summary_only(argv, summary):
        return 0
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--task", required=True, choices=sorted(TASKS))
    add_split(ap)
    add_seeds(ap)
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--budget", type=float, default=None, help="training seconds per run")
    g.add_argument("--steps", type=int, default=None, help="training steps per run")
    ap.add_argument("--variant", action="append", default=None, help="repeatable; default: old and new")
    ap.add_argument("--strokes", default="middle", help="middle, edges, brushR, brushR-spill or objstrokeR")
    ap.add_argument("--tta", action="store_true", help="also score the prediction with test-time augmentation")
    ap.add_argument("--predict", action="append", default=[],
                    help="also score each network predicted with these settings, LABEL:key=value,... "
                         "(PredictConfig), e.g. open:close_lines=false")
    ap.add_argument("--save", type=Path, default=None, help="save each trained model in this folder")
    add_threads(ap)
    ap.add_argument("--parallel", type=int, default=1, help="runs at once (each with --threads)")
    add_out(ap)
    a = ap.parse_args(argv)
    if a.budget is None and a.steps is None:
        a.budget = 300.0
    variants = a.variant or ["old", "new"]
    # interleaved: every variant of one seed before the next seed, so drift hits all alike
    jobs = [dict(task=a.task, split=a.split, seed=s, variant=v, steps=a.steps, budget=a.budget,
                 strokes=a.strokes, tta=a.tta, predict=a.predict, threads=a.threads,
                 save=str(a.save) if a.save else None) for s in a.seeds for v in variants]
    run_jobs(run_one, jobs, a.parallel, a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
