"""Settings for the model, training and prediction, as validated dataclasses.

Each config converts to and from a plain ``dict`` of built-in types, so it can be stored
in a model file that :func:`torch.load` reads with ``weights_only=True``. A field users set is
declared with :func:`~napari_unet.core.options.option`: its command-line flag and its widget
control are made from that declaration.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from napari_unet.core.options import option

DEVICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("auto", "fp32", "bf16")
MODES = ("semantic", "instance")  # auto: bf16 autocast where the device runs it fast
SPLITS = ("distance", "cores")  # instance mode: distance-transform maxima, or the network's sure cores
COLOUR_TO_GREY = ("luminance", "hematoxylin")  # how a grey model reads a colour image (napari_unet.core.colour)


class UserInputError(ValueError):
    """Bad input from a user: the message names the problem and the fix."""


# options that training and prediction share
COLOUR_OPTION = dict(choices=COLOUR_TO_GREY, help="colour images for a model trained on grey ones (nuclei): convert "
                     "by luminance, or take the hematoxylin channel of H&E stains (default: as the model was "
                     "trained, luminance)")
DEVICE_OPTION = dict(choices=DEVICES, help="compute device (default: CUDA, then Apple MPS, then CPU)", label="Device",
                     panel="training")
PRECISION_OPTION = dict(choices=PRECISIONS, help="bf16 autocast where the device runs it fast (auto), or force one")


def _class_weights(text: str) -> dict:
    """``--class-weights 2,1`` as config fields."""
    try:
        return {"class_weights": [float(v) for v in text.split(",")]}
    except ValueError:
        raise UserInputError(f"--class-weights must be numbers separated by commas, got {text!r}.") from None


def _diameter(text: str) -> dict:
    """``--diameter auto|off|PX`` as config fields."""
    if text in ("auto", "off"):
        return {"rescale": text == "auto"}
    try:
        return {"diameter": float(text)}
    except ValueError:
        raise UserInputError(f"--diameter must be 'auto', 'off' or a size in pixels such as 30, got {text!r}.") from None


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
    depth: int = option(4, help="U-Net depth (new models only)")
    base_channels: int = option(16, help="U-Net width (new models only)")
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

    steps: int | None = option(500, exclusive="limit", help="optimizer steps (default: %(default)s)",
                               label="Steps", tip="Train a fixed number of steps instead of a time (0 = by time)",
                               panel="training", advanced=True, range=(0, 1_000_000), special="by time", start=0)
    time_budget: float | None = option(None, exclusive="limit", metavar="SECONDS", help="train for this many seconds",
                                       label="Training time", tip="How long one press of Train trains (press again "
                                       "to train more)", panel="training", range=(5, 24 * 3600), suffix=" s", start=60)
    batch_size: int = option(4, help="patches per step (default: %(default)s)", label="Batch size", panel="training",
                             advanced=True, range=(1, 256))
    patch_size: int = option(128, help="training patch size in pixels (default: %(default)s)", label="Patch size",
                             panel="training", advanced=True, range=(32, 1024), step=32)
    learning_rate: float = option(2e-3, help="optimizer learning rate (default: %(default)s)", label="Learning rate",
                                  panel="training", advanced=True, range=(1e-5, 1.0), step=1e-4, decimals=5)
    weight_decay: float = 1e-4
    warmup_steps: int = 20
    class_balance: bool = True  # inverse-frequency class weights on the strokes
    balanced_sampling: bool = True  # patch centres drawn class by class (else: any painted pixel)
    class_weights: list[float] | None = option(  # an extra loss factor per class, in class order
        None, metavar="W1,W2,...", parse=_class_weights,
        help="extra loss weight per class in label-value order, e.g. 2,1 to favour thin structures of class 1 "
             "(default: classes balanced by stroke frequency)")
    edge_weight: float = option(10.0, metavar="W", help="weight of the edge-aware term that puts boundaries where the "
                                "image has edges (default: %(default)s; 0 turns it off)", label="Edge term",
                                tip="Weight of the edge-aware term: where no stroke says where a region ends, put the "
                                    "boundary where the image has an edge (0 = off)",
                                panel="training", advanced=True, range=(0.0, 100.0), step=0.5, decimals=2)
    edge_sigma: float = 1.0  # its colour scale, relative to the patch's contrast between neighbours
    edge_warmup: int = 100  # steps on the strokes alone before the term ramps up (over as many again)
    keep_weight: float | None = option(
        None, metavar="W", help="fine-tuning a base model (--init nuclei, ...): weight of a term that keeps its "
        "predictions where nothing is painted; while on, the edge term is off (default: 1 from a base model with "
        "line classes such as em-membranes, else 0)")
    base_share: float = option(  # the result is (1 - s) * tuned + s * starting weights (0: off)
        0.5, metavar="S", help="fine-tuning a base model: the result mixes the weights, (1 - S) x fine-tuned + S x the "
        "starting model, which forgets less of it where nothing was painted; made for short runs (about a minute): "
        "after a 300 s run it hurt, use 0 there (default: %(default)s; 0: off)")
    mode: str | None = option(  # None: the model's mode, semantic for new models
        None, choices=MODES, help="semantic: 1, 2, ... are classes; instance: 1 = background, each value >= 2 one "
        "whole object, output one label per object (default: semantic, or the --init model's mode)", label="Mode",
        tip="semantic: one label per class · instance: one label per object, touching objects separated (U-Net "
            "paper's border weights)", panel="data")
    border_w0: float = option(  # instance mode: weight of the border term (paper: w0 = 10)
        10.0, flag="--no-border-weights", switch=0.0,
        help="instance mode: leave out the paper's border weight map (for comparison)")
    border_sigma: float = 5.0  # instance mode: its width in pixels (paper: sigma ~ 5 px)
    outline: int = 3  # instance mode: unpainted pixels this close to a painted object are background
    colour_to_grey: str | None = option(None, **COLOUR_OPTION)  # None: as the model records (luminance)
    seed: int = option(0, help="random seed (default: %(default)s)", label="Seed", panel="training", advanced=True,
                       range=(0, 2**31 - 1))
    device: str = option("auto", **DEVICE_OPTION)
    precision: str = option("auto", **PRECISION_OPTION)
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

    tile_size: int = option(768, help="output tile size in pixels; the result does not depend on it, larger tiles are "
                            "faster and need more memory (default: %(default)s)", label="Tile size",
                            tip="Prediction tile size: the result is the same for any size; larger is faster if "
                                "memory allows", panel="prediction", range=(32, 4096), step=32)
    # tiles per batch: one 768-pixel tile with its context is already a large batch
    batch_size: int = option(1, help="tiles per batch (default: %(default)s)")
    tta: bool = option(False, help="test-time augmentation: average the 8 flips and rotations of every tile (8 network "
                       "passes; 7-9x the prediction time)", label="Test-time augmentation (about 8x slower)",
                       tip="Average the prediction over the 8 flips and 90-degree rotations of each tile",
                       panel="prediction")
    min_confidence: float = option(
        0.9, metavar="P", help="instance mode: keep an object only if the network is this sure of at least one of its "
        "pixels (0.5 keeps every object; default: %(default)s)", label="Sure core",
        tip="Instance mode: keep an object only where the network is at least this sure of one of its pixels (its "
            "sure core); lower keeps fainter objects, 0.5 keeps every object",
        panel="prediction", advanced=True, range=(0.5, 1.0), step=0.05, decimals=2, only="instance")
    object_margin: float = option(
        0.5, metavar="M", help="models trained on strokes: draw an object or line pixel only where its odds beat the "
        "rest by exp(M), so objects stop at their edge (0: plain argmax; default: %(default)s)", label="Object margin",
        tip="Models trained on strokes: draw an object or line pixel only where its odds beat the rest by exp(margin), "
            "so objects stop at their edge; higher draws smaller objects, 0 = plain argmax",
        panel="prediction", advanced=True, range=(0.0, 5.0), step=0.1, decimals=2)
    line_share: bool = True  # weigh line classes by their share the model measured (napari_unet.predict.margin)
    split: str = "distance"  # instance mode: seeds of the split of touching objects (napari_unet.core.instances)
    sized_split: bool = True  # instance mode: the split and the smallest object follow the model's object size
    rescale: bool = True  # instance mode: shrink images whose objects are much larger than the model learned
    diameter: float = option(  # 0 measures it (a first pass); --diameter off turns ``rescale`` off
        0.0, flag="--diameter", metavar="PX|auto|off", parse=_diameter,
        help="instance mode: the objects' diameter in pixels; objects much larger than the model's (`napari-unet "
        "models` lists it) are predicted on a shrunken copy of the image. 'auto' measures them in a first pass, 'off' "
        "predicts every image as it is (default: auto)", label="Object size",
        tip="Instance mode: the objects' diameter in this image. Objects much larger than those the model learned are "
            "predicted on a shrunken copy of the image; 'auto' measures them first. A size no larger than the model's "
            "predicts the image as it is", panel="prediction", range=(0, 4096), suffix=" px", special="auto",
        only="instance")
    close_lines: bool = option(True, flag="--open-lines", help="semantic mode: leave the line classes (membranes) as "
                               "predicted; by default their gaps are closed where two regions meet, and pieces "
                               "that part no two regions go")
    line_seed: float = 0.2  # with line_depth 0: lines close where two regions less likely than this to be line meet
    line_depth: float = 0.1  # models trained from scratch on strokes: lines close between basins this deep (core.lines)
    line_reach: float = 2.0  # px: line pixels farther than this along the line from where two regions meet go
    colour_to_grey: str | None = option(None, **COLOUR_OPTION)  # None: as the model records (luminance)
    device: str = option("auto", **DEVICE_OPTION)
    precision: str = option("auto", **PRECISION_OPTION)

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
        if not 0 <= self.line_depth < 1:
            raise UserInputError(f"line_depth must be between 0 (seeds below line_seed) and 1, got {self.line_depth}.")
        if not 0 <= self.line_reach <= 100:
            raise UserInputError(f"line_reach must be between 0 (keep every line pixel) and 100 px, got {self.line_reach}.")
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
