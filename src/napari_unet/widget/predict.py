"""The Predict button's job: a napari worker thread predicts a snapshot of the image; the
result is written to layers on the GUI thread, with a bar in napari's activity dock."""

from __future__ import annotations

import time

from napari_unet.widget.layers import colour_notice, current_z, prediction_input, show_prediction

UI_INTERVAL = 1.0  # seconds between progress redraws (each recomposes the window: docs/benchmarks.md)


class Prediction:
    def __init__(self, widget):
        self.widget = widget
        self.worker = None
        self._activity = None
        self._last_redraw = 0.0

    def start(self):
        from napari.qt.threading import create_worker

        w = self.widget
        image = w.image_layer()
        if image is None:
            return w._error("Choose an image to predict.")
        refused = w.controller.begin_prediction()
        if refused is not None:
            return w._error(refused.text) if w.model is None else None
        img = prediction_input(image)
        z_slices = None
        if w.current_slice.isChecked() and img.ndim - int(image.rgb) == 3:
            z = current_z(w.viewer, image)
            if z is None:
                w.controller.end_prediction()
                return w._error(f"the slice on screen is outside '{image.name}'; move the slider onto it.")
            z_slices = [z]
        wants = w.probabilities.isChecked() or w.uncertainty.isChecked()
        worker = create_worker(_predict_job, w.model, img, w.predict_config(), wants, z_slices,
                               _start_thread=False, _ignore_errors=True)
        worker.yielded.connect(self._progress)
        note = colour_notice(w.model, [img], w.predict_config().colour_to_grey)
        worker.returned.connect(lambda result: self._show(image, result, z_slices, note))
        worker.errored.connect(w._on_error)
        worker.finished.connect(self._finished)
        self.worker = worker
        self._start_activity()
        w.status.setText("Predicting…")
        w.progress.setFormat("predicting %p%")
        w.progress.setValue(0)
        w._update_buttons()
        worker.start()
        return worker

    def stop(self) -> None:
        if self.worker is not None:
            self.worker.quit()

    def _progress(self, progress):
        now = time.monotonic()
        if now - self._last_redraw > UI_INTERVAL or progress.done == progress.total:
            self._last_redraw = now
            self.widget.progress.setValue(int(1000 * progress.fraction))
            if self._activity is not None:
                self._activity.n = int(1000 * progress.fraction)
                self._activity.refresh()

    def _show(self, image, result, z_slices, note: str = ""):
        w = self.widget
        text = show_prediction(w.viewer, image, result, w.model, z_slices, w.predict_config().min_confidence,
                               w.probabilities.isChecked(), w.uncertainty.isChecked())
        w.inspect.restyle()
        w.status.setText(text + note)
        w.progress.setValue(1000)

    def _finished(self):
        self.worker = None
        self.widget.controller.end_prediction()
        self._close_activity()
        self.widget._update_buttons()

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
