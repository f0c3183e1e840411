"""Overlap-tile prediction of images of any size, exact as in the U-Net paper.

The output is cut into tiles ("cores") on a grid of multiples of ``2**depth``. Each core is
computed from an input window that adds, on every side, the network's whole receptive field
(:mod:`napari_unet.predict.tiling`), so nothing outside the window can change it: cores are stitched
without blending, and the result does not depend on the tile size. Around the image, context is
supplied by mirroring: windows are gathered through reflected indices, so no padded copy of the
image is ever made. Windows go through the network in batches.
"""

from __future__ import annotations

from collections.abc import Generator

import numpy as np

from napari_unet.core.config import PredictConfig, UserInputError
from napari_unet.core.data import is_single_plane, model_input, percentiles, to_zcyx
from napari_unet.predict.finish import SliceFinish, best_values, instance_classes
from napari_unet.core.lines import closing_config, line_classes
from napari_unet.predict.margin import class_odds
from napari_unet.predict.rescale import applies, rescaled
from napari_unet.predict.results import PredictProgress, PredictResult
from napari_unet.predict.rows import RowSink, RowSource
from napari_unet.predict.tiling import TilePlan, context_margins, take


def predict(
    model,
    image,
    config: PredictConfig | None = None,
    *,
    probabilities=False,
    z_slices: list[int] | None = None,
    out=None,
    intensity_range: tuple[np.ndarray, np.ndarray] | None = None,
) -> Generator[PredictProgress, None, PredictResult]:
    """Predict class labels for ``image`` tile by tile, yielding progress after each batch.

    The image is checked when this is called (bad input raises at once); the returned
    generator predicts.

    Parameters
    ----------
    model
        A :class:`~napari_unet.core.model.SegmentationModel`.
    image
        As accepted by :func:`napari_unet.core.data.to_zcyx`; a z-stack is predicted slice by slice.
        A numpy array (or memmap), or an on-demand array (zarr, dask, h5py): these are read one
        band of tile rows at a time, so the image never has to fit in memory.
    config
        Tile size (of the output; each tile's input adds the network's receptive field around
        it), batch size, device.
    probabilities
        ``True`` to also return the class probabilities ``(Z, K, Y, X)`` float32 in memory, or an
        array of that shape to write them into (e.g. a zarr array).
    z_slices
        Only these slices of a z-stack (others stay 0 in the labels).
    out
        Optional array to write the labels into, ``(Z, Y, X)`` or, for a single plane, ``(Y, X)``:
        e.g. a ``numpy.memmap`` or a zarr array (anything that takes slice assignment). It is
        returned as ``labels``.
    intensity_range
        Per-channel ``(low, high)`` values that normalisation maps to 0 and 1, instead of the
        percentiles of ``image``: to predict a crop exactly as part of its whole image.

    An instance model that records the size of the objects it learned predicts an image whose
    objects are much larger on a shrunken copy (``config.rescale``, :mod:`napari_unet.predict.rescale`),
    whether the labels stay in memory or go to ``out`` (the first pass that measures the objects
    writes there too). A semantic model closes the gaps in its line classes (``config.close_lines``,
    :mod:`napari_unet.core.lines`) slice by slice. A region (``intensity_range`` given) is predicted
    as it is: :func:`napari_unet.predict.region.predict_region` rescales and closes regions.

    Memory: besides the image and the labels, only one band of input rows is held (a tile's
    height plus the context above and below), unless probabilities are asked for in memory. Instance mode
    and closing lines also hold one slice's labels while they are finished, and closing lines one
    slice's probability of each line class.
    """
    from napari_unet.core.device import resolve_device

    config = closing_config(model, config or PredictConfig())  # napari_unet.core.lines
    raw, img = model_input(model, image, config.colour_to_grey)
    lo, hi = percentiles(img, model.norm) if intensity_range is None else intensity_range
    z, _, h, w = img.shape
    zs = list(range(z)) if z_slices is None else [int(i) for i in z_slices]
    if any(not 0 <= i < z for i in zs):
        raise UserInputError(f"slice index out of range: the image has {z} slice(s).")
    if out is not None and tuple(out.shape) not in ((z, h, w),) + (((h, w),) if z == 1 else ()):
        raise UserInputError(f"output array has shape {tuple(out.shape)}; it must be (Z, Y, X) = {(z, h, w)}.")
    k = model.config.n_classes
    if _is_array(probabilities) and tuple(probabilities.shape) != (z, k, h, w):
        raise UserInputError(
            f"probability array has shape {tuple(probabilities.shape)}; it must be (Z, K, Y, X) = {(z, k, h, w)}."
        )
    device = resolve_device(config.device)
    if intensity_range is None and applies(model, config):
        def run(image, size=None, scale=1.0):
            return _loop(model, raw, image, (lo, hi), zs, config, device, probabilities, out, (), size, scale)

        return rescaled(run, model, img, zs, config)
    close = line_classes(model) if config.close_lines else ()
    return _loop(model, raw, img, (lo, hi), zs, config, device, probabilities, out, close)


