"""Images and strokes: axes, normalisation, targets, class weights and patch sampling.

Internally every image is a float32 stack ``(Z, C, Y, X)`` and every label image an integer
stack ``(Z, Y, X)``. Label value 0 means "not annotated" and is ignored by the loss; each
other painted value is a class.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from napari_unet.core.config import NormConfig, UserInputError

IGNORE = -1  # target value of pixels that are not annotated


def is_lazy(image) -> bool:
    """Whether ``image`` is an array-like that reads on demand (zarr, dask, h5py, ...), not numpy."""
    return not isinstance(image, np.ndarray) and all(hasattr(image, a) for a in ("shape", "dtype", "__getitem__"))


def to_zcyx(
    image: np.ndarray, channel_axis: int | None = None, rgb: bool | None = None, lazy: bool = False
) -> np.ndarray:
    """Bring an image to ``(Z, C, Y, X)``.

    Parameters
    ----------
    image
        ``(Y, X)`` greyscale, ``(Y, X, 3|4)`` RGB(A), ``(Z, Y, X)`` z-stack or
        ``(Z, Y, X, C)`` multichannel z-stack.
    channel_axis
        Axis holding channels, if not the last axis of an RGB image.
    rgb
        Whether a 3D array whose last axis has 3 or 4 entries is colour (default: guess yes).
    lazy
        Keep an on-demand array (zarr, dask, ...) on demand: the result is then a dask array
        that reads only what is sliced from it. Otherwise everything is read into memory.
    """
    if lazy and is_lazy(image):
        import dask.array as da

        a = image if isinstance(image, da.Array) else da.from_array(image, chunks=storage_chunks(image))
    else:
        a = np.asarray(image)
    if a.dtype == bool:
        a = a.astype(np.uint8)
    if not (np.issubdtype(a.dtype, np.integer) or np.issubdtype(a.dtype, np.floating)):
        raise UserInputError(f"image has unsupported data type {a.dtype}; use integers or floats.")
    while a.ndim > 4 and a.shape[0] == 1:  # e.g. a leading time axis without axes metadata
        a = a[0]
    if channel_axis is not None:
        a = np.moveaxis(a, channel_axis, -1)
        if a.ndim == 3:
            return np.moveaxis(a, -1, 0)[None]
        if a.ndim == 4:
            return np.moveaxis(a, -1, 1)
        raise UserInputError(f"image with a channel axis must be 3D or 4D, got shape {image.shape}.")
    if a.ndim == 2:
        return a[None, None]
    if a.ndim == 3:
        if rgb is None:
            rgb = a.shape[-1] in (3, 4) and min(a.shape[:2]) > 4
        if rgb:
            return np.moveaxis(a, -1, 0)[None]
        return a[:, None]
    if a.ndim == 4:
        return np.moveaxis(a, -1, 1)
    raise UserInputError(
        f"image must be 2D (Y, X), RGB (Y, X, 3), a z-stack (Z, Y, X) or (Z, Y, X, C); "
        f"got shape {np.shape(image)}."
    )


def storage_chunks(image):
    """Chunks of an on-demand array, for dask: its own where it has them, else dask's choice."""
    chunks = getattr(image, "chunks", None)
    if isinstance(chunks, tuple) and len(chunks) == len(image.shape) and all(isinstance(c, int) for c in chunks):
        return chunks
    return "auto"


def is_single_plane(raw: np.ndarray, zcyx: np.ndarray) -> bool:
    """Whether ``raw`` was a 2D image (greyscale or colour) rather than a z-stack. Read from the
    plane count alone, so it holds after a colour image is converted to grey."""
    return raw.ndim == 2 or (raw.ndim == 3 and zcyx.shape[0] == 1 and raw.shape[0] != 1)


def labels_to_zyx(labels: np.ndarray, image_zcyx: np.ndarray, name: str = "labels") -> np.ndarray:
    """Bring a label image to ``(Z, Y, X)`` matching an image in ``(Z, C, Y, X)``."""
    lab = np.asarray(labels)
    if not np.issubdtype(lab.dtype, np.integer) and lab.dtype != bool:
        if np.issubdtype(lab.dtype, np.floating) and np.all(np.mod(lab, 1) == 0):
            lab = lab.astype(np.int64)
        else:
            raise UserInputError(f"{name} must hold whole numbers (label values), got {lab.dtype}.")
    z, _, y, x = image_zcyx.shape
    if lab.ndim == 2:
        lab = lab[None]
    if lab.shape != (z, y, x):
        want = (y, x) if z == 1 else (z, y, x)
        raise UserInputError(
            f"{name} have shape {np.shape(labels)} but the image has spatial shape {want}; "
            "paint the strokes on a layer of the image's shape."
        )
    if lab.min() < 0:
        raise UserInputError(f"{name} contain negative values; use 0 for 'not annotated' and 1, 2, ... for classes.")
    return lab.astype(np.int64, copy=False)


