"""Predict from the widget (real napari window, Xvfb): probabilities and uncertainty, z-stacks,
lazy zarr, multiscale images, objects larger than the model's."""

import numpy as np
from conftest import need

napari = need("napari", "testing")

from widget_helpers import (  # noqa: E402,F401 (fixtures)
    TIMEOUT, add_widget, isolated_settings, predict, train, viewer, widget,
)


def test_probabilities_and_uncertainty_layers_match_the_labels(qtbot, widget, viewer):
    train(qtbot, widget)
    widget.predict_panel.uncertainty.setChecked(True)
    labels = predict(qtbot, widget).data
    assert "cells p(class 1)" not in viewer.layers  # asked for the uncertainty only
    hesitation = viewer.layers["cells uncertainty"].data
    widget.predict_panel.probabilities.setChecked(True)
    labels = predict(qtbot, widget).data
    p1, p2 = (viewer.layers[f"cells p(class {v})"].data for v in (1, 2))
    assert p1.shape == labels.shape and not viewer.layers["cells p(class 1)"].visible
    np.testing.assert_allclose(p1 + p2, 1, atol=1e-4)
    np.testing.assert_array_equal(np.where(p2 > p1, 2, 1)[p1 != p2], labels[p1 != p2])
    from napari_unet.predict.pipeline import uncertainty

    np.testing.assert_allclose(hesitation, uncertainty(np.stack([p1, p2])[None])[0], atol=1e-5)


def test_z_stack_predicts_every_slice_or_just_the_current_one(qtbot, viewer, sample):
    stack = np.stack([sample.image, sample.image[::-1], sample.image[:, ::-1]])
    strokes = np.zeros(stack.shape, np.uint8)
    strokes[1] = sample.strokes[::-1]
    viewer.add_image(stack, name="stack")
    viewer.add_labels(strokes, name="stack strokes")
    w = add_widget(viewer)
    w.data_panel.image_combo.setCurrentText("stack")
    w.data_panel.labels_combo.setCurrentText("stack strokes")
    train(qtbot, w)
    w.predict_panel.current_slice.setChecked(True)
    viewer.dims.set_current_step(0, 2)
    worker = w.start_prediction()
    assert worker is not None
    qtbot.waitUntil(lambda: w.prediction.worker is None, timeout=TIMEOUT)
    layer = viewer.layers["stack prediction"]
    assert layer.data.shape == stack.shape
    assert (layer.data[2] > 0).all() and not layer.data[:2].any()
    w.predict_panel.current_slice.setChecked(False)
    w.start_prediction()
    qtbot.waitUntil(lambda: w.prediction.worker is None, timeout=TIMEOUT)
    assert (viewer.layers["stack prediction"].data > 0).all()
    # the current slice alone, into the existing layer: the other slices keep what they hold
    layer.data[0] = 7  # e.g. corrected by hand
    viewer.dims.set_current_step(0, 1)
    w.predict_panel.current_slice.setChecked(True)
    w.start_prediction()
    qtbot.waitUntil(lambda: w.prediction.worker is None, timeout=TIMEOUT)
    assert viewer.layers["stack prediction"].unique_id == layer.unique_id and (layer.data[0] == 7).all()
    from napari_unet.predict.pipeline import predict_labels

    expected = predict_labels(w.model, stack, w.predict_config(), z_slices=[1]).labels[1]
    np.testing.assert_array_equal(layer.data[1], expected)


def test_zarr_image_opened_lazily_is_predicted_without_loading_it(qtbot, viewer, sample, tmp_path):
    """A big image opened from zarr stays lazy in napari; prediction reads it off the GUI thread."""
    import dask.array as da
    import zarr

    from napari_unet.widget.layers import prediction_input
    from napari_unet.core.config import PredictConfig
    from napari_unet.predict.pipeline import predict_labels

    big = np.tile(sample.image, (2, 2))
    store = zarr.open_array(str(tmp_path / "big.zarr"), mode="w", shape=big.shape, chunks=(64, 64), dtype=big.dtype)
    store[:] = big
    lazy = da.from_zarr(str(tmp_path / "big.zarr"))
    viewer.add_image(lazy, name="big")
    viewer.add_labels(np.tile(sample.strokes, (2, 2)), name="big strokes")
    w = add_widget(viewer)
    w.data_panel.image_combo.setCurrentText("big")
    w.data_panel.labels_combo.setCurrentText("big strokes")
    train(qtbot, w)
    assert isinstance(prediction_input(viewer.layers["big"]), da.Array)  # handed over lazily, not copied
    w.start_prediction()
    qtbot.waitUntil(lambda: w.prediction.worker is None, timeout=TIMEOUT)
    expected = predict_labels(w.model, big, PredictConfig(tile_size=128, device="cpu")).labels
    np.testing.assert_array_equal(viewer.layers["big prediction"].data, expected)


def test_multiscale_image_trains_and_predicts_at_full_resolution(qtbot, viewer, sample):
    pyramid = [sample.image, sample.image[::2, ::2]]
    viewer.add_image(pyramid, multiscale=True, name="pyramid")
    viewer.add_labels(sample.strokes, name="pyramid strokes")
    w = add_widget(viewer)
    w.data_panel.image_combo.setCurrentText("pyramid")
    w.data_panel.labels_combo.setCurrentText("pyramid strokes")
    train(qtbot, w)
    assert w.model is not None and w.model.steps_trained == 15
    w.start_prediction()
    qtbot.waitUntil(lambda: w.prediction.worker is None, timeout=TIMEOUT)
    assert viewer.layers["pyramid prediction"].data.shape == sample.image.shape


def test_nuclei_much_larger_than_the_base_models_are_found_on_a_shrunken_copy(qtbot, viewer):
    from napari_unet.core.samples import make_sample

    s = make_sample(96, seed=3)
    big = np.kron(s.image, np.ones((4, 4), s.image.dtype))  # nuclei 4x as wide as the sample's
    viewer.add_image(big, name="cells")
    w = add_widget(viewer)
    assert w.controls["diameter"].text() == "auto" and not w.controls["diameter"].isEnabled()  # semantic until nuclei is chosen
    w.data_panel.start_from.setCurrentIndex(1)
    w.data_panel.start_from.activated.emit(1)
    assert w.controls["diameter"].isEnabled()
    layer = predict(qtbot, w)
    assert layer.data.shape == big.shape and "objects (predicted at " in w.status.text()
    w.controls["diameter"].setValue(1)  # no larger than the model's objects: the image as it is
    predict(qtbot, w)
    assert "predicted at" not in w.status.text()
