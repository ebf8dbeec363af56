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

from apps.accounts.models import AuditLog
from apps.accounts.services import api_token_create
from apps.messaging.dead_letters import DeadLetter, FailureRule
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
    [
        '{"customer_id": "c", ',
        "{'single': 'quotes'}",
        "not json at all",
        b"\xff\xfe\x00",
        "[" * 200_000 + "]" * 200_000,
        '{"customer_id": ' + "[" * 200_000 + "]" * 200_000 + "}",
    ],
    ids=["cut short", "single quotes", "not json", "not utf-8", "nested 200,000 deep", "nested in an object"],
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


# Every class of input that answered 500 before (issue 7, §5): each is a 4xx naming the
# field or parameter, and nothing is written.


@pytest.fixture
def nothing_written(db: None) -> Iterator[None]:
    def tables() -> tuple[int, int, int, int]:
        return (
            stored_event_count(),
            AuditLog.objects.exclude(outcome="refused").count(),
            DeadLetter.objects.count(),
            FailureRule.objects.count(),
        )

    before = tables()
    yield
    assert tables() == before


CONTROL_CHARACTERS = ["\x00", "\x01", "\x1b", "\x7f", "\x85"]


@pytest.mark.usefixtures("nothing_written")
@pytest.mark.parametrize("char", CONTROL_CHARACTERS)
@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/orders", lambda c: {**ORDER, "customer_id": f"c{c}"}, "customer_id"),
        ("/api/orders/o-1/cancel", lambda c: {"reason": f"r{c}"}, "reason"),
        ("/api/dead-letters/1/skip", lambda c: {"reason": f"r{c}"}, "reason"),
        ("/api/dead-letters/replay", lambda c: {"group": f"g{c}"}, "group"),
        ("/api/dead-letters/replay", lambda c: {"stream": f"s{c}"}, "stream"),
        ("/api/failure-rules", lambda c: {"kind": "field_regex", "pattern": f"p{c}"}, "pattern"),
        ("/api/failure-rules", lambda c: {"kind": "field_regex", "field": f"f{c}"}, "field"),
        ("/api/failure-rules", lambda c: {"kind": "probability", "group_id": f"g{c}"}, "group_id"),
        ("/api/poison-messages", lambda c: {"text": "x", "key": f"k{c}"}, "key"),
        ("/api/poison-messages", lambda c: {"text": f"x{c}"}, "text"),
    ],
)
def test_a_control_character_in_a_body_string_is_422_naming_the_field(
    operator_client: Client, path: str, body: Callable[[str], dict[str, Any]], field: str, char: str
) -> None:
    error = assert_error(post_json(operator_client, path, body(char)), 422, "validation_error", field)
    assert "control characters" in error["message"]


@pytest.mark.usefixtures("nothing_written")
@pytest.mark.parametrize("char", CONTROL_CHARACTERS)
def test_a_control_character_in_an_identifier_is_422_naming_it(operator_client: Client, char: str) -> None:
    # Identifiers have a pattern of their own, which no control character matches.
    body = order_with(line_set("sku", f"S{char}"))
    assert_error(post_json(operator_client, "/api/orders", body), 422, "validation_error", "lines[0].sku")


@pytest.mark.usefixtures("nothing_written")
@pytest.mark.parametrize(
    ("method", "path", "field"),
    [
        ("get", "/api/orders/o%001", "order_id"),
        ("post", "/api/orders/o%001/cancel", "order_id"),
        ("post", "/api/orders/o%001/confirm", "order_id"),
        ("post", "/api/orders/o%001/ship", "order_id"),
        ("get", "/api/stock/S%00", "sku"),
        ("get", "/api/streams/order-%00/events", "stream_id"),
        ("post", "/api/projections/order%00summary/rebuild", "name"),
        ("get", "/api/dead-letters?group=g%00", "group"),
        ("get", "/api/dead-letters?stream=%01", "stream"),
        ("get", "/api/dead-letters?event_type=%00", "event_type"),
        ("get", "/api/dead-letters?error_class=%00", "error_class"),
        ("get", "/api/projections/rebuilds?projection=%00", "projection"),
        # Parameters no operation declares are not read past: the fuzzer's find, and a plain one.
        ("get", "/api/projections/rebuilds?=n%00ull", ""),
        ("get", "/api/dead-letters?unasked=%1b", "unasked"),
    ],
)
def test_a_control_character_in_a_path_segment_or_query_parameter_is_422_naming_it(
    operator_client: Client, method: str, path: str, field: str
) -> None:
    response = operator_client.get(path) if method == "get" else post_json(operator_client, path, {"reason": "r"})
    assert_error(response, 422, "validation_error", field)