def check_finite(image: np.ndarray, name: str = "image") -> None:
    """Raise a clear error for NaN or inf; checks a slice at a time (no full-size temporary)."""
    if not np.issubdtype(image.dtype, np.floating):
        return
    if is_lazy(image):  # a dask array: counted chunk by chunk
        import dask.array as da

        bad = int((~da.isfinite(image)).sum().compute())
    else:
        bad = sum(int(np.count_nonzero(~np.isfinite(np.asarray(image[i])))) for i in range(len(image)))
    if bad:
        raise UserInputError(
            f"{name} contains {bad} NaN or infinite value(s); replace them (e.g. with 0) before training or predicting."
        )


def percentiles(image_zcyx: np.ndarray, norm: NormConfig) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel low and high percentiles of a whole image (subsampled when large)."""
    check_finite(image_zcyx)
    lo, hi = [], []
    z, _, h, w = image_zcyx.shape
    step = int(np.ceil(np.sqrt(z * h * w / 4_000_000)))  # about 4 M samples, read without a full copy
    for c in range(image_zcyx.shape[1]):
        sample = np.asarray(image_zcyx[:, c, ::step, ::step])
        a, b = np.percentile(sample, [norm.low, norm.high])
        lo.append(a)
        hi.append(b)
    return np.asarray(lo, np.float32), np.asarray(hi, np.float32)


def apply_normalization(image_zcyx: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Map each channel's ``lo`` to 0 and ``hi`` to 1, as float32."""
    scale = 1.0 / np.maximum(hi - lo, 1e-6)
    shape = (1, -1, 1, 1)
    return (np.asarray(image_zcyx, dtype=np.float32) - lo.reshape(shape)) * scale.reshape(shape).astype(np.float32)


def normalize(image_zcyx: np.ndarray, norm: NormConfig) -> np.ndarray:
    """Per-image, per-channel percentile normalisation to roughly [0, 1], float32."""
    return apply_normalization(image_zcyx, *percentiles(image_zcyx, norm))


@dataclass
class Targets:
    """Class-index targets and per-pixel loss weights of one image.

    ``target`` is ``(Z, Y, X)`` int64 with :data:`IGNORE` where not annotated, ``weight``
    ``(Z, Y, X)`` float32 and zero where not annotated.
    """

    target: np.ndarray
    weight: np.ndarray


def class_values_of(labels: list[np.ndarray]) -> tuple[int, ...]:
    """Painted label values (classes) over all images, sorted; 0 is not a class."""
    values: set[int] = set()
    for lab in labels:
        values.update(int(v) for v in np.unique(lab) if v != 0)
    if not values:
        raise UserInputError(
            "no strokes found: the labels are all 0 (not annotated). Paint a few strokes of at "
            "least two classes (e.g. label 1 on background, label 2 on objects)."
        )
    if len(values) < 2:
        (v,) = values
        raise UserInputError(
            f"only one class is painted (label {v}); the network needs at least two. Paint strokes "
            f"with another label value too (e.g. {1 if v != 1 else 2} on the other class)."
        )
    return tuple(sorted(values))


def make_targets(labels_zyx: np.ndarray, class_values: tuple[int, ...]) -> np.ndarray:
    """Map painted values to class indices; 0 and unknown values become :data:`IGNORE`."""
    lut_size = max(int(labels_zyx.max()), max(class_values)) + 1
    lut = np.full(lut_size, IGNORE, dtype=np.int64)
    for i, v in enumerate(class_values):
        lut[v] = i
    return lut[labels_zyx]


def class_weights(targets: list[np.ndarray], n_classes: int) -> np.ndarray:
    """Inverse-frequency class weights over annotated pixels, normalised to mean 1 per pixel."""
    counts = np.zeros(n_classes, dtype=np.float64)
    for t in targets:
        counts += np.bincount(t[t >= 0].ravel(), minlength=n_classes)[:n_classes]
    freq = counts / max(counts.sum(), 1)
    w = np.where(counts > 0, 1.0 / np.maximum(freq, 1e-12), 0.0)
    w /= max((w * freq).sum(), 1e-12)
    return w.astype(np.float32)


@dataclass
class Slice2D:
    """One annotated 2D slice ready for sampling: image ``(C, Y, X)``, target and weight ``(Y, X)``."""

    image: np.ndarray
    target: np.ndarray
    weight: np.ndarray


