"""Optional features: the packages each needs, and the one command that installs them.

Every message about a missing optional package comes from here, so each names the extra
(``napari-unet[napari]``, ``[distributed]``, ``[bioimageio]``) and the command for this install.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from napari_unet.core.config import UserInputError


@dataclass(frozen=True)
class Feature:
    extra: str  # the pyproject extra that installs it
    name: str  # what the user does with it
    modules: tuple[str, ...]  # what must import


FEATURES = (
    Feature("napari", "the napari widget", ("napari", "qtpy.QtWidgets", "magicgui", "superqt")),
    Feature("distributed", "prediction on a dask cluster (predict --workers / --scheduler)", ("distributed",)),
    Feature("bioimageio", "bioimage.io export and import", ("bioimageio.spec", "bioimageio.core")),
)


def feature(extra: str) -> Feature:
    return next(f for f in FEATURES if f.extra == extra)


def import_problems(feature: Feature) -> list[str]:
    """``"module: why"`` for each of the feature's modules that does not import (empty: usable)."""
    import importlib

    problems = []
    for module in feature.modules:
        try:
            importlib.import_module(module)
        except Exception as err:  # noqa: BLE001 (ImportError, or a Qt binding that is missing or broken)
            first = str(err).splitlines()[0] if str(err) else type(err).__name__
            problems.append(f"{module}: {first[:160]}")
    return problems


def install_command(extra: str) -> str:
    """The pip command that installs ``extra`` into this Python: ``-e <folder>[extra]`` for an
    editable install (as the README's commands make), else from the package index."""
    folder = _editable_folder()
    target = f'-e "{folder}[{extra}]"' if folder else f'"napari-unet[{extra}]"'
    return f"{sys.executable} -m pip install {target}"


def _editable_folder() -> str | None:
    import json
    from importlib import metadata
    from urllib.parse import unquote, urlparse

    try:
        text = metadata.distribution("napari-unet").read_text("direct_url.json")
        info = json.loads(text or "{}")
    except (metadata.PackageNotFoundError, ValueError):
        return None
    if not info.get("dir_info", {}).get("editable"):
        return None
    return unquote(urlparse(info.get("url", "")).path) or None


def require(extra: str) -> None:
    """Raise one clear error when a package of the optional feature ``extra`` is missing."""
    f = feature(extra)
    problems = import_problems(f)
    if problems:
        missing = ", ".join(p.split(":")[0] for p in problems)
        raise UserInputError(f"{f.name} needs {missing}, which is not installed or does not import "
                             f"({problems[0]}); install it with: {install_command(extra)}")
