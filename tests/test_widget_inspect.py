"""Inspect and correct (real napari window, Xvfb): how the prediction is drawn, copying it into
the strokes, measuring its objects."""

import numpy as np
from conftest import need

napari = need("napari", "testing")

from widget_helpers import add_widget, isolated_settings, predict, train, viewer, widget  # noqa: E402,F401 (fixtures)


def test_inspect_background_is_transparent_and_outlines_leave_the_image_visible(qtbot, widget, viewer):
    widget.controls["steps"].setValue(200)  # long enough for cells to appear
    train(qtbot, widget)
    layer = predict(qtbot, widget)
    strokes = viewer.layers["cells strokes"]
    assert layer.get_color(1)[3] == 0  # the background class: transparent
    np.testing.assert_allclose(layer.get_color(2), strokes.get_color(2))  # the strokes' colours
    strokes.visible = False
    layer.visible = False
    alone = viewer.screenshot(canvas_only=True, flash=False)[..., :3].astype(int)
    layer.visible = True
    qtbot.wait(300)
    filled = (np.abs(viewer.screenshot(canvas_only=True, flash=False)[..., :3] - alone).sum(-1) > 30).sum()
    widget.inspect_panel.outlines.setChecked(True)
    assert layer.contour > 0
    qtbot.wait(300)
    drawn = (np.abs(viewer.screenshot(canvas_only=True, flash=False)[..., :3] - alone).sum(-1) > 30).sum()
    assert 0 < drawn < 0.6 * filled  # outlines: the inside of each region shows the image
    widget.inspect_panel.opacity.setValue(30)
    assert layer.opacity == 0.3
    widget.inspect.toggle()  # Alt-O
    assert not layer.visible
    assert "Alt+T" in str(list(viewer.keymap)) and "(Alt-T)" in widget.train_panel.train_btn.toolTip()


def test_prediction_copied_into_unpainted_strokes_of_the_visible_region(qtbot, widget, viewer):
    from napari_unet.widget.layers import visible_box

    widget.controls["steps"].setValue(200)  # long enough for cells to appear
    train(qtbot, widget)
    prediction = predict(qtbot, widget).data.copy()
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
    widget.inspect_panel.copy_what.setCurrentText("chosen object or class")  # only the cells, picked on the prediction
    viewer.layers["cells prediction"].selected_label = 2
    copied = widget.inspect.use_as_strokes()
    assert copied == ((before == 0) & inside & (prediction == 2)).sum() > 0
    np.testing.assert_array_equal(strokes.data[inside & ~painted & (prediction == 1)], 0)
    widget.controls["steps"].setValue(5)
    train(qtbot, widget)  # training on the corrected strokes runs
    assert widget.model.steps_trained == 205


def test_measurements_of_the_predicted_objects(qtbot, viewer, tmp_path):
    import csv

    viewer.open_sample("napari-unet", "cells-instances")
    w = add_widget(viewer, steps=100)
    w.controls["mode"].setCurrentText("instance")
    train(qtbot, w)
    labels = predict(qtbot, w).data
    viewer.layers["cells"].scale = (0.5, 0.5)
    viewer.layers["cells prediction"].scale = (0.5, 0.5)
    path = w.inspect.measure(str(tmp_path / "objects.csv"))
    rows = list(csv.DictReader(open(path)))
    counts = np.bincount(labels.ravel())[1:]
    assert len(rows) == labels.max() == len(counts) and f"{len(rows)} objects measured" in w.status.text()
    assert [int(r["area_px"]) for r in rows] == list(counts)
    assert float(rows[0]["area"]) == int(rows[0]["area_px"]) * 0.25
