"""What a model records about itself: :class:`ModelInfo` (what the model is) and
:class:`TrainingHistory` (how it was trained), typed.

A model file stores each as a dict keyed by field name (``info`` and ``history``,
:mod:`napari_unet.models.checkpoint`); this module is the only one that reads or writes those
keys. Keys it does not know (from a newer or older version) are kept in ``extra`` and written
back, so loading and saving a file loses nothing. Fields that are None are left out of the
dict, as earlier versions left out what they did not record.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields


class _Record:
    """``from_dict`` / ``to_dict`` for a dataclass with an ``extra`` dict of unknown keys."""

    extra: dict
    _INT_KEYED: tuple[str, ...] = ()  # dict fields keyed by label value: str keys in the file

    @classmethod
    def from_dict(cls, d: dict | None):
        d = dict(d or {})
        known = {f.name for f in fields(cls)} - {"extra"}
        values = {k: v for k, v in d.items() if k in known}
        for k in cls._INT_KEYED:
            if k in values:
                values[k] = {int(v): n for v, n in values[k].items()}
        return cls(**values, extra={k: v for k, v in d.items() if k not in known})

    def to_dict(self) -> dict:
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "extra" or value is None:
                continue
            if f.name in self._INT_KEYED:
                value = {str(k): v for k, v in value.items()}
            elif isinstance(value, (list, dict)):
                value = type(value)(value)
            out[f.name] = value
        return {**out, **self.extra}


@dataclass
class ModelInfo(_Record):
    """What a model is: a base model's name and provenance, what it learned about the image
    beyond the weights (object size, line classes, colour conversion), and its fingerprint.
    Empty for a model trained from scratch until training fills in what it measures."""

    name: str | None = None  # a named (base or saved) model; training it renames it fine_tuned_from
    base: str | None = None  # the base model family ("nuclei" for "nuclei-twin")
    fine_tuned_from: str | None = None  # the named model training started from
    description: str | None = None
    class_names: dict[int, str] = field(default_factory=dict)  # label value -> name
    training_data: str | None = None
    licence: str | None = None
    citation: str | None = None  # of the training data
    method_citation: str | None = None
    recipe: str | None = None  # the command that trained a base model
    line_classes: list[int] = field(default_factory=list)  # values prediction closes as lines (core.lines)
    line_odds: dict[int, float] = field(default_factory=dict)  # line value -> odds its probability is weighed by
    object_diameter: float | None = None  # px, median of painted objects (instance mode; predict.rescale)
    small_object_area: float | None = None  # px², 10th percentile of painted objects (core.instances)
    colour_to_grey: str | None = None  # how colour images became grey ("luminance", "hematoxylin"; core.colour)
    fingerprint: dict | None = None  # of the training images (models.choice)
    extra: dict = field(default_factory=dict)  # keys this version does not know, kept as read

    _INT_KEYED = ("class_names", "line_odds")

    @property
    def lineage(self) -> str | None:
        """The name of this model, or of the named model it was fine-tuned from."""
        return self.name or self.fine_tuned_from

    def start_fine_tuning(self) -> None:
        """Training a named model makes another model: the name becomes ``fine_tuned_from``, and
        the fingerprint, which describes the named model's features, goes."""
        if self.name:
            self.fine_tuned_from, self.name = self.name, None
            self.fingerprint = None


@dataclass
class TrainingHistory(_Record):
    """How a model was trained, updated after every step (:mod:`napari_unet.core.loop`)."""

    steps: int = 0  # in all runs
    runs: int = 0
    start_steps: int = 0  # steps before the last run
    loss: float | None = None  # after the last step
    train_config: dict = field(default_factory=dict)  # TrainConfig.to_dict() of the last run
    thin_classes: list[int] = field(default_factory=list)  # values painted or predicted as lines: no edge term
    sparse: bool | None = None  # last run on strokes, not dense labels (predict.margin); None: not recorded
    painted_pixels: dict[int, int] = field(default_factory=dict)  # label value -> annotated pixels
    extra: dict = field(default_factory=dict)  # keys this version does not know, kept as read

    _INT_KEYED = ("painted_pixels",)
