"""The axe-core check every browser test can run on the page it has open.

axe-core comes with the ``axe-playwright-python`` package (requirements-dev.txt), which
bundles ``axe.min.js``; it is evaluated through the DevTools protocol, which the page's
CSP does not govern. Only serious and critical violations fail a test: the issue's bar.
"""

from __future__ import annotations

from typing import Any

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page

FAILING_IMPACTS = frozenset({"serious", "critical"})
_axe = Axe()


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the page as it is now."""
    results = _axe.run(page, options={"resultTypes": ["violations"]})
    return [violation for violation in results.response["violations"] if violation["impact"] in FAILING_IMPACTS]


def axe_report(violations: list[dict[str, Any]]) -> str:
    """One line per violation and node: rule, impact, the element, and how to fix it."""
    lines = []
    for violation in violations:
        for node in violation["nodes"]:
            target = " ".join(str(part) for part in node["target"])
            summary = node.get("failureSummary", "").replace("\n", " ")
            lines.append(f"{violation['id']} ({violation['impact']}) at {target}: {summary}")
    return "\n".join(lines)


def assert_accessible(page: Page) -> None:
    """Fail with axe-core's own words when the open page has a serious or critical violation."""
    violations = axe_violations(page)
    assert not violations, f"axe-core on {page.url}:\n{axe_report(violations)}"
