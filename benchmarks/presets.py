"""Model size presets on the ISBI strokes: training speed, prediction speed and accuracy.

    python -m benchmarks.presets --strokes bench-out/isbi/strokes [--seconds 300] [--device cpu]

Each preset (small, default, large) trains on the simulated strokes of slices 00-19 for the
same time budget (what a user gives it), then predicts the evaluation slices 20-29 with the
default tile settings. Reports per preset: steps/s and training Mpx/s (second half of the
run), the share of the device's bf16 3x3-convolution peak (measured in the same run),
prediction Mpx/s, and pixel error, interior IoU and Rand error against the dense truth.
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks.datasets import read_prepared


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--strokes", type=Path, default=Path("bench-out/isbi/strokes"))
    ap.add_argument("--seconds", type=float, default=300)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--presets", default="small,default,large")
    ap.add_argument("--patch-size", type=int, default=None, help="training patch size (default: TrainConfig's)")
    args = ap.parse_args()

    import torch
    from benchmarks.metrics import score
    from benchmarks.throughput import conv_peak

    from napari_unet.core.config import PredictConfig, TrainConfig, model_preset
    from napari_unet.core.device import resolve_device, use_bf16
    from napari_unet.core.model import conv_flops_per_pixel
    from napari_unet.predict.pipeline import predict_labels
    from napari_unet.core.train import train

    device = resolve_device(args.device)
    bf16 = use_bf16(device)
    peak = conv_peak(torch.device(device), bf16)
    imgs, labs, evals = read_prepared(args.strokes)
    if not imgs or len(evals) == 0:
        sys.exit(f"no strokes under {args.strokes}; run python -m benchmarks.isbi_strokes --out {args.strokes} first")
    print(json.dumps({"device": str(device), "bf16": bf16, "conv_peak_gflops": round(peak / 1e9, 1)}), flush=True)
    for name in args.presets.split(","):
        extra = {"patch_size": args.patch_size} if args.patch_size else {}
        cfg = TrainConfig(steps=None, time_budget=args.seconds, device=args.device, **extra)
        events = list(train(imgs, labs, cfg, model_config=model_preset(name)))
        half, last = events[len(events) // 2], events[-1]
        sps = (last.step - half.step) / (last.elapsed - half.elapsed)
        px = sps * cfg.batch_size * cfg.patch_size**2
        model = last.model
        t0 = time.perf_counter()
        preds = [predict_labels(model, im, PredictConfig(device=args.device)).labels for im, _ in evals]
        seconds = time.perf_counter() - t0
        scores = [score(p, gt) for p, (_, gt) in zip(preds, evals)]
        print(json.dumps({
            "preset": name, "batch_size": cfg.batch_size, "patch_size": cfg.patch_size, "steps": last.step, "train_seconds": round(last.elapsed, 1),
            "steps_per_s": round(sps, 2), "train_mpx_per_s": round(px / 1e6, 3),
            "share_of_conv_peak": round(3 * conv_flops_per_pixel(model.config) * px / peak, 3),
            "predict_mpx_per_s": round(sum(im.size for im, _ in evals) / seconds / 1e6, 2),
            **{k: round(float(np.mean([s[k] for s in scores])), 4)
               for k in ("pixel_error", "foreground_iou", "adapted_rand_error")},
        }), flush=True)


if __name__ == "__main__":
    main()
