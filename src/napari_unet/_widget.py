"""The napari dock widget: paint, train (or train live while painting), predict, inspect.

Qt lives here and in the ``_widget_*`` modules. Layer data is copied on the GUI thread.
Training runs in a child process (:mod:`napari_unet.trainer`) whose events a timer collects;
prediction runs in a napari worker thread that never touches layers. What is possible when is
decided by the Qt-free :class:`~napari_unet._controller.Controller`.
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING

import numpy as np
from qtpy.QtCore import QSettings, QTimer
from qtpy.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QFileDialog, QVBoxLayout, QWidget

from ._controller import Controller, check_strokes, describe_end, describe_model
from ._widget_layers import (
    full_resolution,
    layers_of,
    prediction_input,
    show_prediction,
    spatial_shape,
    training_pairs,
)
from ._widget_live import LivePreview
from ._widget_panels import DataPanel, ModelPanel, PredictPanel, Scroll, TrainPanel, wrapped_label

if TYPE_CHECKING:
    import napari

UI_INTERVAL = 1.0  # seconds between progress redraws (each recomposes the window: docs/benchmarks.md)
POLL_MS = 100  # how often the trainer's events are collected
SETTINGS_KEYS = ("mode", "time_budget", "device", "model_size", "tile_size", "steps", "batch_size", "patch_size",
                 "learning_rate", "edge_weight", "seed", "tta", "probabilities", "current_slice", "all_images",
                 "uncertainty")


class UNetWidget(QWidget):
    """Train a U-Net from strokes in a Labels layer and predict, without blocking napari."""

    def __init__(self, viewer: napari.viewer.Viewer):
        super().__init__()
        from .recovery import recovery_file

        self.viewer = viewer
        self.controller = Controller(recovery=recovery_file())
        self._predict_worker = None
        self._last_ui_update = 0.0
        self._activity = None
        self.live = LivePreview(self)
        self._build()
        self._load_settings()
        self._refresh_layers()
        for event in (viewer.layers.events.inserted, viewer.layers.events.removed, viewer.layers.events.reordered):
            event.connect(self._refresh_layers)
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self._poll)
        self.destroyed.connect(_stopper(self.controller))
        self._offer_restore()
        self._update_buttons()

    @property
    def model(self):
        return self.controller.model

    @model.setter
    def model(self, model):
        self.controller.model = model

    # ----------------------------------------------------------------- layout
    def _build(self):
        self.data_panel, self.train_panel = DataPanel(), TrainPanel()
        self.predict_panel, self.model_panel = PredictPanel(), ModelPanel()
        # the controls are reached as attributes of the widget (settings, tests, scripts)
        for panel in (self.data_panel, self.train_panel, self.predict_panel, self.model_panel):
            for name, value in vars(panel).items():
                if isinstance(value, QWidget):
                    setattr(self, name, value)
        self.status = wrapped_label("Paint strokes of at least two classes, then press Train.", 3)
        content = QWidget()
        layout = QVBoxLayout(content)
        for w in (self.data_panel, self.train_panel, self.status, self.predict_panel, self.model_panel):
            layout.addWidget(w)
        layout.addStretch(1)
        scroll = Scroll(content)  # a short dock scrolls instead of squeezing the panels together
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)

        self.new_labels_btn.clicked.connect(self.new_annotation_layer)
        self.train_btn.clicked.connect(self.start_training)
        self.live_btn.toggled.connect(self._live_toggled)
        self.stop_btn.clicked.connect(self.stop)
        self.predict_btn.clicked.connect(self.start_prediction)
        self.new_model_btn.clicked.connect(self.forget_model)
        self.save_btn.clicked.connect(lambda: self.save_model())
        self.load_btn.clicked.connect(lambda: self.load_model())
        self.restore_btn.clicked.connect(self.restore_model)
        self.image_combo.currentIndexChanged.connect(self._image_changed)
        self.labels_combo.currentIndexChanged.connect(self._update_buttons)

    # ----------------------------------------------------------------- layers
    def _refresh_layers(self, event=None):
        for combo, kind in ((self.image_combo, "image"), (self.labels_combo, "labels")):
            current = combo.currentText()
            names = [layer.name for layer in layers_of(self.viewer, kind)]
            combo.blockSignals(True)
            combo.clear()
            combo.addItems(names)
            if current in names:
                combo.setCurrentText(current)
            elif kind == "labels":
                image = self.image_combo.currentText()
                matching = [n for n in names if image and n.startswith(image)]
                if matching:
                    combo.setCurrentText(matching[0])
            combo.blockSignals(False)
        if self.controller.live and (self.image_layer() is None or self.labels_layer() is None):
            self.stop()  # the live image or strokes were closed
        self._update_buttons()

    def _layer(self, name: str):
        return self.viewer.layers[name] if name and name in self.viewer.layers else None

    def image_layer(self):
        return self._layer(self.image_combo.currentText())

    def labels_layer(self):
        return self._layer(self.labels_combo.currentText())

    def _image_changed(self, *_):
        if self.controller.live:
            self.stop()  # live training belongs to the image it started on
        self._update_buttons()

    def new_annotation_layer(self):
        image = self.image_layer()
        if image is None:
            return self._error("Open an image first (File ▸ Open, or File ▸ Open Sample ▸ napari-unet).")
        shape = spatial_shape(image)
        layer = self.viewer.add_labels(
            np.zeros(shape, dtype=np.uint8 if self.mode.currentText() == "semantic" else np.uint16),
            name=f"{image.name} strokes", scale=image.scale[-len(shape):], translate=image.translate[-len(shape):],
        )
        layer.brush_size = max(3, min(shape[-2:]) // 100)
        layer.selected_label = 1
        layer.mode = "paint"
        self.viewer.layers.selection.active = layer
        self.labels_combo.setCurrentText(layer.name)
        return layer

    # ----------------------------------------------------------------- configs
    def train_config(self):
        from .config import TrainConfig

        steps = self.steps.value() or None
        return TrainConfig(
            steps=steps, time_budget=None if steps else float(self.time_budget.value()),
            batch_size=self.batch_size.value(), patch_size=self.patch_size.value(),
            learning_rate=self.learning_rate.value(), edge_weight=self.edge_weight.value(), seed=self.seed.value(),
            device=self.device.currentText(), mode=self.mode.currentText(),
        )

    def predict_config(self):
        from .config import PredictConfig

        return PredictConfig(tile_size=self.tile_size.value(), tta=self.tta.isChecked(), device=self.device.currentText())

    # ----------------------------------------------------------------- training
    def start_training(self, live: bool = False):
        """Start training in a child process on snapshots of the strokes; returns the trainer."""
        from .config import UserInputError, model_preset

        if self.controller.busy:
            return None
        image, labels = self.image_layer(), self.labels_layer()
        if image is None or labels is None:
            return self._error("Choose an image and a strokes layer (press 'New annotation layer' and paint).")
        try:
            config, model_config = self.train_config(), model_preset(self.model_size.currentText())
            pairs = training_pairs(self.viewer, image, labels, self.all_images.isChecked() and not live)
            for img_layer, lab_layer in pairs:
                check_strokes(np.asarray(lab_layer.data), spatial_shape(img_layer), lab_layer.name, img_layer.name,
                              config.mode)
            # snapshots on the GUI thread: the child gets copies, never the layers
            images = [np.array(full_resolution(i)) for i, _ in pairs]
            strokes = [np.array(s.data) for _, s in pairs]
        except UserInputError as err:
            return self._error(str(err))
        self._save_settings()
        self.loss_plot.clear()
        status = self.controller.start_training(images, strokes, config, model_config, live=live)
        if live:
            self.live.begin(image, labels, strokes[0])
        self._start_activity(config.steps or 1000, "Training U-Net (live)" if live else "Training U-Net")
        self.status.setText(status.text + (f" ({len(pairs)} images)" if len(pairs) > 1 else ""))
        self.progress.setFormat("live" if live else "training %p%")
        self.progress.setValue(0)
        self._timer.start()
        self._update_buttons()
        return self.controller.trainer

    def _live_toggled(self, on: bool):
        if on and not self.controller.live:
            if self.start_training(live=True) is None:
                self.live_btn.setChecked(False)
        elif not on and self.controller.live:
            self.stop()

    def _poll(self):
        from .trainer import TERMINAL, Notice, Progress, RegionPrediction

        events = self.controller.poll()
        progress = [e for e in events if isinstance(e, Progress)]
        for event in progress:
            self.loss_plot.add(event.loss)
        if progress:
            self._show_progress(progress[-1])
        for event in events:
            if isinstance(event, RegionPrediction):
                self.live.show(event)
            elif isinstance(event, Notice):
                self._error(event.message)
            elif isinstance(event, TERMINAL):
                self._training_ended(event)
        if self.controller.live:
            self.live.tick()

    def _show_progress(self, event):
        now = time.monotonic()
        # redraw a few times a second: every repaint of a napari window also recomposes its canvas
        if now - self._last_ui_update < UI_INTERVAL and event.progress < 1.0:
            return
        self._last_ui_update = now
        if self.controller.live:
            self.status.setText(f"Live: step {event.step}, loss {event.loss:.4f}, {event.steps_per_s:.1f} steps/s. "
                                "Paint; the visible region's prediction follows.")
        else:
            self.progress.setValue(int(1000 * event.progress))
            self._update_activity(event.step if event.total_steps else int(1000 * event.progress))
            left = f"{event.eta:.0f} s left" if math.isfinite(event.eta) else ""
            self.status.setText(f"Training: step {event.step}, loss {event.loss:.4f}, "
                                f"{event.steps_per_s:.1f} steps/s, {left}")
        self.loss_plot.update()

    def _training_ended(self, event):
        self._timer.stop()
        self.live.end()
        self.live_btn.blockSignals(True)
        self.live_btn.setChecked(False)
        self.live_btn.blockSignals(False)
        status = describe_end(event, self.model)
        (self._error if status.error else self.status.setText)(status.text)
        if not status.error:
            self.progress.setValue(1000)
        self._close_activity()
        self.loss_plot.update()
        self._show_model_info()
        self._update_buttons()

    # ----------------------------------------------------------------- prediction
    def start_prediction(self):
        from napari.qt.threading import create_worker

        image = self.image_layer()
        if image is None:
            return self._error("Choose an image to predict.")
        refused = self.controller.begin_prediction()
        if refused is not None:
            return self._error(refused.text) if self.model is None else None
        img = prediction_input(image)
        z_slices = None
        if self.current_slice.isChecked() and img.ndim - int(image.rgb) == 3:
            z_slices = [int(self.viewer.dims.current_step[-3])]
        wants = self.probabilities.isChecked() or self.uncertainty.isChecked()
        worker = create_worker(_predict_job, self.model, img, self.predict_config(), wants, z_slices,
                               _start_thread=False, _ignore_errors=True)
        worker.yielded.connect(self._on_predict_progress)
        worker.returned.connect(lambda result: self._show_prediction(image, result, z_slices))
        worker.errored.connect(self._on_error)
        worker.finished.connect(self._on_predict_finished)
        self._predict_worker = worker
        self._start_activity(1000, "Predicting")
        self.status.setText("Predicting…")
        self.progress.setFormat("predicting %p%")
        self.progress.setValue(0)
        self._update_buttons()
        worker.start()
        return worker

    def _on_predict_progress(self, progress):
        now = time.monotonic()
        if now - self._last_ui_update > UI_INTERVAL or progress.done == progress.total:
            self._last_ui_update = now
            self.progress.setValue(int(1000 * progress.fraction))
            self._update_activity(int(1000 * progress.fraction))

    def _show_prediction(self, image, result, z_slices):
        text = show_prediction(self.viewer, image, result, self.model, z_slices, self.predict_config().min_confidence,
                               self.probabilities.isChecked(), self.uncertainty.isChecked())
        self.status.setText(text)
        self.progress.setValue(1000)

    def _on_predict_finished(self):
        self._predict_worker = None
        self.controller.end_prediction()
        self._close_activity()
        self._update_buttons()

    # ----------------------------------------------------------------- activity dock
    def _start_activity(self, total: int, desc: str):
        """A determinate progress bar in napari's activity dock."""
        from napari.utils import progress

        self._close_activity()
        self._activity = progress(total=total, desc=desc)

    def _update_activity(self, n: int):
        if self._activity is not None:
            self._activity.n = n
            self._activity.refresh()

    def _close_activity(self):
        if self._activity is not None:
            self._activity.close()
            self._activity = None

    # ----------------------------------------------------------------- model files
    def forget_model(self):
        if self.controller.forget_model():
            self.loss_plot.clear()
            self._show_model_info()
            self._update_buttons()

    def save_model(self, path: str | None = None):
        from .config import UserInputError
        from .io import save_model
        from .recovery import discard

        if self.model is None:
            return self._error("No model to save yet: train one first.")
        if path is None:
            path, _ = QFileDialog.getSaveFileName(self, "Save model", "unet-model.pt", "napari-unet model (*.pt)")
            if not path:
                return None
        try:
            saved = save_model(self.model, path)
        except (OSError, UserInputError) as err:
            return self._error(f"Could not save the model to {path}: {err}. It is still here; choose another place.")
        discard(self.controller.recovery)  # the user's own copy replaces the autosaved one
        self.restore_btn.setVisible(False)
        self.status.setText(f"Model saved to {saved}")
        return saved

    def load_model(self, path: str | None = None, what: str = "Loaded"):
        from .config import UserInputError
        from .io import load_model

        if self.controller.busy:
            return None
        if path is None:
            path, _ = QFileDialog.getOpenFileName(self, "Load model", "", "napari-unet model (*.pt);;All files (*)")
            if not path:
                return None
        try:
            self.controller.set_model(load_model(path))
        except UserInputError as err:
            return self._error(str(err))
        self.loss_plot.clear()
        self.status.setText(f"{what} {path}. Predict, or paint strokes and Train to fine-tune it.")
        self._show_model_info()
        self._update_buttons()
        return self.model

    def _offer_restore(self):
        from .recovery import describe

        text = describe(self.controller.recovery)
        self.restore_btn.setVisible(text is not None)
        if text is not None:
            self.restore_btn.setToolTip(f"Load {text}; saving a model yourself removes the autosaved copy")

    def restore_model(self):
        if self.load_model(str(self.controller.recovery), what="Restored the model autosaved at") is not None:
            self.restore_btn.setVisible(False)
        return self.model

    # ----------------------------------------------------------------- state
    def stop(self):
        status = self.controller.stop()
        if status is not None:
            self.status.setText(status.text)
        if self._predict_worker is not None:
            self._predict_worker.quit()
        self.stop_btn.setEnabled(False)

    def _update_buttons(self, *_):
        on = self.controller.enabled(self.image_layer() is not None, self.labels_layer() is not None)
        for name, button in (("train", self.train_btn), ("live", self.live_btn), ("stop", self.stop_btn),
                             ("predict", self.predict_btn), ("save", self.save_btn), ("load", self.load_btn),
                             ("new_model", self.new_model_btn), ("new_layer", self.new_labels_btn),
                             ("architecture", self.model_size), ("architecture", self.mode),
                             ("load", self.restore_btn)):
            button.setEnabled(on[name])
        self.train_btn.setText("Train more" if self.model is not None else "Train")
        if self.model is not None and self.mode.currentText() != self.model.mode:
            self.mode.setCurrentText(self.model.mode)

    def _show_model_info(self):
        self.model_info.setText(describe_model(self.model))

    def _on_error(self, err: Exception):
        from .config import UserInputError

        if isinstance(err, UserInputError):
            msg = str(err)
        elif "out of memory" in str(err).lower():
            msg = ("The device ran out of memory. Lower the batch size, patch size or tile size, "
                   "or choose the CPU as device.")
        else:
            msg = f"{type(err).__name__}: {err}"
        self._error(msg)

    def _error(self, message: str):
        from napari.utils.notifications import show_error

        self.status.setText(message)
        show_error(message)

    # ----------------------------------------------------------------- settings
    def _widgets(self) -> dict[str, QWidget]:
        return {k: getattr(self, k) for k in SETTINGS_KEYS}

    def _save_settings(self):
        s = QSettings("napari-unet", "widget")
        for key, w in self._widgets().items():
            if isinstance(w, QComboBox):
                s.setValue(key, w.currentText())
            elif isinstance(w, QCheckBox):
                s.setValue(key, int(w.isChecked()))
            else:
                s.setValue(key, w.value())

    def _load_settings(self):
        s = QSettings("napari-unet", "widget")
        for key, w in self._widgets().items():
            value = s.value(key)
            if value is None:
                continue
            try:
                if isinstance(w, QComboBox):
                    if w.findText(str(value)) >= 0:
                        w.setCurrentText(str(value))
                elif isinstance(w, QCheckBox):
                    w.setChecked(bool(int(value)))
                elif isinstance(w, QDoubleSpinBox):
                    w.setValue(float(value))
                else:
                    w.setValue(int(value))
            except (TypeError, ValueError):
                continue

    def closeEvent(self, event):  # noqa: N802 (Qt API)
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self, timeout_ms: int = 10_000):
        """Stop running work and wait for it (used when the widget or viewer closes)."""
        self._timer.stop()
        self.live.end()
        self.controller.shutdown(timeout=timeout_ms / 1000)
        _stop_and_wait([self._predict_worker], timeout_ms)


