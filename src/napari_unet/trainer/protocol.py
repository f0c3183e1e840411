"""The messages between :class:`~napari_unet.trainer.client.Trainer` and its child process
(:mod:`napari_unet.trainer.child`), and the events :meth:`Trainer.poll` returns.

Every message is a small dataclass sent whole through a pipe (pickled, so each is defined at
module level and holds only plain values and arrays). Progress after each step is the
in-process loop's own :class:`~napari_unet.core.events.TrainEvent`, sent without the model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from napari_unet.core.events import TrainEvent


# ---------------------------------------------------------------- commands: parent -> child
@dataclass
class Start:
    """What the child starts from (passed when it is spawned)."""

    images: list[str]  # .npy files
    strokes: list[str]  # .npy files, written to by the parent (StrokesChanged)
    config: dict  # TrainConfig.to_dict()
    model_config: dict | None  # ModelConfig.to_dict() for a new model
    model: bytes | None  # a model file's bytes, to continue training
    snapshot_every: float  # seconds between weights sent


@dataclass
class Stop:
    """Stop after the current step and send the final weights."""


@dataclass
class Pause:
    pass


@dataclass
class Resume:
    pass


@dataclass
class SendWeights:
    """Send the current weights now."""


@dataclass
class StrokesChanged:
    """Image ``index``'s strokes file was written to: train on it from the next step."""

    index: int


@dataclass
class AddImage:
    """Train on one more image and its strokes (``.npy`` files) from the next step."""

    image: str
    strokes: str


@dataclass
class PredictRegion:
    """Predict ``box`` = (y0, y1, x0, x1) of slice ``z`` of image ``index`` with the newest weights."""

    request: int
    index: int
    z: int
    box: tuple[int, int, int, int]
    config: dict  # PredictConfig.to_dict()
    uncertainty: bool


# ---------------------------------------------------------------- messages: child -> parent
@dataclass
class Weights:
    """The bytes of a model file (:func:`napari_unet.models.checkpoint.model_to_bytes`)."""

    data: bytes
    step: int


@dataclass
class RegionPrediction:
    """Labels of a region asked for with :meth:`Trainer.predict_region`."""

    request: int
    image: int
    z: int
    box: tuple[int, int, int, int]  # y0, y1, x0, x1
    labels: np.ndarray
    step: int  # the weights' step
    uncertainty: np.ndarray | None = None  # normalised entropy, 0 (sure) to 1, when asked for


@dataclass
class Notice:
    """Something the user should know; training goes on (e.g. new strokes that cannot be used)."""

    message: str


@dataclass
class Finished:
    """Training ended (budget spent or stopped); the final weights are in :attr:`Trainer.model`."""

    steps: int
    loss: float
    elapsed: float
    stopped: bool


@dataclass
class Failed:
    """The child stopped on an error; ``message`` says what and how to fix it."""

    message: str
    user_error: bool


# ---------------------------------------------------------------- events the parent makes
@dataclass
class Snapshot:
    """New weights arrived (a :class:`Weights` message); :attr:`Trainer.model` returns them."""

    step: int


@dataclass
class Died:
    """The child process ended without saying why (killed, out of memory, crashed)."""

    message: str
    exitcode: int | None


Command = Stop | Pause | Resume | SendWeights | StrokesChanged | AddImage | PredictRegion
Event = TrainEvent | Snapshot | RegionPrediction | Notice | Finished | Failed | Died
TERMINAL = (Finished, Failed, Died)
