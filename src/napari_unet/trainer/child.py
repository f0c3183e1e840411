"""The child side of :class:`napari_unet.trainer.client.Trainer`: train, obey commands, report.

Runs in a spawned process. Between optimizer steps it reads every waiting command (while
paused it waits for one), so a command takes effect within one step. Messages both ways are
the dataclasses of :mod:`napari_unet.trainer.protocol`; weights travel as the bytes of a model file.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import replace

import numpy as np

from napari_unet.trainer import protocol


class _Clock:
    """``time.perf_counter`` that stands still while paused (the time budget counts training only)."""

    def __init__(self):
        self.paused_at: float | None = None
        self.paused_for = 0.0

    def __call__(self) -> float:
        now = self.paused_at if self.paused_at is not None else time.perf_counter()
        return now - self.paused_for

    def pause(self) -> None:
        if self.paused_at is None:
            self.paused_at = time.perf_counter()

    def resume(self) -> None:
        if self.paused_at is not None:
            self.paused_for += time.perf_counter() - self.paused_at
            self.paused_at = None


def main(spec: protocol.Start, commands, events) -> None:
    """Process entry point; ``commands`` and ``events`` are the two ends of pipes."""
    import os

    from napari_unet.core.config import UserInputError

    if hasattr(os, "nice"):  # a viewer waiting for the CPU stutters; training a little later does not
        os.nice(10)
    session = None
    try:
        session = _Session(spec, commands, events)
        session.run()
    except (EOFError, BrokenPipeError):
        pass  # the parent is gone: nobody to report to
    except BaseException as err:  # noqa: BLE001 (everything is reported, then the process ends)
        if session is not None and session.step:
            session.send_weights()
        user = isinstance(err, UserInputError)
        message = str(err) if user else _describe(err)
        try:
            events.send(protocol.Failed(message, user))
        except (BrokenPipeError, OSError):
            pass
    finally:
        events.close()


def _describe(err: BaseException) -> str:
    if "out of memory" in str(err).lower():
        return ("The device ran out of memory. Lower the batch size, patch size or tile size, "
                "or choose the CPU as device.")
    return f"{type(err).__name__}: {err}"


class _Session:
    def __init__(self, spec: protocol.Start, commands, events):
        import torch

        from napari_unet.core.config import ModelConfig, TrainConfig
        from napari_unet.core.device import resolve_device, use_bf16
        from napari_unet.models.checkpoint import model_from_bytes
        from napari_unet.core.train import prepare

        self.commands, self.events = commands, events
        self.images = [np.load(p, mmap_mode="r") for p in spec.images]
        self.stroke_files = list(spec.strokes)
        self.config = TrainConfig.from_dict(spec.config)
        self.snapshot_every = float(spec.snapshot_every)
        model = model_from_bytes(spec.model, "the model to continue") if spec.model else None
        model_config = ModelConfig.from_dict(spec.model_config) if spec.model_config else None
        self.device = resolve_device(self.config.device)
        self.bf16 = use_bf16(self.device, self.config.precision)
        torch.manual_seed(self.config.seed)
        self.model, self.data = prepare(self.images, self._strokes(), self.config, model, model_config, self.device)
        # a run from a base model ends blended with its starting weights (train.mix_weights): the
        # snapshots and previews show that blend, the model that stopping now would leave
        from napari_unet.core.loop import from_base_model, weights_copy

        blend = self.config.base_share > 0 and from_base_model(self.model)
        self.start = weights_copy(self.model.net) if blend else None
        self.clock = _Clock()
        self.step, self.stop, self.paused, self.dirty = 0, False, False, False
        self.ranges: dict[int, tuple] = {}  # per image: intensity range for predictions
        self.added: list[int] = []  # images added since the strokes were last read
        self.unused: set[int] = set()  # added images that cannot be trained on (e.g. other channels)

    def _strokes(self) -> list[np.ndarray]:
        return [np.array(np.load(p, mmap_mode="r")) for p in self.stroke_files]

    def send(self, message) -> None:
        self.events.send(message)

    def send_weights(self) -> None:
        from napari_unet.models.checkpoint import model_to_bytes

        with self._as_stopped():
            weights = model_to_bytes(self.model)
        self.send(protocol.Weights(weights, self.model.steps_trained))

    @contextmanager
    def _as_stopped(self):
        """The network blended as at the end of training (if it started from a base model), put
        back as trained on leaving."""
        if self.start is None:
            yield
            return
        from napari_unet.core.loop import weights_copy, mix_weights

        trained = weights_copy(self.model.net)
        mix_weights(self.model.net, self.start, self.config.base_share)
        try:
            yield
        finally:
            self.model.net.load_state_dict(trained)

    def run(self) -> None:
        from napari_unet.core.loop import run_steps

        loop = run_steps(self.model, self.data, self.config, self.device, self.bf16, lambda: self.stop, self.clock)
        last_weights = time.monotonic()
        while True:
            self._obey()
            if self.dirty:
                self._reload_strokes()
            if self.paused and not self.stop:  # answered a preview while paused: wait again, no step
                continue
            try:
                event = next(loop)
            except StopIteration as done:
                self.start = None  # the loop has blended the final weights itself
                result = done.value
                break
            except BaseException:
                self.start = None
                raise
            self.step = event.step
            self.send(replace(event, model=None))  # the weights travel on their own
            if time.monotonic() - last_weights >= self.snapshot_every:
                self.send_weights()
                last_weights = time.monotonic()
        self.send_weights()
        self.send(protocol.Finished(result.steps, result.loss, result.elapsed, result.stopped))

    def _obey(self) -> None:
        """Carry out every waiting command; while paused, wait for the next. Of several waiting
        prediction requests for one image only the newest is answered (the others are stale)."""
        predictions: dict[int, protocol.PredictRegion] = {}
        while self.commands.poll(None if self.paused and not self.stop and not predictions else 0):
            command = self.commands.recv()
            if isinstance(command, protocol.Stop):
                self.stop = True
                self.paused = False
            elif isinstance(command, protocol.Pause):
                self.paused = True
                self.clock.pause()
            elif isinstance(command, protocol.Resume):
                self.paused = False
                self.clock.resume()
            elif isinstance(command, protocol.SendWeights):
                self.send_weights()
            elif isinstance(command, protocol.StrokesChanged):
                self.dirty = True
            elif isinstance(command, protocol.AddImage):
                self.images.append(np.load(command.image, mmap_mode="r"))
                self.stroke_files.append(command.strokes)
                self.added.append(len(self.images) - 1)
                self.dirty = True
            elif isinstance(command, protocol.PredictRegion):
                predictions[command.index] = command
        for request in predictions.values():
            self._predict(request)

    def _reload_strokes(self) -> None:
        """Use the strokes (and images) as they are now; the loop keeps its model, optimiser and
        schedule. An added image that cannot be used is left out, with a notice."""
        from napari_unet.core.config import UserInputError
        from napari_unet.core.train import prepare

        self.dirty = False
        added, self.added = self.added, []
        for attempt in ("all", "without the added images"):
            use = [i for i in range(len(self.images)) if i not in self.unused]
            strokes = self._strokes()
            try:
                _, data = prepare([self.images[i] for i in use], [strokes[i] for i in use], self.config, self.model,
                                  None, self.device, seed=self.config.seed + self.step)
            except UserInputError as err:
                if attempt == "all" and added:
                    self.send(protocol.Notice(f"The added image is not used: {err}"))
                    self.unused.update(added)
                    continue
                self.send(protocol.Notice(f"The new strokes are not used yet: {err}"))
                return
            self.data.replace_with(data)
            return

    def _predict(self, request: protocol.PredictRegion) -> None:
        """Answer a prediction request; one that cannot be answered is reported, training goes on."""
        try:
            self._predict_region(request)
        except (EOFError, BrokenPipeError):
            raise
        except Exception as err:  # noqa: BLE001 (e.g. out of memory for a huge region)
            self.send(protocol.Notice(f"The preview could not be made: {_describe(err)}"))

    def _predict_region(self, request: protocol.PredictRegion) -> None:
        """Labels for a region, predicted with the current weights and the whole image's
        normalisation, from a window with context around it."""
        from napari_unet.core.config import PredictConfig
        from napari_unet.core.data import percentiles
        from napari_unet.core.data import model_input
        from napari_unet.predict.pipeline import uncertainty
        from napari_unet.predict.region import predict_region

        index, z, box, uncertain = request.index, request.z, request.box, request.uncertainty
        _, image = model_input(self.model, self.images[index], request.config.get("colour_to_grey"))
        if index not in self.ranges:
            self.ranges[index] = percentiles(image, self.model.norm)
        h, w = image.shape[-2:]
        box = (max(0, box[0]), min(h, box[1]), max(0, box[2]), min(w, box[3]))
        config = PredictConfig.from_dict({**request.config, "device": self.config.device})
        with self._as_stopped():
            result = predict_region(self.model, self.images[index], box, config, z=z,
                                    intensity_range=self.ranges[index], probabilities=uncertain)
        labels = result.labels
        spread = uncertainty(result.probabilities)[0].astype(np.float16) if uncertain else None
        self.send(protocol.RegionPrediction(request.request, index, z, box, np.ascontiguousarray(labels),
                                            self.model.steps_trained, spread))
