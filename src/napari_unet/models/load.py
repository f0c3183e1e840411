"""Open a model by what the user names: a model file, a bioimage.io package, or a named model."""

from __future__ import annotations

import os
from pathlib import Path

from napari_unet.core.config import UserInputError
from napari_unet.models.checkpoint import read_model_file


def load_model(path: str | os.PathLike, device: str = "cpu"):
    """Read a model file written by :func:`save_model`, a named model (a shipped base model,
    ``"nuclei"``, ``"em-membranes"`` or ``"cells"``, or one saved with :func:`napari_unet.models.named.save_named`),
    or a bioimage.io package (``.zip``) exported by napari-unet.

    Raises
    ------
    UserInputError
        The file is missing, is not a napari-unet model, is corrupt, or carries pickled
        code (which is never run).
    """
    from napari_unet.models.packages import is_package, load_package
    from napari_unet.models.named import looks_like_name, resolve

    path = Path(path)
    if is_package(path):
        return load_package(path, device)
    if not path.is_file() and looks_like_name(str(path)):
        path = resolve(str(path))
    if not path.is_file():
        raise UserInputError(f"model file not found: {path}; check the path or train a model first.")
    return read_model_file(path, str(path), device)
