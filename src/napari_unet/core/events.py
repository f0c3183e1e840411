"""What training yields after each step and returns at the end."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class TrainEvent:
    """Progress after one optimizer step. In process (:func:`napari_unet.core.train.train`) it
    carries the model being trained; from the trainer's child process it comes without it (the
    weights travel separately, :mod:`napari_unet.trainer.protocol`)."""

    step: int
    total_steps: int | None
    loss: float
    elapsed: float
    steps_per_s: float
    pixels_per_s: float
    progress: float
    learning_rate: float
    model: object | None = None  # SegmentationModel

    @property
    def eta(self) -> float:
        """Estimated seconds left."""
        if self.progress <= 0:
            return float("nan")
        return self.elapsed * (1 - self.progress) / self.progress


@dataclass
class TrainResult:
    model: object  # SegmentationModel
    steps: int
    loss: float
    elapsed: float
    stopped: bool
