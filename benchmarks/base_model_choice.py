"""How sure each shipped base model is on images of each kind: can confidence pick the model?

    python -m benchmarks.base_model_choice [--data ../shared/data] [--out rows.jsonl]

Centre crops of 384² of 40 DSB2018 images (a seeded draw), ISBI slices 00, 03, …, 27 and every
4th frame of the two CTC cell sets; for each base model the mean top-class probability
(``conf``), the share of pixels above 0.9 (``sure``) and the mean normalised entropy (``ent``),
then per kind of image the mean and range of each.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
MODELS = ("nuclei", "em-membranes")


def crop(image: np.ndarray, size: int = 384) -> np.ndarray:
    h, w = image.shape[:2]
    y, x = max(0, (h - size) // 2), max(0, (w - size) // 2)
    return image[y : y + size, x : x + size]


def items(data: Path) -> list[tuple[str, Path]]:
    rows = json.loads((data / "dsb2018" / "index.json").read_text())
    pick = np.random.default_rng(0).choice(len(rows), 40, replace=False)
    out = [("dsb" + ("-rgb" if rows[i]["channels"] == 3 else ""), data / "dsb2018" / "images" / f"{rows[i]['name']}.png")
           for i in pick]
    out += [("isbi", data / "isbi2012" / "images" / f"{i:02d}.png") for i in range(0, 30, 3)]
    for name in ("phc-u373", "dic-hela"):
        frames = json.loads((data / "ctc" / name / "index.json").read_text())
        out += [(name, data / "ctc" / name / "images" / f"{r['name']}.png") for r in frames[::4]]
    return out


def statistics(p: np.ndarray) -> dict:
    top = p.max(0)
    q = np.clip(p, 1e-7, 1)
    ent = -(q * np.log(q)).sum(0) / np.log(p.shape[0])
    return {"conf": float(top.mean()), "sure": float((top > 0.9).mean()), "ent": float(ent.mean())}


def main(argv=None) -> int:
    import skimage.io

    from napari_unet.config import PredictConfig
    from napari_unet.io import load_model
    from napari_unet.predict import predict_labels

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    models = {n: load_model(n) for n in MODELS}
    rows = []
    for kind, path in items(args.data):
        image = crop(np.asarray(skimage.io.imread(path)))
        row = {"kind": kind, "name": path.stem}
        for n, m in models.items():
            p = predict_labels(m, image, PredictConfig(device="cpu"), probabilities=True).probabilities[0]
            row[n] = statistics(p)
        rows.append(row)
        if args.out:
            with args.out.open("a") as f:
                f.write(json.dumps(row) + "\n")
    print("| images | n | " + " | ".join(f"{m} {s}" for s in ("conf", "sure") for m in MODELS) + " |")
    print("|---|---|" + "---|" * 2 * len(MODELS))
    for kind in dict.fromkeys(r["kind"] for r in rows):
        sel = [r for r in rows if r["kind"] == kind]
        cells = []
        for s in ("conf", "sure"):
            for m in MODELS:
                v = np.array([r[m][s] for r in sel])
                cells.append(f"{v.mean():.2f} ({v.min():.2f}–{v.max():.2f})")
        print(f"| {kind} | {len(sel)} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
