"""Which base model fits an image: the fingerprint rule of ``napari_unet.models.choice`` on images
the twins never saw.

    python -m benchmarks.base_model_choice --models DIR [--data ../shared/data] --out rows.jsonl
    python -m benchmarks.base_model_choice --summary rows.jsonl [--fits 3.0]

``DIR`` holds the twins (``nuclei-twin.pt``, ``em-membranes-twin.pt``, ``cells-twin.pt``, each with
the fingerprint of its own training images: ``scripts/train_base_models.py --twins-only``). The
images are ones each twin's training left out: 40 DSB2018 grey images of other sizes than 256²
(a seeded draw), ISBI slices 20-29, the evaluation frames of the two CTC cell sets. Every other image of a
kind is ``dev`` (where the threshold is chosen), the rest ``eval``. For each image: its distance
to each twin. The summary gives, per kind, the distances, how often the nearest model is the
right one, and what the rule suggests with the threshold: the right model, a wrong one, or none;
and, with the right model taken away (an image of a kind the package has no model for), how
often it still suggests one (a wrong one). Distances are the product's own
(:func:`napari_unet.models.choice.rank` over the candidates at hand).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from benchmarks import ctc
from benchmarks.common import add_out, emit, read_jsonl
from benchmarks.datasets import add_data, index

RIGHT = {"dsb": "nuclei", "isbi": "em-membranes", "phc-u373": "cells", "dic-hela": "cells"}


def items(data: Path) -> list[tuple[str, str, object]]:
    """``(kind, name, loader)`` of every image, in a fixed order."""
    import skimage.io

    rows = index(data / "dsb2018")
    held = [r for r in rows if r["channels"] != 3 and (r["height"], r["width"]) != (256, 256)]
    pick = sorted(np.random.default_rng(0).choice(len(held), 40, replace=False))
    out = [("dsb", held[i]["name"], data / "dsb2018" / "images" / f"{held[i]['name']}.png") for i in pick]
    out += [("isbi", f"{i:02d}", data / "isbi2012" / "images" / f"{i:02d}.png") for i in range(20, 30)]
    for name in ctc.SETS:
        out += [(name, r["name"], data / "ctc" / name / "images" / f"{r['name']}.png")
                for r in ctc.split(data, name, "eval")]
    return [(k, n, (lambda p=p: np.asarray(skimage.io.imread(p)))) for k, n, p in out]


def measure(args) -> None:
    from napari_unet.models.load import load_model
    from napari_unet.models.choice import rank

    models = {p.stem.removesuffix("-twin"): load_model(p) for p in sorted(args.models.glob("*-twin.pt"))}
    counts: dict[str, int] = {}
    for kind, name, load in items(args.data):
        half = "dev" if counts.get(kind, 0) % 2 == 0 else "eval"
        counts[kind] = counts.get(kind, 0) + 1
        image = load()
        others = {m: model for m, model in models.items() if m != RIGHT[kind]}
        row = {"kind": kind, "name": name, "half": half, "d": {f.name: f.distance for f in rank(image, models)},
               "without": {f.name: f.distance for f in rank(image, others)}}
        emit(row, args.out)


def outcome(d: dict, right: str, fits: float) -> str:
    """What the rule suggests: "right", "wrong" or "none"."""
    cand = {m: v for m, v in d.items() if v is not None}
    if not cand:
        return "none"
    best = min(cand, key=cand.get)
    if cand[best] > fits:
        return "none"
    return "right" if best == right else "wrong"


def summary(paths: list[Path], fits: float) -> None:
    rows = [r for p in paths for r in read_jsonl(p)]
    models = sorted({m for r in rows for m in r["d"]})
    print("| images | half | n | " + " | ".join(f"distance to `{m}`" for m in models)
          + f" | suggests (≤ {fits:g}): right / wrong / none | without its model: wrong / none |")
    print("|---|---|---|" + "---|" * len(models) + "---|---|")
    for kind in dict.fromkeys(r["kind"] for r in rows):
        for half in ("dev", "eval"):
            sel = [r for r in rows if r["kind"] == kind and r["half"] == half]
            if not sel:
                continue
            cells = []
            for m in models:
                v = np.array([r["d"][m] for r in sel if r["d"].get(m) is not None])
                cells.append(f"{np.median(v):.1f} ({v.min():.1f}–{v.max():.1f})" if len(v) else "–")
            right = RIGHT[kind]
            got = [outcome(r["d"], right, fits) for r in sel]
            tally = " / ".join(str(got.count(k)) for k in ("right", "wrong", "none"))
            alone = [outcome(r["without"], right, fits) for r in sel]
            left = f"{alone.count('wrong')} / {alone.count('none')}"
            print(f"| {kind} | {half} | {len(sel)} | " + " | ".join(cells) + f" | {tally} | {left} |")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", type=Path)
    add_data(ap)
    add_out(ap)
    ap.add_argument("--summary", type=Path, nargs="+")
    ap.add_argument("--fits", type=float, default=None, help="threshold (default: napari_unet.models.choice.FITS)")
    args = ap.parse_args(argv)
    if args.summary:
        from napari_unet.models.choice import FITS

        summary(args.summary, FITS if args.fits is None else args.fits)
        return 0
    if args.models is None or args.out is None:
        ap.error("--models and --out are needed to measure (or --summary to summarise)")
    measure(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
