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


def save_model(model, path: str | os.PathLike) -> Path:
    """Write ``model`` to ``path`` (conventionally ``*.pt``), atomically."""
    import torch

    path = Path(path)
    state = {k: v.detach().cpu().clone() for k, v in model.net.state_dict().items()}
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "model_config": model.config.to_dict(),
        "class_values": list(model.class_values),
        "normalization": model.norm.to_dict(),
        "mode": model.mode,
        "history": _plain(model.history),
        "state_dict": state,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".partial")
    torch.save(payload, tmp)
    os.replace(tmp, path)
    return path


def load_model(path: str | os.PathLike, device: str = "cpu"):
    """Read a model file written by :func:`save_model`.

    Raises
    ------
    UserInputError
        The file is missing, is not a napari-unet model, is corrupt, or carries pickled
        code (which is never run).
    """
    import pickle

    import torch

    from .model import SegmentationModel

    path = Path(path)
    if not path.is_file():
        raise UserInputError(f"model file not found: {path}; check the path or train a model first.")
    try:
        payload = torch.load(path, map_location=device, weights_only=True)
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
        )
        model.net.load_state_dict(payload["state_dict"])
    except (KeyError, RuntimeError, TypeError, ValueError) as err:
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


IMAGE_SUFFIXES = (".tif", ".tiff", ".png", ".jpg", ".jpeg")


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read a TIFF (any dimensionality) or PNG/JPEG image into a numpy array."""
    path = Path(path)
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
    raise UserInputError(f"unsupported image format {suffix!r} for {path}; use TIFF or PNG.")


def write_image(path: str | os.PathLike, data: np.ndarray) -> Path:
    """Write ``data`` as a (zlib-compressed) TIFF."""
    import tifffile

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tifffile.imwrite(path, np.asarray(data), compression="zlib")
    return path
