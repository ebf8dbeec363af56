"""Dependencies point one way: console -> (sagas, projections, messaging) -> orders -> eventstore.

Projections and sagas hand their consumers and lag sources to messaging through its
registry; nothing below them names them, not even in a lazy import or a string.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

APPS_DIR = Path(__file__).resolve().parents[3] / "apps"

# What each app must never reach for: everything above it.
FORBIDDEN = {
    "eventstore": ("orders", "messaging", "projections", "sagas", "console"),
    "orders": ("messaging", "projections", "sagas", "console"),
    "accounts": ("orders", "messaging", "projections", "sagas", "console"),
    "messaging": ("projections", "sagas", "console"),
    "projections": ("sagas", "console"),
    "sagas": ("console",),
}


def _module_references(path: Path) -> Iterator[tuple[int, str]]:
    """Every module an import names, and every string that looks like a dotted app path."""
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith("apps."):
            yield node.lineno, node.value


def _violations(app: str, forbidden: tuple[str, ...]) -> list[str]:
    found = []
    for path in sorted((APPS_DIR / app).rglob("*.py")):
        for line, module in _module_references(path):
            if any(module == f"apps.{other}" or module.startswith(f"apps.{other}.") for other in forbidden):
                found.append(f"{path.relative_to(APPS_DIR.parent)}:{line} names {module}")
    return found


@pytest.mark.parametrize("app", sorted(FORBIDDEN))
def test_app_names_nothing_above_it(app: str) -> None:
    assert _violations(app, FORBIDDEN[app]) == []


def test_order_domain_imports_no_django() -> None:
    found = [
        f"{path.relative_to(APPS_DIR.parent)}:{line} imports {module}"
        for path in sorted((APPS_DIR / "orders" / "domain").rglob("*.py"))
        for line, module in _module_references(path)
        if module == "django" or module.startswith("django.")
    ]
    assert found == []


# What only the event store may name: its tables and its models. Migrations are history.
EVENTSTORE_INTERNALS = (
    "eventstore_stored_event",
    "eventstore_event_stream",
    "StoredEvent",
    "EventStream",
    "apps.eventstore.models",
)


def test_only_the_event_store_names_its_tables_and_models() -> None:
    found = [
        f"{path.relative_to(APPS_DIR.parent)}: {name}"
        for path in sorted(APPS_DIR.rglob("*.py"))
        if path.relative_to(APPS_DIR).parts[0] != "eventstore" and "migrations" not in path.parts
        for name in EVENTSTORE_INTERNALS
        if re.search(rf"\b{re.escape(name)}\b", path.read_text())
    ]
    assert found == []
