"""``napari-unet doctor``: what is installed, what each optional feature needs, and the fix."""

from __future__ import annotations

import platform
import sys

# distribution names whose versions matter, in the order they are printed
PACKAGES = ("torch", "numpy", "scipy", "scikit-image", "dask", "zarr", "napari", "magicgui", "superqt",
            "qtpy", "PyQt6", "PyQt5", "PySide6", "distributed", "bioimageio.core", "bioimageio.spec", "pydantic")


def version(distribution: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def device_line() -> str:
    """Which device ``--device auto`` trains on, and what torch sees."""
    try:
        import torch

        from napari_unet.core.device import resolve_device
    except Exception as err:  # noqa: BLE001 (a broken torch install is what this command is for)
        return f"device: torch does not import ({type(err).__name__}: {err})"
    cuda = (f"CUDA {torch.version.cuda}, {torch.cuda.device_count()} GPU(s): {torch.cuda.get_device_name(0)}"
            if torch.cuda.is_available() else "no CUDA GPU")
    mps = getattr(torch.backends, "mps", None)
    apple = ", Apple MPS" if mps is not None and mps.is_available() else ""
    return f"device: auto trains on {resolve_device('auto')} ({cuda}{apple}; {torch.get_num_threads()} CPU threads)"


def qt_line() -> str:
    """The Qt binding qtpy picks (the widget's), or why there is none."""
    try:
        import qtpy
    except Exception as err:  # noqa: BLE001 (qtpy raises its own error when no binding imports)
        return f"Qt binding: none ({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''})"
    return f"Qt binding: {qtpy.API_NAME} {qtpy.PYQT_VERSION or qtpy.PYSIDE_VERSION} (Qt {qtpy.QT_VERSION})"


def report() -> tuple[list[str], bool]:
    """The lines ``doctor`` prints, and whether every optional feature is usable."""
    from napari_unet import __version__
    from napari_unet.core.extras import FEATURES, import_problems, install_command

    lines = [f"napari-unet {__version__} on Python {platform.python_version()} ({sys.executable})", "versions:"]
    lines += [f"  {name} {version(name)}" for name in PACKAGES if version(name)]
    lines += [device_line(), qt_line(), "features:"]
    lines.append("  training and prediction (CLI, Python): "
                 + ("usable" if version("torch") else f"torch missing: {sys.executable} -m pip install torch"))
    complete = True
    for f in FEATURES:
        problems = import_problems(f)
        if not problems:
            lines.append(f"  {f.name}: usable")
            continue
        complete = False
        lines.append(f"  {f.name}: NOT usable ({'; '.join(problems)})")
        lines.append(f"    fix: {install_command(f.extra)}")
    return lines, complete
