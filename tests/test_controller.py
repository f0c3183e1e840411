"""The widget's state machine, without Qt (real child trainers)."""

import time

import numpy as np

from napari_unet.widget.controller import Controller, changed_region, check_strokes, describe_end
from napari_unet.core.config import UserInputError
from napari_unet.trainer.protocol import Died, Finished


def _poll_until(controller, done, timeout=300):
    """Poll the controller until ``done()``; fails (rather than hangs) when training ends first."""
    deadline = time.monotonic() + timeout
    while not done():
        assert controller.busy and time.monotonic() < deadline, "training ended, or took too long"
        controller.poll()
        time.sleep(0.02)


def _wait(controller, timeout=600):  # generous: only a failing test waits it out
    deadline = time.monotonic() + timeout
    events = []
    while controller.busy and time.monotonic() < deadline:
        events += controller.poll()
        time.sleep(0.05)
    return events


def test_buttons_follow_the_state(sample, tiny_model_config, tiny_train_config, recovery_file):
    c = Controller(recovery=recovery_file)
    idle = c.enabled(has_image=True, has_strokes=True)
    assert idle["train"] and idle["live"] and not idle["stop"] and not idle["predict"] and idle["architecture"]
    assert not idle["pause"] and c.pause(True) is None  # nothing to pause
    assert not c.enabled(has_image=True, has_strokes=False)["train"]
    c.start_training([sample.image], [sample.strokes], tiny_train_config, tiny_model_config)
    busy = c.enabled(True, True)
    assert c.state == "training" and busy["stop"] and not busy["train"] and not busy["live"] and not busy["load"]
    assert busy["pause"] and c.pause(True).text.startswith("Paused") and c.paused
    assert c.pause(False) is not None and not c.paused
    assert c.start_training([sample.image], [sample.strokes], tiny_train_config).error  # one job at a time
    events = _wait(c)
    assert isinstance(events[-1], Finished) and c.state == "idle" and c.trainer is None
    assert c.model.steps_trained == tiny_train_config.steps
    done = c.enabled(True, True)
    assert done["predict"] and done["save"] and done["new_model"] and not done["architecture"]
    assert "Trained 30 steps" in describe_end(events[-1], c.model).text
    assert recovery_file.is_file()  # autosaved when training ended
    assert c.begin_prediction() is None and c.state == "predicting" and not c.enabled(True, True)["train"]
    c.end_prediction()
    assert c.forget_model() and c.model is None


def test_live_training_runs_until_stopped_and_stop_is_reported(sample, tiny_model_config, tiny_train_config):
    c = Controller(snapshot_every=0.5)
    c.start_training([sample.image], [sample.strokes], tiny_train_config, tiny_model_config, live=True)
    assert c.live and c.enabled(True, True)["live"] and not c.enabled(True, True)["stop"]  # Live is switched off
    assert c.trainer.config.steps is None and c.trainer.config.time_budget >= 24 * 3600
    _poll_until(c, lambda: c.trainer.step >= tiny_train_config.steps + 5)  # past the Train button's step count
    assert c.stop().text.startswith("Stopping")
    events = _wait(c)
    assert isinstance(events[-1], Finished) and events[-1].stopped and not c.live
    assert "Stopped; the model keeps what it learned" in describe_end(events[-1], c.model).text


def test_a_dead_trainer_leaves_the_last_snapshot(sample, tiny_model_config, tiny_train_config):
    import os
    import signal

    c = Controller(snapshot_every=0.2)
    c.start_training([sample.image], [sample.strokes], tiny_train_config, tiny_model_config, live=True)
    _poll_until(c, lambda: c.trainer.model_step > 0)
    os.kill(c.trainer.pid, signal.SIGKILL)
    events = _wait(c)
    assert isinstance(events[-1], Died) and c.state == "idle"
    assert c.model is not None and c.model.steps_trained > 0
    status = describe_end(events[-1], c.model)
    assert status.error and "killed" in status.text


def test_strokes_are_checked_before_a_trainer_starts():
    import pytest

    check_strokes(np.ones((4, 5)), (4, 5), "s", "i", "semantic")
    with pytest.raises(UserInputError, match=r"has shape \(4, 5\)"):
        check_strokes(np.ones((4, 5)), (4, 6), "s", "i", "semantic")
    with pytest.raises(UserInputError, match="no strokes"):
        check_strokes(np.zeros((4, 5)), (4, 5), "s", "i", "semantic")


def test_changed_region_from_paint_atoms_or_by_comparison():
    sent = np.zeros((10, 12), np.uint8)
    data = sent.copy()
    data[2:4, 5:9] = 1
    atoms = [((np.array([2, 3]), np.array([5, 8])), np.array([0, 0]), 1)]
    assert changed_region(atoms, data, sent) == (slice(2, 4), slice(5, 9))
    assert changed_region([((slice(None), slice(None)), 0, 1)], data, sent) == (slice(2, 4), slice(5, 9))
    assert changed_region(None, sent, sent) is None


def test_a_new_session_keeps_the_last_sessions_autosave_until_restored(sample, tiny_model_config, tiny_train_config,
                                                                       recovery_file):
    from napari_unet.models.load import load_model
    from napari_unet.trainer.recovery import previous

    crashed = Controller(recovery=recovery_file)
    crashed.start_training([sample.image], [sample.strokes], tiny_train_config, tiny_model_config)
    _wait(crashed)
    assert crashed.restore_path() is None  # its own autosave is not offered back to it
    # the next session trains something else before restoring: the crashed model is set aside
    session = Controller(recovery=recovery_file)
    assert session.restore_path() == recovery_file
    other = load_model(recovery_file)
    other.history.steps = 3
    session.autosave(other)
    assert session.restore_path() == previous(recovery_file)
    assert load_model(session.restore_path()).steps_trained == tiny_train_config.steps
    assert load_model(recovery_file).steps_trained == 3
    session.autosave(other)  # later autosaves of the session overwrite only its own file
    assert load_model(previous(recovery_file)).steps_trained == tiny_train_config.steps


def test_closing_mid_training_autosaves_the_final_weights(sample, tiny_model_config, tiny_train_config,
                                                          recovery_file):
    from napari_unet.models.load import load_model

    c = Controller(recovery=recovery_file)
    c.start_training([sample.image], [sample.strokes], tiny_train_config, tiny_model_config, live=True)
    _poll_until(c, lambda: c.trainer.step >= 3)
    c.shutdown()
    assert c.state == "idle" and load_model(recovery_file).steps_trained == c.model.steps_trained >= 3
