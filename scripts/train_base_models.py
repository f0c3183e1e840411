"""Train the shipped base models on the dense labels of ISBI 2012, DSB2018 and the CTC cell sets.

    python scripts/train_base_models.py --data ../shared/data [--out src/napari_unet/models/base_models]
        [--only nuclei|em-membranes|cells ...] [--twins] [--steps-scale 1.0] [--device auto] [--seed 0]

Writes ``OUT/<name>.pt`` (float16 weights, class names, training data, licence, citation,
training record and the fingerprint of the training images that ``napari_unet.models.choice``
compares new images with, inside) and ``OUT/<name>.json`` (steps, seconds, device). With ``--twins`` it
also trains ``<name>-twin.pt`` on everything except held-out images, so that benchmarks can
measure the base models on images they never saw:

* ``nuclei-twin``: only the 256 x 256 greyscale and the colour images (every other size,
  which is also every other acquisition, held out);
* ``em-membranes-twin``: slices 00-19 (20-29 held out);
* ``cells-twin``: the frames before the evaluation frames of ``benchmarks/ctc.py``.

A run on the CPU is bit for bit reproducible from ``--seed`` (same torch version); a GPU run
trains with bf16 autocast and gives other, equally good weights.

Colour images (bright-field H&E, 20 of 505) are converted to grey: the nuclei model then has
one input channel and applies to every single-channel fluorescence image, and the dark nuclei
of the bright-field images teach it both contrast polarities.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DSB_CITATION = ("Caicedo et al. 2019, Nucleus segmentation across imaging experiments: the 2018 Data Science "
                "Bowl, Nat Methods 16:1247 (BBBC038)")
ISBI_CITATION = ("Cardona et al. 2010, PLoS Biol 8:e1000502; Arganda-Carreras et al. 2015, Crowdsourcing the "
                 "creation of image segmentation algorithms for connectomics, Front Neuroanat 9:142")
UNET_CITATION = "Ronneberger, Fischer, Brox 2015, U-Net: Convolutional Networks for Biomedical Image Segmentation"


def load_dsb(data: Path, twin: bool):
    """Greyscale images and dense instance labels painted as strokes (1 = background, >= 2 = nucleus)."""
    import skimage.io

    root = data / "dsb2018"
    rows = json.loads((root / "index.json").read_text())
    if twin:
        rows = [r for r in rows if r["channels"] == 3 or (r["height"], r["width"]) == (256, 256)]
    images, labels = [], []
    for r in rows:
        im = np.asarray(skimage.io.imread(root / "images" / f"{r['name']}.png"))
        if im.ndim == 3:
            im = im[..., :3].astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
        lab = np.asarray(skimage.io.imread(root / "labels" / f"{r['name']}.png")).astype(np.int32)
        images.append(im)
        labels.append(np.where(lab > 0, lab + 1, 1))
    return images, labels, f"DSB2018 stage 1 training set (BBBC038), {len(rows)} images, dense instance labels"


def load_isbi(data: Path, twin: bool):
    """Slices and dense labels: 1 = membrane, 2 = cell interior."""
    import skimage.io

    root = data / "isbi2012"
    ids = range(20) if twin else range(30)
    images = [np.asarray(skimage.io.imread(root / "images" / f"{i:02d}.png")) for i in ids]
    labels = [np.where(np.asarray(skimage.io.imread(root / "labels" / f"{i:02d}.png")) > 127, 2, 1).astype(np.uint8)
              for i in ids]
    return images, labels, f"ISBI 2012 EM segmentation challenge training slices {ids[0]:02d}-{ids[-1]:02d}, dense labels"


def load_ctc(data: Path, twin: bool):
    """Frames of sequence 01 of PhC-C2DH-U373 and DIC-C2DH-HeLa with their gold and silver cell
    labels painted as strokes (1 = background, >= 2 = one cell each); the twin takes only the
    frames before the benchmarks' evaluation frames (``benchmarks/ctc.py``: U373 from frame 60,
    HeLa from frame 36)."""
    import skimage.io

    images, labels, counts = [], [], []
    for name, eval_from in (("phc-u373", 60), ("dic-hela", 36)):
        root = data / "ctc" / name
        rows = json.loads((root / "index.json").read_text())
        rows = [r for r in rows if not twin or r["frame"] < eval_from]
        for r in rows:
            images.append(np.asarray(skimage.io.imread(root / "images" / f"{r['name']}.png")))
            lab = np.asarray(skimage.io.imread(root / "labels" / f"{r['name']}.png")).astype(np.int32)
            labels.append(np.where(lab > 0, lab + 1, 1))
        counts.append(f"{len(rows)} {name} frames")
    return images, labels, ("Cell Tracking Challenge sequence 01 of PhC-C2DH-U373 and DIC-C2DH-HeLa (" +
                            ", ".join(counts) + "), gold and silver cell segmentations")


CTC_CITATION = ("Maška et al. 2014, A benchmark for comparison of cell tracking algorithms, Bioinformatics 30:1609; "
                "Ulman et al. 2017, An objective comparison of cell-tracking algorithms, Nat Methods 14:1141")

RECIPES = {
    "nuclei": {
        "load": load_dsb, "mode": "instance", "steps": 5000,
        "class_names": {"1": "background", "2": "nucleus"},
        "description": "Nuclei in fluorescence and bright-field images (instance mode: paint background 1, "
                       "each whole nucleus 2, 3, 4, ...).",
        "licence": "CC0-1.0 (training data); weights CC0-1.0", "citation": DSB_CITATION,
    },
    "em-membranes": {
        "load": load_isbi, "mode": "semantic", "steps": 3000,
        "class_names": {"1": "membrane", "2": "cell interior"},
        "description": "Cell membranes in serial-section electron microscopy (semantic: 1 membrane, 2 interior).",
        "licence": "ISBI 2012 data: free for non-commercial segmentation research; cite the data papers",
        "citation": ISBI_CITATION,
        "line_classes": [1],  # membranes separate cells: prediction closes their gaps (napari_unet.core.lines)
    },
    "cells": {
        "load": load_ctc, "mode": "instance", "steps": 3000, "batch_size": 8,
        "class_names": {"1": "background", "2": "cell"},
        "description": "Whole cells in phase contrast and DIC (instance mode: paint background 1, each whole cell "
                       "2, 3, 4, ...).",
        "licence": "Cell Tracking Challenge data: free for research use; cite the challenge papers",
        "citation": CTC_CITATION,
    },
}


def train_one(name: str, twin: bool, args) -> dict:
    from dataclasses import replace

    from napari_unet.core.config import AugmentConfig, ModelConfig, TrainConfig
    from napari_unet.models.checkpoint import save_model
    from napari_unet.models.choice import fingerprint
    from napari_unet.core.train import fit

    recipe = RECIPES[name]
    images, labels, source = recipe["load"](args.data, twin)
    config = TrainConfig(
        steps=max(1, round(recipe["steps"] * args.steps_scale)), batch_size=recipe.get("batch_size", 16), patch_size=256,
        learning_rate=2e-3, warmup_steps=100, edge_weight=0.0,  # dense labels: no unlabelled pixels to regularise
        mode=recipe["mode"], seed=args.seed, device=args.device,
        # stronger than the default so the model carries over to other microscopes and magnifications
        augment=AugmentConfig(rotation_degrees=180.0, scale_range=args.scale_range, intensity=0.3, noise=0.08),
    )
    t0 = time.perf_counter()
    result = fit(images, labels, config, model_config=ModelConfig())
    seconds = time.perf_counter() - t0
    model = result.model
    full = name + ("-twin" if twin else "")
    model.info = replace(  # after what training recorded (instance mode: the objects' median diameter)
        model.info, name=full, base=name, description=recipe["description"],
        class_names={int(v): n for v, n in recipe["class_names"].items()},
        training_data=source, licence=recipe["licence"], citation=recipe["citation"], method_citation=UNET_CITATION,
        line_classes=recipe.get("line_classes", model.info.line_classes),
        recipe=f"python scripts/train_base_models.py --data DATA --only {name}{' --twins-only' if twin else ''} "
               f"--steps-scale {args.steps_scale:g} --scale-range {args.scale_range:g} --device {args.device} "
               f"--seed {args.seed}",
        fingerprint=fingerprint(images),  # what napari_unet.models.choice compares images with
    )
    path = save_model(model, args.out / f"{full}.pt", half=True)
    record = {"name": full, "steps": result.steps, "seconds": round(seconds, 1), "loss": round(result.loss, 4),
              "images": len(images), "device": args.device, "seed": args.seed, "bytes": path.stat().st_size}
    (args.out / f"{full}.json").write_text(json.dumps(record, indent=1) + "\n")
    print(json.dumps(record), flush=True)
    return record


def add_fingerprint(name: str, twin: bool, args) -> None:
    """Add the fingerprint of its training images to an existing ``OUT/<name>.pt`` (weights and
    everything else in the file unchanged)."""
    import torch

    from napari_unet.core.record import ModelInfo
    from napari_unet.models.choice import fingerprint

    full = name + ("-twin" if twin else "")
    path = args.out / f"{full}.pt"
    images = RECIPES[name]["load"](args.data, twin)[0]
    payload = torch.load(path, map_location="cpu", weights_only=True)
    info = ModelInfo.from_dict(payload["info"])
    info.fingerprint = fingerprint(images)
    payload["info"] = info.to_dict()
    torch.save(payload, path.with_name(path.name + ".partial"))
    path.with_name(path.name + ".partial").replace(path)
    print(json.dumps({"name": full, "fingerprint_images": len(images)}), flush=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--out", type=Path, default=ROOT / "src" / "napari_unet" / "models" / "base_models")
    ap.add_argument("--only", nargs="+", choices=sorted(RECIPES), default=list(RECIPES))
    ap.add_argument("--twins", action="store_true", help="also train the twins without the held-out images")
    ap.add_argument("--twins-only", action="store_true", help="train only the twins")
    ap.add_argument("--steps-scale", type=float, default=1.0, help="multiply every recipe's steps (smoke runs)")
    ap.add_argument("--scale-range", type=float, default=0.4, help="patches are scaled by 1 +- this")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--fingerprint-only", action="store_true",
                    help="do not train: add the training images' fingerprint (napari_unet.models.choice) to OUT/<name>.pt")
    args = ap.parse_args(argv)
    for name in args.only:
        for twin in ([True] if args.twins_only else [True, False] if args.twins else [False]):
            (add_fingerprint if args.fingerprint_only else train_one)(name, twin, args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
