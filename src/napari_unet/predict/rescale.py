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

from napari_unet.predict.results import PredictProgress

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


def shrunk_size(shape: tuple[int, int], factor: float) -> tuple[int, int]:
    """The ``(Y, X)`` an image of ``shape`` is predicted at when shrunk by ``factor``."""
    return max(1, round(shape[0] * factor)), max(1, round(shape[1] * factor))


def applies(model, config) -> bool:
    """Whether prediction rescales for this model: an instance model that records the size of its
    objects, with ``config.rescale`` on."""
    return bool(config.rescale and model.mode == "instance" and model.info.object_diameter)


def factor_for(model, diameter: float | None) -> float:
    """The shrink factor for objects of ``diameter`` (:func:`size_factor` against the model's size)."""
    return size_factor(float(model.info.object_diameter), diameter)


def measured_diameter(labels, zs) -> float | None:
    """:func:`~napari_unet.core.instances.object_diameter` of slices ``zs`` of ``labels`` (``(Y, X)``
    or ``(Z, Y, X)``, in memory or an on-disk array), read one slice at a time."""
    from napari_unet.core.instances import object_diameter

    return object_diameter(*[np.asarray(labels[zi] if labels.ndim == 3 else labels[...]) for zi in zs])


def rescaled(run, model, img, zs, config):
    """Predict ``img`` ``(Z, C, Y, X)`` at the model's object size (a generator, as
    :func:`napari_unet.predict.pipeline.predict`). ``run(image, size=None, scale=1.0)`` runs the
    tiled prediction of ``image`` whose labels come at ``size``: every front door that predicts
    through it (in memory, streamed to an output array) rescales alike. The shrunk image is read
    band by band (:class:`~napari_unet.predict.resize.Resized`), never whole.

    Progress counts the tiles of both passes; the result's ``scale`` is the factor used.
    """
    from napari_unet.predict.resize import Resized

    h, w = img.shape[-2:]
    first, done = None, 0
    if config.diameter:
        diameter = config.diameter
    else:  # the first pass measures the objects; until it ends, count the second as its equal
        first, done = yield from _relay(run(img), 0, 2)
        diameter = measured_diameter(first.labels, zs)
    f = factor_for(model, diameter)
    if f == 1.0:
        if first is None:
            return (yield from run(img))
        yield PredictProgress(done, done)  # no second pass: done
        return first
    second, _ = yield from _relay(run(Resized(img, shrunk_size((h, w), f)), (h, w), f), done, 1)
    return second


def _relay(gen, offset: int, passes: int):
    """Re-yield ``gen``'s progress after ``offset`` tiles already done, its own total counted
    ``passes`` times; returns ``(gen's result, its tiles done)``."""
    done = 0
    while True:
        try:
            ev = next(gen)
        except StopIteration as end:
            return end.value, done
        done = ev.done
        yield PredictProgress(offset + ev.done, offset + passes * ev.total)
