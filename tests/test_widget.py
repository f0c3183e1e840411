"""The dock widget in a real napari window (run under Xvfb): what the manifest gives, the
annotation layer, remembered settings, the keys, the demo's window."""

import numpy as np
from conftest import need

napari = need("napari", "testing")

from widget_helpers import (  # noqa: E402,F401 (fixtures)
    TIMEOUT, engine_prediction, isolated_settings, press, viewer, widget,
)


def test_sample_and_widget_come_through_the_manifest(widget, viewer):
    assert [layer.name for layer in viewer.layers] == ["cells", "cells strokes"]
    assert set(np.unique(viewer.layers["cells strokes"].data)) == {0, 1, 2}
    assert widget.data_panel.image_combo.currentText() == "cells"
    assert widget.data_panel.labels_combo.currentText() == "cells strokes"
    assert "0 = not annotated" in widget.data_panel.hint.text()
    assert not widget.predict_panel.predict_btn.isEnabled() and widget.train_panel.train_btn.isEnabled()


def test_new_annotation_layer_is_ready_to_paint(widget, viewer):
    layer = widget.new_annotation_layer()
    assert layer.data.shape == viewer.layers["cells"].data.shape
    assert layer.mode == "paint" and layer.selected_label == 1 and not layer.data.any()
    assert viewer.layers.selection.active.name == layer.name
    assert widget.data_panel.labels_combo.currentText() == layer.name


def test_strokes_of_another_shape_are_refused_clearly(qtbot, widget, viewer, monkeypatch):
    shown = []
    monkeypatch.setattr("napari.utils.notifications.show_error", shown.append)
    viewer.add_labels(np.ones((40, 50), np.uint8), name="small strokes")
    widget.data_panel.labels_combo.setCurrentText("small strokes")
    assert widget.start_training() is None
    assert shown and "has shape (40, 50)" in shown[-1] and "New annotation layer" in shown[-1]
    assert (viewer.layers["small strokes"].data == 1).all() and widget.model is None


def test_train_without_strokes_notifies_and_changes_nothing(qtbot, widget, viewer, monkeypatch):
    shown = []
    monkeypatch.setattr("napari.utils.notifications.show_error", shown.append)
    widget.new_annotation_layer()  # empty
    before = [layer.name for layer in viewer.layers]
    assert widget.start_training() is None
    assert shown and "no strokes" in shown[0]
    assert widget.model is None and widget.controller.trainer is None
    assert [layer.name for layer in viewer.layers] == before


def test_settings_are_remembered(qtbot, widget, viewer, make_napari_viewer):
    widget.controls["time_budget"].setValue(123)
    widget.controls["tile_size"].setValue(384)
    widget.controls["edge_weight"].setValue(2.5)
    widget.controls["tta"].setChecked(True)
    widget.controls["diameter"].setValue(40)
    widget.ctx.save_settings()
    other = make_napari_viewer()
    _, w2 = other.window.add_plugin_dock_widget("napari-unet", "U-Net from strokes")
    assert w2.controls["time_budget"].value() == 123 and w2.controls["tile_size"].value() == 384
    # the edge term, test-time augmentation and the object size reach the engine's configs
    assert w2.train_config().edge_weight == 2.5 and w2.predict_config().tta and w2.predict_config().diameter == 40


def test_the_slice_on_screen_of_stacks_of_different_depths(viewer, sample):
    from napari_unet.widget.layers import current_z

    short = viewer.add_image(np.stack([sample.image] * 3), name="short")
    deep = viewer.add_image(np.stack([sample.image] * 5), name="deep")
    viewer.dims.set_current_step(0, 4)
    assert current_z(viewer, deep) == 4 and current_z(viewer, short) is None
    viewer.dims.set_current_step(0, 1)
    assert current_z(viewer, short) == 1


def test_demo_opens_its_result_in_napari(monkeypatch, trained, sample, qtbot):
    """`napari-unet demo --napari`: the image, strokes and prediction, and the widget holding the model."""
    from napari_unet.widget.dock import show_demo

    seen = {}

    def fake_run():
        viewer = napari.current_viewer()
        seen["layers"] = [layer.name for layer in viewer.layers]
        seen["model"] = viewer.window.dock_widgets["U-Net from strokes (napari-unet)"].model
        viewer.close()

    monkeypatch.setattr(napari, "run", fake_run)
    show_demo(sample.image, sample.strokes, sample.truth, trained)
    assert seen["layers"] == ["cells", "cells strokes", "cells prediction"]
    assert seen["model"] is trained


def test_the_keys_train_stop_predict_show_and_go_live(qtbot, widget, viewer):
    """Alt-T trains, Alt-S stops, Alt-R predicts, Alt-O hides and shows the prediction, Alt-G
    switches live training on and off: pressed on the canvas, through napari's keymap."""
    from napari_unet.trainer.protocol import Finished

    widget.controls["steps"].setValue(100_000)
    press(viewer, "t")
    trainer = widget.controller.trainer
    assert trainer is not None and widget.controller.state == "training" and not widget.controller.live
    qtbot.waitUntil(lambda: trainer.step >= 2, timeout=TIMEOUT)
    press(viewer, "s")
    qtbot.waitUntil(lambda: not widget.controller.busy, timeout=TIMEOUT)
    end = widget.training.last_end
    assert isinstance(end, Finished) and end.stopped and widget.model.steps_trained == end.steps < 100_000

    press(viewer, "r")
    assert widget.prediction.worker is not None
    qtbot.waitUntil(lambda: widget.prediction.worker is None, timeout=TIMEOUT)
    layer = viewer.layers["cells prediction"]
    np.testing.assert_array_equal(layer.data, engine_prediction(widget, viewer.layers["cells"].data))
    assert layer.visible
    press(viewer, "o")
    assert not layer.visible
    press(viewer, "o")
    assert layer.visible

    press(viewer, "g")
    live = widget.controller.trainer
    assert widget.controller.live and widget.train_panel.live_btn.isChecked() and live is not None and live is not trainer
    qtbot.waitUntil(lambda: live.step >= 1, timeout=TIMEOUT)
    press(viewer, "g")
    qtbot.waitUntil(lambda: not widget.controller.busy, timeout=TIMEOUT)
    assert not widget.train_panel.live_btn.isChecked() and widget.training.last_end.stopped
    assert widget.model.steps_trained > end.steps  # live training went on from the stopped model
