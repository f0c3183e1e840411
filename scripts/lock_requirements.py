"""Write constraints.txt: the exact versions the whole test suite passed with.

    python3 scripts/lock_requirements.py [--python python3] [--out constraints.txt]

Installs the README's test set-up (``torch==2.13.0 -e ".[testing]"``) into a fresh virtual
environment, with no constraints of the project's (whatever the package index offers today), runs
the README's test command there (under Xvfb when ``xvfb-run`` exists, skips of optional packages and
of present real data counted as failures) with ``pip freeze`` of that environment, without local
version labels (``+cpu``), written to ``--out``, and puts the old file back if the suite fails. CI installs with it
(``PIP_CONSTRAINT=constraints.txt``), so a release on the index cannot break a CI run; rerun this
script to move the lock forward.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
INSTALL = ["torch==2.13.0", "-e", ".[testing]"]


def run(cmd: list[str], env: dict) -> None:
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, cwd=ROOT, env=env, check=True)


def frozen(python: Path, env: dict) -> list[str]:
    out = subprocess.run([str(python), "-m", "pip", "freeze", "--exclude-editable"], cwd=ROOT, env=env,
                         capture_output=True, text=True, check=True).stdout
    pins = []
    for line in out.splitlines():
        if "==" not in line or line.startswith("#"):
            continue
        name, version = line.split("==", 1)
        pins.append(f"{name}=={version.split('+')[0]}")  # torch 2.13.0+cpu: the same release anywhere
    return sorted(pins, key=str.lower)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", default="python3", help="interpreter of the environment (default: python3)")
    parser.add_argument("--out", default=str(ROOT / "constraints.txt"))
    args = parser.parse_args(argv)
    env = {k: v for k, v in os.environ.items() if k != "PIP_CONSTRAINT"}  # today's index, not the old lock
    env["NAPARI_UNET_STRICT_SKIPS"] = "1"
    with tempfile.TemporaryDirectory(prefix="napari-unet-lock-") as tmp:
        venv = Path(tmp) / "venv"
        run([args.python, "-m", "venv", str(venv)], env)
        python = venv / "bin" / "python"
        run([str(python), "-m", "pip", "install", "-q", *INSTALL], env)
        pins = frozen(python, env)
        version = subprocess.run([str(python), "-c", "import platform; print(platform.python_version())"],
                                 capture_output=True, text=True, check=True).stdout.strip()
        header = [
            "# The exact versions the whole test suite passed with; written by scripts/lock_requirements.py",
            f"# on {datetime.date.today()} with Python {version} on {platform.system()} {platform.machine()}.",
            '# Use: PIP_CONSTRAINT=constraints.txt pip install torch==2.13.0 -e ".[testing]"',
        ]
        out = Path(args.out)
        before = out.read_text() if out.is_file() else None
        out.write_text("\n".join(header + pins) + "\n")  # the suite checks the lock it is about to become
        xvfb = ["xvfb-run", "-a", "-s", "-screen 0 1280x1024x24"] if shutil.which("xvfb-run") else []
        try:
            run([*xvfb, str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider"], env)
        except subprocess.CalledProcessError as err:
            if before is None:
                out.unlink()
            else:
                out.write_text(before)
            print(f"the suite failed (exit status {err.returncode}); {args.out} is unchanged", file=sys.stderr)
            return 1
    print(f"wrote {args.out} ({len(pins)} pins)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
