"""Which base model fits an image: the one whose training images look most like it.

Each shipped base model keeps a fingerprint of its training images (``info.fingerprint``):
one short descriptor per image of what the image looks like at a glance, whatever the network
learned: the spread of its normalised intensities, and how much edge and blob structure it has
at scales of 1 to 8 pixels (gradient magnitude and Laplacian of Gaussian), averaged over a few
crops. An image's distance to a model is that to the nearest of its training images
(descriptors standardised over all candidate models' images), in units of how near the model's
own training images lie to each other (their 95th percentile). The nearest model is suggested
when its distance is at most :data:`FITS`.

Chosen by measurement (``benchmarks/base_model_choice.py``, docs/benchmarks.md): a model's own
confidence cannot pick it (``em-membranes`` is as sure of itself on DIC cells as on EM), nor can
the distance in its own bottleneck features (``nuclei``, trained on varied images, finds EM
slices and phase-contrast cells as close as new nuclei images). :data:`FITS` was set on the
dev half of held-out images of each kind, counting a wrong suggestion twice as bad as none.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CROP = 256  # side of the crops whose descriptors are averaged
SCALES = (1, 2, 4, 8)
FITS = 2.0
VERSION = 1  # of the descriptor: fingerprints of another version are not compared


@dataclass(frozen=True)
class Fit:
    name: str
    distance: float  # in units of the model's training images' 95th-percentile distance to each other


def _crops(plane: np.ndarray, size: int) -> list[np.ndarray]:
    """Up to five crops of a ``(Y, X)`` plane: the centre and the four quadrants' centres
    (fewer, down to the whole plane, when it is small)."""
    h, w = plane.shape
    sh, sw = min(size, h), min(size, w)
    corners = set()
    for cy, cx in ((h // 2, w // 2), (h // 4, w // 4), (h // 4, 3 * w // 4), (3 * h // 4, w // 4), (3 * h // 4, 3 * w // 4)):
        corners.add((int(np.clip(cy - sh // 2, 0, h - sh)), int(np.clip(cx - sw // 2, 0, w - sw))))
    return [plane[y : y + sh, x : x + sw] for y, x in sorted(corners)]


def descriptor(plane) -> np.ndarray:
    """18 numbers describing a grey ``(Y, X)`` image (numpy or dask): intensity percentiles after
    percentile normalisation, per scale the mean and spread of the gradient magnitude and the mean
    absolute Laplacian of Gaussian (scale-normalised), and the skewness; the mean over crops.
    Only the crops and, for the percentiles, about 4 M samples of a large image are read."""
    from scipy import ndimage as ndi

    h, w = plane.shape
    step = int(np.ceil(np.sqrt(h * w / 4_000_000)))  # 1 for images up to 4 Mpx
    lo, hi = np.percentile(np.asarray(plane[::step, ::step], np.float32), [1, 99.8])
    scale = max(float(hi - lo), 1e-6)
    rows = []
    for crop in _crops(plane, CROP):
        c = (np.asarray(crop, np.float32) - lo) / scale
        f = list(np.percentile(c, [5, 25, 50, 75, 95]))
        for s in SCALES:
            grad = ndi.gaussian_gradient_magnitude(c, s) * s
            f += [grad.mean(), grad.std(), (np.abs(ndi.gaussian_laplace(c, s)) * s * s).mean()]
        f.append(float(((c - c.mean()) ** 3).mean() / (c.std() ** 3 + 1e-6)))
        rows.append(f)
    return np.mean(rows, 0)


def image_plane(model, image):
    """The middle plane of ``image`` as ``model`` takes it (colour converted for a grey model),
    its channels averaged; lazy where the image is. Raises UserInputError when the model cannot
    take the image."""
    from napari_unet.core.data import model_input

    _, img = model_input(model, image)
    plane = img[img.shape[0] // 2]
    return plane[0] if plane.shape[0] == 1 else plane.mean(axis=0)


def fingerprint(images) -> dict:
    """The fingerprint of a model trained on ``images`` (grey ``(Y, X)`` arrays)."""
    return {"version": VERSION, "descriptors": [[round(float(v), 5) for v in descriptor(im)] for im in images]}


def _prints(models: dict) -> dict:
    out = {}
    for name, model in models.items():
        fp = model.info.fingerprint or {}
        if fp.get("version") == VERSION and len(fp.get("descriptors", ())) >= 2:
            out[name] = np.asarray(fp["descriptors"], np.float64)
    return out


def rank(image, models: dict) -> list[Fit]:
    """``models`` (name -> model) with a fingerprint that can take ``image``, nearest first."""
    from scipy.spatial.distance import cdist

    from napari_unet.core.config import UserInputError

    prints = _prints(models)
    planes = {}
    for name in list(prints):
        try:
            planes[name] = image_plane(models[name], image)
        except UserInputError:  # other channels than the model's
            del prints[name]
    if not prints:
        return []
    pooled = np.concatenate(list(prints.values()))
    mean, std = pooled.mean(0), pooled.std(0) + 1e-6
    fits = []
    for name, train in prints.items():
        d = descriptor(planes[name])
        t = (train - mean) / std
        own = cdist(t, t)
        np.fill_diagonal(own, np.inf)
        scale = max(float(np.percentile(own.min(1), 95)), 1e-6)
        fits.append(Fit(name, float(cdist(((d - mean) / std)[None], t).min()) / scale))
    return sorted(fits, key=lambda f: f.distance)


def suggest(image, models: dict | None = None) -> Fit | None:
    """The base model whose training images ``image`` looks like (the nearest, if within
    :data:`FITS`), or None when none fits. ``models`` defaults to the shipped base models."""
    if models is None:
        from napari_unet.models.load import load_model
        from napari_unet.models.named import available

        models = {e.name: load_model(e.path) for e in available() if e.shipped}
    fits = rank(image, models)
    return fits[0] if fits and fits[0].distance <= FITS else None
