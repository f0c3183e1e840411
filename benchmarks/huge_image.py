"""Peak memory of tiled prediction on a huge image, against the input plus output bytes.

    python benchmarks/huge_image.py --size 16384 [--tile 512] [--device cpu]

Builds a seeded uint16 image of size x size in memory (tiling the synthetic sample), trains
the default model briefly on the sample (the weights do not matter for memory), predicts
into a preallocated label array and reports the process's peak resident memory (ru_maxrss)
before and after prediction, the input and output sizes, and the throughput.
"""

import argparse
import json
import resource
import time

import numpy as np


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


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
    reps = -(-args.size // 256)
    image = np.tile(s.image, (reps, reps))[: args.size, : args.size].copy()
    out = np.zeros((1, args.size, args.size), label_dtype(model))
    before = peak_mb()
    t0 = time.perf_counter()
    predict_labels(model, image, PredictConfig(tile_size=args.tile, device=args.device, batch_size=4), out=out)
    seconds = time.perf_counter() - t0
    io_mb = (image.nbytes + out.nbytes) / 2**20
    after = peak_mb()
    print(json.dumps({
        "size": args.size, "tile": args.tile, "input_mb": round(image.nbytes / 2**20), "output_mb": round(out.nbytes / 2**20),
        "peak_rss_before_predict_mb": round(before), "peak_rss_mb": round(after),
        "peak_over_input_plus_output": round(after / io_mb, 2),
        "seconds": round(seconds, 1), "mpx_per_s": round(args.size**2 / seconds / 1e6, 2),
        "foreground_fraction": round(float((out == 2).mean()), 3),
    }))


if __name__ == "__main__":
    main()
