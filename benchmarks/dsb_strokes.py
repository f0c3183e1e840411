"""Prepare the DSB2018 nuclei benchmark (instance mode): simulated strokes, dense labels, eval split.

    python -m benchmarks.dsb_strokes --out DIR [--data PATH] [--n-train 60] [--n-eval 40] [--seed 0]
                                    [--object-fraction 0.25] [--max-size 512]

Reads ``PATH/dsb2018/{images,labels}/<name>.png`` and ``index.json`` (``--data`` defaults to
``../shared/data`` beside the repository; the ``dsb2018`` folder itself is accepted too). Only
the greyscale (single-channel) images are used, and only those at most ``--max-size`` pixels
on both sides (bounds the CPU cost; the skipped count is printed). From these, a seeded random
draw gives ``--n-train`` training and ``--n-eval`` disjoint held-out images.

Writes (TIFF):

* ``DIR/images/<name>.tif``        training images (uint8)
* ``DIR/strokes/<name>.tif``       instance strokes as a user paints them (uint16): 0 = not
  annotated, 1 = background strokes, each value >= 2 one whole nucleus; from
  :func:`napari_unet.core.samples.simulate_instance_strokes` (seed ``seed * 1000 + i``)
* ``DIR/dense/<name>.tif``         dense version: nucleus ``id`` painted as ``2 + id``, background 1
* ``DIR/eval_images/<name>.tif``, ``DIR/eval_truth/<name>.tif``  held-out images, instance truth (uint16)
* ``DIR/strokes.json``             split sizes, fraction of nuclei painted, fraction of pixels annotated
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from benchmarks.datasets import add_data, dsb_image, dsb_root, index, write_tif


def split(rows: list[dict], n_train: int, n_eval: int, seed: int, max_size: int) -> tuple[list[str], list[str], int]:
    """Seeded disjoint draw of greyscale image names no larger than ``max_size``: (train, eval, skipped as too large)."""
    grey = [r for r in rows if r.get("channels", 1) == 1]
    ok = sorted(r["name"] for r in grey if r["height"] <= max_size and r["width"] <= max_size)
    if n_train + n_eval > len(ok):
        sys.exit(f"asked for {n_train} + {n_eval} images but only {len(ok)} greyscale images are <= {max_size} px")
    order = np.random.default_rng(seed).permutation(len(ok))
    names = [ok[i] for i in order]
    return names[:n_train], names[n_train:n_train + n_eval], len(grey) - len(ok)


def main(argv=None) -> int:
    from napari_unet.core.samples import simulate_instance_strokes

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, type=Path)
    add_data(ap)
    ap.add_argument("--n-train", type=int, default=60)
    ap.add_argument("--n-eval", type=int, default=40)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--object-fraction", type=float, default=0.25, help="fraction of nuclei painted whole")
    ap.add_argument("--max-size", type=int, default=512, help="skip images larger than this on either side")
    args = ap.parse_args(argv)
    root = dsb_root(args.data)
    rows = index(root)
    train, held_out, skipped = split(rows, args.n_train, args.n_eval, args.seed, args.max_size)
    n_rgb = sum(r.get("channels", 1) != 1 for r in rows)
    print(f"{len(rows)} images: {n_rgb} RGB not used, {skipped} greyscale skipped as larger than "
          f"{args.max_size} px; train {len(train)}, eval {len(held_out)} (seed {args.seed})")

    nuclei = painted = annotated = background = pixels = 0
    for i, name in enumerate(train):
        image, truth = dsb_image(root, name)
        strokes = simulate_instance_strokes(truth, object_fraction=args.object_fraction, seed=args.seed * 1000 + i)
        assert not np.any((strokes >= 2) & (truth == 0)) and not np.any((strokes == 1) & (truth > 0))
        dense = np.where(truth > 0, truth.astype(np.int64) + 2, 1)
        if dense.max() > np.iinfo(np.uint16).max:
            sys.exit(f"{name}: too many nuclei for uint16 labels")
        n = len(np.unique(truth[truth > 0]))
        k = len(np.unique(strokes[strokes >= 2]))
        nuclei, painted = nuclei + n, painted + k
        annotated += int(np.count_nonzero(strokes))
        background += int(np.count_nonzero(strokes == 1))
        pixels += strokes.size
        write_tif(args.out, "images", name, image)
        write_tif(args.out, "strokes", name, strokes.astype(np.uint16))
        write_tif(args.out, "dense", name, dense.astype(np.uint16))
    for name in held_out:
        image, truth = dsb_image(root, name)
        write_tif(args.out, "eval_images", name, image)
        write_tif(args.out, "eval_truth", name, truth)

    stats = {
        "n_train": len(train), "n_eval": len(held_out), "seed": args.seed,
        "object_fraction": args.object_fraction, "max_size": args.max_size,
        "skipped_too_large": skipped, "skipped_rgb": n_rgb,
        "train_nuclei": int(nuclei), "painted_nuclei": int(painted),
        "fraction_nuclei_painted": round(painted / max(nuclei, 1), 4),
        "fraction_pixels_annotated": round(annotated / max(pixels, 1), 4),
        "fraction_pixels_background_strokes": round(background / max(pixels, 1), 4),
        "train": train, "eval": held_out,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "strokes.json").write_text(json.dumps(stats, indent=1))
    print(f"painted {painted}/{nuclei} nuclei ({stats['fraction_nuclei_painted']:.1%}); annotated "
          f"{stats['fraction_pixels_annotated']:.2%} of pixels (background strokes "
          f"{stats['fraction_pixels_background_strokes']:.2%}); wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
