"""Training from sparse strokes, as a generator of progress events.

>>> gen = train([image], [strokes], TrainConfig(steps=200))
>>> for event in gen:          # stop at any event: the model keeps what it learned
...     print(event.step, event.loss)

Every event carries the model being trained, so a caller that stops iterating (or whose
``should_stop`` returns True) still holds the weights trained so far. :func:`fit` drains the
generator and returns the :class:`TrainResult`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass

import numpy as np

from .config import ModelConfig, NormConfig, TrainConfig, UserInputError
from .data import annotated_slices, class_values_of, labels_to_zyx, thin_classes, to_zcyx
from .lines import judge_lines, probe_images


@dataclass
class TrainEvent:
    """Progress after one optimizer step."""

    step: int
    total_steps: int | None
    loss: float
    elapsed: float
    steps_per_s: float
    pixels_per_s: float
    progress: float
    learning_rate: float
    model: object  # SegmentationModel

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


def _as_list(x) -> list:
    if isinstance(x, np.ndarray) or not isinstance(x, Sequence):
        return [x]
    return list(x)


def prepare_model(
    images: list[np.ndarray],
    labels: list[np.ndarray],
    model=None,
    model_config: ModelConfig | None = None,
    norm: NormConfig | None = None,
):
    """Check images and strokes and return ``(model, class_values)``.

    ``images`` are ``(Z, C, Y, X)`` and ``labels`` ``(Z, Y, X)``. A new model is built from
    ``model_config`` (channels and classes filled in from the data) unless ``model`` is given
    for fine-tuning, in which case the data must match its channels and classes.
    """
    from .model import SegmentationModel

    channels = {im.shape[1] for im in images}
    if len(channels) > 1:
        raise UserInputError(f"all training images must have the same number of channels, got {sorted(channels)}.")
    (c,) = channels
    if model is not None:
        if c != model.config.in_channels:
            raise UserInputError(
                f"the model was trained on {model.config.in_channels} channel(s) but the image has {c}; "
                "use an image with the same channels or train a new model."
            )
        painted = {int(v) for lab in labels for v in np.unique(lab) if v != 0}
        if not painted:
            class_values_of(labels)  # raises the "no strokes" error
        unknown = painted - set(model.class_values)
        if unknown:
            raise UserInputError(
                f"the strokes use label value(s) {sorted(unknown)} that {_model_name(model)} does not know "
                f"(it predicts {model.paint_guide()}); paint only those values, or start a new model for other classes."
            )
        return model, model.class_values
    class_values = class_values_of(labels)
    base = model_config or ModelConfig()
    cfg = ModelConfig.from_dict({**base.to_dict(), "in_channels": c, "n_classes": len(class_values)})
    return SegmentationModel(cfg, class_values, norm=norm), class_values


def _model_name(model) -> str:
    name = model.info.get("name")
    return f"the model {name!r}" if name else "the model"


def _progress(config: TrainConfig, step: int, elapsed: float) -> float:
    """Fraction of the run done: by steps or by time, whichever is further along."""
    return max(
        step / config.steps if config.steps else 0.0,
        elapsed / config.time_budget if config.time_budget else 0.0,
    )


def _lr(config: TrainConfig, step: int, frac: float) -> float:
    warm = min(1.0, (step + 1) / max(config.warmup_steps, 1))
    return config.learning_rate * warm * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(frac, 1.0))))


def train(
    images,
    labels,
    config: TrainConfig | None = None,
    model=None,
    model_config: ModelConfig | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> Generator[TrainEvent, None, TrainResult]:
    """Train a U-Net on sparse strokes, yielding a :class:`TrainEvent` after every step.

    Images and strokes are checked when this is called (bad input raises
    :class:`~napari_unet.config.UserInputError` at once); the returned generator trains.

    Parameters
    ----------
    images, labels
        One image and its strokes, or lists of them. Images as accepted by
        :func:`napari_unet.data.to_zcyx`; strokes of the image's spatial shape, 0 = not
        annotated, k >= 1 = class k. Only slices of a z-stack that carry strokes are used.
    config
        Training settings (steps or time budget, batch and patch size, seed, device...).
    model
        A :class:`~napari_unet.model.SegmentationModel` to continue training (fine-tuning);
        a new one is built from ``model_config`` when None.
    should_stop
        Called before every step; training ends early when it returns True.
    """
    import torch

    from .device import resolve_device, use_bf16

    config = config or TrainConfig()
    device = resolve_device(config.device)
    torch.manual_seed(config.seed)  # weight initialisation and dropout
    model, data = prepare(images, labels, config, model, model_config, device)
    return _loop(model, data, config, device, use_bf16(device, config.precision), should_stop)


@dataclass
class TrainingData:
    """What the loop draws its batches from. A live trainer swaps it between steps when the
    strokes change (see :mod:`napari_unet.trainer`)."""

    sampler: object  # PatchSampler
    augmenter: object  # PatchAugmenter
    thin: tuple[int, ...] = ()  # classes painted only as thin lines: the edge term stays off
    sparse: bool = True  # strokes, not dense labels: prediction keeps an object margin (napari_unet.margin)
    probe: tuple = ()  # normalised images (C, Y, X) on which the loop judges which classes are lines
    predicted_thin: tuple[int, ...] = ()  # classes the network predicts as thin lines (judged after the warm-up)

    @property
    def lines(self) -> tuple[int, ...]:
        """Classes treated as thin lines: painted as such, or predicted as such."""
        return tuple(sorted(set(self.thin) | set(self.predicted_thin)))

    def replace_with(self, other: TrainingData) -> None:
        """New strokes (live training); what the network was judged to predict as lines stays."""
        self.sampler, self.augmenter, self.probe = other.sampler, other.augmenter, other.probe
        self.thin, self.sparse = other.thin, other.sparse


def prepare(images, labels, config: TrainConfig, model=None, model_config: ModelConfig | None = None,
            device=None, seed: int | None = None):
    """Check images and strokes and return ``(model, TrainingData)`` (see :func:`train`)."""
    from .augment import PatchAugmenter
    from .colour import conversion, to_grey
    from .data import PatchSampler
    from .device import resolve_device

    device = device if device is not None else resolve_device(config.device)
    imgs = [to_zcyx(im) for im in _as_list(images)]
    grey = [conversion(model, im.shape[1], config.colour_to_grey) for im in imgs]  # napari_unet.colour
    imgs = [to_grey(im, how) if how else im for im, how in zip(imgs, grey)]
    labs = _as_list(labels)
    if len(imgs) != len(labs):
        raise UserInputError(f"got {len(imgs)} image(s) but {len(labs)} label image(s); give one label image per image.")
    labs = [labels_to_zyx(lab, im, name=f"strokes of image {i + 1}") for i, (lab, im) in enumerate(zip(labs, imgs))]
    mode = config.mode or (model.mode if model is not None else "semantic")
    if model is not None and model.mode != mode:
        raise UserInputError(f"{_model_name(model)} was trained in {model.mode} mode: {model.paint_guide()}; train it "
                             f"in that mode, or start a new model for {mode} mode.")
    border = painted_diameter = None
    if mode == "instance":
        from .instances import check_instance_strokes, instance_training_data, object_areas
        from .rescale import object_diameter

        check_instance_strokes(labs)
        painted = [np.where(lab >= 2, lab, 0) for lab in labs]
        painted_diameter, painted_areas = object_diameter(*painted), object_areas(*painted)
        pairs = [instance_training_data(lab, config.border_w0, config.border_sigma, config.outline) for lab in labs]
        labs, border = [p[0].astype(np.int64) for p in pairs], [p[1] for p in pairs]
    model, class_values = prepare_model(imgs, labs, model, model_config)
    model.mode = mode
    if any(grey):  # predictions convert colour images the same way
        model.info["colour_to_grey"] = next(how for how in grey if how)
    if painted_diameter is not None:  # what prediction rescales objects to (napari_unet.rescale)
        model.info["object_diameter"] = round(painted_diameter, 2)
        model.info["small_object_area"] = round(float(np.percentile(painted_areas, 10)), 1)  # specks: napari_unet.instances
    slices = annotated_slices(imgs, labs, class_values, model.norm, balance=config.class_balance,
                              extra_weights=config.class_weights, pixel_weights=border)
    rng = np.random.default_rng(config.seed if seed is None else seed)
    sampler = PatchSampler(slices, len(class_values), rng, balanced=config.balanced_sampling)
    augmenter = PatchAugmenter(slices, config.patch_size, config.augment, device)
    thin = thin_classes(slices, len(class_values))
    if mode == "semantic" and thin:  # prediction closes these lines (napari_unet.lines)
        painted = {int(class_values[k]) for k in thin}
        model.info["line_classes"] = sorted(painted.union(model.info.get("line_classes", ())))
    # a Potts term shortens boundaries, so it erases thin structures where their contrast is
    # faint: with a class painted only as thin lines (membranes) the edge term stays off
    annotated = sum(int((s.target >= 0).sum()) for s in slices) / sum(s.target.size for s in slices)
    sparse = annotated < 0.5
    probe = probe_images(slices) if mode == "semantic" and sparse else ()  # napari_unet.lines
    return model, TrainingData(sampler, augmenter, tuple(thin) if config.edge_weight > 0 else (), sparse, probe)


def _loop(model, data: TrainingData, config: TrainConfig, device, bf16: bool, should_stop, clock=time.perf_counter):
    """Train until the budget is spent or ``should_stop``; ``clock`` measures the time budget
    (a paused trainer passes one that stands still while paused). A run that starts from a
    base model ends with its weights mixed with the starting ones (``config.base_share``); the
    events before the end carry the network as trained so far."""
    import torch

    from .device import autocast
    from .losses import edge_potts_loss, keep_loss, pair_affinities, weighted_cross_entropy

    gen = torch.Generator(device=device)
    gen.manual_seed(config.seed)
    net = model.net.to(device).to(memory_format=torch.channels_last)
    keep = keep_weight(config, model)
    base = _frozen_copy(net) if keep > 0 else None
    start = _weights(net) if config.base_share > 0 and _from_base_model(model) else None
    net.train()
    opt = _optimizer(net, config, device)
    pixels_per_step = config.batch_size * data.augmenter.patch**2
    step, loss_value, stopped = 0, float("nan"), False
    t0 = clock()
    try:
        while True:
            frac = _progress(config, step, clock() - t0)
            if frac >= 1.0:
                break
            if should_stop is not None and should_stop():
                stopped = True
                break
            lr = _lr(config, step, frac)
            for group in opt.param_groups:
                group["lr"] = lr
            x, target, weight = data.augmenter.batch(data.sampler.sample(config.batch_size), gen)
            x = x.contiguous(memory_format=torch.channels_last)
            with autocast(device, bf16):
                logits = net(x).float()
            loss = weighted_cross_entropy(logits, target, weight)
            if base is not None:
                with torch.no_grad(), autocast(device, bf16):
                    base_probs = torch.softmax(base(x).float(), dim=1)
                loss = loss + keep * keep_loss(logits, base_probs, target)
            if step == config.edge_warmup > 0 and data.probe:
                data.predicted_thin = judge_lines(model, net, data.probe, device, data.predicted_thin)
            edge = 0.0 if base is not None else _edge_factor(config, step, data.lines)
            if edge > 0:
                aff = pair_affinities(x, config.edge_sigma)
                loss = loss + edge * edge_potts_loss(torch.softmax(logits, dim=1), aff)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            loss_value = float(loss.detach())
            elapsed = clock() - t0
            progress = _progress(config, step, elapsed)
            _record(model, config, step, loss_value, data)
            yield TrainEvent(
                step=step,
                total_steps=config.steps,
                loss=loss_value,
                elapsed=elapsed,
                steps_per_s=step / elapsed,
                pixels_per_s=step * pixels_per_step / elapsed,
                progress=min(progress, 1.0),
                learning_rate=lr,
                model=model,
            )
    finally:
        net.eval()
        if start is not None and step > 0:
            mix_weights(net, start, config.base_share)
    return TrainResult(model, step, loss_value, clock() - t0, stopped)


def keep_weight(config: TrainConfig, model) -> float:
    """Weight of the term keeping a base model's predictions on unpainted pixels: as set, else 1
    when training starts from a base model with line classes (membranes; or from a model
    fine-tuned from one), else 0. Fine-tuned on a few strokes without it, the EM twin lost its
    membranes; on nuclei it cost steps and F1 (docs/benchmarks.md, the annotation loop). While
    it is on, the edge term is off (both regularise the unpainted pixels, and the base model
    knows the boundaries better than the image's edges do)."""
    if not _from_base_model(model):
        return 0.0
    if config.keep_weight is not None:
        return float(config.keep_weight)
    return 1.0 if model.info.get("line_classes") else 0.0


def _from_base_model(model) -> bool:
    """Whether training starts from a base (named) model, or one fine-tuned from it."""
    return bool(model.info.get("name") or model.info.get("fine_tuned_from"))


def _frozen_copy(net):
    """The starting network in inference mode, its weights fixed: the reference of the keep term."""
    import copy

    base = copy.deepcopy(net).eval()
    for p in base.parameters():
        p.requires_grad_(False)
    return base


def _weights(net) -> dict:
    """A copy of the network's weights and buffers."""
    return {k: v.detach().clone() for k, v in net.state_dict().items()}


def mix_weights(net, start: dict, share: float) -> None:
    """Blend the trained weights with the starting ones, ``(1 - share) * trained + share * start``
    (WiSE-FT, Wortsman et al. 2022): a base model fine-tuned on a few strokes forgets less of
    what it knew where nothing was painted. Made for short runs: after thousands of steps the
    weights are too far apart for the blend to stay good (docs/benchmarks.md). Integer buffers
    (BatchNorm's counter) stay."""
    import torch

    with torch.no_grad():
        for k, v in net.state_dict().items():
            if v.is_floating_point():
                v.lerp_(start[k].to(v.device, v.dtype), share)


def _edge_factor(config: TrainConfig, step: int, thin: tuple[int, ...] = ()) -> float:
    """Weight of the edge term: zero during the warm-up, then a linear ramp over as many steps;
    zero throughout when a class is thin (see :func:`train`)."""
    if config.edge_weight <= 0 or thin:
        return 0.0
    w = config.edge_warmup
    return config.edge_weight * (1.0 if w == 0 else min(max(step - w, 0) / w, 1.0))


def _optimizer(net, config: TrainConfig, device):
    """AdamW, fused into one kernel per step where torch has it for the device (CPU: torch >= 2.4)."""
    import torch

    kwargs = {"lr": config.learning_rate, "weight_decay": config.weight_decay}
    if device.type in ("cpu", "cuda"):
        try:
            return torch.optim.AdamW(net.parameters(), fused=True, **kwargs)
        except (RuntimeError, ValueError, TypeError):
            pass
    return torch.optim.AdamW(net.parameters(), **kwargs)


def _record(model, config: TrainConfig, step: int, loss: float, data: TrainingData) -> None:
    h = model.history
    if step == 1:
        h["runs"] = int(h.get("runs", 0)) + 1
        h["start_steps"] = int(h.get("steps", 0))
        if model.info.get("name"):  # a named (base) model, now fine-tuned: no longer the model of that name
            model.info["fine_tuned_from"] = model.info.pop("name")
            model.info.pop("fingerprint", None)  # of the base model's features, not of these weights
    h["steps"] = h["start_steps"] + step
    h["loss"] = loss
    h["train_config"] = config.to_dict()
    h["thin_classes"] = [int(model.class_values[k]) for k in data.lines]  # the edge term was off for them
    h["sparse"] = data.sparse  # trained on strokes: prediction keeps the object margin
    # annotated pixels per class value (instance mode: of the derived background/object targets)
    h["painted_pixels"] = {str(v): n for v, n in zip(model.class_values, data.sampler.counts())}


def fit(images, labels, config: TrainConfig | None = None, model=None, model_config=None,
        on_event: Callable[[TrainEvent], None] | None = None) -> TrainResult:
    """Run :func:`train` to the end (or until Ctrl-C) and return its result."""
    return drain(train(images, labels, config, model=model, model_config=model_config), on_event)


def drain(gen: Generator[TrainEvent, None, TrainResult],
          on_event: Callable[[TrainEvent], None] | None = None) -> TrainResult:
    """Consume a training generator, passing each event to ``on_event``.

    A ``KeyboardInterrupt`` stops training at the current step; the result then has
    ``stopped=True`` and the model keeps the weights trained so far.
    """
    last = None
    try:
        while True:
            last = next(gen)
            if on_event is not None:
                on_event(last)
    except StopIteration as done:
        return done.value
    except KeyboardInterrupt:
        gen.close()
        if last is None:
            raise
        return TrainResult(last.model, last.step, last.loss, last.elapsed, True)
