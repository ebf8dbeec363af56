"""Saga rows written through the models: a saga in any state, with as many attempts as a test or bench needs."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from django.utils import timezone

from apps.sagas import plan
from apps.sagas.models import SagaInstance, SagaStep


@dataclass(frozen=True)
class AttemptSpec:
    name: str
    target: str
    status: str
    kind: str = "action"
    attempt: int = 1
    max_attempts: int = 3
    wait_before_ms: int = 0
    took_ms: int = 100
    outcome: str = ""
    compensates: str = ""
    answer_event_type: str = ""
    answer_stream_id: str = ""
    answer_position: int | None = None


_COMMANDS = {
    "reserve_stock": ("ReserveStock", "inventory"),
    "authorize_payment": ("AuthorizePayment", "payment"),
    "confirm_order": ("ConfirmOrder", "order"),
    "release_stock": ("ReleaseStock", "inventory"),
    "refund_payment": ("RefundPayment", "payment"),
    "cancel_order": ("CancelOrder", "order"),
}


def saga_row_create(
    *,
    order_id: str,
    status: str,
    attempts: list[AttemptSpec],
    status_reason: str = "",
    current_step: str = "",
    correlation_id: str | None = None,
    started_at: dt.datetime | None = None,
) -> SagaInstance:
    """A saga and its attempts, one after another from ``started_at``; a pending attempt has no end."""
    started = started_at or timezone.now() - dt.timedelta(seconds=60)
    saga = SagaInstance.objects.create(
        order_id=order_id,
        correlation_id=correlation_id or f"corr-{order_id}",
        status=status,
        current_step=current_step,
        status_reason=status_reason,
        context={"customer_id": "c-1", "lines": [], "total_cents": 2500, "currency": "EUR"},
        trigger_event_id=str(uuid.uuid4()),
        trigger_position=1,
        started_at=started,
        updated_at=started,
        ended_at=None if status in ("running", "compensating", "stuck") else started + dt.timedelta(seconds=5),
    )
    clock = started
    rows = []
    for spec in attempts:
        clock += dt.timedelta(milliseconds=spec.wait_before_ms)
        finished = None if spec.status == "pending" else clock + dt.timedelta(milliseconds=spec.took_ms)
        command_type, participant = _COMMANDS[spec.name]
        rows.append(
            SagaStep(
                saga=saga,
                name=spec.name,
                target=spec.target,
                kind=spec.kind,
                sequence=plan.SEQUENCE[spec.name],
                attempt=spec.attempt,
                max_attempts=spec.max_attempts,
                status=spec.status,
                command={"type": command_type, "participant": participant, "fields": {"order_id": order_id}},
                command_id=str(uuid.uuid4()),
                causation_id=str(uuid.uuid4()),
                wait_before_ms=spec.wait_before_ms,
                started_at=clock,
                deadline_at=clock + dt.timedelta(seconds=5),
                finished_at=finished,
                outcome=spec.outcome,
                compensates=spec.compensates,
                answer_event_type=spec.answer_event_type,
                answer_stream_id=spec.answer_stream_id,
                answer_position=spec.answer_position,
            )
        )
        clock = finished or clock
    SagaStep.objects.bulk_create(rows)
    return saga
