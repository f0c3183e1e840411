"""Inspect and correct: how the prediction is drawn, copying it into the strokes, measuring
its objects (GUI thread only)."""

from __future__ import annotations

import numpy as np
from qtpy.QtWidgets import QFileDialog

from napari_unet.widget.layers import PREDICTION, current_z, spatial_shape, visible_box

TRANSPARENT = (0.0, 0.0, 0.0, 0.0)


def style_prediction(layer, strokes, model, transparent: int, outlines: bool, opacity: float) -> None:
    """Draw ``layer`` as asked: semantic classes in the strokes' colours with ``transparent``
    not drawn; instance objects in napari's colours on a transparent background."""
    from napari.utils.colormaps import DirectLabelColormap

    if model is not None and model.mode == "semantic" and strokes is not None:
        colors = {None: TRANSPARENT, 0: TRANSPARENT}
        for value in model.class_values:
            colors[int(value)] = TRANSPARENT if value == transparent else tuple(strokes.get_color(int(value)))
        layer.colormap = DirectLabelColormap(color_dict=colors)
    layer.contour = 2 if outlines else 0
    layer.opacity = opacity


class Inspect:
    """The inspect panel (``panel``): how the prediction is drawn, copying it, measuring it."""

    def __init__(self, ctx, panel):
        self.ctx, self.panel = ctx, panel

    def prediction_layer(self):
        image, layers = self.ctx.image_layer(), self.ctx.viewer.layers
        name = image.name + PREDICTION if image is not None else None
        return layers[name] if name and name in layers else None

    def restyle(self, *_):
        """Apply the panel's drawing settings to the current image's prediction layer."""
        p, layer = self.panel, self.prediction_layer()
        if layer is not None:
            style_prediction(layer, self.ctx.labels_layer(), self.ctx.model, p.transparent.value(),
                             p.outlines.isChecked(), p.opacity.value() / 100)

    def toggle(self, *_):
        """Show or hide the prediction (a key binding)."""
        layer = self.prediction_layer()
        if layer is not None:
            layer.visible = not layer.visible

    def use_as_strokes(self):
        """Copy the prediction of the region on screen (or only its pixels of the prediction
        layer's selected label) into the strokes where nothing is painted, as one undo step of
        the strokes layer. Returns the number of pixels copied."""
        ctx = self.ctx
        image, strokes, layer = ctx.image_layer(), ctx.labels_layer(), self.prediction_layer()
        if layer is None or strokes is None or ctx.model is None:
            return ctx.error("Predict first (and choose the strokes layer to copy into).")
        if strokes.data.shape != layer.data.shape:
            return ctx.error(f"strokes layer '{strokes.name}' has shape {strokes.data.shape} but the prediction has "
                            f"{layer.data.shape}; choose the strokes layer of this image.")
        y0, y1, x0, x1 = visible_box(ctx.viewer, image)
        region = (slice(y0, y1), slice(x0, x1))
        if layer.data.ndim == 3:
            z = current_z(ctx.viewer, image)
            if z is None:
                return ctx.error(f"the slice on screen is outside '{image.name}'; move the slider onto it.")
            region = (z, *region)
        predicted = np.asarray(layer.data[region]).astype(np.int64)
        chosen = self.panel.copy_what.currentIndex() == 1
        keep = predicted == layer.selected_label if chosen else np.ones(predicted.shape, bool)
        if ctx.model.mode == "instance":  # background strokes = 1; each object a new value of its own
            top = max(int(np.asarray(strokes.data).max()), 1)
            predicted = np.where(predicted > 0, predicted + top, 1)
        free = (np.asarray(strokes.data[region]) == 0) & keep  # what the user painted stays
        if predicted.max(initial=0) > np.iinfo(strokes.data.dtype).max:
            return ctx.error(f"the strokes layer's type {strokes.data.dtype} cannot hold {predicted.max()} values; "
                            "make a new annotation layer in instance mode (16-bit).")
        offsets = [r.start if isinstance(r, slice) else r for r in region]
        where = np.nonzero(free)
        if isinstance(region[0], int):
            indices = (np.full(len(where[0]), region[0]), where[0] + offsets[1], where[1] + offsets[2])
        else:
            indices = (where[0] + offsets[0], where[1] + offsets[1])
        with strokes.block_history():  # one undo step
            strokes.data_setitem(indices, predicted[where].astype(strokes.data.dtype))
        ctx.status(f"Copied the prediction into '{strokes.name}' on {len(where[0])} unpainted pixels. Erase "
                   "or repaint what is wrong, then Train (Ctrl-Z on the strokes layer undoes the copy).")
        return len(where[0])

    def measure(self, path: str | None = None):
        """Save the prediction's objects as CSV (instance mode); returns the path."""
        from napari_unet.core.config import UserInputError
        from napari_unet.review.measure import measure_objects, write_csv
        from napari_unet.widget.layers import full_resolution

        ctx = self.ctx
        image, layer = ctx.image_layer(), self.prediction_layer()
        if layer is None or ctx.model is None or ctx.model.mode != "instance":
            return ctx.error("Measurements count objects: predict with an instance-mode model first.")
        if path is None:
            path, _ = QFileDialog.getSaveFileName(ctx.window, "Save measurements", f"{image.name}_objects.csv", "CSV (*.csv)")
            if not path:
                return None
        pixels = full_resolution(image)
        pixels = None if tuple(pixels.shape[: layer.data.ndim]) != tuple(spatial_shape(image)) else np.asarray(pixels)
        try:
            table = measure_objects(np.asarray(layer.data), pixels, tuple(layer.scale[-2:]))
            saved = write_csv(table, path)
        except (OSError, UserInputError) as err:
            return ctx.error(f"Could not save the measurements to {path}: {err}")
        ctx.status(f"{len(table['label'])} objects measured; saved to {saved}")
        return saved
