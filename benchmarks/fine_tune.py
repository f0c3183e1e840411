"""Base model, zero-shot and fine-tuned on strokes, against training from scratch.

    python -m benchmarks.fine_tune --task dsb|isbi --init MODEL.pt --split dev|eval [--seeds 0 1 2]
        [--budget 60] [--checkpoints 15 30 45] [--mix 0.5 0.75] [--variant NAME[:key=value,...]] ...
        [--predict LABEL:key=value,...]
        [--out results.jsonl]
    python -m benchmarks.fine_tune --summary results.jsonl

The tasks, splits, strokes and scores are those of ``boundaries.py``: DSB2018 shifted split
(train on 40 images of 256 x 256, a quarter of the nuclei painted whole plus background strokes;
dev: 30 images of 360 x 360, eval: the 61 greyscale images of every other size) and ISBI 2012
(2 % strokes down the middle of slices 00-09; dev 10-19, eval 20-29). ``--init`` should be a
twin base model trained without the evaluation images (``scripts/train_base_models.py --twins``).

Variants: ``zero-shot`` (the base model as it is, no training), ``scratch`` (the current
default training from random weights), ``fine-tune`` (the current default fine-tune from the
base model) and any name followed by ``TrainConfig`` overrides applied to the fine-tune, e.g.
``lr5e-4:learning_rate=0.0005`` (``augment.scale_range=0.6`` sets one augmentation setting,
the others keeping their defaults). Each run reports the seconds from the call to training
(data preparation included) and, with ``--checkpoints``, scores of the model at those
seconds of the same run (the run's own schedule, as a user pressing Stop would get) and,
with ``--mix``, of the final weights interpolated with the base model's (WiSE-FT), and with
``--predict``, of the same final network predicted with other ``PredictConfig`` settings.
"""

from __future__ import annotations

import argparse
import copy
import math
import sys
import time
from pathlib import Path

from benchmarks.boundaries import TASKS, score
from benchmarks.common import (add_out, add_seeds, add_split, add_threads, grouped, markdown, mean_sd, run_jobs,
                               seconds_since, set_threads, summary_only)
from benchmarks.common import parse_settings as parse

KEYS = {"dsb": ("f1_50", "ap_dsb", "fg_iou", "area_ratio"),
        "isbi": ("pixel_error", "adapted_rand_error", "foreground_iou")}


def run_one(args: dict) -> dict:
    set_threads(args["threads"])
    from napari_unet.core.config import AugmentConfig, PredictConfig, TrainConfig
    from napari_unet.models.load import load_model
    from napari_unet.predict.pipeline import predict_labels
    from napari_unet.core.train import drain, train

    images, strokes, _, eval_images, truths, mode = TASKS[args["task"]](args["split"], args["seed"], "middle")
    name, over = parse(args["variant"])
    rec = {"task": args["task"], "split": args["split"], "variant": args["variant"], "seed": args["seed"],
           "budget": args["budget"]}

    def evaluate(model, **predict) -> dict:
        t = time.perf_counter()
        preds = [predict_labels(model, im, PredictConfig(**predict)).labels for im in eval_images]
        return {**score(args["task"], preds, truths), "predict_s": seconds_since(t),
                **({"by_size": by_size(preds)} if args.get("by_size") else {})}

    def by_size(preds) -> dict:  # the score of each image size (on DSB, one size is one kind of acquisition)
        groups = {}
        for p, t in zip(preds, truths):
            groups.setdefault("x".join(map(str, t.shape)), []).append((p, t))
        return {size: {"images": len(pairs), **{k: v for k, v in score(args["task"], *map(list, zip(*pairs))).items()
                                                 if k in KEYS[args["task"]]}}
                for size, pairs in sorted(groups.items())}

    def also(model) -> dict:  # the same network predicted with other PredictConfig settings
        out = {}
        for spec in args.get("predict", []):
            label, settings = parse(spec)
            scores = evaluate(model, **settings)
            out[f"predict_{label}"] = {"step": rec.get("steps", 0), "predict_s": scores["predict_s"],
                                       **{k: v for k, v in scores.items() if k in KEYS[args["task"]]}}
        return out

    base = None if name == "scratch" else load_model(args["init"])
    if name == "zero-shot":
        rec.update(evaluate(base), **also(base))
        return rec
    start = copy.deepcopy(base)  # training changes ``base`` in place
    checkpoints, kept = sorted(args["checkpoints"]), []
    t0 = time.perf_counter()

    augment = {k.partition(".")[2]: over.pop(k) for k in list(over) if k.startswith("augment.")}
    cfg = TrainConfig(steps=None, time_budget=args["budget"], seed=args["seed"], mode=mode, **over,
                      **({"augment": AugmentConfig(**augment)} if augment else {}))

    def on_event(ev):  # what Stop would give at this time: the run's weights, mixed as at the end
        if checkpoints and time.perf_counter() - t0 >= checkpoints[0]:
            now = copy.deepcopy(ev.model)
            kept.append((checkpoints.pop(0), ev.step, mixed(start, now, 1 - cfg.base_share) if start else now))

    result = drain(train(images, strokes, cfg, model=base), on_event)
    rec.update(seconds=seconds_since(t0), train_s=round(result.elapsed, 1), steps=result.steps)
    for at, step, model in kept:
        rec[f"at_{at}"] = {"step": step, **{k: v for k, v in evaluate(model).items() if k in KEYS[args["task"]]}}
    for alpha in args.get("mixes", []) if start is not None else []:
        scores = evaluate(mixed(start, result.model, alpha))
        rec[f"mix_{alpha}"] = {"step": result.steps, **{k: v for k, v in scores.items() if k in KEYS[args["task"]]}}
    rec.update(evaluate(result.model), **also(result.model))
    return rec


