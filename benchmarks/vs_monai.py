"""Tiled prediction speed: napari-unet's engine against MONAI's sliding_window_inference.

    pip install monai   # benchmark-only dependency
    python -m benchmarks.vs_monai [--size 2048] [--tile 256] [--overlap 0.25] [--our-tile N] [--device cpu]
    python -m benchmarks.vs_monai --isbi bench-out/isbi/strokes --model bench-out/isbi/unet_strokes.pt

MONAI tiles with ``--tile`` and ``--overlap`` and blends with a Gaussian (sigma = tile/8); the
engine predicts exactly (output tiles of ``--our-tile``, default: the engine's default, each
computed with the network's receptive field around it, one tile per batch; no blending).
``--batch`` is MONAI's batch of tiles. Same model weights and precision (bf16 where the engine uses it) and final argmax (the engine's) for both; both are
timed from the raw image to labels, so MONAI's run includes normalising the whole image with
the model's percentiles (the engine normalises tile by tile). MONAI runs the trained network as a user
would hand it over (eval mode, under autocast); the engine runs its inference copy
(BatchNorm folded, weights cast once, on oneDNN CPUs each ReLU fused into its convolution). For transparency MONAI is also timed with that same
inference copy, which isolates the tiling and blending machinery. Reports Mpx/s of each
(median of interleaved rounds), the share of pixels where the label images agree, and each one's foreground IoU
against the synthetic sample's ground truth (output quality). With ``--isbi``, output quality
on real data instead: the ISBI metrics of each one's labels on the evaluation slices, with the
same weights (a model file trained on the strokes, e.g. by ``run_isbi.sh``).
"""

import argparse
import json
import time
from functools import partial
from pathlib import Path

import numpy as np
import torch


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=2048)
    ap.add_argument("--tile", type=int, default=256)
    ap.add_argument("--overlap", type=float, default=0.25)
    ap.add_argument("--our-tile", type=int, default=None, help="the engine's tile size (default: its default)")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--isbi", type=Path, metavar="DIR",
                    help="instead: output quality on real data, isbi_strokes.py's DIR/eval_images and eval_truth")
    ap.add_argument("--model", type=Path, help="with --isbi: a model file trained on DIR's strokes")
    args = ap.parse_args()
    if args.isbi and not args.model:
        ap.error("--isbi needs --model")
    if args.isbi:
        result = isbi_quality(args.model, args.isbi, args.tile, args.overlap, args.batch, args.device, args.our_tile)
    else:
        result = compare(args.size, args.tile, args.overlap, args.batch, args.device, args.rounds, args.our_tile)
    print(json.dumps(result))


def runners(model, tile, overlap, batch, device, our_tile=None):
    """``(ours, monai, monai_with_copy)``: functions from a raw 2D image to labels, all with the
    same weights and settings (see the module docstring)."""
    from monai.inferers import sliding_window_inference

    from napari_unet.core.config import PredictConfig
    from napari_unet.core.data import apply_normalization, percentiles, to_zcyx
    from napari_unet.core.device import autocast, use_bf16
    from napari_unet.core.model import inference_copy
    from napari_unet.predict.finish import best_values
    from napari_unet.predict.pipeline import predict_labels

    name, device = device, torch.device(device)
    cfg = PredictConfig(tile_size=our_tile or PredictConfig.tile_size, device=name)  # the engine's batch of tiles
    bf16 = use_bf16(device, cfg.precision)
    net = model.net.to(device).eval()
    fast = inference_copy(net, torch.bfloat16 if bf16 else torch.float32).to(device)

    def ours(image):
        return predict_labels(model, image, cfg).labels

    def monai(image, network, dtype):
        zcyx = to_zcyx(image)  # the same per-image percentile normalisation, timed as part of MONAI's run
        x = torch.from_numpy(apply_normalization(zcyx, *percentiles(zcyx, model.norm))[0][None]).to(device)
        with torch.inference_mode(), autocast(device, bf16):
            probs = sliding_window_inference(
                x.to(dtype), tile, batch, lambda t: torch.softmax(network(t).float(), 1),
                overlap=overlap, mode="gaussian", sigma_scale=0.125, padding_mode="reflect",
            )
        return best_values(probs[0], model.class_values, torch.int64).cpu().numpy()  # the engine's fast argmax

    def theirs(image):
        return monai(image, net, torch.float32)

    def theirs_with_our_network(image):
        return monai(image, fast, next(fast.parameters()).dtype)

    return ours, theirs, theirs_with_our_network


