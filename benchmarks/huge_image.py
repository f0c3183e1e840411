"""Peak memory of tiled prediction on a huge image, against the input plus output bytes.

    python benchmarks/huge_image.py --size 16384 [--tile 512] [--device cpu]

Builds a seeded uint16 image of size x size in memory (tiling the synthetic sample), trains
the default model briefly on the sample (the weights do not matter for memory), predicts
into a preallocated label array and reports the resident memory sampled every 50 ms during
prediction (its maximum, and the resident memory just before), the input and output sizes,
and the throughput.
"""

import argparse
import json
import os
import threading
import time

import numpy as np


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=16384)
    ap.add_argument("--tile", type=int, default=512)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()

    from napari_unet._sample_data import make_sample
    from napari_unet.config import PredictConfig, TrainConfig
    from napari_unet.predict import label_dtype, predict_labels
    from napari_unet.train import fit

    s = make_sample(256, seed=0)
    model = fit(s.image, s.strokes, TrainConfig(steps=20, device=args.device)).model
    image = np.empty((args.size, args.size), np.uint16)
    for y in range(0, args.size, 256):
        for x in range(0, args.size, 256):
            block = image[y : y + 256, x : x + 256]
            block[...] = s.image[: block.shape[0], : block.shape[1]]
    out = np.zeros((1, args.size, args.size), label_dtype(model))
    out[:] = 0  # touch the pages: the output is resident before prediction starts
    before = rss_mb()
    samples, running = [before], [True]

    def sample():
        while running[0]:
            samples.append(rss_mb())
            time.sleep(0.05)

    watcher = threading.Thread(target=sample)
    watcher.start()
    t0 = time.perf_counter()
    predict_labels(model, image, PredictConfig(tile_size=args.tile, device=args.device, batch_size=4), out=out)
    seconds = time.perf_counter() - t0
    running[0] = False
    watcher.join()
    io_mb = (image.nbytes + out.nbytes) / 2**20
    after = max(samples)
    print(json.dumps({
        "size": args.size, "tile": args.tile, "input_mb": round(image.nbytes / 2**20), "output_mb": round(out.nbytes / 2**20),
        "rss_before_predict_mb": round(before), "max_rss_during_predict_mb": round(after),
        "peak_over_input_plus_output": round(after / io_mb, 2),
        "seconds": round(seconds, 1), "mpx_per_s": round(args.size**2 / seconds / 1e6, 2),
        "foreground_fraction": round(float((out == 2).mean()), 3),
    }))


if __name__ == "__main__":
    main()
