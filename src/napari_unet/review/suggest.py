"""Where to paint next: places of an image ranked by how much a stroke there should help.

A stroke teaches the model most where it hesitates over a whole area, not along the edges it
already draws (every edge is uncertain by a pixel or two, and a stroke down the middle of a
region cannot fix that). So a place's score is the mean uncertainty (normalised entropy, see
:func:`napari_unet.predict.pipeline.uncertainty`) in a square window around it, counting only pixels
that are neither painted nor next to an edge of the predicted labels. The best places are taken
greedily, each at least a window apart from the others, those with no stroke in their window
first (strokes spread over the image teach more than strokes side by side).

>>> places = suggest_places(uncertainty, labels, strokes, count=5)
>>> places[0].z, places[0].y, places[0].x, places[0].score
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Place:
    """A suggested place: slice, row and column of its centre, and its score (0 to 1: the mean
    uncertainty of the unpainted pixels around it)."""

    z: int
    y: int
    x: int
    score: float


def suggest_places(uncertainty: np.ndarray, labels: np.ndarray | None = None, strokes: np.ndarray | None = None,
                   count: int = 5, window: int = 48, min_score: float = 0.05, away: bool = True) -> list[Place]:
    """The ``count`` best places to paint, best first.

    ``uncertainty`` is ``(Y, X)`` or ``(Z, Y, X)`` (0 sure to 1 undecided); ``labels`` the
    predicted labels of the same shape (their edges are left out; None: nothing left out);
    ``strokes`` the painting so far (painted pixels are left out). A place needs a score of at
    least ``min_score``: a model sure of everything gets no suggestion. With ``away``, places
    whose window holds no painted pixel come first (strokes spread over the image teach more
    than strokes next to each other); the others follow when there are too few.
    """
    from scipy import ndimage as ndi

    u = np.asarray(uncertainty, np.float32)
    flat = u.ndim == 2
    u = u[None] if flat else u
    keep = np.ones(u.shape, bool)
    if labels is not None:
        lab = np.asarray(labels).reshape(u.shape)
        keep &= ~_edges(lab)
    if strokes is not None:
        keep &= np.asarray(strokes).reshape(u.shape) == 0
    window = max(3, int(window))
    size = (1, window, window)
    # mean over the window of the kept pixels' uncertainty (unkept pixels count as sure)
    score = ndi.uniform_filter(np.where(keep, u, 0.0), size=size, mode="constant")
    tiers = [score]
    if away and strokes is not None:
        painted = ndi.maximum_filter(np.asarray(strokes).reshape(u.shape) != 0, size=size, mode="constant")
        tiers = [np.where(painted, -1.0, score), score]
    out: list[Place] = []
    for tier in tiers:
        for place in out:  # already taken from an earlier tier
            tier[place.z, max(0, place.y - window) : place.y + window + 1,
                 max(0, place.x - window) : place.x + window + 1] = -1.0
        while len(out) < count:
            i = int(np.argmax(tier))
            best = float(tier.flat[i])
            if best < min_score:
                break
            z, y, x = np.unravel_index(i, tier.shape)
            out.append(Place(int(z), int(y), int(x), round(best, 4)))
            tier[z, max(0, y - window) : y + window + 1, max(0, x - window) : x + window + 1] = -1.0
    return out


def _edges(labels: np.ndarray) -> np.ndarray:
    """Pixels whose 4-neighbourhood holds another label (both sides of every edge), per slice."""
    edge = np.zeros(labels.shape, bool)
    dy = labels[:, 1:, :] != labels[:, :-1, :]
    dx = labels[:, :, 1:] != labels[:, :, :-1]
    edge[:, 1:, :] |= dy
    edge[:, :-1, :] |= dy
    edge[:, :, 1:] |= dx
    edge[:, :, :-1] |= dx
    return edge
