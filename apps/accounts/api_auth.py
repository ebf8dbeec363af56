"""Authentication and roles for the JSON API.

A request is authenticated by ``Authorization: Bearer <token>`` or, without that
header, by the Django session, which must then carry a CSRF token for unsafe
methods. Reads need the viewer role, writes the operator role: no user is a 401,
the wrong role a 403.
"""

from __future__ import annotations

from typing import Any, Literal

from django.contrib.auth.models import User
from django.http import HttpRequest
from ninja.errors import AuthorizationError
from ninja.security import HttpBearer
from ninja.utils import check_csrf

from apps.accounts.operator_actions import operator_request_refusal_record
from apps.accounts.roles import OPERATOR_GROUP, VIEWER_GROUP, user_is_operator, user_is_viewer
from apps.accounts.services import api_token_authenticate

Role = Literal["viewer", "operator"]
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class RoleAuth(HttpBearer):
    """Bearer token or session, then a role check.

    ``role=None`` picks the role from the method: viewer for GET/HEAD/OPTIONS,
    operator for everything else.
    """

    def __init__(self, role: Role | None = None) -> None:
        super().__init__()
        self.role = role

    def __call__(self, request: HttpRequest) -> Any | None:
        header = request.headers.get(self.header)
        if header:
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer":
                return None
            user = self.authenticate(request, token.strip())
            if user is None:
                return None
            # Views and services read request.user whichever way the caller came in.
            request.user = user
        else:
            user = request.user
            if not user.is_authenticated:
                return None
            if request.method not in SAFE_METHODS and check_csrf(request) is not None:
                raise AuthorizationError(message="CSRF check failed: send the csrftoken cookie's value in X-CSRFToken")
        self._role_check(request, user)
        return user

    def authenticate(self, request: HttpRequest, token: str) -> Any | None:
        return api_token_authenticate(token)

    def _role_check(self, request: HttpRequest, user: Any) -> None:
        role = self.role or (VIEWER_GROUP if request.method in SAFE_METHODS else OPERATOR_GROUP)
        allowed = user_is_operator(user) if role == OPERATOR_GROUP else user_is_viewer(user)
        if allowed:
            return
        if role == OPERATOR_GROUP:
            operator_request_refusal_record(
                actor=user if isinstance(user, User) else str(user),
                action="api.request",
                method=request.method or "",
                path=request.path,
            )
        raise AuthorizationError(message=f"the {role} role is required for {request.method} {request.path}")


# The API's default: viewer for reads, operator for writes.
role_auth = RoleAuth()
viewer_auth = RoleAuth("viewer")
operator_auth = RoleAuth("operator")
