"""The plugin inside a real napari window (run under Xvfb): paint, train, stop, predict, inspect."""

import numpy as np
import pytest
from conftest import need

napari = need("napari", "testing")

from qtpy.QtCore import QSettings, QThreadPool  # noqa: E402

TIMEOUT = 120_000


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path):
    QSettings.setPath(QSettings.Format.NativeFormat, QSettings.Scope.UserScope, str(tmp_path / "settings"))
    yield


@pytest.fixture
def viewer(make_napari_viewer):
    return make_napari_viewer(show=True)


def _add_widget(viewer, steps=15):
    """The dock widget obtained through the manifest, with tiny settings for CPU tests."""
    _, w = viewer.window.add_plugin_dock_widget("napari-unet", "U-Net from strokes")
    w.steps.setValue(steps)
    w.patch_size.setValue(64)
    w.model_size.setCurrentText("small")
    w.tile_size.setValue(128)
    w.device.setCurrentText("cpu")
    return w


@pytest.fixture
def widget(viewer):
    """The widget on the sample opened through the manifest."""
    viewer.open_sample("napari-unet", "cells")
    return _add_widget(viewer)


def _train(qtbot, w):
    trainer = w.start_training()
    assert trainer is not None
    qtbot.waitUntil(lambda: not w.controller.busy, timeout=TIMEOUT)
    return trainer


def _predict(qtbot, w):
    worker = w.start_prediction()
    assert worker is not None
    qtbot.waitUntil(lambda: w._predict_worker is None, timeout=TIMEOUT)
    return w.viewer.layers["cells prediction"]


def test_sample_and_widget_come_through_the_manifest(widget, viewer):
    assert [layer.name for layer in viewer.layers] == ["cells", "cells strokes"]
    assert set(np.unique(viewer.layers["cells strokes"].data)) == {0, 1, 2}
    assert widget.image_combo.currentText() == "cells"
    assert widget.labels_combo.currentText() == "cells strokes"
    assert "0 = not annotated" in widget.hint.text()
    assert not widget.predict_btn.isEnabled() and widget.train_btn.isEnabled()


def test_new_annotation_layer_is_ready_to_paint(widget, viewer):
    layer = widget.new_annotation_layer()
    assert layer.data.shape == viewer.layers["cells"].data.shape
    assert layer.mode == "paint" and layer.selected_label == 1 and not layer.data.any()
    assert viewer.layers.selection.active.name == layer.name
    assert widget.labels_combo.currentText() == layer.name


def _engine_prediction(w, image):
    """What the engine predicts for ``image`` with the widget's model and settings."""
    from napari_unet.predict import predict_labels

    return predict_labels(w.model, image, w.predict_config()).labels


def test_paint_train_predict_inspect(qtbot, widget, viewer):
    _train(qtbot, widget)
    assert widget.model is not None and widget.model.steps_trained == 15
    assert len(widget.loss_plot.values) == 15
    assert widget.predict_btn.isEnabled() and widget.train_btn.text() == "Train more"
    layer = _predict(qtbot, widget)
    image = viewer.layers["cells"]
    # the layer holds the model's prediction (how good it is: the clicking story below)
    np.testing.assert_array_equal(layer.data, _engine_prediction(widget, image.data))
    np.testing.assert_array_equal(layer.scale, image.scale)

    # train more (fine-tuning the same model) and predict again: the same layer is updated
    _train(qtbot, widget)
    assert widget.model.steps_trained == 30
    layer.data = np.zeros_like(layer.data)  # stale content that the new prediction must replace
    again = _predict(qtbot, widget)
    assert again.unique_id == layer.unique_id  # the same layer object, not a new one
    np.testing.assert_array_equal(again.data, _engine_prediction(widget, image.data))
    assert [lay.name for lay in viewer.layers].count("cells prediction") == 1

    # the canvas shows the prediction over the image: it looks different from the image alone
    shot = viewer.screenshot(canvas_only=True, flash=False)
    again.visible = False
    alone = viewer.screenshot(canvas_only=True, flash=False)
    assert shot.shape == alone.shape
    changed = np.abs(shot[..., :3].astype(int) - alone[..., :3]).sum(-1) > 30
    assert changed.mean() > 0.02  # the cells are tinted (the background class is drawn transparent)


