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
    def __init__(self, widget):
        self.widget = widget

    def prediction_layer(self):
        image = self.widget.image_layer()
        name = image.name + PREDICTION if image is not None else None
        return self.widget.viewer.layers[name] if name and name in self.widget.viewer.layers else None

    def restyle(self, *_):
        """Apply the panel's drawing settings to the current image's prediction layer."""
        w, layer = self.widget, self.prediction_layer()
        if layer is not None:
            style_prediction(layer, w.labels_layer(), w.model, w.transparent.value(), w.outlines.isChecked(),
                             w.opacity.value() / 100)

    def toggle(self, *_):
        """Show or hide the prediction (a key binding)."""
        layer = self.prediction_layer()
        if layer is not None:
            layer.visible = not layer.visible

    def use_as_strokes(self):
        """Copy the prediction of the region on screen (or only its pixels of the prediction
        layer's selected label) into the strokes where nothing is painted, as one undo step of
        the strokes layer. Returns the number of pixels copied."""
        w = self.widget
        image, strokes, layer = w.image_layer(), w.labels_layer(), self.prediction_layer()
        if layer is None or strokes is None or w.model is None:
            return w._error("Predict first (and choose the strokes layer to copy into).")
        if strokes.data.shape != layer.data.shape:
            return w._error(f"strokes layer '{strokes.name}' has shape {strokes.data.shape} but the prediction has "
                            f"{layer.data.shape}; choose the strokes layer of this image.")
        y0, y1, x0, x1 = visible_box(w.viewer, image)
        region = (slice(y0, y1), slice(x0, x1))
        if layer.data.ndim == 3:
            z = current_z(w.viewer, image)
            if z is None:
                return w._error(f"the slice on screen is outside '{image.name}'; move the slider onto it.")
            region = (z, *region)
        predicted = np.asarray(layer.data[region]).astype(np.int64)
        chosen = w.copy_what.currentIndex() == 1
        keep = predicted == layer.selected_label if chosen else np.ones(predicted.shape, bool)
        if w.model.mode == "instance":  # background strokes = 1; each object a new value of its own
            top = max(int(np.asarray(strokes.data).max()), 1)
            predicted = np.where(predicted > 0, predicted + top, 1)
        free = (np.asarray(strokes.data[region]) == 0) & keep  # what the user painted stays
        if predicted.max(initial=0) > np.iinfo(strokes.data.dtype).max:
            return w._error(f"the strokes layer's type {strokes.data.dtype} cannot hold {predicted.max()} values; "
                            "make a new annotation layer in instance mode (16-bit).")
        offsets = [r.start if isinstance(r, slice) else r for r in region]
        where = np.nonzero(free)
        if isinstance(region[0], int):
            indices = (np.full(len(where[0]), region[0]), where[0] + offsets[1], where[1] + offsets[2])
        else:
            indices = (where[0] + offsets[0], where[1] + offsets[1])
        with strokes.block_history():  # one undo step
            strokes.data_setitem(indices, predicted[where].astype(strokes.data.dtype))
        w.status.setText(f"Copied the prediction into '{strokes.name}' on {len(where[0])} unpainted pixels. Erase "
                         "or repaint what is wrong, then Train (Ctrl-Z on the strokes layer undoes the copy).")
        return len(where[0])

    def measure(self, path: str | None = None):
        """Save the prediction's objects as CSV (instance mode); returns the path."""
        from napari_unet.core.config import UserInputError
        from napari_unet.review.measure import measure_objects, write_csv
        from napari_unet.widget.layers import full_resolution

        w = self.widget
        image, layer = w.image_layer(), self.prediction_layer()
        if layer is None or w.model is None or w.model.mode != "instance":
            return w._error("Measurements count objects: predict with an instance-mode model first.")
        if path is None:
            path, _ = QFileDialog.getSaveFileName(w, "Save measurements", f"{image.name}_objects.csv", "CSV (*.csv)")
            if not path:
                return None
        pixels = full_resolution(image)
        pixels = None if tuple(pixels.shape[: layer.data.ndim]) != tuple(spatial_shape(image)) else np.asarray(pixels)
        try:
            table = measure_objects(np.asarray(layer.data), pixels, tuple(layer.scale[-2:]))
            saved = write_csv(table, path)
        except (OSError, UserInputError) as err:
            return w._error(f"Could not save the measurements to {path}: {err}")
        w.status.setText(f"{len(table['label'])} objects measured; saved to {saved}")
        return saved
