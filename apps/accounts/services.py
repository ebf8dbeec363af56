"""Writes for accounts: audit entries and API tokens."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from typing import Any

from django.contrib.auth.models import AnonymousUser, User
from django.utils import timezone

from apps.accounts.models import ApiToken, AuditLog, AuditOutcome

TOKEN_PREFIX = "eda_"  # noqa: S105 (a fixed label, not a secret)
# Touching last_used_at on every request would turn each read into a write.
_LAST_USED_GRANULARITY = dt.timedelta(minutes=1)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def audit_log_record(
    *,
    actor: User | AnonymousUser | str | None,
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
