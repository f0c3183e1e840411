"""The dock widget's panels: what the user chooses (data), how to train and predict
(settings), and what happens (actions: buttons, progress, loss curve, model).

Each panel only builds and lays out its controls; :class:`~napari_unet._widget.UNetWidget`
wires them to the engine. New controls go into the panel they belong to.
"""

from __future__ import annotations

import math

import numpy as np
from qtpy.QtCore import QPointF
from qtpy.QtGui import QColor, QPainter, QPen, QPolygonF
from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
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

HINTS = {
    "semantic": "Paint: 0 = not annotated (ignored) · 1, 2, … = classes (e.g. 1 = background, 2 = cells)",
    "instance": "Paint: 0 = not annotated · 1 = background strokes · 2, 3, 4, … = one whole object each "
                "(paint a few objects completely)",
}


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


def _column(widget: QWidget) -> QVBoxLayout:
    """A vertical layout without margins, so panels stack like one form."""
    layout = QVBoxLayout(widget)
    layout.setContentsMargins(0, 0, 0, 0)
    return layout


class DataPanel(QWidget):
    """Which image and strokes layer, and what the painted values mean."""

    def __init__(self, parent=None):
        super().__init__(parent)
        layout = _column(self)
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
        self.mode.currentTextChanged.connect(lambda m: self.hint.setText(HINTS[m]))


class SettingsPanel(QWidget):
    """How to train and predict: the common settings, and the rest under *Advanced*."""

    def __init__(self, parent=None):
        from .config import TrainConfig

        super().__init__(parent)
        layout = _column(self)
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


class ActionsPanel(QWidget):
    """Train, Stop, Predict and the model buttons, with progress, status, loss curve and model."""

    def __init__(self, parent=None):
        super().__init__(parent)
        layout = _column(self)
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
