"""Every endpoint needs a user; reads need the viewer role, writes the operator role."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from apps.accounts.models import ApiToken, AuditLog
from apps.accounts.services import api_token_authenticate, api_token_create
from apps.orders import handlers
from apps.orders.domain import commands as cmds
from tests.integration.api.api_calls import (
    ORDER,
    assert_error,
    bearer_client,
    post_json,
    stored_event_count,
    user_with_role,
)

READS = [
    "/api/me",
    "/api/orders/o-1",
    "/api/stock/SKU-1",
    "/api/streams/order-o-1/events",
    "/api/events",
]
WRITES: list[tuple[str, Any]] = [
    ("/api/orders", ORDER),
    ("/api/orders/o-1/cancel", {"reason": "changed my mind"}),
    ("/api/orders/o-1/confirm", None),
    ("/api/orders/o-1/ship", None),
    ("/api/stock", {"sku": "SKU-1", "quantity": 3}),
]


@pytest.fixture
def seeded(db: None) -> None:
    ctx = handlers.CommandContext(actor="seed")
    handlers.place_order(
        cmds.PlaceOrder("o-1", "cust-1", "EUR", (cmds.OrderLine("SKU-1", 1, 100),)),
        ctx,
    )
    handlers.add_stock(cmds.AddStock("SKU-1", 10), ctx)


@pytest.mark.parametrize("path", READS)
def test_anonymous_read_is_401_with_json_error(seeded: None, path: str) -> None:
    assert_error(Client().get(path), 401, "not_authenticated")


@pytest.mark.parametrize(("path", "body"), WRITES)
def test_anonymous_write_is_401_and_appends_nothing(seeded: None, path: str, body: Any) -> None:
    before = stored_event_count()
    assert_error(post_json(Client(), path, body), 401, "not_authenticated")
    assert stored_event_count() == before


@pytest.mark.parametrize("path", READS)
def test_viewer_with_bearer_token_can_read(seeded: None, viewer_client: Client, path: str) -> None:
    response = viewer_client.get(path)
    assert response.status_code == 200, response.content


@pytest.mark.parametrize(("path", "body"), WRITES)
def test_viewer_cannot_write_gets_403_appends_nothing_and_is_audited(
    seeded: None, viewer: User, viewer_client: Client, path: str, body: Any
) -> None:
    before = stored_event_count()
    assert_error(post_json(viewer_client, path, body), 403, "forbidden")
    assert stored_event_count() == before
    entry = AuditLog.objects.get()
    assert (entry.user, entry.actor, entry.outcome, entry.target) == (viewer, "victor", "refused", path)


@pytest.mark.parametrize("path", READS)
def test_user_without_a_role_cannot_read(seeded: None, path: str) -> None:
    client = bearer_client(user_with_role("nobody", None))
    assert_error(client.get(path), 403, "forbidden")


def test_operator_can_run_every_command(operator_client: Client) -> None:
    placed = post_json(operator_client, "/api/orders", {**ORDER, "order_id": "o-7"})
    assert placed.status_code == 201
    assert post_json(operator_client, "/api/stock", {"sku": "SKU-1", "quantity": 3}).status_code == 200
    assert post_json(operator_client, "/api/orders/o-7/confirm").status_code == 200
    assert post_json(operator_client, "/api/orders/o-7/ship").status_code == 200
    post_json(operator_client, "/api/orders", {**ORDER, "order_id": "o-8"})
    cancelled = post_json(operator_client, "/api/orders/o-8/cancel", {"reason": "duplicate"})
    assert cancelled.status_code == 200
    assert cancelled.json()["events"] == ["OrderCancelled"]


def test_superuser_counts_as_operator(db: None) -> None:
    admin = User.objects.create_superuser("root", password="pw")
    assert post_json(bearer_client(admin), "/api/orders", ORDER).status_code == 201


def test_unknown_token_is_401(seeded: None) -> None:
    client = Client(HTTP_AUTHORIZATION="Bearer eda_not-a-real-token")
    assert_error(client.get("/api/events"), 401, "not_authenticated")


def test_other_authorization_scheme_is_401(seeded: None, operator: User) -> None:
    client = Client(HTTP_AUTHORIZATION="Basic b2xnYTpwdy1vbGdh")
    assert_error(client.get("/api/events"), 401, "not_authenticated")


def test_token_of_deactivated_user_is_401(seeded: None, operator: User) -> None:
    client = bearer_client(operator)
    operator.is_active = False
    operator.save()
    assert_error(client.get("/api/events"), 401, "not_authenticated")


def test_session_user_can_read(seeded: None, viewer: User) -> None:
    client = Client()
    client.force_login(viewer)
    assert client.get("/api/orders/o-1").json()["status"] == "placed"


def test_session_write_without_csrf_token_is_refused(operator: User) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(operator)
    before = stored_event_count()
    error = assert_error(post_json(client, "/api/orders", ORDER), 403, "forbidden")
    assert "CSRF" in error["message"]
    assert stored_event_count() == before


def test_session_write_with_csrf_token_is_accepted(operator: User) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(operator)
    token = "k" * 32
    client.cookies["csrftoken"] = token
    response = post_json(client, "/api/orders", ORDER, HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 201, response.content


def test_session_viewer_cannot_write(viewer: User) -> None:
    client = Client()
    client.force_login(viewer)
    assert_error(post_json(client, "/api/orders", ORDER), 403, "forbidden")


def test_token_is_stored_only_as_its_sha256(operator: User) -> None:
    token = api_token_create(user=operator, name="ci")
    row = ApiToken.objects.get()
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    stored = [str(value) for value in ApiToken.objects.values_list().get()]
    assert token not in stored
    assert all(token not in value for value in stored)
    assert row.name == "ci"


def test_token_authenticates_its_user_and_records_last_use(operator: User) -> None:
    token = api_token_create(user=operator, name="ci")
    assert ApiToken.objects.get().last_used_at is None
    assert api_token_authenticate(token) == operator
    assert ApiToken.objects.get().last_used_at is not None
    assert api_token_authenticate(token + "x") is None
    assert api_token_authenticate("") is None


def test_command_events_name_the_bearer_user_as_actor(operator_client: Client) -> None:
    placed = post_json(operator_client, "/api/orders", ORDER).json()
    events = operator_client.get(f"/api/streams/{placed['stream_id']}/events").json()["events"]
    assert events[0]["metadata"]["actor"] == "olga"
