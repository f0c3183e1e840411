"""What the dock widget does, without Qt: the model, the trainer, the jobs, and which
actions are possible in which state. The widget shows this state and forwards clicks; the
tests drive it directly.

States: ``idle`` → ``training`` (a Train press or Live) → ``stopping`` → ``idle``; ``idle`` →
``predicting`` → ``idle``; an export runs beside them (``exporting``). This is the one place that
knows what runs. Training runs in a child process (:class:`~napari_unet.trainer.client.Trainer`);
its events are collected by :meth:`Controller.poll`, which the widget calls on a timer.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from napari_unet.core.config import PredictConfig, TrainConfig, UserInputError

LIVE_BUDGET = 7 * 24 * 3600.0  # seconds: live training runs until it is switched off


@dataclass
class Status:
    """A line for the user, and whether it reports an error."""

    text: str
    error: bool = False


@dataclass
class Controller:
    model: object | None = None  # SegmentationModel
    state: str = "idle"
    live: bool = False
    paused: bool = False
    trainer: object | None = None  # Trainer
    snapshot_every: float = 5.0
    autosave_every: float = 60.0
    recovery: object | None = None  # Path of the recovery file (None: no autosave)
    _last_autosave: float = field(default=0.0, repr=False)
    autosaved: bool = False  # this session has written the recovery file
    exporting: bool = False  # a bioimage.io export runs (on a copy of the model: training may go on)

    # ------------------------------------------------------------------ what is possible
    @property
    def busy(self) -> bool:
        return self.state != "idle"

    def enabled(self, has_image: bool, has_strokes: bool) -> dict[str, bool]:
        """Which controls can be used now."""
        idle, model = not self.busy, self.model is not None
        return {
            "train": idle and has_image and has_strokes,
            "live": (idle and has_image and has_strokes) or (self.live and self.state == "training"),
            "stop": self.state in ("training", "predicting") and not self.live,
            "pause": self.state == "training",
            "correct": model and self.state != "predicting",  # copy the prediction into strokes, measure
            "predict": idle and has_image and model,
            "save": idle and model,
            "load": idle,
            "new_model": idle and model,
            "new_layer": has_image,
            "architecture": idle and not model,  # model size and mode are fixed once a model exists
            "export": idle and model and not self.exporting,
        }

    # ------------------------------------------------------------------ training
    def start_training(self, images: list, strokes: list, config: TrainConfig, model_config=None,
                       live: bool = False) -> Status:
        """Start a child trainer on snapshots of the data (continuing the current model)."""
        from dataclasses import replace

        from napari_unet.trainer.client import Trainer

        if self.busy:
            return Status("Busy: wait for the current job or press Stop.", error=True)
        if live:
            config = replace(config, steps=None, time_budget=LIVE_BUDGET)
        self.trainer = Trainer(images, strokes, config, model=self.model, model_config=model_config,
                               snapshot_every=self.snapshot_every).start()
        self.state, self.live = "training", live
        self._last_autosave = time.monotonic()
        return Status("Live: training while you paint…" if live else "Starting the trainer…")

    def pause(self, on: bool) -> Status | None:
        """Pause or resume training; the child keeps its model (and answers previews) meanwhile."""
        if self.state != "training" or self.trainer is None or on == self.paused:
            return None
        (self.trainer.pause if on else self.trainer.resume)()
        self.paused = on
        return Status("Paused: the model is kept; press Pause again to go on training." if on else
                      ("Live: training while you paint…" if self.live else "Training again…"))

    def stop(self) -> Status | None:
        if self.state == "training" and self.trainer is not None:
            self.trainer.stop()
            self.state = "stopping"
            return Status("Stopping after the current step…")
        return None

    def poll(self) -> list:
        """The trainer's new events; on its last one the model is taken over and the state is idle."""
        from napari_unet.trainer.protocol import TERMINAL, Snapshot

        if self.trainer is None:
            return []
        events = self.trainer.poll()
        for event in events:
            if isinstance(event, Snapshot) and self.recovery is not None \
                    and time.monotonic() - self._last_autosave >= self.autosave_every:
                self.autosave()
            if isinstance(event, TERMINAL):
                self._finish()
        return events

    def _finish(self) -> None:
        trainer, self.trainer = self.trainer, None
        if trainer.model is not None:
            self.model = trainer.model
        if self.recovery is not None and trainer.model_step:
            self.autosave(self.model)
        trainer.close(timeout=1.0)
        self.state, self.live, self.paused = "idle", False, False

    def autosave(self, model=None) -> None:
        """Write the newest weights to the recovery file (atomically); errors are not fatal."""
        from napari_unet.models.checkpoint import save_model
        from napari_unet.trainer.recovery import set_aside

        model = model if model is not None else (self.trainer.model if self.trainer is not None else None)
        if model is None:
            return
        try:
            if not self.autosaved:
                set_aside(self.recovery)  # an earlier session's model, maybe not restored yet
            save_model(model, self.recovery)
            self.autosaved = True
        except OSError:
            pass
        self._last_autosave = time.monotonic()

    def shutdown(self, timeout: float = 5.0) -> None:
        """Stop the trainer (keeping its final weights when they arrive in time, and autosaving them)."""
        if self.trainer is not None:
            trainer = self.trainer
            trainer.close(timeout=timeout)
            for _ in trainer.poll():
                pass
            self.trainer = None
            if trainer.model is not None:
                self.model = trainer.model
                if self.recovery is not None and trainer.model_step:
                    self.autosave(self.model)
            self.state, self.live, self.paused = "idle", False, False

    # ------------------------------------------------------------------ live strokes
    def send_strokes(self, index: int, region: tuple[slice, ...], values: np.ndarray) -> None:
        if self.trainer is not None and self.state == "training":
            self.trainer.update_strokes(index, region, values)

    def request_preview(self, index: int, z: int, box: tuple[int, int, int, int], config: PredictConfig,
                        uncertainty: bool = False) -> int | None:
        if self.trainer is None or self.state != "training":
            return None
        return self.trainer.predict_region(index, z, box, config, uncertainty)

    # ------------------------------------------------------------------ prediction and models
    def begin_prediction(self) -> Status | None:
        if self.busy or self.model is None:
            return Status("No model yet: train one (Train) or load one (Load model…) first.", error=True) \
                if self.model is None else Status("Busy: wait for the current job or press Stop.", error=True)
        self.state = "predicting"
        return None

    def end_prediction(self) -> None:
        if self.state == "predicting":
            self.state = "idle"

    def begin_export(self) -> bool:
        if self.exporting or self.model is None:
            return False
        self.exporting = True
        return True

    def end_export(self) -> None:
        self.exporting = False

    def forget_model(self) -> bool:
        if self.busy:
            return False
        self.model = None
        return True

    def restore_path(self):
        """The model to offer back: an earlier session's, set aside or still in place."""
        from napari_unet.trainer.recovery import previous

        if self.recovery is None:
            return None
        aside = previous(self.recovery)
        if aside.is_file():
            return aside
        return None if self.autosaved or not self.recovery.is_file() else self.recovery

    def set_model(self, model) -> bool:
        if self.busy:
            return False
        self.model = model
        return True


