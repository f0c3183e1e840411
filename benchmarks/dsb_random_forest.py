"""ilastik-style baseline for the DSB2018 nuclei benchmark: pixel random forest, then instances.

    python -m benchmarks.dsb_random_forest --strokes S --out DIR [--labels strokes|dense] [--trees 100]

Per-pixel features from :func:`skimage.feature.multiscale_basic_features` (intensity, edges,
texture at sigmas 1..16; the same as ``random_forest.py``) and a scikit-learn random forest
(100 trees, 2 jobs, seed 0) trained on the annotated pixels of ``S/<labels>/<name>.tif``
(``S`` as written by ``dsb_strokes.py``) as two classes: background (stroke value 1) and
nucleus (values >= 2). The forest's nucleus mask of each ``S/eval_images`` image is cut into
objects with the plugin's own post-processing, :func:`napari_unet.core.instances.objects_from_foreground`
(connected components split by a seeded watershed), as ``napari-unet predict`` does. Writes
``DIR/<name>_labels.tif`` (int32, 0 = background, 1..N objects), then prints the wall times
and the metrics of ``instance_metrics.py`` as one JSON line. With ``--labels dense`` it trains
on a seeded random subset of ``--max-samples`` labelled pixels.
"""

from __future__ import annotations

import sys
import time

import numpy as np

from benchmarks.instance_metrics import evaluate
from benchmarks.random_forest import parser, predict_and_report, stroke_pixels, training_files


def main(argv=None) -> int:
    from sklearn.ensemble import RandomForestClassifier

    from napari_unet.core.instances import objects_from_foreground

    ap = parser(__doc__, "dsb_strokes", "<name>")
    ap.add_argument("--trees", type=int, default=100)
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args(argv)
    label_files = training_files(args, "dsb_strokes")

    t0 = time.perf_counter()
    x, y = stroke_pixels(args.strokes, label_files, target=lambda v: (v >= 2).astype(np.uint8),  # 1 = nucleus
                         max_samples=args.max_samples if args.labels == "dense" else None)
    t_feat = time.perf_counter() - t0
    rf = RandomForestClassifier(n_estimators=args.trees, n_jobs=args.jobs, random_state=0)
    rf.fit(x, y)
    t_train = time.perf_counter() - t0
    print(f"trained on {len(y)} pixels x {x.shape[1]} features from {len(label_files)} images "
          f"(background {np.sum(y == 0)}, nucleus {np.sum(y == 1)}): "
          f"features {t_feat:.1f} s, total training {t_train:.1f} s", file=sys.stderr)

    return predict_and_report(rf, args.strokes, args.out, lambda classes: objects_from_foreground(classes == 1),
                              evaluate, f"random forest ({args.labels})", t_train, "image")


if __name__ == "__main__":
    sys.exit(main())
