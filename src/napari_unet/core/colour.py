"""Colour images for models that were trained on grey ones.

A model with one input channel (the ``nuclei`` base model, or any model trained on grey images)
given an RGB(A) image predicts and fine-tunes on it converted to grey, instead of refusing it:
by luminance, 0.299 R + 0.587 G + 0.114 B, the way the ``nuclei`` recipe converted its colour
images, or, when asked (``colour_to_grey="hematoxylin"``), by the hematoxylin channel of a colour
deconvolution (:func:`skimage.color.rgb2hed`), which stains nuclei in H&E tissue. A model
fine-tuned on converted images records how (``info.colour_to_grey``), and later predictions
convert the same way. The CLI and the widget say so in one line (:func:`notice`).

Luminance is the default because it measured better on the 20 colour (H&E) images of DSB2018:
zero-shot F1@0.5 0.698 against 0.641 for the hematoxylin channel (docs/benchmarks.md; the
``nuclei`` model saw those images in training, as luminance).
"""

from __future__ import annotations

import numpy as np

LUMINANCE = (0.299, 0.587, 0.114)

def conversion(model, channels: int, method: str | None = None) -> str | None:
    """How an image with ``channels`` channels becomes ``model``'s input: ``"luminance"`` or
    ``"hematoxylin"`` for a colour image and a grey model, None when it needs no conversion.
    ``method`` overrides what the model records (luminance if nothing)."""
    if model is None or model.config.in_channels != 1 or channels not in (3, 4):
        return None
    return method or str(model.info.colour_to_grey or "luminance")


def to_grey(zcyx, method: str):
    """``(Z, 3|4, Y, X)`` (numpy or dask; alpha ignored) as ``(Z, 1, Y, X)`` float32."""
    rgb = zcyx[:, :3]
    if method == "luminance":
        w = np.asarray(LUMINANCE, np.float32).reshape(1, 3, 1, 1)
        return (rgb.astype(np.float32) * w).sum(axis=1, keepdims=True)
    if _is_dask(rgb):
        return rgb.rechunk({1: 3}).map_blocks(_hematoxylin, chunks=(*rgb.chunks[:1], (1,), *rgb.chunks[2:]),
                                              dtype=np.float32)
    return _hematoxylin(np.asarray(rgb))


def _hematoxylin(rgb: np.ndarray) -> np.ndarray:
    from skimage.color import rgb2hed

    return rgb2hed(np.moveaxis(rgb, 1, -1), channel_axis=-1)[..., :1].astype(np.float32).transpose(0, 3, 1, 2)


def _is_dask(a) -> bool:
    return type(a).__module__.startswith("dask")


def notice(model, image_channels: int, method: str | None = None) -> str | None:
    """One line for the user when a colour image is converted for ``model``; None otherwise."""
    how = conversion(model, image_channels, method)
    if how is None:
        return None
    name = model.info.lineage
    whose = f"the model {name!r} was" if name else "the model was"
    rule = "luminance, 0.299 R + 0.587 G + 0.114 B" if how == "luminance" else "its hematoxylin channel (rgb2hed)"
    return f"{whose} trained on grey images: the colour image is converted to grey by {rule}."
