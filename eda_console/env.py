"""The environment, read as typed values: what settings.py parses every variable through.

Each reader returns the default when the variable is unset (or empty) and raises
ImproperlyConfigured naming the variable when its value cannot be read as the type, so
a typo in a deployment fails at start with the variable's name, not later with a bare
``ValueError`` from deep inside a setting.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from django.core.exceptions import ImproperlyConfigured

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


def _raw(name: str, environ: Mapping[str, str] | None = None) -> str | None:
    value = (os.environ if environ is None else environ).get(name, "").strip()
    return value or None


def env_str(name: str, default: str) -> str:
    """The variable as text; ``default`` when it is unset or empty."""
    value = _raw(name)
    return default if value is None else value


def env_int(name: str, default: int) -> int:
    """The variable as an integer (``"3000"``); ``default`` when it is unset or empty."""
    value = _raw(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {value!r}") from None


def env_float(name: str, default: float) -> float:
    """The variable as a number (``"2.5"``); ``default`` when it is unset or empty."""
    value = _raw(name)
    if value is None:
        return default
    try:
        return float(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, got {value!r}") from None


def env_bool(name: str, default: bool, *, environ: Mapping[str, str] | None = None) -> bool:
    """The variable as a switch: 1/true/yes/on or 0/false/no/off, in any case.

    ``environ`` reads another environment than this process's (the launcher's children's).
    """
    value = _raw(name, environ)
    if value is None:
        return default
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be one of 1/true/yes/on or 0/false/no/off, got {value!r}")


def env_list(name: str, default: list[str]) -> list[str]:
    """The variable as a comma-separated list, items stripped and empty ones dropped."""
    value = _raw(name)
    if value is None:
        return list(default)
    return [item.strip() for item in value.split(",") if item.strip()]


def env_choice(name: str, default: str, *, choices: tuple[str, ...]) -> str:
    """The variable as one of ``choices`` (compared in lower case); ``default`` when it is unset or empty."""
    value = _raw(name)
    if value is None:
        return default
    if value.lower() not in choices:
        raise ImproperlyConfigured(f"{name} must be one of {'/'.join(choices)}, got {value!r}")
    return value.lower()
