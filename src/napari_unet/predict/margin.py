"""The object margin: where a model trained on strokes puts the edge of what it was painted inside.

Strokes down the middle of a region teach its inside; the rim next to the true edge is never
painted, and class balancing weighs a class as much as the others whatever its true share, so a
network trained on such strokes puts its 50/50 line outside the edge: nuclei come out too
large and membranes too thick. So for a model trained on sparse strokes (``history.sparse``)
prediction weighs the probability of the object class (instance mode) or of the line classes
(those it closes, :mod:`napari_unet.core.lines`) by ``exp(-PredictConfig.object_margin)`` and
renormalises: with two classes and the default 0.5, a pixel is object where the network gave
it at least 0.62 instead of 0.5. Labels, the sure cores of instance mode and the probabilities
returned are the weighed ones. Closing lines seeds on the network's own probabilities: the
margin sets how thick a membrane is drawn, not which cells it parts (seeding on the weighed
ones let faint stretches join two cells, and raised the Rand error on ISBI). Models
trained on dense labels (the shipped base models used as they are) are left as they are, and
bioimage.io packages hold the network's own probabilities.

The margin was chosen on the development splits (docs/benchmarks.md, "The object margin").
A line class weighs less still where the model measured its share of the training images at
the end of training (``info.line_odds``, :func:`napari_unet.core.lines.finish_lines`): the odds
of that share against the share training gave it. Membranes cover about a fifth of an EM slice,
so the network's 50/50 line, drawn for a share of one half, gives them thick membranes and
joins blobs inside cells to them (docs/benchmarks.md, "Membranes whatever the brush").
"""

from __future__ import annotations

import math


def margin_values(model) -> tuple[int, ...]:
    """Class values that need the margin: the object class of an instance model, or the line
    classes of a semantic one, when the model was last trained on sparse strokes."""
    if not model.history.sparse:
        return ()
    if model.mode == "instance":
        return (2,)
    from napari_unet.core.lines import line_classes

    return line_classes(model)


def threshold(margin: float) -> float:
    """With two classes, the probability from which a weighed class wins: 1 / (1 + exp(-margin))."""
    return 1 / (1 + math.exp(-margin))


def class_odds(model, margin: float, line_share: bool = True) -> tuple[float, ...] | None:
    """Per class, the factor its probability is weighed with before the argmax; None: plain argmax.
    A line class whose share of the training images the model measured (``info.line_odds``,
    :func:`napari_unet.core.lines.finish_lines`) is weighed by those odds where they weigh it
    down more than the margin does (unless ``line_share`` is False)."""
    values = margin_values(model) if margin > 0 else ()
    if not values:
        return None
    floor = math.exp(-margin)
    learned = model.info.line_odds if model.mode == "semantic" and line_share else {}
    return tuple(min(floor, learned.get(v, floor)) if v in values else 1.0 for v in model.class_values)
