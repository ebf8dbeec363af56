"""Audit rows: what one can hold, and the records of things that already happened.

An operator action's entry is written before the action runs (see operator_actions.py),
so a value the row could not hold has to be found first: :func:`audit_values_check`
raises :class:`AuditEntryInvalid` naming it, and the action does not happen. A record of
something that already happened (a rebuild the worker finished, a request the API gate
refused) can no longer be refused: :func:`audit_log_record` escapes such values instead.
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
from collections.abc import Mapping
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils import timezone

from apps.accounts.models import AuditLog, AuditOutcome
from apps.accounts.services import Actor, actor_label
from apps.api.fields import TEXT_FORBIDDEN


class AuditEntryInvalid(ValidationError):
    """A value the audit entry of an operator action cannot hold; the action did not run."""

    def __init__(self, *, field: str, problem: str) -> None:
        super().__init__(f"{field} {problem}", code="audit_entry_invalid")
        self.field = field


def _text_problem(text: str, *, max_length: int | None) -> str | None:
    # The API's rule for free text: what PostgreSQL and UTF-8 cannot hold, and invisible control characters.
    match = TEXT_FORBIDDEN.search(text)
    if match is not None:
        char = match.group()
        if char == "\x00":
            kind = "a NUL character"
        elif "\ud800" <= char <= "\udfff":
            kind = "a lone surrogate"
        else:
            kind = "a control character"
        return f"contains {kind} (U+{ord(char):04X}) at index {match.start()}"
    if max_length is not None and len(text) > max_length:
        return f"is {len(text)} characters long; at most {max_length} fit"
    return None


def _column_length(name: str) -> int | None:
    column = AuditLog._meta.get_field(name)
    return column.max_length if isinstance(column, models.CharField) else None


def _json_check(value: Any, *, path: str) -> None:
    problem: str | None = None
    if isinstance(value, str):
        problem = _text_problem(value, max_length=None)
    elif isinstance(value, float) and not math.isfinite(value):
        problem = f"is {value}, which JSON cannot hold"
    elif isinstance(value, Mapping):
        for key, item in value.items():
            key_problem = _text_problem(str(key), max_length=None)
            if key_problem is not None:
                raise AuditEntryInvalid(field=f"{path}.{key!r}" if path else repr(key), problem=key_problem)
            _json_check(item, path=f"{path}.{key}" if path else str(key))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _json_check(item, path=f"{path}[{index}]")
    if problem is not None:
        raise AuditEntryInvalid(field=path or "parameters", problem=problem)


def audit_values_check(*, actor_name: str, action: str, target: str, parameters: Mapping[str, Any]) -> None:
    """Raise AuditEntryInvalid for the first value an audit row could not hold.

    Parameters come first and are named by their key: they are what the caller sent.
    """
    _json_check(parameters, path="")
    for name, text in (("target", target), ("actor", actor_name), ("action", action)):
        problem = _text_problem(text, max_length=_column_length(name))
        if problem is not None:
            raise AuditEntryInvalid(field=name, problem=problem)


def audit_text_escape(text: str, *, max_length: int | None = None) -> str:
    """``text`` with what a row cannot hold written as ``\\uXXXX``, cut to ``max_length``."""
    text = TEXT_FORBIDDEN.sub(lambda match: f"\\u{ord(match.group()):04x}", text)
    if max_length is not None and len(text) > max_length:
        text = text[: max_length - 1] + "…"
    return text


def _json_escape(value: Any) -> Any:
    if isinstance(value, str):
        return audit_text_escape(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, Mapping):
        return {audit_text_escape(str(key)): _json_escape(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_escape(item) for item in value]
    return value


def _entry_create(
    *,
    actor: Actor,
    actor_name: str,
    action: str,
    target: str,
    parameters: Mapping[str, Any],
    outcome: str,
    detail: str,
    correlation_id: uuid.UUID,
    started_at: dt.datetime,
    finished_at: dt.datetime | None,
) -> AuditLog:
    return AuditLog.objects.create(
        actor=actor_name,
        user=actor if isinstance(actor, User) else None,
        action=action,
        target=target,
        parameters=parameters,
        outcome=outcome,
        detail=audit_text_escape(detail),
        correlation_id=correlation_id,
        started_at=started_at,
        finished_at=finished_at,
    )


def audit_entry_write(
    *,
    actor: Actor,
    action: str,
    target: str,
    parameters: Mapping[str, Any],
    outcome: str,
    detail: str = "",
    correlation_id: uuid.UUID,
    started_at: dt.datetime,
    finished_at: dt.datetime | None,
) -> AuditLog:
    """Insert one entry and commit it before returning; values must have passed the check.

    Durable on purpose: inside a caller's transaction the entry would vanish with a
    rollback that comes after the action's side effect (a message already on Kafka).
    """
    with transaction.atomic(durable=True):
        return _entry_create(
            actor=actor,
            actor_name=actor_label(actor),
            action=action,
            target=target,
            parameters=dict(parameters),
            outcome=outcome,
            detail=detail,
            correlation_id=correlation_id,
            started_at=started_at,
            finished_at=finished_at,
        )


def audit_log_record(
    *,
    actor: Actor,
    action: str,
    target: str,
    parameters: Mapping[str, Any],
    outcome: str,
    detail: str = "",
) -> AuditLog:
    """Record something that already happened (a system record, the API gate's refusal).

    It is not an operator action (those go through ``operator_action``): nothing is left
    to refuse, so values the row cannot hold are escaped and cut to fit.
    """
    if outcome not in AuditOutcome.values or outcome == AuditOutcome.RUNNING:
        raise ValueError(f"outcome must be ok, failed or refused, got {outcome!r}")
    now = timezone.now()
    return _entry_create(
        actor=actor,
        actor_name=audit_text_escape(actor_label(actor), max_length=_column_length("actor")),
        action=audit_text_escape(action, max_length=_column_length("action")),
        target=audit_text_escape(target, max_length=_column_length("target")),
        parameters=_json_escape(parameters),
        outcome=outcome,
        detail=detail,
        correlation_id=uuid.uuid4(),
        started_at=now,
        finished_at=now,
    )
