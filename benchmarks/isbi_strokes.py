"""Prepare the ISBI 2012 EM benchmark: simulated brush strokes, dense labels and the evaluation split.

    python -m benchmarks.isbi_strokes --out DIR [--data PATH] [--fraction 0.02] [--seed 0]

Reads ``PATH/isbi2012/{images,labels}/NN.png`` (``--data`` defaults to ``../shared/data``
beside the repository; the ``isbi2012`` folder itself is accepted too). Labels there are
0 = membrane, 255 = cell interior. Slices 00-19 are for training, 20-29 for evaluation.

Writes (TIFF, classes coded 1 = membrane, 2 = cell interior):

* ``DIR/images/NN.tif``       training images (copies)
* ``DIR/strokes/NN.tif``      sparse strokes, 0 = not annotated, from
  :func:`napari_unet.core.samples.simulate_strokes` (seed ``seed * 100 + NN``)
* ``DIR/dense/NN.tif``        dense labels, every pixel annotated
* ``DIR/eval_images/NN.tif``, ``DIR/eval_truth/NN.tif``  the evaluation slices
* ``DIR/strokes.json``        annotated fraction per slice and per class
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from benchmarks.datasets import add_data, isbi_root, isbi_slice, write_tif

TRAIN = range(0, 20)
EVAL = range(20, 30)
def main(argv=None) -> int:
    from napari_unet.core.samples import simulate_strokes

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, type=Path)
    add_data(ap)
    ap.add_argument("--fraction", type=float, default=0.02, help="annotated fraction of pixels per slice")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    root = isbi_root(args.data)

    def write(sub: str, i: int, data: np.ndarray) -> None:
        write_tif(args.out, sub, f"{i:02d}", data)

    per_slice, counts, total = {}, np.zeros(3, np.int64), 0
    for i in TRAIN:
        image, truth = isbi_slice(root, i)
        strokes = simulate_strokes(truth, fraction=args.fraction, seed=args.seed * 100 + i)
        assert not np.any((strokes > 0) & (strokes != truth)), "a stroke disagrees with the truth"
        c = np.bincount(strokes.ravel(), minlength=3)
        counts += c
        total += strokes.size
        per_slice[f"{i:02d}"] = {"annotated": c[1:].sum() / strokes.size,
                                 "membrane": c[1] / strokes.size, "interior": c[2] / strokes.size}
        write("images", i, image)
        write("strokes", i, strokes)
        write("dense", i, truth)
        print(f"slice {i:02d}: annotated {c[1:].sum() / strokes.size:.2%} "
              f"(membrane {c[1] / strokes.size:.2%}, interior {c[2] / strokes.size:.2%})")
    for i in EVAL:
        image, truth = isbi_slice(root, i)
        write("eval_images", i, image)
        write("eval_truth", i, truth)

    stats = {
        "fraction": args.fraction, "seed": args.seed,
        "annotated": counts[1:].sum() / total,
        "membrane": counts[1] / total, "interior": counts[2] / total,
        "membrane_share_of_strokes": counts[1] / counts[1:].sum(),
        "per_slice": per_slice,
    }
    (args.out / "strokes.json").write_text(json.dumps(stats, indent=1))
    print(f"overall: annotated {stats['annotated']:.2%} of pixels (membrane {stats['membrane']:.2%}, "
          f"interior {stats['interior']:.2%}); wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
