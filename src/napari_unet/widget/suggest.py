"""'Paint here next': the places where the model hesitates most, as a Points layer, and a key
(Alt-N) that moves the view to the next one (:func:`napari_unet.review.suggest.suggest_places` ranks
them from the uncertainty overlay, the prediction and the strokes)."""

from __future__ import annotations

import numpy as np

from napari_unet.widget.layers import PREDICTION, spatial_shape

WINDOW = 48  # px: the area a place stands for (and the least distance between two places)
COUNT = 5


class Suggestions:
    """'Paint here next' of the prediction panel (``panel``); ``predict`` starts a prediction
    (returns its worker, or None)."""

    def __init__(self, ctx, panel, predict):
        self.ctx, self.panel, self.predict = ctx, panel, predict
        self.visited: list[tuple[int, int, int]] = []
        self.current = None

    def next(self):
        """Move the view to the best place not yet visited; returns it (or None, with a message)."""
        from napari_unet.review.suggest import suggest_places

        ctx = self.ctx
        image, strokes = ctx.image_layer(), ctx.labels_layer()
        if image is None:
            return ctx.error("Open an image first; suggestions come from its prediction.")
        layers = ctx.viewer.layers
        spread = layers[image.name + " uncertainty"] if image.name + " uncertainty" in layers else None
        if spread is None or not np.any(spread.data):
            return self._predict_first(image)
        shape = spatial_shape(image)
        labels = layers[image.name + PREDICTION].data if image.name + PREDICTION in layers else None
        painted = strokes.data if strokes is not None and tuple(strokes.data.shape) == tuple(shape) else None
        places = suggest_places(np.asarray(spread.data), None if labels is None else np.asarray(labels),
                                None if painted is None else np.asarray(painted), count=COUNT, window=WINDOW)
        if not places:
            if image.name + " paint here next" in layers:
                layers.remove(image.name + " paint here next")
            self.current = None
            ctx.status("The model is sure of the whole image: no place to suggest. Check the prediction, "
                       "paint where it is wrong, or predict another image.")
            return None
        fresh = [p for p in places if not any(_near(p, v) for v in self.visited)]
        if not fresh:  # every suggestion seen: start the round again
            self.visited, fresh = [], places
        place = fresh[0]
        self.visited.append((place.z, place.y, place.x))
        self.current = place
        self._show(image, places, place)
        self._go_to(image, place, strokes)
        ctx.status(f"Paint here next ({places.index(place) + 1} of {len(places)}, in the yellow frame): mean "
                   f"uncertainty {place.score:.2f} (1 = undecided). Paint what is really there, then Alt-N for "
                   "the next place.")
        return place

    def _predict_first(self, image):
        """No uncertainty yet: predict with it (then come back here), or say what to do."""
        ctx = self.ctx
        self.panel.uncertainty.setChecked(True)
        if ctx.controller.live:
            return ctx.error("Suggestions come from where the model hesitates: wait for the live preview "
                             "(it now shows the uncertainty), then press Alt-N again.")
        if ctx.model is None:
            return ctx.error("Suggestions come from where the model hesitates: train a model first "
                             "(or start from a base model), then press Alt-N.")
        worker = self.predict()
        if worker is None:
            return None
        worker.finished.connect(self._after_prediction)
        ctx.status("Predicting with the uncertainty overlay first; the view then moves to the place to paint.")
        return None

    def _after_prediction(self):
        image = self.ctx.image_layer()
        if image is not None and image.name + " uncertainty" in self.ctx.viewer.layers:
            self.next()

    def _show(self, image, places, current=None):
        """The places as a Points layer '<image> paint here next' (numbered; the current one larger)."""
        viewer = self.ctx.viewer
        name = image.name + " paint here next"
        ndim = len(spatial_shape(image))
        coords = np.array([[p.z, p.y, p.x][3 - ndim :] for p in places], float).reshape(-1, ndim)
        sizes = [WINDOW * (1.0 if p == current else 0.7) for p in places]
        text = {"string": [str(i + 1) for i in range(len(places))], "color": "yellow", "size": 14,
                "anchor": "upper_left"}
        if name in viewer.layers:  # made anew: points, sizes and numbers change together
            viewer.layers.remove(name)
        # a yellow frame around each area, the image visible inside it
        layer = viewer.add_points(coords, name=name, size=sizes, symbol="square", face_color="transparent",
                                  border_color="yellow", border_width=0.06, border_width_is_relative=True, text=text,
                                  scale=image.scale[-ndim:], translate=image.translate[-ndim:])
        layer.editable = False

    def _go_to(self, image, place, strokes):
        """Centre the view on the place (and its slice), zoomed so the area fills about a quarter of it;
        the strokes layer becomes active, ready to paint."""
        viewer = self.ctx.viewer
        ndim = len(spatial_shape(image))
        world = image.data_to_world([place.z, place.y, place.x][3 - ndim :])
        if ndim == 3:
            viewer.dims.set_point(viewer.dims.ndim - 3, world[0])
        camera = viewer.scene.camera if hasattr(viewer, "scene") else viewer.camera  # napari >= 0.9 / before
        camera.center = tuple(world[-2:])
        zoom = min(viewer.canvas.size) / (4 * WINDOW * float(max(image.scale[-2:])))
        camera.zoom = max(camera.zoom, zoom)
        if strokes is not None:
            viewer.layers.selection.active = strokes
            strokes.mode = "paint"


def _near(place, visited) -> bool:
    return place.z == visited[0] and abs(place.y - visited[1]) <= WINDOW and abs(place.x - visited[2]) <= WINDOW
