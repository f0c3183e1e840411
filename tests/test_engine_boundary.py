"""The engine stays GUI-free; the package import stays cheap."""

import json
import subprocess
import sys
from pathlib import Path

import napari_unet

PACKAGE = Path(napari_unet.__file__).parent
ENGINE = sorted(  # every module outside the widget's subpackage
    "napari_unet." + ".".join(p.relative_to(PACKAGE).with_suffix("").parts) for p in PACKAGE.rglob("*.py")
    if p.relative_to(PACKAGE).parts[0] != "widget" and p.name != "__init__.py"
)
GUI = ("qtpy", "PyQt5", "PyQt6", "PySide2", "PySide6", "napari", "magicgui", "vispy", "superqt")


def _modules_after(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys, json; print(json.dumps(sorted(sys.modules)))"],
                         capture_output=True, text=True, check=True)
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_engine_modules_import_no_gui():
    assert "napari_unet.core.train" in ENGINE and "napari_unet.cli" in ENGINE
    loaded = _modules_after("\n".join(f"import {m}" for m in ENGINE))
    gui = sorted(m for m in loaded if m.split(".")[0] in GUI)
    assert not gui, f"engine imports GUI modules: {gui}"
    assert "napari_unet.bioimageio.export" in ENGINE
    assert not [m for m in loaded if m.startswith("bioimageio")], "bioimageio is imported only to export or import"


def test_the_widget_does_not_import_bioimageio():
    loaded = _modules_after("import napari_unet.widget.dock")
    assert "napari_unet.widget.dock" in loaded and not [m for m in loaded if m.startswith("bioimageio")]


def test_engine_runs_without_gui():
    code = (
        "from napari_unet.core.samples import make_sample\n"
        "from napari_unet.core.config import ModelConfig, TrainConfig\n"
        "from napari_unet.core.train import fit\n"
        "from napari_unet.predict.pipeline import predict_labels\n"
        "s = make_sample(64)\n"
        "m = fit(s.image, s.strokes, TrainConfig(steps=2, patch_size=32, device='cpu'), "
        "model_config=ModelConfig(depth=2, base_channels=4)).model\n"
        "predict_labels(m, s.image)"
    )
    loaded = _modules_after(code)
    assert not [m for m in loaded if m.split(".")[0] in GUI]


def test_package_import_is_cheap():
    loaded = _modules_after("import napari_unet")
    assert "torch" not in loaded and not [m for m in loaded if m.split(".")[0] in GUI]
