"""Strokes as people paint them, for the stroke-style benchmarks: a round brush down the middle
of regions, clipped to the region, some strokes spilling over an edge.

The package's own simulator (:func:`napari_unet.core.samples.simulate_strokes`) keeps 3 px
from every edge and paints membranes as one-pixel lines; people do neither. Here a stroke is a
walk along the region's skeleton painted with a disk of ``radius`` pixels and clipped to the
region, so a stroke down a 5-px membrane is as wide as the membrane whatever the brush, and a
stroke down a cell is ``2 radius + 1`` pixels wide. With ``spill``, that share of the strokes is
clipped to the region grown by 1–2 px instead (people are not exact).
"""

from __future__ import annotations

import numpy as np


def brush_strokes(truth: np.ndarray, radius: int, fraction: float = 0.02, seed: int = 0, spill: float = 0.0,
                  length: int = 12) -> np.ndarray:
    """Strokes of every class value of ``truth`` (0 excluded) until about ``fraction`` of the
    pixels are painted, split evenly between the classes; each stroke follows the skeleton for
    up to ``length`` px on either side of a random skeleton point."""
    from scipy import ndimage as ndi
    from skimage.morphology import disk, skeletonize

    rng = np.random.default_rng(seed)
    out = np.zeros(truth.shape, np.uint8)
    values = [int(v) for v in np.unique(truth) if v != 0]
    per_class = fraction * truth.size / max(len(values), 1)
    brush = disk(radius)
    for v in values:
        region = truth == v
        skel = np.argwhere(skeletonize(region))
        if len(skel) == 0:
            continue
        grown = {1: ndi.binary_dilation(region, iterations=1), 2: ndi.binary_dilation(region, iterations=2)}
        painted, tries = 0, 0
        while painted < per_class and tries < 1000:
            tries += 1
            y, x = skel[rng.integers(len(skel))]
            near = skel[np.abs(skel - (y, x)).max(axis=1) <= length]
            line = np.zeros(truth.shape, bool)
            line[near[:, 0], near[:, 1]] = True
            clip = grown[int(rng.integers(1, 3))] if rng.random() < spill else region
            mask = ndi.binary_dilation(line, structure=brush) & clip
            new = mask & (out == 0)
            out[new] = v
            painted += int(new.sum())
    return out


def stroke_objects(instances: np.ndarray, radius: int, object_fraction: float = 0.25,
                   background_fraction: float = 0.01, seed: int = 0) -> np.ndarray:
    """Instance mode painted loosely: a quarter of the objects get one stroke of their own value
    (2, 3, …) down their middle instead of being painted whole, plus background strokes; brush
    of ``radius`` px clipped to the object or the background."""
    rng = np.random.default_rng(seed)
    ids = [int(v) for v in np.unique(instances) if v != 0]
    chosen = rng.choice(ids, size=max(1, round(object_fraction * len(ids))), replace=False) if ids else []
    out = brush_strokes(np.where(instances > 0, 0, 1).astype(np.uint8), radius, background_fraction, seed).astype(np.int32)
    for i, v in enumerate(sorted(chosen)):
        out[(_middle_stroke(instances == v, radius)) & (out == 0)] = 2 + i
    return out


def _middle_stroke(region: np.ndarray, radius: int) -> np.ndarray:
    """The region's skeleton painted with a disk of ``radius`` px, clipped to the region."""
    from scipy import ndimage as ndi
    from skimage.morphology import disk, skeletonize

    return ndi.binary_dilation(skeletonize(region), structure=disk(radius)) & region