def test_a_user_clicks_paints_and_gets_the_cells(qtbot, viewer):
    """The whole story through the real controls: the New annotation layer button, strokes
    painted through the Labels layer, then Train and Predict clicked with the mouse."""
    from qtpy.QtCore import Qt

    from napari_unet._sample_data import make_sample

    sample = make_sample(256, seed=0)
    viewer.add_image(sample.image, name="cells")
    w = _add_widget(viewer, steps=250)
    qtbot.mouseClick(w.new_labels_btn, Qt.MouseButton.LeftButton)
    layer = viewer.layers["cells strokes"]
    assert layer.mode == "paint" and viewer.layers.selection.active is layer
    layer.brush_size = 3
    for value in (1, 2):  # the sample's strokes (down the middle of regions), painted dab by dab
        ys, xs = np.nonzero(sample.strokes == value)
        for y, x in list(zip(ys, xs))[::2]:
            layer.paint((y, x), value, refresh=False)
    layer.refresh()
    assert set(np.unique(layer.data)) == {0, 1, 2}
    qtbot.mouseClick(w.train_btn, Qt.MouseButton.LeftButton)
    assert w.controller.trainer is not None
    qtbot.waitUntil(lambda: not w.controller.busy, timeout=TIMEOUT)
    assert w.model.steps_trained == 250
    qtbot.mouseClick(w.predict_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: w._predict_worker is None and "cells prediction" in viewer.layers, timeout=TIMEOUT)
    fg, truth = viewer.layers["cells prediction"].data == 2, sample.truth == 2
    assert (fg & truth).sum() / (fg | truth).sum() > 0.7  # all background would score 0


def test_stop_mid_training_keeps_the_weights(qtbot, widget):
    widget.steps.setValue(100_000)
    trainer = widget.start_training()
    qtbot.waitUntil(lambda: trainer.step >= 3, timeout=TIMEOUT)
    assert widget.stop_btn.isEnabled() and not widget.train_btn.isEnabled()
    at_stop = trainer.step
    widget.stop()
    qtbot.waitUntil(lambda: not widget.controller.busy, timeout=TIMEOUT)
    steps = widget.model.steps_trained
    # the child stops within a step of reading Stop; the widget had seen steps up to 0.1 s earlier
    assert at_stop <= steps <= at_stop + 10
    assert not trainer._process.is_alive()
    assert widget.predict_btn.isEnabled() and widget.train_btn.isEnabled()
    assert "Stopped" in widget.status.text()


def test_save_then_load_reproduces_the_prediction(qtbot, widget, viewer, tmp_path):
    _train(qtbot, widget)
    first = _predict(qtbot, widget).data.copy()
    path = widget.save_model(str(tmp_path / "model.pt"))
    assert path.is_file()
    widget.forget_model()
    assert widget.model is None and not widget.predict_btn.isEnabled()
    widget.load_model(str(path))
    assert widget.model.steps_trained == 15
    np.testing.assert_array_equal(_predict(qtbot, widget).data, first)


def test_load_of_a_corrupt_model_keeps_the_trained_one(qtbot, widget, tmp_path, monkeypatch):
    shown = []
    monkeypatch.setattr("napari.utils.notifications.show_error", shown.append)
    _train(qtbot, widget)
    trained = widget.model
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a model")
    assert widget.load_model(str(junk)) is None
    assert shown and "corrupt" in shown[-1]
    assert widget.model is trained and widget.predict_btn.isEnabled()


def test_strokes_of_another_shape_are_refused_clearly(qtbot, widget, viewer, monkeypatch):
    shown = []
    monkeypatch.setattr("napari.utils.notifications.show_error", shown.append)
    viewer.add_labels(np.ones((40, 50), np.uint8), name="small strokes")
    widget.labels_combo.setCurrentText("small strokes")
    assert widget.start_training() is None
    assert shown and "has shape (40, 50)" in shown[-1] and "New annotation layer" in shown[-1]
    assert (viewer.layers["small strokes"].data == 1).all() and widget.model is None


