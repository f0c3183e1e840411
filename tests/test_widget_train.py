"""Training from the widget (real napari window, Xvfb): stop, pause, the training time, Train
more, several images, a crash, a killed trainer, the autosaved model."""

import numpy as np
from conftest import need

napari = need("napari", "testing")

from widget_helpers import (  # noqa: E402,F401 (fixtures)
    LEFT, TIMEOUT, add_widget, engine_prediction, isolated_settings, train, viewer, widget,
)


def test_stop_mid_training_keeps_the_weights(qtbot, widget):
    widget.controls["steps"].setValue(100_000)
    trainer = widget.start_training()
    qtbot.waitUntil(lambda: trainer.step >= 3, timeout=TIMEOUT)
    assert widget.train_panel.stop_btn.isEnabled() and not widget.train_panel.train_btn.isEnabled()
    at_stop = trainer.step
    widget.stop()
    qtbot.waitUntil(lambda: not widget.controller.busy, timeout=TIMEOUT)
    steps = widget.model.steps_trained
    # the child stops within a step of reading Stop; the widget had seen steps up to 0.1 s earlier
    assert at_stop <= steps <= at_stop + 10
    assert not trainer._process.is_alive()
    assert widget.predict_panel.predict_btn.isEnabled() and widget.train_panel.train_btn.isEnabled()
    assert "Stopped" in widget.status.text()


def test_pause_holds_training_and_keeps_the_child(qtbot, widget):
    widget.controls["steps"].setValue(100_000)
    trainer = widget.start_training()
    qtbot.waitUntil(lambda: trainer.step >= 3, timeout=TIMEOUT)
    assert widget.train_panel.pause_btn.isEnabled()
    qtbot.mouseClick(widget.train_panel.pause_btn, LEFT)
    assert widget.controller.paused and "Paused" in widget.status.text()
    qtbot.wait(1500)  # the step under way finishes and its progress arrives
    held = trainer.step
    qtbot.wait(1500)
    assert trainer.step == held and trainer._process.is_alive()
    qtbot.mouseClick(widget.train_panel.pause_btn, LEFT)
    assert not widget.controller.paused
    qtbot.waitUntil(lambda: trainer.step > held, timeout=TIMEOUT)
    qtbot.mouseClick(widget.train_panel.pause_btn, LEFT)  # stopping while paused works too
    widget.stop()
    qtbot.waitUntil(lambda: not widget.controller.busy, timeout=TIMEOUT)
    assert "Stopped" in widget.status.text() and not widget.train_panel.pause_btn.isChecked()
    assert not widget.train_panel.pause_btn.isEnabled() and widget.model.steps_trained > held


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


def test_closing_the_viewer_mid_training_ends_the_child_and_keeps_its_weights(qtbot, widget, viewer):
    from qtpy.QtCore import QThreadPool

    widget.controls["steps"].setValue(100_000)
    trainer = widget.start_training()
    qtbot.waitUntil(lambda: trainer.step > 0, timeout=TIMEOUT)
    viewer.close()
    qtbot.waitUntil(lambda: QThreadPool.globalInstance().activeThreadCount() == 0, timeout=TIMEOUT)
    assert not trainer._process.is_alive()
    assert 0 < widget.model.steps_trained < 100_000  # the final weights arrived before the child ended


def test_every_image_with_strokes_trains_together(qtbot, viewer, sample):
    viewer.add_image(sample.image, name="a")
    viewer.add_labels(sample.strokes, name="a strokes")
    viewer.add_image(sample.image[::-1].copy(), name="b")
    viewer.add_labels(sample.strokes[::-1].copy(), name="b strokes")
    viewer.add_image(sample.image[:50], name="c")  # no strokes layer of its shape: not used
    viewer.add_labels(np.zeros((10, 10), np.uint8), name="c strokes")
    w = add_widget(viewer)
    w.data_panel.image_combo.setCurrentText("a")
    w.data_panel.labels_combo.setCurrentText("a strokes")
    assert w.data_panel.all_images.isChecked()  # the default
    trainer = train(qtbot, w)
    assert len(trainer.images) == 2
    np.testing.assert_array_equal(trainer.strokes[1], sample.strokes[::-1])
    w.data_panel.all_images.setChecked(False)
    assert len(train(qtbot, w).images) == 1


