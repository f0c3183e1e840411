"""Take the README's screenshots of the real widget in napari (run under Xvfb).

    xvfb-run -a -s "-screen 0 1600x1000x24" python docs/screenshots.py docs/images
"""

import sys
import time
from pathlib import Path

import napari
from qtpy.QtWidgets import QApplication


def wait(predicate, timeout=600):
    end = time.monotonic() + timeout
    while not predicate() and time.monotonic() < end:
        QApplication.processEvents()
        time.sleep(0.01)


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    viewer = napari.Viewer(title="napari-unet")
    viewer.window._qt_window.resize(1500, 950)
    viewer.open_sample("napari-unet", "cells")
    _, w = viewer.window.add_plugin_dock_widget("napari-unet", "U-Net from strokes")
    w.steps.setValue(600)
    w.device.setCurrentText("cpu")
    viewer.layers["cells strokes"].opacity = 1.0
    w.start_training()
    wait(lambda: w.model is not None and w.model.steps_trained >= 250)
    wait(lambda: False, timeout=0.3)
    viewer.screenshot(str(out / "widget-training.png"), canvas_only=False)
    wait(lambda: w._train_worker is None)
    w.start_prediction()
    wait(lambda: w._predict_worker is None)
    viewer.layers["cells strokes"].visible = False
    wait(lambda: False, timeout=0.3)
    viewer.screenshot(str(out / "widget-prediction.png"), canvas_only=False)
    w.advanced.expand(animate=False)
    wait(lambda: False, timeout=0.3)
    viewer.screenshot(str(out / "widget-advanced.png"), canvas_only=False)
    viewer.close()


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/images"))
