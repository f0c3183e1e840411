"""A user's stories through the widget (real napari window, Xvfb): paint, train, predict and
look; click and paint the cells; start from the nuclei base model; objects in instance mode."""

import numpy as np
from conftest import need

napari = need("napari", "testing")

from widget_helpers import (  # noqa: E402,F401 (fixtures)
    TIMEOUT, add_widget, engine_prediction, isolated_settings, predict, train, viewer, widget,
)


def test_paint_train_predict_inspect(qtbot, widget, viewer):
    train(qtbot, widget)
    assert widget.model is not None and widget.model.steps_trained == 15
    assert len(widget.train_panel.loss_plot.values) == 15
    assert widget.predict_panel.predict_btn.isEnabled() and widget.train_panel.train_btn.text() == "Train more"
    layer = predict(qtbot, widget)
    image = viewer.layers["cells"]
    # the layer holds the model's prediction (how good it is: the clicking story below)
    np.testing.assert_array_equal(layer.data, engine_prediction(widget, image.data))
    np.testing.assert_array_equal(layer.scale, image.scale)

    # train more (fine-tuning the same model) and predict again: the same layer is updated
    train(qtbot, widget)
    assert widget.model.steps_trained == 30
    layer.data = np.zeros_like(layer.data)  # stale content that the new prediction must replace
    again = predict(qtbot, widget)
    assert again.unique_id == layer.unique_id  # the same layer object, not a new one
    np.testing.assert_array_equal(again.data, engine_prediction(widget, image.data))
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
    from scores import iou, otsu_foreground

    from napari_unet.core.samples import make_sample

    sample = make_sample(256, seed=0)
    viewer.add_image(sample.image, name="cells")
    w = add_widget(viewer, steps=250)
    qtbot.mouseClick(w.data_panel.new_labels_btn, Qt.MouseButton.LeftButton)
    layer = viewer.layers["cells strokes"]
    assert layer.mode == "paint" and viewer.layers.selection.active is layer
    layer.brush_size = 3
    for value in (1, 2):  # the sample's strokes (down the middle of regions), painted dab by dab
        ys, xs = np.nonzero(sample.strokes == value)
        for y, x in list(zip(ys, xs))[::2]:
            layer.paint((y, x), value, refresh=False)
    layer.refresh()
    assert set(np.unique(layer.data)) == {0, 1, 2}
    qtbot.mouseClick(w.train_panel.train_btn, Qt.MouseButton.LeftButton)
    assert w.controller.trainer is not None
    qtbot.waitUntil(lambda: not w.controller.busy, timeout=TIMEOUT)
    assert w.model.steps_trained == 250
    qtbot.mouseClick(w.predict_panel.predict_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: w.prediction.worker is None and "cells prediction" in viewer.layers, timeout=TIMEOUT)
    truth = sample.truth == 2
    ours = iou(viewer.layers["cells prediction"].data == 2, truth)
    otsu = iou(otsu_foreground(sample.image), truth)  # no learning: 0.705 on this image
    assert ours >= max(0.85, otsu + 0.15), (ours, otsu)  # 0.92 when written


def test_start_from_the_nuclei_base_model_predict_paint_and_train_more(qtbot, viewer, user_models):
    """Choose a base model, predict at once, paint a few objects, fine-tune, keep it under a name."""
    from scores import f1, iou, otsu_foreground, otsu_objects

    from napari_unet.core.samples import make_sample, simulate_instance_strokes

    sample = make_sample(256, seed=0)
    viewer.add_image(sample.image, name="cells")
    w = add_widget(viewer, steps=3)
    entries = [w.data_panel.start_from.itemText(i) for i in range(w.data_panel.start_from.count())]
    assert entries == ["scratch", "nuclei (base model)", "em-membranes (base model)", "cells (base model)", "file…"]
    w.data_panel.start_from.setCurrentIndex(1)
    w.data_panel.start_from.activated.emit(1)  # what choosing it with the mouse does
    assert w.model.info.name == "nuclei" and w.model.mode == "instance"
    assert w.controls["mode"].currentText() == "instance" and not w.controls["mode"].isEnabled()
    assert "nuclei" in w.model_panel.model_info.text() and w.predict_panel.predict_btn.isEnabled()
    assert "Paint for <b>nuclei</b>" in w.data_panel.hint.text() and "one whole nucleus each" in w.data_panel.hint.text()

    zero_shot = predict(qtbot, w).data.copy()  # no training
    cells, otsu = iou(zero_shot > 0, sample.truth == 2), iou(otsu_foreground(sample.image), sample.truth == 2)
    assert cells >= max(0.85, otsu + 0.15), (cells, otsu)  # 0.90 and 0.705 when written
    objects, otsu_objects_f1 = f1(zero_shot, sample.instances), f1(otsu_objects(sample.image), sample.instances)
    assert objects >= max(0.75, otsu_objects_f1 + 0.3), (objects, otsu_objects_f1)  # 0.84 and 0.07 when written

    strokes = w.new_annotation_layer()
    strokes.data = simulate_instance_strokes(sample.instances, seed=0).astype(strokes.data.dtype)
    assert "&#9632;" in w.data_panel.hint.text()  # the legend shows the strokes layer's colours
    base_steps = w.model.steps_trained
    assert w.train_panel.train_btn.text() == "Train more"
    train(qtbot, w)
    assert w.model.steps_trained == base_steps + 3
    assert w.model.info.fine_tuned_from == "nuclei" and w.model.info.name is None
    # three steps carry on from the nuclei weights: the prediction is still theirs
    kept = iou(predict(qtbot, w).data > 0, zero_shot > 0)
    assert kept >= 0.9, kept  # 0.95 when written

    saved = w.models.save_named("my-nuclei")
    assert saved == user_models / "my-nuclei.pt"
    assert "my-nuclei" in [w.data_panel.start_from.itemText(i) for i in range(w.data_panel.start_from.count())]
    w.data_panel.start_from.setCurrentIndex(0)
    w.data_panel.start_from.activated.emit(0)  # scratch: the next Train starts a new model
    assert w.model is None and w.train_panel.train_btn.text() == "Train"


def test_instance_mode_paints_objects_and_predicts_one_label_per_object(qtbot, viewer):
    from scores import f1, otsu_objects

    viewer.open_sample("napari-unet", "cells-instances")
    w = add_widget(viewer, steps=100)
    w.controls["mode"].setCurrentText("instance")
    assert "one whole object" in w.data_panel.hint.text()
    assert w.data_panel.labels_combo.currentText() == "cells objects"
    train(qtbot, w)
    assert w.model.mode == "instance" and not w.controls["mode"].isEnabled()
    layer = predict(qtbot, w)
    from napari_unet.core.samples import make_sample

    sample = make_sample(256, seed=0)  # the sample's cells
    ours, otsu = f1(layer.data, sample.instances), f1(otsu_objects(sample.image), sample.instances)
    assert ours >= max(0.75, otsu + 0.3), (ours, otsu)  # objects found one to one; 0.91 and 0.07 when written
    n = layer.data.max()
    assert layer.data.dtype == np.int32
    assert len(np.unique(layer.data)) == n + 1  # one value per object, numbered 1..n
    assert f"{n} objects" in w.status.text()
    w.forget_model()  # a model trained for 5 steps is sure of nothing yet: the status says what to do
    w.controls["steps"].setValue(5)
    train(qtbot, w)
    assert predict(qtbot, w).data.max() == 0
    assert "no object yet that the model is 90% sure of" in w.status.text() and "Train more" in w.status.text()
