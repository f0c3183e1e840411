"""'Paint here next' in the widget (real napari window, Xvfb): the places where the model
hesitates, numbered on the image, and Alt-N moving the view from one to the next."""

import numpy as np
from conftest import need

napari = need("napari", "testing")

from widget_helpers import (  # noqa: E402,F401 (fixtures)
    TIMEOUT, isolated_settings, paint, press, train, viewer, widget,
)


def centre(viewer):
    return np.array(viewer.scene.camera.center[-2:])


def test_paint_at_the_suggestion_and_alt_n_moves_to_the_next_place(qtbot, widget, viewer):
    from napari_unet.review.suggest import suggest_places

    train(qtbot, widget)  # a young model: it hesitates in many places
    press(viewer, "n")  # no uncertainty overlay yet: the widget predicts one, then moves
    qtbot.waitUntil(lambda: widget.suggestions.current is not None, timeout=TIMEOUT)
    first = widget.suggestions.current
    points = viewer.layers["cells paint here next"]
    assert 1 <= len(points.data) <= 5 and widget.predict_panel.uncertainty.isChecked()
    np.testing.assert_allclose(points.data[0], (first.y, first.x))  # the best place is number 1, and shown
    np.testing.assert_allclose(centre(viewer), (first.y, first.x))
    assert viewer.layers.selection.active.name == "cells strokes"  # ready to paint there
    assert "Paint here next (1 of" in widget.status.text()
    # what the engine ranks from the same layers
    spread, labels = viewer.layers["cells uncertainty"].data, viewer.layers["cells prediction"].data
    strokes = viewer.layers["cells strokes"]
    assert suggest_places(spread, labels, strokes.data, count=1, window=48)[0] == first

    yy, xx = np.mgrid[-12:13:4, -12:13:4]
    paint(strokes, np.stack([yy.ravel() + first.y, xx.ravel() + first.x], 1), value=1, brush=9)
    after = suggest_places(spread, labels, strokes.data, count=5, window=48)
    assert all(max(abs(p.y - first.y), abs(p.x - first.x)) > 12 for p in after[:1])  # the painted spot dropped
    press(viewer, "n")
    second = widget.suggestions.current
    assert max(abs(second.y - first.y), abs(second.x - first.x)) > 48  # another place
    np.testing.assert_allclose(centre(viewer), (second.y, second.x))
    assert "Paint here next" in widget.status.text()


def test_without_a_model_it_says_what_to_do_first(qtbot, widget, viewer):
    widget.predict_panel.suggest_btn.click()
    assert "train a model first" in widget.status.text()
    assert "cells paint here next" not in viewer.layers
