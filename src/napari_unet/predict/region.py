"""A region of an image predicted as in the whole image's prediction: the live preview's front door."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from napari_unet.core.config import PredictConfig
from napari_unet.core.data import model_input, percentiles
from napari_unet.predict.finish import enlarged_objects, object_sizes
from napari_unet.predict.pipeline import predict_labels
from napari_unet.predict.rescale import applies, factor_for, shrunk_size
from napari_unet.predict.results import PredictResult
from napari_unet.predict.tiling import context_margin, region_window


def predict_region(model, image, box: tuple[int, int, int, int], config: PredictConfig | None = None, *, z: int = 0,
                   intensity_range=None, probabilities: bool = False, scale: float | None = None) -> PredictResult:
    """Labels (and probabilities) of the region ``box`` ``(y0, y1, x0, x1)`` of slice ``z``, as in a
    prediction of the whole image: computed from a window with the network's context around the
    region (:func:`napari_unet.predict.tiling.region_window`) and the whole image's normalisation
    (``intensity_range``, or the percentiles of ``image``). Used by the live preview.

    Exact for the network's output. Lines are closed, and objects split, on the window, which the
    whole image's finish can differ from only where a line's ridge or an object runs out of it.
    An instance model that rescales (:mod:`napari_unet.predict.rescale`) predicts the region on the
    shrunk copy the whole image is predicted on, read only around the region: at ``scale``, the
    factor of the whole image's prediction (``PredictResult.scale``), else the factor for
    ``config.diameter``; with neither (a diameter to measure) the region is predicted as it is."""
    config = config or PredictConfig()
    _, img = model_input(model, image, config.colour_to_grey)
    if intensity_range is None:
        intensity_range = percentiles(img, model.norm)
    h, w = img.shape[-2:]
    box = (max(0, box[0]), min(h, box[1]), max(0, box[2]), min(w, box[3]))
    if scale is None:
        scale = factor_for(model, config.diameter) if applies(model, config) and config.diameter else 1.0
    if scale != 1.0 and applies(model, config):
        return _shrunk(model, img, box, config, z, intensity_range, probabilities, scale)
    y0, y1, x0, x1 = box
    ya, yb, xa, xb = region_window(model.config, box, (h, w))
    window = np.moveaxis(np.asarray(img[z : z + 1, :, ya:yb, xa:xb]), 1, -1)  # (1, Y, X, C)
    result = predict_labels(model, window, config, probabilities=probabilities, intensity_range=intensity_range)
    inner = (slice(y0 - ya, y1 - ya), slice(x0 - xa, x1 - xa))
    labels = np.asarray(result.labels).reshape(yb - ya, xb - xa)[inner]
    probs = result.probabilities[:, :, inner[0], inner[1]] if probabilities else None
    return PredictResult(labels, probs)


def _shrunk(model, img, box, config: PredictConfig, z: int, intensity_range, probabilities: bool,
            scale: float) -> PredictResult:
    """:func:`predict_region` on the copy shrunk by ``scale``: the network's window around the
    shrunk pixels the region's enlargement reads, the objects split on the region plus the
    network's context (in full-size pixels) as a margin."""
    from napari_unet.predict.resize import Resized, taps

    h, w = img.shape[-2:]
    small = shrunk_size((h, w), scale)
    pad = math.ceil(context_margin(model.config) / scale)
    y0, y1, x0, x1 = box
    ry0, ry1, rx0, rx1 = max(0, y0 - pad), min(h, y1 + pad), max(0, x0 - pad), min(w, x1 + pad)
    sy0, sy1 = taps(small[0], h).inputs(ry0, ry1)
    sx0, sx1 = taps(small[1], w).inputs(rx0, rx1)
    ya, yb, xa, xb = region_window(model.config, (sy0, sy1, sx0, sx1), small)
    window = np.moveaxis(Resized(img, small)[z : z + 1, :, ya:yb, xa:xb], 1, -1)  # (1, Y, X, C)
    p = predict_labels(model, window, replace(config, rescale=False), probabilities=True,
                       intensity_range=intensity_range).probabilities[0]

    def read(r0, r1, c0, c1):
        return p[:, r0 - ya : r1 - ya, c0 - xa : c1 - xa]

    objects = enlarged_objects(read, small, (h, w), model.class_values, config, object_sizes(model, config, scale),
                               box=(ry0, ry1, rx0, rx1))
    labels = objects[y0 - ry0 : y1 - ry0, x0 - rx0 : x1 - rx0]
    probs = None
    if probabilities:
        from napari_unet.predict.resize import resize_box

        probs = resize_box(read, small, (h, w), box)[None]
    return PredictResult(labels, probs, scale)
