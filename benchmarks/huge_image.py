"""Peak memory of tiled prediction on a huge image, against the input plus output bytes.

    python -m benchmarks.huge_image --size 16384                 # numpy in, numpy out
    python -m benchmarks.huge_image --size 32768 --zarr DIR      # zarr on disk in, zarr on disk out
    python -m benchmarks.huge_image --size 16384 --tile 256      # smaller tiles: less memory

A model is trained briefly on the synthetic sample in a separate process and saved (the
weights do not matter for memory); this process only loads it, as ``napari-unet predict``
does. The seeded uint16 image tiles the sample. Resident memory (RSS) is sampled every 50 ms:
reported are the RSS after loading the model (torch's fixed cost), just before predicting
(input and output allocated and touched), and the maximum during prediction, with the
input and output bytes and the throughput. For zarr, input and output live on disk, so the
ratio is what the process holds against the data it processes.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

TRAIN = """
import sys
from napari_unet.core.samples import make_sample
from napari_unet.core.config import TrainConfig, model_preset
from napari_unet.models.checkpoint import save_model
from napari_unet.core.train import fit
s = make_sample(256, seed=0)
save_model(fit(s.image, s.strokes, TrainConfig(steps=20, device=sys.argv[2]), model_config=model_preset(sys.argv[3])).model,
           sys.argv[1])
"""


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=16384)
    ap.add_argument("--tile", type=int, default=768, help="output tile size (the engine's default: 768)")
    ap.add_argument("--batch", type=int, default=1, help="tiles per batch (the engine's default: 1)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--model-size", default="default")
    ap.add_argument("--zarr", metavar="DIR", help="put input and output as zarr arrays in DIR")
    args = ap.parse_args()

    tmp = tempfile.mkdtemp()
    model_path = Path(tmp) / "model.pt"
    subprocess.run([sys.executable, "-c", TRAIN, str(model_path), args.device, args.model_size], check=True)

    from napari_unet.core.samples import make_sample
    from napari_unet.core.config import PredictConfig
    from napari_unet.core.imageio import create_zarr
    from napari_unet.models.load import load_model
    from napari_unet.predict.pipeline import label_dtype, predict_labels

    model = load_model(model_path)
    after_load = rss_mb()
    tile = make_sample(256, seed=0).image.astype(np.uint16)
    n = args.size
    if args.zarr:
        image = create_zarr(Path(args.zarr) / "image.zarr", (n, n), np.uint16)
        row = np.tile(tile, (1024 // 256, n // 256))
        for y in range(0, n, 1024):  # written one chunk row at a time
            image[y : y + 1024] = row[: min(1024, n - y)]
        del row
        out = create_zarr(Path(args.zarr) / "labels.zarr", (n, n), label_dtype(model))
    else:
        image = np.tile(tile, (n // 256, n // 256))
        out = np.zeros((n, n), label_dtype(model))
        out[:] = 0  # touch the pages: the output is resident before prediction starts
    io_mb = (n * n * 2 + n * n * np.dtype(label_dtype(model)).itemsize) / 2**20
    before = rss_mb()
    samples, running = [before], [True]

    def sample():
        while running[0]:
            samples.append(rss_mb())
            time.sleep(0.05)

    watcher = threading.Thread(target=sample)
    watcher.start()
    t0 = time.perf_counter()
    predict_labels(model, image, PredictConfig(tile_size=args.tile, device=args.device, batch_size=args.batch), out=out)
    seconds = time.perf_counter() - t0
    running[0] = False
    watcher.join()
    peak = max(samples)
    centre = np.asarray(out[n // 2 : n // 2 + 256, n // 2 : n // 2 + 256])
    print(json.dumps({
        "size": n, "tile": args.tile, "batch": args.batch, "model": args.model_size, "storage": "zarr" if args.zarr else "numpy",
        "input_mb": round(n * n * 2 / 2**20), "output_mb": round(io_mb - n * n * 2 / 2**20),
        "rss_after_model_load_mb": round(after_load), "rss_before_predict_mb": round(before),
        "max_rss_during_predict_mb": round(peak), "peak_over_input_plus_output": round(peak / io_mb, 2),
        "working_set_mb": round(peak - before),
        "seconds": round(seconds, 1), "mpx_per_s": round(n * n / seconds / 1e6, 2),
        "foreground_fraction_of_a_crop": round(float((centre == 2).mean()), 3),
    }))


if __name__ == "__main__":
    main()
