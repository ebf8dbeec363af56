"""One error policy for the whole JSON API.

Every 4xx/5xx the API returns (a wrong method's 405 included) has the body
``{"error": {"code": "...", "message": "...", "field": "..." | null}}``; validation
errors add ``"details"``, a list of ``{"field", "message", "type"}``.

Each app maps its own exceptions with :func:`api_error_register` (in its API module
or its ``AppConfig.ready``); :func:`api_error_handlers_install` makes a NinjaAPI answer
every exception from this registry, so routers raise and never translate.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.core.exceptions import (
    ObjectDoesNotExist,
    PermissionDenied,
    RequestDataTooBig,
    SuspiciousOperation,
    TooManyFieldsSent,
    ValidationError,
)
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed, JsonResponse
from django.http.response import HttpResponseBase
from django.views.decorators.csrf import csrf_exempt
from ninja import NinjaAPI, Schema
from ninja.errors import AuthenticationError, AuthorizationError, HttpError
from ninja.errors import ValidationError as RequestValidationError

from apps.api.fields import LINE_FORBIDDEN
from apps.api.validation import validation_details

logger = logging.getLogger(__name__)
E = TypeVar("E", bound=Exception)


class ApiError(HttpError):
    """Raise from an endpoint to answer with the shared error shape."""

    def __init__(self, status_code: int, code: str, message: str, *, field: str | None = None) -> None:
        super().__init__(status_code, message)
        self.code = code
        self.field = field


class ErrorDetailOut(Schema):
    field: str | None
    message: str
    type: str | None


class ErrorOut(Schema):
    code: str
    message: str
    field: str | None = None
    details: list[ErrorDetailOut] | None = None


class ErrorBodyOut(Schema):
    """The body of every error the API answers."""

    error: ErrorOut


def error_body(code: str, message: str, field: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "field": field, **extra}}


@dataclass(frozen=True)
class _Mapping:
    status: int
    code: str
    message: Callable[[Any], str]
    field: Callable[[Any], str | None]


_registry: dict[type[Exception], _Mapping] = {}


def api_error_register(
    exception_class: type[E],
    *,
    status: int,
    code: str,
    message: Callable[[E], str] = str,
    field: Callable[[E], str | None] = lambda exc: None,
) -> None:
    """Answer ``exception_class`` (and its subclasses) with ``status`` and ``code``.

    The most specific registered class along the exception's MRO wins, so an app may
    narrow a broader mapping (``AggregateNotFound`` is a 404 though ``DomainError`` is a 422).
    """
    _registry[exception_class] = _Mapping(status=status, code=code, message=message, field=field)


def _registered(exc: Exception) -> _Mapping | None:
    for cls in type(exc).__mro__:
        if cls in _registry:
            return _registry[cls]
    return None


def api_error_status_and_body(request: HttpRequest, exc: Exception) -> tuple[int, dict[str, Any]]:
    """The status and error body that ``exc``, raised while serving ``request``, answers with."""
    if isinstance(exc, ApiError):
        return exc.status_code, error_body(exc.code, exc.message, exc.field)
    if isinstance(exc, RequestValidationError):
        details = validation_details(exc.errors)
        first = details[0] if details else {"message": "invalid request", "field": None}
        return 422, error_body("validation_error", str(first["message"]), first["field"], details=details)
    if isinstance(exc, AuthenticationError):
        message = "authentication required: log in, or send 'Authorization: Bearer <token>'"
        return 401, error_body("not_authenticated", message)
    if isinstance(exc, AuthorizationError):
        return 403, error_body("forbidden", str(exc))
    if isinstance(exc, HttpError):
        # ninja wraps whatever the body parser raised in a 400 "Cannot parse request body".
        if isinstance(exc.__cause__, Exception) and exc.__cause__ is not exc:
            cause = exc.__cause__
            if isinstance(cause, ValueError):
                return 400, error_body("malformed_json", f"request body is not valid JSON: {cause}")
            return api_error_status_and_body(request, cause)
        return exc.status_code, error_body(f"http_{exc.status_code}", str(exc))
    mapping = _registered(exc)
    if mapping is not None:
        return mapping.status, error_body(mapping.code, mapping.message(exc), mapping.field(exc))
    logger.exception("unhandled error in %s %s", request.method, request.path, exc_info=exc)
    return 500, error_body("internal_error", "internal server error")


def api_error_handlers_install(api: NinjaAPI) -> None:
    """Make every error ``api`` returns come from the registry, in the shared shape."""

    def respond(request: HttpRequest, exc: Any) -> HttpResponse:
        status, body = api_error_status_and_body(request, exc)
        return api.create_response(request, body, status=status)

    # ninja looks handlers up along the MRO; one handler on every class it pre-registers
    # (and on Exception) sends everything here, whenever its mapping was registered.
    for exc_class in [Exception, *api._exception_handlers]:
        api.add_exception_handler(exc_class, respond)


def _query_refusal(api: NinjaAPI, request: HttpRequest) -> HttpResponseBase | None:
    # Declared parameters are Line-typed and refused by their schema; this also covers the
    # ones no operation declares (otherwise read past in silence) and every name, with the
    # same 422 a declared parameter gets, so a control character anywhere in the query
    # string is refused the one way.
    try:
        parameters = request.GET.lists()
    except TooManyFieldsSent:
        return None  # the view answers that itself, with its registered 400
    for name, values in parameters:
        for index, text in enumerate((name, *values)):
            found = LINE_FORBIDDEN.search(text)
            if found is not None:
                where = "value" if index else "name"
                message = f"{name}: its {where} must not contain control characters (U+{ord(found.group()):04X})"
                detail = {"field": name, "message": message, "type": "control_character"}
                body = error_body("validation_error", message, name, details=[detail])
                return api.create_response(request, body, status=422)
    return None


def api_path_view_wrap(api: NinjaAPI, view: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap one of ninja's path views with what no operation can do for itself.

    A query string holding a control character (in any parameter, declared or not, or in
    its name) is a 422 naming the parameter before the view runs. And ninja answers a method no operation of
    the path takes with a plain-text ``HttpResponseNotAllowed`` before any handler runs;
    an operation's own responses are never of that class, so only that answer is replaced.
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
            refusal = _query_refusal(api, request)
            return refusal or json_405(request, await view(request, *args, **kwargs))

        return markcoroutinefunction(functools.wraps(view)(async_wrapped))

    @functools.wraps(view)  # keeps csrf_exempt and the view's name
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        return _query_refusal(api, request) or json_405(request, view(request, *args, **kwargs))

    return wrapped


# No state changes here; without the exemption a POST gets the CSRF middleware's HTML 403.
@csrf_exempt
def api_unknown_path(request: HttpRequest, path: str = "") -> JsonResponse:
    """Any /api/ URL no router claims: a JSON 404 instead of Django's HTML page."""
    return JsonResponse(error_body("not_found", f"no API endpoint at {request.path}"), status=404)


def _too_many_fields(exc: TooManyFieldsSent) -> str:
    return f"too many query or form parameters: at most {settings.DATA_UPLOAD_MAX_NUMBER_FIELDS} are read"


api_error_register(Http404, status=404, code="not_found", message=lambda exc: str(exc) or "not found")
api_error_register(ObjectDoesNotExist, status=404, code="not_found")
api_error_register(PermissionDenied, status=403, code="forbidden")
api_error_register(ValidationError, status=422, code="invalid", message=lambda exc: "; ".join(exc.messages))
api_error_register(
    RequestDataTooBig,
    status=413,
    code="body_too_large",
    message=lambda exc: "request body is larger than the 1 MiB limit",
)
api_error_register(TooManyFieldsSent, status=400, code="too_many_parameters", message=_too_many_fields)
api_error_register(SuspiciousOperation, status=400, code="bad_request")
