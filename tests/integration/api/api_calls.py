"""Requests against the JSON API and the checks every bad-input test makes."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from django.contrib.auth.models import Group, User
from django.db import connection
from django.test import Client

from apps.accounts.services import api_token_create

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedASGIResponse as AsyncResponse
    from django.test.client import _MonkeyPatchedWSGIResponse as Response


def user_with_role(username: str, group: str | None) -> User:
    user = User.objects.create_user(username=username, password="pw-" + username)
    if group:
        # get_or_create: a transactional test flushes the groups the data migration made.
        user.groups.add(Group.objects.get_or_create(name=group)[0])
    return user


def bearer_client(user: User) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Bearer {api_token_create(user=user, name='tests')}")


def post_json(client: Client, path: str, body: Any = None, **extra: Any) -> Response:
    data = body if isinstance(body, str | bytes) else json.dumps(body if body is not None else {})
    return client.post(path, data, content_type="application/json", **extra)


def stored_event_count() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM eventstore_stored_event")
        return int(cursor.fetchone()[0])


def assert_error(
    response: Response | AsyncResponse, status: int, code: str, field: str | None = None
) -> dict[str, Any]:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert error["code"] == code, error
    assert error["message"]
    if field is not None:
        assert error["field"] == field, error
    return error


ORDER = {
    "customer_id": "cust-1",
    "currency": "EUR",
    "lines": [{"sku": "SKU-1", "quantity": 2, "unit_price_cents": 1999}],
}
