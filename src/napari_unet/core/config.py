"""Settings for the model, training and prediction, as validated dataclasses.

Each config converts to and from a plain ``dict`` of built-in types, so it can be stored
in a model file that :func:`torch.load` reads with ``weights_only=True``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

DEVICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("auto", "fp32", "bf16")
MODES = ("semantic", "instance")  # auto: bf16 autocast where the device runs it fast
SPLITS = ("distance", "cores")  # instance mode: distance-transform maxima, or the network's sure cores
COLOUR_TO_GREY = ("luminance", "hematoxylin")  # how a grey model reads a colour image (napari_unet.core.colour)


class UserInputError(ValueError):
    """Bad input from a user: the message names the problem and the fix."""


def _from_dict(cls, data: dict[str, Any]):
    """Build ``cls`` from ``data``, ignoring unknown keys (files from newer versions)."""
    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in dict(data).items() if k in names})


@dataclass
class ModelConfig:
    """Architecture of the U-Net.

    Parameters
    ----------
    in_channels
        Number of image channels (1 for greyscale, 3 for RGB).
    n_classes
        Number of output classes (the painted label values).
    depth
        Number of 2x2 max-pool steps; tiles must be multiples of ``2**depth``.
    base_channels
        Feature maps of the first level; each level doubles them.
    dropout
        Dropout at the end of the contracting path, as in the paper.
    batch_norm
        Batch normalisation after each convolution (a modern addition).
    """

    in_channels: int = 1
    n_classes: int = 2
    depth: int = 4
    base_channels: int = 16
    dropout: float = 0.2
    batch_norm: bool = True

    def __post_init__(self):
        if self.in_channels < 1:
            raise UserInputError(f"in_channels must be at least 1, got {self.in_channels}.")
        if self.n_classes < 2:
            raise UserInputError(f"n_classes must be at least 2, got {self.n_classes}.")
        if not 1 <= self.depth <= 6:
            raise UserInputError(f"depth must be between 1 and 6, got {self.depth}.")
        if self.base_channels < 1:
            raise UserInputError(f"base_channels must be positive, got {self.base_channels}.")
        if not 0.0 <= self.dropout < 1.0:
            raise UserInputError(f"dropout must be in [0, 1), got {self.dropout}.")

    @property
    def multiple(self) -> int:
        """Input sizes the network handles without internal padding."""
        return 2**self.depth

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        return _from_dict(cls, data)


MODEL_PRESETS: dict[str, dict[str, int]] = {
    "small": {"depth": 3, "base_channels": 16},
    "default": {"depth": 4, "base_channels": 16},
    "large": {"depth": 4, "base_channels": 32},
}


def model_preset(name: str) -> ModelConfig:
    """The architecture behind a size name (``small``, ``default``, ``large``)."""
    if name not in MODEL_PRESETS:
        raise UserInputError(f"unknown model size {name!r}; choose one of {', '.join(MODEL_PRESETS)}.")
    return ModelConfig(**MODEL_PRESETS[name])


@dataclass
class NormConfig:
    """Per-image, per-channel percentile normalisation (stored with the model)."""

    low: float = 1.0
    high: float = 99.8

    def __post_init__(self):
        if not 0.0 <= self.low < self.high <= 100.0:
            raise UserInputError(
                f"normalisation percentiles must satisfy 0 <= low < high <= 100, "
                f"got low={self.low}, high={self.high}."
            )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NormConfig:
        return _from_dict(cls, data)


@dataclass
class AugmentConfig:
    """Random augmentation applied to every training patch, on the training device.

    The elastic deformation follows the U-Net paper: displacements on a coarse
    ``grid`` x ``grid`` lattice drawn from a Gaussian with ``elastic_sigma`` pixels standard
    deviation, interpolated bicubically to a dense field.
    """

    flips: bool = True
    rot90: bool = True
    rotation_degrees: float = 15.0
    elastic_sigma: float = 10.0
    elastic_grid: int = 3
    scale_range: float = 0.1
    intensity: float = 0.15
    noise: float = 0.03

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AugmentConfig:
        return _from_dict(cls, data)


@dataclass
class TrainConfig:
    """How to train.

    Training runs for ``steps`` optimizer steps or ``time_budget`` seconds, whichever
    ends first (at least one of them must be set). The learning rate follows a short
    warm-up and a cosine decay over whichever limit is nearer.
    """

    steps: int | None = 500
    time_budget: float | None = None
    batch_size: int = 4
    patch_size: int = 128
    learning_rate: float = 2e-3
    weight_decay: float = 1e-4
    warmup_steps: int = 20
    class_balance: bool = True  # inverse-frequency class weights on the strokes
    balanced_sampling: bool = True  # patch centres drawn class by class (else: any painted pixel)
    class_weights: list[float] | None = None  # extra loss factor per class, in class order
    edge_weight: float = 10.0  # weight of the edge-aware Potts term (0: off)
    edge_sigma: float = 1.0  # its colour scale, relative to the patch's contrast between neighbours
    edge_warmup: int = 100  # steps on the strokes alone before the term ramps up (over as many again)
    # fine-tuning a base model: weight of a term keeping its predictions where nothing is painted
    # (None: 1 from a base model with line classes, such as em-membranes, else 0); while on, it
    # takes the edge term's place
    keep_weight: float | None = None
    base_share: float = 0.5  # fine-tuning a base model: the result is (1 - s) * tuned + s * starting weights (0: off)
    mode: str | None = None  # "semantic" or "instance"; None: the model's mode, semantic for new models
    border_w0: float = 10.0  # instance mode: weight of the border term (paper: w0 = 10)
    border_sigma: float = 5.0  # instance mode: its width in pixels (paper: sigma ~ 5 px)
    outline: int = 3  # instance mode: unpainted pixels this close to a painted object are background
    colour_to_grey: str | None = None  # colour images for a grey model: None = as the model records (luminance)
    seed: int = 0
    device: str = "auto"
    precision: str = "auto"
    augment: AugmentConfig = field(default_factory=AugmentConfig)

    def __post_init__(self):
        if isinstance(self.augment, dict):
            self.augment = AugmentConfig.from_dict(self.augment)
        if self.steps is None and self.time_budget is None:
            raise UserInputError("set a number of steps or a time budget (or both).")
        if self.steps is not None and self.steps < 1:
            raise UserInputError(f"steps must be at least 1, got {self.steps}.")
        if self.time_budget is not None and self.time_budget <= 0:
            raise UserInputError(f"time budget must be positive, got {self.time_budget} s.")
        if self.batch_size < 1:
            raise UserInputError(f"batch size must be at least 1, got {self.batch_size}.")
        if self.patch_size < 16:
            raise UserInputError(f"patch size must be at least 16, got {self.patch_size}.")
        if self.learning_rate <= 0:
            raise UserInputError(f"learning rate must be positive, got {self.learning_rate}.")
        if self.edge_weight < 0 or self.edge_sigma <= 0 or self.edge_warmup < 0:
            raise UserInputError(
                f"the edge term needs weight >= 0 (--edge-weight; 0 turns it off), sigma > 0 and warm-up >= 0 "
                f"steps; got weight {self.edge_weight}, sigma {self.edge_sigma}, warm-up {self.edge_warmup}."
            )
        if self.keep_weight is not None and self.keep_weight < 0:
            raise UserInputError(f"keep_weight must be 0 (off) or positive, got {self.keep_weight}.")
        if not 0 <= self.base_share < 1:
            raise UserInputError(f"the base share (--base-share) must be at least 0 (0 turns the mixing off) and "
                                 f"below 1, got {self.base_share}.")
        if self.outline < 0:
            raise UserInputError(f"outline must be 0 (off) or a number of pixels, got {self.outline}.")
        _check_device(self.device, self.precision)
        _check_colour(self.colour_to_grey)
        if self.mode not in (None, *MODES):
            raise UserInputError(f"mode must be one of {', '.join(MODES)}; got {self.mode!r}.")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        return _from_dict(cls, data)


@dataclass
class PredictConfig:
    """How to predict: tile by tile, exactly (the result does not depend on the tile size).

    ``tile_size`` is the side of each output tile, rounded up to a multiple of what the network
    needs; its input adds the network's receptive field on every side, so larger tiles spend
    less on context and need more memory.
    """

    tile_size: int = 768
    batch_size: int = 1  # tiles per batch: one 768-pixel tile with its context is already a large batch
    tta: bool = False  # average the 8 flips and 90-degree rotations of every tile (8 network passes)
    min_confidence: float = 0.9  # instance mode: an object needs a pixel this sure of being one
    object_margin: float = 0.5  # models trained on strokes: objects and lines need odds exp(margin) over the rest
    split: str = "distance"  # instance mode: seeds of the split of touching objects (napari_unet.core.instances)
    sized_split: bool = True  # instance mode: the split and the smallest object follow the model's object size
    rescale: bool = True  # instance mode: shrink images whose objects are much larger than the model learned
    diameter: float = 0.0  # the objects' diameter in pixels for ``rescale``; 0 measures it (a first pass)
    close_lines: bool = True  # semantic mode: close the classes painted as thin lines (membranes)
    line_seed: float = 0.2  # lines close where two regions less likely than this to be line meet (tuned on ISBI 10-19)
    colour_to_grey: str | None = None  # colour images for a grey model: None = as the model records (luminance)
    device: str = "auto"
    precision: str = "auto"

    def __post_init__(self):
        if self.tile_size < 16:
            raise UserInputError(f"tile size must be at least 16, got {self.tile_size}.")
        if self.batch_size < 1:
            raise UserInputError(f"batch size must be at least 1, got {self.batch_size}.")
        if not 0.5 <= self.min_confidence <= 1.0:
            raise UserInputError(f"min_confidence must be between 0.5 and 1, got {self.min_confidence}.")
        if not 0 <= self.object_margin <= 5:
            raise UserInputError(f"object_margin must be between 0 (off) and 5, got {self.object_margin}.")
        if self.split not in SPLITS:
            raise UserInputError(f"split must be one of {', '.join(SPLITS)}; got {self.split!r}.")
        if not 0 < self.line_seed < 0.5:
            raise UserInputError(f"line_seed must be between 0 and 0.5, got {self.line_seed}.")
        if not self.diameter >= 0:
            raise UserInputError(f"the object diameter must be 0 (measure it) or a size in pixels, got {self.diameter}.")
        _check_device(self.device, self.precision)
        _check_colour(self.colour_to_grey)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PredictConfig:
        return _from_dict(cls, data)


def _check_device(device: str, precision: str) -> None:
    if device not in DEVICES:
        raise UserInputError(f"device must be one of {', '.join(DEVICES)}; got {device!r}.")
    if precision not in PRECISIONS:
        raise UserInputError(f"precision must be one of {', '.join(PRECISIONS)}; got {precision!r}.")


def _check_colour(method: str | None) -> None:
    if method not in (None, *COLOUR_TO_GREY):
        raise UserInputError(f"colour_to_grey must be one of {', '.join(COLOUR_TO_GREY)}; got {method!r}.")
