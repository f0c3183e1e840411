"""Does napari stay responsive while the widget trains and predicts?

A QTimer ticks every 10 ms on the GUI thread; the gaps between ticks beyond 10 ms are the time
the event loop was blocked. Reports p50/p99/max of the gaps during training and during
prediction, on the synthetic sample (training) and a 2048 x 2048 tiling of it (prediction).

    xvfb-run -a -s "-screen 0 1600x1000x24" python -m benchmarks.gui_responsiveness [--train-seconds 30]
"""

import argparse
import json
import time

import numpy as np


def run_until_idle(widget):
    """Run the Qt event loop (idle between events, as in napari) until the widget's job ends."""
    from qtpy.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    check = QTimer()
    check.setInterval(50)
    check.timeout.connect(lambda: None if widget.controller.busy else loop.quit())
    check.start()
    loop.exec()
    check.stop()


def gaps_ms(ticks):
    t = np.asarray(ticks)
    d = np.diff(t) * 1000
    worst = int(d.argmax())
    return {"ticks": int(len(t)), "p50_ms": round(float(np.percentile(d, 50)), 1),
            "p99_ms": round(float(np.percentile(d, 99)), 1), "max_ms": round(float(d.max()), 1),
            "max_at_s": round(float(t[worst] - t[0]), 2), "over_50ms": int((d > 50).sum())}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--train-seconds", type=int, default=30)
    ap.add_argument("--predict-size", type=int, default=2048)
    ap.add_argument("--tick-ms", type=int, default=10, help="timer interval (ms)")
    args = ap.parse_args()

    import tempfile

    import napari
    from qtpy.QtCore import QSettings, QTimer

    # the widget's defaults, not the settings a user left behind
    QSettings.setPath(QSettings.Format.NativeFormat, QSettings.Scope.UserScope, tempfile.mkdtemp())
    viewer = napari.Viewer(title="responsiveness")
    viewer.open_sample("napari-unet", "cells")
    _, w = viewer.window.add_plugin_dock_widget("napari-unet", "U-Net from strokes")
    w.controls["device"].setCurrentText("cpu")
    w.controls["steps"].setValue(0)
    w.controls["time_budget"].setValue(args.train_seconds)
    ticks: list[float] = []
    timer = QTimer()
    timer.setInterval(args.tick_ms)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))

    timer.start()
    w.start_training()
    run_until_idle(w)
    timer.stop()
    train = gaps_ms(ticks)
    train["steps"] = w.model.steps_trained

    image = viewer.layers["cells"].data
    reps = -(-args.predict_size // image.shape[0])
    big = np.tile(image, (reps, reps))[: args.predict_size, : args.predict_size]
    viewer.add_image(big, name="big")
    w.data_panel.image_combo.setCurrentText("big")
    ticks.clear()
    t0 = time.perf_counter()
    timer.start()
    w.start_prediction()
    run_until_idle(w)
    timer.stop()
    pred = gaps_ms(ticks)
    pred["seconds"] = round(time.perf_counter() - t0, 1)
    pred["size"] = f"{args.predict_size}x{args.predict_size}"
    print(json.dumps({"training": train, "prediction": pred}))
    viewer.close()


if __name__ == "__main__":
    main()
