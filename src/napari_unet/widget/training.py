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
    """Train, Live, Pause and Stop of the training panel (``panel``); ``live`` shows the live preview."""

    def __init__(self, ctx, panel, live):
        self.ctx, self.panel, self.live = ctx, panel, live
        self.last_end = None  # the trainer's final event of the last run
        self._last_redraw = 0.0
        self.timer = QTimer(ctx.window)
        self.timer.setInterval(POLL_MS)
        self.timer.timeout.connect(self.poll)

    def start(self, live: bool = False):
        """Start training in a child process on snapshots of the strokes; returns the trainer."""
        from napari_unet.core.config import UserInputError, model_preset

        ctx = self.ctx
        if ctx.busy:
            return None
        image, labels = ctx.image_layer(), ctx.labels_layer()
        if image is None or labels is None:
            return ctx.error("Choose an image and a strokes layer (press 'New annotation layer' and paint).")
        try:
            config, model_config = ctx.train_config(), model_preset(ctx.setting("model_size"))
            pairs = training_pairs(ctx.viewer, image, labels, ctx.setting("all_images") and not live)
            for img_layer, lab_layer in pairs:
                check_strokes(np.asarray(lab_layer.data), spatial_shape(img_layer), lab_layer.name, img_layer.name,
                              config.mode)
            # snapshots on the GUI thread: the child gets copies, never the layers
            images = [np.array(full_resolution(i)) for i, _ in pairs]
            strokes = [np.array(s.data) for _, s in pairs]
        except UserInputError as err:
            return ctx.error(str(err))
        ctx.save_settings()
        self.panel.loss_plot.clear()
        status = ctx.controller.start_training(images, strokes, config, model_config, live=live)
        self.timer.start()  # from here on the trainer's events are collected, whatever happens below
        note = colour_notice(ctx.model, images, config.colour_to_grey)
        ctx.status(status.text + (f" ({len(pairs)} images)" if len(pairs) > 1 else "") + note)
        ctx.progress(0, "live" if live else "training %p%")
        ctx.refresh()
        if live:
            self.live.begin(image, labels, strokes[0])
        return ctx.controller.trainer

    def stop(self) -> None:
        """Stop at the next step (the model keeps what it learned)."""
        status = self.ctx.controller.stop()
        if status is not None:
            self.ctx.status(status.text)

    def pause(self, on: bool = True) -> None:
        """Hold training (or go on): the child keeps the model and, in live mode, the previews."""
        status = self.ctx.controller.pause(on)
        if status is not None:
            self.ctx.status(status.text)
        _check(self.panel.pause_btn, self.ctx.controller.paused)

    def live_toggled(self, on: bool):
        controller = self.ctx.controller
        if on and not controller.live:
            if self.start(live=True) is None:
                self.panel.live_btn.setChecked(False)
        elif not on and controller.live:
            self.stop()

    def poll(self):
        from napari_unet.core.events import TrainEvent
        from napari_unet.trainer.protocol import TERMINAL, Notice, RegionPrediction

        controller = self.ctx.controller
        events = controller.poll()
        progress = [e for e in events if isinstance(e, TrainEvent)]
        for event in progress:
            self.panel.loss_plot.add(event.loss)
        if progress:
            self._show_progress(progress[-1])
        for event in events:
            if isinstance(event, RegionPrediction):
                self.live.show(event)
            elif isinstance(event, Notice):
                self.ctx.error(event.message)
            elif isinstance(event, TERMINAL):
                self.ended(event)
        if controller.live:
            self.live.tick()

    def _show_progress(self, event):
        now = time.monotonic()
        # redraw once a second: every repaint of a napari window also recomposes its canvas
        if now - self._last_redraw < UI_INTERVAL and event.progress < 1.0:
            return
        self._last_redraw = now
        if self.ctx.controller.live:
            self.ctx.status(f"Live: step {event.step}, loss {event.loss:.4f}, {event.steps_per_s:.1f} steps/s. "
                            "Paint; the visible region's prediction follows.")
        else:
            self.ctx.progress(event.progress)
            left = f"{event.eta:.0f} s left" if math.isfinite(event.eta) else ""
            self.ctx.status(f"Training: step {event.step}, loss {event.loss:.4f}, "
                            f"{event.steps_per_s:.1f} steps/s, {left}")
        self.panel.loss_plot.update()

    def ended(self, event):
        self.last_end = event
        self.timer.stop()
        self.live.end()
        for button in (self.panel.live_btn, self.panel.pause_btn):
            _check(button, False)
        status = describe_end(event, self.ctx.model)
        (self.ctx.error if status.error else self.ctx.status)(status.text)
        if not status.error:
            self.ctx.progress(1.0)
        self.panel.loss_plot.update()
        self.ctx.refresh()


def _check(button, on: bool) -> None:
    """Set a checkable button without the signal of a click."""
    if button.isChecked() != on:
        button.blockSignals(True)
        button.setChecked(on)
        button.blockSignals(False)
