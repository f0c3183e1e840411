"""The dock widget's panels: data, training, prediction, inspect, model. Controls only: the
settings' controls come from the configs' option declarations
(:class:`~napari_unet.widget.controls.Controls`); what the buttons do is wired in
:mod:`napari_unet.widget.dock`."""

from __future__ import annotations

import math

import numpy as np
from qtpy.QtCore import QPointF, QSize, Qt
from qtpy.QtGui import QColor, QPainter, QPen, QPolygonF
from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSlider,
    QVBoxLayout,
    QWidget,
)
from superqt import QCollapsible

from napari_unet.widget.controls import spin_box

HINTS = {
    "semantic": "Paint: 0 = not annotated (ignored) · 1, 2, … = classes (e.g. 1 = background, 2 = cells)",
    "instance": "Paint: 0 = not annotated · 1 = background strokes · 2, 3, 4, … = one whole object each "
                "(paint a few objects completely)",
}


def legend(model, mode: str, layer=None) -> str:
    """The hint under the data choices: what to paint, as rich text. With a model that names its
    classes, one entry per label value, with the strokes layer's colour for it."""
    if model is None or not model.info.class_names:
        return HINTS[mode]

    def swatch(value: int) -> str:
        if layer is None:
            return ""
        r, g, b = (int(255 * c) for c in np.asarray(layer.get_color(value))[:3])
        return f'<span style="color: rgb({r},{g},{b});">&#9632;</span> '

    name = model.info.name or "this model"
    items = [swatch(value) + text for value, text in model.paint_items()]
    return f"Paint for <b>{name}</b>: " + " · ".join(items) + " · 0 = not annotated"


def wrapped_label(text: str, lines: int, style: str = "") -> QLabel:
    """A word-wrapped label that keeps room for ``lines`` lines (Qt does not pass a wrapped
    label's height up through nested layouts, so it is reserved here)."""
    label = QLabel(text)
    label.setWordWrap(True)
    if style:
        label.setStyleSheet(style)
    label.setMinimumHeight(label.fontMetrics().lineSpacing() * lines + 4)
    return label


def _buttons(*buttons: QPushButton) -> QHBoxLayout:
    row = QHBoxLayout()
    for b in buttons:
        row.addWidget(b)
    return row


class Scroll(QScrollArea):
    """Scrolls vertically in a short dock; asks for the full width of what it holds, so the
    dock is made wide enough (Qt's scroll area would otherwise squeeze it)."""

    def __init__(self, content: QWidget):
        super().__init__()
        self.setWidgetResizable(True)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setWidget(content)

    def _extra(self) -> int:
        return self.verticalScrollBar().sizeHint().width() + 2 * self.frameWidth()

    def minimumSizeHint(self) -> QSize:  # noqa: N802 (Qt API)
        return QSize(self.widget().minimumSizeHint().width() + self._extra(), 120)

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt API)
        hint = self.widget().sizeHint()
        return QSize(hint.width() + self._extra(), hint.height())


def _advanced(layout: QVBoxLayout, controls, panel: str) -> QCollapsible:
    """The panel's collapsed area, holding the controls of its advanced options."""
    area = QCollapsible("Advanced")
    content = QWidget()
    controls.fill(QFormLayout(content), panel, advanced=True)
    area.addWidget(content)
    layout.addWidget(area)
    return area


