"""Turn ninja's pydantic validation errors into the error body's ``details``, each naming its field."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def _field_path(loc: tuple[Any, ...] | list[Any]) -> str | None:
    parts = list(loc)
    # ninja prefixes the source ("body", "query", "path", "header") and, for a body
    # schema, the name of the view's parameter; neither is part of what the client sent.
    if parts and parts[0] == "body":
        parts = parts[2:] if len(parts) > 1 else []
    elif parts and parts[0] in {"query", "path", "header", "cookie", "form"}:
        parts = parts[1:]
    path = ""
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or None


def _message(error: dict[str, Any], field: str | None) -> str:
    kind = error.get("type")
    if field is None and kind == "missing":
        return "request body is missing: send a JSON object"
    if kind == "model_attributes_type":
        return f"{field or 'request body'} must be a JSON object"
    if kind == "extra_forbidden":
        return f"unknown field {field!r}"
    if kind == "missing":
        return f"missing field {field!r}"
    if kind == "string_unicode":
        return f"{field or 'value'}: must be valid Unicode text (no lone UTF-16 surrogates)"
    if kind in {"too_long", "string_too_long"} and isinstance(error.get("input"), str) and "ctx" in error:
        return f"{field or 'value'}: at most {error['ctx']['max_length']} characters"
    where = f"{field}: " if field else ""
    return f"{where}{error.get('msg', 'invalid value')}"


def validation_details(errors: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """One ``{"field", "message", "type"}`` per problem, in the order pydantic found them."""
    details = []
    for error in errors:
        field = _field_path(error.get("loc", ()))
        details.append({"field": field, "message": _message(error, field), "type": error.get("type")})
    return details
