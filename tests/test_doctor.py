"""The install check (``napari-unet doctor``), the extras a missing package names, and the lock."""

import re
import sys
from importlib import metadata

import pytest
from conftest import ROOT

from napari_unet.cli import main


def _lines(capsys) -> list[str]:
    return capsys.readouterr().out.splitlines()


def test_doctor_prints_versions_device_and_that_every_feature_is_usable(capsys):
    assert main(["doctor"]) == 0  # the [testing] extra installs every optional feature
    lines = _lines(capsys)
    versions = {line.split()[0] for line in lines if line.startswith("  ") and len(line.split()) == 2}
    assert {"torch", "numpy", "dask", "distributed", "napari", "bioimageio.core", "bioimageio.spec"} <= versions
    assert any(line.startswith("device: auto trains on ") for line in lines)
    assert any(re.match(r"Qt binding: (PyQt|PySide)\d", line) for line in lines)
    features = [line for line in lines if line.endswith(": usable")]
    assert len(features) == 4 and not [line for line in lines if "NOT usable" in line]


def test_a_missing_package_is_named_with_the_command_that_installs_its_extra(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if it were not installed
    assert main(["doctor"]) == 1
    lines = _lines(capsys)
    i = next(i for i, line in enumerate(lines) if line.startswith("  prediction on a dask cluster"))
    assert "NOT usable" in lines[i] and "distributed" in lines[i]
    assert lines[i + 1] == f'    fix: {sys.executable} -m pip install -e "{ROOT}[distributed]"'
    assert sum(line.endswith(": usable") for line in lines) == 3  # the others still work


def test_no_qt_binding_makes_the_widget_unusable_and_says_so(monkeypatch, capsys):
    for name in ("qtpy", "qtpy.QtWidgets"):
        monkeypatch.setitem(sys.modules, name, None)
    assert main(["doctor"]) == 1
    text = "\n".join(_lines(capsys))
    assert "Qt binding: none" in text
    assert re.search(r"the napari widget: NOT usable \(qtpy\.QtWidgets: .*\)\n    fix: .*\[napari\]", text)


def test_install_command_for_editable_and_regular_installs(monkeypatch):
    from napari_unet.core import extras

    assert extras.install_command("napari") == f'{sys.executable} -m pip install -e "{ROOT}[napari]"'
    monkeypatch.setattr(extras, "_editable_folder", lambda: None)
    assert extras.install_command("napari") == f'{sys.executable} -m pip install "napari-unet[napari]"'


def test_cluster_prediction_export_and_demo_name_the_extra_they_miss(monkeypatch, capsys, tmp_path, trained, sample):
    import tifffile

    from napari_unet.models.checkpoint import save_model

    model = save_model(trained, tmp_path / "m.pt")
    tifffile.imwrite(tmp_path / "a.tif", sample.image)
    cases = [
        ("distributed", ["predict", "--model", str(model), "--images", str(tmp_path / "a.tif"),
                         "--out-dir", str(tmp_path / "out"), "--workers", "2"]),
        ("bioimageio.core", ["export", "--model", str(model), "--out", str(tmp_path / "m.zip")]),
        ("napari", ["demo", "--napari", "--steps", "1", "--out-dir", str(tmp_path / "demo")]),
    ]
    for module, argv in cases:
        with monkeypatch.context() as m:
            m.setitem(sys.modules, module, None)
            assert main(argv) == 2
        out, err = capsys.readouterr()
        extra = {"bioimageio.core": "bioimageio"}.get(module, module)
        assert err.startswith("napari-unet: error: ") and f'[{extra}]"' in err and "pip install" in err, err
        assert len(err.strip().splitlines()) == 1 and "trained" not in out  # refused before any work
    assert not (tmp_path / "out").exists() and not (tmp_path / "m.zip").exists()


def test_the_lock_pins_every_requirement_of_the_test_set_up():
    """constraints.txt (scripts/lock_requirements.py) must pin each package the README's test
    command installs, or CI would take that one from whatever the index offers that day."""
    lock = (ROOT / "constraints.txt").read_text().splitlines()
    pinned = {_norm(line.split("==")[0]) for line in lock if "==" in line and not line.startswith("#")}
    wanted = set()
    for req in metadata.requires("napari-unet") or []:
        name, _, marker = req.partition(";")
        extras = set(re.findall(r'extra == "([^"]+)"', marker))
        if not extras or extras & {"testing", "bioimageio", "distributed"}:
            wanted.add(_norm(re.split(r"[\[<>=!~ ]", name.strip())[0]))
    wanted.discard("napari-unet")
    assert wanted and not (wanted - pinned), f"not in constraints.txt: {sorted(wanted - pinned)}"
    assert all(re.fullmatch(r"[A-Za-z0-9_.\-]+==[A-Za-z0-9_.\-!]+", line) for line in lock
               if line and not line.startswith("#"))


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@pytest.mark.parametrize("argv", [["--version"]])
def test_version(argv, capsys):
    from napari_unet import __version__

    with pytest.raises(SystemExit) as done:
        main(argv)
    assert done.value.code == 0 and capsys.readouterr().out.strip() == f"napari-unet {__version__}"
