"""Seeded synthetic samples: a cell-like scene, its truth and a few brush strokes.

Used by ``napari-unet demo``, by napari's *File > Open Sample* and by the tests.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Sample:
    """``image`` (Y, X) uint16, ``truth`` (Y, X) uint8 with 1 = background and 2 = cells,
    ``instances`` (Y, X) int32 one value per cell, ``strokes`` (Y, X) uint8 sparse (0 = not annotated)."""

    image: np.ndarray
    truth: np.ndarray
    instances: np.ndarray
    strokes: np.ndarray


def make_sample(size: int = 256, n_cells: int | None = None, seed: int = 0) -> Sample:
    """A fluorescence-like scene of bright, textured cells of varying brightness on an uneven background.

    The cells' brightness overlaps the background's range in places, so a global threshold
    does not separate them; shape and texture do.
    """
    from scipy import ndimage as ndi
    from skimage.draw import ellipse

    rng = np.random.default_rng(seed)
    h = w = size
    n_cells = n_cells if n_cells is not None else max(4, size * size // 2600)
    instances = np.zeros((h, w), np.int32)
    signal = np.zeros((h, w), np.float32)
    for i in range(1, n_cells + 1):
        r, c = rng.uniform(10, h - 10), rng.uniform(10, w - 10)
        ra, ca = rng.uniform(6, 14), rng.uniform(6, 14)
        rr, cc = ellipse(r, c, ra, ca, shape=(h, w), rotation=rng.uniform(0, np.pi))
        free = instances[rr, cc] == 0
        instances[rr[free], cc[free]] = i
        signal[rr[free], cc[free]] = rng.uniform(0.35, 1.0)
    yy, xx = np.mgrid[0:h, 0:w] / size
    background = 0.25 + 0.2 * np.sin(2 * np.pi * (yy * rng.uniform(0.5, 1.5) + xx * rng.uniform(0.5, 1.5)))
    texture = ndi.gaussian_filter(rng.normal(size=(h, w)), 1.5) * 2.0
    img = background + signal * (1 + 0.5 * texture)
    img = ndi.gaussian_filter(img, 1.0) + rng.normal(scale=0.06, size=(h, w))
    image = np.clip(img * 20000 + 1000, 0, 65535).astype(np.uint16)
    truth = np.where(instances > 0, 2, 1).astype(np.uint8)
    strokes = simulate_strokes(truth, fraction=0.015, seed=seed)
    return Sample(image, truth, instances, strokes)


def simulate_strokes(truth: np.ndarray, fraction: float = 0.02, seed: int = 0, width: int = 3,
                     margin: int = 3) -> np.ndarray:
    """Short brush strokes down the middle of each class's regions, as people paint.

    Strokes follow the skeleton of each region, ``width`` pixels wide, and keep at least
    ``margin`` pixels between any stroke pixel and another class; a region too thin for that
    (a membrane) is painted along its one-pixel middle line only. Strokes of every class value in
    ``truth`` (0 excluded) are added until about ``fraction`` of the pixels are annotated, split
    evenly between the classes.
    """
    from scipy import ndimage as ndi
    from skimage.morphology import skeletonize

    rng = np.random.default_rng(seed)
    out = np.zeros(truth.shape, np.uint8)
    values = [int(v) for v in np.unique(truth) if v != 0]
    per_class = fraction * truth.size / max(len(values), 1)
    for v in values:
        region = truth == v
        skeleton = skeletonize(region)
        skel = np.argwhere(skeleton)
        if len(skel) == 0:
            continue
        # pixels more than ``margin`` from the region's edge, plus its middle line
        allowed = (ndi.distance_transform_edt(region) > margin) | skeleton
        painted = 0
        tries = 0
        while painted < per_class and tries < 500:
            tries += 1
            y, x = skel[rng.integers(len(skel))]
            near = skel[np.abs(skel - (y, x)).max(axis=1) <= 12]
            mask = np.zeros(truth.shape, bool)
            mask[near[:, 0], near[:, 1]] = True
            mask = ndi.binary_dilation(mask, iterations=width // 2) & allowed
            new = mask & (out == 0)
            out[new] = v
            painted += int(new.sum())
    return out


def edge_strokes(instances: np.ndarray, object_fraction: float = 0.25, seed: int = 0,
                 reach: int = 3) -> np.ndarray:
    """Background strokes hugging the edges of about ``object_fraction`` of the objects: a ring
    from 2 to ``reach`` pixels outside each chosen object (value 1), 0 elsewhere.

    The careful annotator's extra: strokes where the boundary is. Benchmarks report it as a
    second row next to strokes down the middle only.
    """
    from scipy import ndimage as ndi

    rng = np.random.default_rng(seed)
    ids = np.array([int(v) for v in np.unique(instances) if v != 0])
    out = np.zeros(instances.shape, np.uint8)
    if not len(ids):
        return out
    chosen = rng.permutation(ids)[: max(1, round(object_fraction * len(ids)))]
    near = ndi.binary_dilation(np.isin(instances, chosen), iterations=reach)
    out[near & ~ndi.binary_dilation(instances > 0, iterations=1)] = 1
    return out


def simulate_instance_strokes(instances: np.ndarray, object_fraction: float = 0.25,
                              background_fraction: float = 0.01, seed: int = 0, margin: int = 3) -> np.ndarray:
    """Instance-mode strokes: about ``object_fraction`` of the objects painted whole (values
    2, 3, …) and short background strokes (value 1) on about ``background_fraction`` of the
    pixels, none within ``margin`` pixels of an object."""
    rng = np.random.default_rng(seed)
    ids = [int(v) for v in np.unique(instances) if v != 0]
    chosen = rng.choice(ids, size=max(1, round(object_fraction * len(ids))), replace=False) if ids else []
    background = simulate_strokes(np.where(instances > 0, 0, 1).astype(np.uint8), background_fraction, seed,
                                  margin=margin)
    out = background.astype(np.int32)
    for i, v in enumerate(sorted(chosen)):
        out[instances == v] = 2 + i
    return out


def sample_layers():
    """napari sample: the image and its strokes as an annotation layer."""
    s = make_sample(256, seed=0)
    return [
        (s.image, {"name": "cells"}, "image"),
        (s.strokes, {"name": "cells strokes"}, "labels"),
    ]


def instance_sample_layers():
    """napari sample for instance mode: a quarter of the cells painted whole, plus background strokes."""
    s = make_sample(256, seed=0)
    return [
        (s.image, {"name": "cells"}, "image"),
        (simulate_instance_strokes(s.instances, seed=0), {"name": "cells objects"}, "labels"),
    ]
