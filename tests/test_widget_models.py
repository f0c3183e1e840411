"""Model files from the widget (real napari window, Xvfb): save, load, a corrupt file, export
to bioimage.io and back."""

import numpy as np
from conftest import need

napari = need("napari", "testing")

from widget_helpers import TIMEOUT, isolated_settings, predict, train, viewer, widget  # noqa: E402,F401 (fixtures)


def test_save_then_load_reproduces_the_prediction(qtbot, widget, viewer, tmp_path):
    train(qtbot, widget)
    first = predict(qtbot, widget).data.copy()
    path = widget.save_model(str(tmp_path / "model.pt"))
    assert path.is_file()
    widget.forget_model()
    assert widget.model is None and not widget.predict_panel.predict_btn.isEnabled()
    widget.load_model(str(path))
    assert widget.model.steps_trained == 15
    np.testing.assert_array_equal(predict(qtbot, widget).data, first)


def test_load_of_a_corrupt_model_keeps_the_trained_one(qtbot, widget, tmp_path, monkeypatch):
    shown = []
    monkeypatch.setattr("napari.utils.notifications.show_error", shown.append)
    train(qtbot, widget)
    trained = widget.model
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a model")
    assert widget.load_model(str(junk)) is None
    assert shown and "corrupt" in shown[-1]
    assert widget.model is trained and widget.predict_panel.predict_btn.isEnabled()


def test_export_to_bioimageio_then_load_the_package_back(qtbot, widget, viewer, tmp_path, monkeypatch):
    """Train, export through the dialog (tested by bioimageio.core in a worker), load the package back."""
    need("bioimageio.core", "bioimageio")
    from qtpy.QtWidgets import QDialog, QFileDialog

    from napari_unet.widget.export import ExportDialog

    shown = []
    monkeypatch.setattr("napari.utils.notifications.show_error", shown.append)
    assert not widget.model_panel.export_btn.isEnabled()  # no model yet
    train(qtbot, widget)
    first = predict(qtbot, widget).data.copy()
    assert widget.model_panel.export_btn.isEnabled()

    def fill_in(dialog):
        assert dialog.name.text() == "cells model"
        dialog.authors.setText("A. Biologist, B. Engineer")
        return QDialog.DialogCode.Accepted

    package = tmp_path / "cells.zip"
    monkeypatch.setattr(ExportDialog, "exec", fill_in)
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(package), ""))
    worker = widget.model_panel.export_btn.click() or widget.export.worker
    assert worker is not None and not widget.model_panel.export_btn.isEnabled()
    qtbot.waitUntil(lambda: widget.export.worker is None, timeout=TIMEOUT)
    assert not shown, shown
    assert package.is_file() and "pytorch_state_dict passed, torchscript passed" in widget.status.text()

    widget.forget_model()
    widget.load_model(str(package))
    assert widget.model.steps_trained == 15
    np.testing.assert_array_equal(predict(qtbot, widget).data, first)

    def bad_name(dialog):
        dialog.name.setText("cells/v2")
        return QDialog.DialogCode.Accepted

    monkeypatch.setattr(ExportDialog, "exec", bad_name)
    assert widget.export.start() is None and widget.export.worker is None
    assert shown and "package name 'cells/v2' is not allowed" in shown[-1]


def test_start_from_nuclei_on_a_colour_image_converts_it_and_says_so(qtbot, viewer):
    """An H&E-like colour image with the grey nuclei model: predicted and fine-tuned as its
    luminance, and the status line says so, instead of refusing it."""
    from napari_unet.core.samples import make_sample, simulate_instance_strokes
    from napari_unet.core.colour import LUMINANCE
    from widget_helpers import add_widget, engine_prediction

    sample = make_sample(256, seed=0)
    dark = 255 - sample.image.astype(np.float32) * 255 / sample.image.max()  # dark nuclei on a light ground
    rgb = np.clip(np.stack([dark * 0.8 + 40, dark * 0.6 + 30, dark * 0.9 + 25], axis=-1), 0, 255).astype(np.uint8)
    viewer.add_image(rgb, name="cells", rgb=True)
    w = add_widget(viewer, steps=2)
    w.data_panel.start_from.setCurrentIndex(1)
    w.data_panel.start_from.activated.emit(1)
    tooltip = w.data_panel.start_from.itemData(1, 3)  # Qt's ToolTipRole: the one-line description
    assert tooltip.startswith("nuclei: base model for nuclei in fluorescence and bright-field images")
    labels = predict(qtbot, w).data
    grey = (rgb.astype(np.float32) * np.asarray(LUMINANCE, np.float32)).sum(-1)
    assert labels.shape == rgb.shape[:2] and np.array_equal(labels, engine_prediction(w, grey))
    assert "converted to grey by luminance" in w.status.text()
    strokes = w.new_annotation_layer()
    assert strokes.data.shape == rgb.shape[:2]
    strokes.data = simulate_instance_strokes(sample.instances, seed=0).astype(strokes.data.dtype)
    base_steps = w.model.steps_trained
    trainer = w.start_training()
    assert trainer is not None and "converted to grey by luminance" in w.status.text()
    qtbot.waitUntil(lambda: not w.controller.busy, timeout=TIMEOUT)
    assert w.model.steps_trained == base_steps + 2 and w.model.info.colour_to_grey == "luminance"


def test_the_base_model_that_fits_the_image_is_offered_and_starts_with_one_click(qtbot, widget, viewer):
    """The sample (fluorescent cells) looks like the nuclei model's training images; a smooth
    gradient looks like no base model's."""
    button = widget.data_panel.suggest_model_btn
    qtbot.waitUntil(button.isVisible, timeout=TIMEOUT)
    assert button.text() == "Start from nuclei: it fits this image" and widget.model is None
    button.click()
    assert widget.model.info.name == "nuclei" and widget.data_panel.start_from.currentData() == "nuclei"
    assert not button.isVisible() and "Started from the suggested base model" in widget.status.text()
    widget.forget_model()  # back to scratch: offered again
    qtbot.waitUntil(button.isVisible, timeout=TIMEOUT)

    rng = np.random.default_rng(0)
    ramp = np.add.outer(np.linspace(0, 1, 200), np.linspace(0, 1, 200)) + rng.normal(0, 0.01, (200, 200))
    viewer.add_image(ramp, name="ramp")
    widget.data_panel.image_combo.setCurrentText("ramp")
    qtbot.waitUntil(lambda: widget.model_hint.checked == "ramp", timeout=TIMEOUT)
    assert not button.isVisible() and widget.model_hint.fit is None
