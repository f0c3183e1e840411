"""CI's strict mode: a test that skips for want of a package of an extra (``need`` or a bare
``importorskip``), or for real data missing while the data folder exists, fails the run; other
skips do not. Runs pytest on a small test folder with this project's conftest."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SKIPS = {
    "need": "from conftest import need\n\ndef test_it():\n    need('no_such_module_xyz', 'distributed')\n",
    "importorskip": "import pytest\n\ndef test_it():\n    pytest.importorskip('no_such_module_xyz')\n",
    "data": "from conftest import data_dir\n\ndef test_it():\n    data_dir('no-such-set')\n",
    "other": "import pytest\n\n@pytest.mark.skip(reason='no CUDA device')\ndef test_it():\n    pass\n",
}


def _run(tmp_path: Path, kind: str, strict: bool) -> subprocess.CompletedProcess:
    folder = tmp_path / f"{kind}-{'strict' if strict else 'plain'}"
    folder.mkdir()
    shutil.copy(Path(__file__).with_name("conftest.py"), folder / "conftest.py")
    (folder / "test_one.py").write_text(SKIPS[kind])
    (tmp_path / "data").mkdir(exist_ok=True)  # a data folder that exists
    env = {**os.environ, "NAPARI_UNET_DATA": str(tmp_path / "data"), "NAPARI_UNET_STRICT_SKIPS": "1" if strict else ""}
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(folder)], cwd=folder,
                          env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("kind", ["need", "importorskip", "data"])
def test_a_skip_for_a_missing_package_or_data_fails_in_strict_mode_only(tmp_path, kind):
    assert _run(tmp_path, kind, strict=False).returncode == 0
    strict = _run(tmp_path, kind, strict=True)
    assert strict.returncode != 0, strict.stdout
    assert "no_such_module_xyz" in strict.stdout or "no-such-set" in strict.stdout


def test_other_skips_pass_in_strict_mode(tmp_path):
    result = _run(tmp_path, "other", strict=True)
    assert result.returncode == 0 and "1 skipped" in result.stdout, result.stdout
