"""Check that the README's test set-up resolves today on several Pythons, without installing it.

    python3 scripts/check_resolve.py [python3.10 python3.11 python3.12 ...]

For each interpreter: a fresh virtual environment, then ``pip install --dry-run --report`` of
``torch>=2.1 -e ".[testing]"`` (no constraints file), and the versions pip would pick for the
packages that broke before (dask and distributed must be a matching pair). Exit status 1 when
one does not resolve or pairs them wrongly.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHOWN = ("torch", "numpy", "dask", "distributed", "zarr", "napari", "pyqt6", "bioimageio-core", "pydantic")


def check(python: str) -> bool:
    env = {k: v for k, v in os.environ.items() if k != "PIP_CONSTRAINT"}
    with tempfile.TemporaryDirectory(prefix="napari-unet-resolve-") as tmp:
        venv = Path(tmp) / "venv"
        subprocess.run([python, "-m", "venv", str(venv)], check=True)
        pip = [str(venv / "bin" / "python"), "-m", "pip"]
        subprocess.run([*pip, "install", "-q", "--upgrade", "pip"], env=env, check=True)
        report = Path(tmp) / "report.json"
        done = subprocess.run([*pip, "install", "--dry-run", "--ignore-installed", "-q", "--report", str(report),
                               "torch>=2.1", "-e", ".[testing]"], cwd=ROOT, env=env, capture_output=True, text=True)
        if done.returncode:
            print(f"{python}: does NOT resolve\n{done.stderr.strip()[-2000:]}")
            return False
        picked = {item["metadata"]["name"].lower().replace("_", "-").replace(".", "-"): item["metadata"]["version"]
                  for item in json.loads(report.read_text())["install"]}
    version = subprocess.run([python, "-c", "import platform; print(platform.python_version())"],
                             capture_output=True, text=True, check=True).stdout.strip()
    shown = ", ".join(f"{n} {picked[n]}" for n in SHOWN if n in picked)
    paired = picked.get("dask") == picked.get("distributed")
    print(f"Python {version}: resolves ({len(picked)} packages): {shown}"
          + ("" if paired else "  <- dask and distributed do NOT match"))
    return paired


def main(argv: list[str]) -> int:
    pythons = argv or [p for p in ("python3.10", "python3.11", "python3.12") if shutil.which(p)]
    results = [check(p) for p in pythons]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
