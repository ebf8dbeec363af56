"""Commands go in as JSON and come back as events; queries read state and the logs."""

from __future__ import annotations

from typing import Any

from django.test import Client

from tests.integration.api.api_calls import ORDER, post_json, stored_event_count


def test_placing_an_order_returns_201_with_id_version_and_position(operator_client: Client) -> None:
    before = stored_event_count()
    response = post_json(operator_client, "/api/orders", ORDER)
    assert response.status_code == 201
    body = response.json()
    assert body["version"] == 1
    assert body["stream_id"] == f"order-{body['order_id']}"
    assert body["position"] >= 1
    assert stored_event_count() == before + 1
    event = operator_client.get(f"/api/events?after={body['position'] - 1}&limit=1").json()["events"][0]
    assert (event["position"], event["event_type"], event["stream_id"]) == (
        body["position"],
        "OrderPlaced",
        body["stream_id"],
    )


def test_client_chosen_order_id_is_kept(order_place: Any) -> None:
    assert order_place(order_id="web-42")["order_id"] == "web-42"


def test_order_state_is_read_from_its_events(operator_client: Client, viewer_client: Client) -> None:
    lines = [
        {"sku": "SKU-1", "quantity": 2, "unit_price_cents": 1999},
        {"sku": "SKU-2", "quantity": 1, "unit_price_cents": 500},
    ]
    placed = post_json(operator_client, "/api/orders", {**ORDER, "order_id": "o-9", "lines": lines}).json()
    assert placed["order_id"] == "o-9"
    order = viewer_client.get("/api/orders/o-9").json()
    assert order == {
        "order_id": "o-9",
        "stream_id": "order-o-9",
        "status": "placed",
        "customer_id": "cust-1",
        "currency": "EUR",
        "lines": lines,
        "total_cents": 2 * 1999 + 500,
        "cancel_reason": None,
        "version": 1,
    }
    post_json(operator_client, "/api/orders/o-9/cancel", {"reason": "customer asked"})
    order = viewer_client.get("/api/orders/o-9").json()
    assert (order["status"], order["cancel_reason"], order["version"]) == ("cancelled", "customer asked", 2)


def test_confirm_then_ship_moves_the_order_along(operator_client: Client, order_place: Any) -> None:
    order_id = order_place()["order_id"]
    confirmed = post_json(operator_client, f"/api/orders/{order_id}/confirm").json()
    assert (confirmed["version"], confirmed["events"]) == (2, ["OrderConfirmed"])
    shipped = post_json(operator_client, f"/api/orders/{order_id}/ship").json()
    assert (shipped["version"], shipped["events"]) == (3, ["OrderShipped"])
    assert shipped["position"] > confirmed["position"]
    assert operator_client.get(f"/api/orders/{order_id}").json()["status"] == "shipped"


def test_repeating_a_cancel_appends_nothing_and_says_so(operator_client: Client, order_place: Any) -> None:
    order_id = order_place()["order_id"]
    post_json(operator_client, f"/api/orders/{order_id}/cancel", {"reason": "x"})
    before = stored_event_count()
    again = post_json(operator_client, f"/api/orders/{order_id}/cancel", {"reason": "x"})
    assert again.status_code == 200
    assert (again.json()["events"], again.json()["position"], again.json()["version"]) == ([], None, 2)
    assert stored_event_count() == before


def test_adding_stock_appends_stock_added(operator_client: Client, viewer_client: Client) -> None:
    first = post_json(operator_client, "/api/stock", {"sku": "SKU-5", "quantity": 4}).json()
    second = post_json(operator_client, "/api/stock", {"sku": "SKU-5", "quantity": 6}).json()
    assert (first["stream_id"], first["version"], first["events"]) == ("stock-SKU-5", 1, ["StockAdded"])
    assert second["version"] == 2
    stock = viewer_client.get("/api/stock/SKU-5").json()
    assert (stock["on_hand"], stock["available"], stock["version"]) == (10, 10, 2)


def test_correlation_id_comes_from_the_header(operator_client: Client) -> None:
    response = post_json(operator_client, "/api/orders", ORDER, HTTP_X_CORRELATION_ID="checkout-77")
    body = response.json()
    assert body["correlation_id"] == "checkout-77"
    event = operator_client.get(f"/api/streams/{body['stream_id']}/events").json()["events"][0]
    assert event["metadata"]["correlation_id"] == "checkout-77"
    assert event["metadata"]["actor"] == "olga"
    assert event["metadata"]["command"] == "PlaceOrder"


def test_correlation_id_is_generated_when_absent(operator_client: Client) -> None:
    first = post_json(operator_client, "/api/orders", ORDER).json()
    second = post_json(operator_client, "/api/orders", ORDER).json()
    assert first["correlation_id"] and second["correlation_id"]
    assert first["correlation_id"] != second["correlation_id"]


def test_stream_events_can_stop_at_a_version(operator_client: Client, order_place: Any) -> None:
    placed = order_place()
    post_json(operator_client, f"/api/orders/{placed['order_id']}/confirm")
    post_json(operator_client, f"/api/orders/{placed['order_id']}/ship")
    everything = operator_client.get(f"/api/streams/{placed['stream_id']}/events").json()
    assert [e["event_type"] for e in everything["events"]] == ["OrderPlaced", "OrderConfirmed", "OrderShipped"]
    assert [e["version"] for e in everything["events"]] == [1, 2, 3]
    assert everything["version"] == 3
    partial = operator_client.get(f"/api/streams/{placed['stream_id']}/events?up_to_version=2").json()
    assert [e["event_type"] for e in partial["events"]] == ["OrderPlaced", "OrderConfirmed"]
    assert partial["version"] == 2
    first = everything["events"][0]
    assert first["data"]["lines"] == ORDER["lines"]
    assert first["schema_version"] >= 1 and first["recorded_at"]


def test_global_log_pages_with_after_and_limit(operator_client: Client, viewer_client: Client) -> None:
    start = viewer_client.get("/api/events?limit=1000").json()["head_position"]
    for _ in range(5):
        post_json(operator_client, "/api/stock", {"sku": "SKU-1", "quantity": 1})
    seen: list[int] = []
    after = start
    while True:
        page = viewer_client.get(f"/api/events?after={after}&limit=2").json()
        assert len(page["events"]) <= 2
        if not page["events"]:
            assert page["next_after"] == after
            break
        seen += [e["position"] for e in page["events"]]
        after = page["next_after"]
    assert len(seen) == 5
    assert seen == sorted(seen) and len(set(seen)) == 5
    assert page["head_position"] == seen[-1]


def test_global_log_defaults_to_the_start(viewer_client: Client, order_place: Any) -> None:
    order_place()
    page = viewer_client.get("/api/events").json()
    assert page["after"] == 0
    assert page["events"], page
    assert 1 <= page["events"][0]["position"] <= page["head_position"]
