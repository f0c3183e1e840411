"""Engine-only checks on a CUDA GPU: peak, training throughput, tiled prediction, accuracy.

Needs only torch, numpy, scipy, scikit-image and tifffile (no napari). Run from the repo root:

    PYTHONPATH=src python -m benchmarks.gpu_check --isbi bench-out/isbi/strokes \
        --dsb bench-out/dsb --budget 120 --out gpu.json

Reports (JSON): the GPU's measured bf16 matmul and 3x3-convolution peaks; training throughput of
the default model (pixels/s, FLOP/s, share of the conv peak); tiled prediction speed on a
4096 x 4096 image, and against MONAI's sliding_window_inference when ``monai`` is importable
(it is pure Python: put its source on PYTHONPATH); ISBI 2012 accuracy after ``--budget``
seconds of training from strokes, and the seconds of training until it is within 5 % of its
final value; DSB2018 instance accuracy with and without the border weight map after the same
budget.
"""

from __future__ import annotations

import argparse
import importlib
import json
import time
from pathlib import Path

import numpy as np
import torch

from benchmarks.datasets import read_prepared


def timed(fn, repeat=20):
    fn()
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(repeat):
        fn()
    torch.cuda.synchronize()
    return (time.perf_counter() - t0) / repeat


def peaks() -> dict:
    a = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
    b = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
    mm = 2 * 8192**3 / timed(lambda: a @ b) / 1e12
    out = {"matmul_bf16_tflops": round(mm, 1)}
    for c in (64, 128):
        x = torch.randn(32, c, 256, 256, device="cuda", dtype=torch.bfloat16).contiguous(memory_format=torch.channels_last)
        conv = torch.nn.Conv2d(c, c, 3, padding=1, bias=False).cuda().to(torch.bfloat16, memory_format=torch.channels_last)
        with torch.inference_mode():
            dt = timed(lambda: conv(x))
        out[f"conv3x3_{c}ch_bf16_tflops"] = round(2 * 9 * c * c * 32 * 256 * 256 / dt / 1e12, 1)
    return out


def train_throughput(batch=32, patch=256, steps=60) -> dict:
    from napari_unet.core.samples import make_sample
    from napari_unet.core.config import ModelConfig, TrainConfig
    from napari_unet.core.model import conv_flops_per_pixel
    from napari_unet.core.train import train

    s = make_sample(1024, seed=0)
    res = {}
    for name, mc in (("default", ModelConfig()), ("large", ModelConfig(base_channels=32))):
        cfg = TrainConfig(steps=steps, batch_size=batch, patch_size=patch, device="cuda")
        events = list(train(s.image, s.strokes, cfg, model_config=mc))
        # steady state: the second half of the run
        half = events[len(events) // 2]
        last = events[-1]
        sps = (last.step - half.step) / (last.elapsed - half.elapsed)
        px = sps * batch * patch * patch
        flops = 3 * conv_flops_per_pixel(events[-1].model.config) * px  # forward + backward ~ 3x forward
        res[name] = {"steps_per_s": round(sps, 1), "mpx_per_s": round(px / 1e6, 1),
                     "tflops": round(flops / 1e12, 1), "step_ms": round(1000 / sps, 2)}
    return res


def vs_monai() -> dict:
    try:
        importlib.import_module("monai")
    except ImportError:
        return {"skipped": "monai is not importable"}
    from benchmarks.vs_monai import compare

    return {f"tile{t}": compare(size=4096, tile=t, overlap=0.25, batch=8, device="cuda", our_tile=t) for t in (256, 512)}


def time_to_useful(strokes_dir: Path) -> dict:
    from benchmarks.time_to_useful import curve

    return curve(strokes_dir, steps=3000, every=250, device="cuda", batch_size=16, patch_size=256)


def predict_speed(model, size=4096) -> dict:
    from napari_unet.core.config import PredictConfig
    from napari_unet.predict.pipeline import predict_labels

    img = np.random.default_rng(0).integers(0, 65535, (size, size), dtype=np.uint16)
    out = {}
    for tile in (256, 512, 1024):
        cfg = PredictConfig(tile_size=tile, batch_size=8, device="cuda")
        predict_labels(model, img[:1024, :1024], cfg)
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        predict_labels(model, img, cfg)
        torch.cuda.synchronize()
        out[f"tile{tile}_mpx_per_s"] = round(size * size / (time.perf_counter() - t0) / 1e6, 1)
    return out


def isbi(strokes_dir: Path, budget: float) -> tuple[dict, object]:
    from benchmarks.metrics import score
    from napari_unet.core.config import PredictConfig, TrainConfig, model_preset
    from napari_unet.predict.pipeline import predict_labels
    from napari_unet.core.train import fit

    imgs, _, evals = read_prepared(strokes_dir)
    out, model = {}, None
    for name, labels, size in (("strokes", "strokes", "default"), ("strokes_large", "strokes", "large"),
                               ("strokes_small", "strokes", "small"), ("dense", "dense", "default")):
        labs = read_prepared(strokes_dir, labels)[1]
        cfg = TrainConfig(steps=None, time_budget=budget, batch_size=16, patch_size=256, device="cuda")
        r = fit(imgs, labs, cfg, model_config=model_preset(size))
        scores = [score(predict_labels(r.model, im, PredictConfig(device="cuda")).labels, t) for im, t in evals]
        out[name] = {"steps": r.steps, **{k: round(float(np.mean([s[k] for s in scores])), 4) for k in scores[0]}}
        model = model or r.model
    return out, model


def dsb(root: Path, budget: float) -> dict:
    from benchmarks.instance_metrics import evaluate_arrays
    from napari_unet.core.config import PredictConfig, TrainConfig
    from napari_unet.predict.pipeline import predict_labels
    from napari_unet.core.train import fit

    imgs, labs, evals = read_prepared(root)
    out = {}
    for variant, w0 in (("no_weight_map", 0.0), ("weight_map", 10.0)):
        cfg = TrainConfig(steps=None, time_budget=budget, batch_size=16, patch_size=256, device="cuda",
                          mode="instance", border_w0=w0)
        r = fit(imgs, labs, cfg)
        preds = [predict_labels(r.model, im, PredictConfig(device="cuda")).labels for im, _ in evals]
        out[variant] = {"steps": r.steps, **evaluate_arrays(preds, [t for _, t in evals])}
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--isbi", type=Path)
    ap.add_argument("--dsb", type=Path)
    ap.add_argument("--budget", type=float, default=120)
    ap.add_argument("--out", type=Path, default=Path("gpu.json"))
    args = ap.parse_args()
    report = {"device": torch.cuda.get_device_name(), "torch": torch.__version__}

    def save():
        args.out.write_text(json.dumps(report, indent=1))
        print(json.dumps(report), flush=True)

    report["peaks"] = peaks()
    save()
    report["training"] = train_throughput()
    conv = report["peaks"]["conv3x3_64ch_bf16_tflops"]
    for r in report["training"].values():
        r["share_of_conv64_peak"] = round(r["tflops"] / conv, 3)
        r["share_of_matmul_peak"] = round(r["tflops"] / report["peaks"]["matmul_bf16_tflops"], 3)
    save()
    report["vs_monai"] = vs_monai()
    save()
    if args.isbi:
        report["isbi"], model = isbi(args.isbi, args.budget)
        report["predict_4096"] = predict_speed(model)
        save()
        report["time_to_useful"] = time_to_useful(args.isbi)
        save()
    if args.dsb:
        report["dsb"] = dsb(args.dsb, args.budget)
        save()


if __name__ == "__main__":
    main()
