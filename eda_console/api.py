"""The JSON API under ``/api/``: one NinjaAPI object and the routers registered on it.

Every endpoint needs a user: ``Authorization: Bearer <token>`` (``manage.py
create_api_token USERNAME``) or the console's session plus CSRF token for writes.
Reads need the ``viewer`` role, writes ``operator`` (see apps.accounts.api_auth);
pass ``auth=viewer_auth`` / ``auth=operator_auth`` on an operation to override.
Errors share one shape (see eda_console.api_errors). OpenAPI: ``/api/openapi.json``.
"""

from __future__ import annotations

from django.http import HttpRequest
from django.urls import URLPattern, URLResolver
from ninja import NinjaAPI, Schema

from apps.accounts.api_auth import role_auth
from apps.accounts.roles import user_is_operator, user_is_viewer
from apps.messaging.api_dead_letters import router as dead_letters_router
from apps.orders.api import router as orders_router
from eda_console.api_errors import api_error_handlers_install, api_view_with_json_405


class ConsoleApi(NinjaAPI):
    """The NinjaAPI whose path views answer a wrong method in the shared error shape."""

    @property
    def urls(self) -> tuple[list[URLResolver | URLPattern], str, str]:
        patterns, app_name, namespace = super().urls
        wrapped: list[URLResolver | URLPattern] = [
            URLPattern(p.pattern, api_view_with_json_405(self, p.callback), p.default_args, p.name)
            if isinstance(p, URLPattern)
            else p
            for p in patterns
        ]
        return wrapped, app_name, namespace


api = ConsoleApi(
    title="EDA Console API",
    version="1.0.0",
    description=__doc__ or "",
    urls_namespace="api",
    auth=role_auth,
    openapi_url="/openapi.json",
    docs_url="/docs",
)
api_error_handlers_install(api)


class MeOut(Schema):
    username: str
    viewer: bool
    operator: bool


@api.get("/me", response=MeOut, tags=["accounts"], summary="Who the API sees, and their roles")
def me(request: HttpRequest) -> MeOut:
    user = request.user
    return MeOut(username=user.get_username(), viewer=user_is_viewer(user), operator=user_is_operator(user))


# Routers: one line per app. The orders router owns /orders, /stock, /streams and /events.
api.add_router("/", orders_router)
api.add_router("/", dead_letters_router)  # /dead-letters, /failure-rules, /poison-messages
api.add_router("/", "apps.projections.api.router")  # /projections, /projections/rebuilds
api.add_router("/", "apps.messaging.api_consumers.router")  # /consumers
