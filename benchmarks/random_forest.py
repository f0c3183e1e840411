"""ilastik-style pixel-classification baseline for the ISBI 2012 benchmark.

    python -m benchmarks.random_forest --strokes S --out DIR [--labels strokes|dense] [--max-depth N]

Per-pixel features from :func:`skimage.feature.multiscale_basic_features` (intensity, edges,
texture at sigmas 1..16) and a scikit-learn random forest (100 trees, 2 jobs, seed 0) trained
on the annotated pixels of ``S/<labels>/NN.tif`` (``S`` as written by ``isbi_strokes.py``),
predicting ``S/eval_images``. Writes ``DIR/NN_labels.tif`` (1 = membrane, 2 = interior, the
format of ``napari-unet predict``), then prints the wall times and the metrics as one JSON line.
With ``--labels dense`` it trains on a seeded random subset of ``--max-samples`` labelled pixels.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks.metrics import evaluate


def features(image: np.ndarray) -> np.ndarray:
    """(Y, X, F) float32 features of one greyscale image."""
    from skimage.feature import multiscale_basic_features
    from skimage.util import img_as_float32

    return multiscale_basic_features(img_as_float32(image), intensity=True, edges=True, texture=True,
                                     sigma_min=1, sigma_max=16).astype(np.float32)


def stroke_pixels(strokes_dir, label_files, target=lambda v: v, max_samples=None):
    """Features and targets of every annotated pixel (label > 0) of the training images,
    optionally a seeded random subset of ``max_samples`` pixels."""
    import tifffile

    xs, ys = [], []
    for f in label_files:
        labels = tifffile.imread(f)
        mask = labels > 0
        xs.append(features(tifffile.imread(Path(strokes_dir) / "images" / f.name))[mask])
        ys.append(target(labels[mask]))
    x, y = np.concatenate(xs), np.concatenate(ys)
    if max_samples is not None and len(y) > max_samples:
        keep = np.random.default_rng(0).choice(len(y), max_samples, replace=False)
        x, y = x[keep], y[keep]
    return x, y


def stroke_classes(values: np.ndarray, mode: str) -> np.ndarray:
    """The class a forest learns from stroke values: in instance mode 1 = background, 2 = object
    (every value >= 2); in semantic mode the values themselves."""
    return np.where(values >= 2, 2, 1) if mode == "instance" else values


def fit_forest(pairs, mode: str, jobs: int):
    """A forest of 100 trees (seed 0) on the annotated pixels of ``(features, strokes)`` pairs."""
    from sklearn.ensemble import RandomForestClassifier

    xs, ys = [], []
    for f, s in pairs:
        m = s > 0
        xs.append(f[m])
        ys.append(stroke_classes(s[m], mode))
    return RandomForestClassifier(100, n_jobs=jobs, random_state=0).fit(np.concatenate(xs), np.concatenate(ys))


def forest_labels(rf, feats: np.ndarray, mode: str) -> np.ndarray:
    """The forest's label image from an image's features; in instance mode its objects, cut as
    ``napari-unet predict`` cuts them."""
    lab = rf.predict(feats.reshape(-1, feats.shape[-1])).reshape(feats.shape[:2])
    if mode == "instance":
        from napari_unet.core.instances import objects_from_foreground

        return objects_from_foreground(lab == 2)
    return lab


def parser(doc: str, prepared_by: str, labels_name: str) -> argparse.ArgumentParser:
    """The command line shared by the forest baselines (``prepared_by``: the module that wrote ``--strokes``)."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--strokes", required=True, type=Path, help=f"folder written by {prepared_by}.py")
    ap.add_argument("--out", required=True, type=Path, help=f"where to write {labels_name}_labels.tif")
    ap.add_argument("--labels", default="strokes", choices=["strokes", "dense"], help="training labels")
    ap.add_argument("--max-samples", type=int, default=200_000, help="pixel subset for --labels dense")
    return ap


def training_files(args, prepared_by: str) -> list[Path]:
    """The label TIFFs of ``--strokes``/``--labels``; exits with the command that writes them when there are none."""
    label_files = sorted((args.strokes / args.labels).glob("*.tif"))
    if not label_files:
        sys.exit(f"no label TIFFs in {args.strokes / args.labels}; "
                 f"run python -m benchmarks.{prepared_by} --out {args.strokes}")
    return label_files


def main(argv=None) -> int:
    from sklearn.ensemble import RandomForestClassifier

    ap = parser(__doc__, "isbi_strokes", "NN")
    ap.add_argument("--max-depth", type=int, default=None, help="tree depth (default: fully grown)")
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args(argv)
    label_files = training_files(args, "isbi_strokes")

    t0 = time.perf_counter()
    x, y = stroke_pixels(args.strokes, label_files, max_samples=args.max_samples if args.labels == "dense" else None)
    t_feat = time.perf_counter() - t0
    rf = RandomForestClassifier(n_estimators=100, max_depth=args.max_depth, n_jobs=args.jobs, random_state=0)
    rf.fit(x, y)
    t_train = time.perf_counter() - t0
    print(f"trained on {len(y)} pixels x {x.shape[1]} features from {len(label_files)} slices "
          f"(class counts {np.bincount(y)[1:].tolist()}): "
          f"features {t_feat:.1f} s, total training {t_train:.1f} s", file=sys.stderr)

    return predict_and_report(rf, args.strokes, args.out, lambda classes: classes.astype(np.uint8), evaluate,
                              f"random forest ({args.labels})", t_train, "slice")


def predict_and_report(rf, strokes_dir: Path, out: Path, to_labels, evaluate, name: str, t_train: float,
                       unit: str) -> int:
    """Predict ``strokes_dir/eval_images`` with the forest, write ``out/<name>_labels.tif``
    (``to_labels`` turns the per-pixel classes into the label image), score them against
    ``strokes_dir/eval_truth`` with ``evaluate`` and print the result as one JSON line."""
    import tifffile

    t1 = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    evals = sorted((strokes_dir / "eval_images").glob("*.tif"))
    for f in evals:
        feats = features(tifffile.imread(f))
        classes = rf.predict(feats.reshape(-1, feats.shape[-1])).reshape(feats.shape[:2])
        tifffile.imwrite(out / f"{f.stem}_labels.tif", to_labels(classes), compression="zlib")
    t_pred = time.perf_counter() - t1
    print(f"predicted {len(evals)} {unit}s in {t_pred:.1f} s ({t_pred / max(len(evals), 1):.2f} s/{unit})",
          file=sys.stderr)
    result = {"name": name, "seconds": round(t_train, 1), "predict_seconds": round(t_pred, 1),
              **evaluate(out, strokes_dir / "eval_truth")}
    (out / "metrics.json").write_text(json.dumps(result))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
