"""Instance mode: separate touching objects, as in the U-Net paper.

What the user paints: 0 = not annotated, 1 = background strokes, every value >= 2 = one whole
object. Training sees two classes, background (1) and object (2); where two painted objects
touch, the pixels on their common border become background ("gaps"), and the loss weight map
adds the paper's border term w0 * exp(-(d1 + d2)^2 / (2 sigma^2)), with d1 and d2 the distances
to the nearest and second-nearest painted object, so the network learns the thin separations.
An object painted whole also says where it ends: a thin ring of unpainted pixels around it is
background (``TrainConfig.outline``), so every painted object teaches the true edge.
Predicted objects are the connected components of the object class, split further by a
seeded watershed on the distance transform when two objects still touch; objects without a
pixel the network is sure of (``PredictConfig.min_confidence``) are dropped.
"""

from __future__ import annotations

import numpy as np

from napari_unet.core.config import UserInputError

BACKGROUND, OBJECT = 1, 2
DEPTH_SHARE = 0.1  # the split's h-maxima depth, as a share of the learned object diameter (at least 2 px)
SPECK_SHARE = 0.5  # objects under half the area of the small painted objects are specks (at least 8 px)


def object_areas(*objects: np.ndarray) -> np.ndarray:
    """Areas (pixels) of the labelled objects (values > 0) of slices or stacks (``(Z, Y, X)``, labels per slice)."""
    slices = [s for a in objects for s in np.asarray(a).reshape((-1,) + np.shape(a)[-2:])]
    areas = np.concatenate([np.bincount(s.ravel().astype(np.int64))[1:] for s in slices] or [np.zeros(0, np.int64)])
    return areas[areas > 0]


def sized(diameter: float | None = None, small_area: float | None = None) -> dict:
    """:func:`objects_from_foreground`'s ``depth`` and ``min_size`` for objects of a median
    ``diameter`` whose small ones (the 10th percentile of the painted areas) cover ``small_area``
    pixels: a neck must be a tenth of the diameter narrower than the cells on either side to split
    them, and an object under half the area of the small painted objects is a speck. Without them,
    the fixed defaults (2 px, 8 px), made for nuclei of about 13 px.

    Chosen on later *training* frames of the CTC sets (U373 frames 40-59, HeLa 24-35; one model
    each, seed 0; docs/benchmarks.md, "Cells that stay whole")."""
    out = {}
    if diameter:
        out["depth"] = max(2.0, DEPTH_SHARE * diameter)
    if small_area:
        out["min_size"] = max(8, round(SPECK_SHARE * small_area))
    return out


def check_instance_strokes(labels: list[np.ndarray]) -> None:
    """Raise a clear error when no object (value >= 2) is painted."""
    if not any(np.any(lab >= 2) for lab in labels):
        painted = any(np.any(lab == 1) for lab in labels)
        what = "only background strokes (label 1)" if painted else "no strokes at all"
        raise UserInputError(
            f"instance mode needs whole objects painted with labels 2, 3, 4, … (one value per object), "
            f"but the layer has {what}. Paint a few objects completely, and background with label 1."
        )
    if not any(np.any(lab == 1) for lab in labels):
        raise UserInputError(
            "instance mode needs background strokes too: paint some background with label 1 "
            "(objects are labels 2, 3, 4, …)."
        )


def object_borders(objects: np.ndarray) -> np.ndarray:
    """Pixels of a painted object that touch a different painted object (8-connectivity)."""
    from scipy import ndimage as ndi

    lab = objects.astype(np.int64)
    big = int(lab.max()) + 1  # above every label (a dtype maximum overflows inside the filter)
    hi = ndi.maximum_filter(lab, size=3, mode="nearest")
    lo = ndi.minimum_filter(np.where(lab > 0, lab, big), size=3, mode="nearest")
    return (lab > 0) & ((hi != lab) | (lo != lab))


def semantic_targets(strokes: np.ndarray, outline: int = 0) -> np.ndarray:
    """Instance strokes of one 2D slice -> 0 (ignore) / 1 (background, incl. gaps) / 2 (object).

    An object painted whole also tells where it ends: unpainted pixels up to ``outline`` pixels
    outside it become background, so the network sees the true edge of every painted object,
    not only the distant background strokes.
    """
    objects = np.where(strokes >= 2, strokes, 0)
    out = np.where(strokes == 1, BACKGROUND, 0).astype(np.uint8)
    if outline > 0 and objects.any():
        from scipy import ndimage as ndi

        ring = ndi.distance_transform_edt(objects == 0) <= outline
        out[ring & (strokes == 0)] = BACKGROUND
    out[objects > 0] = OBJECT
    out[object_borders(objects)] = BACKGROUND
    return out


