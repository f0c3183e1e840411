"""Seconds of training until the model is useful, on the ISBI strokes (the number a user feels).

    python -m benchmarks.time_to_useful --strokes bench-out/isbi/strokes [--steps 3800] [--every 200]

Trains the default model on the simulated strokes for ``--steps`` steps (about 300 s on the
2-core CPU) and, every ``--every`` steps, pauses the clock and scores the model on the 10
evaluation slices. Reports the training seconds (evaluation excluded) after which pixel error
and interior IoU first come within 5 % of their final values.
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np

from benchmarks.datasets import read_prepared


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--strokes", type=Path, default=Path("bench-out/isbi/strokes"))
    ap.add_argument("--steps", type=int, default=3800)
    ap.add_argument("--every", type=int, default=200)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    curve(args.strokes, args.steps, args.every, args.device)


def curve(strokes: Path, steps: int, every: int, device: str = "cpu", batch_size=None, patch_size=None) -> dict:
    """Train, scoring every ``every`` steps (clock paused); print each point; return the summary."""
    from benchmarks.metrics import score
    from napari_unet.core.config import PredictConfig, TrainConfig
    from napari_unet.predict.pipeline import predict_labels
    from napari_unet.core.train import train

    imgs, labs, evals = read_prepared(strokes)
    extra = {k: v for k, v in (("batch_size", batch_size), ("patch_size", patch_size)) if v}
    gen = train(imgs, labs, TrainConfig(steps=steps, device=device, **extra))
    curve, paused = [], 0.0
    for event in gen:
        if event.step % every and event.step != steps:
            continue
        train_seconds = event.elapsed - paused  # the generator's clock also ran while we evaluated
        t0 = time.perf_counter()
        event.model.net.eval()
        scores = [score(predict_labels(event.model, im, PredictConfig(device=device)).labels, gt) for im, gt in evals]
        event.model.net.train()
        paused += time.perf_counter() - t0
        curve.append({"step": event.step, "train_seconds": round(train_seconds, 1),
                      **{k: round(float(np.mean([s[k] for s in scores])), 4)
                         for k in ("pixel_error", "foreground_iou", "adapted_rand_error")}})
        print(json.dumps(curve[-1]), flush=True)
    final = curve[-1]
    useful = {
        "pixel_error": next(c["train_seconds"] for c in curve if c["pixel_error"] <= final["pixel_error"] * 1.05),
        "foreground_iou": next(c["train_seconds"] for c in curve if c["foreground_iou"] >= final["foreground_iou"] * 0.95),
    }
    summary = {"final": final, "seconds_to_95_percent": useful}
    print(json.dumps(summary))
    return summary


if __name__ == "__main__":
    main()