def isbi_quality(model_path, isbi_dir, tile=256, overlap=0.25, batch=4, device="cpu", our_tile=None) -> dict:
    """Mean ISBI metrics of the engine's and MONAI's labels on the evaluation slices, same weights."""
    import tifffile
    from benchmarks.metrics import METRICS, score

    from napari_unet.models.load import load_model

    model = load_model(model_path)
    fns = dict(zip(("napari_unet", "monai", "monai_with_inference_copy"), runners(model, tile, overlap, batch, device, our_tile)))
    scores = {k: [] for k in fns}
    agree = []
    paths = sorted((isbi_dir / "eval_images").glob("*.tif"))
    if not paths:
        raise SystemExit(f"no evaluation slices in {isbi_dir / 'eval_images'}: run isbi_strokes.py first")
    for path in paths:
        image, truth = tifffile.imread(path), tifffile.imread(isbi_dir / "eval_truth" / path.name)
        labels = {k: fn(image) for k, fn in fns.items()}
        agree.append(float(np.mean(labels["napari_unet"] == labels["monai"])))
        for k, lab in labels.items():
            scores[k].append(score(lab, truth))
    return {"tile": tile, "overlap": overlap, "our_tile": our_tile, "slices": len(agree), "labels_agree": round(float(np.mean(agree)), 5),
            **{k: {m: round(float(np.mean([r[m] for r in v])), 4) for m in METRICS} for k, v in scores.items()}}


def compare(size=2048, tile=256, overlap=0.25, batch=4, device="cpu", rounds=5, our_tile=None) -> dict:
    """Time both on a ``size``-square image; see the module docstring."""
    from napari_unet.core.samples import make_sample
    from napari_unet.core.config import PredictConfig, TrainConfig
    from napari_unet.core.device import use_bf16
    from napari_unet.core.train import fit

    s = make_sample(256, seed=0)
    model = fit(s.image, s.strokes, TrainConfig(steps=200, device=device)).model
    reps = -(-size // 256)
    image = np.tile(s.image, (reps, reps))[:size, :size].copy()
    truth = np.tile(s.truth, (reps, reps))[:size, :size] == 2

    def iou(labels):
        fg = labels == 2
        return round(float((fg & truth).sum() / max((fg | truth).sum(), 1)), 4)

    ours, theirs, theirs_with_our_network = (partial(fn, image) for fn in runners(model, tile, overlap, batch, device, our_tile))
    device = torch.device(device)
    bf16 = use_bf16(device)

    def timed(fn):
        t0 = time.perf_counter()
        out = fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        return out, time.perf_counter() - t0

    # interleaved rounds: a shared machine's speed drifts, so each round times all three back
    # to back and the speed-ups are the medians of the per-round ratios
    times = {"ours": [], "monai": [], "monai_copy": []}
    for fn in (ours, theirs, theirs_with_our_network):  # warm-up: oneDNN primitives, caches
        fn()
    for _ in range(rounds):
        a, t = timed(ours)
        times["ours"].append(t)
        b, t = timed(theirs)
        times["monai"].append(t)
        c, t = timed(theirs_with_our_network)
        times["monai_copy"].append(t)
    ta, tb, tc = (np.asarray(times[k]) for k in ("ours", "monai", "monai_copy"))
    mpx = size**2 / 1e6
    return {
        "size": size, "tile": tile, "overlap": overlap, "our_tile": our_tile or PredictConfig.tile_size, "monai_batch": batch, "bf16": bf16, "rounds": rounds,
        "napari_unet_mpx_per_s": round(mpx / float(np.median(ta)), 2), "monai_mpx_per_s": round(mpx / float(np.median(tb)), 2),
        "speedup": round(float(np.median(tb / ta)), 2), "speedup_per_round": [round(float(r), 2) for r in tb / ta],
        "labels_agree": round(float(np.mean(a == b)), 5),
        "monai_with_inference_copy_mpx_per_s": round(mpx / float(np.median(tc)), 2),
        "speedup_over_that": round(float(np.median(tc / ta)), 2),
        "labels_agree_with_that": round(float(np.mean(a == c)), 5),
        "iou_vs_truth": {"napari_unet": iou(a), "monai": iou(b), "monai_with_inference_copy": iou(c)},
    }


if __name__ == "__main__":
    main()
