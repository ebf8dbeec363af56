from __future__ import annotations

from typing import Any

from django.core.exceptions import BadRequest
from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails
from pydantic_core import PydanticCustomError

from apps.accounts.roles import user_is_operator
from apps.api.fields import BIGINT_MAX, line_check


def is_htmx(request: HttpRequest) -> bool:
    """Whether htmx made the request (django-htmx's middleware sets ``request.htmx``): answer with the partial.

    Not for a history restore: htmx asks for the whole page then (Back after a filter pushed
    its URL, with the history cache off), and a bare partial would replace the page.
    """
    details = getattr(request, "htmx", None)
    return isinstance(details, HtmxDetails) and bool(details) and not details.history_restore_request


def page_context(request: HttpRequest, *, section: str, **extra: Any) -> dict[str, Any]:
    """What the base layout needs: the active section and whether to offer actions."""
    return {"section": section, "is_operator": user_is_operator(request.user), **extra}


def int_param(request: HttpRequest, name: str) -> int | None:
    """``?name=`` as a whole number, None when absent; BadRequest (a 400 naming it) when it is not one."""
    value = request.GET.get(name, "")
    if not value:
        return None
    # str.isdigit() also takes "²" (which int() refuses) and "٣" (which it reads as 3).
    if not (value.isascii() and value.isdigit()) or int(value) > BIGINT_MAX:
        raise BadRequest(f"?{name}= must be a whole number from 0 to {BIGINT_MAX}")
    return int(value)


def text_checked(value: str, *, name: str) -> str:
    """``value`` (a query parameter or path segment called ``name``), or BadRequest when it holds a control character.

    The database refuses NUL in any text it is compared with; the API's string types
    make the same check, with the same rule.
    """
    try:
        return line_check(value)
    except PydanticCustomError as exc:
        raise BadRequest(f"{name} {exc.message()}") from None


def text_param(request: HttpRequest, name: str) -> str:
    """``?name=`` stripped, "" when absent; BadRequest when it holds a control character."""
    return text_checked(request.GET.get(name, "").strip(), name=f"?{name}=")
