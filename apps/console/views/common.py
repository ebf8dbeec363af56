from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from apps.accounts.roles import user_is_operator


def page_context(request: HttpRequest, *, section: str, **extra: Any) -> dict[str, Any]:
    """What the base layout needs: the active section and whether to offer actions."""
    return {"section": section, "is_operator": user_is_operator(request.user), **extra}


def int_param(request: HttpRequest, name: str) -> int | None:
    value = request.GET.get(name, "")
    return int(value) if value.isdigit() else None
