"""The child-process trainer: real spawned processes, real training."""

import os
import signal
import time

import numpy as np
import pytest

from napari_unet.core.events import TrainEvent
from napari_unet.trainer.client import Trainer
from napari_unet.trainer.protocol import Died, Failed, Finished, Notice, RegionPrediction, Snapshot


def _drain(gen):
    from napari_unet.core.train import drain

    return drain(gen)


def _until(trainer, done, timeout=300):
    """Poll until ``done(events so far)``; the events. Fails (rather than hangs) when the child
    ends first or ``timeout`` s pass."""
    events, deadline = [], time.monotonic() + timeout
    while not done(events):
        assert time.monotonic() < deadline, f"waited {timeout} s in vain; events: {events[-3:]}"
        events += trainer.poll(timeout=0.5)
        assert not any(isinstance(e, (Died, Failed, Finished)) for e in events), events[-1]
    return events


def test_child_training_predicts_like_training_in_process(sample, tiny_model_config, tiny_train_config):
    from napari_unet.predict.pipeline import predict
    from napari_unet.core.train import fit

    local = fit(sample.image, sample.strokes, tiny_train_config, model_config=tiny_model_config).model
    events = []
    with Trainer([sample.image], [sample.strokes], tiny_train_config, model_config=tiny_model_config) as trainer:
        end = trainer.wait(timeout=120, on_event=events.append)
        pid = trainer.pid
    assert isinstance(end, Finished) and end.steps == tiny_train_config.steps and not end.stopped
    progress = [e for e in events if isinstance(e, TrainEvent)]
    assert [e.step for e in progress] == list(range(1, tiny_train_config.steps + 1))
    assert all(e.model is None and e.learning_rate > 0 for e in progress)  # the same event as in process, no model
    child = trainer.model
    assert child.steps_trained == local.steps_trained == tiny_train_config.steps
    a = _drain(predict(local, sample.image)).labels
    b = _drain(predict(child, sample.image)).labels
    assert (a == b).mean() > 0.999
    with pytest.raises(ProcessLookupError):  # the process is gone
        os.kill(pid, 0)


def test_training_more_in_the_child_carries_on_from_the_model(sample, trained):
    """*Train more*: the child starts from the model's weights, so after one step it predicts as
    before (test_train.py shows a fresh network after one step does not)."""
    import copy

    from napari_unet.core.config import TrainConfig
    from scores import prediction_change

    config = TrainConfig(steps=1, batch_size=4, patch_size=64, seed=0, device="cpu")
    with Trainer([sample.image], [sample.strokes], config, model=copy.deepcopy(trained)) as trainer:
        assert isinstance(trainer.wait(timeout=120), Finished)
    assert trainer.model.steps_trained == trained.steps_trained + 1
    same, change = prediction_change(trained, trainer.model, sample.image)
    assert same > 0.95 and change < 0.02, (same, change)


def test_stop_returns_the_weights_trained_so_far(sample, tiny_model_config):
    from napari_unet.core.config import TrainConfig

    config = TrainConfig(time_budget=600, batch_size=2, patch_size=64, device="cpu")
    with Trainer([sample.image], [sample.strokes], config, model_config=tiny_model_config,
                 snapshot_every=600) as trainer:  # no periodic snapshot during this test
        _until(trainer, lambda _: trainer.step >= 5)
        trainer.request_snapshot()  # the weights now
        got = _until(trainer, lambda got: any(isinstance(e, Snapshot) for e in got))
        assert next(e for e in got if isinstance(e, Snapshot)).step >= 5 and trainer.model.steps_trained >= 5
        trainer.stop()
        end = trainer.wait(timeout=60)
    assert isinstance(end, Finished) and end.stopped and end.steps >= 5
    assert trainer.model.steps_trained == end.steps


