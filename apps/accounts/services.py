"""Writes for accounts: API tokens; and the name an actor goes by in the audit log.

Audit entries are written by ``audit`` (system records) and ``operator_actions`` (the
operator-action policy).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from django.contrib.auth.models import AnonymousUser, User
from django.utils import timezone

from apps.accounts.models import ApiToken

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
