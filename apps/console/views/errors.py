"""The console's answer to a bad request: say which parameter, in plain text."""

from __future__ import annotations

from django.core.exceptions import BadRequest
from django.http import HttpRequest, HttpResponseBadRequest


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponseBadRequest:
    """Django's handler400: a BadRequest raised by a view carries a message meant for the user.

    Other 400s (a disallowed host, too many fields) keep Django's terse answer, which
    says nothing about the server.
    """
    message = str(exception) if type(exception) is BadRequest else "Bad request"
    return HttpResponseBadRequest(f"{message}\n", content_type="text/plain; charset=utf-8")
