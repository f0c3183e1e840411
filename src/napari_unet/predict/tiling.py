"""Where the tiles of an overlap-tile prediction lie and what input each one needs.

An output tile ("core") is computed from an input window that adds the network's whole
receptive field on every side (:func:`context_margins`); windows beyond the image are read
through mirrored indices (:func:`reflect_index`, :func:`take`), so no padded copy is made.
Used by :mod:`napari_unet.predict.pipeline` and :mod:`napari_unet.predict.distributed` alike.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from napari_unet.core.config import PredictConfig


def reflect_index(idx: np.ndarray, n: int) -> np.ndarray:
    """Map indices outside ``[0, n)`` into it by mirroring (without repeating the edge)."""
    if n == 1:
        return np.zeros_like(idx)
    period = 2 * (n - 1)
    i = np.mod(idx, period)
    return np.where(i >= n, period - i, i)


def context_margin(model_config) -> int:
    """Pixels of context a U-Net output pixel depends on, on each side: its receptive field.

    Each level ``l`` adds two 3x3 convolutions at scale ``2**l`` on the way down and two on the
    way up, plus the pooling and up-convolution offsets: the reach is ``7 * 2**depth - 5`` pixels
    at most (107 at depth 4; tests/test_predict.py measures it with gradients). The margin is
    ``7 * 2**depth``, a multiple of ``2**depth`` so that windows stay on the pooling grid.
    """
    return 7 * model_config.multiple


def context_margins(model_config, tta: bool = False) -> tuple[int, int]:
    """Context before and after a tile, per axis. The pooling grid makes the receptive field
    lopsided: it reaches ``7 * 2**depth - 5`` pixels up and left but only about
    ``6 * 2**depth - 4`` down and right, so the window needs less after the tile. Test-time
    augmentation flips windows, so it needs the larger margin on both sides."""
    before = context_margin(model_config)
    return (before, before) if tta else (before, 6 * model_config.multiple)


def region_window(model_config, box: tuple[int, int, int, int], shape: tuple[int, int]) -> tuple[int, int, int, int]:
    """The window ``(y0, y1, x0, x1)`` to predict the region ``box`` from so that it comes out as
    in a whole-image prediction: the context margin around it, starting on the pooling grid (the
    network gives the same output only under shifts by multiples of ``2**depth``)."""
    m, margin = model_config.multiple, context_margin(model_config)
    (h, w), (y0, y1, x0, x1) = shape, box
    return (max(0, y0 - margin) // m * m, min(h, y1 + margin), max(0, x0 - margin) // m * m, min(w, x1 + margin))


def core_tile(config: PredictConfig, multiple: int, shape: tuple[int, int]) -> tuple[int, int]:
    """Output tile per axis: as many tiles as ``tile_size`` needs to cover the image, made equal
    and rounded up to a multiple of what the network needs (no tile is mostly padding)."""
    def one(size: int) -> int:
        n = math.ceil(size / max(config.tile_size, multiple))
        return math.ceil(size / n / multiple) * multiple

    return one(shape[0]), one(shape[1])


def take(a, index: np.ndarray, axis: int):
    """``a`` indexed along ``axis``: a view (a plain slice) where the indices run consecutively,
    as inside the image, else a copy of the mirrored rows or columns. Works on dask arrays too."""
    if index[-1] - index[0] == len(index) - 1 and np.all(np.diff(index) == 1):
        key = [slice(None)] * a.ndim
        key[axis] = slice(int(index[0]), int(index[-1]) + 1)
        return a[tuple(key)]
    return np.take(a, index, axis=axis)


@dataclass(frozen=True)
class TilePlan:
    """The output tiles of a ``shape`` image and the input window of each: the walk every front
    door of prediction takes (in memory, streamed, on a dask cluster)."""

    shape: tuple[int, int]
    tile: tuple[int, int]
    before: int  # context rows/columns before a tile
    after: int  # and after it

    @classmethod
    def of(cls, config: PredictConfig, model_config, shape: tuple[int, int]) -> TilePlan:
        before, after = context_margins(model_config, config.tta)
        return cls(tuple(shape), core_tile(config, model_config.multiple, shape), before, after)

    @property
    def ys(self) -> range:
        return range(0, self.shape[0], self.tile[0])

    @property
    def xs(self) -> range:
        return range(0, self.shape[1], self.tile[1])

    def __len__(self) -> int:
        return len(self.ys) * len(self.xs)

    def rows(self, y: int) -> np.ndarray:
        """Input rows of the window of the tile row at ``y``, mirrored at the border."""
        return reflect_index(np.arange(y - self.before, y + self.tile[0] + self.after), self.shape[0])

    def cols(self, x: int) -> np.ndarray:
        return reflect_index(np.arange(x - self.before, x + self.tile[1] + self.after), self.shape[1])

    def extent(self, y: int, x: int) -> tuple[int, int]:
        """Rows and columns of the tile at ``(y, x)`` inside the image."""
        return min(self.tile[0], self.shape[0] - y), min(self.tile[1], self.shape[1] - x)
