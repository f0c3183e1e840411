"""The bioimage.io description (spec 0.5) of an exported model, built with ``bioimageio.spec``'s classes."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from napari_unet.models.packages import CONFIG_KEY

def describe(model, files: dict[str, Path], settings, x: np.ndarray):
    """A ``bioimageio.spec.model.v0_5.ModelDescr`` for ``model`` whose package files are ``files``
    (``settings`` with its name and description filled in, as :func:`export_bioimageio` does)."""
    import torch
    from bioimageio.spec.model import v0_5 as bmz

    from napari_unet import __version__
    from napari_unet.bioimageio.common import INPUT, OUTPUT, UNET_CITATION, halo, min_size
    from napari_unet.models.checkpoint import model_payload

    m = model.config.multiple
    channel_names = ["intensity"] if x.shape[1] == 1 else [f"channel {i}" for i in range(x.shape[1])]
    space_in = [bmz.SpaceInputAxis(id=bmz.AxisId(a), size=bmz.ParameterizedSize(min=min_size(model), step=m))
                for a in ("y", "x")]
    raw = bmz.InputTensorDescr(
        id=bmz.TensorId(INPUT),
        description="the image, any intensity range (normalised by the preprocessing)",
        axes=[bmz.BatchAxis(), bmz.ChannelAxis(channel_names=channel_names), *space_in],
        test_tensor=bmz.FileDescr(source=files["input"]),
        sample_tensor=bmz.FileDescr(source=files["input_image"]),
        data=bmz.IntervalOrRatioDataDescr(type="float32"),
        pad=bmz.ReflectPadding(mode="reflect"),  # mirrored context, as in the paper (mode set: else not written)
        preprocessing=[bmz.ScaleRangeDescr(kwargs=bmz.ScaleRangeKwargs(
            axes=[bmz.AxisId("y"), bmz.AxisId("x")], min_percentile=model.norm.low,
            max_percentile=model.norm.high, eps=1e-6))],
    )
    space_out = [bmz.SpaceOutputAxisWithHalo(id=bmz.AxisId(a), halo=halo(model),
                                             size=bmz.SizeReference(tensor_id=bmz.TensorId(INPUT), axis_id=bmz.AxisId(a)))
                 for a in ("y", "x")]
    probabilities = bmz.OutputTensorDescr(
        id=bmz.TensorId(OUTPUT),
        description="softmax probability of each class; the class with the highest is the label",
        axes=[bmz.BatchAxis(), bmz.ChannelAxis(channel_names=[_channel(model, v) for v in model.class_values]),
              *space_out],
        test_tensor=bmz.FileDescr(source=files["output"]),
        sample_tensor=bmz.FileDescr(source=files["output_image"]),
        data=bmz.IntervalOrRatioDataDescr(type="float32", range=(0.0, 1.0)),
        postprocessing=[bmz.SoftmaxDescr(kwargs=bmz.SoftmaxKwargs(axis=bmz.AxisId("channel")))],
    )
    pytorch = bmz.Version(torch.__version__.split("+")[0])
    weights = {}
    if "state_dict" in files:
        weights["pytorch_state_dict"] = bmz.PytorchStateDictWeightsDescr(
            source=files["state_dict"], pytorch_version=pytorch,
            architecture=bmz.ArchitectureFromFileDescr(source=files["architecture"], callable=bmz.Identifier("UNet"),
                                                       kwargs=model.config.to_dict()))
    if "torchscript" in files:
        weights["torchscript"] = bmz.TorchscriptWeightsDescr(
            source=files["torchscript"], pytorch_version=pytorch,
            parent="pytorch_state_dict" if "state_dict" in files else None,
            comment="traced in eval mode by napari-unet")
    cite = [bmz.CiteEntry(text=UNET_CITATION[0], doi=bmz.Doi(UNET_CITATION[1]))] + _data_citations(model)
    return bmz.ModelDescr(
        name=settings.name,
        description=settings.description,
        authors=[bmz.Author(name=a) for a in (settings.authors or ["napari-unet user"])],
        cite=cite,
        license=bmz.LicenseId(settings.licence),
        documentation=bmz.FileDescr(source=files["readme"]),
        covers=[bmz.FileDescr(source=files["cover"])],
        tags=["napari-unet", "unet", "2d", "segmentation", model.mode, "pytorch"],
        inputs=[raw],
        outputs=[probabilities],
        weights=bmz.WeightsDescr(**weights),
        version="0.1.0",
        config=bmz.Config(**{
            "bioimageio": bmz.BioimageioConfig(architecture_type="U-Net"),
            # no fingerprint: hundreds of numbers that only models.choice reads, from shipped models
            CONFIG_KEY: {**model_payload(model, fingerprint=False), "exported_by": f"napari-unet {__version__}"},
        }),
    )


def _channel(model, value: int) -> str:
    return f"{value} {model.class_name(value)}"


def default_description(model) -> str:
    what = ", ".join(_channel(model, v) for v in model.class_values)
    return f"A U-Net trained with napari-unet ({model.mode} segmentation; classes {what})."


def _data_citations(model) -> list:
    from bioimageio.spec.model import v0_5 as bmz

    from napari_unet.bioimageio.common import KNOWN_DOIS

    text = model.info.citation or ""
    return [bmz.CiteEntry(text=f"{who} (training data)", doi=bmz.Doi(doi)) for who, doi in KNOWN_DOIS.items() if who in text]