def test_probabilities_and_uncertainty_layers_match_the_labels(qtbot, widget, viewer):
    _train(qtbot, widget)
    widget.uncertainty.setChecked(True)
    labels = _predict(qtbot, widget).data
    assert "cells p(class 1)" not in viewer.layers  # asked for the uncertainty only
    hesitation = viewer.layers["cells uncertainty"].data
    widget.probabilities.setChecked(True)
    labels = _predict(qtbot, widget).data
    p1, p2 = (viewer.layers[f"cells p(class {v})"].data for v in (1, 2))
    assert p1.shape == labels.shape and not viewer.layers["cells p(class 1)"].visible
    np.testing.assert_allclose(p1 + p2, 1, atol=1e-4)
    np.testing.assert_array_equal(np.where(p2 > p1, 2, 1)[p1 != p2], labels[p1 != p2])
    from napari_unet.predict import uncertainty

    np.testing.assert_allclose(hesitation, uncertainty(np.stack([p1, p2])[None])[0], atol=1e-5)


def test_train_without_strokes_notifies_and_changes_nothing(qtbot, widget, viewer, monkeypatch):
    shown = []
    monkeypatch.setattr("napari.utils.notifications.show_error", shown.append)
    widget.new_annotation_layer()  # empty
    before = [layer.name for layer in viewer.layers]
    assert widget.start_training() is None
    assert shown and "no strokes" in shown[0]
    assert widget.model is None and widget.controller.trainer is None
    assert [layer.name for layer in viewer.layers] == before


def test_engine_errors_arrive_as_notifications(qtbot, widget, viewer, monkeypatch):
    shown = []
    monkeypatch.setattr("napari.utils.notifications.show_error", shown.append)
    strokes = viewer.layers["cells strokes"]
    strokes.data = np.where(strokes.data == 2, 2, 0).astype(np.uint8)  # only one class painted
    widget.start_training()
    qtbot.waitUntil(lambda: not widget.controller.busy, timeout=TIMEOUT)
    assert shown and "only one class" in shown[-1]
    assert widget.model is None
    assert (viewer.layers["cells strokes"].data == 2).any()  # the strokes are untouched


def test_settings_are_remembered(qtbot, widget, viewer, make_napari_viewer):
    widget.time_budget.setValue(123)
    widget.tile_size.setValue(384)
    widget.edge_weight.setValue(2.5)
    widget.tta.setChecked(True)
    widget.object_size.setValue(40)
    widget._save_settings()
    other = make_napari_viewer()
    _, w2 = other.window.add_plugin_dock_widget("napari-unet", "U-Net from strokes")
    assert w2.time_budget.value() == 123 and w2.tile_size.value() == 384
    # the edge term, test-time augmentation and the object size reach the engine's configs
    assert w2.train_config().edge_weight == 2.5 and w2.predict_config().tta and w2.predict_config().diameter == 40


def test_closing_the_viewer_mid_training_ends_the_child_and_keeps_its_weights(qtbot, widget, viewer):
    widget.steps.setValue(100_000)
    trainer = widget.start_training()
    qtbot.waitUntil(lambda: trainer.step > 0, timeout=TIMEOUT)
    viewer.close()
    qtbot.waitUntil(lambda: QThreadPool.globalInstance().activeThreadCount() == 0, timeout=TIMEOUT)
    assert not trainer._process.is_alive()
    assert 0 < widget.model.steps_trained < 100_000  # the final weights arrived before the child ended


def test_instance_mode_paints_objects_and_predicts_one_label_per_object(qtbot, viewer):
    viewer.open_sample("napari-unet", "cells-instances")
    w = _add_widget(viewer, steps=100)
    w.mode.setCurrentText("instance")
    assert "one whole object" in w.hint.text()
    assert w.labels_combo.currentText() == "cells objects"
    _train(qtbot, w)
    assert w.model.mode == "instance" and not w.mode.isEnabled()
    layer = _predict(qtbot, w)
    from napari_unet._sample_data import make_sample

    n_true = make_sample(256, seed=0).instances.max()  # the sample's cells
    n = layer.data.max()
    assert layer.data.dtype == np.int32 and 0.6 * n_true <= n <= 1.4 * n_true
    assert len(np.unique(layer.data)) == n + 1  # one value per object, numbered 1..n
    assert f"{n} objects" in w.status.text()
    w.forget_model()  # a model trained for 5 steps is sure of nothing yet: the status says what to do
    w.steps.setValue(5)
    _train(qtbot, w)
    assert _predict(qtbot, w).data.max() == 0
    assert "no object yet that the model is 90% sure of" in w.status.text() and "Train more" in w.status.text()


