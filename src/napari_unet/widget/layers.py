"""Reading napari layers for the engine, and writing its results back (GUI thread only)."""

from __future__ import annotations

import numpy as np

PREDICTION = " prediction"
OUTPUTS = (PREDICTION, " uncertainty")  # layers the widget writes: never offered as input


def full_resolution(layer):
    """An image layer's data, at full resolution if it is multiscale."""
    return layer.data[0] if layer.multiscale else layer.data


def spatial_shape(image) -> tuple[int, ...]:
    shape = full_resolution(image).shape
    return shape[:-1] if image.rgb else shape


def prediction_input(layer):
    """What the prediction worker reads: a copy of in-memory data (the user may keep painting or
    editing), or, for a lazily loaded image (dask/zarr, e.g. opened from a .zarr), the lazy array
    itself, read band by band off the GUI thread. A multiscale image is predicted at full resolution."""
    from napari_unet.core.data import is_lazy

    data = full_resolution(layer)
    return data if is_lazy(data) else np.array(data)


def layers_of(viewer, kind: str) -> list:
    from napari.layers import Image, Labels

    cls = {"image": Image, "labels": Labels}[kind]
    return [layer for layer in viewer.layers if isinstance(layer, cls) and not layer.name.endswith(OUTPUTS)]


def training_pairs(viewer, image, strokes, every: bool) -> list[tuple]:
    """``(image, strokes)`` layers to train on: the chosen pair first, then (with ``every``) each
    other image with a painted Labels layer of its shape named after it ('<image> strokes')."""
    pairs = [(image, strokes)]
    if not every:
        return pairs
    for other in layers_of(viewer, "image"):  # compared by name: a plugin sees layers through proxies
        if other.name == image.name:
            continue
        for labels in layers_of(viewer, "labels"):
            if labels.name != strokes.name and labels.name.startswith(other.name + " ") \
                    and labels.data.shape == spatial_shape(other) and np.any(labels.data):
                pairs.append((other, labels))
                break
    return pairs


def _reusable(viewer, name: str, shape: tuple[int, ...]):
    """The layer called ``name`` if it has ``shape``; one of another shape is removed (None then)."""
    layer = viewer.layers[name] if name in viewer.layers else None
    if layer is not None and layer.data.shape == tuple(shape):
        return layer
    if layer is not None:
        viewer.layers.remove(layer)
    return None


def _spatial(image, ndim: int) -> dict:
    return dict(scale=image.scale[-ndim:], translate=image.translate[-ndim:])


def prediction_layer(viewer, image, shape: tuple[int, ...], dtype, data=None):
    """The image's prediction layer, made (holding ``data``, else empty) if it is missing or of
    another shape."""
    name = image.name + PREDICTION
    layer = _reusable(viewer, name, shape)
    if layer is not None:
        return layer
    return viewer.add_labels(np.zeros(shape, dtype) if data is None else data, name=name, opacity=0.6,
                             **_spatial(image, len(shape)))


def show_prediction(viewer, image, result, model, z_slices, min_confidence: float, probabilities: bool = False,
                    uncertainty: bool = False) -> str:
    """Put a prediction into the image's prediction layer (and probability and uncertainty
    layers, when asked for); returns the status line."""
    labels = result.labels
    layer = viewer.layers[image.name + PREDICTION] if image.name + PREDICTION in viewer.layers else None
    if layer is None or layer.data.shape != labels.shape:
        layer = prediction_layer(viewer, image, labels.shape, labels.dtype, data=labels)
    elif z_slices is None:
        layer.data = labels
    else:
        for z in z_slices:
            layer.data[z] = labels[z]
        layer.refresh()
    n = labels.ndim
    layer.scale, layer.translate = image.scale[-n:], image.translate[-n:]
    if probabilities and result.probabilities is not None:
        _show_probabilities(viewer, image, result.probabilities, model, n)
    if uncertainty and result.probabilities is not None:
        from napari_unet.predict.pipeline import uncertainty as entropy

        values = entropy(result.probabilities)
        layer_u = uncertainty_layer(viewer, image, labels.shape)
        if z_slices is None:
            layer_u.data = values.reshape(labels.shape)
        else:
            for z in z_slices:
                layer_u.data[z] = values[z]
            layer_u.refresh()
    name = layer.name
    if model.mode == "instance":
        counted = labels if z_slices is None else labels[z_slices]
        count = sum(len(np.unique(plane)) - 1 for plane in counted.reshape(-1, *labels.shape[-2:]))
        if count:
            shrunk = (f" (predicted at {result.scale:.0%} size: these objects are much larger than those the model "
                      "learned)") if result.scale < 1 else ""
            return f"Prediction in '{name}': {count} objects{shrunk}. Paint corrections and Train again."
        return (f"Prediction in '{name}': no object yet that the model is {min_confidence:.0%} sure of. "
                "Train more, or paint more objects and background.")
    values, counts = np.unique(labels, return_counts=True)
    share = ", ".join(f"{v}: {c / labels.size:.0%}" for v, c in zip(values, counts) if v)
    return f"Prediction in '{name}' (class shares {share}). Paint corrections and Train again."


def uncertainty_layer(viewer, image, shape: tuple[int, ...]):
    """The image's uncertainty overlay, made (all zero) if it is missing or of another shape."""
    name = image.name + " uncertainty"
    layer = _reusable(viewer, name, shape)
    if layer is not None:
        return layer
    return viewer.add_image(np.zeros(shape, np.float32), name=name, colormap="magma", blending="additive",
                            contrast_limits=(0, 1), opacity=0.7, **_spatial(image, len(shape)))


def _show_probabilities(viewer, image, probabilities, model, ndim: int) -> None:
    for k, value in enumerate(model.class_values):
        name = f"{image.name} p(class {value})"
        probs = probabilities[:, k]
        probs = probs[0] if ndim == probs.ndim - 1 else probs
        existing = _reusable(viewer, name, probs.shape)
        if existing is not None:
            existing.data = probs
        else:
            viewer.add_image(probs, name=name, colormap="magma", blending="additive", contrast_limits=(0, 1),
                             visible=False, **_spatial(image, ndim))


def visible_box(viewer, image) -> tuple[int, int, int, int]:
    """The part of the image's last two axes on screen, as (y0, y1, x0, x1) in pixels."""
    corners = np.asarray(image.corner_pixels)  # (2, spatial ndim) in data coordinates, clipped to the data
    (y0, x0), (y1, x1) = corners[0, -2:], corners[1, -2:]
    h, w = spatial_shape(image)[-2:]
    return int(max(0, y0)), int(min(h, y1 + 1)), int(max(0, x0)), int(min(w, x1 + 1))


def current_z(viewer, image) -> int | None:
    """The slice of ``image`` on screen (0 for a single plane; None when the viewer shows a
    plane outside a z-stack, e.g. a deeper stack's slider position)."""
    shape = spatial_shape(image)
    if len(shape) != 3:
        return 0
    z = int(round(float(image.world_to_data(viewer.dims.point)[-3])))
    return z if 0 <= z < shape[0] else None


def colour_notice(model, images, method) -> str:
    """A space and the one-line notice when a colour image among ``images`` is converted to grey
    for ``model`` (:mod:`napari_unet.core.colour`); empty otherwise."""
    from napari_unet.core.colour import notice
    from napari_unet.core.data import to_zcyx

    for image in images:
        text = notice(model, to_zcyx(image, lazy=True).shape[1], method) if model is not None else None
        if text:
            return " " + text[0].upper() + text[1:]
    return ""
