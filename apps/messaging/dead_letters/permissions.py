"""The operator check every dead-letter action starts with; a refusal is audited too."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import PermissionDenied

from apps.accounts.roles import user_is_operator
from apps.accounts.services import audit_log_record

Actor = User | AnonymousUser | None


def actor_name(actor: Actor) -> str:
    """The name the audit log and ``resolved_by`` show for ``actor``."""
    if actor is None or not getattr(actor, "is_authenticated", False):
        return "anonymous"
    return str(actor.get_username())


def operator_require(*, actor: Actor, action: str, target: str, parameters: dict[str, Any]) -> None:
    """Raise PermissionDenied, after auditing the refusal, unless ``actor`` is an operator."""
    if user_is_operator(actor):
        return
    audit_log_record(
        actor=actor,
        action=action,
        target=target,
        parameters=parameters,
        outcome="refused",
        detail="operator role required",
    )
    raise PermissionDenied(f"{action} needs the operator role; {actor_name(actor)} does not have it")
