"""The import-linter contracts of ``.importlinter`` hold: layers, a Django-free domain, Kafka only in
messaging, and no import cycle between the modules of any package.

``make imports`` runs the same check; here each contract is its own test, so a broken one
names itself in the test report with import-linter's explanation.
"""

from __future__ import annotations

import configparser
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
CONFIG = ROOT / ".importlinter"
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _contract_ids() -> list[str]:
    parser = configparser.ConfigParser()
    parser.read(CONFIG)
    return [
        section.removeprefix("importlinter:contract:")
        for section in parser
        if section.startswith("importlinter:contract:")
    ]


def test_every_contract_the_issue_names_is_declared() -> None:
    assert set(_contract_ids()) >= {"layers", "domain-without-django", "kafka-only-in-messaging", "no-cycles"}


@pytest.mark.parametrize("contract", _contract_ids())
def test_import_contract_is_kept(contract: str) -> None:
    result = subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--contract", contract, str(CONFIG)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
