"""The napari dock widget: paint, train (or train live while painting), predict, inspect.

Qt lives here and in the ``_widget_*`` modules. Layer data is copied on the GUI thread.
Training runs in a child process (:mod:`napari_unet.trainer.client`) whose events a timer collects;
prediction runs in a napari worker thread that never touches layers. What is possible when is
decided by the Qt-free :class:`~napari_unet.widget.controller.Controller`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from qtpy.QtWidgets import QVBoxLayout, QWidget

from napari_unet.widget.controller import Controller, describe_model
from napari_unet.widget.layers import layers_of, spatial_shape
from napari_unet.widget.live import LivePreview
from napari_unet.widget.export import Export
from napari_unet.widget.model_hint import ModelHint
from napari_unet.widget.models import ModelFiles
from napari_unet.widget.inspect import Inspect
from napari_unet.widget.panels import DataPanel, InspectPanel, ModelPanel, PredictPanel, Scroll, TrainPanel, legend, wrapped_label
from napari_unet.widget.predict import Prediction
from napari_unet.widget.settings import load_settings, save_settings
from napari_unet.widget.suggest import Suggestions
from napari_unet.widget.training import Training

if TYPE_CHECKING:
    import napari


class UNetWidget(QWidget):
    """Train a U-Net from strokes in a Labels layer and predict, without blocking napari."""

    def __init__(self, viewer: napari.viewer.Viewer):
        super().__init__()
        from napari_unet.trainer.recovery import recovery_file

        self.viewer = viewer
        self.controller = Controller(recovery=recovery_file())
        self.live, self.training = LivePreview(self), Training(self)
        self.prediction, self.models, self.inspect = Prediction(self), ModelFiles(self), Inspect(self)
        self.export, self.suggestions, self.model_hint = Export(self), Suggestions(self), ModelHint(self)
        self._build()
        load_settings(self)
        self._refresh_layers()
        for event in (viewer.layers.events.inserted, viewer.layers.events.removed, viewer.layers.events.reordered):
            event.connect(self._refresh_layers)
        self.destroyed.connect(_stopper(self.controller))
        self.models.offer_restore()
        self.models.fill_start_from()
        self._bind_keys()
        self._update_buttons()
        self.model_hint.check()

    @property
    def model(self):
        return self.controller.model

    @model.setter
    def model(self, model):
        self.controller.model = model

    # ----------------------------------------------------------------- layout
    def _build(self):
        self.data_panel, self.train_panel = DataPanel(), TrainPanel()
        self.predict_panel, self.inspect_panel, self.model_panel = PredictPanel(), InspectPanel(), ModelPanel()
        panels = (self.data_panel, self.train_panel, self.predict_panel, self.inspect_panel, self.model_panel)
        # the controls are reached as attributes of the widget (settings, tests, scripts)
        for panel in panels:
            for name, value in vars(panel).items():
                if isinstance(value, QWidget):
                    setattr(self, name, value)
        self.status = wrapped_label("Paint strokes of at least two classes, then press Train.", 3)
        content = QWidget()
        layout = QVBoxLayout(content)
        for w in (*panels[:2], self.status, *panels[2:]):
            layout.addWidget(w)
        layout.addStretch(1)
        scroll = Scroll(content)  # a short dock scrolls instead of squeezing the panels together
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)

        self.new_labels_btn.clicked.connect(self.new_annotation_layer)
        self.train_btn.clicked.connect(self.start_training)
        self.live_btn.toggled.connect(lambda on: self.training.live_toggled(on))
        self.pause_btn.toggled.connect(self.pause)
        self.stop_btn.clicked.connect(self.stop)
        self.predict_btn.clicked.connect(self.start_prediction)
        self.suggest_btn.clicked.connect(lambda: self.suggestions.next())
        self.new_model_btn.clicked.connect(self.forget_model)
        self.save_btn.clicked.connect(lambda: self.save_model())
        self.load_btn.clicked.connect(lambda: self.load_model())
        self.restore_btn.clicked.connect(self.restore_model)
        self.start_from.activated.connect(self.models.start_from)
        self.suggest_model_btn.clicked.connect(lambda: self.model_hint.use())
        self.save_named_btn.clicked.connect(lambda: self.models.save_named())
        self.export_btn.clicked.connect(lambda: self.export.start())
        self.to_strokes_btn.clicked.connect(lambda: self.inspect.use_as_strokes())
        self.measure_btn.clicked.connect(lambda: self.inspect.measure())
        self.transparent.valueChanged.connect(self.inspect.restyle)
        self.outlines.toggled.connect(self.inspect.restyle)
        self.opacity.valueChanged.connect(self.inspect.restyle)
        self.image_combo.currentIndexChanged.connect(self._image_changed)
        self.labels_combo.currentIndexChanged.connect(self._update_buttons)
        self.labels_combo.currentIndexChanged.connect(self._show_model_info)
        self.mode.currentTextChanged.connect(self._show_model_info)
        self.mode.currentTextChanged.connect(self._update_buttons)

    def _bind_keys(self):
        """Key bindings on the viewer (napari's keymap), shown in the buttons' tooltips."""
        self._keys = {"Alt-T": self.train_btn.click, "Alt-G": self.live_btn.click, "Alt-S": self.stop_btn.click,
                      "Alt-R": self.predict_btn.click, "Alt-O": self.inspect.toggle, "Alt-N": self.suggest_btn.click}
        for key, action in self._keys.items():
            self.viewer.bind_key(key, lambda viewer, action=action: action(), overwrite=True)
        for button, key in ((self.train_btn, "Alt-T"), (self.live_btn, "Alt-G"), (self.stop_btn, "Alt-S"),
                            (self.predict_btn, "Alt-R"), (self.suggest_btn, "Alt-N")):
            button.setToolTip(f"{button.toolTip()} ({key})")
        self.opacity.setToolTip(f"{self.opacity.toolTip()}; Alt-O shows or hides the prediction")

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
        live = self.live
        if self.controller.live and live.active and not {live.image.name, live.labels.name} <= {
                layer.name for layer in self.viewer.layers}:
            self.stop()  # the live image or strokes were closed
        self._update_buttons()
        self._show_model_info()  # the legend takes the colours of the strokes layer now chosen

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
        self.model_hint.check()

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
        from napari_unet.core.config import TrainConfig

        steps = self.steps.value() or None
        return TrainConfig(
            steps=steps, time_budget=None if steps else float(self.time_budget.value()),
            batch_size=self.batch_size.value(), patch_size=self.patch_size.value(),
            learning_rate=self.learning_rate.value(), edge_weight=self.edge_weight.value(), seed=self.seed.value(),
            device=self.device.currentText(), mode=self.mode.currentText(),
        )

    def predict_config(self):
        from napari_unet.core.config import PredictConfig

        return PredictConfig(tile_size=self.tile_size.value(), tta=self.tta.isChecked(), device=self.device.currentText(),
                             diameter=float(self.object_size.value()))

    # ----------------------------------------------------------------- jobs and model files
    def start_training(self, live: bool = False):
        """Start training in a child process on snapshots of the strokes; returns the trainer."""
        return self.training.start(live)

    def start_prediction(self):
        """Predict the chosen image in a worker thread; returns the worker."""
        return self.prediction.start()

    @property
    def _predict_worker(self):
        return self.prediction.worker

    def forget_model(self):
        self.models.forget()

    def save_model(self, path: str | None = None):
        return self.models.save(path)

    def load_model(self, path: str | None = None):
        return self.models.load(path)

    def restore_model(self):
        return self.models.restore()

    # ----------------------------------------------------------------- state
    def pause(self, on: bool = True):
        """Hold training (or go on): the child keeps the model and, in live mode, the previews."""
        status = self.controller.pause(on)
        if status is not None:
            self.status.setText(status.text)
        if self.pause_btn.isChecked() != self.controller.paused:
            self.pause_btn.blockSignals(True)
            self.pause_btn.setChecked(self.controller.paused)
            self.pause_btn.blockSignals(False)

    def stop(self):
        status = self.controller.stop()
        if status is not None:
            self.status.setText(status.text)
        self.prediction.stop()
        self.stop_btn.setEnabled(False)

    def _update_buttons(self, *_):
        on = self.controller.enabled(self.image_layer() is not None, self.labels_layer() is not None)
        for name, button in (("train", self.train_btn), ("live", self.live_btn), ("stop", self.stop_btn),
                             ("pause", self.pause_btn), ("correct", self.to_strokes_btn),
                             ("correct", self.measure_btn),
                             ("predict", self.predict_btn), ("save", self.save_btn), ("load", self.load_btn),
                             ("new_model", self.new_model_btn), ("new_layer", self.new_labels_btn),
                             ("architecture", self.model_size), ("architecture", self.mode),
                             ("load", self.restore_btn), ("load", self.start_from),
                             ("save", self.save_named_btn)):
            button.setEnabled(on[name])
        self.export_btn.setEnabled(on["save"] and self.export.worker is None)
        self.suggest_btn.setEnabled(on["new_layer"])  # any image: without an overlay yet it predicts one
        # offered only while nothing is loaded or being trained
        self.suggest_model_btn.setVisible(self.model_hint.fit is not None and self.model is None and on["load"])
        self.train_btn.setText("Train more" if self.model is not None else "Train")
        if self.model is not None and self.mode.currentText() != self.model.mode:
            self.mode.setCurrentText(self.model.mode)
        self.object_size.setEnabled(self.mode.currentText() == "instance")  # semantic models are not resized

    def _show_model_info(self, *_):
        self.model_info.setText(describe_model(self.model))
        self.hint.setText(legend(self.model, self.mode.currentText(), self.labels_layer()))

    def _on_error(self, err: Exception):
        from napari_unet.core.config import UserInputError

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

    def _save_settings(self):
        save_settings(self)

    def closeEvent(self, event):  # noqa: N802 (Qt API)
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self, timeout_ms: int = 10_000):
        """Stop running work and wait for it (used when the widget or viewer closes)."""
        for key in getattr(self, "_keys", {}):
            self.viewer.bind_key(key, None)
        self._keys = {}
        self.training.timer.stop()
        self.live.end()
        self.controller.shutdown(timeout=timeout_ms / 1000)
        _stop_and_wait([self.prediction.worker, self.export.worker], timeout_ms)


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

