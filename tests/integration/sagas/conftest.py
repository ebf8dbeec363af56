"""An operator for the saga tests' failure rules."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from tests.integration.dead_letters.conftest import user_with_role


@pytest.fixture
def operator(db: None) -> User:
    return user_with_role("opal", "operator")
