"""The two roles: viewers read, operators read and act. Superusers are both.

A role given by code rather than by a person in the admin (a service user's) is given
through :func:`user_role_grant`, which writes it to the audit log: who may act is itself
something an operator must be able to look up.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Group, User
from django.db import transaction

from apps.accounts.audit import audit_log_record
from apps.accounts.models import AuditOutcome

VIEWER_GROUP = "viewer"
OPERATOR_GROUP = "operator"
ROLE_GRANT_ACTION = "role.grant"
# Who grants a service user its role: the process itself, on its own behalf.
SYSTEM_GRANTOR = "system"


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


def user_role_grant(*, user: User, role: str, granted_by: str, reason: str) -> bool:
    """Put ``user`` in ``role`` and audit it (``role.grant``); False, and no entry, when it was already in it."""
    with transaction.atomic():
        group, _ = Group.objects.get_or_create(name=role)
        if user.groups.filter(pk=group.pk).exists():
            return False
        user.groups.add(group)
        audit_log_record(
            actor=granted_by,
            action=ROLE_GRANT_ACTION,
            target=f"user:{user.get_username()}",
            parameters={"role": role},
            outcome=AuditOutcome.OK,
            detail=reason,
        )
    return True


def service_user_ensure(*, username: str, role: str, reason: str) -> User:
    """A user for a process that acts as an operator would (the simulator), created once.

    It cannot log in (no usable password); it exists so the process's actions pass the same
    role check and show under its own name in the audit log, like a person's. The role is
    granted through :func:`user_role_grant`, so the log says why the process holds it.
    """
    user, created = User.objects.get_or_create(username=username)
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    user_role_grant(user=user, role=role, granted_by=SYSTEM_GRANTOR, reason=reason)
    return user
