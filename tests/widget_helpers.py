"""What the widget tests share: a real napari window (under Xvfb), the dock widget obtained
through the manifest with tiny settings for the CPU, and a user's actions, each waiting for
its result. Test modules import it after ``need("napari", "testing")``."""

import pytest
from qtpy.QtCore import QSettings, Qt

TIMEOUT = 300_000  # ms: a generous wait for a job on a loaded 2-core machine
LEFT = Qt.MouseButton.LeftButton


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path):
    QSettings.setPath(QSettings.Format.NativeFormat, QSettings.Scope.UserScope, str(tmp_path / "settings"))
    yield


@pytest.fixture
def viewer(make_napari_viewer):
    return make_napari_viewer(show=True)


@pytest.fixture
def widget(viewer):
    """The widget on the sample opened through the manifest."""
    viewer.open_sample("napari-unet", "cells")
    return add_widget(viewer)


def add_widget(viewer, steps=15):
    """The dock widget obtained through the manifest, with tiny settings for CPU tests."""
    _, w = viewer.window.add_plugin_dock_widget("napari-unet", "U-Net from strokes")
    w.controls["steps"].setValue(steps)
    w.controls["patch_size"].setValue(64)
    w.train_panel.model_size.setCurrentText("small")
    w.controls["tile_size"].setValue(128)
    w.controls["device"].setCurrentText("cpu")
    return w


def train(qtbot, w):
    """Start training and wait for its end; returns the trainer."""
    trainer = w.start_training()
    assert trainer is not None
    qtbot.waitUntil(lambda: not w.controller.busy, timeout=TIMEOUT)
    return trainer


def predict(qtbot, w, image="cells"):
    """Predict and wait for the result; returns the image's prediction layer."""
    worker = w.start_prediction()
    assert worker is not None
    qtbot.waitUntil(lambda: w.prediction.worker is None, timeout=TIMEOUT)
    return w.viewer.layers[f"{image} prediction"]


def engine_prediction(w, image, model=None):
    """What the engine predicts for ``image`` with the widget's settings (and its model, unless given)."""
    from napari_unet.predict.pipeline import predict_labels

    return predict_labels(w.model if model is None else model, image, w.predict_config()).labels


def press(viewer, key: str):
    """Press ``Alt-<key>`` on the canvas, as a user does."""
    from qtpy.QtTest import QTest

    QTest.keyClick(viewer.window._qt_viewer.canvas.native, getattr(Qt.Key, f"Key_{key.upper()}"),
                   Qt.KeyboardModifier.AltModifier)


def paint(layer, points, value: int, brush: int):
    """One stroke through the Labels layer (one paint event, one undo step), dab by dab."""
    layer.selected_label, layer.brush_size = value, brush
    with layer.block_history():
        for point in points:
            layer.paint(tuple(point), value, refresh=False)
    layer.refresh()

