"""Import hygiene: ``import s2sr`` stays light, and no s2sr modules import each other in a cycle.

Both are checked from the outside: the light imports in a fresh interpreter (a module once
loaded stays loaded, so the test process itself cannot tell), the cycles from the source
(module-level imports only; those under ``if TYPE_CHECKING:`` and inside functions are not
run at import time).
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import s2sr

SRC = Path(s2sr.__file__).parent
HEAVY = ("onnxruntime", "scipy", "rasterio")


def loaded_after(code: str) -> dict[str, bool]:
    """Which of :data:`HEAVY` are loaded after running ``code`` in a fresh interpreter."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps({{m: m in sys.modules for m in {HEAVY!r}}}))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=300)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_import_s2sr_loads_no_heavy_dependency() -> None:
    assert loaded_after("import s2sr; s2sr.__version__; s2sr.InputError") == dict.fromkeys(HEAVY, False)


def test_public_names_load_on_first_use() -> None:
    code = ("import sys\nimport s2sr, s2sr.models\n"
            "assert sorted(set(s2sr.__all__) - set(dir(s2sr))) == []\n"
            "card = s2sr.models.resolve_card('bicubic')\n"  # resolving a card needs no ONNX Runtime
            "assert 'onnxruntime' not in sys.modules\n"
            "s2sr.load_model\n")
    assert loaded_after(code)["onnxruntime"] is True


def test_every_public_name_resolves() -> None:
    for name in s2sr.__all__:
        assert getattr(s2sr, name) is not None, name
    with pytest.raises(AttributeError, match="no attribute 'no_such_name'"):
        s2sr.no_such_name  # noqa: B018


def test_version_loads_no_heavy_dependency() -> None:
    code = ("from s2sr.cli import main\n"
            "try:\n    main(['--version'])\nexcept SystemExit:\n    pass")
    assert loaded_after(code) == dict.fromkeys(HEAVY, False)


# -- import cycles ---------------------------------------------------------------------------
def module_name(path: Path) -> str:
    parts = ["s2sr", *path.relative_to(SRC).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_in(tree: ast.Module, *, in_functions: bool) -> Iterator[ast.Import | ast.ImportFrom]:
    """The imports of a module, but not those under ``if TYPE_CHECKING:`` (never run);
    ``in_functions``: also those inside functions (run on first call)."""
    todo: list[ast.AST] = list(tree.body)
    while todo:
        node = todo.pop()
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        elif isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            todo.extend(node.orelse)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) and not in_functions:
            continue
        else:
            todo.extend(ast.iter_child_nodes(node))


def import_graph(*, in_functions: bool = False) -> dict[str, set[str]]:
    """s2sr module → the s2sr modules it imports (at module level; ``in_functions``: anywhere)."""
    files = {module_name(p): p for p in SRC.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for mod, path in files.items():
        package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
        deps: set[str] = set()
        for node in imports_in(ast.parse(path.read_text(encoding="utf-8")), in_functions=in_functions):
            if isinstance(node, ast.Import):
                deps.update(a.name for a in node.names)
                continue
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                deps.add(sub if sub in files else base)
        graph[mod] = {d for d in deps if d in files and d != mod}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_cycle_check_sees_cycles() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles() -> None:
    graph = import_graph()
    assert "s2sr.products.raster" in graph["s2sr.products.base"]
    assert graph["s2sr.models.resolve"] >= {"s2sr.models.zoo", "s2sr.models.mlm"}  # `from . import zoo` counts
    assert cycles(graph) == []


def test_no_cycle_hidden_in_a_function() -> None:
    """An import inside a function defers a dependency (a heavy library until it is needed);
    it must not be how two modules that need each other get round a cycle."""
    graph = import_graph(in_functions=True)
    assert "s2sr.outputs.cog" in graph["s2sr.outputs.store"]  # Store.check imports it inside a function
    assert cycles(graph) == []
