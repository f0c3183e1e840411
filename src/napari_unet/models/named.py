"""Models known by name: the base models shipped with the package and the user's own.

Shipped base models (package data, ``base_models/<name>.pt``):

* ``nuclei``: instance mode, 1 = background, 2 = nucleus (DSB2018, CC0);
* ``em-membranes``: semantic, 1 = membrane, 2 = cell interior (ISBI 2012);
* ``cells``: instance mode, 1 = background, 2 = cell (whole cells in phase contrast and DIC,
  Cell Tracking Challenge PhC-C2DH-U373 and DIC-C2DH-HeLa).

A user's model saved under a name lives in ``<user data folder>/models/<name>.pt`` (or
``$NAPARI_UNET_MODELS``). Wherever a model file is asked for, a name may be given instead.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from napari_unet.core.config import UserInputError

# the shipped base models, with what each segments and in which images
SHIPPED = {
    "nuclei": "nuclei in fluorescence and bright-field images (colour ones, such as H&E, converted to grey)",
    "em-membranes": "cell membranes in serial-section electron microscopy",
    "cells": "whole cells in phase contrast and DIC light microscopy (cell bodies, not nuclei)",
}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass(frozen=True)
class NamedModel:
    name: str
    path: Path
    shipped: bool


def shipped_dir() -> Path:
    return Path(__file__).resolve().parent / "base_models"


def user_dir() -> Path:
    """Where named user models are saved: ``$NAPARI_UNET_MODELS`` if set, else the user's data folder."""
    override = os.environ.get("NAPARI_UNET_MODELS")
    if override:
        return Path(override)
    from platformdirs import user_data_dir

    return Path(user_data_dir("napari-unet", appauthor=False)) / "models"


def available() -> list[NamedModel]:
    """The shipped base models, then the user's named models (sorted by name)."""
    out = [NamedModel(n, shipped_dir() / f"{n}.pt", True) for n in SHIPPED if (shipped_dir() / f"{n}.pt").is_file()]
    folder = user_dir()
    if folder.is_dir():
        out += [NamedModel(p.stem, p, False) for p in sorted(folder.glob("*.pt")) if _NAME.match(p.stem)]
    return out


def looks_like_name(text: str) -> bool:
    """A bare name (``nuclei``, ``my-cells``), not a path to a file."""
    return bool(_NAME.match(text)) and not text.lower().endswith(".pt")


def resolve(name: str) -> Path:
    """The file of the model called ``name``; a clear error listing the names there are."""
    for entry in available():
        if entry.name == name:
            return entry.path
    names = ", ".join(e.name for e in available()) or "none"
    raise UserInputError(f"no model file {name!r} and no model of that name; named models: {names} "
                         "(see 'napari-unet models'), or give the path of a model file.")


def save_named(model, name: str) -> Path:
    """Save ``model`` as the user model ``name`` (replacing an earlier one of that name)."""
    from napari_unet.models.checkpoint import save_model

    if not _NAME.match(name):
        raise UserInputError(f"{name!r} cannot name a model: use letters, digits, '-', '_' and '.', "
                             "starting with a letter or digit (at most 64 characters).")
    if name in SHIPPED:
        raise UserInputError(f"{name!r} is a shipped base model; choose another name for your model.")
    return save_model(model, user_dir() / f"{name}.pt")


def summary(entry: NamedModel) -> str:
    """One line: name, what it segments (base models), where it comes from, mode and the label
    value to paint for each class."""
    from napari_unet.core.lines import line_classes
    from napari_unet.models.checkpoint import read_model_file

    model = read_model_file(entry.path, str(entry.path), "cpu")
    kind = f"base model for {SHIPPED[entry.name]}" if entry.shipped else f"your model, {entry.path}"
    size = model.info.object_diameter
    size = f"; learned objects about {size:.0f} px across" if size else ""
    lines = ", ".join(model.class_name(v) for v in line_classes(model))
    lines = f"; closes the lines of {lines}" if lines else ""
    return f"{entry.name}: {kind}; {model.mode}, paint {model.paint_guide()}{size}{lines}"
