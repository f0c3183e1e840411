"""Model files and image files.

A model file is a :func:`torch.save` of plain containers (dicts, lists, numbers, strings,
tensors): the weights, the architecture, the normalisation, the class values, the mode and
the training record. It is read with ``torch.load(weights_only=True)``, which refuses any
file that would run pickled code.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .config import ModelConfig, NormConfig, UserInputError

FORMAT = "napari-unet-model"
FORMAT_VERSION = 1


def save_model(model, path: str | os.PathLike, half: bool = False) -> Path:
    """Write ``model`` to ``path`` (conventionally ``*.pt``), atomically; ``half`` stores the
    weights in float16 (half the size; they are read back as float32)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".partial")
    tmp.write_bytes(model_to_bytes(model, half))
    os.replace(tmp, path)
    return path


def check_writable(path: str | os.PathLike) -> Path:
    """Make sure a model can be written to ``path`` (before spending time on training it)."""
    path = Path(path)
    if path.is_dir():
        raise UserInputError(f"{path} is a folder; give a file name such as {path / 'model.pt'}.")
    probe = path.with_name(path.name + ".partial")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        raise UserInputError(f"cannot write the model to {path} ({err.strerror or err}); "
                             "choose a file in a folder you can write to.") from None
    return path


def model_to_bytes(model, half: bool = False) -> bytes:
    """The bytes of a model file: what :func:`save_model` writes and :func:`model_from_bytes` reads."""
    import io

    import torch

    state = {k: v.detach().cpu().clone() for k, v in model.net.state_dict().items()}
    if half:
        state = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
    payload = {**model_payload(model), "state_dict": state}
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    return buffer.getvalue()


def model_payload(model) -> dict:
    """Everything in a model file but the weights, as plain containers."""
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "model_config": model.config.to_dict(),
        "class_values": list(model.class_values),
        "normalization": model.norm.to_dict(),
        "mode": model.mode,
        "history": _plain(model.history),
        "info": _plain(model.info),
    }


def model_from_bytes(data: bytes, source: str = "model data", device: str = "cpu"):
    """A model from the bytes of a model file (read with ``weights_only=True``)."""
    import io

    return _read(io.BytesIO(data), source, device)


def load_model(path: str | os.PathLike, device: str = "cpu"):
    """Read a model file written by :func:`save_model`, a named model (a shipped base model,
    ``"nuclei"``, ``"em-membranes"`` or ``"cells"``, or one saved with :func:`napari_unet.named_models.save_named`),
    or a bioimage.io package (``.zip``) exported by napari-unet.

    Raises
    ------
    UserInputError
        The file is missing, is not a napari-unet model, is corrupt, or carries pickled
        code (which is never run).
    """
    from .bmz_import import is_package, load_package
    from .named_models import looks_like_name, resolve

    path = Path(path)
    if is_package(path):
        return load_package(path, device)
    if not path.is_file() and looks_like_name(str(path)):
        path = resolve(str(path))
    if not path.is_file():
        raise UserInputError(f"model file not found: {path}; check the path or train a model first.")
    return _read(path, str(path), device)


def _read(source, path: str, device: str):
    """A model from a model file's bytes (a path or a binary file object); ``path`` names it in errors."""
    import pickle

    import torch

    try:
        payload = torch.load(source, map_location=device, weights_only=True)
    except pickle.UnpicklingError as err:
        raise UserInputError(
            f"refused to load {path}: it is not a plain napari-unet model file (it asks to run "
            f"pickled code, which was not run: {str(err).splitlines()[0][:160]}). Load only model files "
            "saved by napari-unet from sources you trust."
        ) from None
    except Exception as err:  # zip errors, truncated files, wrong formats
        raise UserInputError(
            f"cannot read model file {path}: it is corrupt or not a model file ({type(err).__name__}: "
            f"{str(err).splitlines()[0][:160] if str(err) else 'no details'})."
        ) from None
    return model_from_payload(payload, payload.get("state_dict") if isinstance(payload, dict) else None, path)


def model_from_payload(payload, state_dict, path: str):
    """A model from a model file's contents (:func:`model_payload`) and its weights; ``path`` names it in errors."""
    from .model import SegmentationModel

    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise UserInputError(f"{path} is not a napari-unet model file (no '{FORMAT}' marker).")
    if int(payload.get("format_version", 0)) > FORMAT_VERSION:
        raise UserInputError(f"{path} was written by a newer napari-unet; upgrade napari-unet to read it.")
    try:
        config = ModelConfig.from_dict(payload["model_config"])
        model = SegmentationModel(
            config,
            payload["class_values"],
            norm=NormConfig.from_dict(payload["normalization"]),
            mode=payload.get("mode", "semantic"),
            history=payload.get("history", {}),
            info=payload.get("info", {}),
        )
        model.net.load_state_dict(state_dict)  # float16 weights are copied into float32
    except (KeyError, RuntimeError, TypeError, ValueError, AttributeError) as err:
        raise UserInputError(f"model file {path} is incomplete or corrupt: {str(err).splitlines()[0][:200]}") from None
    model.net.eval()
    return model


def _plain(obj):
    """Keep only built-in containers and scalars (what ``weights_only`` loading accepts)."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, (bool, int, float, str)) or obj is None:
        return obj
    if isinstance(obj, np.generic):
        return obj.item()
    return str(obj)


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

    from .data import _chunks

    sizes = dict(zip(axes, array.shape))
    if sizes.get("t", 1) > 1:
        raise UserInputError(
            f"{path} holds {sizes['t']} time points; napari-unet reads one: save the time point "
            "to predict as its own image (e.g. a zarr array of that time point)."
        )
    order = [axes.index(a) for a in ("t", "z", "y", "x", "c") if a in sizes]
    a = da.from_array(array, chunks=_chunks(array)).transpose(order)
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
