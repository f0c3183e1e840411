"""Training from sparse strokes, as a generator of progress events.

>>> gen = train([image], [strokes], TrainConfig(steps=200))
>>> for event in gen:          # stop at any event: the model keeps what it learned
...     print(event.step, event.loss)

Every event carries the model being trained, so a caller that stops iterating (or whose
``should_stop`` returns True) still holds the weights trained so far. :func:`fit` drains the
generator and returns the :class:`TrainResult`.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence

import numpy as np

from napari_unet.core.config import ModelConfig, NormConfig, TrainConfig, UserInputError
from napari_unet.core.data import annotated_slices, class_values_of, labels_to_zyx, thin_classes, to_zcyx
from napari_unet.core.events import TrainEvent, TrainResult
from napari_unet.core.lines import probe_images
from napari_unet.core.loop import TrainingData, run_steps


def as_list(x) -> list:
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
    from napari_unet.core.model import SegmentationModel

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
    name = model.info.name
    return f"the model {name!r}" if name else "the model"


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
    :class:`~napari_unet.core.config.UserInputError` at once); the returned generator trains.

    Parameters
    ----------
    images, labels
        One image and its strokes, or lists of them. Images as accepted by
        :func:`napari_unet.core.data.to_zcyx`; strokes of the image's spatial shape, 0 = not
        annotated, k >= 1 = class k. Only slices of a z-stack that carry strokes are used.
    config
        Training settings (steps or time budget, batch and patch size, seed, device...).
    model
        A :class:`~napari_unet.core.model.SegmentationModel` to continue training (fine-tuning);
        a new one is built from ``model_config`` when None.
    should_stop
        Called before every step; training ends early when it returns True.
    """
    import torch

    from napari_unet.core.device import resolve_device, use_bf16

    config = config or TrainConfig()
    device = resolve_device(config.device)
    torch.manual_seed(config.seed)  # weight initialisation and dropout
    model, data = prepare(images, labels, config, model, model_config, device)
    return run_steps(model, data, config, device, use_bf16(device, config.precision), should_stop)


def prepare(images, labels, config: TrainConfig, model=None, model_config: ModelConfig | None = None,
            device=None, seed: int | None = None):
    """Check images and strokes and return ``(model, TrainingData)`` (see :func:`train`)."""
    from napari_unet.core.augment import PatchAugmenter
    from napari_unet.core.colour import conversion, to_grey
    from napari_unet.core.data import PatchSampler
    from napari_unet.core.device import resolve_device

    device = device if device is not None else resolve_device(config.device)
    imgs = [to_zcyx(im) for im in as_list(images)]
    grey = [conversion(model, im.shape[1], config.colour_to_grey) for im in imgs]  # napari_unet.core.colour
    imgs = [to_grey(im, how) if how else im for im, how in zip(imgs, grey)]
    labs = as_list(labels)
    if len(imgs) != len(labs):
        raise UserInputError(f"got {len(imgs)} image(s) but {len(labs)} label image(s); give one label image per image.")
    labs = [labels_to_zyx(lab, im, name=f"strokes of image {i + 1}") for i, (lab, im) in enumerate(zip(labs, imgs))]
    mode = config.mode or (model.mode if model is not None else "semantic")
    if model is not None and model.mode != mode:
        raise UserInputError(f"{_model_name(model)} was trained in {model.mode} mode: {model.paint_guide()}; train it "
                             f"in that mode, or start a new model for {mode} mode.")
    border = painted_diameter = None
    if mode == "instance":
        from napari_unet.core.instances import check_instance_strokes, instance_training_data, object_areas
        from napari_unet.core.instances import object_diameter

        check_instance_strokes(labs)
        painted = [np.where(lab >= 2, lab, 0) for lab in labs]
        painted_diameter, painted_areas = object_diameter(*painted), object_areas(*painted)
        pairs = [instance_training_data(lab, config.border_w0, config.border_sigma, config.outline) for lab in labs]
        labs, border = [p[0].astype(np.int64) for p in pairs], [p[1] for p in pairs]
    model, class_values = prepare_model(imgs, labs, model, model_config)
    model.mode = mode
    if any(grey):  # predictions convert colour images the same way
        model.info.colour_to_grey = next(how for how in grey if how)
    if painted_diameter is not None:  # what prediction rescales objects to (napari_unet.predict.rescale)
        model.info.object_diameter = round(painted_diameter, 2)
        model.info.small_object_area = round(float(np.percentile(painted_areas, 10)), 1)  # specks: napari_unet.core.instances
    slices = annotated_slices(imgs, labs, class_values, model.norm, balance=config.class_balance,
                              extra_weights=config.class_weights, pixel_weights=border)
    rng = np.random.default_rng(config.seed if seed is None else seed)
    sampler = PatchSampler(slices, len(class_values), rng, balanced=config.balanced_sampling)
    augmenter = PatchAugmenter(slices, config.patch_size, config.augment, device)
    thin = thin_classes(slices, len(class_values))
    if mode == "semantic" and thin:  # prediction closes these lines (napari_unet.core.lines)
        painted = {int(class_values[k]) for k in thin}
        model.info.line_classes = sorted(painted.union(model.info.line_classes))
    # a Potts term shortens boundaries, so it erases thin structures where their contrast is
    # faint: with a class painted only as thin lines (membranes) the edge term stays off
    annotated = sum(int((s.target >= 0).sum()) for s in slices) / sum(s.target.size for s in slices)
    sparse = annotated < 0.5
    probe = probe_images(slices) if mode == "semantic" and sparse else ()  # napari_unet.core.lines
    return model, TrainingData(sampler, augmenter, tuple(thin) if config.edge_weight > 0 else (), sparse, probe)


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
