"""The widget's settings, remembered between sessions (QSettings): every control that
:class:`~napari_unet.widget.controls.Controls` remembers, by name."""

from __future__ import annotations

from qtpy.QtCore import QSettings
from qtpy.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox


def save_settings(controls) -> None:
    s = QSettings("napari-unet", "widget")
    for key, w in controls.remembered.items():
        if isinstance(w, QComboBox):
            s.setValue(key, w.currentText())
        elif isinstance(w, QCheckBox):
            s.setValue(key, int(w.isChecked()))
        else:
            s.setValue(key, w.value())


def load_settings(controls) -> None:
    s = QSettings("napari-unet", "widget")
    for key, w in controls.remembered.items():
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