def test_demo_opens_its_result_in_napari(monkeypatch, trained, sample, qtbot):
    """`napari-unet demo --napari`: the image, strokes and prediction, and the widget holding the model."""
    from napari_unet._widget import show_demo

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


def test_z_stack_predicts_every_slice_or_just_the_current_one(qtbot, viewer, sample):
    stack = np.stack([sample.image, sample.image[::-1], sample.image[:, ::-1]])
    strokes = np.zeros(stack.shape, np.uint8)
    strokes[1] = sample.strokes[::-1]
    viewer.add_image(stack, name="stack")
    viewer.add_labels(strokes, name="stack strokes")
    w = _add_widget(viewer)
    w.image_combo.setCurrentText("stack")
    w.labels_combo.setCurrentText("stack strokes")
    _train(qtbot, w)
    w.current_slice.setChecked(True)
    viewer.dims.set_current_step(0, 2)
    worker = w.start_prediction()
    assert worker is not None
    qtbot.waitUntil(lambda: w._predict_worker is None, timeout=TIMEOUT)
    layer = viewer.layers["stack prediction"]
    assert layer.data.shape == stack.shape
    assert (layer.data[2] > 0).all() and not layer.data[:2].any()
    w.current_slice.setChecked(False)
    w.start_prediction()
    qtbot.waitUntil(lambda: w._predict_worker is None, timeout=TIMEOUT)
    assert (viewer.layers["stack prediction"].data > 0).all()
    # the current slice alone, into the existing layer: the other slices keep what they hold
    layer.data[0] = 7  # e.g. corrected by hand
    viewer.dims.set_current_step(0, 1)
    w.current_slice.setChecked(True)
    w.start_prediction()
    qtbot.waitUntil(lambda: w._predict_worker is None, timeout=TIMEOUT)
    assert viewer.layers["stack prediction"].unique_id == layer.unique_id and (layer.data[0] == 7).all()
    from napari_unet.predict import predict_labels

    expected = predict_labels(w.model, stack, w.predict_config(), z_slices=[1]).labels[1]
    np.testing.assert_array_equal(layer.data[1], expected)


def test_zarr_image_opened_lazily_is_predicted_without_loading_it(qtbot, viewer, sample, tmp_path):
    """A big image opened from zarr stays lazy in napari; prediction reads it off the GUI thread."""
    import dask.array as da
    import zarr

    from napari_unet._widget_layers import prediction_input
    from napari_unet.config import PredictConfig
    from napari_unet.predict import predict_labels

    big = np.tile(sample.image, (2, 2))
    store = zarr.open_array(str(tmp_path / "big.zarr"), mode="w", shape=big.shape, chunks=(64, 64), dtype=big.dtype)
    store[:] = big
    lazy = da.from_zarr(str(tmp_path / "big.zarr"))
    viewer.add_image(lazy, name="big")
    viewer.add_labels(np.tile(sample.strokes, (2, 2)), name="big strokes")
    w = _add_widget(viewer)
    w.image_combo.setCurrentText("big")
    w.labels_combo.setCurrentText("big strokes")
    _train(qtbot, w)
    assert isinstance(prediction_input(viewer.layers["big"]), da.Array)  # handed over lazily, not copied
    w.start_prediction()
    qtbot.waitUntil(lambda: w._predict_worker is None, timeout=TIMEOUT)
    expected = predict_labels(w.model, big, PredictConfig(tile_size=128, device="cpu")).labels
    np.testing.assert_array_equal(viewer.layers["big prediction"].data, expected)


def test_multiscale_image_trains_and_predicts_at_full_resolution(qtbot, viewer, sample):
    pyramid = [sample.image, sample.image[::2, ::2]]
    viewer.add_image(pyramid, multiscale=True, name="pyramid")
    viewer.add_labels(sample.strokes, name="pyramid strokes")
    w = _add_widget(viewer)
    w.image_combo.setCurrentText("pyramid")
    w.labels_combo.setCurrentText("pyramid strokes")
    _train(qtbot, w)
    assert w.model is not None and w.model.steps_trained == 15
    w.start_prediction()
    qtbot.waitUntil(lambda: w._predict_worker is None, timeout=TIMEOUT)
    assert viewer.layers["pyramid prediction"].data.shape == sample.image.shape


