"""Reads of saga state for the console and the API."""

from __future__ import annotations

import datetime as dt
import math
import uuid
from typing import Any

from django.db.models import Count, Prefetch, Q, QuerySet, prefetch_related_objects
from django.utils import timezone

from apps.sagas.models import AttemptStatus, SagaInstance, SagaStatus, SagaStep

# The statuses whose condition is told from the saga's attempts (see saga_condition).
_CONDITION_FROM_ATTEMPTS = frozenset({SagaStatus.RUNNING, SagaStatus.COMPENSATING})


def _attempts_in_timeline_order() -> Prefetch[Any]:
    return Prefetch("steps", queryset=SagaStep.objects.order_by("sequence", "started_at", "attempt", "id"))


def saga_list(
    *,
    status: str | None = None,
    order_id: str | None = None,
    step: str | None = None,
    text: str | None = None,
    older_than_seconds: int | None = None,
    limit: int = 50,
) -> list[SagaInstance]:
    """Sagas matching every given filter, newest first.

    ``step`` is the saga's current step (the one that failed, for a saga that stopped);
    ``text`` matches the order id, the correlation id or the status reason. A running or
    compensating saga comes with its attempts (``saga.steps.all()``, in timeline order),
    which :func:`saga_condition` reads: a list costs the same few queries however long.
    """
    queryset = saga_queryset(
        status=status, order_id=order_id, step=step, text=text, older_than_seconds=older_than_seconds
    )
    sagas = list(queryset[:limit])
    # Only the open ones: a settled saga's condition needs no attempt, and the simulator
    # asks for one settled saga at a time, many times over.
    open_sagas = [saga for saga in sagas if saga.status in _CONDITION_FROM_ATTEMPTS]
    prefetch_related_objects(open_sagas, _attempts_in_timeline_order())
    return sagas


def saga_queryset(
    *,
    status: str | None = None,
    order_id: str | None = None,
    step: str | None = None,
    text: str | None = None,
    older_than_seconds: int | None = None,
) -> QuerySet[SagaInstance]:
    queryset = SagaInstance.objects.order_by("-started_at", "-id")
    if status:
        queryset = queryset.filter(status=status)
    if order_id:
        queryset = queryset.filter(order_id=order_id)
    if step:
        queryset = queryset.filter(current_step=step)
    if text:
        queryset = queryset.filter(
            Q(order_id__icontains=text) | Q(correlation_id__icontains=text) | Q(status_reason__icontains=text)
        )
    if older_than_seconds is not None:
        queryset = queryset.filter(started_at__lt=timezone.now() - dt.timedelta(seconds=older_than_seconds))
    return queryset


def saga_detail(*, saga_id: uuid.UUID) -> SagaInstance:
    """One saga with its attempts prefetched in timeline order; raises SagaInstance.DoesNotExist."""
    return SagaInstance.objects.prefetch_related(_attempts_in_timeline_order()).get(pk=saga_id)


def saga_status_counts() -> dict[str, int]:
    """How many sagas are in each status; every status is present, zero included."""
    counts = {status.value: 0 for status in SagaStatus}
    for row in SagaInstance.objects.values("status").annotate(n=Count("id")).order_by():
        counts[row["status"]] = row["n"]
    return counts


def _seconds(value: float) -> str:
    return f"{value:.1f}" if value < 10 else f"{round(value)}"


def saga_condition(saga: SagaInstance, *, now: dt.datetime | None = None) -> str:
    """The saga's current condition in words, e.g. "authorize_payment: attempt 3 of 5, next try in 4 s"."""
    now = now or timezone.now()
    if saga.status == SagaStatus.COMPLETED:
        ended = saga.ended_at or saga.updated_at
        return f"completed in {_seconds((ended - saga.started_at).total_seconds())} s"
    if saga.status not in _CONDITION_FROM_ATTEMPTS:
        return f"{saga.status}: {saga.status_reason}" if saga.status_reason else str(saga.status)
    attempts = [a for a in saga.steps.all() if a.status == AttemptStatus.PENDING]
    if not attempts:
        prefix = "compensating" if saga.status == SagaStatus.COMPENSATING else "running"
        return f"{prefix}: {saga.current_step}" if saga.current_step else prefix
    attempt = max(attempts, key=lambda a: (a.attempt, a.started_at))
    head = f"{attempt.name}: attempt {attempt.attempt} of {attempt.max_attempts}"
    if attempt.started_at > now:
        return f"{head}, next try in {math.ceil((attempt.started_at - now).total_seconds())} s"
    waited = _seconds((now - attempt.started_at).total_seconds())
    return f"{head}, waiting for the answer for {waited} s"
