"""The one operator-action policy: every state-changing operation runs inside :func:`operator_action`.

    with operator_action(actor=user, action="dead_letter.skip", target=..., parameters=...) as act:
        ...  # the side effect; act.correlation_id names this action to what it touches
        act.detail = "what happened"

In order: the values the audit entry will hold are checked (:class:`AuditEntryInvalid`,
nothing written); the role is checked (a refusal is written as one finished entry, then
PermissionDenied); the entry is committed with outcome ``running`` before the body runs,
so an action whose entry cannot be written does not happen; when the body ends the same
entry gets its outcome (ok, failed with the error, or refused), detail, result and end
time. An exception from the body propagates after the entry says ``failed``.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from apps.accounts.audit import audit_entry_write, audit_log_record, audit_text_escape, audit_values_check
from apps.accounts.models import AuditLog, AuditOutcome
from apps.accounts.roles import user_is_operator
from apps.accounts.services import Actor, actor_label

logger = logging.getLogger(__name__)


@dataclass
class OperatorAction:
    """The running action as its body sees it; what the body sets here is what the entry ends with."""

    correlation_id: uuid.UUID
    # The name the audit entry shows; services stamp it on what they change (resolved_by, created_by).
    actor_name: str
    started_at: dt.datetime
    outcome: AuditOutcome = AuditOutcome.OK
    detail: str = ""
    # What the action produced (a job id, a rule id), as opposed to what it was asked.
    result: dict[str, Any] = field(default_factory=dict)

    def refuse(self, reason: str) -> None:
        """End as refused rather than failed: the state said no (already running, no longer cancellable)."""
        self.outcome = AuditOutcome.REFUSED
        self.detail = reason


def _permitted(actor: Actor, *, allow_named: bool) -> bool:
    # A bare name is a caller that already holds the machine (a management command run as
    # "cli:<user>"), not a web user; only actions that take such callers allow it.
    if isinstance(actor, str):
        return allow_named
    return user_is_operator(actor)


def _error_text(exc: Exception) -> str:
    message = "; ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def _entry_finish(entry: AuditLog, action: OperatorAction) -> None:
    with transaction.atomic(durable=True):
        AuditLog.objects.filter(pk=entry.pk).update(
            outcome=action.outcome,
            detail=audit_text_escape(action.detail),
            result=action.result,
            finished_at=timezone.now(),
        )


@contextmanager
def operator_action(
    *, actor: Actor, action: str, target: str, parameters: Mapping[str, Any], allow_named: bool = False
) -> Iterator[OperatorAction]:
    """Run the ``with`` body as operator action ``action`` on ``target``: role check, then audit-first.

    Raises AuditEntryInvalid (nothing written, nothing run) when a value cannot be
    stored, and PermissionDenied (after writing the refusal) unless ``actor`` is an
    operator, or a bare name with ``allow_named``. Must not run inside a transaction:
    the entry is committed before the body runs.
    """
    actor_name = actor_label(actor)
    audit_values_check(actor_name=actor_name, action=action, target=target, parameters=parameters)
    started_at = timezone.now()
    entry_fields: dict[str, Any] = {
        "actor": actor,
        "action": action,
        "target": target,
        "parameters": parameters,
        "correlation_id": uuid.uuid4(),
        "started_at": started_at,
    }
    if not _permitted(actor, allow_named=allow_named):
        audit_entry_write(
            **entry_fields, outcome=AuditOutcome.REFUSED, detail="operator role required", finished_at=started_at
        )
        raise PermissionDenied(f"{action} needs the operator role; {actor_name} does not have it")
    entry = audit_entry_write(**entry_fields, outcome=AuditOutcome.RUNNING, finished_at=None)
    handle = OperatorAction(correlation_id=entry.correlation_id, actor_name=actor_name, started_at=started_at)
    try:
        yield handle
    except Exception as exc:
        if handle.outcome != AuditOutcome.REFUSED:
            handle.outcome, handle.detail = AuditOutcome.FAILED, _error_text(exc)
        try:
            _entry_finish(entry, handle)
        except Exception:
            # The body's error is the one the caller must see; the entry stays "running".
            logger.exception("could not write the outcome of %s %s (%s)", action, target, entry.correlation_id)
        raise
    _entry_finish(entry, handle)


def operator_request_refusal_record(*, actor: Actor, action: str, method: str, path: str) -> None:
    """Record that a gate (the API's, the console's) refused a non-operator's request to act.

    The gate refuses before any service runs, so the refusal is written here instead of by
    :func:`operator_action`. The path is the client's own (any length, any characters):
    it is escaped and cut, so the refusal is recorded whatever was sent.
    """
    audit_log_record(
        actor=actor,
        action=action,
        target=path,
        parameters={"method": method},
        outcome=AuditOutcome.REFUSED,
        detail="operator role required",
    )
