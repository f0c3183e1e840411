"""The README and the cover image of an exported bioimage.io package."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

# class colours of the cover, by class index (napari's first label colours, roughly)
_COLOURS = np.array([[230, 25, 75], [60, 180, 75], [255, 225, 25], [0, 130, 200], [245, 130, 48],
                     [145, 30, 180], [70, 240, 240], [240, 50, 230]], np.uint8)


def write_cover(x: np.ndarray, y: np.ndarray, model, path: Path) -> None:
    """``input | prediction`` side by side: the first channel in grey, then the predicted classes
    in colour over it (2:1, as bioimage.io asks of covers)."""
    import imageio.v3 as iio

    from napari_unet.core.data import normalize

    grey = np.clip(normalize(x, model.norm)[0, 0], 0, 1)
    grey = (grey * 255).astype(np.uint8)
    rgb = np.repeat(grey[..., None], 3, axis=2)
    classes = np.argmax(y[0], axis=0)
    colour = _COLOURS[classes % len(_COLOURS)]
    overlay = (0.45 * rgb + 0.55 * colour).astype(np.uint8)
    if model.mode == "instance":  # objects in colour on the image itself
        overlay = np.where((classes == 0)[..., None], rgb, overlay)
    side = max(grey.shape)
    panels = [_square(p, side) for p in (rgb, overlay)]
    iio.imwrite(path, np.concatenate(panels, axis=1))


def _square(rgb: np.ndarray, side: int) -> np.ndarray:
    out = np.zeros((side, side, 3), np.uint8)
    h, w = rgb.shape[:2]
    out[(side - h) // 2 : (side - h) // 2 + h, (side - w) // 2 : (side - w) // 2 + w] = rgb
    return out


def _threshold(model) -> float:
    """The object probability napari-unet's labels start at, for two classes (:mod:`napari_unet.predict.margin`)."""
    from napari_unet.core.config import PredictConfig
    from napari_unet.predict.margin import class_odds, margin_values

    odds = class_odds(model, PredictConfig.object_margin)
    return 1 / (1 + odds[model.class_values.index(margin_values(model)[0])]) if odds else 0.5


def _margin_note(model) -> list[str]:
    """What napari-unet does with the probabilities of a model trained on strokes, if anything."""
    from napari_unet.core.config import PredictConfig
    from napari_unet.predict.margin import margin_values

    values = margin_values(model)
    if not values:
        return []
    from napari_unet.predict.margin import class_odds

    margin = PredictConfig.object_margin
    odds = class_odds(model, margin)

    def factor(v) -> str:
        o = odds[model.class_values.index(v)]
        return f"exp(-{margin:g})" if o == math.exp(-margin) else f"{o:.3g} (its share of the training images)"

    weighs = ", ".join(f"`{model.class_name(v)}` by {factor(v)}" for v in values)
    return [f"- Trained on strokes, the network puts its 50/50 line outside the edges of what it was painted "
            f"inside. napari-unet weighs the probability of {weighs} and renormalises before taking the most "
            f"probable class (for two classes: {_threshold(model):.2f} instead of 0.5); the package gives the "
            f"network's own probabilities."]


def write_readme(model, path: Path, settings, x: np.ndarray, validation: dict | None) -> None:
    path.write_text(readme(model, settings, x, validation), encoding="utf-8")


def readme(model, settings, x: np.ndarray, validation: dict | None) -> str:
    """The package's documentation: classes, input and output, training record, citation, validation."""
    from napari_unet import __version__
    from napari_unet.bioimageio.common import INPUT, OUTPUT, UNET_CITATION, halo, min_size

    h = model.history
    tc = h.train_config
    lines = [f"# {settings.name}", "", settings.description, ""]
    lines += ["## Classes", "", "| output channel | label value | class | painted pixels |", "|---|---|---|---|"]
    painted = h.painted_pixels
    for i, v in enumerate(model.class_values):
        lines.append(f"| {i} | {v} | {model.class_name(v)} | {painted.get(v, 'not recorded')} |")
    m = model.config.multiple
    lines += ["", "## Input and output", "",
              f"- Input `{INPUT}`: (batch, channel, y, x), {model.config.in_channels} channel(s), float32, any "
              f"intensity range. Height and width: {min_size(model)} + k·{m} pixels.",
              f"- Preprocessing: `scale_range` per image and channel, percentiles {model.norm.low} and "
              f"{model.norm.high} map to 0 and 1 (napari-unet's normalisation).",
              f"- Output `{OUTPUT}`: softmax probability of each class, same height and width as the input. "
              "The label of a pixel is the label value of its most probable class.",
              *_margin_note(model),
              f"- When tiling a large image, give each tile {halo(model)} pixels of context on every side and "
              "discard them from the output (the output axes' halo, the network's receptive field): tiles then "
              "join exactly, as in napari-unet. Context beyond the image is mirrored (the input's padding)."]
    if model.mode == "instance":
        lines += ["", "## Instance mode", "",
                  f"This model was trained in instance mode: channel 1 is the probability of `{model.class_name(2)}`. "
                  "napari-unet splits the object pixels into separate objects with a seeded watershed, outside the "
                  "network; that step is not part of the bioimage.io package, which gives the probabilities. "
                  f"Threshold the object probability at {_threshold(model):.2f} and label connected components (or "
                  "load the package into napari-unet) to get one label per object."]
    lines += ["", "## Training record", "",
              f"- Steps: {h.steps} in {h.runs} run(s); last loss {_num(h.loss)}.",
              f"- Architecture: depth {model.config.depth}, {model.config.base_channels} base channels, "
              f"batch norm {'on' if model.config.batch_norm else 'off'}.",
              f"- Patch {tc.get('patch_size', '?')}, batch {tc.get('batch_size', '?')}, learning rate "
              f"{tc.get('learning_rate', '?')}, seed {tc.get('seed', '?')}, elastic deformation "
              f"σ {tc.get('augment', {}).get('elastic_sigma', '?')} px."]
    info = model.info
    for value, label in ((info.training_data, "Training data"), (info.licence, "Data licence"),
                         (info.fine_tuned_from, "Fine-tuned from the base model"), (info.base, "Base model"),
                         (info.recipe, "Recipe")):
        if value:
            lines.append(f"- {label}: {value}")
    lines += ["", "## Citation", "", f"- {UNET_CITATION[0]}, doi:{UNET_CITATION[1]}"]
    if info.citation:
        lines.append(f"- Training data: {info.citation}")
    lines += ["", "## Validation", "",
              f"The test output is napari-unet {__version__}'s normalisation and network applied to the test input "
              f"as it is ({x.shape[-2]}x{x.shape[-1]} pixels, float32, CPU). napari-unet's own prediction of an "
              f"image adds {halo(model)} pixels of mirrored context around it, as bioimage.io tools do with the halo."]
    if validation:
        import bioimageio.core

        for fmt, result in validation.items():
            lines.append(f"- `{fmt}`: bioimageio.core {bioimageio.core.__version__} `test_model` on CPU: {result}.")
    else:
        lines.append("- Not tested at export; run `bioimageio test` on the package.")
    lines += ["", f"Exported by napari-unet {__version__}.", ""]
    return "\n".join(lines)


def _num(v) -> str:
    return f"{v:.4g}" if isinstance(v, (int, float)) else "?"
