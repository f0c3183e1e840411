"""Objects of other sizes than a model learned: the DSB dev images resized, predicted with and without rescaling.

    python -m benchmarks.object_size --model nuclei-twin.pt [--scales 0.12 0.2 0.35 0.5 0.7 1.0]
        [--rule off] [--rule largest:1.5] [--rule target:1.0] [--rule band:1.0,1.5] ...

The 30 DSB2018 dev images (360 x 360, nuclei about 45 px across; ``boundaries.py``) are resized
by each scale (bilinear, antialiased; their truth by nearest neighbour), so one acquisition shows
nuclei from about 5 to 45 px. Each rule says how much to shrink or enlarge an image whose first
pass measured objects of diameter ``d`` for a model that learned objects of ``ref``:

* ``off``: never (``PredictConfig(rescale=False)``);
* ``largest:M``: the engine's rule (``napari_unet.predict.rescale.size_factor``) with ``largest=M``:
  shrink objects wider than ``M * ref`` to that, never enlarge;
* ``target:M``: resize to ``M * ref`` whenever ``d`` is more than 10 % away from it (enlarging too);
* ``band:L,H``: leave ``d`` in ``[L * ref, H * ref]`` alone, resize to the nearer edge otherwise.

Prints one line per scale: F1@0.5, DSB mAP, median area ratio and median factor per rule. Only
dev images: the evaluation images are not used to choose a rule.
"""

from __future__ import annotations

import argparse
import functools
import math
import sys

import numpy as np

from benchmarks.boundaries import score
from benchmarks.common import add_threads, set_threads
from benchmarks.datasets import DATA, dsb_image, dsb_shifted


def rule_factor(rule: str):
    """``size_factor(reference, diameter)`` for a rule, or None for ``off``."""
    from napari_unet.predict import rescale

    kind, _, value = rule.partition(":")
    if kind == "off":
        return None
    if kind == "largest":
        return functools.partial(rescale.size_factor, largest=float(value))
    if kind == "target":
        m = float(value)
        return lambda ref, d: 1.0 if not d or abs(math.log(m * ref / d)) <= math.log(1.1) else \
            min(max(m * ref / d, rescale.SMALLEST_FACTOR), 4.0)
    if kind == "band":
        lo, hi = (float(v) for v in value.split(","))
        return lambda ref, d: 1.0 if not d or lo * ref <= d <= hi * ref else \
            min(max((lo * ref if d < lo * ref else hi * ref) / d, rescale.SMALLEST_FACTOR), 4.0)
    raise SystemExit(f"unknown rule {rule!r}")


def main(argv=None) -> int:
    from skimage.transform import rescale as resample

    from napari_unet.predict import rescale
    from napari_unet.core.config import PredictConfig
    from napari_unet.models.load import load_model
    from napari_unet.predict.pipeline import predict_labels

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True, help="an instance model that records its object size")
    ap.add_argument("--scales", type=float, nargs="+", default=[0.12, 0.2, 0.35, 0.5, 0.7, 1.0])
    ap.add_argument("--rule", action="append", default=None, help="repeatable; default: off, largest:1.5")
    add_threads(ap)
    a = ap.parse_args(argv)
    set_threads(a.threads)
    model = load_model(a.model)
    if not model.info.object_diameter:
        raise SystemExit(f"{a.model} records no object size")
    rules = a.rule or ["off", "largest:1.5"]
    print(f"model object diameter {model.info.object_diameter} px; rules {rules}")
    _, names = dsb_shifted("dev")
    data = [dsb_image(DATA / "dsb2018", n) for n in names]
    engine_rule = rescale.size_factor
    for s in a.scales:
        images = [resample(im.astype(np.float32), s, order=1, anti_aliasing=s < 1, preserve_range=True) for im, _ in data]
        truths = [resample(t, s, order=0, anti_aliasing=False, preserve_range=True).astype(np.int32) for _, t in data]
        line = [f"scale {s:g}: nuclei {np.median([rescale.object_diameter(t) for t in truths]):.1f} px"]
        for rule in rules:
            factor = rule_factor(rule)
            rescale.size_factor = factor or engine_rule
            try:
                results = [predict_labels(model, im, PredictConfig(rescale=factor is not None)) for im in images]
            finally:
                rescale.size_factor = engine_rule
            r = score("dsb", [x.labels for x in results], truths)
            line.append(f"{rule}: F1 {r['f1_50']:.3f} mAP {r['ap_dsb']:.3f} area {r['area_ratio']:.3f} "
                        f"factor {np.median([x.scale for x in results]):.2f}")
        print(" | ".join(line), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
