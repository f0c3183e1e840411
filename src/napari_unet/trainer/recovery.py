"""The per-user recovery file: the newest trained model, autosaved while training.

It is written every minute while training and when training ends, and removed when the
user saves the model. After a crash (of napari, of the trainer, of the machine) the widget
offers to restore it; a new session's first autosave moves it aside (``*.previous.pt``)
rather than overwriting it. The CLI writes it when the model cannot be saved where asked.
"""

from __future__ import annotations

import os
import time
from pathlib import Path


def recovery_file() -> Path:
    """Where the recovery model lives: ``$NAPARI_UNET_RECOVERY`` if set, else the user's data folder."""
    override = os.environ.get("NAPARI_UNET_RECOVERY")
    if override:
        return Path(override)
    from platformdirs import user_data_dir

    return Path(user_data_dir("napari-unet", appauthor=False)) / "recovery-model.pt"


def describe(path: Path | None) -> str | None:
    """'the model autosaved at <time>' if a recovery model exists, else None (read without
    loading it: the widget asks this when it opens)."""
    if path is None or not path.is_file():
        return None
    return "the model autosaved at " + time.strftime("%Y-%m-%d %H:%M", time.localtime(path.stat().st_mtime))


def discard(path: Path | None) -> None:
    """Remove the recovery model (the user saved their own copy)."""
    if path is not None:
        path.unlink(missing_ok=True)


def previous(path: Path) -> Path:
    """Where an earlier session's recovery model is kept once a new session autosaves."""
    return path.with_name(path.stem + ".previous" + path.suffix)


def set_aside(path: Path) -> None:
    """Keep an earlier session's recovery model (replacing an older kept one)."""
    if path.is_file():
        path.replace(previous(path))
