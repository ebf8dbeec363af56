"""Writes for accounts: audit entries and API tokens."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from typing import Any

from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from apps.accounts.models import ApiToken, AuditLog, AuditOutcome
from apps.accounts.roles import user_is_operator

# A user, a name for a trusted caller without one (a management command), or nobody.
Actor = User | AnonymousUser | str | None

TOKEN_PREFIX = "eda_"  # noqa: S105 (a fixed label, not a secret)
# Touching last_used_at on every request would turn each read into a write.
_LAST_USED_GRANULARITY = dt.timedelta(minutes=1)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def actor_label(actor: Actor) -> str:
    """The name the audit log and the models' ``*_by`` fields show for ``actor``."""
    if isinstance(actor, str):
        return actor
    if actor is None or not getattr(actor, "is_authenticated", False):
        return "anonymous"
    return str(actor.get_username())


def operator_require(
    *, actor: Actor, action: str, target: str, parameters: dict[str, Any], allow_named: bool = False
) -> None:
    """Raise PermissionDenied, after auditing the refusal, unless ``actor`` is an operator.

    ``allow_named`` also lets a bare name through: a caller that already holds the machine
    (a management command run as "cli") rather than a web user.
    """
    if isinstance(actor, str):
        if allow_named:
            return
    elif user_is_operator(actor):
        return
    audit_log_record(
        actor=actor,
        action=action,
        target=target,
        parameters=parameters,
        outcome="refused",
        detail="operator role required",
    )
    raise PermissionDenied(f"{action} needs the operator role; {actor_label(actor)} does not have it")


def audit_log_record(
    *,
    actor: Actor,
    action: str,
    target: str,
    parameters: dict[str, Any],
    outcome: str,
    detail: str = "",
) -> AuditLog:
    """Write one audit entry. ``actor`` is a user, a name (e.g. "system") or None (anonymous)."""
    if outcome not in AuditOutcome.values:
        raise ValueError(f"outcome must be one of {AuditOutcome.values}, got {outcome!r}")
    user = None
    if actor is None:
        actor_name = "anonymous"
    elif isinstance(actor, str):
        actor_name = actor
    elif isinstance(actor, User):
        user = actor
        actor_name = actor.get_username()
    else:
        actor_name = "anonymous"
    return AuditLog.objects.create(
        actor=actor_name,
        user=user,
        action=action,
        target=target,
        parameters=parameters,
        outcome=outcome,
        detail=detail,
    )


def api_token_create(*, user: User, name: str = "") -> str:
    """Create a token for ``user`` and return it; it is shown this once and stored only as a hash."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    ApiToken.objects.create(user=user, name=name, token_hash=_token_hash(token), prefix=token[:12])
    return token


def api_token_authenticate(token: str) -> User | None:
    """The active user the token belongs to, or None."""
    if not token:
        return None
    api_token = ApiToken.objects.select_related("user").filter(token_hash=_token_hash(token)).first()
    if api_token is None or not api_token.user.is_active:
        return None
    now = timezone.now()
    if api_token.last_used_at is None or now - api_token.last_used_at > _LAST_USED_GRANULARITY:
        ApiToken.objects.filter(pk=api_token.pk).update(last_used_at=now)
    return api_token.user
