from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from tests.integration.api.api_calls import ORDER, bearer_client, post_json, user_with_role
from tests.integration.api.connection_guard import other_connections_to_test_database


@pytest.fixture(autouse=True)
def no_connection_left_behind() -> Iterator[None]:
    """Fail the test that leaves a second connection to the test database open."""
    yield
    left = other_connections_to_test_database()
    assert not left, f"connections left open on the test database: {left}"


@pytest.fixture
def operator(db: None) -> User:
    return user_with_role("olga", "operator")


@pytest.fixture
def viewer(db: None) -> User:
    return user_with_role("victor", "viewer")


@pytest.fixture
def operator_client(operator: User) -> Client:
    return bearer_client(operator)


@pytest.fixture
def viewer_client(viewer: User) -> Client:
    return bearer_client(viewer)


@pytest.fixture
def order_place(operator_client: Client) -> Callable[..., dict[str, Any]]:
    def place(**changes: Any) -> dict[str, Any]:
        response = post_json(operator_client, "/api/orders", {**ORDER, **changes})
        assert response.status_code == 201, response.content
        return dict(response.json())

    return place
