"""Prediction speed of one implementation at several tile sizes, for interleaved comparisons.

    PYTHONPATH=SRC python -m benchmarks.tile_speed --label NAME [--size 2048] [--tiles 256 512]
        [--batch 4] [--rounds 1] [--device cpu] [--precision auto] [--model nuclei] [--tta]

Imports napari_unet from PYTHONPATH, so two copies of the source (before and after a change)
can be timed alternately in one session: a shared machine's speed drifts minute to minute.
Prints one JSON line per tile size and round: seconds, Mpx/s and peak RSS growth of the call.
"""

import argparse
import json
import resource
import time

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--label", required=True)
    ap.add_argument("--size", type=int, default=2048)
    ap.add_argument("--tiles", type=int, nargs="+", default=[256])
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--precision", default="auto")
    ap.add_argument("--model", default="nuclei")
    ap.add_argument("--tta", action="store_true", help="time each tile size also with test-time augmentation")
    args = ap.parse_args()

    import napari_unet
    from napari_unet.core.samples import make_sample
    from napari_unet.core.config import PredictConfig
    from napari_unet.models.load import load_model
    from napari_unet.predict.pipeline import predict_labels

    model = load_model(args.model)
    image = np.tile(make_sample(512, seed=0).image, (args.size // 512 + 1,) * 2)[: args.size, : args.size]
    predict_labels(model, image[:256, :256], PredictConfig(device=args.device))  # warm-up
    for _ in range(args.rounds):
        for tile, tta in [(t, a) for t in args.tiles for a in ((False, True) if args.tta else (False,))]:
            cfg = PredictConfig(tile_size=tile, batch_size=args.batch, device=args.device, precision=args.precision,
                                **({"tta": True} if tta else {}))
            before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            t0 = time.perf_counter()
            predict_labels(model, image, cfg)
            dt = time.perf_counter() - t0
            grew = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
            print(json.dumps({"label": args.label, "src": napari_unet.__file__, "tile": tile, "tta": tta, "batch": args.batch,
                              "size": args.size, "seconds": round(dt, 2), "mpx_s": round(args.size**2 / dt / 1e6, 3),
                              "peak_rss_growth_mb": round(grew / 1024)}), flush=True)


if __name__ == "__main__":
    main()