def describe_model(model) -> str:
    if model is None:
        return "Model: none yet"
    c = model.config
    name = f" {model.info.name!r}" if model.info.name else ""
    return (f"Model{name} ({model.mode}): {c.in_channels} channel(s), classes {list(model.class_values)}, "
            f"depth {c.depth}, width {c.base_channels}, {model.steps_trained} steps trained")


def describe_end(event, model) -> Status:
    """The status line after the trainer's last event."""
    from napari_unet.trainer.protocol import Died, Failed, Finished

    if isinstance(event, Finished):
        if event.stopped:
            steps = model.steps_trained if model is not None else 0
            return Status(f"Stopped; the model keeps what it learned ({steps} steps). Train again to continue.")
        return Status(f"Trained {event.steps} steps in {event.elapsed:.0f} s, loss {event.loss:.4f}. "
                      "Press Predict, or paint more strokes and Train again.")
    if isinstance(event, (Failed, Died)):
        return Status(event.message, error=True)
    raise TypeError(f"not a final event: {event!r}")


def check_strokes(strokes: np.ndarray, image_shape: tuple, strokes_name: str, image_name: str, mode: str) -> None:
    """The checks made before a trainer starts (the engine repeats them in the child)."""
    if strokes.shape != tuple(image_shape):
        raise UserInputError(
            f"strokes layer '{strokes_name}' has shape {strokes.shape} but image '{image_name}' has "
            f"{tuple(image_shape)}; use 'New annotation layer' to make a matching one."
        )
    if not strokes.any():
        what = "at least two classes (1, 2, …)" if mode == "semantic" else \
            "background (1) and a few whole objects (2, 3, …)"
        raise UserInputError(f"no strokes in '{strokes_name}': paint {what} first.")


def changed_region(atoms, data: np.ndarray, sent: np.ndarray) -> tuple[slice, ...] | None:
    """The bounding box of what changed between ``sent`` and ``data``: from the painted
    indices of a Labels paint event where they are given, else by comparing the arrays."""
    lo, hi = None, None
    for atom in atoms or ():
        indices = atom[0] if isinstance(atom, tuple) else None
        if not isinstance(indices, tuple) or len(indices) != data.ndim \
                or not all(isinstance(i, np.ndarray) for i in indices):
            lo = None  # e.g. slices or masks: compare the arrays instead
            break
        if len(indices[0]) == 0:
            continue
        a = np.array([np.min(i) for i in indices])
        b = np.array([np.max(i) for i in indices]) + 1
        lo, hi = (a, b) if lo is None else (np.minimum(lo, a), np.maximum(hi, b))
    if lo is None:
        diff = np.nonzero(data != sent)
        if len(diff[0]) == 0:
            return None
        lo, hi = np.array([d.min() for d in diff]), np.array([d.max() + 1 for d in diff])
    return tuple(slice(int(a), int(b)) for a, b in zip(lo, hi))
