"""One error shape for the whole JSON API.

Every 4xx/5xx the API returns (a wrong method's 405 included) has the body
``{"error": {"code": "...", "message": "...", "field": "..." | null}}``; validation
errors add ``"details"``, a list of ``{"field", "message", "type"}``.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed, JsonResponse
from django.http.response import HttpResponseBase
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, AuthorizationError, HttpError, ValidationError

from apps.accounts.audit import AuditEntryInvalid
from apps.eventstore.errors import SchemaValidationError, WrongExpectedVersion
from apps.orders.domain.errors import DomainError, InvalidCommand, RuleViolation
from apps.orders.handlers import AggregateNotFound

logger = logging.getLogger(__name__)


class ApiError(HttpError):
    """Raise from an endpoint to answer with the shared error shape."""

    def __init__(self, status_code: int, code: str, message: str, *, field: str | None = None) -> None:
        super().__init__(status_code, message)
        self.code = code
        self.field = field


def error_body(code: str, message: str, field: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "field": field, **extra}}


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


def _validation_message(error: dict[str, Any], field: str | None) -> str:
    kind = error.get("type")
    if field is None and kind == "missing":
        return "request body is missing: send a JSON object"
    if kind == "model_attributes_type":
        return f"{field or 'request body'} must be a JSON object"
    if kind == "extra_forbidden":
        return f"unknown field {field!r}"
    if kind == "missing":
        return f"missing field {field!r}"
    where = f"{field}: " if field else ""
    return f"{where}{error.get('msg', 'invalid value')}"


def api_view_with_json_405(api: NinjaAPI, view: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap one of ninja's path views so a wrong method gets the shared error shape.

    ninja answers a method no operation of the path takes with a plain-text
    ``HttpResponseNotAllowed`` before any handler runs; an operation's own responses
    are never of that class, so only that answer is replaced.
    """

    def json_405(request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        if not isinstance(response, HttpResponseNotAllowed):
            return response
        allowed = ", ".join(sorted(method.strip() for method in response["Allow"].split(",") if method.strip()))
        message = f"{request.method} is not allowed on {request.path}; allowed: {allowed}"
        replaced = api.create_response(request, error_body("method_not_allowed", message), status=405)
        replaced["Allow"] = allowed
        return replaced

    if iscoroutinefunction(view):

        async def async_wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            return json_405(request, await view(request, *args, **kwargs))

        return markcoroutinefunction(functools.wraps(view)(async_wrapped))

    @functools.wraps(view)  # keeps csrf_exempt and the view's name
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        return json_405(request, view(request, *args, **kwargs))

    return wrapped


def api_unknown_path(request: HttpRequest, path: str = "") -> JsonResponse:
    """Any /api/ URL no router claims: a JSON 404 instead of Django's HTML page."""
    return JsonResponse(error_body("not_found", f"no API endpoint at {request.path}"), status=404)


def api_error_handlers_install(api: NinjaAPI) -> None:
    """Make every error the API returns use the shared shape."""

    def respond(request: HttpRequest, status: int, body: dict[str, Any]) -> HttpResponse:
        return api.create_response(request, body, status=status)

    def on_api_error(request: HttpRequest, exc: ApiError) -> HttpResponse:
        return respond(request, exc.status_code, error_body(exc.code, exc.message, exc.field))

    def on_validation(request: HttpRequest, exc: ValidationError) -> HttpResponse:
        details = []
        for error in exc.errors:
            field = _field_path(error.get("loc", ()))
            details.append({"field": field, "message": _validation_message(error, field), "type": error.get("type")})
        message = str(details[0]["message"]) if details else "invalid request"
        field = details[0]["field"] if details else None
        return respond(request, 422, error_body("validation_error", message, field, details=details))

    def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
        if exc.status_code == 400 and isinstance(exc.__cause__, ValueError | json.JSONDecodeError):
            message = f"request body is not valid JSON: {exc.__cause__}"
            return respond(request, 400, error_body("malformed_json", message))
        return respond(request, exc.status_code, error_body(f"http_{exc.status_code}", str(exc)))

    def on_unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
        message = "authentication required: log in, or send 'Authorization: Bearer <token>'"
        return respond(request, 401, error_body("not_authenticated", message))

    def on_forbidden(request: HttpRequest, exc: AuthorizationError) -> HttpResponse:
        return respond(request, 403, error_body("forbidden", str(exc)))

    def on_not_found(request: HttpRequest, exc: Exception) -> HttpResponse:
        return respond(request, 404, error_body("not_found", str(exc) or "not found"))

    def on_too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
        message = "request body is larger than the 1 MiB limit"
        return respond(request, 413, error_body("body_too_large", message))

    def on_invalid_command(request: HttpRequest, exc: InvalidCommand) -> HttpResponse:
        return respond(request, 422, error_body("invalid_command", str(exc)))

    def on_rule_violation(request: HttpRequest, exc: RuleViolation) -> HttpResponse:
        return respond(request, 409, error_body("rule_violation", str(exc)))

    def on_conflict(request: HttpRequest, exc: WrongExpectedVersion) -> HttpResponse:
        message = f"{exc}; other writers kept changing the stream, retry the command"
        return respond(request, 409, error_body("concurrency_conflict", message))

    def on_schema(request: HttpRequest, exc: SchemaValidationError) -> HttpResponse:
        return respond(request, 422, error_body("schema_validation", str(exc), exc.field))

    def on_audit_entry_invalid(request: HttpRequest, exc: AuditEntryInvalid) -> HttpResponse:
        return respond(request, 422, error_body("invalid", "; ".join(exc.messages), exc.field))

    def on_unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
        logger.exception("unhandled error in %s %s", request.method, request.path, exc_info=exc)
        return respond(request, 500, error_body("internal_error", "internal server error"))

    handlers: list[tuple[type[Exception], Callable[..., HttpResponse]]] = [
        (ApiError, on_api_error),
        (ValidationError, on_validation),
        (AuthenticationError, on_unauthenticated),
        (AuthorizationError, on_forbidden),
        (HttpError, on_http_error),
        (Http404, on_not_found),
        (AggregateNotFound, on_not_found),
        (RequestDataTooBig, on_too_big),
        (DomainError, on_invalid_command),
        (InvalidCommand, on_invalid_command),
        (RuleViolation, on_rule_violation),
        (WrongExpectedVersion, on_conflict),
        (SchemaValidationError, on_schema),
        (AuditEntryInvalid, on_audit_entry_invalid),
        (Exception, on_unexpected),
    ]
    # Order does not matter: ninja picks the handler along the exception's MRO.
    for exc_class, handler in handlers:
        api.add_exception_handler(exc_class, handler)
