"""The ``nuclei`` base model on colour (H&E) images: which conversion to grey serves it.

    python -m benchmarks.colour_nuclei [--data ../shared/data] [--model nuclei] [--out results.jsonl]

The 20 colour images of DSB2018 (256 x 320, RGB), zero-shot, each converted the ways
:mod:`napari_unet.core.colour` offers (luminance, the hematoxylin channel) and, for comparison, their
inversions. Prints F1@0.5 and the DSB mean average precision per image and their means; the
``nuclei`` model was trained on these images as luminance, so the comparison favours luminance.
"""

from __future__ import annotations

import argparse

import numpy as np

from benchmarks.common import add_out, emit
from benchmarks.datasets import add_data, index
from benchmarks.instance_metrics import dsb_ap, f1_at


def grey(rgb: np.ndarray, how: str) -> np.ndarray:
    from skimage.color import rgb2hed

    from napari_unet.core.colour import LUMINANCE

    lum = rgb[..., :3].astype(np.float32) @ np.asarray(LUMINANCE, np.float32)
    hema = rgb2hed(rgb[..., :3])[..., 0].astype(np.float32)
    return {"luminance": lum, "inverted luminance": -lum, "hematoxylin": hema, "inverted hematoxylin": -hema}[how]


def main(argv=None) -> int:
    import skimage.io

    from napari_unet.core.config import PredictConfig
    from napari_unet.models.load import load_model
    from napari_unet.predict.pipeline import predict_labels

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data(ap)
    ap.add_argument("--model", default="nuclei")
    add_out(ap)
    args = ap.parse_args(argv)
    root = args.data / "dsb2018"
    rows = [r for r in index(root) if r["channels"] == 3]
    model = load_model(args.model)
    ways = ("luminance", "hematoxylin", "inverted luminance", "inverted hematoxylin")
    scores = {w: [] for w in ways}
    for r in rows:
        rgb = np.asarray(skimage.io.imread(root / "images" / f"{r['name']}.png"))
        truth = np.asarray(skimage.io.imread(root / "labels" / f"{r['name']}.png"))
        line = {"image": r["name"]}
        for w in ways:
            labels = predict_labels(model, grey(rgb, w), PredictConfig(device="cpu")).labels
            scores[w].append((f1_at(labels, truth), dsb_ap(labels, truth)))
            line[w] = round(scores[w][-1][0], 3)
        emit(line, args.out)
    print(f"{len(rows)} colour images, zero-shot {args.model}:")
    print("| conversion | F1@0.5 | DSB mAP | images where it is best (F1) |\n|---|---|---|---|")
    best = np.argmax([[s[i][0] for s in scores.values()] for i in range(len(rows))], axis=1)
    for j, (w, s) in enumerate(scores.items()):
        f1, ap_ = np.mean(s, axis=0)
        print(f"| {w} | {f1:.3f} | {ap_:.3f} | {int((best == j).sum())} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
