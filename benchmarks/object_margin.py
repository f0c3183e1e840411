"""How far to push a model trained on strokes back from the edge: train once, predict many ways.

    python -m benchmarks.object_margin train --task isbi|dsb --split dev --seeds 0 1 2 --budget 300 --models DIR
    python -m benchmarks.object_margin sweep --task isbi|dsb --split dev --seeds 0 1 2 --shifts 0 -0.25 -0.5 -1 \
        [--margins 0.5] --models DIR

``train`` trains the current default from scratch on the strokes of ``boundaries.py``'s task
(2 threads, one run at a time) and saves each network. ``sweep`` predicts the split's images
with the object class (instance mode: nuclei) or the membrane class (ISBI) pushed down by each
logit shift, added to the network's last bias with ``object_margin=0``: for two classes a shift
of -m weighs the probabilities as the object margin m does (``PredictConfig.object_margin``),
and closing lines then seeds on the weighed ones. ``--margins`` scores prediction's own margin
as well (``margin_M``), whose closing seeds on the network's own probabilities. It also scores a
prior estimated per image by EM (Saerens et al. 2002) from the network's own probabilities.
One JSON line per network.
"""

from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path

import numpy as np

from benchmarks.boundaries import TASKS, score
from benchmarks.common import add_seeds, add_split, emit, set_threads


def train(a) -> None:
    from napari_unet.core.config import TrainConfig
    from napari_unet.models.checkpoint import save_model
    from napari_unet.core.train import fit

    set_threads(2)
    for seed in a.seeds:
        images, strokes, _, _, _, mode = TASKS[a.task](a.split, seed, "middle")
        r = fit(images, strokes, TrainConfig(steps=None, time_budget=a.budget, seed=seed, mode=mode))
        save_model(r.model, a.models / f"{a.task}_{a.split}_{seed}.pt")
        emit({"task": a.task, "seed": seed, "steps": r.steps})


def em_prior(p: np.ndarray, iters: int = 50) -> np.ndarray:
    """Class prior of the pixels behind posteriors ``p`` ``(K, N)`` computed under a uniform prior."""
    k = p.shape[0]
    pi = np.full(k, 1 / k)
    for _ in range(iters):
        a = p * (pi * k)[:, None]
        a /= a.sum(0, keepdims=True)
        pi = a.mean(1)
    return pi


def sweep(a) -> None:
    import torch

    from napari_unet.core.config import PredictConfig
    from napari_unet.models.load import load_model
    from napari_unet.predict.pipeline import predict_labels

    set_threads(2)
    value = 1 if a.task == "isbi" else 2  # membrane / nucleus
    plain = PredictConfig(object_margin=0)

    def shifted(model, b):
        m = copy.copy(model)
        m.net = copy.deepcopy(model.net)
        with torch.no_grad():
            m.net.head.bias[model.class_values.index(value)] += b
        return m

    def scored(preds, truths):
        s = score(a.task, preds, truths)
        if a.task == "isbi":  # predicted / true membrane pixels
            s["line_ratio"] = round(float(np.mean([(p == 1).sum() / (t == 1).sum() for p, t in zip(preds, truths)])), 3)
        return s

    for seed in a.seeds:
        model = load_model(a.models / f"{a.task}_{a.split}_{seed}.pt")
        model.history.sparse = True  # trained on strokes (files from before the flag lack it)
        *_, images, truths, _ = TASKS[a.task](a.split, seed, "middle")
        rec = {"task": a.task, "split": a.split, "seed": seed}
        for b in a.shifts:
            rec[str(b)] = scored([predict_labels(shifted(model, b), im, plain).labels for im in images], truths)
        for m in a.margins:
            rec[f"margin_{m}"] = scored([predict_labels(model, im, PredictConfig(object_margin=m)).labels
                                         for im in images], truths)
        preds, i = [], model.class_values.index(value)
        for im in images:
            pr = predict_labels(model, im, PredictConfig(object_margin=0, close_lines=False, rescale=False),
                                probabilities=True).probabilities
            pi = em_prior(pr.reshape(pr.shape[-3], -1)[:, ::7].astype(np.float64))
            preds.append(predict_labels(shifted(model, float(np.log(pi[i] / (1 - pi[i])))), im, plain).labels)
        rec["em"] = scored(preds, truths)
        emit(rec)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("step", choices=["train", "sweep"])
    ap.add_argument("--task", required=True, choices=["isbi", "dsb"])
    add_split(ap)
    add_seeds(ap)
    ap.add_argument("--budget", type=float, default=300.0)
    ap.add_argument("--shifts", type=float, nargs="+", default=[0.0, -0.25, -0.5, -1.0])
    ap.add_argument("--margins", type=float, nargs="*", default=[], help="also predict with these object margins")
    ap.add_argument("--models", type=Path, required=True, help="folder of the trained networks")
    a = ap.parse_args(argv)
    a.models.mkdir(parents=True, exist_ok=True)
    (train if a.step == "train" else sweep)(a)
    return 0


if __name__ == "__main__":
    sys.exit(main())
