"""Do the ways into prediction agree on real images? The same model and image predicted in memory,
streamed into zarr, on a two-worker dask cluster and as live-preview regions.

    python -m benchmarks.front_doors --out front_doors.jsonl      # ISBI 20-29, the largest DSB nuclei, CTC
    python -m benchmarks.front_doors --summary front_doors.jsonl

* ``em-membranes`` on ISBI slices 20-29 (semantic, lines closed);
* ``nuclei`` on the 6 greyscale DSB images with the largest nuclei (instance; the image is
  predicted on a shrunk copy, its factor measured by a first pass);
* ``cells`` on the last frame of each CTC set (instance, as it is).

Per image: the share of pixels equal to the in-memory labels for each front door, and for 10
random regions (96-256 px, seeded) of each image. Instance labels are compared as objects: each
object matched to the one it overlaps most (:func:`same_objects`), so numbering does not count.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from benchmarks.common import add_out, emit, grouped, markdown
from benchmarks.datasets import add_data, dsb_image, dsb_root, index, isbi_root, isbi_slice


def same_objects(a: np.ndarray, b: np.ndarray) -> float:
    """Share of pixels two object labellings give alike, each object of ``a`` matched to the object
    of ``b`` it overlaps most (two objects of ``a`` matched to one of ``b`` count as unlike)."""
    pairs, counts = np.unique(np.stack([a.ravel(), b.ravel()]), axis=1, return_counts=True)
    best: dict[int, tuple[int, int]] = {}
    for (u, v), n in zip(pairs.T, counts):
        if n > best.get(u, (0, 0))[0]:
            best[u] = (n, v)
    owners: dict[int, list[int]] = {}
    for u, (_, v) in best.items():
        owners.setdefault(v, []).append(u)
    lut = {u: (v if len(owners[v]) == 1 or u == max(owners[v], key=lambda k: best[k][0]) else -1)
           for u, (_, v) in best.items()}
    mapped = np.vectorize(lut.get)(a)
    return float((mapped == b).mean())


def agreement(a: np.ndarray, b: np.ndarray, instance: bool) -> float:
    return same_objects(a, b) if instance else float((a == b).mean())


def cases(data: Path):
    """``(model name, image name, image)`` of the three sets."""
    isbi = isbi_root(data)
    for i in range(20, 30):
        yield "em-membranes", f"isbi{i:02d}", isbi_slice(isbi, i)[0]
    root = dsb_root(data)
    grey = [r for r in index(root) if r["channels"] == 1]
    sized = []
    for r in grey:
        _, truth = dsb_image(root, r["name"])
        areas = np.bincount(truth.ravel())[1:]
        sized.append((float(np.median(areas[areas > 0])) if (areas > 0).any() else 0.0, r["name"]))
    for _, name in sorted(sized, reverse=True)[:6]:
        yield "nuclei", name, dsb_image(root, name)[0]
    import skimage.io

    for ctc in ("phc-u373", "dic-hela"):
        last = sorted((data / "ctc" / ctc / "images").glob("*.png"))[-1]
        yield "cells", f"{ctc}:{last.stem}", np.asarray(skimage.io.imread(last))


def run(data: Path, regions: int, out: Path | None) -> None:
    import dask.array as da
    import zarr
    from distributed import Client, LocalCluster

    from napari_unet.core.config import PredictConfig
    from napari_unet.core.imageio import create_zarr
    from napari_unet.models.load import load_model
    from napari_unet.predict.distributed import predict_to_zarr
    from napari_unet.predict.pipeline import predict_labels
    from napari_unet.predict.region import predict_region

    cfg = PredictConfig(device="cpu", precision="fp32")
    models = {}
    rng = np.random.default_rng(0)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as c, Client(c), \
            tempfile.TemporaryDirectory() as tmp:
        for k, (name, image_name, image) in enumerate(cases(data)):
            model = models.setdefault(name, load_model(name))
            instance = model.mode == "instance"
            memory = predict_labels(model, image, cfg)
            zout = create_zarr(Path(tmp) / f"{k}.zarr", memory.labels.shape, memory.labels.dtype)
            predict_labels(model, image, cfg, out=zout)
            predict_to_zarr(model, da.from_array(image, chunks=256), Path(tmp) / f"{k}c.zarr", cfg)
            cluster = zarr.open_array(str(Path(tmp) / f"{k}c.zarr"), mode="r")[:]
            h, w = memory.labels.shape
            shares = []
            for _ in range(regions):
                side = rng.integers(96, 257, size=2)
                y0, x0 = rng.integers(0, max(1, h - side[0])), rng.integers(0, max(1, w - side[1]))
                box = (int(y0), int(min(h, y0 + side[0])), int(x0), int(min(w, x0 + side[1])))
                part = predict_region(model, image, box, cfg, scale=memory.scale).labels
                shares.append(agreement(part, memory.labels[box[0]:box[1], box[2]:box[3]], instance))
            emit({"model": name, "image": image_name, "shape": [h, w], "scale": round(memory.scale, 4),
                  "zarr": agreement(np.asarray(zout[:]), memory.labels, instance),
                  "cluster": agreement(cluster, memory.labels, instance),
                  "regions_min": min(shares), "regions_mean": float(np.mean(shares)),
                  "regions_exact": int(sum(s == 1.0 for s in shares)), "regions": regions}, out)


def summary(path: Path) -> str:
    rows = []
    for (model,), recs in grouped(path, ("model",)).items():
        shrunk = sum(r["scale"] < 1 for r in recs)
        rows.append((("model", "images", "shrunk", "zarr = memory (min share)", "cluster = memory (min share)",
                      "regions equal", "regions (min share)"),
                     (model, str(len(recs)), str(shrunk), f"{min(r['zarr'] for r in recs):.6f}",
                      f"{min(r['cluster'] for r in recs):.6f}",
                      f"{sum(r['regions_exact'] for r in recs)}/{sum(r['regions'] for r in recs)}",
                      f"{min(r['regions_min'] for r in recs):.6f}")))
    return markdown(rows)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data(ap)
    add_out(ap)
    ap.add_argument("--regions", type=int, default=10, help="random regions per image")
    ap.add_argument("--summary", type=Path, help="print the table of a results file and stop")
    args = ap.parse_args(argv)
    if args.summary:
        print(summary(args.summary))
        return
    run(args.data, args.regions, args.out)


if __name__ == "__main__":
    main()
