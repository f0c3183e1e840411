"""The widget's settings, remembered between sessions (QSettings)."""

from __future__ import annotations

from qtpy.QtCore import QSettings
from qtpy.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox

KEYS = ("mode", "time_budget", "device", "model_size", "tile_size", "object_size", "steps", "batch_size",
        "patch_size", "learning_rate", "edge_weight", "seed", "tta", "probabilities", "current_slice", "all_images",
        "uncertainty", "transparent", "outlines", "opacity", "copy_what")


def save_settings(widget) -> None:
    s = QSettings("napari-unet", "widget")
    for key in KEYS:
        w = getattr(widget, key)
        if isinstance(w, QComboBox):
            s.setValue(key, w.currentText())
        elif isinstance(w, QCheckBox):
            s.setValue(key, int(w.isChecked()))
        else:
            s.setValue(key, w.value())


def load_settings(widget) -> None:
    s = QSettings("napari-unet", "widget")
    for key in KEYS:
        w, value = getattr(widget, key), s.value(key)
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