def show_demo(image, strokes, labels, model) -> None:
    """Open the demo's result in napari, with the widget holding the trained model."""
    import napari

    viewer = napari.Viewer(title="napari-unet demo")
    viewer.add_image(image, name="cells")
    viewer.add_labels(strokes, name="cells strokes")
    viewer.add_labels(labels, name="cells prediction", opacity=0.5)
    _, widget = viewer.window.add_plugin_dock_widget("napari-unet", "U-Net from strokes")
    widget.model = model
    widget._show_model_info()
    widget._update_buttons()
    widget.status.setText("Model trained by the demo: press Predict, or paint more strokes and Train more.")
    napari.run()


def _stop_and_wait(workers, timeout_ms: int = 10_000):
    for worker in workers:
        if worker is not None:
            worker.quit()
    from qtpy.QtCore import QThreadPool

    QThreadPool.globalInstance().waitForDone(timeout_ms)


def _stopper(controller: Controller):
    """A callback for ``destroyed`` that holds no reference to the (deleted) widget itself."""

    def stop(*_):
        controller.shutdown(timeout=2.0)

    return stop


def _predict_job(model, image, config, probabilities: bool, z_slices):
    """Worker: predict a snapshot, yielding progress."""
    from .predict import predict

    return (yield from predict(model, image, config, probabilities=probabilities, z_slices=z_slices))
