"""The package's dependency rule (ARCHITECTURE.md), checked by parsing every import.

Layers, bottom to top; a module imports only its own layer or lower ones:

    settings, errors, registry -> stats, viz, weights -> data -> gan, exports
    -> evaluation, hub -> downstream -> ethics -> cli, dashboards, appkit, course

Nothing in the package imports ``appkit``, ``dashboards``, ``course`` or ``cli`` (the views on
top), no two modules import each other, directly or around a longer circle (lazy imports
inside functions count too: a circle is a circle whenever it is closed), and importing any
module of the package does not import the heavy optional libraries (Streamlit, medigan,
Playwright, ipywidgets).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "medgan_utils"
LAYERS = [
    {"settings", "errors", "registry"},
    {"stats", "viz", "weights"},
    {"data"},
    {"gan", "exports"},
    {"evaluation", "hub"},
    {"downstream"},
    {"ethics"},
    {"cli", "dashboards", "appkit", "course"},
]
VIEWS = {"cli", "dashboards", "appkit", "course"}
# Copied verbatim into medigan model packages as their __init__.py: its relative imports point
# into that package, not into medgan_utils, and the builder reads it as text.
STANDALONE = {"medgan_utils.hub.template"}
OPTIONAL = ("streamlit", "medigan", "playwright", "ipywidgets")


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _resolve(name: str) -> str | None:
    """The package module ``name`` refers to (``a.b.c`` may be the attribute ``c`` of ``a.b``)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imports(module: str) -> set[str]:
    """Every package module ``module`` imports, at the top or inside functions."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            targets = [f"{base}.{a.name}" for a in node.names] + [base]
        for target in targets:
            if target.split(".")[0] != "medgan_utils":
                continue
            resolved = _resolve(target)
            if resolved and resolved != module:
                found.add(resolved)
    # "from pkg import sub" names both pkg and pkg.sub: keep the most specific
    return {m for m in found if not any(o.startswith(m + ".") for o in found)} or found


GRAPH = {m: _imports(m) for m in MODULES if m not in STANDALONE}


def _unit(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _layer(module: str) -> int:
    unit = _unit(module)
    for i, units in enumerate(LAYERS):
        if unit in units:
            return i
    raise AssertionError(f"{module}: its folder/module {unit!r} has no layer in LAYERS")


def test_every_module_has_a_layer():
    for module in GRAPH:
        if module != "medgan_utils":  # the package's __init__ re-exports; checked below
            _layer(module)


def test_no_module_imports_a_layer_above_it():
    upward = [
        f"{m} (layer {_layer(m)}) imports {d} (layer {_layer(d)})"
        for m, deps in GRAPH.items()
        if m != "medgan_utils"
        for d in deps
        if d != "medgan_utils" and _layer(d) > _layer(m)
    ]
    assert not upward, "imports against the dependency rule:\n" + "\n".join(sorted(upward))


def test_nothing_imports_the_views():
    bad = [
        f"{m} imports {d}"
        for m, deps in GRAPH.items()
        for d in deps
        if _unit(d) in VIEWS and _unit(m) != _unit(d)
    ]
    assert not bad, "only the app, notebooks and tests may use these:\n" + "\n".join(bad)


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one member (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in graph:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_circles_between_modules():
    graph = {m: d for m, d in GRAPH.items() if m != "medgan_utils"}
    assert _cycles(graph) == []


def test_no_import_circles_between_folders():
    units: dict[str, set[str]] = {}
    for m, deps in GRAPH.items():
        if m == "medgan_utils":
            continue
        units.setdefault(_unit(m), set()).update(_unit(d) for d in deps if _unit(d) != _unit(m))
    assert _cycles(units) == []


def test_the_cycle_finder_finds_cycles():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_the_rule_sees_lazy_and_from_package_imports():
    deps = GRAPH["medgan_utils.hub.export"]
    assert "medgan_utils.gan.models" in deps  # imported inside a function, as a submodule


# Run, never imported: the Streamlit page (streamlit runs it; importing it would serve it).
SCRIPTS = {"medgan_utils.appkit.streamlit_app"}


@pytest.mark.parametrize("names", [OPTIONAL])
def test_importing_every_module_imports_no_optional_library(names):
    modules = [m for m in sorted(GRAPH) if m not in SCRIPTS and not m.endswith("__main__")]
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}:\n"
        "    importlib.import_module(m)\n"
        f"loaded = [n for n in {names!r} if n in sys.modules]\n"
        "assert not loaded, f'imported at module level: {loaded}'\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