class PatchSampler:
    """Choose patch centres on annotated pixels.

    Balanced (the default): each draw picks a class uniformly among the painted classes, then a
    pixel of that class uniformly among all slices (so a class painted on several images is
    sampled from each in proportion to its strokes there), as nnU-Net does for sparse labels.
    Otherwise every painted pixel is equally likely.
    """

    def __init__(self, slices: list[Slice2D], n_classes: int, rng: np.random.Generator, balanced: bool = True):
        self.rng = rng
        self.balanced = balanced
        self.n_classes = n_classes
        self._coords: list[np.ndarray] = []  # per class: rows of (slice, y, x)
        for k in range(n_classes):
            rows = []
            for i, s in enumerate(slices):
                yx = np.argwhere(s.target == k)
                if len(yx):
                    rows.append(np.column_stack([np.full(len(yx), i), yx]))
            self._coords.append(np.concatenate(rows) if rows else np.empty((0, 3), dtype=np.int64))
        self.classes = [k for k in range(n_classes) if len(self._coords[k])]
        if not self.classes:
            raise UserInputError("no annotated pixels to train on; paint some strokes first.")

    def counts(self) -> list[int]:
        """Annotated pixels per class, in class order."""
        return [len(c) for c in self._coords]

    def sample(self, n: int) -> np.ndarray:
        """``(n, 3)`` array of ``(slice, y, x)`` centres."""
        if self.balanced:
            ks = self.rng.choice(self.classes, size=n)
        else:
            sizes = np.array([len(self._coords[k]) for k in self.classes], np.float64)
            ks = self.rng.choice(self.classes, size=n, p=sizes / sizes.sum())
        out = np.empty((n, 3), dtype=np.int64)
        for j, k in enumerate(ks):
            c = self._coords[k]
            out[j] = c[self.rng.integers(len(c))]
        return out


def annotated_slices(
    images: list[np.ndarray], labels: list[np.ndarray], class_values: tuple[int, ...], norm: NormConfig,
    balance: bool = True, extra_weights=None, pixel_weights: list[np.ndarray] | None = None,
) -> list[Slice2D]:
    """Normalised 2D slices that carry strokes, with targets and class-balanced weights.

    ``images`` are ``(Z, C, Y, X)``, ``labels`` ``(Z, Y, X)``; slices without strokes are skipped.
    ``extra_weights`` multiply the class weights; ``pixel_weights`` (one ``(Z, Y, X)`` map per
    image, e.g. the border term of instance mode) are added to them on annotated pixels.
    """
    targets = [make_targets(lab, class_values) for lab in labels]
    n = len(class_values)
    cw = class_weights(targets, n) if balance else np.ones(n, dtype=np.float32)
    if extra_weights is not None:
        if len(extra_weights) != n:
            raise UserInputError(f"{len(extra_weights)} class weights given for {n} classes {class_values}.")
        cw = cw * np.asarray(extra_weights, dtype=np.float32)
    out = []
    for i, (img, t) in enumerate(zip(images, targets)):
        annotated = [z for z in range(t.shape[0]) if np.any(t[z] >= 0)]
        if not annotated:
            continue
        normed = apply_normalization(img[annotated], *percentiles(img, norm))
        for j, z in enumerate(annotated):
            w = cw[np.maximum(t[z], 0)]
            if pixel_weights is not None:
                w = w + pixel_weights[i][z]
            w = np.where(t[z] >= 0, w, 0.0).astype(np.float32)
            out.append(Slice2D(normed[j], t[z], w))
    return out


def thin_classes(slices: list[Slice2D], n_classes: int) -> tuple[int, ...]:
    """Classes painted only as lines one or two pixels wide (such as membranes down their middle).

    A class counts as thin when fewer than a fifth of its stroke pixels survive an erosion by a
    3x3 cross (each pixel needs its four neighbours painted): a 3-px wide stroke keeps its middle
    line, a 1- or 2-px line keeps nothing.
    """
    from scipy import ndimage as ndi

    kept, total = np.zeros(n_classes), np.zeros(n_classes)
    for s in slices:
        for k in np.unique(s.target[s.target >= 0]):
            mask = s.target == k
            total[k] += mask.sum()
            kept[k] += ndi.binary_erosion(mask).sum()
    return tuple(int(k) for k in range(n_classes) if total[k] > 0 and kept[k] < 0.2 * total[k])


def model_input(model, image, colour_to_grey: str | None = None):
    """``(raw, zcyx)``: the image as given (an array-like) and as a lazy ``(Z, C, Y, X)`` view,
    checked against the model's channels. A colour image for a grey model is converted to grey
    (:mod:`napari_unet.core.colour`; ``colour_to_grey`` overrides what the model records)."""
    from napari_unet.core.colour import conversion, to_grey

    raw = image if hasattr(image, "shape") else np.asarray(image)
    img = to_zcyx(raw, lazy=True)
    how = conversion(model, img.shape[1], colour_to_grey)
    if how is not None:
        img = to_grey(img, how)
    c = model.config.in_channels
    if img.shape[1] != c:
        raise UserInputError(
            f"the model was trained on {c} channel(s) but the image has {img.shape[1]}; "
            "use an image with the same channels as the training images."
        )
    return raw, img
