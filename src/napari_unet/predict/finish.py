"""How one slice's tile labels become its final labels, the same in every front door (in memory,
streamed to an output array, a live-preview region, a dask cluster): instance mode splits the
class map into objects at the sizes the model learned (:mod:`napari_unet.core.instances`); a semantic
model closes its line classes (:mod:`napari_unet.core.lines`)."""

from __future__ import annotations

import numpy as np

from napari_unet.core.config import PredictConfig
from napari_unet.core.lines import close_lines
from napari_unet.predict.resize import resize, resize_box

BAND = 512  # rows of a slice enlarged at a time


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
    ``close`` (values; :mod:`napari_unet.core.lines`) on the network's own probabilities of them.

    ``size``: the labels' ``(Y, X)`` when the network saw the slice shrunk by ``scale``
    (:mod:`napari_unet.predict.rescale`); the slice's probabilities are then held at the network's
    size and enlarged to ``size`` before the objects are split (:func:`enlarged_objects`)."""

    def __init__(self, model, config: PredictConfig, close=(), dtype=np.uint8, size=None, scale: float = 1.0):
        self.instance, self.dtype, self.values = model.mode == "instance", dtype, model.class_values
        self.sizes, self.scale, self.size = object_sizes(model, config, scale), scale, size
        self.close, self.config = tuple(close), config
        self.lines = [model.class_values.index(v) for v in self.close]
        self.plane = self.line_p = self.small_p = None

    def start(self, shape: tuple[int, int]) -> bool:
        """Begin a slice of the network's ``shape``; True when it is held (finished as a whole, then written)."""
        if self.size is not None:
            self.small_p = np.zeros((len(self.values), *shape), np.float32)
            return True
        held = self.instance or bool(self.lines)
        self.plane = np.zeros(shape, self.dtype) if held else None
        self.line_p = np.zeros((len(self.lines), *shape), np.float32) if self.lines else None
        return held

    def add(self, tiles, p, labels: np.ndarray, y: int, x: int) -> None:
        """Keep what the slice's finish needs of a tile at ``(y, x)``: its labels, the network's
        own probabilities of the line classes, or (shrunk) all its probabilities ``p`` ``(K, n, m)``."""
        n, m = p.shape[-2:]
        if self.small_p is not None:
            self.small_p[:, y : y + n, x : x + m] = p.cpu().numpy()
            return
        if self.plane is not None:
            self.plane[y : y + n, x : x + m] = labels
        if self.line_p is not None:
            self.line_p[:, y : y + n, x : x + m] = tiles.line_probabilities(p, self.lines)

    def result(self) -> np.ndarray:
        """The held slice, finished."""
        if self.small_p is not None:
            return enlarged_slice(self.small_p, self.size, self.values, self.config, self.sizes)
        return finish_slice(self.plane, self.line_p, self.close, self.config, self.instance, self.sizes)

    def probabilities(self) -> np.ndarray:
        """The held slice's probabilities at the labels' size (a shrunk slice's, enlarged)."""
        return resize(self.small_p, self.size)


def enlarged_objects(read, small: tuple[int, int], size: tuple[int, int], values, config: PredictConfig,
                     sizes: dict, box: tuple[int, int, int, int] | None = None) -> np.ndarray:
    """Objects of a slice whose class probabilities were predicted on a copy shrunk to ``small``:
    enlarged to ``size`` band by band (exact for any band, :mod:`napari_unet.predict.resize`), made
    a class map, split. ``read(r0, r1, c0, c1)`` returns the shrunk probabilities ``(K, rows, cols)``;
    ``box`` ``(y0, y1, x0, x1)`` limits the result to a region of the enlarged slice."""
    import torch

    y0, y1, x0, x1 = box or (0, size[0], 0, size[1])
    classes = np.zeros((y1 - y0, x1 - x0), np.uint8)
    for a in range(y0, y1, BAND):
        b = min(a + BAND, y1)
        p = resize_box(read, small, size, (a, b, x0, x1))
        classes[a - y0 : b - y0] = instance_classes(torch.from_numpy(p), values, config.min_confidence).numpy()
    return objects_from_classes(classes, config.split, sizes)


def enlarged_slice(small_p: np.ndarray, size: tuple[int, int], values, config: PredictConfig,
                   sizes: dict) -> np.ndarray:
    """:func:`enlarged_objects` of a whole slice's shrunk probabilities ``small_p`` ``(K, y, x)``."""
    return enlarged_objects(lambda r0, r1, c0, c1: small_p[:, r0:r1, c0:c1], small_p.shape[-2:], size, values,
                            config, sizes)


def finish_slice(plane: np.ndarray, line_p, close, config: PredictConfig, instance: bool,
                 sizes: dict | None = None) -> np.ndarray:
    """One slice's final labels from its tile labels ``plane`` (instance mode: the class map,
    objects of the learned ``sizes``, :func:`object_sizes`) and the probabilities ``line_p``
    ``(L, Y, X)`` of the line classes ``close``."""
    if instance:
        return objects_from_classes(plane, config.split, sizes)
    for value, p_line in zip(close, line_p if line_p is not None else ()):
        close_lines(plane, p_line, value, config.line_seed, config.line_depth, config.line_reach)
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