def test_an_autosaved_model_is_offered_back_after_a_crash(qtbot, widget, viewer, make_napari_viewer, tmp_path,
                                                          recovery_file):
    train(qtbot, widget)
    assert recovery_file.is_file() and widget.model_panel.restore_btn.isHidden()
    # napari is gone without the model being saved; a new session offers it back
    other = make_napari_viewer(show=True)
    _, w2 = other.window.add_plugin_dock_widget("napari-unet", "U-Net from strokes")
    assert not w2.model_panel.restore_btn.isHidden() and "autosaved at" in w2.model_panel.restore_btn.toolTip()
    assert w2.restore_model().steps_trained == 15 and w2.model_panel.restore_btn.isHidden()
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
    widget.controls["steps"].setValue(100_000)
    trainer = widget.start_training()
    qtbot.waitUntil(lambda: trainer.model_step > 0, timeout=TIMEOUT)
    os.kill(trainer.pid, signal.SIGKILL)  # as the system does when memory runs out
    qtbot.waitUntil(lambda: not widget.controller.busy, timeout=TIMEOUT)
    assert shown and "killed (SIGKILL" in shown[-1] and "strokes are unchanged" in shown[-1]
    assert widget.model is not None and widget.model.steps_trained >= 1  # the last snapshot
    assert widget.predict_panel.predict_btn.isEnabled() and widget.train_panel.train_btn.isEnabled()
    assert [layer.name for layer in viewer.layers] == names
    np.testing.assert_array_equal(viewer.layers["cells strokes"].data, strokes)


def test_the_training_time_ends_training_by_itself(qtbot, widget):
    """With Steps 'by time', the Training time is the budget: training ends by itself once it
    is spent (the budget counts training time; the step under way when it runs out finishes)."""
    from napari_unet.trainer.protocol import Finished

    widget.controls["steps"].setValue(0)
    widget.controls["time_budget"].setValue(5)
    assert widget.controls["steps"].text() == "by time"
    assert widget.start_training() is not None
    qtbot.waitUntil(lambda: not widget.controller.busy, timeout=TIMEOUT)
    end = widget.training.last_end
    assert isinstance(end, Finished) and not end.stopped  # not by Stop
    assert 5 <= end.elapsed < 25  # another budget (the 60 s default) would run on
    assert widget.model.steps_trained == end.steps > 0
    assert f"Trained {end.steps} steps" in widget.status.text() and widget.train_panel.progress.value() == 1000


def test_train_more_carries_on_from_the_loaded_model(qtbot, widget, viewer, tmp_path, trained):
    """Load model…, then Train more: a few steps fine-tune the loaded weights, they do not start
    over. The prediction stays that of the loaded model, unlike a new network's after as many steps."""
    from scores import iou

    from napari_unet.models.checkpoint import save_model
    from napari_unet.core.train import fit

    image, strokes = viewer.layers["cells"].data, viewer.layers["cells strokes"].data
    widget.load_model(str(save_model(trained, tmp_path / "start.pt")))
    start = engine_prediction(widget, image) == 2
    assert widget.train_panel.train_btn.text() == "Train more" and 0.1 < start.mean() < 0.5
    widget.controls["steps"].setValue(3)
    train(qtbot, widget)
    assert widget.model.steps_trained == trained.steps_trained + 3
    after = engine_prediction(widget, image) == 2
    fresh = fit(image, strokes, widget.train_config(), model_config=trained.config).model  # as many steps, new
    from_scratch = engine_prediction(widget, image, model=fresh) == 2
    kept, new = iou(after, start), iou(from_scratch, start)  # cells predicted as the loaded model does
    assert kept >= 0.9 and new < 0.5, (kept, new)  # 0.95 and 0.01 when written
