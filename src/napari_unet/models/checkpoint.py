"""Model files and image files.

A model file is a :func:`torch.save` of plain containers (dicts, lists, numbers, strings,
tensors): the weights, the architecture, the normalisation, the class values, the mode, what the model
is and how it was trained (:mod:`napari_unet.core.record`). It is read with ``torch.load(weights_only=True)``, which refuses any
file that would run pickled code.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from napari_unet.core.config import ModelConfig, NormConfig, UserInputError

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


def model_payload(model, fingerprint: bool = True) -> dict:
    """Everything in a model file but the weights, as plain containers; without the model's
    fingerprint (:mod:`napari_unet.models.choice`) unless ``fingerprint``."""
    from dataclasses import replace

    info = model.info if fingerprint else replace(model.info, fingerprint=None)
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "model_config": model.config.to_dict(),
        "class_values": list(model.class_values),
        "normalization": model.norm.to_dict(),
        "mode": model.mode,
        "history": _plain(model.history.to_dict()),
        "info": _plain(info.to_dict()),
    }


def model_from_bytes(data: bytes, source: str = "model data", device: str = "cpu"):
    """A model from the bytes of a model file (read with ``weights_only=True``)."""
    import io

    return read_model_file(io.BytesIO(data), source, device)


def read_model_file(source, path: str, device: str):
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
    from napari_unet.core.model import SegmentationModel
    from napari_unet.core.record import ModelInfo, TrainingHistory

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
            history=TrainingHistory.from_dict(payload.get("history")),
            info=ModelInfo.from_dict(payload.get("info")),
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


