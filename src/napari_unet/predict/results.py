"""What prediction yields and returns (shared by every front door)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class PredictProgress:
    done: int
    total: int

    @property
    def fraction(self) -> float:
        return self.done / max(self.total, 1)


@dataclass
class PredictResult:
    """``labels`` has the image's spatial shape and holds the painted class values
    (instance mode: one value 1, 2, … per object per slice, 0 = background);
    ``probabilities`` (only on request) is ``(Z, K, Y, X)`` float32."""

    labels: np.ndarray
    probabilities: np.ndarray | None = None
    scale: float = 1.0  # instance mode: how much the image was resized to the model's object size