@pytest.mark.usefixtures("nothing_written")
@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/orders", '{"customer_id": "c\\ud800", "currency": "EUR", "lines": []}', "customer_id"),
        ("/api/orders/o-1/cancel", '{"reason": "\\udfff"}', "reason"),
        ("/api/dead-letters/replay", '{"group": "\\ud83d"}', "group"),
        ("/api/failure-rules", '{"kind": "field_regex", "pattern": "\\ud800x"}', "pattern"),
        ("/api/poison-messages", '{"text": "\\ud800"}', "text"),
    ],
)
def test_a_lone_surrogate_is_422_naming_the_field(operator_client: Client, path: str, body: str, field: str) -> None:
    error = assert_error(post_json(operator_client, path, body), 422, "validation_error", field)
    assert "surrogate" in error["message"]


@pytest.mark.usefixtures("nothing_written")
def test_an_undecodable_percent_escape_in_a_path_is_not_a_server_error(operator_client: Client) -> None:
    # A lone surrogate cannot travel in UTF-8; its three bytes arrive as invalid UTF-8.
    response = operator_client.get("/api/orders/%ED%A0%80")
    assert response.status_code in {404, 422}, response.content


@pytest.mark.usefixtures("nothing_written")
@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/failure-rules", {"kind": "field_regex", "pattern": "p" * 501}, "pattern"),
        ("/api/failure-rules", {"kind": "field_regex", "field": "f" * 101}, "field"),
        ("/api/failure-rules", {"kind": "probability", "group_id": "g" * 201}, "group_id"),
        ("/api/dead-letters/replay", {"group": "g" * 201}, "group"),
        ("/api/dead-letters/replay", {"stream": "s" * 256}, "stream"),
        ("/api/dead-letters/replay", {"event_type": "e" * 201}, "event_type"),
        ("/api/dead-letters/replay", {"error_class": "e" * 256}, "error_class"),
        ("/api/poison-messages", {"text": "x", "key": "k" * 256}, "key"),
    ],
)
def test_a_string_longer_than_its_column_is_422_naming_the_field(
    operator_client: Client, path: str, body: dict[str, Any], field: str
) -> None:
    error = assert_error(post_json(operator_client, path, body), 422, "validation_error", field)
    assert "at most" in error["message"]


@pytest.mark.usefixtures("nothing_written")
def test_a_long_query_filter_is_422(operator_client: Client) -> None:
    assert_error(operator_client.get("/api/dead-letters", {"group": "g" * 201}), 422, "validation_error", "group")


def test_a_viewers_refused_write_to_a_long_or_control_character_path_is_403_and_audited(
    viewer_client: Client, viewer: Any
) -> None:
    for path in [f"/api/orders/{'o' * 300}/cancel", "/api/orders/o%00/confirm", "/api/orders/%ED%A0%80/ship"]:
        before = AuditLog.objects.filter(outcome="refused").count()
        assert_error(post_json(viewer_client, path, {"reason": "r"}), 403, "forbidden")
        assert AuditLog.objects.filter(outcome="refused").count() == before + 1


@pytest.mark.usefixtures("nothing_written")
@pytest.mark.parametrize(
    ("path", "field"),
    [
        (f"/api/dead-letters?page={2**70}", "page"),
        (f"/api/dead-letters?page_size={2**70}", "page_size"),
        (f"/api/events?after={2**70}", "after"),
        (f"/api/streams/order-1/events?up_to_version={2**70}", "up_to_version"),
        (f"/api/dead-letters/{2**70}", "dead_letter_id"),
    ],
)
def test_an_integer_beyond_64_bits_is_422_naming_the_parameter(operator_client: Client, path: str, field: str) -> None:
    assert_error(operator_client.get(path), 422, "validation_error", field)


@pytest.mark.usefixtures("nothing_written")
@pytest.mark.parametrize("path", [f"/api/dead-letters/{2**70}/replay", f"/api/failure-rules/{2**70}/enable"])
def test_an_id_beyond_64_bits_in_a_write_path_is_422(operator_client: Client, path: str) -> None:
    assert_error(post_json(operator_client, path), 422, "validation_error")