class DataPanel(QGroupBox):
    """Which image and strokes, and what the strokes mean."""

    def __init__(self, controls):
        super().__init__("Data")
        form = QFormLayout(self)
        self.image_combo = QComboBox()
        self.labels_combo = QComboBox()
        form.addRow("Image", self.image_combo)
        form.addRow("Strokes", self.labels_combo)
        controls.fill(form, "data")
        self.start_from = QComboBox()
        self.start_from.setToolTip("Where training starts: from scratch, from a base model that already knows nuclei, "
                                   "EM membranes or whole cells in phase contrast and DIC (predict at once, or paint a few corrections and Train more), "
                                   "from one of your named models, or from a model file")
        form.addRow("Start from", self.start_from)
        self.suggest_model_btn = QPushButton()
        self.suggest_model_btn.setVisible(False)  # shown when a base model fits the chosen image
        form.addRow(self.suggest_model_btn)
        self.new_labels_btn = QPushButton("New annotation layer")
        self.new_labels_btn.setToolTip("Add an empty Labels layer of the image's shape, ready to paint label 1")
        form.addRow(self.new_labels_btn)
        self.all_images = QCheckBox("Train on every image that has strokes")
        self.all_images.setChecked(True)
        self.all_images.setToolTip("Also use the other images whose strokes layer ('<image> strokes', or the "
                                   "chosen one) has their shape")
        form.addRow(self.all_images)
        controls.remember(all_images=self.all_images)
        self.hint = wrapped_label(HINTS["semantic"], 2, "color: #aab;")
        self.hint.setTextFormat(Qt.TextFormat.RichText)
        form.addRow(self.hint)

    def enable(self, on: dict) -> None:
        for key, control in (("new_layer", self.new_labels_btn), ("load", self.start_from)):
            control.setEnabled(on[key])


class TrainPanel(QGroupBox):
    """How long and how to train; Train, Live, Stop; progress and the loss curve."""

    def __init__(self, controls):
        super().__init__("Training")
        layout = QVBoxLayout(self)
        form = QFormLayout()
        controls.fill(form, "training")
        self.model_size = QComboBox()
        self.model_size.addItems(["small", "default", "large"])
        self.model_size.setCurrentText("default")
        self.model_size.setToolTip("Size of a new model (a trained model keeps its size)")
        form.addRow("Model size", self.model_size)
        controls.remember(model_size=self.model_size)
        layout.addLayout(form)
        self.advanced = _advanced(layout, controls, "training")

        self.train_btn = QPushButton("Train")
        self.train_btn.setToolTip("Train on the strokes (continues the current model if there is one)")
        self.live_btn = QPushButton("Live")
        self.live_btn.setCheckable(True)
        self.live_btn.setToolTip("Keep training while you paint: each finished stroke is used at once, and the "
                                 "prediction of the visible region refreshes every few seconds")
        self.pause_btn = QPushButton("Pause")
        self.pause_btn.setCheckable(True)
        self.pause_btn.setToolTip("Hold training (the model is kept, the time budget waits); press again to go on")
        self.stop_btn = QPushButton("Stop")
        self.stop_btn.setToolTip("Stop at the next step, keeping what was learned")
        layout.addLayout(_buttons(self.train_btn, self.live_btn, self.pause_btn, self.stop_btn))
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.progress.setFormat("")
        layout.addWidget(self.progress)
        self.loss_plot = LossPlot()
        layout.addWidget(self.loss_plot)

    def enable(self, on: dict) -> None:
        for key, control in (("train", self.train_btn), ("live", self.live_btn), ("stop", self.stop_btn),
                             ("pause", self.pause_btn), ("architecture", self.model_size)):
            control.setEnabled(on[key])


class PredictPanel(QGroupBox):
    """Tiling, object settings and what to show; Predict; where to paint next."""

    def __init__(self, controls):
        super().__init__("Prediction")
        layout = QVBoxLayout(self)
        form = QFormLayout()
        controls.fill(form, "prediction")
        layout.addLayout(form)
        self.probabilities = QCheckBox("Also show class probabilities")
        self.current_slice = QCheckBox("Predict only the current slice of a z-stack")
        self.uncertainty = QCheckBox("Show where the model hesitates")
        self.uncertainty.setToolTip("An overlay of the prediction's uncertainty (entropy of the class probabilities: "
                                    "dark = sure, bright = undecided), also in Live mode: strokes help most where "
                                    "it is bright")
        for box in (self.probabilities, self.current_slice, self.uncertainty):
            layout.addWidget(box)
        controls.remember(probabilities=self.probabilities, current_slice=self.current_slice,
                          uncertainty=self.uncertainty)
        self.advanced = _advanced(layout, controls, "prediction")
        self.predict_btn = QPushButton("Predict")
        self.predict_btn.setToolTip("Predict the whole image (or the current slice) with the current model")
        layout.addWidget(self.predict_btn)
        self.suggest_btn = QPushButton("Paint here next")
        self.suggest_btn.setToolTip("Go to the place where the model hesitates most that you have not seen yet "
                                    "(numbered yellow frames mark the five best); strokes there help most. Uses the "
                                    "uncertainty overlay of the last prediction or of the live preview")
        layout.addWidget(self.suggest_btn)

    def enable(self, on: dict) -> None:
        self.predict_btn.setEnabled(on["predict"])
        self.suggest_btn.setEnabled(on["new_layer"])  # any image: without an overlay yet it predicts one