class TilePredictor:
    """Turns input windows into output tiles: the prediction copy of the network, the
    normalisation and the settings (used by :func:`predict` and by
    :func:`napari_unet.predict.distributed.predict_dask`, so both compute the same)."""

    def __init__(self, model, norm, config: PredictConfig, device, label_type=None, copies: dict | None = None):
        import torch

        from napari_unet.core.device import use_bf16
        from napari_unet.core.model import inference_copy

        self.config, self.device = config, device
        self.dtype = torch.bfloat16 if use_bf16(device, config.precision) else torch.float32
        key = (str(device), self.dtype)  # ``copies`` keeps the prediction copies made, for reuse
        if copies is not None and key in copies:
            self.net = copies[key]
        else:
            self.net = inference_copy(model.net, self.dtype).to(device)
            if copies is not None:
                copies[key] = self.net
        self.lo, hi = (torch.from_numpy(np.asarray(v, np.float32).reshape(-1, 1, 1)).to(device) for v in norm)
        self.scale = 1 / (hi - self.lo).clamp(min=1e-6)
        self.before, self.after = context_margins(model.config, config.tta)
        self.values = model.class_values
        odds = class_odds(model, config.object_margin, config.line_share)  # napari_unet.predict.margin
        self.odds = None if odds is None else torch.tensor(odds, device=device).reshape(1, -1, 1, 1)
        self.instance = model.mode == "instance"
        self.out_dtype = torch.uint8 if self.instance else _torch_int(label_type or label_dtype(model))
        self.out_numpy = np.dtype(np.uint8) if self.instance else np.dtype(label_type or label_dtype(model))

    def probabilities(self, windows: np.ndarray, n: int | None = None, tw: int | None = None):
        """Class probabilities ``(B, K, n, tw)`` of the tiles of windows ``(B, C, before + th + after, ...)``;
        of the whole windows when ``n`` and ``tw`` are None. Weighed by the object margin where the
        model needs it (:mod:`napari_unet.predict.margin`)."""
        import torch

        xt = torch.from_numpy(windows.astype(np.float32, copy=False)).to(self.device, non_blocking=True)
        xt = ((xt - self.lo) * self.scale).to(self.dtype).contiguous(memory_format=torch.channels_last)
        a = self.before
        rows, cols = (slice(None), slice(None)) if n is None else (slice(a, a + n), slice(a, a + tw))
        with torch.inference_mode():
            p = class_probabilities(self.net, xt, self.config.tta, rows, cols)
            return p if self.odds is None else (p * self.odds) / (p * self.odds).sum(1, keepdim=True)

    def line_probabilities(self, p, lines) -> np.ndarray:
        """The network's own probabilities of the classes ``lines`` (indices) from weighed ones
        ``p`` ``(K, ...)``: lines close where the network's regions meet, wherever the margin puts
        their edges."""
        if self.odds is not None:
            p = p / self.odds[0]
            p = p / p.sum(0, keepdim=True)
        return p[list(lines)].cpu().numpy()

    def labels(self, p) -> np.ndarray:
        """Labels of one tile from its probabilities ``(K, Y, X)``: class values, or in instance
        mode 0 background, 1 object, 2 object with at least ``min_confidence``."""
        if not self.instance:
            return best_values(p, self.values, self.out_dtype).cpu().numpy()
        return instance_classes(p, self.values, self.config.min_confidence).cpu().numpy()