def test_live_mode_uses_each_stroke_and_refreshes_the_visible_prediction(qtbot, widget, viewer):
    """Live on, a stroke painted as a user would (one undo step): the trainer gets the changed
    region without restarting and the preview of the visible region comes back."""
    strokes = viewer.layers["cells strokes"]
    widget.uncertainty.setChecked(True)
    qtbot.mouseClick(widget.live_btn, _left())
    trainer = widget.controller.trainer
    assert widget.controller.live and widget.live_btn.isChecked() and not widget.train_btn.isEnabled()
    qtbot.waitUntil(lambda: "cells prediction" in viewer.layers and trainer.step > 20, timeout=TIMEOUT)
    preview = viewer.layers["cells prediction"]
    assert preview.data.shape == strokes.data.shape and set(np.unique(preview.data)) <= {0, 1, 2}
    before = preview.data.copy()
    from napari_unet._widget_layers import visible_box

    y0, y1, x0, x1 = visible_box(viewer, viewer.layers["cells"])
    assert y1 - y0 >= 64 and x1 - x0 >= 64 and (before[y0:y1, x0:x1] > 0).all()  # what is on screen was predicted
    hesitation = viewer.layers["cells uncertainty"].data[y0:y1, x0:x1]
    assert 0 <= hesitation.min() < hesitation.max() <= 1
    strokes.selected_label, strokes.brush_size = 2, 5
    with strokes.block_history():  # one finished stroke = one paint event
        for x in range(20, 60):
            strokes.paint((200, x), 2, refresh=False)
    strokes.refresh()
    np.testing.assert_array_equal(trainer._stroke_files[0], strokes.data)  # the region reached the child
    qtbot.waitUntil(lambda: len(widget.live.latencies) > 0, timeout=TIMEOUT)
    assert widget.live.latencies[0] < 30  # the benchmark measures it properly (docs/benchmarks.md)
    assert (preview.data != before).any() and trainer.pid == widget.controller.trainer.pid  # same child
    strokes.undo()  # no paint event: the next refresh sends the difference
    qtbot.waitUntil(lambda: np.array_equal(trainer._stroke_files[0], strokes.data), timeout=TIMEOUT)
    viewer.close()
    qtbot.waitUntil(lambda: not trainer._process.is_alive(), timeout=TIMEOUT)
    assert widget.model is not None and widget.model.steps_trained > 20


def _left():
    from qtpy.QtCore import Qt

    return Qt.MouseButton.LeftButton


def test_every_image_with_strokes_trains_together(qtbot, viewer, sample):
    viewer.add_image(sample.image, name="a")
    viewer.add_labels(sample.strokes, name="a strokes")
    viewer.add_image(sample.image[::-1].copy(), name="b")
    viewer.add_labels(sample.strokes[::-1].copy(), name="b strokes")
    viewer.add_image(sample.image[:50], name="c")  # no strokes layer of its shape: not used
    viewer.add_labels(np.zeros((10, 10), np.uint8), name="c strokes")
    w = _add_widget(viewer)
    w.image_combo.setCurrentText("a")
    w.labels_combo.setCurrentText("a strokes")
    assert w.all_images.isChecked()  # the default
    trainer = _train(qtbot, w)
    assert len(trainer.images) == 2
    np.testing.assert_array_equal(trainer.strokes[1], sample.strokes[::-1])
    w.all_images.setChecked(False)
    assert len(_train(qtbot, w).images) == 1


def test_an_autosaved_model_is_offered_back_after_a_crash(qtbot, widget, viewer, make_napari_viewer, tmp_path,
                                                          recovery_file):
    _train(qtbot, widget)
    assert recovery_file.is_file() and widget.restore_btn.isHidden()
    # napari is gone without the model being saved; a new session offers it back
    other = make_napari_viewer(show=True)
    _, w2 = other.window.add_plugin_dock_widget("napari-unet", "U-Net from strokes")
    assert not w2.restore_btn.isHidden() and "autosaved at" in w2.restore_btn.toolTip()
    assert w2.restore_model().steps_trained == 15 and w2.restore_btn.isHidden()
    w2.save_model(str(tmp_path / "mine.pt"))  # the user's own copy: the autosaved one goes
    assert not recovery_file.exists()


