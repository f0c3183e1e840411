"""The package's layout is its architecture (docs/architecture.md): imports run one way, down the
layers; no import circle; no private name used across modules; modules and classes stay small."""

import ast
from pathlib import Path

import napari_unet

PACKAGE = Path(napari_unet.__file__).parent
# lowest first: a module may import its own layer and the layers below it, never one above
LAYERS = ["core", "models", "predict", "review", "trainer", "bioimageio", "widget", "faces"]


def _modules() -> dict[str, Path]:
    return {"napari_unet." + ".".join(p.relative_to(PACKAGE).with_suffix("").parts).removesuffix(".__init__"): p
            for p in PACKAGE.rglob("*.py")}


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 2 and parts[1] in LAYERS else "faces"


def _imports(path: Path, module: str):
    """``(imported module, names)`` of every napari_unet import in ``path``, at any depth."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                target = base + ("." + node.module if node.module else "")
            else:
                target = node.module or ""
            if target.split(".")[0] == "napari_unet":
                yield target, [a.name for a in node.names]
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] == "napari_unet":
                    yield a.name, []


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    graph = {}
    for module, path in modules.items():
        deps = set()
        for target, names in _imports(path, module):
            for name in names:  # "from package import module" imports the module
                if f"{target}.{name}" in modules:
                    deps.add(f"{target}.{name}")
            if target in modules and not (target != "napari_unet" and all(f"{target}.{n}" in modules for n in names)
                                          and names):
                deps.add(target)
        graph[module] = deps - {module}
    return graph


def test_imports_run_down_the_layers():
    up = [f"{m} -> {d}" for m, deps in _graph().items() for d in deps
          if d != "napari_unet" and LAYERS.index(_layer(d)) > LAYERS.index(_layer(m))]
    assert not up, "imports that run up a layer:\n" + "\n".join(sorted(up))


def test_no_import_circle():
    graph, index, low, stack, on, circles = _graph(), {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            scc = []
            while True:
                w = stack.pop()
                on.discard(w)
                scc.append(w)
                if w == v:
                    break
            if len(scc) > 1:
                circles.append(sorted(scc))

    for v in graph:
        if v not in index:
            visit(v)
    assert not circles, f"import circles: {circles}"


def test_no_private_name_is_imported_from_another_module():
    private = [f"{m}: {t}.{n}" for m, p in _modules().items() for t, names in _imports(p, m)
               for n in names if n.startswith("_") and n != "__version__"]
    assert not private, "private names used across modules:\n" + "\n".join(private)


def test_modules_and_classes_stay_small():
    big = []
    for module, path in _modules().items():
        text = path.read_text()
        if len(text.splitlines()) > 400:
            big.append(f"{module}: {len(text.splitlines())} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ClassDef) and node.end_lineno - node.lineno + 1 > 250:
                big.append(f"{module}.{node.name}: {node.end_lineno - node.lineno + 1} lines")
    assert not big, "\n".join(big)


def test_the_checker_sees_an_upward_import_and_a_circle(tmp_path, monkeypatch):
    """The rules above can fail: a core module importing the widget breaks both."""
    graph = _graph()
    graph["napari_unet.core.config"] = graph["napari_unet.core.config"] | {"napari_unet.widget.dock"}
    monkeypatch.setattr(__import__(__name__), "_graph", lambda: graph)
    for rule in (test_imports_run_down_the_layers, test_no_import_circle):
        try:
            rule()
        except AssertionError:
            continue
        raise AssertionError(f"{rule.__name__} missed core -> widget")
