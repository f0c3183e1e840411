"""The real data the benchmarks read, from ``../shared/data`` beside the repository (``--data``
elsewhere): ISBI 2012 slices, DSB2018 nuclei and the split by size that tests a shift, and the
folders of TIFFs that ``isbi_strokes`` and ``dsb_strokes`` prepare. The Cell Tracking Challenge
frames and their split by time are in :mod:`benchmarks.ctc`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def add_data(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--data", type=Path, default=DATA, help=f"data root (default: {DATA})")


def index(root: Path) -> list[dict]:
    """The rows of ``root/index.json`` (one per image: name, size, channels, ...)."""
    return json.loads((Path(root) / "index.json").read_text())


# ---- ISBI 2012 --------------------------------------------------------------------------------
def isbi_root(data: Path) -> Path:
    """The folder holding ``images/`` and ``labels/``: ``data/isbi2012`` or ``data`` itself; exit if neither."""
    for root in (data / "isbi2012", data):
        if (root / "images" / "00.png").is_file() and (root / "labels" / "00.png").is_file():
            return root
    sys.exit(f"ISBI 2012 data not found under {data}: expected {data}/isbi2012/images/00.png and "
             f"labels/00.png (.. 29.png); pass --data PATH.")


def isbi_slice(root: Path, i: int) -> tuple[np.ndarray, np.ndarray]:
    """Image (uint8) and truth recoded to 1 = membrane, 2 = interior."""
    import skimage.io

    image = np.asarray(skimage.io.imread(root / "images" / f"{i:02d}.png"))
    raw = np.asarray(skimage.io.imread(root / "labels" / f"{i:02d}.png"))
    return image, np.where(raw > 127, 2, 1).astype(np.uint8)


# ---- DSB2018 ----------------------------------------------------------------------------------
def dsb_root(data: Path) -> Path:
    """The folder holding ``images/``, ``labels/`` and ``index.json``: ``data/dsb2018`` or ``data``; exit if neither."""
    for root in (data / "dsb2018", data):
        if (root / "index.json").is_file() and (root / "images").is_dir() and (root / "labels").is_dir():
            return root
    sys.exit(f"DSB2018 data not found under {data}: expected {data}/dsb2018/index.json, images/<name>.png "
             f"and labels/<name>.png; pass --data PATH.")


def dsb_image(root: Path, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Greyscale image (2D) and uint16 instance labels (0 = background)."""
    import skimage.io

    image = np.asarray(skimage.io.imread(root / "images" / f"{name}.png"))
    labels = np.asarray(skimage.io.imread(root / "labels" / f"{name}.png")).astype(np.uint16)
    if image.ndim != 2 or image.shape != labels.shape:
        sys.exit(f"{name}: image {image.shape} is not greyscale or does not match labels {labels.shape}")
    return image, labels


def dsb_shifted(split: str, data: Path = DATA) -> tuple[list[str], list[str]]:
    """Names of the split by size, the same for every seed: 40 training images of 256², and for
    ``dev`` 30 images of 360², for ``eval`` every greyscale image of another size."""
    grey = [r for r in index(data / "dsb2018") if r["channels"] == 1]
    small = sorted(r["name"] for r in grey if (r["height"], r["width"]) == (256, 256))
    mid = sorted(r["name"] for r in grey if (r["height"], r["width"]) == (360, 360))
    other = sorted(r["name"] for r in grey if (r["height"], r["width"]) not in ((256, 256), (360, 360)))
    rng = np.random.default_rng(0)  # fixed: every seed trains on the same images
    train = [small[i] for i in rng.permutation(len(small))[:40]]
    dev = [mid[i] for i in rng.permutation(len(mid))[:30]]
    return train, dev if split == "dev" else other


# ---- prepared folders -------------------------------------------------------------------------
def write_tif(folder: Path, sub: str, name: str, data: np.ndarray) -> None:
    """``folder/sub/name.tif``, zlib-compressed (the layout of a prepared folder)."""
    import tifffile

    (folder / sub).mkdir(parents=True, exist_ok=True)
    tifffile.imwrite(folder / sub / f"{name}.tif", data, compression="zlib")


def read_prepared(folder: Path, labels: str = "strokes"):
    """A folder written by ``isbi_strokes`` or ``dsb_strokes``: the training images, their
    ``labels`` (``strokes`` or ``dense``) and the ``(image, truth)`` evaluation pairs, in name order."""
    import tifffile

    def read(sub):
        return [tifffile.imread(p) for p in sorted(Path(folder).glob(f"{sub}/*.tif"))]

    return read("images"), read(labels), list(zip(read("eval_images"), read("eval_truth")))
