"""Does a change leave what napari-unet computes bit for bit the same? Trains two models for 150
steps (seed 0, CPU; semantic and instance, on the generated sample) and predicts with them and with
the three base models on the sample, a DSB image, an ISBI slice and the last U373 and HeLa frames,
all through the command line of the napari-unet that is imported; then compares two such folders.

    python -m benchmarks.identity --out after
    PYTHONPATH=OLD/src:. python -m benchmarks.identity --out before --inputs after/inputs   # another checkout
    python -m benchmarks.identity --compare before after
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import numpy as np

from benchmarks.datasets import DATA, add_data


def inputs(folder: Path, data: Path) -> dict[str, Path]:
    """The images and strokes, written once into ``folder`` (the sample is generated here, the
    real images are copied from ``data``)."""
    import shutil

    import tifffile

    from napari_unet.core.samples import make_sample, simulate_instance_strokes

    folder.mkdir(parents=True, exist_ok=True)
    s = make_sample(256, seed=0)
    tifffile.imwrite(folder / "sample.tif", s.image)
    tifffile.imwrite(folder / "strokes.tif", s.strokes)
    tifffile.imwrite(folder / "objects.tif", simulate_instance_strokes(s.instances, seed=0).astype(np.uint16))
    tifffile.imwrite(folder / "scene.tif", make_sample(384, seed=5).image)
    real = {"em.png": data / "isbi2012" / "images" / "25.png",
            "dsb.png": sorted((data / "dsb2018" / "images").glob("*.png"))[0],
            "u373.png": sorted((data / "ctc" / "phc-u373" / "images").glob("*.png"))[-1],
            "hela.png": sorted((data / "ctc" / "dic-hela" / "images").glob("*.png"))[-1]}
    for name, src in real.items():
        shutil.copyfile(src, folder / name)
    return {p.name: p for p in folder.iterdir()}


def run(out: Path, data: Path, given: Path | None = None) -> None:
    i = {p.name: p for p in given.iterdir()} if given else inputs(out / "inputs", data)

    def cli(*args):
        subprocess.run([sys.executable, "-m", "napari_unet.cli", *map(str, args)], check=True)

    common = ("--steps", 150, "--seed", 0, "--device", "cpu")
    cli("train", "--images", i["sample.tif"], "--labels", i["strokes.tif"], "--out", out / "sem.pt", *common)
    cli("train", "--images", i["sample.tif"], "--labels", i["objects.tif"], "--mode", "instance",
        "--out", out / "inst.pt", *common)
    for model, images, sub in [(out / "sem.pt", ["scene.tif"], "sem"), (out / "inst.pt", ["scene.tif"], "inst"),
                               ("nuclei", ["scene.tif", "dsb.png"], "nuclei"), ("em-membranes", ["em.png"], "em"),
                               ("cells", ["u373.png", "hela.png"], "cells")]:
        cli("predict", "--model", model, "--images", *[i[n] for n in images], "--out-dir", out / sub,
            "--probabilities", "--device", "cpu")


def compare(a: Path, b: Path) -> int:
    """Print each file's verdict; the number of files that differ."""
    import tifffile
    import torch

    bad = 0
    for name in ("sem.pt", "inst.pt"):
        wa, wb = (torch.load(p / name, weights_only=True)["state_dict"] for p in (a, b))
        same = wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)
        print(name, "weights identical" if same else "WEIGHTS DIFFER")
        bad += not same
    for p in sorted(a.glob("*/*.tif")):
        if p.parent.name == "inputs":
            continue
        x, y = tifffile.imread(p), tifffile.imread(b / p.relative_to(a))
        same = x.shape == y.shape and x.dtype == y.dtype and np.array_equal(x, y)
        print(p.relative_to(a), "identical" if same else f"DIFFER in {np.mean(x != y):.2e} of the values")
        bad += not same
    print("ALL IDENTICAL" if not bad else f"{bad} DIFFER")
    return bad


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data(ap)
    ap.add_argument("--out", type=Path, help="folder for this checkout's models and predictions")
    ap.add_argument("--inputs", type=Path, help="use the inputs another run wrote (DIR/inputs) instead of making them")
    ap.add_argument("--compare", type=Path, nargs=2, metavar=("A", "B"), help="compare two such folders")
    args = ap.parse_args(argv)
    if args.compare:
        return int(compare(*args.compare) > 0)
    if not args.out:
        ap.error("give --out DIR or --compare A B")
    run(args.out, args.data or DATA, args.inputs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
