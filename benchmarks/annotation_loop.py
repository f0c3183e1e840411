"""The annotation loop, simulated: paint a little, look at the prediction, paint where it is wrong.

    python -m benchmarks.annotation_loop --task dsb|isbi [--split dev|eval] [--seeds 0 1 2] [--rounds 12]
        [--seconds 5 | --round-steps 20] [--runs unet-error base-error unet-random unet-suggest rf-error]
        [--label TEXT] [--parallel 1] [--out F.jsonl]
    python -m benchmarks.annotation_loop --summary F.jsonl [F2.jsonl ...] [--plot F.png]

An annotator with the dense truth of a few images starts from one stroke per class (instance
mode: one whole object and one background stroke) and then, each round, lets training go on
for ``--seconds``, looks at the prediction of its images, and paints one stroke. It drives the
engine the widget's Live mode uses: one :class:`~napari_unet.trainer.client.Trainer` in a child
process, strokes sent as changed regions (:meth:`~napari_unet.trainer.client.Trainer.update_strokes`),
predictions of the images asked of the child (:meth:`~napari_unet.trainer.client.Trainer.predict_region`,
with the uncertainty the widget shows). Training is paused while the held-out images are
scored, so a round's seconds are training and looking only.

Runs (``start-place``): ``unet`` starts from scratch, ``base`` from a base model that never saw
these images (``--base``: the benchmark twin, see scripts/train_base_models.py), ``rf`` is a
random forest retrained on all strokes each round (ilastik-like). Places: ``error`` paints the
true class down the middle of the largest wrong area (instance mode: the largest missed or
badly cut object, painted whole, or a background stroke through the largest false object);
``random`` paints at a random unpainted pixel; ``suggest`` at the best place of
:func:`napari_unet.review.suggest.suggest_places`. At ``random`` and ``suggest`` the truth decides
the class: an object there is painted whole, otherwise a stroke of the class at that pixel.
Strokes follow the truth region's skeleton for up to 12 px either side of the chosen point
with a round brush of a radius drawn from 1-8 px per stroke, clipped to the region.

Tasks: ``isbi`` paints on ISBI 2012 slice 20 and scores slices 24, 27 (pixel and adapted Rand
error); ``dsb`` paints on two DSB2018 360² images and scores six others of that size (F1@0.5,
area ratio). The twins never saw either (em-membranes-twin: slices 00-19; nuclei-twin: only
256² and colour images).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks.common import (add_out, add_seeds, add_split, add_threads, append_jsonl, emit, mean_sd, read_jsonl,
                               set_threads)
from benchmarks.datasets import DATA, dsb_image, dsb_shifted, isbi_slice

RUNS = ("unet-error", "base-error", "unet-random", "unet-suggest", "rf-error", "unet-suggestnear")
METRICS = {"isbi": ("adapted_rand_error", "pixel_error"), "dsb": ("f1_50", "area_ratio")}
LENGTH = 12  # px of skeleton either side of a stroke's point


# ---- data -------------------------------------------------------------------------------------
def task_data(task: str, split: str = "eval"):
    """Images to paint on, their truth, held-out images and their truth, and the mode."""
    if task == "isbi":
        root = DATA / "isbi2012"
        pool = [isbi_slice(root, 20 if split == "eval" else 21)]
        held = [isbi_slice(root, i) for i in ((24, 27) if split == "eval" else (23, 26))]
        mode = "semantic"
    else:
        names = dsb_shifted("dev")[1]  # 360² images, never seen by the nuclei twin
        pool, held = (names[:2], names[2:8]) if split == "eval" else (names[8:10], names[10:16])
        pool = [dsb_image(DATA / "dsb2018", n) for n in pool]
        held = [dsb_image(DATA / "dsb2018", n) for n in held]
        mode = "instance"
    return [p[0] for p in pool], [p[1] for p in pool], [h[0] for h in held], [h[1] for h in held], mode


# ---- painting ---------------------------------------------------------------------------------
def stroke_at(region: np.ndarray, y: int, x: int, radius: int) -> np.ndarray:
    """A stroke down the middle of the connected part of ``region`` that holds (y, x): its
    skeleton within LENGTH px of the point, painted with a disk, clipped to that part."""
    from scipy import ndimage as ndi
    from skimage.morphology import disk, skeletonize

    parts, _ = ndi.label(region)
    part = parts == parts[y, x]
    y0, y1, x0, x1 = max(0, y - LENGTH), y + LENGTH + 1, max(0, x - LENGTH), x + LENGTH + 1
    line = np.zeros(region.shape, bool)
    line[y0:y1, x0:x1] = skeletonize(part[y0:y1, x0:x1])
    if not line.any():
        line[y, x] = True
    return ndi.binary_dilation(line, structure=disk(radius)) & part


def semantic_truth(truth: np.ndarray, mode: str) -> np.ndarray:
    return np.where(truth > 0, 2, 1).astype(np.uint8) if mode == "instance" else truth


class Annotator:
    """Paints strokes from the truth into ``strokes`` (one int32 array per image)."""

    def __init__(self, truths: list[np.ndarray], mode: str, seed: int):
        self.truths, self.mode = truths, mode
        self.classes = [semantic_truth(t, mode) for t in truths]
        self.strokes = [np.zeros(t.shape, np.int32) for t in truths]
        self.next_id = [2] * len(truths)
        self.rng = np.random.default_rng(seed)
        self.count = 0

    def paint_at(self, i: int, y: int, x: int) -> tuple[slice, slice]:
        """One stroke at (y, x) of image ``i``: the object there whole (instance mode, not yet
        painted), else a stroke of the true class; returns the changed box."""
        truth, s = self.truths[i], self.strokes[i]
        if self.mode == "instance" and truth[y, x] > 0:
            mask = truth == truth[y, x]
            value = self.next_id[i]
            self.next_id[i] += 1
        else:
            c = int(self.classes[i][y, x])
            mask = stroke_at(self.classes[i] == c, y, x, int(self.rng.integers(1, 9)))
            value = 1 if self.mode == "instance" else c
        mask &= s == 0
        if not mask.any():
            return None
        s[mask] = value
        self.count += 1
        ys, xs = np.nonzero(mask)
        return slice(ys.min(), ys.max() + 1), slice(xs.min(), xs.max() + 1)

    def paintable(self, i: int) -> np.ndarray:
        """Pixels where a new stroke can start: unpainted, and not on an object painted whole."""
        free = self.strokes[i] == 0
        if self.mode == "instance":
            done = np.isin(self.truths[i], np.unique(self.truths[i][self.strokes[i] >= 2]))
            free &= ~(done & (self.truths[i] > 0))
        return free

    def start(self) -> list:
        """A stroke of each class on the first image (instance: a whole object, a background stroke)."""
        boxes = []
        for c in (1, 2):
            ys, xs = np.nonzero(self.paintable(0) & (self.classes[0] == c))
            k = int(self.rng.integers(len(ys)))
            boxes.append((0, self.paint_at(0, int(ys[k]), int(xs[k]))))
        return boxes

    def random_place(self) -> tuple[int, int, int]:
        i = int(self.rng.integers(len(self.truths)))
        ys, xs = np.nonzero(self.paintable(i))
        k = int(self.rng.integers(len(ys)))
        return i, int(ys[k]), int(xs[k])

    def error_place(self, preds: list[np.ndarray]) -> tuple[int, int, int]:
        """Where the prediction is most wrong, and the pixel in the middle of it."""
        from scipy import ndimage as ndi

        best = (0, None)
        for i, pred in enumerate(preds):
            free = self.paintable(i)
            if self.mode == "instance":
                areas = self._object_errors(i, pred, free)
            else:
                parts, n = ndi.label((pred != self.classes[i]) & free)
                areas = [(int(a), parts == k + 1) for k, a in enumerate(ndi.sum_labels(np.ones_like(parts), parts,
                                                                                        np.arange(1, n + 1)))]
            for area, mask in areas:
                if area > best[0]:
                    best = (area, (i, mask))
        if best[1] is None:
            return self.random_place()
        i, mask = best[1]
        inner = ndi.distance_transform_edt(np.pad(mask, 1))[1:-1, 1:-1]
        y, x = np.unravel_index(int(np.argmax(inner)), mask.shape)
        return i, int(y), int(x)

    def _object_errors(self, i: int, pred: np.ndarray, free: np.ndarray) -> list[tuple[int, np.ndarray]]:
        """Missed or badly cut true objects (IoU < 0.5 with every predicted one) and predicted
        objects over background, with their areas."""
        from benchmarks.instance_metrics import iou_matrix

        truth = self.truths[i]
        t_ids, p_ids = np.unique(truth[truth > 0]), np.unique(pred[pred > 0])
        iou = iou_matrix(pred, truth)  # (truths, preds), in sorted id order
        out = []
        for k, t in enumerate(t_ids):
            if (iou.shape[1] == 0 or iou[k].max() < 0.5) and free[truth == t].any():
                mask = (truth == t) & free
                out.append((int(mask.sum()), mask))
        for k, p in enumerate(p_ids):
            mask = (pred == p) & (truth == 0) & free
            if mask.sum() > 0.5 * (pred == p).sum():
                out.append((int(mask.sum()), mask))
        return out


# ---- one run ----------------------------------------------------------------------------------
def score(task: str, preds, truths) -> dict:
    from benchmarks.boundaries import score as task_score

    out = task_score(task, preds, truths)
    return {k: out[k] for k in METRICS[task]}


def run_one(args: dict) -> list[dict]:
    set_threads(args["threads"], children=True)  # also for the trainer's child
    start, place = args["run"].split("-")
    images, truths, held, held_truths, mode = task_data(args["task"], args.get("split", "eval"))
    annotator = Annotator(truths, mode, args["seed"])
    annotator.start()
    loop = RandomForestLoop(images, held, mode) if start == "rf" else UNetLoop(images, held, mode, args, start)
    rows, total = [], 0.0
    try:
        for r in range(args["rounds"] + 1):
            preds, spread, seconds = loop.round(annotator.strokes, args["seconds"] if r else args["first_seconds"])
            total += seconds
            rec = {"task": args["task"], "split": args.get("split", "eval"), "run": args["run"],
                   "label": args.get("label") or args["run"], "seed": args["seed"], "round": r,
                   "steps": getattr(getattr(loop, "trainer", None), "step", None),
                   "strokes": annotator.count, "painted_px": int(sum((s > 0).sum() for s in annotator.strokes)),
                   "seconds": round(total, 1), **score(args["task"], loop.held_predictions(), held_truths)}
            rows.append(rec)
            emit(rec)
            if r == args["rounds"]:
                break
            i, y, x = choose(place, annotator, preds, spread)
            box = annotator.paint_at(i, y, x)
            if box is not None:
                loop.changed(i, box, annotator.strokes[i][box])
    finally:
        loop.close()
    return rows


def choose(place: str, annotator: Annotator, preds, spread) -> tuple[int, int, int]:
    if place == "error":
        return annotator.error_place(preds)
    if place in ("suggest", "suggestnear"):  # suggestnear: the rule before places kept away from strokes
        from napari_unet.review.suggest import suggest_places

        best = None
        for i, (p, u) in enumerate(zip(preds, spread)):
            for pl in suggest_places(u, p, annotator.strokes[i], count=5, away=place == "suggest"):
                if annotator.paintable(i)[pl.y, pl.x] and (best is None or pl.score > best[0]):
                    best = (pl.score, (i, pl.y, pl.x))
                    break
        if best is not None:
            return best[1]
    return annotator.random_place()


class UNetLoop:
    """One live trainer: strokes go in as changed regions, the images' predictions come back."""

    def __init__(self, images, held, mode, args, start):
        from napari_unet.core.config import TrainConfig

        self.images, self.held, self.trainer, self.model = images, held, None, None
        self.base = None
        if start == "base":
            from napari_unet.models.load import load_model

            self.base = load_model(args["base"])
        self.config = TrainConfig(steps=None, time_budget=7 * 24 * 3600.0, mode=mode, seed=args["seed"], device="cpu")
        self.round_steps, self.looked = args.get("round_steps"), False

    def round(self, strokes, seconds: float):
        from napari_unet.trainer.client import Trainer

        if self.trainer is None:  # started on the first strokes, as Live is (its start-up is not counted)
            self.trainer = Trainer(self.images, [s.copy() for s in strokes], self.config, model=self.base,
                                   snapshot_every=1e9).start()
            self._wait(lambda e: type(e).__name__ == "TrainEvent")
        else:
            self.trainer.resume()
        t0 = time.perf_counter()
        if self.round_steps:  # a fixed number of steps (4 times as many before the first look)
            target = (self.trainer.step // self.round_steps + (1 if self.looked else 4)) * self.round_steps
            while self.trainer.step < target:
                self._check(self.trainer.poll(timeout=0.05))
        else:
            end = time.perf_counter() + seconds
            while time.perf_counter() < end:
                self._check(self.trainer.poll(timeout=0.2))
        self.trainer.pause()
        self.looked = True
        preds, spread = [], []
        for i, im in enumerate(self.images):
            request = self.trainer.predict_region(i, 0, (0, im.shape[0], 0, im.shape[1]), uncertainty=True)
            event = self._wait(lambda e, r=request: getattr(e, "request", None) == r)
            preds.append(event.labels)
            spread.append(np.asarray(event.uncertainty, np.float32))
        seconds_used = time.perf_counter() - t0
        self.trainer.request_snapshot()
        self._wait(lambda e: type(e).__name__ == "Snapshot")
        self.model = self.trainer.model
        return preds, spread, seconds_used

    def held_predictions(self):
        from napari_unet.predict.pipeline import predict_labels

        return [np.asarray(predict_labels(self.model, im).labels) for im in self.held]

    def changed(self, i, box, values):
        self.trainer.update_strokes(i, box, values)

    def close(self):
        if self.trainer is not None:
            self.trainer.close()

    def _wait(self, match, timeout: float = 600.0):
        end = time.perf_counter() + timeout
        while time.perf_counter() < end:
            for event in self.trainer.poll(timeout=0.2):
                self._check([event])
                if match(event):
                    return event
        raise TimeoutError("the trainer did not answer")

    @staticmethod
    def _check(events):
        for e in events:
            if type(e).__name__ in ("Failed", "Died", "Finished"):
                raise RuntimeError(f"the trainer ended: {e}")


class RandomForestLoop:
    """A random forest on the strokes' pixels, refitted each round (ilastik-like)."""

    def __init__(self, images, held, mode):
        from benchmarks.random_forest import features

        self.mode = mode
        self.features = [features(im) for im in images]
        self.held_features = [features(im) for im in held]
        self.rf = None

    def _labels(self, f):
        from benchmarks.random_forest import forest_labels

        return forest_labels(self.rf, f, self.mode)

    def round(self, strokes, seconds: float):
        from benchmarks.random_forest import fit_forest

        t0 = time.perf_counter()
        self.rf = fit_forest(zip(self.features, strokes), self.mode, jobs=1)
        preds = [self._labels(f) for f in self.features]
        spread = [np.zeros(p.shape, np.float32) for p in preds]
        return preds, spread, time.perf_counter() - t0

    def held_predictions(self):
        return [self._labels(f) for f in self.held_features]

    def changed(self, i, box, values):
        pass  # the forest reads the strokes each round

    def close(self):
        pass


# ---- summary ----------------------------------------------------------------------------------
def reach(rows: list[dict], metric: str, target: float, lower_better: bool):
    """(strokes, seconds) of the first round from which the metric stays at or past ``target``
    to the end (curves this early are noisy: a passing dip does not count); None if never."""
    ok = [(r[metric] <= target) if lower_better else (r[metric] >= target) for r in rows]
    for k in range(len(rows)):
        if all(ok[k:]):
            return rows[k]["strokes"], rows[k]["seconds"]
    return None


def summary(paths: list[Path], plot: Path | None = None, level: float | None = None) -> str:
    """Per run (label): the metric at the first and last round, and the strokes and seconds to
    reach within 0.02 of the run's own final value and a fixed level, mean ± sd over seeds."""
    rows = [r for p in paths for r in read_jsonl(p)]
    task = rows[0]["task"]
    metric = METRICS[task][0]
    lower = metric != "f1_50"
    label = lambda r: r.get("label", r["run"])  # noqa: E731
    labels = list(dict.fromkeys(label(r) for r in sorted(rows, key=lambda r: RUNS.index(r["run"]))))
    by: dict[tuple, list] = {}
    for r in rows:
        by.setdefault((label(r), r["seed"]), []).append(r)
    by = {k: sorted(v, key=lambda x: x["round"]) for k, v in by.items()}
    # the fixed level: where the random forest (the floor) ends, mean over its seeds
    floor = [c[-1][metric] for (n, _), c in by.items() if n == "rf-error"] if level is None else []
    if level is None:
        level = round(float(np.mean(floor)), 3) if floor else (0.5 if lower else 0.8)
    lines = [f"| run | seeds | first look | last round | strokes / s to stay within 0.02 of the run's last | "
             f"strokes / s to stay at {metric} {'≤' if lower else '≥'} {level}{' (the forest at the end)' if floor else ''} |", "|---|---|---|---|---|---|"]
    for name in labels:
        curves = [c for (n, _), c in sorted(by.items()) if n == name]
        first, last = [c[0][metric] for c in curves], [c[-1][metric] for c in curves]
        near = [reach(c, metric, c[-1][metric] + (0.02 if lower else -0.02), lower) for c in curves]
        fixed = [reach(c, metric, level, lower) for c in curves]
        lines.append(f"| {name} | {len(curves)} | {mean_sd(first)} | {mean_sd(last)} | {_hits(near)} | "
                     f"{_hits(fixed)} |")
    if plot is not None:
        draw(by, labels, task, plot)
    return "\n".join(lines)


def _hits(hits) -> str:
    got = [h for h in hits if h is not None]
    if not got:
        return f"not reached (0/{len(hits)})"
    text = f"{mean_sd([h[0] for h in got])} / {mean_sd([h[1] for h in got])} s"
    return text + (f" ({len(got)}/{len(hits)} reached)" if len(got) < len(hits) else "")


def draw(by: dict, labels: list[str], task: str, path: Path) -> None:
    """Mean over seeds per round (line) and its sd (band), against strokes and against seconds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 4))
    panels = [("strokes", METRICS[task][0]), ("seconds", METRICS[task][0]), ("strokes", METRICS[task][1])]
    for ax, (xkey, metric) in zip(axes, panels):
        for k, name in enumerate(labels):
            curves = [c for (n, _), c in sorted(by.items()) if n == name]
            rounds = min(len(c) for c in curves)
            x = np.mean([[r[xkey] for r in c[:rounds]] for c in curves], axis=0)
            y = np.array([[r[metric] for r in c[:rounds]] for c in curves])
            colour = f"C{k}"
            ax.plot(x, y.mean(0), color=colour, lw=1.6, label=f"{name} ({len(curves)} seeds)")
            ax.fill_between(x, y.mean(0) - y.std(0), y.mean(0) + y.std(0), color=colour, alpha=0.12)
        ax.set_xlabel("strokes" if xkey == "strokes" else "seconds of training and looking (mean over seeds)")
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.suptitle(f"{task}: the annotation loop, mean ± sd over seeds")
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--task", choices=sorted(METRICS))
    ap.add_argument("--runs", nargs="+", choices=RUNS, default=list(RUNS[:5]))
    add_split(ap, "eval", help="dev: other images of the same sets, for choosing settings; eval: for reporting")
    add_seeds(ap)
    ap.add_argument("--rounds", type=int, default=12)
    ap.add_argument("--seconds", type=float, default=5.0, help="training per round")
    ap.add_argument("--first-seconds", type=float, default=20.0, help="training before the first look")
    ap.add_argument("--round-steps", type=int, help="train this many steps per round instead of --seconds (4 times "
                    "as many before the first look): runs compare alike on a machine whose load changes")
    ap.add_argument("--base", help="base model for the base-* runs (default: the task's twin in benchmarks/models)")
    add_threads(ap, 1)
    ap.add_argument("--parallel", type=int, default=1)
    add_out(ap)
    ap.add_argument("--summary", type=Path, nargs="+")
    ap.add_argument("--label", help="name the runs' rows by this (e.g. a code version), instead of the run")
    ap.add_argument("--plot", type=Path)
    ap.add_argument("--level", type=float, help="the fixed level of the summary (default: where the forest ends)")
    ap.add_argument("--job", help=argparse.SUPPRESS)  # one run, as JSON (used by the runner above)
    a = ap.parse_args(argv)
    if a.job:
        run_one(json.loads(a.job))
        return 0
    if a.summary:
        print(summary(a.summary, a.plot, a.level))
        return 0
    if a.task is None:
        ap.error("give --task (or --summary)")
    base = a.base or str(Path(__file__).resolve().parent / "models" /
                         ("em-membranes-twin.pt" if a.task == "isbi" else "nuclei-twin.pt"))
    jobs = [{"task": a.task, "run": run, "seed": s, "rounds": a.rounds, "seconds": a.seconds,
             "first_seconds": a.first_seconds, "base": base, "threads": a.threads, "label": a.label, "split": a.split,
             "round_steps": a.round_steps}
            for s in a.seeds for run in a.runs]  # interleaved: machine load drifts alike for every run
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(a.parallel) as pool:  # each run in a fresh process (its trainer in another)
        for rows in pool.map(in_process, jobs):
            if a.out:
                append_jsonl(a.out, rows)
    return 0


def in_process(job: dict) -> list[dict]:
    import subprocess

    done = subprocess.run([sys.executable, "-m", "benchmarks.annotation_loop", "--job", json.dumps(job)],
                          cwd=Path(__file__).resolve().parents[1], capture_output=True, text=True)
    if done.returncode:
        print(done.stderr[-3000:], file=sys.stderr, flush=True)
        return []
    rows = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    print(f"{job['run']} seed {job['seed']}: {rows[-1] if rows else 'no rows'}", flush=True)
    return rows


if __name__ == "__main__":
    sys.exit(main())