def test_killed_child_is_reported_and_the_last_snapshot_kept(sample, tiny_model_config):
    from napari_unet.core.config import TrainConfig

    config = TrainConfig(time_budget=600, batch_size=2, patch_size=64, device="cpu")
    trainer = Trainer([sample.image], [sample.strokes], config, model_config=tiny_model_config,
                      snapshot_every=0.2).start()
    try:
        snapshots = [e for e in _until(trainer, lambda got: any(isinstance(e, Snapshot) for e in got))
                     if isinstance(e, Snapshot)]
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
    from napari_unet.core.config import TrainConfig

    config = TrainConfig(time_budget=600, batch_size=2, patch_size=64, device="cpu")
    strokes = sample.strokes.copy()
    strokes[:, 64:] = 0  # the right half is painted later
    with Trainer([sample.image], [strokes], config, model_config=tiny_model_config) as trainer:
        _until(trainer, lambda _: trainer.step >= 3)
        trainer.update_strokes(0, (slice(None), slice(64, None)), sample.strokes[:, 64:])
        trainer.update_strokes(0, (slice(0, 4), slice(0, 4)), np.full((4, 4), 7, strokes.dtype))  # unknown class
        request = trainer.predict_region(0, 0, (10, 50, 70, 128), uncertainty=True)
        got = _until(trainer, lambda got: any(isinstance(e, RegionPrediction) for e in got))
        answer = next(e for e in got if isinstance(e, RegionPrediction))
        assert answer.request == request and answer.box == (10, 50, 70, 128) and answer.labels.shape == (40, 58)
        assert set(np.unique(answer.labels)) <= {1, 2}
        assert answer.uncertainty.shape == (40, 58) and 0 <= answer.uncertainty.min() <= answer.uncertainty.max() <= 1
        assert any(isinstance(e, Notice) and "value(s) [7]" in e.message for e in got + trainer.poll(timeout=2))
        trainer.pause()
        time.sleep(1.0)
        trainer.poll()
        paused_at = trainer.step
        for _ in range(3):  # a paused trainer answers previews without training a step for each
            assert _preview(trainer, 0, box=(0, 64, 0, 64)).step == paused_at
        time.sleep(1.0)
        trainer.poll()
        assert trainer.step == paused_at  # no steps while paused
        trainer.resume()
        trainer.stop()
        end = trainer.wait(timeout=60)
    assert isinstance(end, Finished) and end.stopped


def test_an_image_added_while_training_is_known_to_the_child_and_an_unusable_one_left_out(sample,
                                                                                        tiny_model_config):
    from napari_unet.core.config import TrainConfig

    config = TrainConfig(time_budget=600, batch_size=2, patch_size=64, device="cpu")
    with Trainer([sample.image], [sample.strokes], config, model_config=tiny_model_config) as trainer:
        _until(trainer, lambda _: trainer.step >= 2)
        flipped = sample.image[:, ::-1].copy()
        index = trainer.add_image(flipped, sample.strokes[:, ::-1].copy())
        assert index == 1
        request = trainer.predict_region(1, 0, (0, 128, 0, 128))  # the new image is known to the child
        got = _until(trainer, lambda got: any(isinstance(e, RegionPrediction) for e in got))
        assert next(e for e in got if isinstance(e, RegionPrediction)).request == request
        # 2 channels: not usable by a grey model (a colour one, 3 channels, would be converted to grey)
        bad = trainer.add_image(np.zeros((1, 128, 128, 2), np.uint8), sample.strokes[None])
        notices = [e for e in _until(trainer, lambda got: any(isinstance(e, Notice) for e in got))
                   if isinstance(e, Notice)]
        assert bad == 2 and "added image is not used" in notices[0].message and "channels" in notices[0].message
        trainer.update_strokes(0, (slice(0, 2), slice(0, 2)), np.ones((2, 2), sample.strokes.dtype))
        later = trainer.poll(timeout=2) + trainer.poll(timeout=1)
        assert not [e for e in later if isinstance(e, Notice)]  # later strokes are used again
        trainer.stop()
        assert isinstance(trainer.wait(timeout=60), Finished)


def test_stale_preview_requests_are_dropped(sample, tiny_model_config):
    from napari_unet.core.config import TrainConfig

    config = TrainConfig(time_budget=600, batch_size=2, patch_size=64, device="cpu")
    with Trainer([sample.image], [sample.strokes], config, model_config=tiny_model_config) as trainer:
        _until(trainer, lambda _: trainer.step >= 2)
        requests = [trainer.predict_region(0, 0, (0, 128, 0, 128)) for _ in range(5)]
        answered = []
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and requests[-1] not in answered:
            answered += [e.request for e in trainer.poll(timeout=0.5) if isinstance(e, RegionPrediction)]
        trainer.stop()
    assert requests[-1] in answered and len(answered) < 5  # the newest is answered, stale ones are not


