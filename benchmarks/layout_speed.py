"""Speed at defaults in this process, for timing two checkouts side by side: tiled prediction of a
1024² scene with ``em-membranes``, of a 3x enlarged 768² nuclei scene with ``nuclei`` (shrunk, its
first pass included), and 12 training steps on the 256² sample with the default TrainConfig.
Reads the package's layout before (flat modules) and after it had subpackages, so the same file
times both; run each case in a fresh process, alternating the checkouts:

    PYTHONPATH=OLD/src:. python -m benchmarks.layout_speed predict
    PYTHONPATH=src:. python -m benchmarks.layout_speed predict        # and instance, train
"""

from __future__ import annotations

import importlib
import json
import sys
import time

import numpy as np

# (module after, module before, name) of what this benchmark uses
NAMES = {"make_sample": ("core.samples", "_sample_data"), "load_model": ("models.load", "io"),
         "predict_labels": ("predict.pipeline", "predict"), "PredictConfig": ("core.config", "config"),
         "TrainConfig": ("core.config", "config"), "fit": ("core.train", "train")}


def engine() -> dict:
    """The names above from whichever layout is installed."""
    out = {}
    for name, (after, before) in NAMES.items():
        try:
            module = importlib.import_module(f"napari_unet.{after}")
        except ImportError:
            module = importlib.import_module(f"napari_unet.{before}")
        out[name] = getattr(module, name)
    return out


def main(argv=None) -> None:
    import torch

    what = (argv or sys.argv[1:] or ["predict"])[0]
    torch.set_num_threads(2)
    e = engine()
    cpu = e["PredictConfig"](device="cpu")
    if what in ("predict", "instance"):
        if what == "predict":
            model, image = e["load_model"]("em-membranes"), np.tile(e["make_sample"](512, seed=1).image, (2, 2))
        else:
            s = e["make_sample"](256, seed=3)
            model, image = e["load_model"]("nuclei"), np.kron(s.image, np.ones((3, 3), s.image.dtype))
        e["predict_labels"](model, image[:256, :256], cpu)  # warm up
        t0 = time.perf_counter()
        e["predict_labels"](model, image, cpu)
        print(json.dumps({"what": what, "mpx_per_s": image.size / (time.perf_counter() - t0) / 1e6}))
    else:
        s = e["make_sample"](256, seed=0)
        e["fit"](s.image, s.strokes, e["TrainConfig"](steps=3, device="cpu"))  # warm up
        t0 = time.perf_counter()
        e["fit"](s.image, s.strokes, e["TrainConfig"](steps=12, device="cpu", seed=0))
        print(json.dumps({"what": what, "steps_per_s": 12 / (time.perf_counter() - t0)}))


if __name__ == "__main__":
    main()
