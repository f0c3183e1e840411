"""An option is declared once, as a config field: its command-line flag, its widget control and
its remembered setting all come from that declaration (real napari window, Xvfb)."""

from dataclasses import dataclass

import numpy as np
from conftest import need

napari = need("napari", "testing")

from widget_helpers import (  # noqa: E402,F401 (fixtures)
    add_widget, engine_prediction, isolated_settings, predict, viewer, widget,
)

from napari_unet.core.config import ModelConfig, PredictConfig, TrainConfig  # noqa: E402
from napari_unet.core.options import UNSET, default_of, flag_of, option, options, switch_of, value_type  # noqa: E402
from napari_unet.flags import add_options, build_parser, given  # noqa: E402

COMMANDS = {ModelConfig: ["train", "--images", "a", "--labels", "b", "--out", "m"],
            TrainConfig: ["train", "--images", "a", "--labels", "b", "--out", "m"],
            PredictConfig: ["predict", "--model", "m", "--images", "a", "--out-dir", "o"]}
TEXTS = {"class_weights": ("2,1", [2.0, 1.0]), "diameter": ("30", 30.0)}  # flags that parse their text


def _other_value(control):
    """Set a control to a value that is not its first one; returns the value."""
    if hasattr(control, "isChecked"):
        control.setChecked(not control.isChecked())
        return control.isChecked()
    if hasattr(control, "currentText"):
        control.setCurrentIndex(control.count() - 1)
        return control.currentText()
    control.setValue(control.maximum())
    return control.value()


def test_every_option_has_its_flag_its_control_and_is_remembered(widget, make_napari_viewer):
    declared = [(cls, f, opt) for cls in COMMANDS for f, opt in options(cls)]
    # the command line: every flag sets its field
    for cls, f, opt in declared:
        flag = flag_of(f, opt)
        if not flag:
            continue
        switch = switch_of(f, opt)
        if switch is not UNSET:
            text, expected = [], switch
        elif f.name in TEXTS:
            text, expected = [TEXTS[f.name][0]], TEXTS[f.name][1]
        elif opt.choices:
            text, expected = [opt.choices[-1]], opt.choices[-1]
        else:
            expected = value_type(f)(3)
            text = [str(expected)]
        assert given(build_parser().parse_args([*COMMANDS[cls], flag, *text]), cls)[f.name] == expected, flag
    # the widget: every option with a label has a control, read into the config and remembered
    with_control = [(cls, f, opt) for cls, f, opt in declared if opt.label]
    assert {"min_confidence", "object_margin", "diameter", "steps", "mode", "device"} <= {f.name for _, f, _ in
                                                                                          with_control}
    for cls in (TrainConfig, PredictConfig):  # a field without a control of its own keeps its default
        config = widget.controls.config(cls)
        assert all(getattr(config, f.name) == default_of(f) for f, opt in options(cls) if not opt.label)
    chosen = {f.name: _other_value(widget.controls[f.name]) for _, f, _ in with_control}
    for cls in (TrainConfig, PredictConfig):
        config = widget.controls.config(cls)
        for f, opt in options(cls):
            if opt.label and not opt.exclusive:
                assert getattr(config, f.name) == value_type(f)(chosen[f.name]), f.name
    widget.ctx.save_settings()
    _, again = make_napari_viewer().window.add_plugin_dock_widget("napari-unet", "U-Net from strokes")
    assert {name: again.controls.value(name) for name in chosen} == {
        name: widget.controls.value(name) for name in chosen}


def test_a_new_option_is_one_field(qtbot, monkeypatch):
    """A field declared with option() gets a flag, a control in its panel and a remembered setting."""
    from napari_unet.widget import controls as controls_module
    from napari_unet.widget.controls import Controls
    from napari_unet.widget.panels import PredictPanel

    @dataclass
    class WithBlur(PredictConfig):
        blur: float = option(0.0, help="smooth the probabilities by this many pixels (default: %(default)s)",
                             label="Blur", panel="prediction", range=(0.0, 5.0), step=0.5, decimals=1)

    import argparse

    parser = argparse.ArgumentParser()
    add_options(parser, WithBlur)
    assert given(parser.parse_args(["--blur", "1.5"]), WithBlur)["blur"] == 1.5
    assert "by this many pixels (default: 0)" in " ".join(parser.format_help().split())
    monkeypatch.setattr(controls_module, "CONFIGS", (TrainConfig, WithBlur))
    controls = Controls()
    panel = PredictPanel(controls)
    qtbot.addWidget(panel)
    controls["blur"].setValue(2.5)
    assert "blur" in controls.remembered and controls.config(WithBlur).blur == 2.5
    assert controls["blur"].toolTip().startswith("Smooth the probabilities")


def test_the_object_margin_and_sure_core_reach_the_engine(qtbot, viewer, trained, image_is_probability, monkeypatch):
    """Prediction's advanced settings: the sure core's confidence keeps or drops a faint nucleus
    (instance mode only), the object margin draws the nuclei smaller. Here the image is the
    network's P(background): a sure nucleus on the left, one at most 80 % sure on the right."""
    import copy

    import napari_unet.predict.pipeline

    yy, xx = np.mgrid[:64, :128]
    sure = np.clip((np.hypot(yy - 32, xx - 32) - 6) / 20, 0, 1)
    faint = np.clip(0.2 + np.hypot(yy - 32, xx - 96) / 20, 0, 1)
    viewer.add_image(np.minimum(sure, faint).astype(np.float32), name="cells")
    w = add_widget(viewer)
    margin, core = w.controls["object_margin"], w.controls["min_confidence"]
    assert (margin.value(), core.value()) == (0.5, 0.9)  # the engine's defaults
    assert margin.isEnabled() and not core.isEnabled()  # semantic mode
    model = copy.deepcopy(trained)
    model.mode, model.history.sparse = "instance", True
    w.model = model
    w.refresh()
    assert w.controls["mode"].currentText() == "instance" and core.isEnabled()
    seen, engine = [], napari_unet.predict.pipeline.predict

    def spy(model, image, config, **kwargs):
        seen.append(config)
        return (yield from engine(model, image, config, **kwargs))

    monkeypatch.setattr(napari_unet.predict.pipeline, "predict", spy)
    results = []
    for confidence, odds in ((0.9, 0.5), (0.6, 0.5), (0.6, 0.0)):
        core.setValue(confidence)
        margin.setValue(odds)
        results.append(predict(qtbot, w).data.copy())
        assert (seen[-1].min_confidence, seen[-1].object_margin) == (confidence, odds)
        np.testing.assert_array_equal(results[-1], engine_prediction(w, viewer.layers["cells"].data))
    assert [r.max() for r in results] == [1, 2, 2]  # the faint nucleus is kept below 0.9
    assert (results[2] > 0).sum() > (results[1] > 0).sum()  # no margin: larger nuclei
