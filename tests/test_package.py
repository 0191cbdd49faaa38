"""The package's front: every public name importable from the top, lazily, and
an import graph without cycles."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import resulttracker

PACKAGE = Path(resulttracker.__file__).parent


@pytest.mark.parametrize("name", resulttracker.__all__)
def test_every_public_name_is_importable_from_the_top(name: str) -> None:
    assert getattr(resulttracker, name) is not None
    assert name in dir(resulttracker)


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        resulttracker.nope  # noqa: B018


def test_importing_the_package_loads_no_backend_or_optional_dependency() -> None:
    code = (
        "import sys, resulttracker; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('resulttracker', 'fsspec', 'sqlalchemy', 'click', 'rich', 'pandas', 'aiohttp')))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert loaded.strip() == "['resulttracker']"


def _imports_of(path: Path) -> set[str]:
    """Modules of the package that ``path`` imports, at run time or for type checking."""
    module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if module.endswith(".__init__"):
        module = module.removesuffix(".__init__")
        package = module
    else:
        package = module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
            target = f"{base}.{node.module}" if node.module else base
            found.add(target)
            if not node.module:
                found.update(f"{base}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(
                alias.name for alias in node.names if alias.name.startswith("resulttracker")
            )
    return found


def test_the_import_graph_has_no_cycle() -> None:
    modules = {
        ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(
            ".__init__"
        ): path
        for path in PACKAGE.rglob("*.py")
    }
    # The package's __init__ re-exports lazily at run time; its static imports are
    # for type checkers only, so it is left out like any other front door.
    graph = {
        name: {target for target in _imports_of(path) if target in modules and target != name}
        for name, path in modules.items()
        if name != "resulttracker"
    }
    for edges in graph.values():
        edges.discard("resulttracker")
    visiting: list[str] = []
    done: set[str] = set()

    def visit(name: str) -> None:
        if name in done:
            return
        assert name not in visiting, "import cycle: " + " -> ".join([*visiting, name])
        visiting.append(name)
        for target in sorted(graph.get(name, ())):
            visit(target)
        visiting.pop()
        done.add(name)

    for name in sorted(graph):
        visit(name)


def test_the_model_module_imports_nothing_of_the_package_at_run_time() -> None:
    tree = ast.parse((PACKAGE / "model.py").read_text())
    runtime_imports = [
        node
        for node in tree.body
        if isinstance(node, (ast.Import, ast.ImportFrom))
        and (isinstance(node, ast.Import) or node.level or "resulttracker" in (node.module or ""))
        and not (isinstance(node, ast.ImportFrom) and node.module == "__future__")
    ]
    assert runtime_imports == []
