"""The two roles: viewers read, operators read and act. Superusers are both."""

from __future__ import annotations

from typing import Any

VIEWER_GROUP = "viewer"
OPERATOR_GROUP = "operator"


def _in_groups(user: Any, names: tuple[str, ...]) -> bool:
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    if user.is_superuser:
        return True
    return bool(user.groups.filter(name__in=names).exists())


def user_is_viewer(user: Any) -> bool:
    """True for an active user in ``viewer`` or ``operator``, or a superuser."""
    return _in_groups(user, (VIEWER_GROUP, OPERATOR_GROUP))


def user_is_operator(user: Any) -> bool:
    """True for an active user in ``operator``, or a superuser."""
    return _in_groups(user, (OPERATOR_GROUP,))