def border_weights(objects: np.ndarray, w0: float = 10.0, sigma: float = 5.0) -> np.ndarray:
    """The paper's border term ``w0 * exp(-(d1 + d2)^2 / (2 sigma^2))`` for one 2D slice.

    ``objects`` holds one value > 0 per painted object (0 elsewhere). Distances are computed
    per object in a window reaching ``4 sigma`` beyond it (further out the term is below
    ``w0 * 1e-7``), so the cost grows with the painted area, not with the image size squared
    times the number of objects.
    """
    from scipy import ndimage as ndi

    h, w = objects.shape
    d1 = np.full((h, w), np.inf, np.float32)
    d2 = np.full((h, w), np.inf, np.float32)
    reach = int(np.ceil(4 * sigma))
    for k, sl in enumerate(ndi.find_objects(objects), start=1):
        if sl is None:
            continue
        y0, y1 = max(sl[0].start - reach, 0), min(sl[0].stop + reach, h)
        x0, x1 = max(sl[1].start - reach, 0), min(sl[1].stop + reach, w)
        d = ndi.distance_transform_edt(objects[y0:y1, x0:x1] != k).astype(np.float32)
        a, b = d1[y0:y1, x0:x1], d2[y0:y1, x0:x1]
        d2[y0:y1, x0:x1] = np.minimum(b, np.maximum(a, d))
        d1[y0:y1, x0:x1] = np.minimum(a, d)
    term = w0 * np.exp(-((d1 + d2) ** 2) / (2 * sigma**2))
    return np.where(np.isfinite(term), term, 0).astype(np.float32)


def instance_training_data(strokes_zyx: np.ndarray, w0: float, sigma: float,
                           outline: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Semantic targets (0/1/2) and border weights (zero where not annotated) for a stack."""
    targets = np.zeros(strokes_zyx.shape, np.uint8)
    border = np.zeros(strokes_zyx.shape, np.float32)
    for z, s in enumerate(strokes_zyx):
        if not s.any():
            continue
        targets[z] = semantic_targets(s, outline)
        objects = np.where(targets[z] == OBJECT, s, 0)  # distances to the objects as separated by gaps
        if w0 > 0 and objects.any():
            border[z] = np.where(targets[z] > 0, border_weights(objects, w0, sigma), 0)
    return targets, border


def objects_from_foreground(foreground: np.ndarray, min_size: int = 8, split: bool = True,
                            depth: float = 2.0, core: np.ndarray | None = None, seeds: str = "distance") -> np.ndarray:
    """Label connected objects in a 2D foreground mask, one value (1, 2, …) per object.

    With ``split``, objects that still touch are separated by a watershed on the (smoothed)
    distance transform, seeded at its maxima at least ``depth`` pixels higher than the neck
    that joins them (h-maxima), so round objects are not split and touching pairs are.
    With ``core`` (where the network is sure of the object class), an object without any core
    pixel is dropped: specks of texture and slivers split off a nucleus are unsure throughout,
    whatever their size, while real objects of any size have a sure middle. With ``seeds="cores"``
    the connected regions of ``core`` seed the split instead of the distance maxima: a large,
    irregular object the network is sure of throughout stays one, and touching objects part
    where the network's certainty dips between them.
    """
    from scipy import ndimage as ndi
    from skimage.measure import label

    fg = foreground.astype(bool)
    comps = label(fg, connectivity=1)
    small = np.bincount(comps.ravel()) < min_size
    small[0] = False
    fg &= ~small[comps]
    if not split or not fg.any():
        return _with_core(label(fg, connectivity=1), core).astype(np.int32)
    from skimage.morphology import h_maxima
    from skimage.segmentation import watershed

    smooth = ndi.gaussian_filter(ndi.distance_transform_edt(fg), 1.0)
    if seeds == "cores" and core is not None:
        markers = label(core & fg, connectivity=1)
    else:
        markers = label(h_maxima(smooth, depth) & fg)
    # components without a marker (small or thin objects) keep one of their own
    comps = label(fg, connectivity=1)
    missing = np.setdiff1d(np.unique(comps[fg]), np.unique(comps[markers > 0]))
    boxes = ndi.find_objects(comps)
    next_id = markers.max() + 1
    for m in missing:
        box = boxes[m - 1]
        ys, xs = np.nonzero(comps[box] == m)
        markers[box][ys[len(ys) // 2], xs[len(ys) // 2]] = next_id
        next_id += 1
    out = label(watershed(-smooth, markers, mask=fg), connectivity=1)
    return _with_core(out, core).astype(np.int32)


def _with_core(objects: np.ndarray, core: np.ndarray | None) -> np.ndarray:
    """``objects`` without those that have no ``core`` pixel, renumbered 1, 2, …"""
    if core is None or not objects.any():
        return objects
    keep = np.zeros(objects.max() + 1, bool)
    keep[np.unique(objects[core & (objects > 0)])] = True
    keep[0] = False
    lut = np.zeros(len(keep), np.int64)
    lut[keep] = np.arange(1, keep.sum() + 1)
    return lut[objects]


def object_diameter(*objects: np.ndarray) -> float | None:
    """Median equivalent diameter (pixels) of the labelled objects (values > 0) of slices or
    stacks (``(Z, Y, X)``, labels per slice); None when there are none."""
    return diameter_from_areas(object_areas(*objects))


def diameter_from_areas(areas: np.ndarray) -> float | None:
    """Median equivalent diameter of objects of ``areas`` pixels; None when there are none."""
    return float(np.median(2 * np.sqrt(areas / np.pi))) if len(areas) else None
