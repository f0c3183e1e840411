"""The widget's settings by name: a control for each option the configs declare
(:mod:`napari_unet.core.options`), made from its declaration, and the other choices the panels
remember between sessions. The configs the jobs run with are read from here."""

from __future__ import annotations

from qtpy.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QFormLayout, QSpinBox, QWidget

from napari_unet.core.config import PredictConfig, TrainConfig
from napari_unet.core.options import UNSET, default_of, help_of, one_of_each_group, optional, options, value_type

CONFIGS = (TrainConfig, PredictConfig)  # a name both declare (device) has one control, of the first


def spin_box(lo, hi, value, step=None, suffix="", tip="", decimals=None, special=""):
    """An integer box, or a float box with ``decimals``; ``special`` is shown at ``lo``."""
    box = QDoubleSpinBox() if decimals is not None else QSpinBox()
    if decimals is not None:
        box.setDecimals(decimals)
    box.setRange(lo, hi)
    if step is not None:
        box.setSingleStep(step)
    box.setValue(value if decimals is not None else int(value))
    if suffix:
        box.setSuffix(suffix)
    if special:
        box.setSpecialValueText(special)
    if tip:
        box.setToolTip(tip)
    return box


def make_control(f, opt) -> QWidget:
    """The control of an option: a checkbox, a list of its choices, or a number box."""
    start = default_of(f) if opt.start is UNSET else opt.start
    tip = opt.tip or help_of(f, opt)
    tip = tip[:1].upper() + tip[1:]
    if value_type(f) is bool:
        control = QCheckBox(opt.label)
        control.setChecked(bool(start))
    elif opt.choices:
        control = QComboBox()
        control.addItems([str(c) for c in opt.choices])
        if start in opt.choices:
            control.setCurrentText(str(start))
    else:
        control = spin_box(*opt.range, start, opt.step, opt.suffix, decimals=opt.decimals, special=opt.special)
    control.setToolTip(tip)
    return control


class Controls:
    def __init__(self):
        self.widgets: dict[str, QWidget] = {}
        self.declared: dict[str, tuple] = {}  # name -> (field, option) of the options with a control
        self.remembered: dict[str, QWidget] = {}  # what the settings keep between sessions

    def __getitem__(self, name: str) -> QWidget:
        return self.widgets[name]

    def __contains__(self, name: str) -> bool:
        return name in self.widgets

    def fill(self, form: QFormLayout, panel: str, advanced: bool = False) -> None:
        """Add to ``form`` the controls of the options declared for ``panel`` (its collapsed
        area when ``advanced``): boxes with their labels, then checkboxes."""
        boxes, checks = [], []
        for cls in CONFIGS:
            for f, opt in options(cls):
                if not opt.label or opt.panel != panel or opt.advanced != advanced or f.name in self.widgets:
                    continue
                control = self.widgets[f.name] = make_control(f, opt)
                self.declared[f.name] = (f, opt)
                if opt.remember:
                    self.remembered[f.name] = control
                (checks if isinstance(control, QCheckBox) else boxes).append((opt.label, control))
        for label, control in boxes:
            form.addRow(label, control)
        for _, control in checks:
            form.addRow(control)

    def remember(self, **controls: QWidget) -> None:
        """Keep these controls of a panel between sessions too."""
        self.remembered.update(controls)

    def value(self, name: str):
        """What a control says, as its config field takes it (None at an optional field's special value)."""
        control = self.widgets.get(name, self.remembered.get(name))
        if isinstance(control, QCheckBox):
            return control.isChecked()
        if isinstance(control, QComboBox):
            return control.currentText()
        value = control.value()
        if name not in self.declared:
            return value
        f, opt = self.declared[name]
        if opt.special and optional(f) and value == control.minimum():
            return None
        return value_type(f)(value)

    def config(self, cls):
        """The config ``cls`` as the controls set it (its defaults where it declares no control: the
        prediction's batch size is not the training's)."""
        values = {f.name: self.value(f.name) for f, opt in options(cls) if opt.label and f.name in self.declared}
        return cls(**one_of_each_group(cls, values))

    def follow_mode(self, mode: str) -> None:
        """Enable the controls of options for one mode only while that mode is chosen."""
        for name, (_, opt) in self.declared.items():
            if opt.only:
                self.widgets[name].setEnabled(mode == opt.only)
