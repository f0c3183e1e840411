"""Live mode (real napari window, Xvfb): training while the user paints, the preview of the
visible region."""

import numpy as np
from conftest import need

napari = need("napari", "testing")

from widget_helpers import (  # noqa: E402,F401 (fixtures)
    LEFT, TIMEOUT, add_widget, engine_prediction, isolated_settings, paint, viewer,
)


def _scene_with_holes():
    """The sample with six dark holes far from its cells: a kind of object its strokes leave out.
    Returns the image, the sample, the holes' centres and their mask."""
    from scipy import ndimage as ndi

    from napari_unet.core.samples import make_sample

    sample = make_sample(256, seed=0)
    far = ndi.distance_transform_edt(sample.instances == 0)
    rng, centres = np.random.default_rng(0), []
    while len(centres) < 6:
        y, x = rng.integers(20, 236, 2)
        if far[y, x] > 16 and all((y - a) ** 2 + (x - b) ** 2 > 40**2 for a, b in centres):
            centres.append((int(y), int(x)))
    yy, xx = np.mgrid[:256, :256]
    holes = np.any([(yy - y) ** 2 + (xx - x) ** 2 <= 10**2 for y, x in centres], axis=0)
    image = sample.image.copy()
    image[holes] //= 20  # darker than any background
    return image, sample, centres, holes


def _record_previews(monkeypatch, w) -> list:
    """The live previews the widget shows, as they arrive."""
    shown, show = [], w.live.show

    def record(event):
        shown.append(event)
        show(event)

    monkeypatch.setattr(w.live, "show", record)
    return shown


def _preview_is_the_engines(qtbot, w, trainer, image, shown):
    """Pause, then compare the preview of the visible region with the engine's prediction made
    with the same weights (a snapshot asked for while paused, before the preview)."""
    qtbot.mouseClick(w.train_panel.pause_btn, LEFT)
    assert w.controller.paused
    trainer.request_snapshot()
    request = w.live._ask()
    qtbot.waitUntil(lambda: any(e.request == request for e in shown), timeout=TIMEOUT)
    answer = next(e for e in shown if e.request == request)
    assert trainer.model_step == answer.step  # the snapshot's weights made the preview
    assert set(np.unique(answer.labels)) == {1, 2}  # not one class everywhere
    y0, y1, x0, x1 = answer.box
    preview = w.viewer.layers[w.image_layer().name + " prediction"].data[y0:y1, x0:x1]
    np.testing.assert_array_equal(preview, engine_prediction(w, image, trainer.model)[y0:y1, x0:x1])
    qtbot.mouseClick(w.train_panel.pause_btn, LEFT)
    assert not w.controller.paused
    return answer