def test_a_killed_trainer_is_reported_and_nothing_is_lost(qtbot, widget, viewer, monkeypatch):
    import os
    import signal

    shown = []
    monkeypatch.setattr("napari.utils.notifications.show_error", shown.append)
    strokes = viewer.layers["cells strokes"].data.copy()
    names = [layer.name for layer in viewer.layers]
    widget.controller.snapshot_every = 0.3
    widget.steps.setValue(100_000)
    trainer = widget.start_training()
    qtbot.waitUntil(lambda: trainer.model_step > 0, timeout=TIMEOUT)
    os.kill(trainer.pid, signal.SIGKILL)  # as the system does when memory runs out
    qtbot.waitUntil(lambda: not widget.controller.busy, timeout=TIMEOUT)
    assert shown and "killed (SIGKILL" in shown[-1] and "strokes are unchanged" in shown[-1]
    assert widget.model is not None and widget.model.steps_trained >= 1  # the last snapshot
    assert widget.predict_btn.isEnabled() and widget.train_btn.isEnabled()
    assert [layer.name for layer in viewer.layers] == names
    np.testing.assert_array_equal(viewer.layers["cells strokes"].data, strokes)


def test_pause_holds_training_and_keeps_the_child(qtbot, widget):
    widget.steps.setValue(100_000)
    trainer = widget.start_training()
    qtbot.waitUntil(lambda: trainer.step >= 3, timeout=TIMEOUT)
    assert widget.pause_btn.isEnabled()
    qtbot.mouseClick(widget.pause_btn, _left())
    assert widget.controller.paused and "Paused" in widget.status.text()
    qtbot.wait(1500)  # the step under way finishes and its progress arrives
    held = trainer.step
    qtbot.wait(1500)
    assert trainer.step == held and trainer._process.is_alive()
    qtbot.mouseClick(widget.pause_btn, _left())
    assert not widget.controller.paused
    qtbot.waitUntil(lambda: trainer.step > held, timeout=TIMEOUT)
    qtbot.mouseClick(widget.pause_btn, _left())  # stopping while paused works too
    widget.stop()
    qtbot.waitUntil(lambda: not widget.controller.busy, timeout=TIMEOUT)
    assert "Stopped" in widget.status.text() and not widget.pause_btn.isChecked()
    assert not widget.pause_btn.isEnabled() and widget.model.steps_trained > held


def test_inspect_background_is_transparent_and_outlines_leave_the_image_visible(qtbot, widget, viewer):
    widget.steps.setValue(200)  # long enough for cells to appear
    _train(qtbot, widget)
    layer = _predict(qtbot, widget)
    strokes = viewer.layers["cells strokes"]
    assert layer.get_color(1)[3] == 0  # the background class: transparent
    np.testing.assert_allclose(layer.get_color(2), strokes.get_color(2))  # the strokes' colours
    strokes.visible = False
    layer.visible = False
    alone = viewer.screenshot(canvas_only=True, flash=False)[..., :3].astype(int)
    layer.visible = True
    qtbot.wait(300)
    filled = (np.abs(viewer.screenshot(canvas_only=True, flash=False)[..., :3] - alone).sum(-1) > 30).sum()
    widget.outlines.setChecked(True)
    assert layer.contour > 0
    qtbot.wait(300)
    drawn = (np.abs(viewer.screenshot(canvas_only=True, flash=False)[..., :3] - alone).sum(-1) > 30).sum()
    assert 0 < drawn < 0.6 * filled  # outlines: the inside of each region shows the image
    widget.opacity.setValue(30)
    assert layer.opacity == 0.3
    widget.inspect.toggle()  # Alt-O
    assert not layer.visible
    assert "Alt+T" in str(list(viewer.keymap)) and "(Alt-T)" in widget.train_btn.toolTip()


