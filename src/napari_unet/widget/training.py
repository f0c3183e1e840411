"""The training panel's job: start a child trainer on snapshots of the layers (once, or live
while the user paints), collect its events on a timer, and show them."""

from __future__ import annotations

import math
import time

import numpy as np
from qtpy.QtCore import QTimer

from napari_unet.widget.controller import check_strokes, describe_end
from napari_unet.widget.layers import colour_notice, full_resolution, spatial_shape, training_pairs
from napari_unet.widget.predict import UI_INTERVAL

POLL_MS = 100  # how often the trainer's events are collected


class Training:
    def __init__(self, widget):
        self.widget = widget
        self.last_end = None  # the trainer's final event of the last run
        self._last_redraw = 0.0
        self.timer = QTimer(widget)
        self.timer.setInterval(POLL_MS)
        self.timer.timeout.connect(self.poll)

    def start(self, live: bool = False):
        """Start training in a child process on snapshots of the strokes; returns the trainer."""
        from napari_unet.core.config import UserInputError, model_preset

        w = self.widget
        if w.controller.busy:
            return None
        image, labels = w.image_layer(), w.labels_layer()
        if image is None or labels is None:
            return w._error("Choose an image and a strokes layer (press 'New annotation layer' and paint).")
        try:
            config, model_config = w.train_config(), model_preset(w.model_size.currentText())
            pairs = training_pairs(w.viewer, image, labels, w.all_images.isChecked() and not live)
            for img_layer, lab_layer in pairs:
                check_strokes(np.asarray(lab_layer.data), spatial_shape(img_layer), lab_layer.name, img_layer.name,
                              config.mode)
            # snapshots on the GUI thread: the child gets copies, never the layers
            images = [np.array(full_resolution(i)) for i, _ in pairs]
            strokes = [np.array(s.data) for _, s in pairs]
        except UserInputError as err:
            return w._error(str(err))
        w._save_settings()
        w.loss_plot.clear()
        status = w.controller.start_training(images, strokes, config, model_config, live=live)
        self.timer.start()  # from here on the trainer's events are collected, whatever happens below
        note = colour_notice(w.model, images, config.colour_to_grey)
        w.status.setText(status.text + (f" ({len(pairs)} images)" if len(pairs) > 1 else "") + note)
        w.progress.setFormat("live" if live else "training %p%")
        w.progress.setValue(0)
        w._update_buttons()
        if live:
            w.live.begin(image, labels, strokes[0])
        return w.controller.trainer

    def live_toggled(self, on: bool):
        w = self.widget
        if on and not w.controller.live:
            if self.start(live=True) is None:
                w.live_btn.setChecked(False)
        elif not on and w.controller.live:
            w.stop()

    def poll(self):
        from napari_unet.core.events import TrainEvent
        from napari_unet.trainer.protocol import TERMINAL, Notice, RegionPrediction

        w = self.widget
        events = w.controller.poll()
        progress = [e for e in events if isinstance(e, TrainEvent)]
        for event in progress:
            w.loss_plot.add(event.loss)
        if progress:
            self._show_progress(progress[-1])
        for event in events:
            if isinstance(event, RegionPrediction):
                w.live.show(event)
            elif isinstance(event, Notice):
                w._error(event.message)
            elif isinstance(event, TERMINAL):
                self.ended(event)
        if w.controller.live:
            w.live.tick()

    def _show_progress(self, event):
        w = self.widget
        now = time.monotonic()
        # redraw once a second: every repaint of a napari window also recomposes its canvas
        if now - self._last_redraw < UI_INTERVAL and event.progress < 1.0:
            return
        self._last_redraw = now
        if w.controller.live:
            w.status.setText(f"Live: step {event.step}, loss {event.loss:.4f}, {event.steps_per_s:.1f} steps/s. "
                             "Paint; the visible region's prediction follows.")
        else:
            w.progress.setValue(int(1000 * event.progress))
            left = f"{event.eta:.0f} s left" if math.isfinite(event.eta) else ""
            w.status.setText(f"Training: step {event.step}, loss {event.loss:.4f}, "
                             f"{event.steps_per_s:.1f} steps/s, {left}")
        w.loss_plot.update()

    def ended(self, event):
        w = self.widget
        self.last_end = event
        self.timer.stop()
        w.live.end()
        for button in (w.live_btn, w.pause_btn):
            button.blockSignals(True)
            button.setChecked(False)
            button.blockSignals(False)
        status = describe_end(event, w.model)
        (w._error if status.error else w.status.setText)(status.text)
        if not status.error:
            w.progress.setValue(1000)
        w.loss_plot.update()
        w._show_model_info()
        w._update_buttons()
