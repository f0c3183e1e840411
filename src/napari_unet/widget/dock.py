"""The napari dock widget: paint, train (or train live while painting), predict, inspect.

Qt lives here and in the other modules of :mod:`napari_unet.widget`. Layer data is copied on the GUI thread.
Training runs in a child process (:mod:`napari_unet.trainer.client`) whose events a timer collects;
prediction runs in a napari worker thread that never touches layers. What is possible when is
decided by the Qt-free :class:`~napari_unet.widget.controller.Controller`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from qtpy.QtWidgets import QVBoxLayout, QWidget

from napari_unet.widget.context import JobContext
from napari_unet.widget.controller import Controller, describe_model
from napari_unet.widget.controls import Controls
from napari_unet.widget.export import Export
from napari_unet.widget.inspect import Inspect
from napari_unet.widget.layers import layers_of, spatial_shape
from napari_unet.widget.live import LivePreview
from napari_unet.widget.model_hint import ModelHint
from napari_unet.widget.models import ModelFiles
from napari_unet.widget.panels import DataPanel, InspectPanel, ModelPanel, PredictPanel, Scroll, TrainPanel, legend, wrapped_label
from napari_unet.widget.predict import Prediction
from napari_unet.widget.settings import load_settings
from napari_unet.widget.suggest import Suggestions
from napari_unet.widget.training import Training

if TYPE_CHECKING:
    import napari


class UNetWidget(QWidget):
    """Train a U-Net from strokes in a Labels layer and predict, without blocking napari.

    The settings' controls are in ``controls`` (by option name), the buttons in the panels
    (``data_panel``, ``train_panel``, ``predict_panel``, ``inspect_panel``, ``model_panel``); each
    job gets a :class:`~napari_unet.widget.context.JobContext` and its panel."""

    def __init__(self, viewer: napari.viewer.Viewer):
        super().__init__()
        from napari_unet.trainer.recovery import recovery_file

        self.viewer = viewer
        self.controller = Controller(recovery=recovery_file())
        self.controls = Controls()
        self._build()
        self.ctx = ctx = JobContext(self, viewer, self.controller, self.controls, self.data_panel, self.status,
                                    self.train_panel.progress, self.refresh)
        self.inspect = Inspect(ctx, self.inspect_panel)
        self.live = LivePreview(ctx, self.predict_panel, self.inspect.restyle)
        self.training = Training(ctx, self.train_panel, self.live)
        self.prediction = Prediction(ctx, self.predict_panel, self.inspect.restyle)
        self.suggestions = Suggestions(ctx, self.predict_panel, self.prediction.start)
        self.models = ModelFiles(ctx, self.model_panel, self.data_panel.start_from, self.train_panel.loss_plot.clear,
                                 lambda: self.model_hint.forget())
        self.model_hint = ModelHint(ctx, self.data_panel.suggest_model_btn, self.models.load)
        self.export = Export(ctx)
        self._connect()
        load_settings(self.controls)
        self._refresh_layers()
        for event in (viewer.layers.events.inserted, viewer.layers.events.removed, viewer.layers.events.reordered):
            event.connect(self._refresh_layers)
        self.destroyed.connect(_stopper(self.controller))
        self.models.offer_restore()
        self.models.fill_start_from()
        self._bind_keys()
        self.refresh()
        self.model_hint.check()

    @property
    def model(self):
        return self.controller.model

    @model.setter
    def model(self, model):
        self.controller.model = model

    # ----------------------------------------------------------------- layout
    def _build(self):
        controls = self.controls
        self.data_panel, self.train_panel = DataPanel(controls), TrainPanel(controls)
        self.predict_panel, self.inspect_panel = PredictPanel(controls), InspectPanel(controls)
        self.model_panel = ModelPanel()
        self.panels = (self.data_panel, self.train_panel, self.predict_panel, self.inspect_panel, self.model_panel)
        self.status = wrapped_label("Paint strokes of at least two classes, then press Train.", 3)
        content = QWidget()
        layout = QVBoxLayout(content)
        for w in (*self.panels[:2], self.status, *self.panels[2:]):
            layout.addWidget(w)
        layout.addStretch(1)
        scroll = Scroll(content)  # a short dock scrolls instead of squeezing the panels together
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)

    def _connect(self):
        data, train, predict = self.data_panel, self.train_panel, self.predict_panel
        inspect, model, mode = self.inspect_panel, self.model_panel, self.controls["mode"]
        data.new_labels_btn.clicked.connect(self.new_annotation_layer)
        data.start_from.activated.connect(self.models.start_from)
        data.suggest_model_btn.clicked.connect(lambda: self.model_hint.use())
        data.image_combo.currentIndexChanged.connect(self._image_changed)
        data.labels_combo.currentIndexChanged.connect(self.refresh)
        mode.currentTextChanged.connect(self.refresh)
        train.train_btn.clicked.connect(lambda: self.start_training())
        train.live_btn.toggled.connect(self.training.live_toggled)
        train.pause_btn.toggled.connect(self.pause)
        train.stop_btn.clicked.connect(self.stop)
        predict.predict_btn.clicked.connect(self.start_prediction)
        predict.suggest_btn.clicked.connect(lambda: self.suggestions.next())
        model.new_model_btn.clicked.connect(self.forget_model)
        model.save_btn.clicked.connect(lambda: self.save_model())
        model.load_btn.clicked.connect(lambda: self.load_model())
        model.restore_btn.clicked.connect(self.restore_model)
        model.save_named_btn.clicked.connect(lambda: self.models.save_named())
        model.export_btn.clicked.connect(lambda: self.export.start())
        inspect.to_strokes_btn.clicked.connect(lambda: self.inspect.use_as_strokes())
        inspect.measure_btn.clicked.connect(lambda: self.inspect.measure())
        inspect.transparent.valueChanged.connect(self.inspect.restyle)
        inspect.outlines.toggled.connect(self.inspect.restyle)
        inspect.opacity.valueChanged.connect(self.inspect.restyle)

    def _bind_keys(self):
        """Key bindings on the viewer (napari's keymap), shown in the buttons' tooltips."""
        train, predict = self.train_panel, self.predict_panel
        buttons = {"Alt-T": train.train_btn, "Alt-G": train.live_btn, "Alt-S": train.stop_btn,
                   "Alt-R": predict.predict_btn, "Alt-N": predict.suggest_btn}
        self._keys = {key: button.click for key, button in buttons.items()} | {"Alt-O": self.inspect.toggle}
        for key, action in self._keys.items():
            self.viewer.bind_key(key, lambda viewer, action=action: action(), overwrite=True)
        for key, button in buttons.items():
            button.setToolTip(f"{button.toolTip()} ({key})")
        opacity = self.inspect_panel.opacity
        opacity.setToolTip(f"{opacity.toolTip()}; Alt-O shows or hides the prediction")

    # ----------------------------------------------------------------- layers
    def _refresh_layers(self, event=None):
        image_combo = self.data_panel.image_combo
        for combo, kind in ((image_combo, "image"), (self.data_panel.labels_combo, "labels")):
            current = combo.currentText()
            names = [layer.name for layer in layers_of(self.viewer, kind)]
            combo.blockSignals(True)
            combo.clear()
            combo.addItems(names)
            if current in names:
                combo.setCurrentText(current)
            elif kind == "labels":
                image = image_combo.currentText()
                matching = [n for n in names if image and n.startswith(image)]
                if matching:
                    combo.setCurrentText(matching[0])
            combo.blockSignals(False)
        live = self.live
        if self.controller.live and live.active and not {live.image.name, live.labels.name} <= {
                layer.name for layer in self.viewer.layers}:
            self.stop()  # the live image or strokes were closed
        self.refresh()  # the legend takes the colours of the strokes layer now chosen

    def image_layer(self):
        return self.ctx.image_layer()

    def labels_layer(self):
        return self.ctx.labels_layer()

    def _image_changed(self, *_):
        if self.controller.live:
            self.stop()  # live training belongs to the image it started on
        self.refresh()
        self.model_hint.check()

    def new_annotation_layer(self):
        image = self.image_layer()
        if image is None:
            return self.ctx.error("Open an image first (File ▸ Open, or File ▸ Open Sample ▸ napari-unet).")
        shape = spatial_shape(image)
        layer = self.viewer.add_labels(
            np.zeros(shape, dtype=np.uint8 if self.ctx.setting("mode") == "semantic" else np.uint16),
            name=f"{image.name} strokes", scale=image.scale[-len(shape):], translate=image.translate[-len(shape):],
        )
        layer.brush_size = max(3, min(shape[-2:]) // 100)
        layer.selected_label = 1
        layer.mode = "paint"
        self.viewer.layers.selection.active = layer
        self.data_panel.labels_combo.setCurrentText(layer.name)
        return layer

    # ----------------------------------------------------------------- jobs and model files
    def train_config(self):
        return self.ctx.train_config()

    def predict_config(self):
        return self.ctx.predict_config()

    def start_training(self, live: bool = False):
        """Start training in a child process on snapshots of the strokes; returns the trainer."""
        return self.training.start(live)

    def start_prediction(self):
        """Predict the chosen image in a worker thread; returns the worker."""
        return self.prediction.start()

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
        self.training.pause(on)

    def stop(self):
        self.training.stop()
        self.prediction.stop()
        self.train_panel.stop_btn.setEnabled(False)

    def refresh(self, *_):
        """Show the state: what can be done now, the model, what to paint."""
        on = self.controller.enabled(self.image_layer() is not None, self.labels_layer() is not None)
        for panel in self.panels:
            panel.enable(on)
        mode = self.controls["mode"]
        mode.setEnabled(on["architecture"])
        # offered only while nothing is loaded or being trained
        self.data_panel.suggest_model_btn.setVisible(self.model_hint.fit is not None and self.model is None
                                                     and on["load"])
        self.train_panel.train_btn.setText("Train more" if self.model is not None else "Train")
        if self.model is not None and mode.currentText() != self.model.mode:
            mode.setCurrentText(self.model.mode)
        self.controls.follow_mode(mode.currentText())  # e.g. semantic models are not resized
        self.model_panel.model_info.setText(describe_model(self.model))
        self.data_panel.hint.setText(legend(self.model, mode.currentText(), self.labels_layer()))

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
    widget.refresh()
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

