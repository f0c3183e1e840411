"""Training in napari's child process against the CLI, and live mode's stroke-to-preview time.

    xvfb-run -a -s "-screen 0 1600x1000x24" python -m benchmarks.live_training --rounds 2 --budget 20

Part 1 alternates `napari-unet train` (a plain process) and the widget's Train (a child process
under a napari window), same model, data and time budget, and compares steps per second.
Part 2 opens a 1024² synthetic image, switches Live on, paints a stroke every few seconds as
one undo step, and records the time from the end of each stroke to its refreshed preview of
the visible region, and the event loop's gaps (a 10 ms timer) while live.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def wait(predicate, timeout=600.0):
    from qtpy.QtWidgets import QApplication

    end = time.monotonic() + timeout
    while not predicate() and time.monotonic() < end:
        QApplication.processEvents()
        time.sleep(0.005)


def cli_rate(image: Path, strokes: Path, budget: float) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run([sys.executable, "-m", "napari_unet.cli", "train", "--images", str(image), "--labels",
                              str(strokes), "--out", f"{tmp}/m.pt", "--time-budget", str(budget), "--device", "cpu"],
                             capture_output=True, text=True, check=True).stdout
    steps, seconds = re.search(r"trained (\d+) steps in ([\d.]+) s", out).groups()
    return int(steps) / float(seconds)


def widget_rate(viewer, w, budget: float) -> float:
    from napari_unet.trainer.protocol import Finished

    w.forget_model()
    w.controls["steps"].setValue(0)
    w.controls["time_budget"].setValue(int(budget))
    w.start_training()
    wait(lambda: not w.controller.busy)
    end = w.training.last_end
    assert isinstance(end, Finished), end
    return end.steps / end.elapsed


def live_latency(strokes_per_run: int, every: float):
    import napari
    from qtpy.QtCore import QElapsedTimer, QTimer

    from napari_unet.core.samples import make_sample

    sample = make_sample(1024, seed=3)
    viewer = napari.Viewer()
    viewer.window._qt_window.resize(1500, 950)
    viewer.add_image(sample.image, name="cells")
    strokes = viewer.add_labels(np.where(np.arange(1024)[:, None] < 512, sample.strokes, 0).astype(np.uint8),
                                name="cells strokes")
    _, w = viewer.window.add_plugin_dock_widget("napari-unet", "U-Net from strokes")
    w.controls["device"].setCurrentText("cpu")
    gaps, clock = [], QElapsedTimer()
    timer = QTimer()
    timer.setInterval(10)
    clock.start()
    timer.timeout.connect(lambda: gaps.append(clock.restart()))
    w.train_panel.live_btn.click()
    wait(lambda: w.controller.trainer is not None and w.controller.trainer.step >= 20)
    timer.start()
    ys, xs = np.nonzero(sample.strokes[512:] > 0)
    rng = np.random.default_rng(0)
    for i in range(strokes_per_run):  # strokes from the unpainted half, 60 dabs each
        start = rng.integers(0, len(ys) - 60)
        with strokes.block_history():
            for y, x in zip(ys[start : start + 60], xs[start : start + 60]):
                strokes.paint((512 + y, x), int(sample.strokes[512 + y, x]), refresh=False)
        strokes.refresh()
        wait(lambda: len(w.live.latencies) > i, timeout=60)
        wait(lambda: False, timeout=every)
    timer.stop()
    w.train_panel.live_btn.click()
    wait(lambda: not w.controller.busy)
    viewer.close()
    return np.array(w.live.latencies), np.array(gaps[1:], float) - 10.0  # ms beyond the timer's interval


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--budget", type=float, default=20.0)
    parser.add_argument("--strokes", type=int, default=10)
    parser.add_argument("--no-activity", action="store_true",
                        help="leave out the widget's entry in napari's activity dock (to measure what it costs)")
    parser.add_argument("--no-live", action="store_true", help="only compare training speeds")
    args = parser.parse_args()

    import napari
    import tifffile
    from qtpy.QtCore import QSettings

    from napari_unet.core.samples import make_sample

    settings = tempfile.mkdtemp()  # the widget's defaults, not the settings a user left behind
    QSettings.setPath(QSettings.Format.NativeFormat, QSettings.Scope.UserScope, settings)

    sample = make_sample(256, seed=0)
    with tempfile.TemporaryDirectory() as tmp:
        image, strokes = Path(tmp) / "cells.tif", Path(tmp) / "strokes.tif"
        tifffile.imwrite(image, sample.image)
        tifffile.imwrite(strokes, sample.strokes)
        viewer = napari.Viewer()
        viewer.add_image(sample.image, name="cells")
        viewer.add_labels(sample.strokes, name="cells strokes")
        _, w = viewer.window.add_plugin_dock_widget("napari-unet", "U-Net from strokes")
        w.controls["device"].setCurrentText("cpu")
        if args.no_activity:
            w.prediction._start_activity = lambda *a: None
        # a user's napari has drawn its window long before Train is pressed: let it do that
        # first-draw work now, not inside the first measured round
        wait(lambda: False, timeout=10)
        cli, child = [], []
        for r in range(args.rounds):  # interleaved: the machine's speed drifts
            cli.append(cli_rate(image, strokes, args.budget))
            child.append(widget_rate(viewer, w, args.budget))
            print(f"round {r + 1}: CLI {cli[-1]:.2f} steps/s, napari (child process) {child[-1]:.2f} steps/s",
                  flush=True)
        viewer.close()
    print(f"napari / CLI: {np.mean(child) / np.mean(cli):.2f} (rounds: "
          f"{', '.join(f'{a / b:.2f}' for a, b in zip(child, cli))})")
    if args.no_live:
        return
    latencies, gaps = live_latency(args.strokes, every=3.0)
    print(f"live, 1024² image, {len(latencies)} strokes: stroke to preview median {np.median(latencies):.2f} s, "
          f"p90 {np.percentile(latencies, 90):.2f} s, max {latencies.max():.2f} s")
    print(f"event loop while live ({len(gaps)} ticks): extra delay p99 {np.percentile(gaps, 99):.0f} ms, "
          f"max {gaps.max():.0f} ms")


if __name__ == "__main__":
    main()