def test_live_mode_learns_each_stroke_and_the_preview_follows(qtbot, viewer, monkeypatch):
    """Live on, with dark holes that no stroke covers (the preview calls them background); the
    user paints each hole as cells, one stroke at a time: the same child gets each stroke and
    trains on it, and the preview of the holes turns to cells, which only the new strokes teach."""
    from scipy import ndimage as ndi

    from napari_unet.widget.layers import visible_box

    image, sample, centres, holes = _scene_with_holes()
    viewer.add_image(image, name="cells")
    strokes = viewer.add_labels(sample.strokes, name="cells strokes")
    w = add_widget(viewer)
    viewer.camera.zoom /= 2  # the whole image on screen beside the dock
    w.predict_panel.uncertainty.setChecked(True)
    w.controller.snapshot_every = 3600  # weights come when asked for (_preview_is_the_engines)
    shown = _record_previews(monkeypatch, w)
    qtbot.mouseClick(w.train_panel.live_btn, LEFT)
    trainer = w.controller.trainer
    assert w.controller.live and w.train_panel.live_btn.isChecked() and not w.train_panel.train_btn.isEnabled()

    def share(mask, value) -> float:
        return float((viewer.layers["cells prediction"].data[mask] == value).mean())

    qtbot.waitUntil(lambda: "cells prediction" in viewer.layers and trainer.step > 20 and share(holes, 1) > 0.9,
                    timeout=TIMEOUT)
    preview = viewer.layers["cells prediction"]
    y0, y1, x0, x1 = visible_box(viewer, viewer.layers["cells"])
    assert holes[y0:y1, x0:x1].sum() == holes.sum() and (preview.data[y0:y1, x0:x1] > 0).all()  # on screen: predicted
    hesitation = viewer.layers["cells uncertainty"].data[y0:y1, x0:x1]
    assert 0 <= hesitation.min() < hesitation.max() <= 1

    painted_at = trainer.step
    for y, x in centres:  # one stroke across the middle of each hole
        paint(strokes, [(y, x + dx) for dx in range(-7, 8)], 2, brush=7)
    np.testing.assert_array_equal(trainer._stroke_files[0], strokes.data)  # each region reached the child
    assert (strokes.data[holes] == 2).mean() < 0.5  # the strokes cover part of each hole
    background = (sample.truth == 1) & ~ndi.binary_dilation(holes, iterations=3)

    def holes_are_cells() -> bool:
        return share(holes, 2) >= 0.8 and share(background, 1) >= 0.8

    def given_up() -> bool:  # three previews made 1000 steps after the strokes still show no change
        return sum(e.step > painted_at + 1000 for e in shown) >= 3

    qtbot.waitUntil(lambda: holes_are_cells() or given_up(), timeout=TIMEOUT)
    assert holes_are_cells(), (share(holes, 2), share(background, 1), trainer.step - painted_at)
    assert w.live.latencies and w.live.latencies[0] < 30  # the benchmark measures it properly (docs/benchmarks.md)
    assert trainer.pid == w.controller.trainer.pid  # the same child all along

    _preview_is_the_engines(qtbot, w, trainer, image, shown)
    strokes.undo()  # no paint event: the next refresh sends the difference
    qtbot.waitUntil(lambda: np.array_equal(trainer._stroke_files[0], strokes.data), timeout=TIMEOUT)
    viewer.close()
    qtbot.waitUntil(lambda: not trainer._process.is_alive(), timeout=TIMEOUT)
    assert w.model is not None and w.model.steps_trained > painted_at


def test_live_on_an_rgb_image_and_closing_its_layer_stops_it(qtbot, viewer, monkeypatch):
    """Live on a colour image, zoomed in: the preview of the part on screen, predicted from a
    window around it, is the engine's; closing the image ends live training."""
    from napari_unet.core.samples import make_sample
    from napari_unet.widget.layers import visible_box

    sample = make_sample(256, seed=0)
    rgb = np.stack([sample.image // 256] * 3, axis=-1).astype(np.uint8)
    viewer.add_image(rgb, name="colour", rgb=True)
    viewer.add_labels(sample.strokes, name="colour strokes")
    viewer.add_image(sample.image, name="other")
    w = add_widget(viewer)
    w.data_panel.image_combo.setCurrentText("colour")
    w.data_panel.labels_combo.setCurrentText("colour strokes")
    w.controller.snapshot_every = 3600  # weights come when asked for (_preview_is_the_engines)

    def box_area() -> int:
        y0, y1, x0, x1 = visible_box(viewer, viewer.layers["colour"])
        return (y1 - y0) * (x1 - x0)

    viewer.camera.zoom *= 3  # a part of the image on screen: its preview is predicted from a window
    qtbot.waitUntil(lambda: 0 < box_area() < 0.4 * sample.image.size, timeout=TIMEOUT)
    shown = _record_previews(monkeypatch, w)
    w.train_panel.live_btn.click()
    trainer = w.controller.trainer
    qtbot.waitUntil(lambda: "colour prediction" in viewer.layers, timeout=TIMEOUT)
    preview = viewer.layers["colour prediction"]
    assert preview.data.shape == sample.strokes.shape
    qtbot.waitUntil(lambda: {1, 2} <= set(np.unique(preview.data)), timeout=TIMEOUT)  # cells and background
    _preview_is_the_engines(qtbot, w, trainer, rgb, shown)
    assert (preview.data == 0).mean() > 0.5  # only the part on screen was predicted
    viewer.layers.remove("colour")  # another image remains: live training must still end
    qtbot.waitUntil(lambda: not w.controller.busy, timeout=TIMEOUT)
    assert not trainer._process.is_alive() and not w.train_panel.live_btn.isChecked()
