"""The Predict button's job: a napari worker thread predicts a snapshot of the image; the
result is written to layers on the GUI thread, with a bar in napari's activity dock."""

from __future__ import annotations

import time

from napari_unet.widget.layers import colour_notice, current_z, prediction_input, show_prediction

UI_INTERVAL = 1.0  # seconds between progress redraws (each recomposes the window: docs/benchmarks.md)


class Prediction:
    """The Predict button of the prediction panel (``panel``); ``restyle`` draws a new prediction layer."""

    def __init__(self, ctx, panel, restyle):
        self.ctx, self.panel, self.restyle = ctx, panel, restyle
        self.worker = None
        self._activity = None
        self._last_redraw = 0.0

    def start(self):
        from napari.qt.threading import create_worker

        ctx = self.ctx
        image = ctx.image_layer()
        if image is None:
            return ctx.error("Choose an image to predict.")
        refused = ctx.controller.begin_prediction()
        if refused is not None:
            return ctx.error(refused.text) if ctx.model is None else None
        img = prediction_input(image)
        z_slices = None
        if self.panel.current_slice.isChecked() and img.ndim - int(image.rgb) == 3:
            z = current_z(ctx.viewer, image)
            if z is None:
                ctx.controller.end_prediction()
                return ctx.error(f"the slice on screen is outside '{image.name}'; move the slider onto it.")
            z_slices = [z]
        config = ctx.predict_config()
        wants = self.panel.probabilities.isChecked() or self.panel.uncertainty.isChecked()
        worker = create_worker(_predict_job, ctx.model, img, config, wants, z_slices,
                               _start_thread=False, _ignore_errors=True)
        worker.yielded.connect(self._progress)
        note = colour_notice(ctx.model, [img], config.colour_to_grey)
        worker.returned.connect(lambda result: self._show(image, result, z_slices, config, note))
        worker.errored.connect(ctx.failed)
        worker.finished.connect(self._finished)
        self.worker = worker
        self._start_activity()
        ctx.status("Predicting…")
        ctx.progress(0, "predicting %p%")
        ctx.refresh()
        worker.start()
        return worker

    def stop(self) -> None:
        if self.worker is not None:
            self.worker.quit()

    def _progress(self, progress):
        now = time.monotonic()
        if now - self._last_redraw > UI_INTERVAL or progress.done == progress.total:
            self._last_redraw = now
            self.ctx.progress(progress.fraction)
            if self._activity is not None:
                self._activity.n = int(1000 * progress.fraction)
                self._activity.refresh()

    def _show(self, image, result, z_slices, config, note: str = ""):
        ctx = self.ctx
        text = show_prediction(ctx.viewer, image, result, ctx.model, z_slices, config.min_confidence,
                               self.panel.probabilities.isChecked(), self.panel.uncertainty.isChecked())
        self.restyle()
        ctx.status(text + note)
        ctx.progress(1.0)

    def _finished(self):
        self.worker = None
        self.ctx.controller.end_prediction()
        self._close_activity()
        self.ctx.refresh()

    def _start_activity(self):
        """A determinate progress bar in napari's activity dock."""
        from napari.utils import progress

        self._close_activity()
        self._activity = progress(total=1000, desc="Predicting")

    def _close_activity(self):
        if self._activity is not None:
            self._activity.close()
            self._activity = None


def _predict_job(model, image, config, probabilities: bool, z_slices):
    """Worker: predict a snapshot, yielding progress."""
    from napari_unet.predict.pipeline import predict

    return (yield from predict(model, image, config, probabilities=probabilities, z_slices=z_slices))