class InspectPanel(QGroupBox):
    """How the prediction is drawn; copy it into the strokes to correct it; measure objects."""

    def __init__(self, controls):
        super().__init__("Inspect and correct")
        form = QFormLayout(self)
        self.transparent = spin_box(0, 65535, 1, special="none",
                                    tip="This class is not drawn, so the image shows through (semantic mode; in "
                                        "instance mode the background is never drawn)")
        self.outlines = QCheckBox("Outlines only")
        self.outlines.setToolTip("Draw each region's edge over the untinted image")
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.setValue(60)
        self.opacity.setToolTip("Opacity of the prediction layer")
        form.addRow("Transparent class", self.transparent)
        form.addRow("Opacity", self.opacity)
        form.addRow(self.outlines)
        self.to_strokes_btn = QPushButton("Use prediction as strokes")
        self.to_strokes_btn.setToolTip("Copy the prediction of the region on screen into the strokes layer where "
                                       "nothing is painted yet (instance mode: each object its own value); then "
                                       "erase or repaint what is wrong and train again. Ctrl-Z on the strokes "
                                       "layer undoes it.")
        self.measure_btn = QPushButton("Measurements…")
        self.measure_btn.setToolTip("Save one row per predicted object (label, area, centroid, mean intensity) as CSV")
        self.copy_what = QComboBox()
        self.copy_what.addItems(["visible region", "chosen object or class"])
        self.copy_what.setToolTip("What 'Use prediction as strokes' copies: everything predicted on screen, or only "
                                  "the prediction layer's selected label (pick it with the layer's colour picker)")
        form.addRow("Copy", self.copy_what)
        form.addRow(_buttons(self.to_strokes_btn, self.measure_btn))
        controls.remember(transparent=self.transparent, outlines=self.outlines, opacity=self.opacity,
                          copy_what=self.copy_what)

    def enable(self, on: dict) -> None:
        self.to_strokes_btn.setEnabled(on["correct"])
        self.measure_btn.setEnabled(on["correct"])


class ModelPanel(QGroupBox):
    """The current model: what it is; new, save, load, name, export, restore."""

    def __init__(self):
        super().__init__("Model")
        layout = QVBoxLayout(self)
        self.model_info = wrapped_label("Model: none yet", 2)
        layout.addWidget(self.model_info)
        self.new_model_btn = QPushButton("New model")
        self.new_model_btn.setToolTip("Forget the current model; the next Train starts from scratch")
        self.save_btn = QPushButton("Save model…")
        self.load_btn = QPushButton("Load model…")
        layout.addLayout(_buttons(self.new_model_btn, self.save_btn, self.load_btn))
        self.save_named_btn = QPushButton("Add to list…")
        self.save_named_btn.setToolTip("Save the current model under a name: it appears in 'Start from' and in "
                                       "'napari-unet models'")
        self.export_btn = QPushButton("Export to bioimage.io…")
        self.export_btn.setToolTip("Write the model as a bioimage.io package (.zip) for deepImageJ, ilastik, QuPath "
                                   "and the BioImage Model Zoo; it is tested with bioimageio.core before it is written")
        layout.addLayout(_buttons(self.save_named_btn, self.export_btn))
        self.restore_btn = QPushButton("Restore autosaved model")
        self.restore_btn.setToolTip("A model is autosaved every minute while training and when training ends; "
                                    "saving it yourself removes the autosaved copy")
        self.restore_btn.setVisible(False)
        layout.addWidget(self.restore_btn)

    def enable(self, on: dict) -> None:
        for key, control in (("save", self.save_btn), ("load", self.load_btn), ("new_model", self.new_model_btn),
                             ("load", self.restore_btn), ("save", self.save_named_btn),
                             ("export", self.export_btn)):
            control.setEnabled(on[key])


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
