"""Reading and writing images: TIFF, PNG and zarr (OME-Zarr too), one band at a time where they are large."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from napari_unet.core.config import UserInputError


def is_zarr(path: str | os.PathLike) -> bool:
    """Whether ``path`` names a zarr array or group (a folder ending in .zarr or holding zarr metadata)."""
    path = Path(path)
    return path.suffix.lower() == ".zarr" or _holds_zarr(path)


def _holds_zarr(path: Path) -> bool:
    """Whether ``path`` is a folder with zarr metadata (one that zarr wrote)."""
    return any((path / f).is_file() for f in ("zarr.json", ".zarray", ".zgroup"))


def read_image(path: str | os.PathLike):
    """Read a TIFF (any dimensionality) or PNG/JPEG image into a numpy array.

    A zarr array (or a group holding one array, or OME-Zarr's full-resolution array ``0``) is
    opened on demand instead: nothing is read until it is sliced.
    """
    path = Path(path)
    if is_zarr(path):
        return open_zarr(path)
    if not path.is_file():
        raise UserInputError(f"image file not found: {path}")
    suffix = path.suffix.lower()
    try:
        if suffix in (".tif", ".tiff"):
            import tifffile

            return tifffile.imread(path)
        if suffix in (".png", ".jpg", ".jpeg"):
            import skimage.io

            return np.asarray(skimage.io.imread(path))
    except Exception as err:
        raise UserInputError(f"cannot read image {path}: {type(err).__name__}: {err}") from None
    raise UserInputError(f"unsupported image format {suffix!r} for {path}; use TIFF, PNG or zarr.")


def open_zarr(path: str | os.PathLike):
    """Open a zarr array read-only, on demand."""
    import zarr

    path = Path(path)
    if not path.exists():
        raise UserInputError(f"zarr image not found: {path}")
    try:
        node = zarr.open(str(path), mode="r")
    except Exception as err:
        raise UserInputError(f"cannot open zarr image {path}: {type(err).__name__}: {err}") from None
    if isinstance(node, zarr.Group):
        names = sorted(name for name, _ in node.arrays())
        if "0" in names:  # OME-Zarr multiscales: full resolution
            return _ome_layout(node["0"], _ome_axes(node), path)
        if len(names) == 1:
            return node[names[0]]
        hint = f"; give one of them, e.g. {path / names[0]}" if names else ""
        raise UserInputError(f"{path} is a zarr group holding {len(names)} arrays {names}{hint}.")
    return node


def _ome_axes(group) -> list[str] | None:
    """Axis names of an OME-Zarr image (``["t", "c", "z", "y", "x"]``, ...), if it has them."""
    attrs = dict(group.attrs)
    multiscales = attrs.get("multiscales") or dict(attrs.get("ome") or {}).get("multiscales")  # 0.4 / 0.5
    try:
        axes = multiscales[0]["axes"]
        return [str(a["name"] if isinstance(a, dict) else a).lower() for a in axes]
    except (KeyError, IndexError, TypeError):
        return None


def _ome_layout(array, axes: list[str] | None, path: Path):
    """An OME-Zarr array as this package reads images: ``(Y, X)``, ``(Z, Y, X)``, or with
    channels ``(Z, Y, X, C)`` (``Z`` = 1 for a single plane), still read on demand."""
    known = axes is not None and len(set(axes)) == len(axes) == array.ndim
    if not (known and {"y", "x"} <= set(axes) <= {"t", "c", "z", "y", "x"}):
        return array  # no usable axes metadata: the layout is guessed as for other arrays
    import dask.array as da

    from napari_unet.core.data import storage_chunks

    sizes = dict(zip(axes, array.shape))
    if sizes.get("t", 1) > 1:
        raise UserInputError(
            f"{path} holds {sizes['t']} time points; napari-unet reads one: save the time point "
            "to predict as its own image (e.g. a zarr array of that time point)."
        )
    order = [axes.index(a) for a in ("t", "z", "y", "x", "c") if a in sizes]
    a = da.from_array(array, chunks=storage_chunks(array)).transpose(order)
    # (t, z, y, x, c) -> (Z, Y, X, C) with channels, else (Z, Y, X) or (Y, X); a single
    # plane with channels keeps Z = 1 so that channels are never taken for a z-stack
    if "t" in sizes:
        a = a[0]
    channels = sizes.get("c", 1)
    if "c" in sizes and channels == 1:
        a = a[..., 0]
    if channels > 1 and "z" not in sizes:
        a = a[None]
    elif channels == 1 and sizes.get("z") == 1:
        a = a[0]
    return a


def create_zarr(path: str | os.PathLike, shape: tuple[int, ...], dtype, chunk: int | tuple[int, int] = 1024):
    """A new zarr array at ``path`` (replacing one there), chunked ``chunk`` x ``chunk`` (or
    ``chunk = (rows, columns)``) in the last two axes."""
    import shutil

    import zarr

    path = Path(path)
    if path.exists():  # replace only a folder that zarr wrote (its metadata says so), never other files
        if not _holds_zarr(path):
            raise UserInputError(f"{path} exists and is not a zarr folder; move it away or choose another --out-dir.")
        shutil.rmtree(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    pair = (chunk, chunk) if isinstance(chunk, int) else tuple(chunk)
    chunks = tuple(1 for _ in shape[:-2]) + tuple(min(int(c), n) for c, n in zip(pair, shape[-2:]))
    return zarr.open_array(str(path), mode="w", shape=shape, chunks=chunks, dtype=dtype)


def write_image(path: str | os.PathLike, data: np.ndarray) -> Path:
    """Write ``data`` as a (zlib-compressed) TIFF."""
    import tifffile

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tifffile.imwrite(path, np.asarray(data), compression="zlib")
    return path
