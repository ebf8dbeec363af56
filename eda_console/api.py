"""The JSON API under ``/api/``: one NinjaAPI object and the routers registered on it.

Every endpoint needs a user: ``Authorization: Bearer <token>`` (``manage.py
create_api_token USERNAME``) or the console's session plus CSRF token for writes.
Reads need the ``viewer`` role, writes ``operator`` (see apps.accounts.api_auth);
pass ``auth=viewer_auth`` / ``auth=operator_auth`` on an operation to override.
Errors share one shape and one registry (see apps.api.errors); bodies are JSON objects
sent as application/json (apps.api.bodies). OpenAPI: ``/api/openapi.json``.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import URLPattern, URLResolver
from ninja import NinjaAPI, Schema

from apps.accounts.api_auth import role_auth
from apps.accounts.roles import user_is_operator, user_is_viewer
from apps.api.bodies import JsonObjectParser, body_checked
from apps.api.docs import LocalSwagger
from apps.api.errors import api_error_handlers_install, api_path_view_wrap
from apps.api.openapi import openapi_error_responses_add
from apps.messaging.api_dead_letters import router as dead_letters_router
from apps.orders.api import router as orders_router


class ConsoleApi(NinjaAPI):
    """The NinjaAPI whose wrong-method answers and OpenAPI error responses use the shared error shape."""

    @property
    def urls(self) -> tuple[list[URLResolver | URLPattern], str, str]:
        patterns, app_name, namespace = super().urls
        wrapped: list[URLResolver | URLPattern] = [
            URLPattern(p.pattern, api_path_view_wrap(self, p.callback), p.default_args, p.name)
            if isinstance(p, URLPattern)
            else p
            for p in patterns
        ]
        return wrapped, app_name, namespace

    def get_openapi_schema(self, *, path_prefix: str | None = None, path_params: dict[str, Any] | None = None) -> Any:
        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        openapi_error_responses_add(schema)
        return schema


api = ConsoleApi(
    title="EDA Console API",
    version="1.0.0",
    description=__doc__ or "",
    urls_namespace="api",
    auth=role_auth,
    parser=JsonObjectParser(),
    openapi_url="/openapi.json",
    docs_url="/docs",
    docs=LocalSwagger(),
)
api_error_handlers_install(api)
api.add_decorator(body_checked)


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
api.add_router("/", "apps.messaging.api_replay_jobs.router")  # /dead-letters/replay-jobs
api.add_router("/", "apps.projections.api.router")  # /projections, /projections/rebuilds
api.add_router("/", "apps.messaging.api_consumers.router")  # /consumers
api.add_router("/", "apps.sagas.api.router")  # /sagas
