"""The napari dock widget: paint, train, stop, predict, inspect.

The only Qt module of the package. Layer data is copied on the GUI thread; training and
prediction run in napari worker threads that never touch layers; results come back through
signals and are written to layers on the GUI thread.
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING

import numpy as np
from qtpy.QtCore import QPointF, QSettings
from qtpy.QtGui import QColor, QPainter, QPen, QPolygonF
from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)
from superqt import QCollapsible

if TYPE_CHECKING:
    import napari

HINTS = {
    "semantic": "Paint: 0 = not annotated (ignored) · 1, 2, … = classes (e.g. 1 = background, 2 = cells)",
    "instance": "Paint: 0 = not annotated · 1 = background strokes · 2, 3, 4, … = one whole object each "
                "(paint a few objects completely)",
}
UI_INTERVAL = 0.25  # seconds between progress redraws
SETTINGS_KEYS = ("mode", "time_budget", "device", "model_size", "tile_size", "steps", "batch_size", "patch_size",
                 "learning_rate", "edge_weight", "seed", "tta", "probabilities", "current_slice")


class LossPlot(QWidget):
    """A small live plot of the training loss."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.values: list[float] = []
        self.setMinimumHeight(70)
        self.setToolTip("training loss per step")

    def clear(self):
        self.values = []
        self.update()

    def add(self, value: float):
        if math.isfinite(value):
            self.values.append(value)

    def paintEvent(self, event):  # noqa: N802 (Qt API)
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        w, h = self.width(), self.height()
        p.fillRect(0, 0, w, h, QColor(38, 41, 48))
        p.setPen(QColor(150, 150, 150))
        if len(self.values) < 2:
            p.drawText(6, h // 2, "loss curve appears while training")
            return
        vals = np.asarray(self.values)
        if len(vals) > 2 * w:  # average down to about one point per pixel
            k = len(vals) // w
            vals = vals[: len(vals) // k * k].reshape(-1, k).mean(1)
        lo, hi = float(vals.min()), float(vals.max())
        span = max(hi - lo, 1e-9)
        pad = 14
        pts = [QPointF(pad + i * (w - 2 * pad) / (len(vals) - 1), pad + (hi - v) / span * (h - 2 * pad))
               for i, v in enumerate(vals)]
        p.setPen(QPen(QColor(90, 180, 255), 1.5))
        p.drawPolyline(QPolygonF(pts))
        p.setPen(QColor(200, 200, 200))
        p.drawText(4, 11, f"loss {hi:.3g}")
        p.drawText(4, h - 3, f"{lo:.3g}   ·   {len(self.values)} steps")


class UNetWidget(QWidget):
    """Train a U-Net from strokes in a Labels layer and predict, without blocking napari."""

    def __init__(self, viewer: napari.viewer.Viewer):
        super().__init__()
        self.viewer = viewer
        self.model = None  # SegmentationModel, set by training or loading
        self._train_worker = None
        self._predict_worker = None
        self._last_ui_update = 0.0
        self._activity = None
        self._build()
        self._load_settings()
        self._refresh_layers()
        viewer.layers.events.inserted.connect(self._refresh_layers)
        viewer.layers.events.removed.connect(self._refresh_layers)
        viewer.layers.events.reordered.connect(self._refresh_layers)
        self.destroyed.connect(_stopper(self))
        self._update_buttons()

    # ----------------------------------------------------------------- layout
    def _build(self):
        layout = QVBoxLayout(self)
        form = QFormLayout()
        self.image_combo = QComboBox()
        self.labels_combo = QComboBox()
        form.addRow("Image", self.image_combo)
        form.addRow("Strokes", self.labels_combo)
        layout.addLayout(form)
        self.new_labels_btn = QPushButton("New annotation layer")
        self.new_labels_btn.setToolTip("Add an empty Labels layer of the image's shape, ready to paint label 1")
        layout.addWidget(self.new_labels_btn)
        self.mode = QComboBox()
        self.mode.addItems(["semantic", "instance"])
        self.mode.setToolTip("semantic: one label per class · instance: one label per object, "
                             "touching objects separated (U-Net paper's border weights)")
        form.addRow("Mode", self.mode)
        self.hint = QLabel(HINTS["semantic"])
        self.hint.setWordWrap(True)
        self.hint.setStyleSheet("color: #aab;")
        layout.addWidget(self.hint)

        settings = QFormLayout()
        self.time_budget = QSpinBox()
        self.time_budget.setRange(5, 24 * 3600)
        self.time_budget.setSuffix(" s")
        self.time_budget.setValue(60)
        self.time_budget.setToolTip("How long one press of Train trains (press again to train more)")
        self.device = QComboBox()
        self.device.addItems(["auto", "cpu", "cuda", "mps"])
        self.model_size = QComboBox()
        self.model_size.addItems(["small", "default", "large"])
        self.model_size.setCurrentText("default")
        self.model_size.setToolTip("Size of a new model (a trained model keeps its size)")
        self.tile_size = QSpinBox()
        self.tile_size.setRange(32, 4096)
        self.tile_size.setSingleStep(32)
        self.tile_size.setValue(256)
        self.tile_size.setToolTip("Prediction tile size; larger is faster if memory allows")
        settings.addRow("Training time", self.time_budget)
        settings.addRow("Device", self.device)
        settings.addRow("Model size", self.model_size)
        settings.addRow("Tile size", self.tile_size)
        layout.addLayout(settings)

        self.advanced = QCollapsible("Advanced")
        adv = QWidget()
        af = QFormLayout(adv)
        self.steps = QSpinBox()
        self.steps.setRange(0, 1_000_000)
        self.steps.setSpecialValueText("by time")
        self.steps.setToolTip("Train a fixed number of steps instead of a time (0 = by time)")
        self.batch_size = QSpinBox()
        self.batch_size.setRange(1, 256)
        self.batch_size.setValue(4)
        self.patch_size = QSpinBox()
        self.patch_size.setRange(32, 1024)
        self.patch_size.setSingleStep(32)
        self.patch_size.setValue(128)
        self.learning_rate = QDoubleSpinBox()
        self.learning_rate.setDecimals(5)
        self.learning_rate.setRange(1e-5, 1.0)
        self.learning_rate.setSingleStep(1e-4)
        self.learning_rate.setValue(2e-3)
        from .config import TrainConfig

        self.edge_weight = QDoubleSpinBox()
        self.edge_weight.setRange(0.0, 100.0)
        self.edge_weight.setSingleStep(0.5)
        self.edge_weight.setValue(TrainConfig.edge_weight)
        self.edge_weight.setToolTip("Weight of the edge-aware term: where no stroke says where a region ends, "
                                    "put the boundary where the image has an edge (0 = off)")
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.tta = QCheckBox("Test-time augmentation (8 flips/rotations; about 6x slower)")
        self.tta.setToolTip("Average the prediction over the 8 flips and 90-degree rotations of each tile")
        self.probabilities = QCheckBox("Also show class probabilities")
        self.current_slice = QCheckBox("Predict only the current slice of a z-stack")
        for label, w in (("Steps", self.steps), ("Batch size", self.batch_size), ("Patch size", self.patch_size),
                         ("Learning rate", self.learning_rate), ("Edge term", self.edge_weight), ("Seed", self.seed)):
            af.addRow(label, w)
        af.addRow(self.tta)
        af.addRow(self.probabilities)
        af.addRow(self.current_slice)
        self.advanced.addWidget(adv)
        layout.addWidget(self.advanced)

        row = QHBoxLayout()
        self.train_btn = QPushButton("Train")
        self.train_btn.setToolTip("Train on the strokes (continues the current model if there is one)")
        self.stop_btn = QPushButton("Stop")
        self.stop_btn.setToolTip("Stop at the next step, keeping what was learned")
        self.predict_btn = QPushButton("Predict")
        for b in (self.train_btn, self.stop_btn, self.predict_btn):
            row.addWidget(b)
        layout.addLayout(row)
        row2 = QHBoxLayout()
        self.new_model_btn = QPushButton("New model")
        self.new_model_btn.setToolTip("Forget the current model; the next Train starts from scratch")
        self.save_btn = QPushButton("Save model…")
        self.load_btn = QPushButton("Load model…")
        for b in (self.new_model_btn, self.save_btn, self.load_btn):
            row2.addWidget(b)
        layout.addLayout(row2)

        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.progress.setFormat("")
        layout.addWidget(self.progress)
        self.status = QLabel("Paint strokes of at least two classes, then press Train.")
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        self.loss_plot = LossPlot()
        layout.addWidget(self.loss_plot)
        self.model_info = QLabel("Model: none yet")
        self.model_info.setWordWrap(True)
        layout.addWidget(self.model_info)
        layout.addStretch(1)

        self.new_labels_btn.clicked.connect(self.new_annotation_layer)
        self.train_btn.clicked.connect(self.start_training)
        self.stop_btn.clicked.connect(self.stop)
        self.predict_btn.clicked.connect(self.start_prediction)
        self.new_model_btn.clicked.connect(self.forget_model)
        self.save_btn.clicked.connect(lambda: self.save_model())
        self.load_btn.clicked.connect(lambda: self.load_model())
        self.mode.currentTextChanged.connect(lambda m: self.hint.setText(HINTS[m]))
        self.image_combo.currentIndexChanged.connect(self._update_buttons)
        self.labels_combo.currentIndexChanged.connect(self._update_buttons)

    # ----------------------------------------------------------------- layers
    def _layers_of(self, kind: str):
        from napari.layers import Image, Labels

        cls = {"image": Image, "labels": Labels}[kind]
        return [layer for layer in self.viewer.layers if isinstance(layer, cls)]

    def _refresh_layers(self, event=None):
        for combo, kind in ((self.image_combo, "image"), (self.labels_combo, "labels")):
            current = combo.currentText()
            names = [layer.name for layer in self._layers_of(kind) if not layer.name.endswith(" prediction")]
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
        self._update_buttons()

    def _layer(self, name: str):
        return self.viewer.layers[name] if name and name in self.viewer.layers else None

    def image_layer(self):
        return self._layer(self.image_combo.currentText())

    def labels_layer(self):
        return self._layer(self.labels_combo.currentText())

    @staticmethod
    def _spatial_shape(image) -> tuple[int, ...]:
        shape = _full_resolution(image).shape
        return shape[:-1] if image.rgb else shape

    def new_annotation_layer(self):
        image = self.image_layer()
        if image is None:
            return self._error("Open an image first (File ▸ Open, or File ▸ Open Sample ▸ napari-unet).")
        shape = self._spatial_shape(image)
        layer = self.viewer.add_labels(
            np.zeros(shape, dtype=np.uint8 if self.mode.currentText() == "semantic" else np.uint16),
            name=f"{image.name} strokes", scale=image.scale[-len(shape):],
            translate=image.translate[-len(shape):],
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
    def start_training(self):
        from napari.qt.threading import create_worker

        from .config import UserInputError, model_preset

        if self._busy():
            return
        image, labels = self.image_layer(), self.labels_layer()
        if image is None or labels is None:
            return self._error("Choose an image and a strokes layer (press 'New annotation layer' and paint).")
        # snapshot on the GUI thread: the worker never reads layers
        img, strokes = np.array(_full_resolution(image)), np.array(labels.data)
        try:
            config = self.train_config()
            model_config = model_preset(self.model_size.currentText())
            if strokes.shape != self._spatial_shape(image):
                raise UserInputError(
                    f"strokes layer '{labels.name}' has shape {strokes.shape} but image '{image.name}' has "
                    f"{self._spatial_shape(image)}; use 'New annotation layer' to make a matching one."
                )
            if not strokes.any():
                what = "at least two classes (1, 2, …)" if config.mode == "semantic" else \
                    "background (1) and a few whole objects (2, 3, …)"
                raise UserInputError(f"no strokes in '{labels.name}': paint {what} first.")
        except UserInputError as err:
            return self._error(str(err))
        self._save_settings()
        self.loss_plot.clear()
        total = config.steps or 0
        worker = create_worker(
            _train_job, img, strokes, config, self.model, model_config,
            _start_thread=False, _ignore_errors=True,
        )
        worker.yielded.connect(self._on_train_event)
        worker.returned.connect(self._on_train_done)
        worker.aborted.connect(self._on_train_stopped)
        worker.errored.connect(self._on_error)
        worker.finished.connect(self._on_train_finished)
        self._train_worker = worker
        # a determinate bar (steps, or per mille of the time budget): an indeterminate one animates
        # continuously, and every frame recomposes the whole window, canvas included
        self._start_activity(total or 1000, "Training U-Net")
        self.status.setText("Preparing training…")
        self.progress.setFormat("training %p%")
        self.progress.setValue(0)
        self._update_buttons()
        worker.start()
        return worker

    def _on_train_event(self, event):
        first = self.model is not event.model
        self.model = event.model
        self.loss_plot.add(event.loss)
        now = time.monotonic()
        # redraw a few times a second: every repaint of a napari window also recomposes its canvas
        if first or now - self._last_ui_update > UI_INTERVAL or event.progress >= 1.0:
            self._last_ui_update = now
            self.progress.setValue(int(1000 * event.progress))
            self._update_activity(event.step if event.total_steps else int(1000 * event.progress))
            left = f"{event.eta:.0f} s left" if math.isfinite(event.eta) else ""
            self.status.setText(
                f"Training: step {event.step}, loss {event.loss:.4f}, {event.steps_per_s:.1f} steps/s, {left}"
            )
            self.loss_plot.update()
            self._show_model_info()
            if first:
                self._update_buttons()

    def _on_train_done(self, result):
        self.model = result.model
        self.status.setText(f"Trained {result.steps} steps in {result.elapsed:.0f} s, loss {result.loss:.4f}. "
                            "Press Predict, or paint more strokes and Train again.")
        self.progress.setValue(1000)

    def _on_train_stopped(self):
        steps = self.model.steps_trained if self.model is not None else 0
        self.status.setText(f"Stopped; the model keeps what it learned ({steps} steps). Train again to continue.")

    def _on_train_finished(self):
        self._train_worker = None
        self._close_activity()
        self.loss_plot.update()
        self._show_model_info()
        self._update_buttons()

    # ----------------------------------------------------------------- prediction
    def start_prediction(self):
        from napari.qt.threading import create_worker

        if self._busy():
            return
        image = self.image_layer()
        if image is None:
            return self._error("Choose an image to predict.")
        if self.model is None:
            return self._error("No model yet: train one (Train) or load one (Load model…) first.")
        img = _prediction_input(image)
        z_slices = None
        if self.current_slice.isChecked() and img.ndim - int(image.rgb) == 3:
            z_slices = [int(self.viewer.dims.current_step[-3])]
        worker = create_worker(
            _predict_job, self.model, img, self.predict_config(), self.probabilities.isChecked(), z_slices,
            _start_thread=False, _ignore_errors=True,
        )
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
        name = f"{image.name} prediction"
        labels = result.labels
        layer = self._layer(name)
        spatial = dict(scale=image.scale[-labels.ndim:], translate=image.translate[-labels.ndim:])
        if layer is not None and layer.data.shape == labels.shape:
            if z_slices is None:
                layer.data = labels
            else:
                for z in z_slices:
                    layer.data[z] = labels[z]
                layer.refresh()
            layer.scale, layer.translate = spatial["scale"], spatial["translate"]
        else:
            if layer is not None:
                self.viewer.layers.remove(layer)
            layer = self.viewer.add_labels(labels, name=name, opacity=0.5, **spatial)
        if result.probabilities is not None:
            for k, value in enumerate(self.model.class_values):
                pname = f"{image.name} p(class {value})"
                probs = result.probabilities[:, k]
                probs = probs[0] if labels.ndim == probs.ndim - 1 else probs
                existing = self._layer(pname)
                if existing is not None and existing.data.shape == probs.shape:
                    existing.data = probs
                else:
                    if existing is not None:
                        self.viewer.layers.remove(existing)
                    self.viewer.add_image(probs, name=pname, colormap="magma", blending="additive",
                                          contrast_limits=(0, 1), visible=False, **spatial)
        if self.model.mode == "instance":
            counted = labels if z_slices is None else labels[z_slices]
            n = sum(len(np.unique(plane)) - 1 for plane in counted.reshape(-1, *labels.shape[-2:]))
            if n:
                self.status.setText(f"Prediction in '{name}': {n} objects. Paint corrections and Train again.")
            else:
                sure = self.predict_config().min_confidence
                self.status.setText(f"Prediction in '{name}': no object yet that the model is {sure:.0%} sure of. "
                                    "Train more, or paint more objects and background.")
        else:
            values, counts = np.unique(labels, return_counts=True)
            share = ", ".join(f"{v}: {c / labels.size:.0%}" for v, c in zip(values, counts) if v)
            self.status.setText(f"Prediction in '{name}' (class shares {share}). Paint corrections and Train again.")
        self.progress.setValue(1000)
        return layer

    def _on_predict_finished(self):
        self._predict_worker = None
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
        if self._busy():
            return
        self.model = None
        self.loss_plot.clear()
        self._show_model_info()
        self._update_buttons()

    def save_model(self, path: str | None = None):
        from .config import UserInputError
        from .io import save_model

        if self.model is None:
            return self._error("No model to save yet: train one first.")
        if path is None:
            path, _ = QFileDialog.getSaveFileName(self, "Save model", "unet-model.pt", "napari-unet model (*.pt)")
            if not path:
                return None
        try:
            saved = save_model(self.model, path)
        except (OSError, UserInputError) as err:
            return self._error(f"Could not save the model to {path}: {err}")
        self.status.setText(f"Model saved to {saved}")
        return saved

    def load_model(self, path: str | None = None):
        from .config import UserInputError
        from .io import load_model

        if self._busy():
            return None
        if path is None:
            path, _ = QFileDialog.getOpenFileName(self, "Load model", "", "napari-unet model (*.pt);;All files (*)")
            if not path:
                return None
        try:
            self.model = load_model(path)
        except UserInputError as err:
            return self._error(str(err))
        self.loss_plot.clear()
        self.status.setText(f"Loaded {path}. Predict, or paint strokes and Train to fine-tune it.")
        self._show_model_info()
        self._update_buttons()
        return self.model

    # ----------------------------------------------------------------- state
    def _busy(self) -> bool:
        return self._train_worker is not None or self._predict_worker is not None

    def stop(self):
        if self._train_worker is not None:
            self._train_worker.quit()
            self.status.setText("Stopping after the current step…")
        if self._predict_worker is not None:
            self._predict_worker.quit()
        self.stop_btn.setEnabled(False)

    def _update_buttons(self, *_):
        busy = self._busy()
        has_image = self.image_layer() is not None
        self.train_btn.setEnabled(not busy and has_image and self.labels_layer() is not None)
        self.train_btn.setText("Train more" if self.model is not None else "Train")
        self.stop_btn.setEnabled(busy)
        self.predict_btn.setEnabled(not busy and has_image and self.model is not None)
        self.save_btn.setEnabled(not busy and self.model is not None)
        self.load_btn.setEnabled(not busy)
        self.new_model_btn.setEnabled(not busy and self.model is not None)
        self.new_labels_btn.setEnabled(has_image)
        self.model_size.setEnabled(not busy and self.model is None)
        self.mode.setEnabled(not busy and self.model is None)
        if self.model is not None and self.mode.currentText() != self.model.mode:
            self.mode.setCurrentText(self.model.mode)

    def _show_model_info(self):
        m = self.model
        if m is None:
            self.model_info.setText("Model: none yet")
            return
        self.model_info.setText(
            f"Model ({m.mode}): {m.config.in_channels} channel(s), classes {list(m.class_values)}, depth {m.config.depth}, "
            f"width {m.config.base_channels}, {m.steps_trained} steps trained"
        )

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
    def _settings(self) -> QSettings:
        return QSettings("napari-unet", "widget")

    def _widgets(self) -> dict[str, QWidget]:
        return {k: getattr(self, k) for k in SETTINGS_KEYS}

    def _save_settings(self):
        s = self._settings()
        for key, w in self._widgets().items():
            if isinstance(w, QComboBox):
                s.setValue(key, w.currentText())
            elif isinstance(w, QCheckBox):
                s.setValue(key, int(w.isChecked()))
            else:
                s.setValue(key, w.value())

    def _load_settings(self):
        s = self._settings()
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
        _stop_and_wait([self._train_worker, self._predict_worker], timeout_ms)


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
    deadline = time.monotonic() + timeout_ms / 1000
    from qtpy.QtCore import QThreadPool

    QThreadPool.globalInstance().waitForDone(max(0, int((deadline - time.monotonic()) * 1000)))


def _stopper(widget: UNetWidget):
    """A callback for ``destroyed`` that holds no reference to the (deleted) widget itself."""
    holder = {"w": widget}

    def stop(*_):
        w = holder.pop("w", None)
        if w is not None:
            try:
                _stop_and_wait([w._train_worker, w._predict_worker])
            except RuntimeError:
                pass

    return stop


def _prediction_input(layer):
    """What the prediction worker reads: a copy of in-memory data (the user may keep painting or
    editing), or, for a lazily loaded image (dask/zarr, e.g. opened from a .zarr), the lazy array
    itself, read band by band off the GUI thread. A multiscale image is predicted at full resolution."""
    from .data import is_lazy

    data = _full_resolution(layer)
    return data if is_lazy(data) else np.array(data)


def _full_resolution(layer):
    """An image layer's data, at full resolution if it is multiscale."""
    return layer.data[0] if layer.multiscale else layer.data


def _train_job(image, strokes, config, model, model_config):
    """Worker: train on snapshots, yielding events (each yield is a stop point)."""
    from .train import train

    return (yield from train([image], [strokes], config, model=model, model_config=model_config))


def _predict_job(model, image, config, probabilities: bool, z_slices):
    """Worker: predict a snapshot, yielding progress."""
    from .predict import predict

    return (yield from predict(model, image, config, probabilities=probabilities, z_slices=z_slices))
