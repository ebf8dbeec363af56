"""What the contract tests share: both database aliases and events to append."""

from __future__ import annotations

from typing import Any

import pytest

from apps.eventstore.models import StoredEvent
from apps.eventstore.types import NewEvent
from tests.unit.eventstore.samples import sample_data

BOTH_DATABASES = ["default", "sqlite"]

on_both_databases = pytest.mark.parametrize("using", BOTH_DATABASES)


def event_count(using: str) -> int:
    return StoredEvent.objects.using(using).count()


def new_event(event_type: str, *, correlation_id: str | None = None, **changes: Any) -> NewEvent:
    metadata = {"actor": "test"} | ({"correlation_id": correlation_id} if correlation_id else {})
    return NewEvent(event_type, sample_data(event_type) | changes, metadata)
