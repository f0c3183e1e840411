"""Reading an image and writing results one band of rows at a time, for prediction that
never holds a whole image (:mod:`napari_unet.predict.pipeline`)."""

from __future__ import annotations

import numpy as np

from napari_unet.core.data import is_lazy


class RowSource:
    """Rows ``[a, b)`` of slice ``zi`` of a ``(Z, C, Y, X)`` image, asked for in increasing order.

    A numpy image is sliced (a view). An on-demand one (dask over zarr, ...) is read in blocks
    of whole storage chunks, each block once, keeping only the rows still needed.
    """

    def __init__(self, img, zi: int, min_rows: int):
        self.img, self.zi = img, zi
        self.block = max(min_rows, img.chunks[2][0]) if is_lazy(img) else 0
        self.start, self.data = 0, None

    def get(self, a: int, b: int) -> np.ndarray:
        if not self.block:
            return self.img[self.zi, :, a:b]
        end = self.start + (0 if self.data is None else self.data.shape[1])
        if self.data is None or a < self.start or a >= end:
            self.start, self.data, end = a, None, a
        if b > end:
            stop = min(-(-b // self.block) * self.block, self.img.shape[2])
            new = np.asarray(self.img[self.zi, :, end:stop])
            kept = self.data[:, a - self.start :] if self.data is not None else new[:, :0]
            self.start, self.data = a, np.concatenate([kept, new], axis=1)
        return self.data[:, a - self.start : b - self.start]


class RowSink:
    """Write finished rows into ``target[prefix + (rows, :)]``, rows in increasing order.

    Chunked storage (zarr) rewrites a whole chunk for every partial write, so rows are
    collected and written a whole chunk row at a time; other arrays are written at once.
    """

    def __init__(self, target, prefix: tuple, height: int):
        self.target, self.prefix, self.height = target, prefix, height
        chunks = getattr(target, "chunks", None)
        self.rows = chunks[-2] if isinstance(chunks, tuple) and chunks and isinstance(chunks[-2], int) else 0
        self.start, self.pending = 0, []

    def put(self, a: int, data: np.ndarray) -> None:
        if not self.rows:
            self.target[self.prefix + (slice(a, a + data.shape[-2]),)] = data
            return
        if not self.pending:
            self.start = a
        self.pending.append(data)
        end = a + data.shape[-2]
        cut = end if end == self.height else end // self.rows * self.rows
        if cut > self.start:  # whole chunk rows are complete: write them, keep the rest
            block = np.concatenate(self.pending, axis=-2) if len(self.pending) > 1 else data
            self.target[self.prefix + (slice(self.start, cut),)] = block[..., : cut - self.start, :]
            rest = block[..., cut - self.start :, :]
            self.start, self.pending = cut, [rest] if rest.shape[-2] else []