def _loop(model, raw, img, norm, zs, config, device, probabilities, out, close=(), size=None, scale: float = 1.0):
    """Stream tile rows: only one band of input rows (a tile's height plus context) is held.
    A slice whose labels need the whole slice (objects to split, lines ``close`` to close) is
    held in memory with the probabilities of its line classes, finished, then written. ``img`` may
    be a shrunk copy (``scale``) of an image of ``size``: the labels and probabilities come at ``size``."""
    z, _, h, w = img.shape
    k = model.config.n_classes
    plan = TilePlan.of(config, model.config, (h, w))
    total = len(plan) * len(zs)
    out_h, out_w = size or (h, w)
    labels = out if out is not None else np.zeros((z, out_h, out_w), dtype=label_dtype(model))
    planar = labels.ndim == 2  # a (Y, X) output for a single-plane image
    tiles = TilePredictor(model, norm, config, device, labels.dtype)
    if probabilities is True:
        probs_out = np.zeros((z, k, out_h, out_w), dtype=np.float32)
    else:
        probs_out = probabilities if _is_array(probabilities) else None
    finish = SliceFinish(model, config, close, tiles.out_numpy, size, scale)
    done = 0
    for zi in zs:
        held = finish.start((h, w))
        enlarged = finish.small_p is not None  # all of the slice's probabilities are held
        sinks = [] if held else [RowSink(labels, () if planar else (zi,), h)]
        if probs_out is not None and not enlarged:
            sinks.append(RowSink(probs_out, (zi, slice(None)), h))
        source = RowSource(img, zi, len(plan.rows(0)))
        for y in plan.ys:
            rows = plan.rows(y)
            band = take(source.get(rows.min(), rows.max() + 1), rows - rows.min(), axis=1)
            n, _ = plan.extent(y, 0)  # rows of this tile row inside the image
            best = np.empty((n, w), tiles.out_numpy)
            probs = np.empty((k, n, w), np.float32) if probs_out is not None and not enlarged else None
            for b0 in range(0, len(plan.xs), config.batch_size):
                row = plan.xs[b0 : b0 + config.batch_size]
                windows = [take(band, plan.cols(xx), axis=2) for xx in row]
                p = tiles.probabilities(np.stack(windows), n, plan.tile[1])
                for xx, pt in zip(row, p):
                    _, m = plan.extent(y, xx)
                    if not enlarged:
                        best[:, xx : xx + m] = tiles.labels(pt[:, :, :m])
                    if probs is not None:
                        probs[:, :, xx : xx + m] = pt[:, :, :m].cpu().numpy()
                    finish.add(tiles, pt[:, :, :m], best[:, xx : xx + m], y, xx)
                done += len(row)
                yield PredictProgress(done, total)
            for sink, data in zip(sinks, [probs] if held else [best, probs]):
                sink.put(y, data)
        if held:
            labels[(...,) if planar else (zi,)] = finish.result()
        if enlarged and probs_out is not None:
            probs_out[zi] = finish.probabilities()
    if out is None and is_single_plane(raw, img):
        labels = labels[0]
    return PredictResult(labels, probs_out, scale)


def uncertainty(probabilities: np.ndarray) -> np.ndarray:
    """How undecided a prediction is: the entropy of the class probabilities ``(Z, K, Y, X)``
    divided by its maximum log(K), so 0 = sure of one class and 1 = all classes equally likely.
    Returns ``(Z, Y, X)`` float32."""
    p = np.clip(np.asarray(probabilities, np.float32), 1e-7, 1.0)
    k = p.shape[1]
    return (-(p * np.log(p)).sum(axis=1) / np.log(max(k, 2))).astype(np.float32)


def class_probabilities(net, x, tta: bool = False, rows: slice = slice(None), cols: slice = slice(None)):
    """Softmax of ``net(x)`` over ``[rows, cols]`` of the output; with ``tta`` the mean over the 8
    flips and 90-degree rotations of ``x``, each mapped back (the U-Net paper's test-time
    augmentation)."""
    import torch

    if not tta:
        return torch.softmax(net(x)[:, :, rows, cols].float(), dim=1)
    total = None
    for k in range(4):
        for flip in (False, True):
            t = torch.rot90(x, k, (2, 3))
            t = t.flip(3) if flip else t
            logits = net(t.contiguous(memory_format=torch.channels_last))
            logits = torch.rot90(logits.flip(3) if flip else logits, -k, (2, 3))[:, :, rows, cols]
            p = torch.softmax(logits.float(), dim=1)
            total = p if total is None else total + p
    return total / 8


def _is_array(obj) -> bool:
    return hasattr(obj, "shape")


def _torch_int(dtype):
    """A torch integer type wide enough for label values written into ``dtype`` (no uint16/32 on every device)."""
    import torch

    return torch.uint8 if np.dtype(dtype) == np.uint8 else torch.int32 if np.dtype(dtype).itemsize <= 4 else torch.int64


def output_shape(image) -> tuple[int, ...]:
    """Shape of the labels :func:`predict` returns for ``image``: ``(Y, X)`` for a single plane
    (greyscale or colour), else ``(Z, Y, X)``."""
    raw = image if hasattr(image, "shape") else np.asarray(image)
    img = to_zcyx(raw, lazy=True)
    return tuple(img.shape[-2:]) if is_single_plane(raw, img) else (img.shape[0], *img.shape[-2:])


def label_dtype(model) -> np.dtype:
    """Smallest integer type for the labels a model predicts (int32 object ids in instance mode)."""
    if model.mode == "instance":
        return np.dtype(np.int32)
    top = max(model.class_values)
    return np.dtype(np.uint8 if top < 256 else np.uint16 if top < 65536 else np.uint32)


def predict_labels(model, image, config: PredictConfig | None = None, **kwargs) -> PredictResult:
    """Run :func:`predict` to the end and return its :class:`PredictResult`."""
    gen = predict(model, image, config, **kwargs)
    while True:
        try:
            next(gen)
        except StopIteration as done:
            return done.value
