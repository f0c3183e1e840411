"""Export a model as a bioimage.io model package (spec 0.5), for deepImageJ, ilastik, QuPath,
bioimageio.core and the BioImage Model Zoo.

The package holds the network twice, as ``pytorch_state_dict`` weights (with :mod:`napari_unet.core.unet`,
which imports only torch, as the architecture) and as TorchScript traced in eval mode. Its input
is the raw image, normalised by the ``scale_range`` preprocessing exactly as napari-unet
normalises it (per image and channel, percentiles ``low`` and ``high``); its output is the
softmax class probabilities. The test output is napari-unet's own :func:`~napari_unet.predict.pipeline.predict`
of the test input, so a package that passes ``bioimage.io test`` reproduces napari-unet.

The description is built with ``bioimageio.spec``'s classes and written with its
``save_bioimageio_package``; ``bioimageio.*`` is imported only when exporting.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from napari_unet.bioimageio.common import min_size
from napari_unet.core.config import UserInputError
from napari_unet.models.packages import require_bioimageio

# DOIs of the data papers the shipped base models cite
TEST_SIZE = 256  # largest side of the test tensors


@dataclass
class ExportSettings:
    """What the package says about the model.

    ``name`` defaults to the model's name (or "napari-unet model"), ``authors`` to
    ``["napari-unet user"]``; ``licence`` is an SPDX identifier for the weights.
    ``weight_formats`` are written in this order; ``validate`` runs ``bioimageio.core``'s
    test on the package before it is written and reports the result in its README.
    """

    name: str | None = None
    authors: list[str] = field(default_factory=list)
    description: str | None = None
    licence: str = "CC-BY-4.0"
    weight_formats: tuple[str, ...] = ("pytorch_state_dict", "torchscript")
    validate: bool = True


    def __post_init__(self):
        import re

        if self.name is not None and not re.fullmatch(r"[A-Za-z0-9_+\- ()]{5,128}", self.name):
            raise UserInputError(f"package name {self.name!r} is not allowed: bioimage.io names have 5 to 128 "
                                 "letters, digits, spaces and _+-() only.")
        if any("/" in a or not a.strip() for a in self.authors):
            raise UserInputError(f"author names must be non-empty and without '/', got {self.authors}.")
        check_licence(self.licence)
        if not self.weight_formats or set(self.weight_formats) - {"pytorch_state_dict", "torchscript"}:
            raise UserInputError(f"weight formats must be pytorch_state_dict and/or torchscript, "
                                 f"got {list(self.weight_formats)}.")


@dataclass
class ExportResult:
    path: Path
    size_bytes: int
    validation: dict  # weight format -> "passed" or the failure, from bioimageio.core (empty if not run)


def check_exportable(model) -> None:
    """Refuse, with the reason, a model the bioimage.io spec cannot describe faithfully."""
    if model.norm.high <= 1.0:
        raise UserInputError(
            f"the model normalises to its {model.norm.high} percentile, but a bioimage.io package can only "
            "express an upper percentile above 1; retrain it with a higher upper percentile (the default 99.8)."
        )
    if model.steps_trained == 0:
        raise UserInputError("the model has not been trained yet; train it (or start from a base model) before exporting.")


def check_licence(licence: str) -> None:
    """Refuse a licence that is not an SPDX identifier (what bioimage.io accepts)."""
    require_bioimageio()
    from bioimageio.spec.model.v0_5 import LicenseId

    try:
        LicenseId(licence)
    except ValueError:
        raise UserInputError(f"licence {licence!r} is not an SPDX licence identifier; use one such as CC-BY-4.0, "
                             "CC0-1.0, MIT or BSD-3-Clause (see spdx.org/licenses).") from None


def sample_input(model, image=None) -> np.ndarray:
    """The package's test input ``(1, C, H, W)`` float32: a central crop of ``image`` (its
    middle slice for a z-stack), at most :data:`TEST_SIZE` per side (or the package's minimum
    size, for deeper networks) and a multiple of ``2**depth``; a synthetic cell scene when no
    image is given."""
    from napari_unet.core.data import to_zcyx

    m, limit = model.config.multiple, max(TEST_SIZE, min_size(model))
    if image is None:
        if model.config.in_channels != 1:
            raise UserInputError(f"the model takes {model.config.in_channels} channels; give a sample image with "
                                 "those channels for the package's test data.")
        from napari_unet.core.samples import make_sample

        image = make_sample(limit, seed=0).image
    img = to_zcyx(image if hasattr(image, "shape") else np.asarray(image), lazy=True)  # crop before reading
    if img.shape[1] != model.config.in_channels:
        raise UserInputError(f"the sample image has {img.shape[1]} channel(s) but the model takes "
                             f"{model.config.in_channels}; give an image like the training images.")
    _, _, h, w = img.shape
    th, tw = (min(s, limit) // m * m for s in (h, w))
    if min(th, tw) < min_size(model):
        raise UserInputError(f"the sample image is {h}x{w} pixels; the package's test data needs at least "
                             f"{min_size(model)}x{min_size(model)}, so give a larger image.")
    y, x = (h - th) // 2, (w - tw) // 2
    return np.ascontiguousarray(np.asarray(img[len(img) // 2, :, y : y + th, x : x + tw], np.float32)[None])


def sample_image(model, image) -> np.ndarray:
    """The central crop of :func:`sample_input` as a ``(1, Y, X, C)`` image, a small copy to
    hand to :func:`export_bioimageio` later (e.g. taken from a viewer layer that may change)."""
    return np.moveaxis(sample_input(model, image), 1, -1)


def reference_output(model, x: np.ndarray) -> np.ndarray:
    """The package's test output: napari-unet's normalisation and network (the copy it predicts
    with) applied to ``x`` ``(1, C, H, W)`` as it is, softmax class probabilities ``(1, K, H, W)``,
    float32 on the CPU. (napari-unet's own :func:`~napari_unet.predict.pipeline.predict` adds mirrored
    context around an image, as bioimage.io tools do with the halo.)"""
    import torch

    from napari_unet.core.config import PredictConfig
    from napari_unet.core.data import percentiles
    from napari_unet.predict.pipeline import TilePredictor

    config = PredictConfig(device="cpu", precision="fp32", object_margin=0)  # raw softmax, as the package
    tiles = TilePredictor(model, percentiles(x, model.norm), config, torch.device("cpu"))
    return tiles.probabilities(x).numpy().astype(np.float32)


def export_bioimageio(model, path: str | os.PathLike, image=None, settings: ExportSettings | None = None,
                      **kwargs) -> ExportResult:
    """Write ``model`` as a bioimage.io model package (a ``.zip``) to ``path``.

    Parameters
    ----------
    model
        A trained :class:`~napari_unet.core.model.SegmentationModel`.
    path
        The package file, conventionally ``NAME.zip``; written atomically.
    image
        A sample image (as for :func:`~napari_unet.predict.pipeline.predict`): a central crop becomes the
        package's test input and cover. A synthetic cell scene when None.
    settings, kwargs
        :class:`ExportSettings`, or its fields as keyword arguments.

    Raises
    ------
    UserInputError
        The bioimageio packages are missing, the model cannot be expressed in the spec, the
        sample image does not fit, or the package fails its own test (nothing is written then).
    """
    from napari_unet.bioimageio.describe import default_description, describe

    settings = settings or ExportSettings(**kwargs)  # checks the licence, so bioimageio.spec is there
    path = Path(path)
    if path.suffix.lower() != ".zip":
        raise UserInputError(f"a bioimage.io package is a .zip file; got {path.name!r}, use e.g. {path.stem}.zip.")
    check_exportable(model)
    settings = replace(settings, name=settings.name or model.info.name or "napari-unet model",
                       description=settings.description or model.info.description or default_description(model))
    x = sample_input(model, image)
    y = reference_output(model, x)
    from napari_unet.bioimageio.readme import write_readme

    with tempfile.TemporaryDirectory(prefix="napari-unet-export-") as tmp:
        folder = Path(tmp)
        files = _write_files(model, x, y, folder, settings.weight_formats)
        validation = {}
        if settings.validate:
            write_readme(model, folder / "README.md", settings, x, None)
            validation = _test(describe(model, files, settings, x))
            failed = {k: v for k, v in validation.items() if v != "passed"}
            if failed:
                raise UserInputError(f"the exported package failed bioimage.io's test, so it was not written: {failed}")
        write_readme(model, folder / "README.md", settings, x, validation)
        descr = describe(model, files, settings, x)
        from bioimageio.spec import save_bioimageio_package

        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial.zip")
        try:
            save_bioimageio_package(descr, output_path=partial)
            os.replace(partial, path)
        finally:
            partial.unlink(missing_ok=True)
    return ExportResult(path, path.stat().st_size, validation)


def _write_files(model, x, y, folder: Path, formats) -> dict[str, Path]:
    """The package's files, written into ``folder``: test tensors, weights, architecture, cover."""
    import shutil

    import torch

    from napari_unet.core import unet

    files = {"input": folder / "test_input.npy", "output": folder / "test_output.npy",
             "cover": folder / "cover.png", "readme": folder / "README.md"}
    np.save(files["input"], x)
    np.save(files["output"], y)
    import tifffile  # the same tensors as images, for people browsing the package

    files["input_image"], files["output_image"] = folder / "sample_input.tif", folder / "sample_output.tif"
    tifffile.imwrite(files["input_image"], x[0])
    tifffile.imwrite(files["output_image"], y[0])
    net = plain_network(model)
    if "pytorch_state_dict" in formats:
        files["state_dict"] = folder / "weights.pt"
        torch.save(net.state_dict(), files["state_dict"])
        files["architecture"] = folder / "unet.py"
        shutil.copyfile(unet.__file__, files["architecture"])
    if "torchscript" in formats:
        files["torchscript"] = folder / "weights_torchscript.pt"
        import warnings

        with torch.no_grad(), warnings.catch_warnings():
            # the size checks and the padding branch of ``forward`` are constants in the trace:
            # the package only accepts sizes that need no padding
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            warnings.simplefilter("ignore", DeprecationWarning)  # bioimage.io's torchscript format needs it
            from napari_unet.core.data import normalize

            traced = torch.jit.trace(net, torch.from_numpy(normalize(x, model.norm)), check_trace=False)
        traced.save(str(files["torchscript"]))
    from napari_unet.bioimageio.readme import write_cover

    write_cover(x, y, model, files["cover"])
    return files


def plain_network(model):
    """The model's network as :class:`napari_unet.core.unet.UNet` (the class the package names), float32, eval mode."""
    from napari_unet.core import unet

    net = unet.UNet(**model.config.to_dict())
    net.load_state_dict(model.net.state_dict())
    return net.float().eval()


def _test(descr) -> dict[str, str]:
    """Run bioimageio.core's test of each weight format on the CPU; ``{format: "passed" | failure}``."""
    from bioimageio.core import test_model

    out = {}
    for fmt in ("pytorch_state_dict", "torchscript"):
        if getattr(descr.weights, fmt) is None:
            continue
        summary = test_model(descr, weight_format=fmt, devices=["cpu"])
        out[fmt] = "passed" if summary.status == "passed" else _failures(summary)
    return out


def _failures(summary) -> str:
    errors = [f"{d.name}: {e.msg}" for d in summary.details for e in d.errors]
    return "; ".join(errors)[:600] or str(summary.status)