def debris_scene(seed: int = 0, size: int = 128):
    """Dim round cells and bright square debris on a dark background, on a grid. Returns the image,
    strokes of the background (1) and the cells (2) with the debris left unpainted, and the cells
    and the debris (their inner parts, where a prediction is unambiguous)."""
    from scipy import ndimage as ndi

    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    cells, debris = np.zeros((size, size), bool), np.zeros((size, size), bool)
    for i in range(size // 32):
        for j in range(size // 32):
            cy, cx = 16 + 32 * i, 16 + 32 * j
            if (i + j) % 2:
                debris[cy - 6 : cy + 6, cx - 6 : cx + 6] = True
            else:
                cells |= (yy - cy) ** 2 + (xx - cx) ** 2 <= 81
    image = ndi.gaussian_filter(0.5 * cells + 1.0 * debris, 1.0) + rng.normal(0, 0.05, cells.shape)
    strokes = np.zeros(cells.shape, np.uint8)
    background = ~ndi.binary_dilation(cells | debris, iterations=4)
    strokes[background & (yy % 16 < 3)] = 1  # lines 3 pixels wide
    strokes[ndi.binary_erosion(cells, iterations=3)] = 2
    inner = (ndi.binary_erosion(cells, iterations=2), ndi.binary_erosion(debris, iterations=2))
    return (image * 1000 + 200).astype(np.float32), strokes, *inner


def _preview(trainer, index, box=(0, 128, 0, 128), timeout=60, **kwargs):
    """The region prediction that answers a new request (other events are dropped)."""
    request = trainer.predict_region(index, 0, box, **kwargs)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for e in trainer.poll(timeout=0.5):
            if isinstance(e, RegionPrediction) and e.request == request:
                return e
    raise AssertionError(f"no preview within {timeout} s")


def _train_until(trainer, done, steps, timeout=240):
    """Previews of image 0, one every few steps, until ``done(preview)``, for at most ``steps`` more
    steps; returns the last."""
    last = trainer.step + steps
    deadline = time.monotonic() + timeout
    while True:
        answer = _preview(trainer, 0)
        if done(answer) or answer.step >= last or time.monotonic() > deadline:
            return answer
        while trainer.step < answer.step + 5 and time.monotonic() < deadline:
            trainer.poll(timeout=0.2)


def _preview_and_its_weights(trainer, box, config, timeout=60):
    """A preview of image 0 and the weights of the same step (asked for together until both come
    from one step)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        trainer.request_snapshot()
        request = trainer.predict_region(0, 0, box, config=config)
        snapshot = preview = None
        while (snapshot is None or preview is None) and time.monotonic() < deadline:
            for e in trainer.poll(timeout=0.5):
                if isinstance(e, Snapshot):
                    snapshot = e
                elif isinstance(e, RegionPrediction) and e.request == request:
                    preview = e
        if snapshot is not None and preview is not None and snapshot.step == preview.step:
            return preview, trainer.model
    raise AssertionError(f"no preview with the weights of its step within {timeout} s")


@pytest.mark.parametrize("how", ["painted", "added image"])
def test_live_training_learns_new_strokes_and_added_images(how, tiny_model_config):
    """Unpainted bright debris is called a cell, like the dim cells the model was shown. Once the
    debris is painted as background (on the image, or on an image added while training) its preview
    flips to background within some steps, while the cells stay cells; and the preview is what the
    weights of its step predict for the whole image."""
    from napari_unet.core.config import PredictConfig, TrainConfig
    from napari_unet.predict.pipeline import predict_labels

    image, strokes, cells, debris = debris_scene(0)

    def share(labels, where, value=2):
        return float(np.mean(labels[where] == value))

    config = TrainConfig(time_budget=600, batch_size=4, patch_size=32, edge_weight=0, device="cpu")
    with Trainer([image], [strokes], config, model_config=tiny_model_config, snapshot_every=600) as trainer:
        before = _train_until(trainer, lambda p: p.step >= 20 and share(p.labels, debris) > 0.9
                              and share(p.labels, cells) > 0.9 and share(p.labels, ~cells & ~debris) < 0.2, steps=300)
        assert share(before.labels, debris) > 0.9, f"debris not yet called cells after {before.step} steps"
        if how == "painted":
            trainer.update_strokes(0, np.nonzero(debris), np.ones(debris.sum(), strokes.dtype))
        else:
            other, other_strokes, _, other_debris = debris_scene(1)
            other_strokes[other_debris] = 1
            assert trainer.add_image(other, other_strokes) == 1
        after = _train_until(trainer, lambda p: share(p.labels, debris) < 0.1 and share(p.labels, cells) > 0.9,
                             steps=300)
        assert share(after.labels, debris) < 0.1 and share(after.labels, cells) > 0.9, (
            f"{after.step - before.step} steps after the debris was painted as background, "
            f"{share(after.labels, debris):.0%} of it and {share(after.labels, cells):.0%} of the cells are called cells")
        # the preview equals the whole image's prediction by the weights of its step
        fp32 = PredictConfig(device="cpu", precision="fp32")
        box = (10, 90, 5, 120)
        preview, model = _preview_and_its_weights(trainer, box, fp32)
        whole = predict_labels(model, image, fp32).labels[box[0] : box[1], box[2] : box[3]]
        assert set(np.unique(whole)) == {1, 2}
        assert np.mean(preview.labels == whole) >= 0.999
        trainer.stop()
        assert isinstance(trainer.wait(timeout=60), Finished)


def test_live_from_a_base_model_shows_the_model_that_stopping_now_gives(sample):
    """A run from a base model ends blended with the base weights (train.mix_weights); the
    snapshots and previews before the end must show that blend, not the raw network, which after
    a few strokes predicts much worse (docs/benchmarks.md, the annotation loop)."""
    import torch

    from napari_unet.core.config import PredictConfig, TrainConfig
    from napari_unet.models.load import load_model
    from napari_unet.predict.region import predict_region

    config = TrainConfig(time_budget=3600, batch_size=2, patch_size=64, device="cpu", mode="instance")
    predict = PredictConfig(device="cpu")
    with Trainer([sample.image], [sample.strokes], config, model=load_model("nuclei"), snapshot_every=600) as trainer:
        _until(trainer, lambda _: trainer.step >= 3)
        trainer.pause()
        trainer.request_snapshot()
        got = _until(trainer, lambda got: any(isinstance(e, Snapshot) for e in got))
        snapshot = trainer.model
        preview = _preview(trainer, 0, box=(0, 256, 0, 256), config=predict)
        trainer.stop()
        end = trainer.wait(timeout=60)
    assert isinstance(end, Finished) and end.steps >= 3
    # paused: no step between the snapshot and the end
    assert snapshot.steps_trained == trainer.model.steps_trained == next(e for e in got if isinstance(e, Snapshot)).step
    final = trainer.model.net.state_dict()
    for k, v in snapshot.net.state_dict().items():
        assert torch.equal(v, final[k]), k
    np.testing.assert_array_equal(preview.labels, predict_region(trainer.model, sample.image, (0, 256, 0, 256),
                                                                 predict).labels)


def test_every_message_survives_the_pipe():
    """Commands and messages are module-level dataclasses: they pickle whole, as a spawned
    child's pipe sends them."""
    import dataclasses
    import pickle

    from napari_unet.trainer import protocol

    classes = [c for c in vars(protocol).values() if isinstance(c, type) and dataclasses.is_dataclass(c)
               and c.__module__ == protocol.__name__]
    assert len(classes) >= 14
    event = TrainEvent(3, 10, 0.5, 1.0, 3.0, 1e4, 0.3, 1e-3)
    assert event.model is None and 2.3 < event.eta < 2.4
    box = np.arange(6, dtype=np.uint8).reshape(2, 3)
    for message in (event, protocol.Start(["a.npy"], ["b.npy"], {"steps": 1}, None, b"model", 5.0), protocol.Stop(),
                    protocol.PredictRegion(1, 0, 2, (0, 8, 0, 8), {"tile_size": 64}, True), protocol.Weights(b"x", 4),
                    protocol.RegionPrediction(1, 0, 2, (0, 2, 0, 3), box, 4), protocol.Failed("no strokes", True)):
        again = pickle.loads(pickle.dumps(message))
        assert type(again) is type(message)
        assert all(np.array_equal(getattr(again, f.name), getattr(message, f.name)) if isinstance(getattr(message, f.name), np.ndarray)
                   else getattr(again, f.name) == getattr(message, f.name) for f in dataclasses.fields(message))