def mixed(base, tuned, alpha: float):
    """A copy of ``tuned`` with the weights ``(1 - alpha) * base + alpha * tuned``, mixed as the
    engine mixes a fine-tuned base model (``napari_unet.core.train.mix_weights``)."""
    from napari_unet.core.loop import mix_weights

    model = copy.deepcopy(tuned)
    mix_weights(model.net, base.net.state_dict(), 1 - alpha)
    return model


def summary(path: Path) -> str:
    rows = []
    for (task, split, variant, budget), runs in grouped(path, ("task", "split", "variant", "budget")).items():
        cols = ["task", "split", "variant", "budget s", "seeds", "steps"] + list(KEYS[task])
        zero = variant.startswith("zero-shot")
        rows.append((cols, [task, split, variant, "0" if zero else f"{budget:g}", str(len(runs)),
                            "0" if zero else mean_sd([r["steps"] for r in runs])]
                     + [mean_sd([r[k] for r in runs]) for k in KEYS[task]]))
        extra = sorted({k for r in runs for k in r if k.startswith(("at_", "mix_", "predict_"))
                        and isinstance(r[k], dict)},
                       key=_order)
        for key in extra:
            sub = [r[key] for r in runs if key in r]
            at, _, value = key.partition("_")
            label = (f"stopped at {float(value):g} s" if at == "at" else f"predicted with {value}" if at == "predict"
                     else f"mixed with the base, base share {1 - float(value):g}")
            rows.append((cols, [task, split, f"{variant} ({label})", "0" if zero else f"{budget:g}", str(len(sub)),
                                "0" if zero else mean_sd([s["step"] for s in sub])]
                         + [mean_sd([s[k] for s in sub]) for k in KEYS[task]]))
    for (task, split, variant, budget), runs in grouped(path, ("task", "split", "variant", "budget")).items():
        sizes = {s for r in runs for s in r.get("by_size", {})}
        for size in sorted(sizes, key=lambda s: math.prod(map(int, s.split("x")))):
            sub = [r["by_size"][size] for r in runs if size in r.get("by_size", {})]
            rows.append((["task", "variant", "image size", "images", "seeds"] + list(KEYS[task]),
                         [task, variant, size, str(sub[0]["images"]), str(len(sub))]
                         + [mean_sd([s[k] for s in sub]) for k in KEYS[task]]))
    return markdown(rows)


def _order(key: str) -> tuple:
    """Extra rows in order: checkpoints by time, mixes by share, then other predictions."""
    kind, _, value = key.partition("_")
    return kind, float(value) if kind in ("at", "mix") else 0.0, key


def main(argv=None) -> int:
    if summary_only(argv, summary):
        return 0
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--task", required=True, choices=sorted(KEYS))
    ap.add_argument("--init", required=True, type=Path, help="base model file (a twin without the eval images)")
    add_split(ap)
    add_seeds(ap)
    ap.add_argument("--budget", type=float, default=60.0, help="training seconds per run")
    ap.add_argument("--checkpoints", type=float, nargs="*", default=[], help="also score the model at these seconds")
    ap.add_argument("--mix", type=float, nargs="*", default=[],
                    help="also score the final weights mixed with the base model's, (1 - a) base + a tuned")
    ap.add_argument("--predict", action="append", default=[],
                    help="also score each network predicted with these settings, LABEL:key=value,... "
                         "(PredictConfig), e.g. no-rescale:rescale=false")
    ap.add_argument("--variant", action="append", default=None, help="repeatable; default: zero-shot, fine-tune")
    ap.add_argument("--by-size", action="store_true", help="also score the evaluation images size by size")
    add_threads(ap)
    add_out(ap)
    a = ap.parse_args(argv)
    variants = a.variant or ["zero-shot", "fine-tune"]
    jobs = [dict(task=a.task, split=a.split, seed=s, variant=v, budget=a.budget, init=str(a.init),
                 checkpoints=a.checkpoints, mixes=a.mix, predict=a.predict, by_size=a.by_size, threads=a.threads)
            for s in a.seeds for v in variants if not (v.startswith("zero-shot") and s != a.seeds[0])]
    run_jobs(run_one, jobs, 1, a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
