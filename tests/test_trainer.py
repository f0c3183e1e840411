"""The child-process trainer: real spawned processes, real training."""

import os
import signal
import time

import numpy as np
import pytest

from napari_unet.trainer import Died, Failed, Finished, Notice, Progress, RegionPrediction, Snapshot, Trainer


def _drain(gen):
    from napari_unet.train import drain

    return drain(gen)


def test_child_training_predicts_like_training_in_process(sample, tiny_model_config, tiny_train_config):
    from napari_unet.predict import predict
    from napari_unet.train import fit

    local = fit(sample.image, sample.strokes, tiny_train_config, model_config=tiny_model_config).model
    events = []
    with Trainer([sample.image], [sample.strokes], tiny_train_config, model_config=tiny_model_config) as trainer:
        end = trainer.wait(timeout=120, on_event=events.append)
        pid = trainer.pid
    assert isinstance(end, Finished) and end.steps == tiny_train_config.steps and not end.stopped
    steps = [e.step for e in events if isinstance(e, Progress)]
    assert steps == list(range(1, tiny_train_config.steps + 1))
    child = trainer.model
    assert child.steps_trained == local.steps_trained == tiny_train_config.steps
    a = _drain(predict(local, sample.image)).labels
    b = _drain(predict(child, sample.image)).labels
    assert (a == b).mean() > 0.999
    with pytest.raises(ProcessLookupError):  # the process is gone
        os.kill(pid, 0)


def test_stop_returns_the_weights_trained_so_far(sample, tiny_model_config):
    from napari_unet.config import TrainConfig

    config = TrainConfig(time_budget=600, batch_size=2, patch_size=64, device="cpu")
    with Trainer([sample.image], [sample.strokes], config, model_config=tiny_model_config,
                 snapshot_every=600) as trainer:  # no periodic snapshot during this test
        while trainer.step < 5:
            trainer.poll(timeout=0.5)
        trainer.request_snapshot()  # the weights now
        got = []
        while not any(isinstance(e, Snapshot) for e in got):
            got += trainer.poll(timeout=0.5)
        assert next(e for e in got if isinstance(e, Snapshot)).step >= 5 and trainer.model.steps_trained >= 5
        trainer.stop()
        end = trainer.wait(timeout=60)
    assert isinstance(end, Finished) and end.stopped and end.steps >= 5
    assert trainer.model.steps_trained == end.steps


def test_killed_child_is_reported_and_the_last_snapshot_kept(sample, tiny_model_config):
    from napari_unet.config import TrainConfig

    config = TrainConfig(time_budget=600, batch_size=2, patch_size=64, device="cpu")
    trainer = Trainer([sample.image], [sample.strokes], config, model_config=tiny_model_config,
                      snapshot_every=0.2).start()
    try:
        snapshots = []
        while not snapshots:
            snapshots += [e for e in trainer.poll(timeout=0.5) if isinstance(e, Snapshot)]
        os.kill(trainer.pid, signal.SIGKILL)
        end = trainer.wait(timeout=30)
    finally:
        trainer.close()
    assert isinstance(end, Died) and end.exitcode == -signal.SIGKILL
    assert "killed (SIGKILL" in end.message and "strokes are unchanged" in end.message
    assert trainer.model is not None and trainer.model.steps_trained >= snapshots[0].step > 0
    assert not trainer.running


def test_bad_strokes_fail_with_the_engine_message(sample, tiny_model_config, tiny_train_config):
    with Trainer([sample.image], [np.zeros_like(sample.strokes)], tiny_train_config,
                 model_config=tiny_model_config) as trainer:
        end = trainer.wait(timeout=60)
    assert isinstance(end, Failed) and end.user_error and "no strokes" in end.message
    assert trainer.model is None


