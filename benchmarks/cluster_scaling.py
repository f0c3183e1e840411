"""Prediction of a large zarr image in one process and on dask LocalClusters of 1 and 2 workers.

    python -m benchmarks.cluster_scaling [--size 8192] [--rounds 2] [--model em-membranes] [--dir DIR]

The uint16 image (the synthetic sample, tiled) is written to DIR/image.zarr in 1024² chunks.
Each round runs, back to back: the single-process path (``napari-unet predict --format zarr``'s
``predict`` with zarr in and out), then ``predict_to_zarr`` (what ``napari-unet predict
--workers N`` runs) on a LocalCluster of 1 worker (all cores) and of 2 workers (cores shared),
each started before the clock starts. Reported per run:
seconds, Mpx/s and whether the labels equal the single-process ones; once: cluster start-up,
the model's bytes (sent to each worker once), and per output tile the input window and output
bytes, the inputs of the scaling model in docs/benchmarks.md.
"""

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=8192)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--model", default="em-membranes")
    ap.add_argument("--dir", type=Path, default=None)
    args = ap.parse_args()

    import zarr

    from napari_unet.core.samples import make_sample
    from napari_unet.core.config import PredictConfig
    from napari_unet.predict.distributed import connect, predict_to_zarr
    from napari_unet.core.imageio import create_zarr
    from napari_unet.models.load import load_model
    from napari_unet.models.checkpoint import model_to_bytes
    from napari_unet.predict.pipeline import label_dtype, predict_labels
    from napari_unet.predict.tiling import context_margins, core_tile

    folder = args.dir or Path(tempfile.mkdtemp(prefix="napari-unet-cluster-"))
    n = args.size
    image = create_zarr(folder / "image.zarr", (n, n), np.uint16, chunk=1024)
    sample = make_sample(1024, seed=0).image.astype(np.uint16)
    for y in range(0, n, 1024):
        image[y : y + 1024] = np.tile(sample, (1, n // 1024))
    model, config = load_model(args.model), PredictConfig()
    th, tw = core_tile(config, model.config.multiple, (n, n))
    before, after = context_margins(model.config)
    mpx = n * n / 1e6
    info = {"size": n, "model": args.model, "tile": [th, tw], "tiles": -(-n // th) * -(-n // tw), "cpus": os.cpu_count(),
            "model_bytes": len(model_to_bytes(model)),
            "window_bytes_per_tile": (before + th + after) * (before + tw + after) * 2,  # uint16 input read
            "output_bytes_per_tile": th * tw * label_dtype(model).itemsize}
    print(json.dumps(info), flush=True)

    def single():
        out = create_zarr(folder / "single.zarr", (n, n), label_dtype(model), chunk=1024)
        predict_labels(model, zarr.open_array(str(folder / "image.zarr"), mode="r"), config, out=out)

    reference = None
    for r in range(args.rounds):
        t0 = time.perf_counter()
        single()
        row = {"round": r, "run": "one process", "seconds": round(time.perf_counter() - t0, 1)}
        row["mpx_s"] = round(mpx / row["seconds"], 2)
        print(json.dumps(row), flush=True)
        reference = zarr.open_array(str(folder / "single.zarr"), mode="r")[:] if reference is None else reference
        for workers in (1, 2):
            t0 = time.perf_counter()
            client = connect(workers=workers)
            client.run(lambda: __import__("torch").get_num_threads())  # workers up, torch imported
            started = time.perf_counter() - t0
            try:
                src = zarr.open_array(str(folder / "image.zarr"), mode="r")  # as napari-unet predict opens it
                t0 = time.perf_counter()
                predict_to_zarr(model, src, folder / "cluster.zarr", config)
                dt = time.perf_counter() - t0
                threads = sorted(set(client.run(lambda: __import__("torch").get_num_threads()).values()))
            finally:
                cluster = client.cluster
                client.close()
                cluster.close()
            same = bool(np.array_equal(zarr.open_array(str(folder / "cluster.zarr"), mode="r")[:], reference))
            print(json.dumps({"round": r, "run": f"{workers} worker(s)", "torch_threads_per_worker": threads,
                              "startup_s": round(started, 1), "seconds": round(dt, 1), "mpx_s": round(mpx / dt, 2),
                              "labels_equal_one_process": same}), flush=True)
    if args.dir is None:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