@pytest.mark.usefixtures("nothing_written")
def test_more_query_parameters_than_django_reads_is_400(operator_client: Client) -> None:
    query = "&".join(f"p{i}=1" for i in range(1001))
    error = assert_error(operator_client.get(f"/api/events?{query}"), 400, "too_many_parameters")
    assert "1000" in error["message"]


@pytest.mark.usefixtures("nothing_written")
@pytest.mark.parametrize("encoded", ["é", "AAAA✓", "QUJD\u0000"])
def test_non_ascii_text_where_base64_is_expected_is_422(operator_client: Client, encoded: str) -> None:
    response = post_json(operator_client, "/api/poison-messages", {"base64": encoded})
    assert_error(response, 422, "validation_error", "base64")


@pytest.mark.usefixtures("nothing_written")
@pytest.mark.parametrize(
    ("body", "field"),
    [({"base64": "YQ"}, "base64"), ({"text": "a", "base64": "YQ=="}, None), ({}, None), ({"key": "k"}, None)],
)
def test_a_poison_message_needs_exactly_one_valid_payload(
    operator_client: Client, body: dict[str, Any], field: str | None
) -> None:
    error = assert_error(post_json(operator_client, "/api/poison-messages", body), 422, "validation_error")
    assert error["field"] == field
    assert field or "exactly one of text or base64" in error["message"]


@pytest.mark.usefixtures("nothing_written")
@pytest.mark.parametrize("path", ["/api/orders", "/api/dead-letters/replay", "/api/orders/o-1/confirm"])
@pytest.mark.parametrize("body", ["[]", "null", "123", '"text"', "true"])
def test_a_body_that_is_not_a_json_object_is_400_on_every_route(operator_client: Client, path: str, body: str) -> None:
    assert_error(post_json(operator_client, path, body), 400, "body_not_an_object")


def test_bulk_replay_with_an_empty_filter_is_422_and_replays_nothing(operator_client: Client) -> None:
    error = assert_error(post_json(operator_client, "/api/dead-letters/replay", {}), 422, "validation_error")
    assert '"all": true' in error["message"]


def test_bulk_replay_with_all_and_a_filter_is_422(operator_client: Client) -> None:
    body = {"all": True, "group": "g"}
    assert_error(post_json(operator_client, "/api/dead-letters/replay", body), 422, "validation_error")


def test_bulk_replay_of_everything_needs_all_true(operator_client: Client) -> None:
    response = post_json(operator_client, "/api/dead-letters/replay", {"all": True})
    assert response.status_code == 200, response.content
    assert response.json() == {"replayed": 0, "failed": 0, "still_parked": 0}


@pytest.mark.usefixtures("nothing_written")
@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"])
@pytest.mark.parametrize("path", ["/api/orders", "/api/failure-rules", "/api/orders/o-1/confirm"])
def test_a_json_body_sent_as_text_or_a_form_is_415(operator_client: Client, path: str, content_type: str) -> None:
    body = json.dumps({**ORDER} if path == "/api/orders" else {"kind": "probability", "probability": 0.5})
    response = operator_client.post(path, body, content_type=content_type)
    error = assert_error(response, 415, "unsupported_media_type")
    assert "application/json" in error["message"]


@pytest.mark.usefixtures("nothing_written")
@pytest.mark.parametrize("value", [True, False, "0.5", None])
def test_a_probability_that_is_not_a_number_is_422(operator_client: Client, value: Any) -> None:
    body = {"kind": "probability", "probability": value}
    assert_error(post_json(operator_client, "/api/failure-rules", body), 422, "validation_error", "probability")


@pytest.mark.usefixtures("nothing_written")
@pytest.mark.parametrize("enabled", [1, "true", None])
def test_enabled_must_be_a_boolean(operator_client: Client, enabled: Any) -> None:
    body = {"kind": "probability", "probability": 0.5, "enabled": enabled}
    assert_error(post_json(operator_client, "/api/failure-rules", body), 422, "validation_error", "enabled")


@pytest.mark.usefixtures("nothing_written")
@pytest.mark.parametrize("path", ["/api/no/such/thing", "/api/orders/o-1/un%0Aknown", "/api/projections/rebuilds/%0A"])
def test_a_post_to_an_api_path_that_does_not_exist_is_the_apis_json_404(operator: Any, path: str) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(operator)
    assert_error(client.post(path, "{}", content_type="application/json"), 404, "not_found")
    assert_error(client.get(path), 404, "not_found")
