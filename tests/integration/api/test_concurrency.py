"""A command that loses the race is retried; one that keeps losing gets a 409 and writes nothing."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connections
from django.test import Client
from django.test.utils import override_settings

from apps.eventstore.store import stream_read
from apps.orders import handlers
from apps.orders.domain import commands as cmds
from tests.integration.api.api_calls import ORDER, assert_error, bearer_client, post_json, user_with_role

pytestmark = pytest.mark.django_db(transaction=True)


RIVAL_TIMEOUT_SECONDS = 10


def rival_append(order_id: str) -> None:
    """Another writer, on its own connection, commits to the same stream, then hangs up."""
    errors: list[BaseException] = []

    def write() -> None:
        try:
            line = cmds.OrderLine("RIVAL", 1, 1)
            handlers.add_order_line(cmds.AddOrderLine(order_id, line), handlers.CommandContext(actor="rival"))
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    thread = threading.Thread(target=write, name=f"rival-{order_id}", daemon=True)
    thread.start()
    # A rival stuck behind the request's transaction must fail the test, not hang it
    # with both connections open.
    thread.join(timeout=RIVAL_TIMEOUT_SECONDS)
    assert not thread.is_alive(), "the rival writer is blocked by the request's transaction"
    if errors:
        raise errors[0]


def race_on_every_load(monkeypatch: pytest.MonkeyPatch, order_id: str, times: int | None) -> list[int]:
    """After the handler loads the order, a rival commits first (``times`` times, None = always)."""
    raced: list[int] = []
    real_load = handlers.aggregate_load
    api_thread = threading.get_ident()

    def load_then_lose(aggregate_class: Any, key: str, **kwargs: Any) -> Any:
        aggregate = real_load(aggregate_class, key, **kwargs)
        # The rival's own handler loads through this too; only the API request races.
        # Without the thread check each rival would start another rival from inside its
        # transaction, recursively, until PostgreSQL runs out of connections.
        racing = threading.get_ident() == api_thread and key == order_id
        if racing and (times is None or len(raced) < times):
            rival_append(order_id)
            raced.append(aggregate.version)
        return aggregate

    monkeypatch.setattr(handlers, "aggregate_load", load_then_lose)
    return raced


@pytest.fixture
def operator_client_tx() -> Client:
    return bearer_client(user_with_role("olga", "operator"))


def place(client: Client, order_id: str) -> None:
    assert post_json(client, "/api/orders", {**ORDER, "order_id": order_id}).status_code == 201


@override_settings(EVENTSTORE_CONFLICT_RETRIES=3)
def test_conflict_that_survives_every_retry_is_409_and_appends_nothing_of_its_own(
    operator_client_tx: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    place(operator_client_tx, "race-1")
    raced = race_on_every_load(monkeypatch, "race-1", times=None)

    response = post_json(operator_client_tx, "/api/orders/race-1/cancel", {"reason": "too slow"})

    error = assert_error(response, 409, "concurrency_conflict")
    assert "order-race-1" in error["message"]
    assert len(raced) == 4, "one try and three retries, each one reloading the stream"
    assert raced == [1, 2, 3, 4]
    types = [e.event_type for e in stream_read(stream_id="order-race-1")]
    assert types == ["OrderPlaced"] + ["OrderLineAdded"] * 4
    assert "OrderCancelled" not in types


@override_settings(EVENTSTORE_CONFLICT_RETRIES=3)
def test_conflict_that_clears_on_retry_succeeds(operator_client_tx: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    place(operator_client_tx, "race-2")
    raced = race_on_every_load(monkeypatch, "race-2", times=2)

    response = post_json(operator_client_tx, "/api/orders/race-2/cancel", {"reason": "eventually"})

    assert response.status_code == 200, response.content
    assert response.json()["version"] == 4
    assert len(raced) == 2
    types = [e.event_type for e in stream_read(stream_id="order-race-2")]
    assert types == ["OrderPlaced", "OrderLineAdded", "OrderLineAdded", "OrderCancelled"]
