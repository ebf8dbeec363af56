"""apps/sagas/rows.py: its statements write and read exactly what the ORM would, and refuse what the ORM refuses."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.db import DatabaseError, transaction
from django.forms.models import model_to_dict
from django.utils import timezone

from apps.sagas.models import AttemptStatus, SagaInstance, SagaStatus, SagaStep
from apps.sagas.rows import row_update, rows_insert, rows_read, select_sql
from tests.support.saga_rows import AttemptSpec, saga_row_create

pytestmark = pytest.mark.django_db


def _columns(row: SagaInstance | SagaStep) -> dict[str, object]:
    return {field.attname: getattr(row, field.attname) for field in type(row)._meta.concrete_fields}


def test_rows_read_returns_what_the_orm_returns_column_for_column() -> None:
    saga = saga_row_create(
        order_id="rows-read",
        status=SagaStatus.COMPENSATING,
        status_reason="declined: über the limit",
        attempts=[
            AttemptSpec("reserve_stock", "sku-1", AttemptStatus.SUCCEEDED, answer_position=7),
            AttemptSpec("authorize_payment", "pay-1", AttemptStatus.REJECTED, outcome="declined"),
            AttemptSpec("release_stock", "sku-1", AttemptStatus.PENDING, kind="compensation"),
        ],
    )

    sagas = rows_read(SagaInstance, select_sql(SagaInstance, "WHERE order_id = %s"), ["rows-read"])
    steps = rows_read(SagaStep, select_sql(SagaStep, "WHERE saga_id = %s ORDER BY id"), [saga.pk])

    assert [_columns(row) for row in sagas] == [_columns(SagaInstance.objects.get(pk=saga.pk))]
    assert [_columns(row) for row in steps] == [
        _columns(row) for row in SagaStep.objects.filter(saga=saga).order_by("id")
    ]
    assert isinstance(sagas[0].pk, uuid.UUID) and isinstance(sagas[0].context, dict)
    assert all(isinstance(step.command, dict) and step.started_at.tzinfo is not None for step in steps)
    assert not sagas[0]._state.adding and sagas[0]._state.db == "default"


def test_rows_insert_sets_the_generated_keys_in_order_and_stores_what_was_given() -> None:
    saga = saga_row_create(order_id="rows-insert", status=SagaStatus.RUNNING, attempts=[])
    now = timezone.now()
    new = [
        SagaStep(
            saga=saga,
            name="reserve_stock",
            target=f"sku-{index}",
            kind="action",
            sequence=index,
            max_attempts=3,
            command={"type": "ReserveStock", "fields": {"sku": f"sku-{index}", "quantity": index}},
            command_id=str(uuid.uuid4()),
            causation_id="cause",
            started_at=now,
            deadline_at=now + dt.timedelta(seconds=30),
        )
        for index in range(3)
    ]

    rows_insert(new)

    assert all(row.pk is not None and not row._state.adding for row in new)
    stored = {row.pk: row for row in SagaStep.objects.filter(saga=saga)}
    assert sorted(stored) == [row.pk for row in new]
    assert [model_to_dict(stored[row.pk]) for row in new] == [model_to_dict(row) for row in new]


def test_row_update_writes_only_the_columns_named() -> None:
    saga = saga_row_create(order_id="rows-update", status=SagaStatus.RUNNING, attempts=[])
    saga.status, saga.ended_at = SagaStatus.COMPLETED, timezone.now()
    saga.context = {"changed": "in memory only"}

    row_update(saga, ("status", "ended_at"))

    stored = SagaInstance.objects.get(pk=saga.pk)
    assert (stored.status, stored.ended_at) == (SagaStatus.COMPLETED, saga.ended_at)
    assert stored.context != {"changed": "in memory only"}


def test_row_update_of_a_row_that_is_gone_raises_and_writes_nothing() -> None:
    saga = saga_row_create(order_id="rows-gone", status=SagaStatus.RUNNING, attempts=[])
    SagaInstance.objects.filter(pk=saga.pk).delete()
    saga.status = SagaStatus.FAILED

    with pytest.raises(DatabaseError, match="no row to update"), transaction.atomic():
        row_update(saga, ("status",))

    assert not SagaInstance.objects.filter(pk=saga.pk).exists()
