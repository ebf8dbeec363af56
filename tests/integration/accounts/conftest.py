"""Operators and viewers for the operator-action tests, and the Kafka fixtures the poison tests use."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from tests.integration.api.api_calls import user_with_role
from tests.support.broker import kafka, tansu  # noqa: F401  (fixtures for the poison-message tests)


@pytest.fixture
def operator(db: None) -> User:
    return user_with_role("olga", "operator")


@pytest.fixture
def viewer(db: None) -> User:
    return user_with_role("victor", "viewer")
