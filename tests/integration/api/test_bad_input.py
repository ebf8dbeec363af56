"""Bad input gets a 4xx with a JSON body naming the problem, and appends nothing."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.db import connections
from django.test import AsyncClient, Client

from apps.accounts.services import api_token_create
from tests.integration.api.api_calls import ORDER, assert_error, post_json, stored_event_count


def order_with(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    body = copy.deepcopy(ORDER)
    change(body)
    return body


def line_set(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda body: body["lines"][0].__setitem__(key, value)


@pytest.fixture
def nothing_appended(db: None) -> Iterator[None]:
    before = stored_event_count()
    yield
    assert stored_event_count() == before


@pytest.mark.usefixtures("nothing_appended")
@pytest.mark.parametrize(
    "body",
    ['{"customer_id": "c", ', "{'single': 'quotes'}", "not json at all", b"\xff\xfe\x00"],
)
def test_malformed_json_is_400(operator_client: Client, body: str | bytes) -> None:
    assert_error(post_json(operator_client, "/api/orders", body), 400, "malformed_json")


@pytest.mark.usefixtures("nothing_appended")
@pytest.mark.parametrize(
    ("body", "field"),
    [
        (order_with(lambda b: b.__setitem__("discount", 5)), "discount"),
        (order_with(line_set("colour", "red")), "lines[0].colour"),
    ],
)
def test_unknown_field_is_422_and_named(operator_client: Client, body: dict[str, Any], field: str) -> None:
    error = assert_error(post_json(operator_client, "/api/orders", body), 422, "validation_error", field)
    assert "unknown field" in error["message"]


@pytest.mark.usefixtures("nothing_appended")
@pytest.mark.parametrize(
    ("body", "field"),
    [
        (order_with(lambda b: b.pop("customer_id")), "customer_id"),
        (order_with(lambda b: b.pop("currency")), "currency"),
        (order_with(lambda b: b.pop("lines")), "lines"),
        (order_with(lambda b: b["lines"][0].pop("sku")), "lines[0].sku"),
        (order_with(lambda b: b["lines"][0].pop("quantity")), "lines[0].quantity"),
        (order_with(lambda b: b["lines"][0].pop("unit_price_cents")), "lines[0].unit_price_cents"),
    ],
)
def test_missing_field_is_422_and_named(operator_client: Client, body: dict[str, Any], field: str) -> None:
    error = assert_error(post_json(operator_client, "/api/orders", body), 422, "validation_error", field)
    assert "missing field" in error["message"]


@pytest.mark.usefixtures("nothing_appended")
def test_missing_body_is_422(operator_client: Client) -> None:
    error = assert_error(post_json(operator_client, "/api/orders", ""), 422, "validation_error")
    assert "body" in error["message"]


@pytest.mark.usefixtures("nothing_appended")
@pytest.mark.parametrize("body", ["[1, 2]", "null", '"an order"', "42"])
def test_body_that_is_not_an_object_is_400(operator_client: Client, body: str) -> None:
    error = assert_error(post_json(operator_client, "/api/orders", body), 400, "body_not_an_object")
    assert "JSON object" in error["message"]


@pytest.mark.usefixtures("nothing_appended")
@pytest.mark.parametrize(
    ("body", "field"),
    [
        (order_with(line_set("quantity", "2")), "lines[0].quantity"),
        (order_with(line_set("quantity", True)), "lines[0].quantity"),
        (order_with(line_set("quantity", 2.5)), "lines[0].quantity"),
        (order_with(line_set("quantity", 2.0)), "lines[0].quantity"),
        (order_with(line_set("quantity", None)), "lines[0].quantity"),
        (order_with(line_set("unit_price_cents", "19.99")), "lines[0].unit_price_cents"),
        (order_with(line_set("unit_price_cents", 19.99)), "lines[0].unit_price_cents"),
        (order_with(line_set("unit_price_cents", False)), "lines[0].unit_price_cents"),
        (order_with(line_set("sku", 123)), "lines[0].sku"),
        (order_with(lambda b: b.__setitem__("customer_id", 7)), "customer_id"),
        (order_with(lambda b: b.__setitem__("lines", {"sku": "A"})), "lines"),
        (order_with(lambda b: b.__setitem__("lines", ["SKU-1"])), "lines[0]"),
    ],
)
def test_wrong_type_is_422_and_named(operator_client: Client, body: dict[str, Any], field: str) -> None:
    assert_error(post_json(operator_client, "/api/orders", body), 422, "validation_error", field)


@pytest.mark.usefixtures("nothing_appended")
@pytest.mark.parametrize("quantity", [0, -1, 10**7])
def test_quantity_out_of_range_is_422(operator_client: Client, quantity: int) -> None:
    body = order_with(line_set("quantity", quantity))
    assert_error(post_json(operator_client, "/api/orders", body), 422, "validation_error", "lines[0].quantity")


@pytest.mark.usefixtures("nothing_appended")
@pytest.mark.parametrize("quantity", [0, -5, "5", True])
def test_bad_stock_quantity_is_422(operator_client: Client, quantity: Any) -> None:
    response = post_json(operator_client, "/api/stock", {"sku": "SKU-1", "quantity": quantity})
    assert_error(response, 422, "validation_error", "quantity")


@pytest.mark.usefixtures("nothing_appended")
def test_negative_price_is_422(operator_client: Client) -> None:
    body = order_with(line_set("unit_price_cents", -1))
    assert_error(post_json(operator_client, "/api/orders", body), 422, "validation_error", "lines[0].unit_price_cents")


def test_zero_price_is_accepted(operator_client: Client) -> None:
    assert post_json(operator_client, "/api/orders", order_with(line_set("unit_price_cents", 0))).status_code == 201


@pytest.mark.usefixtures("nothing_appended")
def test_empty_lines_is_422(operator_client: Client) -> None:
    body = order_with(lambda b: b.__setitem__("lines", []))
    assert_error(post_json(operator_client, "/api/orders", body), 422, "validation_error", "lines")


@pytest.mark.usefixtures("nothing_appended")
@pytest.mark.parametrize(("currency"), ["eur", "EURO", "E1R", ""])
def test_currency_that_is_not_three_capital_letters_is_422(operator_client: Client, currency: str) -> None:
    body = order_with(lambda b: b.__setitem__("currency", currency))
    assert_error(post_json(operator_client, "/api/orders", body), 422, "validation_error", "currency")


@pytest.mark.usefixtures("nothing_appended")
def test_body_over_one_mebibyte_is_413_json(operator_client: Client) -> None:
    # Valid JSON, so it is the size alone that is refused.
    body = json.dumps({**ORDER, "customer_id": "c" * (1024 * 1024)})
    assert_error(post_json(operator_client, "/api/orders", body), 413, "body_too_large")


def test_body_over_one_mebibyte_on_cancel_is_413_json(operator_client: Client, order_place: Any) -> None:
    order = order_place()
    before = stored_event_count()
    body = json.dumps({"reason": "r" * (1024 * 1024 + 1)})
    assert_error(post_json(operator_client, f"/api/orders/{order['order_id']}/cancel", body), 413, "body_too_large")
    assert stored_event_count() == before


@pytest.mark.usefixtures("nothing_appended")
@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("get", "/api/orders/missing", None),
        ("post", "/api/orders/missing/cancel", {"reason": "x"}),
        ("post", "/api/orders/missing/confirm", None),
        ("post", "/api/orders/missing/ship", None),
        ("get", "/api/stock/NO-SUCH-SKU", None),
        ("get", "/api/streams/order-missing/events", None),
        ("get", "/api/no/such/endpoint", None),
    ],
)
def test_unknown_order_or_stream_is_404(operator_client: Client, method: str, path: str, body: Any) -> None:
    response = operator_client.get(path) if method == "get" else post_json(operator_client, path, body)
    assert_error(response, 404, "not_found")


@pytest.mark.usefixtures("nothing_appended")
@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("get", "/api/orders", "POST"),
        ("put", "/api/orders", "POST"),
        ("delete", "/api/orders/o-1", "GET"),
        ("get", "/api/orders/o-1/cancel", "POST"),
        ("post", "/api/events", "GET"),
        ("patch", "/api/stock/SKU-1", "GET"),
        ("get", "/api/dead-letters/replay", "POST"),
    ],
)
def test_wrong_method_is_405_json_with_allow_header(
    operator_client: Client, method: str, path: str, allowed: str
) -> None:
    response = getattr(operator_client, method)(path)
    error = assert_error(response, 405, "method_not_allowed")
    assert response["Allow"] == allowed
    assert method.upper() in error["message"] and allowed in error["message"]


def test_wrong_method_lists_every_allowed_method(operator_client: Client) -> None:
    response = operator_client.delete("/api/failure-rules")
    assert_error(response, 405, "method_not_allowed")
    assert response["Allow"] == "GET, POST"


def test_confirming_a_cancelled_order_is_409_and_appends_nothing(operator_client: Client, order_place: Any) -> None:
    order_id = order_place()["order_id"]
    post_json(operator_client, f"/api/orders/{order_id}/cancel", {"reason": "x"})
    before = stored_event_count()
    error = assert_error(post_json(operator_client, f"/api/orders/{order_id}/confirm"), 409, "rule_violation")
    assert "cancelled" in error["message"]
    assert_error(post_json(operator_client, f"/api/orders/{order_id}/ship"), 409, "rule_violation")
    assert stored_event_count() == before


def test_cancelling_a_shipped_order_is_409(operator_client: Client, order_place: Any) -> None:
    order_id = order_place()["order_id"]
    post_json(operator_client, f"/api/orders/{order_id}/confirm")
    post_json(operator_client, f"/api/orders/{order_id}/ship")
    before = stored_event_count()
    response = post_json(operator_client, f"/api/orders/{order_id}/cancel", {"reason": "x"})
    assert_error(response, 409, "rule_violation")
    assert stored_event_count() == before


def test_shipping_an_unconfirmed_order_is_409(operator_client: Client, order_place: Any) -> None:
    order_id = order_place()["order_id"]
    before = stored_event_count()
    assert_error(post_json(operator_client, f"/api/orders/{order_id}/ship"), 409, "rule_violation")
    assert stored_event_count() == before


def test_placing_an_order_id_twice_is_409(operator_client: Client, order_place: Any) -> None:
    order_place(order_id="twice")
    before = stored_event_count()
    response = post_json(operator_client, "/api/orders", {**ORDER, "order_id": "twice"})
    assert_error(response, 409, "rule_violation")
    assert stored_event_count() == before


@pytest.mark.usefixtures("nothing_appended")
@pytest.mark.parametrize("order_id", ["", "has space", "-leading-dash", "x" * 65, "ünïcode"])
def test_bad_client_order_id_is_422(operator_client: Client, order_id: str) -> None:
    body = {**ORDER, "order_id": order_id}
    assert_error(post_json(operator_client, "/api/orders", body), 422, "validation_error", "order_id")


def test_empty_cancel_reason_is_422(operator_client: Client, order_place: Any) -> None:
    order_id = order_place()["order_id"]
    before = stored_event_count()
    response = post_json(operator_client, f"/api/orders/{order_id}/cancel", {"reason": ""})
    assert_error(response, 422, "validation_error", "reason")
    assert stored_event_count() == before


@pytest.mark.usefixtures("nothing_appended")
def test_bad_correlation_header_is_422(operator_client: Client) -> None:
    response = post_json(operator_client, "/api/orders", ORDER, HTTP_X_CORRELATION_ID="has spaces in it")
    assert_error(response, 422, "validation_error", "X-Correlation-ID")


@pytest.mark.parametrize(
    ("query", "field"),
    [("limit=0", "limit"), ("limit=1001", "limit"), ("limit=ten", "limit"), ("after=-1", "after")],
)
def test_bad_global_log_query_is_422(viewer_client: Client, query: str, field: str) -> None:
    assert_error(viewer_client.get(f"/api/events?{query}"), 422, "validation_error", field)


def test_bad_up_to_version_is_422(viewer_client: Client, order_place: Any) -> None:
    stream_id = order_place()["stream_id"]
    response = viewer_client.get(f"/api/streams/{stream_id}/events?up_to_version=0")
    assert_error(response, 422, "validation_error", "up_to_version")


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)  # the ASGI handler runs the view on another thread's connection
@pytest.mark.usefixtures("nothing_appended")
async def test_body_over_one_mebibyte_through_asgi_is_413_json(operator: Any) -> None:
    try:
        token = await sync_to_async(api_token_create)(user=operator, name="asgi")
        body = json.dumps({**ORDER, "customer_id": "c" * (1024 * 1024)})
        headers = {"Authorization": f"Bearer {token}"}
        response = await AsyncClient().post("/api/orders", body, content_type="application/json", headers=headers)
    finally:
        # The handler's worker thread keeps its connection (CONN_MAX_AGE) past the request;
        # left open it blocks the flush and the test database's drop.
        await sync_to_async(connections.close_all)()
    assert_error(response, 413, "body_too_large")
