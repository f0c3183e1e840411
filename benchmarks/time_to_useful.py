"""Seconds of training until the model is useful, on the ISBI strokes (the number a user feels).

    python benchmarks/time_to_useful.py --strokes bench-out/isbi/strokes [--steps 3800] [--every 200]

Trains the default model on the simulated strokes for ``--steps`` steps (about 300 s on the
2-core CPU) and, every ``--every`` steps, pauses the clock and scores the model on the 10
evaluation slices. Reports the training seconds (evaluation excluded) after which pixel error
and interior IoU first come within 5 % of their final values.
"""

import argparse
import glob
import json
import sys
import time
from pathlib import Path

import numpy as np
import tifffile

sys.path.insert(0, str(Path(__file__).resolve().parent))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--strokes", type=Path, default=Path("bench-out/isbi/strokes"))
    ap.add_argument("--steps", type=int, default=3800)
    ap.add_argument("--every", type=int, default=200)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()

    from metrics import score
    from napari_unet.config import PredictConfig, TrainConfig
    from napari_unet.predict import predict_labels
    from napari_unet.train import train

    imgs = [tifffile.imread(p) for p in sorted(glob.glob(f"{args.strokes}/images/*.tif"))]
    labs = [tifffile.imread(p) for p in sorted(glob.glob(f"{args.strokes}/strokes/*.tif"))]
    evals = [(tifffile.imread(p), tifffile.imread(t)) for p, t in zip(
        sorted(glob.glob(f"{args.strokes}/eval_images/*.tif")), sorted(glob.glob(f"{args.strokes}/eval_truth/*.tif")))]
    gen = train(imgs, labs, TrainConfig(steps=args.steps, device=args.device))
    curve, paused = [], 0.0
    for event in gen:
        if event.step % args.every and event.step != args.steps:
            continue
        train_seconds = event.elapsed - paused  # the generator's clock also ran while we evaluated
        t0 = time.perf_counter()
        event.model.net.eval()
        scores = [score(predict_labels(event.model, im, PredictConfig(device=args.device)).labels, gt) for im, gt in evals]
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
    print(json.dumps({"final": final, "seconds_to_95_percent": useful}))


if __name__ == "__main__":
    main()
