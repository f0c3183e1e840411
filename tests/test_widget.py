"""The plugin inside a real napari window (run under Xvfb): paint, train, stop, predict, inspect."""

import numpy as np
import pytest

napari = pytest.importorskip("napari")

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
    worker = w.start_training()
    assert worker is not None
    qtbot.waitUntil(lambda: w._train_worker is None, timeout=TIMEOUT)
    return worker


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


def test_paint_train_predict_inspect(qtbot, widget, viewer):
    _train(qtbot, widget)
    assert widget.model is not None and widget.model.steps_trained == 15
    assert len(widget.loss_plot.values) == 15
    assert widget.predict_btn.isEnabled() and widget.train_btn.text() == "Train more"
    layer = _predict(qtbot, widget)
    image = viewer.layers["cells"]
    assert layer.data.shape == image.data.shape
    assert set(np.unique(layer.data)) <= {1, 2}
    np.testing.assert_array_equal(layer.scale, image.scale)

    # train more (fine-tuning the same model) and predict again: the same layer is updated
    _train(qtbot, widget)
    assert widget.model.steps_trained == 30
    again = _predict(qtbot, widget)
    assert again.data is not None and again.name == layer.name
    assert [lay.name for lay in viewer.layers].count("cells prediction") == 1

    # the canvas shows the prediction over the image
    shot = viewer.screenshot(canvas_only=True, flash=False)
    assert shot.shape[-1] == 4 and shot[..., :3].std() > 10


def test_stop_mid_training_keeps_the_weights(qtbot, widget):
    widget.steps.setValue(100_000)
    worker = widget.start_training()
    qtbot.waitUntil(lambda: widget.model is not None and widget.model.steps_trained >= 3, timeout=TIMEOUT)
    assert widget.stop_btn.isEnabled() and not widget.train_btn.isEnabled()
    widget.stop()
    qtbot.waitUntil(lambda: widget._train_worker is None, timeout=TIMEOUT)
    assert worker.abort_requested
    steps = widget.model.steps_trained
    assert 3 <= steps < 100_000
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


def test_train_without_strokes_notifies_and_changes_nothing(qtbot, widget, viewer, monkeypatch):
    shown = []
    monkeypatch.setattr("napari.utils.notifications.show_error", shown.append)
    widget.new_annotation_layer()  # empty
    before = [layer.name for layer in viewer.layers]
    assert widget.start_training() is None
    assert shown and "no strokes" in shown[0]
    assert widget.model is None and widget._train_worker is None
    assert [layer.name for layer in viewer.layers] == before


def test_engine_errors_arrive_as_notifications(qtbot, widget, viewer, monkeypatch):
    shown = []
    monkeypatch.setattr("napari.utils.notifications.show_error", shown.append)
    strokes = viewer.layers["cells strokes"]
    strokes.data = np.where(strokes.data == 2, 2, 0).astype(np.uint8)  # only one class painted
    widget.start_training()
    qtbot.waitUntil(lambda: widget._train_worker is None, timeout=TIMEOUT)
    assert shown and "only one class" in shown[-1]
    assert widget.model is None
    assert (viewer.layers["cells strokes"].data == 2).any()  # the strokes are untouched


def test_settings_are_remembered(qtbot, widget, viewer, make_napari_viewer):
    widget.time_budget.setValue(123)
    widget.tile_size.setValue(384)
    widget.edge_weight.setValue(2.5)
    widget.tta.setChecked(True)
    widget._save_settings()
    other = make_napari_viewer()
    _, w2 = other.window.add_plugin_dock_widget("napari-unet", "U-Net from strokes")
    assert w2.time_budget.value() == 123 and w2.tile_size.value() == 384
    # the edge term and test-time augmentation reach the engine's configs
    assert w2.train_config().edge_weight == 2.5 and w2.predict_config().tta


def test_closing_the_viewer_mid_training_leaves_no_running_thread(qtbot, widget, viewer):
    widget.steps.setValue(100_000)
    widget.start_training()
    qtbot.waitUntil(lambda: widget.model is not None, timeout=TIMEOUT)
    viewer.close()
    qtbot.waitUntil(lambda: QThreadPool.globalInstance().activeThreadCount() == 0, timeout=TIMEOUT)
    assert widget.model.steps_trained < 100_000


def test_instance_mode_paints_objects_and_predicts_one_label_per_object(qtbot, viewer):
    viewer.open_sample("napari-unet", "cells-instances")
    w = _add_widget(viewer, steps=30)
    w.mode.setCurrentText("instance")
    assert "one whole object" in w.hint.text()
    assert w.labels_combo.currentText() == "cells objects"
    _train(qtbot, w)
    assert w.model.mode == "instance" and not w.mode.isEnabled()
    layer = _predict(qtbot, w)
    assert layer.data.dtype == np.int32 and layer.data.max() >= 2
    assert "objects" in w.status.text()


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


def test_zarr_image_opened_lazily_is_predicted_without_loading_it(qtbot, viewer, sample, tmp_path):
    """A big image opened from zarr stays lazy in napari; prediction reads it off the GUI thread."""
    import dask.array as da
    import zarr

    from napari_unet._widget import _prediction_input
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
    assert isinstance(_prediction_input(viewer.layers["big"]), da.Array)  # handed over lazily, not copied
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