def test_live_strokes_region_predictions_pause_and_resume(sample, tiny_model_config):
    """The live loop: strokes change while training goes on; regions are predicted on request."""
    from napari_unet.config import TrainConfig

    config = TrainConfig(time_budget=600, batch_size=2, patch_size=64, device="cpu")
    strokes = sample.strokes.copy()
    strokes[:, 64:] = 0  # the right half is painted later
    with Trainer([sample.image], [strokes], config, model_config=tiny_model_config) as trainer:
        while trainer.step < 3:
            trainer.poll(timeout=0.5)
        trainer.update_strokes(0, (slice(None), slice(64, None)), sample.strokes[:, 64:])
        trainer.update_strokes(0, (slice(0, 4), slice(0, 4)), np.full((4, 4), 7, strokes.dtype))  # unknown class
        request = trainer.predict_region(0, 0, (10, 50, 70, 128), uncertainty=True)
        got = []
        while not any(isinstance(e, RegionPrediction) for e in got):
            got += trainer.poll(timeout=0.5)
        answer = next(e for e in got if isinstance(e, RegionPrediction))
        assert answer.request == request and answer.box == (10, 50, 70, 128) and answer.labels.shape == (40, 58)
        assert set(np.unique(answer.labels)) <= {1, 2}
        assert answer.uncertainty.shape == (40, 58) and 0 <= answer.uncertainty.min() <= answer.uncertainty.max() <= 1
        assert any(isinstance(e, Notice) and "value(s) [7]" in e.message for e in got + trainer.poll(timeout=2))
        trainer.pause()
        time.sleep(1.0)
        trainer.poll()
        paused_at = trainer.step
        time.sleep(1.0)
        trainer.poll()
        assert trainer.step == paused_at  # no steps while paused
        trainer.resume()
        trainer.stop()
        end = trainer.wait(timeout=60)
    assert isinstance(end, Finished) and end.stopped


def test_an_image_added_while_training_is_known_to_the_child_and_an_unusable_one_left_out(sample,
                                                                                        tiny_model_config):
    from napari_unet.config import TrainConfig

    config = TrainConfig(time_budget=600, batch_size=2, patch_size=64, device="cpu")
    with Trainer([sample.image], [sample.strokes], config, model_config=tiny_model_config) as trainer:
        while trainer.step < 2:
            trainer.poll(timeout=0.5)
        flipped = sample.image[:, ::-1].copy()
        index = trainer.add_image(flipped, sample.strokes[:, ::-1].copy())
        assert index == 1
        request = trainer.predict_region(1, 0, (0, 128, 0, 128))  # the new image is known to the child
        got = []
        while not any(isinstance(e, RegionPrediction) for e in got):
            got += trainer.poll(timeout=0.5)
        assert next(e for e in got if isinstance(e, RegionPrediction)).request == request
        bad = trainer.add_image(np.zeros((128, 128, 3), np.uint8), sample.strokes)  # 3 channels: not usable
        notices = []
        while not notices:
            notices += [e for e in trainer.poll(timeout=0.5) if isinstance(e, Notice)]
        assert bad == 2 and "added image is not used" in notices[0].message and "channels" in notices[0].message
        trainer.update_strokes(0, (slice(0, 2), slice(0, 2)), np.ones((2, 2), sample.strokes.dtype))
        later = trainer.poll(timeout=2) + trainer.poll(timeout=1)
        assert not [e for e in later if isinstance(e, Notice)]  # later strokes are used again
        trainer.stop()
        assert isinstance(trainer.wait(timeout=60), Finished)


def test_stale_preview_requests_are_dropped(sample, tiny_model_config):
    from napari_unet.config import TrainConfig

    config = TrainConfig(time_budget=600, batch_size=2, patch_size=64, device="cpu")
    with Trainer([sample.image], [sample.strokes], config, model_config=tiny_model_config) as trainer:
        while trainer.step < 2:
            trainer.poll(timeout=0.5)
        requests = [trainer.predict_region(0, 0, (0, 128, 0, 128)) for _ in range(5)]
        answered = []
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and requests[-1] not in answered:
            answered += [e.request for e in trainer.poll(timeout=0.5) if isinstance(e, RegionPrediction)]
        trainer.stop()
    assert requests[-1] in answered and len(answered) < 5  # the newest is answered, stale ones are not
