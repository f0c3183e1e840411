"""Take the README's screenshots of the real widget in napari (run under Xvfb).

    xvfb-run -a -s "-screen 0 1600x1000x24" python docs/screenshots.py docs/images [colour ...]

With names after the folder, only those shots are taken (``colour``: the nuclei model on a
colour image; ``suggest``: Paint here next; ``model_hint``: the base model that fits the image).
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


def _sample_with_widget(steps: int):
    """A window on the sample with the dock widget, its defaults (not the settings a user left
    behind), training ``steps`` steps on the CPU."""
    import tempfile

    from qtpy.QtCore import QSettings

    QSettings.setPath(QSettings.Format.NativeFormat, QSettings.Scope.UserScope, tempfile.mkdtemp())
    viewer = napari.Viewer(title="napari-unet")
    viewer.window._qt_window.resize(1500, 950)
    viewer.open_sample("napari-unet", "cells")
    _, w = viewer.window.add_plugin_dock_widget("napari-unet", "U-Net from strokes")
    w.controls["steps"].setValue(steps)
    w.controls["device"].setCurrentText("cpu")
    return viewer, w


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    viewer, w = _sample_with_widget(steps=600)
    viewer.layers["cells strokes"].opacity = 1.0
    trainer = w.start_training()
    wait(lambda: trainer.step >= 250)
    wait(lambda: False, timeout=0.3)
    viewer.screenshot(str(out / "widget-training.png"), canvas_only=False)
    wait(lambda: not w.controller.busy)
    w.start_prediction()
    wait(lambda: w.prediction.worker is None)
    viewer.layers["cells strokes"].visible = False
    wait(lambda: False, timeout=0.3)
    viewer.screenshot(str(out / "widget-prediction.png"), canvas_only=False)
    w.train_panel.advanced.expand(animate=False)
    wait(lambda: False, timeout=0.3)
    viewer.screenshot(str(out / "widget-advanced.png"), canvas_only=False)
    w.train_panel.advanced.collapse(animate=False)
    inspect_and_correct(viewer, w, out)
    live(viewer, w, out)
    viewer.close()
    base_model(out)


def _predicted_by_nuclei(viewer):
    """The dock widget with Start from: nuclei chosen and the image predicted, in outlines."""
    _, w = viewer.window.add_plugin_dock_widget("napari-unet", "U-Net from strokes")
    w.controls["device"].setCurrentText("cpu")
    w.predict_panel.uncertainty.setChecked(False)
    index = w.data_panel.start_from.findData("nuclei")
    w.data_panel.start_from.setCurrentIndex(index)
    w.data_panel.start_from.activated.emit(index)
    w.start_prediction()
    wait(lambda: w.prediction.worker is None)
    w.inspect_panel.outlines.setChecked(True)
    return w


def base_model(out: Path) -> None:
    """Start from the nuclei base model: predict at once, with the legend of what to paint."""
    from napari_unet.core.samples import make_sample, simulate_instance_strokes

    viewer = napari.Viewer(title="napari-unet")
    viewer.window._qt_window.resize(1500, 950)
    sample = make_sample(256, seed=3)
    viewer.add_image(sample.image, name="nuclei")
    w = _predicted_by_nuclei(viewer)
    strokes = w.new_annotation_layer()
    strokes.data = simulate_instance_strokes(sample.instances, object_fraction=0.1, seed=0).astype(strokes.data.dtype)
    w.train_panel.advanced.collapse(animate=False)
    wait(lambda: False, timeout=0.3)
    viewer.screenshot(str(out / "widget-base-model.png"), canvas_only=False)
    prediction_advanced(viewer, w, out)
    export(viewer, w, out)
    viewer.close()


def prediction_advanced(viewer, w, out: Path) -> None:
    """The prediction panel's advanced settings, for an instance model (the sure core applies)."""
    from napari_unet.widget.panels import Scroll

    scroll = w.findChild(Scroll)
    w.predict_panel.advanced.expand(animate=False)
    wait(lambda: False, timeout=0.3)
    scroll.ensureWidgetVisible(w.predict_panel.predict_btn, 0, 40)
    wait(lambda: False, timeout=0.3)
    viewer.screenshot(str(out / "widget-prediction-advanced.png"), canvas_only=False)
    w.predict_panel.advanced.collapse(animate=False)
    scroll.verticalScrollBar().setValue(0)


def colour(out: Path) -> None:
    """The grey nuclei model on a colour (H&E-like, synthetic) image: converted, and said so."""
    import numpy as np

    from napari_unet.core.samples import make_sample

    viewer = napari.Viewer(title="napari-unet")
    viewer.window._qt_window.resize(1500, 950)
    sample = make_sample(256, seed=3)
    dark = 255 - sample.image.astype(np.float32) * 255 / sample.image.max()
    rgb = np.clip(np.stack([dark * 0.8 + 40, dark * 0.6 + 30, dark * 0.9 + 25], axis=-1), 0, 255).astype(np.uint8)
    viewer.add_image(rgb, name="stained", rgb=True)
    w = _predicted_by_nuclei(viewer)
    w.train_panel.advanced.collapse(animate=False)
    wait(lambda: False, timeout=0.3)
    viewer.screenshot(str(out / "widget-colour.png"), canvas_only=False)
    viewer.close()


