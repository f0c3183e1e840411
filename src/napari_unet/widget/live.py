"""Live mode in the viewer: each finished stroke goes to the running trainer, and the
prediction of the visible region comes back into the prediction layer (GUI thread only)."""

from __future__ import annotations

import time

import numpy as np

from napari_unet.widget.controller import changed_region
from napari_unet.widget.layers import current_z, prediction_layer, spatial_shape, uncertainty_layer, visible_box

REFRESH_S = 3.0  # seconds between refreshes of the preview while nothing is painted


class LivePreview:
    """The live preview; ``panel`` (the prediction panel) says whether to show the uncertainty,
    ``restyle`` draws a new prediction layer."""

    def __init__(self, ctx, panel, restyle):
        self.ctx, self.panel, self.restyle = ctx, panel, restyle
        self.image = self.labels = self.sent = None
        self.pending: int | None = None  # the preview request not yet answered
        self.asked_at = 0.0
        self.stroke: tuple[float, int] | None = None  # (when a stroke ended, the request made after it)
        self.latencies: list[float] = []  # seconds from the end of a stroke to its preview on screen

    @property
    def active(self) -> bool:
        return self.image is not None

    def begin(self, image, labels, sent: np.ndarray) -> None:
        self.end()
        self.image, self.labels, self.sent = image, labels, sent.copy()
        labels.events.paint.connect(self._painted)
        self._ask()

    def end(self) -> None:
        if self.labels is not None:
            self.labels.events.paint.disconnect(self._painted)
        self.image = self.labels = self.sent = None
        self.pending, self.stroke = None, None

    def tick(self) -> None:
        """Called on the widget's timer: every few seconds, send edits that came without a paint
        event (undo, redo, scripts), then refresh the preview."""
        if self.active and self.pending is None and time.monotonic() - self.asked_at >= REFRESH_S:
            self._resync()
            self._ask()

    def _resync(self) -> None:
        """Send what differs from the strokes the trainer has: the whole plane of a 2D image, the
        slice on screen of a z-stack (where undo and redo act)."""
        data = self.labels.data
        if data.ndim == 3:
            z = current_z(self.ctx.viewer, self.image)
            if z is None:
                return
            inner = changed_region(None, np.asarray(data[z]), self.sent[z])
            region = None if inner is None else (slice(z, z + 1), *inner)
        else:
            region = changed_region(None, np.asarray(data), self.sent)
        if region is not None:
            self._send(region)

    def _painted(self, event) -> None:
        """A stroke ended: send the changed region, then ask for a fresh preview."""
        data = self.labels.data
        region = changed_region(getattr(event, "value", None), data, self.sent)
        if region is None:
            return
        self._send(region)
        request = self._ask()
        if request is not None:
            self.stroke = (time.monotonic(), request)

    def _send(self, region: tuple[slice, ...]) -> None:
        values = np.array(self.labels.data[region])
        self.sent[region] = values
        self.ctx.controller.send_strokes(0, region, values)

    def _ask(self) -> int | None:
        ctx = self.ctx
        box, z = visible_box(ctx.viewer, self.image), current_z(ctx.viewer, self.image)
        if z is None or box[1] <= box[0] or box[3] <= box[2]:
            return None
        request = ctx.controller.request_preview(0, z, box, ctx.predict_config(), self.panel.uncertainty.isChecked())
        if request is not None:
            self.pending, self.asked_at = request, time.monotonic()
        return request

    def show(self, event) -> None:
        """Write a region's prediction into the image's prediction layer."""
        if not self.active:
            return
        viewer = self.ctx.viewer
        new = self.image.name + " prediction" not in viewer.layers
        layer = prediction_layer(viewer, self.image, spatial_shape(self.image), event.labels.dtype)
        if new:
            self.restyle()
        y0, y1, x0, x1 = event.box
        target = layer.data[event.z] if layer.data.ndim == 3 else layer.data
        if not np.array_equal(target[y0:y1, x0:x1], event.labels):  # a redraw costs the viewer time
            target[y0:y1, x0:x1] = event.labels
            layer.refresh()
        if event.uncertainty is not None:
            overlay = uncertainty_layer(viewer, self.image, spatial_shape(self.image))
            plane = overlay.data[event.z] if overlay.data.ndim == 3 else overlay.data
            plane[y0:y1, x0:x1] = event.uncertainty
            overlay.refresh()
        if event.request == self.pending:
            self.pending = None
        if self.stroke is not None and event.request >= self.stroke[1]:
            self.latencies.append(time.monotonic() - self.stroke[0])
            self.stroke = None
