"""How one slice's tile labels become its final labels, the same in every front door (in memory,
streamed to an output array, a live-preview region, a dask cluster): instance mode splits the
class map into objects at the sizes the model learned (:mod:`napari_unet.core.instances`); a semantic
model closes its line classes (:mod:`napari_unet.core.lines`)."""

from __future__ import annotations

import numpy as np

from napari_unet.core.config import PredictConfig
from napari_unet.core.lines import close_lines


def instance_classes(p, values: tuple[int, ...], min_confidence: float):
    """Instance mode's class map from probabilities ``(K, Y, X)`` (torch) of the classes
    ``values``: 0 background, 1 object, 2 object with at least ``min_confidence``."""
    import torch

    is_obj = best_values(p, values, torch.uint8) == 2
    return is_obj.to(torch.uint8) + (is_obj & (p[values.index(2)] >= min_confidence))


def objects_from_classes(classes: np.ndarray, split: str = "distance", sizes: dict | None = None) -> np.ndarray:
    """Instance mode: objects of one slice's class map (0 background, 1 object, 2 sure object),
    touching ones split from ``split`` seeds (:func:`napari_unet.core.instances.objects_from_foreground`),
    the split's depth and the smallest object following the learned ``sizes``
    (:func:`object_sizes`, :func:`napari_unet.core.instances.sized`; None: fixed)."""
    from napari_unet.core.instances import objects_from_foreground, sized

    return objects_from_foreground(classes > 0, core=classes == 2, seeds=split, **sized(**(sizes or {})))


def object_sizes(model, config: PredictConfig, scale: float = 1.0) -> dict:
    """The sizes of the objects an instance model learned, in pixels of the labels, for the split
    (``config.sized_split``): the median diameter, divided by ``scale`` when the image was shrunk
    to bring its typical objects to that size, and the small painted objects' area as painted
    (small objects in an image of large ones are not larger for it: scaled, this threshold lost
    real nuclei on the DSB dev images, F1 0.905 -> 0.891). Empty for models that record neither."""
    if not config.sized_split or model.mode != "instance":
        return {}
    d, a = model.info.object_diameter, model.info.small_object_area
    return {"diameter": float(d) / scale if d else None, "small_area": float(a) if a else None}


class SliceFinish:
    """What turns one slice's tile labels into its final labels, for every front door (in
    memory, streamed to ``out``, a region, a dask cluster): instance mode splits the class map
    into objects (:func:`objects_from_classes`); a semantic model closes its line classes
    ``close`` (values; :mod:`napari_unet.core.lines`) on the network's own probabilities of them."""

    def __init__(self, model, config: PredictConfig, close=(), dtype=np.uint8):
        self.instance, self.dtype = model.mode == "instance", dtype
        self.sizes = object_sizes(model, config)
        self.close, self.config = tuple(close), config
        self.lines = [model.class_values.index(v) for v in self.close]
        self.plane = self.line_p = None

    def start(self, shape: tuple[int, int]) -> bool:
        """Begin a slice; True when it is held (finished as a whole, then written)."""
        held = self.instance or bool(self.lines)
        self.plane = np.zeros(shape, self.dtype) if held else None
        self.line_p = np.zeros((len(self.lines), *shape), np.float32) if self.lines else None
        return held

    def add_lines(self, tiles, p, y: int, x: int) -> None:
        """Keep the network's own probabilities of the line classes of a tile ``p`` ``(K, n, m)`` at ``(y, x)``."""
        if self.line_p is not None:
            n, m = p.shape[-2:]
            self.line_p[:, y : y + n, x : x + m] = tiles.line_probabilities(p, self.lines)

    def result(self) -> np.ndarray:
        """The held slice, finished."""
        return finish_slice(self.plane, self.line_p, self.close, self.config, self.instance, self.sizes)


def finish_slice(plane: np.ndarray, line_p, close, config: PredictConfig, instance: bool,
                 sizes: dict | None = None) -> np.ndarray:
    """One slice's final labels from its tile labels ``plane`` (instance mode: the class map,
    objects of the learned ``sizes``, :func:`object_sizes`) and the probabilities ``line_p``
    ``(L, Y, X)`` of the line classes ``close``."""
    if instance:
        return objects_from_classes(plane, config.split, sizes)
    for value, p_line in zip(close, line_p if line_p is not None else ()):
        close_lines(plane, p_line, value, config.line_seed)
    return plane


def best_values(a, values, dtype):
    """``values[a.argmax(0)]`` (first class on ties) in ``dtype``, as elementwise passes: on a
    CPU torch's argmax over the leading axis of a strided block is a slow single-threaded loop,
    and no int64 index image is made."""
    import torch

    best = torch.full(a.shape[1:], values[0], dtype=dtype, device=a.device)
    top = a[0]
    for c in range(1, a.shape[0]):
        best.masked_fill_(a[c] > top, values[c])
        top = torch.maximum(top, a[c])
    return best