def test_prediction_copied_into_unpainted_strokes_of_the_visible_region(qtbot, widget, viewer):
    from napari_unet._widget_layers import visible_box

    widget.steps.setValue(200)  # long enough for cells to appear
    _train(qtbot, widget)
    prediction = _predict(qtbot, widget).data.copy()
    strokes = viewer.layers["cells strokes"]
    before = strokes.data.copy()
    viewer.scene.camera.zoom *= 3  # only a part of the image on screen
    qtbot.wait(300)
    y0, y1, x0, x1 = visible_box(viewer, viewer.layers["cells"])
    assert (y1 - y0) * (x1 - x0) < 0.5 * prediction.size
    copied = widget.inspect.use_as_strokes()
    inside = np.zeros(before.shape, bool)
    inside[y0:y1, x0:x1] = True
    after = strokes.data
    assert copied == ((before == 0) & inside).sum() > 0
    np.testing.assert_array_equal(after[~inside], before[~inside])  # outside the region: untouched
    painted = before != 0
    np.testing.assert_array_equal(after[painted], before[painted])  # the user's strokes: untouched
    np.testing.assert_array_equal(after[inside & ~painted], prediction[inside & ~painted])
    strokes.undo()  # one undo step takes it back
    np.testing.assert_array_equal(strokes.data, before)
    widget.copy_what.setCurrentText("chosen object or class")  # only the cells, picked on the prediction
    viewer.layers["cells prediction"].selected_label = 2
    copied = widget.inspect.use_as_strokes()
    assert copied == ((before == 0) & inside & (prediction == 2)).sum() > 0
    np.testing.assert_array_equal(strokes.data[inside & ~painted & (prediction == 1)], 0)
    widget.steps.setValue(5)
    _train(qtbot, widget)  # training on the corrected strokes runs
    assert widget.model.steps_trained == 205


def test_measurements_of_the_predicted_objects(qtbot, viewer, tmp_path):
    import csv

    viewer.open_sample("napari-unet", "cells-instances")
    w = _add_widget(viewer, steps=100)
    w.mode.setCurrentText("instance")
    _train(qtbot, w)
    labels = _predict(qtbot, w).data
    viewer.layers["cells"].scale = (0.5, 0.5)
    viewer.layers["cells prediction"].scale = (0.5, 0.5)
    path = w.inspect.measure(str(tmp_path / "objects.csv"))
    rows = list(csv.DictReader(open(path)))
    counts = np.bincount(labels.ravel())[1:]
    assert len(rows) == labels.max() == len(counts) and f"{len(rows)} objects measured" in w.status.text()
    assert [int(r["area_px"]) for r in rows] == list(counts)
    assert float(rows[0]["area"]) == int(rows[0]["area_px"]) * 0.25