def export(viewer, w, out: Path) -> None:
    """The export dialog, then the widget once the package is written and tested."""
    import tempfile

    from qtpy.QtWidgets import QDialog, QFileDialog

    from napari_unet.widget.export import ExportDialog
    from napari_unet.widget.panels import Scroll

    def fill_in(dialog):
        dialog.authors.setText("Ada Lovelace, Alan Turing")
        dialog.show()
        wait(lambda: False, timeout=0.3)
        dialog.grab().save(str(out / "widget-export-dialog.png"))
        return QDialog.DialogCode.Accepted

    ExportDialog.exec = fill_in
    package = Path(tempfile.mkdtemp()) / "nuclei.zip"
    QFileDialog.getSaveFileName = lambda *a, **k: (str(package), "")
    w.model_panel.export_btn.click()
    wait(lambda: w.export.worker is None)
    bar = w.findChild(Scroll).verticalScrollBar()
    bar.setValue(bar.maximum())
    wait(lambda: False, timeout=0.3)
    viewer.screenshot(str(out / "widget-export.png"), canvas_only=False)


def inspect_and_correct(viewer, w, out: Path) -> None:
    """Outlines over the untinted image; then the prediction copied into the strokes."""
    from napari_unet.widget.panels import Scroll

    bar = w.findChild(Scroll).verticalScrollBar()
    bar.setValue(bar.maximum())  # the dock scrolled down to the Inspect panel
    w.inspect_panel.outlines.setChecked(True)
    wait(lambda: False, timeout=0.3)
    viewer.screenshot(str(out / "widget-outlines.png"), canvas_only=False)
    w.inspect_panel.outlines.setChecked(False)
    strokes = viewer.layers["cells strokes"]
    strokes.visible, strokes.opacity = True, 0.5
    viewer.scene.camera.zoom *= 2
    wait(lambda: False, timeout=0.5)
    w.inspect.use_as_strokes()
    viewer.layers["cells prediction"].visible = False
    viewer.layers.selection.active = strokes
    wait(lambda: False, timeout=0.3)
    viewer.screenshot(str(out / "widget-correct.png"), canvas_only=False)
    strokes.undo()  # back to the sample's strokes for the live screenshot
    strokes.opacity = 1.0
    viewer.layers["cells prediction"].visible = True
    viewer.reset_view()
    bar.setValue(0)


def live(viewer, w, out: Path) -> None:
    """Live mode: a new stroke across a cell, and the preview refreshed after it."""
    strokes = viewer.layers["cells strokes"]
    strokes.visible = True
    w.predict_panel.uncertainty.setChecked(True)  # the overlay of where the model hesitates, refreshed with the preview
    w.train_panel.live_btn.click()
    wait(lambda: w.controller.trainer is not None and w.controller.trainer.step >= 30)
    strokes.brush_size = 5
    with strokes.block_history():  # one background stroke, as a user's drag makes it
        for x in range(150, 200):
            strokes.paint((60, x), 1, refresh=False)
    strokes.refresh()
    wait(lambda: len(w.live.latencies) > 0)
    wait(lambda: False, timeout=0.3)
    viewer.screenshot(str(out / "widget-live.png"), canvas_only=False)
    w.train_panel.live_btn.click()
    wait(lambda: not w.controller.busy)


def suggest(out: Path) -> None:
    """'Paint here next' early in the loop: a young model (40 steps), the numbered places where
    it hesitates, the view on the first."""
    viewer, w = _sample_with_widget(steps=40)
    w.start_training()
    wait(lambda: not w.controller.busy)
    w.predict_panel.uncertainty.setChecked(True)
    w.suggestions.next()  # predicts the uncertainty overlay, then moves the view
    wait(lambda: w.suggestions.current is not None)
    from napari_unet.widget.panels import Scroll

    bar = w.findChild(Scroll).verticalScrollBar()
    bar.setValue(bar.maximum())  # the dock scrolled down to the Prediction panel
    wait(lambda: False, timeout=0.5)
    viewer.screenshot(str(out / "widget-suggest.png"), canvas_only=False)
    viewer.close()


def model_hint(out: Path) -> None:
    """A new image and no model yet: the base model that fits it, offered under Start from."""
    viewer, w = _sample_with_widget(steps=60)
    wait(w.data_panel.suggest_model_btn.isVisible, timeout=120)
    wait(lambda: False, timeout=0.3)
    viewer.screenshot(str(out / "widget-model-hint.png"), canvas_only=False)
    viewer.close()


if __name__ == "__main__":
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/images")
    if len(sys.argv) > 2:
        for name in sys.argv[2:]:
            globals()[name](folder)
    else:
        main(folder)
        colour(folder)
        suggest(folder)
        model_hint(folder)
