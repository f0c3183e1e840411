"""One row per predicted object: label, area (pixels and calibrated), centroid, mean intensity.

>>> table = measure_objects(labels, image, scale=(0.5, 0.5))   # µm per pixel, say
>>> write_csv(table, "cells_objects.csv")

Measured with :func:`skimage.measure.regionprops_table`; a z-stack is measured slice by slice
(objects are numbered per slice), with a ``slice`` column.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from napari_unet.core.config import UserInputError


def measure_objects(labels: np.ndarray, image: np.ndarray | None = None,
                    scale: tuple[float, float] = (1.0, 1.0)) -> dict[str, np.ndarray]:
    """Columns of a table with one row per object of ``labels`` ((Y, X) or (Z, Y, X), 0 = background).

    ``image`` (the labels' spatial shape, optionally with channels last) adds the mean
    intensity per object (one column per channel); ``scale`` is the pixel size along (Y, X)
    for the calibrated area (``area`` in units²) and centroid (``centroid_y_units``...).
    """
    from skimage.measure import regionprops_table

    labels = np.asarray(labels)
    if labels.ndim not in (2, 3):
        raise UserInputError(f"labels must be (Y, X) or (Z, Y, X), got shape {labels.shape}.")
    planes = labels[None] if labels.ndim == 2 else labels
    pixels = None
    if image is not None:
        pixels = np.asarray(image)
        if labels.ndim == 2:
            pixels = pixels[None]
        if pixels.shape[: 3] != planes.shape:
            raise UserInputError(f"image of shape {np.asarray(image).shape} does not match labels of shape "
                                 f"{labels.shape}; measure objects on the image they were predicted from.")
    sy, sx = (float(v) for v in scale)
    props = ["label", "area", "centroid"] + (["intensity_mean"] if pixels is not None else [])
    parts = []
    for z, plane in enumerate(planes):
        t = regionprops_table(plane, intensity_image=None if pixels is None else pixels[z], properties=props)
        t = {("centroid_y" if k == "centroid-0" else "centroid_x" if k == "centroid-1" else k): v
             for k, v in t.items()}
        if labels.ndim == 3:
            t = {"slice": np.full(len(t["label"]), z), **t}
        parts.append(t)
    table = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    table["area_px"] = table.pop("area").astype(np.int64)
    table["area"] = table["area_px"] * sy * sx
    table["centroid_y_units"], table["centroid_x_units"] = table["centroid_y"] * sy, table["centroid_x"] * sx
    order = ["slice"] * (labels.ndim == 3) + ["label", "area_px", "area", "centroid_y", "centroid_x",
                                              "centroid_y_units", "centroid_x_units"]
    return {k: table[k] for k in order + [k for k in table if k.startswith("intensity_mean")]}


def write_csv(table: dict[str, np.ndarray], path: str | os.PathLike) -> Path:
    """Write a table of :func:`measure_objects` as CSV (a header row, then one row per object)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    columns = list(table)
    with open(path, "w", encoding="utf-8") as f:
        f.write(",".join(columns) + "\n")
        for row in zip(*(table[c] for c in columns)):
            f.write(",".join(_cell(v) for v in row) + "\n")
    return path


def _cell(value) -> str:
    if isinstance(value, (np.integer, int)):
        return str(int(value))
    return f"{float(value):.6g}"
