"""What import-linter's contracts do not see: a package's ``__init__`` and its own modules, and
what importing the relay's model loads.
"""

from __future__ import annotations

import ast
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[3]
PACKAGES = ("apps", "eda_console")


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported_names(path: Path) -> list[tuple[int, str]]:
    """Every module an import statement of ``path`` names, relative imports resolved."""
    package = _module_name(path) if path.name == "__init__.py" else _module_name(path).rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                found.append((node.lineno, ".".join(base + ([node.module] if node.module else []))))
            elif node.module:
                found.append((node.lineno, node.module))
    return found


def test_no_module_imports_through_a_package_init_that_imports_it() -> None:
    """``from package import x`` inside ``package``, when the package's ``__init__`` imports that
    very module: an import cycle between the package and its modules, which works only by the
    order the ``__init__`` happens to import them in."""
    graph = grimp.build_graph(*PACKAGES)
    found = [
        f"{path.relative_to(ROOT)}:{line} imports {name}, whose __init__ imports it"
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
        if "migrations" not in path.parts
        for line, name in _imported_names(path)
        if _module_name(path).startswith(f"{name}.") and _module_name(path) in graph.find_upstream_modules(name)
    ]
    assert found == []


def test_importing_the_relay_model_does_not_load_the_kafka_client() -> None:
    # Python runs every enclosing package's __init__ first; grimp also counts imports made
    # inside functions, so this is stricter than what one import would load at run time.
    graph = grimp.build_graph(*PACKAGES, include_external_packages=True)
    loaded = {"apps", "apps.messaging", "apps.messaging.relay", "apps.messaging.relay.models"}
    reached = set().union(*(graph.find_upstream_modules(module) for module in loaded))
    assert not {module for module in reached if module == "kafka" or module.startswith("kafka.")}