def test_live_on_an_rgb_image_and_closing_its_layer_stops_it(qtbot, viewer, sample):
    rgb = np.stack([sample.image // 256] * 3, axis=-1).astype(np.uint8)
    viewer.add_image(rgb, name="colour", rgb=True)
    viewer.add_labels(sample.strokes, name="colour strokes")
    viewer.add_image(sample.image, name="other")
    w = _add_widget(viewer)
    w.image_combo.setCurrentText("colour")
    w.labels_combo.setCurrentText("colour strokes")
    w.live_btn.click()
    trainer = w.controller.trainer
    qtbot.waitUntil(lambda: "colour prediction" in viewer.layers, timeout=TIMEOUT)
    assert viewer.layers["colour prediction"].data.shape == sample.strokes.shape
    viewer.layers.remove("colour")  # another image remains: live training must still end
    qtbot.waitUntil(lambda: not w.controller.busy, timeout=TIMEOUT)
    assert not trainer._process.is_alive() and not w.live_btn.isChecked()


def test_the_slice_on_screen_of_stacks_of_different_depths(viewer, sample):
    from napari_unet._widget_layers import current_z

    short = viewer.add_image(np.stack([sample.image] * 3), name="short")
    deep = viewer.add_image(np.stack([sample.image] * 5), name="deep")
    viewer.dims.set_current_step(0, 4)
    assert current_z(viewer, deep) == 4 and current_z(viewer, short) is None
    viewer.dims.set_current_step(0, 1)
    assert current_z(viewer, short) == 1


def test_start_from_the_nuclei_base_model_predict_paint_and_train_more(qtbot, viewer, user_models):
    """Choose a base model, predict at once, paint a few objects, fine-tune, keep it under a name."""
    from napari_unet._sample_data import make_sample, simulate_instance_strokes

    sample = make_sample(256, seed=0)
    viewer.add_image(sample.image, name="cells")
    w = _add_widget(viewer, steps=3)
    entries = [w.start_from.itemText(i) for i in range(w.start_from.count())]
    assert entries == ["scratch", "nuclei (base model)", "em-membranes (base model)", "file…"]
    w.start_from.setCurrentIndex(1)
    w.start_from.activated.emit(1)  # what choosing it with the mouse does
    assert w.model.info["name"] == "nuclei" and w.model.mode == "instance"
    assert w.mode.currentText() == "instance" and not w.mode.isEnabled()
    assert "nuclei" in w.model_info.text() and w.predict_btn.isEnabled()
    assert "Paint for <b>nuclei</b>" in w.hint.text() and "one whole nucleus each" in w.hint.text()

    layer = _predict(qtbot, w)  # zero-shot: no training
    fg, truth = layer.data > 0, sample.truth == 2
    assert (fg & truth).sum() / (fg | truth).sum() > 0.7

    strokes = w.new_annotation_layer()
    strokes.data = simulate_instance_strokes(sample.instances, seed=0).astype(strokes.data.dtype)
    assert "&#9632;" in w.hint.text()  # the legend shows the strokes layer's colours
    base_steps = w.model.steps_trained
    assert w.train_btn.text() == "Train more"
    _train(qtbot, w)
    assert w.model.steps_trained == base_steps + 3
    assert w.model.info["fine_tuned_from"] == "nuclei" and "name" not in w.model.info

    saved = w.models.save_named("my-nuclei")
    assert saved == user_models / "my-nuclei.pt"
    assert "my-nuclei" in [w.start_from.itemText(i) for i in range(w.start_from.count())]
    w.start_from.setCurrentIndex(0)
    w.start_from.activated.emit(0)  # scratch: the next Train starts a new model
    assert w.model is None and w.train_btn.text() == "Train"


def test_nuclei_much_larger_than_the_base_models_are_found_on_a_shrunken_copy(qtbot, viewer):
    from napari_unet._sample_data import make_sample

    s = make_sample(96, seed=3)
    big = np.kron(s.image, np.ones((4, 4), s.image.dtype))  # nuclei 4x as wide as the sample's
    viewer.add_image(big, name="cells")
    w = _add_widget(viewer)
    assert w.object_size.text() == "auto" and not w.object_size.isEnabled()  # semantic until nuclei is chosen
    w.start_from.setCurrentIndex(1)
    w.start_from.activated.emit(1)
    assert w.object_size.isEnabled()
    layer = _predict(qtbot, w)
    assert layer.data.shape == big.shape and "objects (predicted at " in w.status.text()
    w.object_size.setValue(1)  # no larger than the model's objects: the image as it is
    _predict(qtbot, w)
    assert "predicted at" not in w.status.text()


def test_export_to_bioimageio_then_load_the_package_back(qtbot, widget, viewer, tmp_path, monkeypatch):
    """Train, export through the dialog (tested by bioimageio.core in a worker), load the package back."""
    need("bioimageio.core", "bioimageio")
    from qtpy.QtWidgets import QDialog, QFileDialog

    from napari_unet._widget_export import ExportDialog

    shown = []
    monkeypatch.setattr("napari.utils.notifications.show_error", shown.append)
    assert not widget.export_btn.isEnabled()  # no model yet
    _train(qtbot, widget)
    first = _predict(qtbot, widget).data.copy()
    assert widget.export_btn.isEnabled()

    def fill_in(dialog):
        assert dialog.name.text() == "cells model"
        dialog.authors.setText("A. Biologist, B. Engineer")
        return QDialog.DialogCode.Accepted

    package = tmp_path / "cells.zip"
    monkeypatch.setattr(ExportDialog, "exec", fill_in)
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(package), ""))
    worker = widget.export_btn.click() or widget.export.worker
    assert worker is not None and not widget.export_btn.isEnabled()
    qtbot.waitUntil(lambda: widget.export.worker is None, timeout=TIMEOUT)
    assert not shown, shown
    assert package.is_file() and "pytorch_state_dict passed, torchscript passed" in widget.status.text()

    widget.forget_model()
    widget.load_model(str(package))
    assert widget.model.steps_trained == 15
    np.testing.assert_array_equal(_predict(qtbot, widget).data, first)

    def bad_name(dialog):
        dialog.name.setText("cells/v2")
        return QDialog.DialogCode.Accepted

    monkeypatch.setattr(ExportDialog, "exec", bad_name)
    assert widget.export.start() is None and widget.export.worker is None
    assert shown and "package name 'cells/v2' is not allowed" in shown[-1]
