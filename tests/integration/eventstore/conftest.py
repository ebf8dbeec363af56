"""Fixtures for the event store's integration tests."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from django.conf import settings

# The SQLite contract database lives under EDA_VAR_DIR, which may not exist yet.
Path(settings.VAR_DIR).mkdir(parents=True, exist_ok=True)


@pytest.fixture
def stream_id() -> str:
    return f"order-{uuid.uuid4()}"
