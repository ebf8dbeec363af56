"""The saga list reads each saga's attempts once for the whole page, not once per saga."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from django.utils import timezone

from apps.sagas.models import AttemptStatus, SagaInstance, SagaStatus, SagaStep
from tests.integration.api.api_calls import bearer_client, user_with_role

pytestmark = pytest.mark.django_db

# The token, its last-used stamp, the role check, the page of sagas, their attempts: whatever the page's length.
LIST_QUERIES = 5


def _running_saga(number: int, now: dt.datetime) -> SagaInstance:
    saga = SagaInstance.objects.create(
        order_id=f"o-list-{number:03d}",
        correlation_id=str(uuid.uuid4()),
        status=SagaStatus.RUNNING,
        current_step="authorize_payment",
        context={},
        trigger_event_id=str(uuid.uuid4()),
        trigger_position=number,
        started_at=now - dt.timedelta(seconds=number),
        updated_at=now,
    )
    for attempt, status in ((1, AttemptStatus.TIMED_OUT), (2, AttemptStatus.PENDING)):
        SagaStep.objects.create(
            saga=saga,
            name="authorize_payment",
            target=saga.order_id,
            kind="action",
            sequence=2,
            attempt=attempt,
            max_attempts=3,
            status=status,
            command_id=str(uuid.uuid4()),
            causation_id="c",
            started_at=now - dt.timedelta(seconds=3 - attempt),
        )
    return saga


def test_listing_a_hundred_running_sagas_with_their_conditions_costs_a_constant_number_of_queries(
    django_assert_max_num_queries: Any,
) -> None:
    now = timezone.now()
    for number in range(100):
        _running_saga(number, now)
    client = bearer_client(user_with_role("victor", "viewer"))

    with django_assert_max_num_queries(LIST_QUERIES):
        response = client.get("/api/sagas", {"limit": "100"})

    assert response.status_code == 200, response.content
    sagas = response.json()
    assert len(sagas) == 100
    # The condition comes from the prefetched attempts: the newest pending one.
    assert all(s["condition"].startswith("authorize_payment: attempt 2 of 3, waiting for the answer") for s in sagas)
