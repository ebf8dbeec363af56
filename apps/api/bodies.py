"""What a request body to the API must be: JSON, sent as JSON, and an object.

A JSON body sent as ``text/plain`` or a form is a 415: those are the content types a
browser sends cross-site without asking, and a server that reads them as JSON accepts
what the client never meant as JSON. A body that parses but is not an object (``[]``,
``null``, ``123``) is a 400 on every route, including those that take no body, so no
route ever reads a malformed body as an empty one.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest
from ninja.parser import Parser

from apps.api.errors import ApiError

JSON_CONTENT_TYPES = ("application/json",)


def _is_json(content_type: str) -> bool:
    return content_type in JSON_CONTENT_TYPES or (
        content_type.startswith("application/") and content_type.endswith("+json")
    )


def json_object_body(request: HttpRequest) -> dict[str, Any] | None:
    """The request's body as a JSON object, None when there is no body; an ApiError otherwise."""
    if not request.body:
        return None
    content_type = request.content_type or ""
    if not _is_json(content_type):
        sent = content_type or "no Content-Type"
        raise ApiError(415, "unsupported_media_type", f"send the body as application/json, not {sent}")
    try:
        data = json.loads(request.body)
    except ValueError as exc:
        raise ApiError(400, "malformed_json", f"request body is not valid JSON: {exc}") from None
    except RecursionError:
        raise ApiError(400, "malformed_json", "request body is nested too deeply to parse") from None
    if not isinstance(data, dict):
        raise ApiError(400, "body_not_an_object", f"request body must be a JSON object, not {type(data).__name__}")
    return data


class JsonObjectParser(Parser):
    """ninja's parser, with :func:`json_object_body`'s rules for bodies."""

    def parse_body(self, request: HttpRequest) -> dict[str, Any]:
        return json_object_body(request) or {}


def body_checked(view: Callable[..., Any]) -> Callable[..., Any]:
    """Apply the body rules to an operation that declares no body (ninja's parser only sees declared ones)."""

    @functools.wraps(view)
    def checked(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        json_object_body(request)
        return view(request, *args, **kwargs)

    return checked
