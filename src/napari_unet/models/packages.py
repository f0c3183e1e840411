"""Load a bioimage.io model package that napari-unet exported (see :mod:`napari_unet.bioimageio.export`)."""

from __future__ import annotations

import os
from pathlib import Path

from napari_unet.core.config import UserInputError


def is_package(path: str | os.PathLike) -> bool:
    """Whether ``path`` looks like a bioimage.io model package: a ``.zip`` or an ``rdf.yaml``."""
    path = Path(path)
    return path.suffix.lower() == ".zip" or path.name.lower() in ("rdf.yaml", "bioimageio.yaml")


def load_package(path: str | os.PathLike, device: str = "cpu"):
    """The :class:`~napari_unet.core.model.SegmentationModel` of a package exported by napari-unet,
    ready to predict or to train further. Its weights are read with ``weights_only=True``.

    Raises
    ------
    UserInputError
        The bioimageio packages are missing, the file is not a valid model package, or the
        package was not exported by napari-unet (napari-unet cannot fine-tune other networks).
    """
    import io

    import torch

    from napari_unet.models.packages import CONFIG_KEY
    from napari_unet.models.packages import require_bioimageio
    from napari_unet.models.checkpoint import model_from_payload

    path = Path(path)
    if not path.is_file():
        raise UserInputError(f"model package not found: {path}; check the path.")
    require_bioimageio()
    from bioimageio.spec import load_model_description

    try:
        descr = load_model_description(path, perform_io_checks=False)
    except Exception as err:  # invalid descriptions, broken archives, other resource types
        raise UserInputError(f"{path} is not a valid bioimage.io model package: {str(err).splitlines()[0][:200]}") from None
    ours = (descr.config.model_extra or {}).get(CONFIG_KEY)
    weights = descr.weights.pytorch_state_dict
    if isinstance(ours, dict) and weights is None:
        raise UserInputError(f"{path} was exported by napari-unet without pytorch_state_dict weights, which napari-unet "
                             "needs to load it; export the model again with them (the default).")
    if not isinstance(ours, dict):
        raise UserInputError(
            f"{path} is the bioimage.io model {descr.name!r}, which napari-unet did not export; napari-unet can only "
            "load and train further its own packages. Run that model with a bioimage.io tool (bioimageio.core, "
            "deepImageJ, ilastik) instead."
        )
    try:
        state = torch.load(io.BytesIO(weights.get_reader().read()), map_location=device, weights_only=True)
    except Exception as err:
        raise UserInputError(f"cannot read the weights in {path}: {str(err).splitlines()[0][:200]}") from None
    return model_from_payload(ours, state, str(path))


def require_bioimageio() -> None:
    """Raise a clear error when the optional bioimage.io packages are missing."""
    from napari_unet.core.extras import require

    require("bioimageio")


CONFIG_KEY = "napari_unet"  # where the package's config keeps what napari-unet needs to load it again
