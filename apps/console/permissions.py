"""Who may see and who may act: every console page needs a logged-in user with a role.

The checks run on the server; templates only hide what a user could not do anyway.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import resolve_url

from apps.accounts.operator_actions import operator_request_refusal_record
from apps.accounts.roles import user_is_operator, user_is_viewer

View = TypeVar("View", bound=Callable[..., HttpResponseBase])


def _to_login(request: HttpRequest) -> HttpResponse:
    if request.headers.get("HX-Request") == "true":
        # An htmx swap would put the login form inside the page: send the whole page there.
        response = HttpResponse(status=204)
        response["HX-Redirect"] = resolve_url(settings.LOGIN_URL)
        return response
    return redirect_to_login(request.get_full_path())


def viewer_required(view: View) -> View:
    """Anonymous visitors go to the login page; a logged-in user without a role gets 403."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not request.user.is_authenticated:
            return _to_login(request)
        if not user_is_viewer(request.user):
            raise PermissionDenied("the console needs the viewer or operator role")
        return view(request, *args, **kwargs)

    return cast(View, wrapped)


def operator_required(view: View) -> View:
    """Like :func:`viewer_required`, and the user must be an operator."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not request.user.is_authenticated:
            return _to_login(request)
        if not user_is_operator(request.user):
            operator_request_refusal_record(
                actor=request.user, action="console.request", method=request.method or "", path=request.path
            )
            raise PermissionDenied("this action needs the operator role")
        return view(request, *args, **kwargs)

    return cast(View, wrapped)
