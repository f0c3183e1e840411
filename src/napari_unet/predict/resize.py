"""Resizing an image, or class probabilities, one band of rows at a time.

Bilinear, antialiased when shrinking (the weights of torch's ``interpolate(..., mode="bilinear",
antialias=True)``), written as explicit taps: each output pixel is a weighted sum of a few input
pixels along x, then along y, always added in the same order. A band of output rows computed from
only the input rows it needs is therefore bit for bit the same as those rows of the whole resized
image, which lets every front door of prediction (in memory, streamed into zarr, a dask cluster, a
region of the live preview) rescale exactly alike without holding the image.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ROWS = 256  # rows of a resized image computed at a time when it is streamed


@dataclass(frozen=True)
class Taps:
    """How ``n_out`` outputs are made from ``n_in`` inputs along one axis: output ``i`` is
    ``sum_t weight[i, t] * input[index[i, t]]`` (``t`` in order; unused taps weigh 0)."""

    index: np.ndarray  # (n_out, T) int64, within [0, n_in)
    weight: np.ndarray  # (n_out, T) float32

    def inputs(self, a: int, b: int) -> tuple[int, int]:
        """The input range ``[lo, hi)`` that outputs ``[a, b)`` read."""
        used = self.index[a:b][self.weight[a:b] != 0]
        return (int(used.min()), int(used.max()) + 1) if used.size else (0, 0)


def taps(n_in: int, n_out: int) -> Taps:
    """Antialiased bilinear taps (a triangle filter as wide as the shrink factor; plain bilinear,
    half-pixel centres, when enlarging), normalised to sum to 1."""
    scale = n_in / n_out
    support = scale if scale >= 1 else 1.0
    inv = 1 / scale if scale >= 1 else 1.0
    centre = scale * (np.arange(n_out) + 0.5)
    lo = np.maximum((centre - support + 0.5).astype(np.int64), 0)
    hi = np.minimum((centre + support + 0.5).astype(np.int64), n_in)
    width = int((hi - lo).max())
    j = np.arange(width)
    index = lo[:, None] + j
    w = np.clip(1 - np.abs((index - centre[:, None] + 0.5) * inv), 0, None)
    w[index >= hi[:, None]] = 0
    w /= w.sum(1, keepdims=True)
    return Taps(np.minimum(index, n_in - 1), w.astype(np.float32))


def _apply(a: np.ndarray, t: Taps, axis: int, offset: int, outputs: slice) -> np.ndarray:
    """Taps ``t[outputs]`` along ``axis`` of ``a``, whose index 0 is input ``offset``."""
    index, weight = t.index[outputs] - offset, t.weight[outputs]
    shape = [1] * a.ndim
    shape[axis] = len(index)
    out = None
    for k in range(index.shape[1]):
        part = np.take(a, np.clip(index[:, k], 0, a.shape[axis] - 1), axis=axis) * weight[:, k].reshape(shape)
        out = part if out is None else out + part
    return out.astype(np.float32, copy=False)


def resize_box(read, size_in: tuple[int, int], size_out: tuple[int, int], box: tuple[int, int, int, int]) -> np.ndarray:
    """The box ``(y0, y1, x0, x1)`` of ``(..., Y, X)`` data of spatial size ``size_in`` resized to
    ``size_out``; ``read(r0, r1, c0, c1)`` returns input rows ``[r0, r1)``, columns ``[c0, c1)``
    (any leading axes). Equal, bit for bit, to that box of the whole resized data."""
    ty, tx = taps(size_in[0], size_out[0]), taps(size_in[1], size_out[1])
    y0, y1, x0, x1 = box
    r0, r1 = ty.inputs(y0, y1)
    c0, c1 = tx.inputs(x0, x1)
    block = np.asarray(read(r0, r1, c0, c1), np.float32)
    across = _apply(block, tx, block.ndim - 1, c0, slice(x0, x1))  # along x first, then y
    return _apply(across, ty, block.ndim - 2, r0, slice(y0, y1))


def resize_rows(read, size_in: tuple[int, int], size_out: tuple[int, int], a: int, b: int) -> np.ndarray:
    """Rows ``[a, b)`` of the resized data (:func:`resize_box`); ``read(lo, hi)`` returns whole input rows."""
    return resize_box(lambda r0, r1, c0, c1: np.asarray(read(r0, r1))[..., c0:c1], size_in, size_out,
                      (a, b, 0, size_out[1]))


def resize(a: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """``(..., Y, X)`` data resized to ``shape`` (float32), as :func:`resize_box` computes it."""
    return resize_box(lambda r0, r1, c0, c1: a[..., r0:r1, c0:c1], a.shape[-2:], tuple(shape), (0, shape[0], 0, shape[1]))


class Resized:
    """A ``(Z, C, Y, X)`` image resized to ``size``, computed only where read: ``[z, :, a:b]`` (or
    any index whose last two entries are row and column slices) reads just the input rows that
    those output rows need. For prediction of an image larger than memory at another scale."""

    def __init__(self, image, size: tuple[int, int]):
        self.image, self.size = image, (int(size[0]), int(size[1]))
        self.shape = (*image.shape[:2], *self.size)
        self.dtype, self.ndim = np.dtype(np.float32), 4
        rows = min(ROWS, self.size[0])  # read in blocks of rows, as a chunked array is (napari_unet.predict.rows)
        self.chunks = tuple((n,) * m for n, m in zip((1, self.shape[1], rows, self.size[1]), (self.shape[0], 1, 1, 1)))

    def __getitem__(self, key):
        key = key if isinstance(key, tuple) else (key,)
        key = key + (slice(None),) * (4 - len(key))
        lead, rows, cols = key[:2], key[2], key[3]
        a, b, step = rows.indices(self.size[0]) if isinstance(rows, slice) else (rows, rows + 1, 1)
        c, d, cstep = cols.indices(self.size[1]) if isinstance(cols, slice) else (cols, cols + 1, 1)
        if step != 1 or cstep != 1:
            raise IndexError("a resized image is read in slices with step 1")
        out = resize_box(lambda r0, r1, c0, c1: self.image[lead + (slice(r0, r1), slice(c0, c1))],
                         self.image.shape[-2:], self.size, (a, b, c, d))
        out = out if isinstance(rows, slice) else out[..., 0, :]
        return out if isinstance(cols, slice) else out[..., 0]
