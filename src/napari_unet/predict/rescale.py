"""Predict objects at the size the model learned them.

A network that learned nuclei of about 13 pixels copes with nuclei up to about 2.5 times that
size, and finds larger ones less well (on the DSB dev images, F1 0.90 at 33 px, 0.83 at
47 px; docs/benchmarks.md). An instance model therefore records the median diameter of the objects
it was trained on (``info.object_diameter``); prediction measures the objects in the image
(a first pass, or a diameter the user gives) and, where they are much larger, shrinks the image
so they come out near the model's size, predicts, and resizes the class probabilities back
before the objects are split. Cellpose rescales to its own object size the same way.
"""

from __future__ import annotations

import numpy as np

LARGEST = 1.5  # objects up to this multiple of the model's size are predicted as they are
SMALLEST_FACTOR = 0.25  # the most an image is shrunk


def size_factor(reference: float, diameter: float | None, largest: float = LARGEST) -> float:
    """How much to shrink an image whose objects measure ``diameter`` for a model trained on
    objects of ``reference``: to ``largest`` times ``reference``, never below
    :data:`SMALLEST_FACTOR`; 1 for objects no larger than that, or when none were found.
    Smaller objects are not enlarged: on nuclei of 0.4 and 0.7 times the model's size,
    enlarging them helped the first a little and hurt the second, with 4-9 times the pixels to
    predict (docs/benchmarks.md)."""
    if not diameter or not reference or diameter <= largest * reference:
        return 1.0
    return max(largest * reference / diameter, SMALLEST_FACTOR)


def resize(a: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Bilinear resize of ``(..., Y, X)`` float data to ``shape``, antialiased when shrinking."""
    import torch
    import torch.nn.functional as F

    lead = a.shape[:-2]
    t = torch.from_numpy(np.ascontiguousarray(a, np.float32)).reshape((-1, 1) + a.shape[-2:])
    out = F.interpolate(t, size=tuple(shape), mode="bilinear", align_corners=False, antialias=True)
    return out.reshape(lead + tuple(shape)).numpy()


def rescaled(loop, model, raw, img, zs, config, probabilities):
    """Predict ``img`` ``(Z, C, Y, X)`` at the model's object size (a generator, as
    :func:`napari_unet.predict.pipeline.predict`). ``loop(img, probabilities)`` runs the tiled prediction.

    Progress counts the tiles of both passes; the result's ``scale`` is the factor used.
    """
    import torch

    from napari_unet.core.data import is_single_plane
    from napari_unet.core.instances import object_diameter
    from napari_unet.predict.finish import instance_classes, object_sizes, objects_from_classes
    from napari_unet.predict.results import PredictProgress, PredictResult

    z, _, h, w = img.shape
    first, done = None, 0
    if config.diameter:
        diameter = config.diameter
    else:  # the first pass measures the objects; until it ends, count the second as its equal
        first, done = yield from _relay(loop(img, probabilities), 0, 2)
        diameter = object_diameter(first.labels.reshape(z, h, w)[zs])
    f = size_factor(float(model.info.object_diameter), diameter)
    if f == 1.0:
        if first is None:
            return (yield from loop(img, probabilities))
        yield PredictProgress(done, done)  # no second pass: done
        return first
    size = (max(1, round(h * f)), max(1, round(w * f)))
    small = np.zeros((z, img.shape[1]) + size, np.float32)
    small[zs] = resize(np.asarray(img[zs], np.float32), size)
    second, _ = yield from _relay(loop(small, True), done, 1)
    probs = np.zeros((z, model.config.n_classes, h, w), np.float32) if probabilities is True else \
        probabilities if hasattr(probabilities, "shape") else None  # or an array given to write into
    labels = np.zeros((z, h, w), np.int32)
    for zi in zs:
        p = resize(second.probabilities[zi], (h, w))
        labels[zi] = objects_from_classes(instance_classes(torch.from_numpy(p), model.class_values,
                                                           config.min_confidence).numpy(), config.split,
                                          object_sizes(model, config, f))
        if probs is not None:
            probs[zi] = p
    return PredictResult(labels[0] if is_single_plane(raw, img) else labels, probs, f)


def _relay(gen, offset: int, passes: int):
    """Re-yield ``gen``'s progress after ``offset`` tiles already done, its own total counted
    ``passes`` times; returns ``(gen's result, its tiles done)``."""
    from napari_unet.predict.results import PredictProgress

    done = 0
    while True:
        try:
            ev = next(gen)
        except StopIteration as end:
            return end.value, done
        done = ev.done
        yield PredictProgress(offset + ev.done, offset + passes * ev.total)
