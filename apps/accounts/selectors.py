"""Reads over the audit log: the console's audit page, its CSV export and the trace page."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Q, QuerySet

from apps.accounts.models import AuditLog

# The metadata key an event appended under an operator action carries: the action's
# correlation id, so the trace of the event's own correlation shows the action.
OPERATOR_ACTION_METADATA_KEY = "operator_action_id"


@dataclass(frozen=True)
class AuditFilter:
    actor: str = ""
    action: str = ""
    outcome: str = ""
    # A substring of the target.
    target: str = ""
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    correlation_id: uuid.UUID | None = None


def audit_log_list(*, filters: AuditFilter) -> QuerySet[AuditLog]:
    """Audit entries matching ``filters``, newest first."""
    entries = AuditLog.objects.all()
    if filters.actor:
        entries = entries.filter(actor=filters.actor)
    if filters.action:
        entries = entries.filter(action=filters.action)
    if filters.outcome:
        entries = entries.filter(outcome=filters.outcome)
    if filters.target:
        entries = entries.filter(target__contains=filters.target)
    if filters.since is not None:
        entries = entries.filter(created_at__gte=filters.since)
    if filters.until is not None:
        entries = entries.filter(created_at__lt=filters.until)
    if filters.correlation_id is not None:
        entries = entries.filter(correlation_id=filters.correlation_id)
    return entries.order_by("-created_at", "-id")


def audit_action_names() -> list[str]:
    """Every action name the log holds, for the filter's choices."""
    return list(AuditLog.objects.order_by("action").values_list("action", flat=True).distinct())


def audit_actor_names() -> list[str]:
    """Every actor the log holds, for the filter's choices."""
    return list(AuditLog.objects.order_by("actor").values_list("actor", flat=True).distinct())


def audit_entries_touching(*, action_ids: Iterable[str], targets: Iterable[str]) -> list[AuditLog]:
    """Entries whose correlation id is one of ``action_ids`` or whose target is one of ``targets``, oldest first."""
    ids = []
    for value in action_ids:
        try:
            ids.append(uuid.UUID(str(value)))
        except ValueError:
            continue
    wanted = list(dict.fromkeys(targets))
    if not ids and not wanted:
        return []
    return list(AuditLog.objects.filter(Q(correlation_id__in=ids) | Q(target__in=wanted)).order_by("started_at", "id"))
