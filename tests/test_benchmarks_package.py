"""``benchmarks/`` is one importable package, run as ``python -m benchmarks.NAME``: every module
imports with the core dependencies alone (optional packages are imported where they are used),
no module (nor a script in ``scripts/``) edits ``sys.path``, and none reaches for a private
name of napari_unet or of another benchmark module."""

import ast
import importlib
import importlib.util
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import benchmarks

HERE = Path(benchmarks.__file__).resolve().parent
ROOT = HERE.parent
MODULES = sorted(m.name for m in pkgutil.iter_modules([str(HERE)]))
SOURCES = sorted(HERE.glob("*.py")) + sorted((ROOT / "scripts").glob("*.py"))
OURS = ("napari_unet", "benchmarks")
# the extras a benchmark may need (napari, the [benchmarks] extra, bioimage.io, a cluster):
# importing a module must not need them
OPTIONAL = ("napari", "qtpy", "magicgui", "superqt", "sklearn", "monai", "bioimageio", "distributed", "matplotlib")


def test_every_file_is_a_module_of_the_package():
    assert MODULES == sorted(p.stem for p in HERE.glob("*.py") if p.stem != "__init__")
    assert len(MODULES) >= 20


@pytest.mark.parametrize("name", MODULES)
def test_module_imports(name):
    module = importlib.import_module(f"benchmarks.{name}")
    assert module.__doc__, f"benchmarks.{name} says what it measures in its docstring"


def test_modules_import_without_the_optional_packages():
    """In a fresh interpreter where the optional packages cannot be imported."""
    code = f"""
import importlib, importlib.abc, sys

class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {OPTIONAL!r}:
            raise ImportError(f"{{name}} is blocked")

sys.meta_path.insert(0, Block())
for name in {MODULES!r}:
    importlib.import_module("benchmarks." + name)
"""
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]


def test_imports_of_ours_resolve():
    """Imports inside functions run only when a benchmark does: each name taken from napari_unet
    or the benchmarks must exist (a module moved in the source must not break a benchmark
    silently)."""
    missing = []
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and _ours(node.module, 0):
                module = importlib.import_module(node.module)
                for a in node.names:
                    if not hasattr(module, a.name) and importlib.util.find_spec(f"{node.module}.{a.name}") is None:
                        missing.append(f"{path.name}:{node.lineno}: from {node.module} import {a.name}")
            elif isinstance(node, ast.Import):
                for a in node.names:
                    if _ours(a.name, 0) and importlib.util.find_spec(a.name) is None:
                        missing.append(f"{path.name}:{node.lineno}: import {a.name}")
    assert missing == []


def _ours(module: str | None, level: int) -> bool:
    return level > 0 or (module or "").split(".")[0] in OURS


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def problems(tree: ast.AST) -> list[str]:
    """``sys.path`` edits and private names taken from napari_unet or the benchmarks."""
    out, bound = [], set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "sys" \
                and node.attr == "path":
            out.append(f"line {node.lineno}: sys.path")
        elif isinstance(node, ast.ImportFrom):
            if node.module == "sys" and any(a.name == "path" for a in node.names):
                out.append(f"line {node.lineno}: from sys import path")
            if _ours(node.module, node.level):
                parts = (node.module or "").split(".")
                out += [f"line {node.lineno}: from {node.module} import {a.name}" for a in node.names
                        if _private(a.name) or any(map(_private, parts))]
                bound |= {a.asname or a.name for a in node.names}
        elif isinstance(node, ast.Import):
            for a in node.names:
                if _ours(a.name, 0):
                    if any(map(_private, a.name.split("."))):
                        out.append(f"line {node.lineno}: import {a.name}")
                    bound.add(a.asname or a.name.split(".")[0])
    for node in ast.walk(tree):  # module._name on what was imported from us
        if isinstance(node, ast.Attribute) and _private(node.attr) and isinstance(node.value, ast.Name) \
                and node.value.id in bound:
            out.append(f"line {node.lineno}: {node.value.id}.{node.attr}")
    return out


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_no_sys_path_edits_and_no_private_imports(path):
    assert problems(ast.parse(path.read_text(), str(path))) == []


def test_the_check_finds_what_it_looks_for():
    bad = """
import sys
sys.path.insert(0, "x")
from napari_unet.predict.pipeline import _best_values
from benchmarks.strokes import _middle_stroke
from . import _helpers
import napari_unet._widget
from benchmarks import ctc
ctc._private()
from collections import _private_but_not_ours
"""
    found = problems(ast.parse(bad))
    assert len(found) == 6, found
