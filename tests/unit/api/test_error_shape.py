"""Errors of any NinjaAPI set up with the shared handlers come back in one shape."""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import iscoroutinefunction
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.http.response import HttpResponseBase
from django.test import RequestFactory
from ninja import NinjaAPI, Schema
from ninja.testing import TestClient

import apps.orders.api  # noqa: F401  (the orders API registers the domain's errors, as it does in the real API)
from apps.api.bodies import json_object_body
from apps.api.errors import ApiError, api_error_handlers_install, api_error_register, api_path_view_wrap
from apps.eventstore.errors import WrongExpectedVersion
from apps.orders.domain.errors import InvalidCommand, RuleViolation
from apps.orders.schemas import CommandIn


class Line(CommandIn):
    quantity: int


class Body(CommandIn):
    name: str
    lines: list[Line]


class Out(Schema):
    ok: bool


class GadgetMissing(LookupError):
    pass


class GadgetGone(GadgetMissing):
    pass


# Registered after the API installed its handlers, as an app's ready() may well be.
api_error_register(GadgetMissing, status=404, code="no_gadget", field=lambda exc: "gadget")
api_error_register(GadgetGone, status=410, code="gadget_gone", message=lambda exc: f"gone since {exc.args[0]}")


api = NinjaAPI(urls_namespace="error-shape-test")
api_error_handlers_install(api)


@api.post("/echo", response=Out)
def echo(request: HttpRequest, payload: Body) -> Out:
    return Out(ok=True)


@api.get("/raise/{kind}")
def raise_(request: HttpRequest, kind: str) -> None:
    raise {
        "invalid": InvalidCommand("quantity must be > 0"),
        "rule": RuleViolation("a cancelled order cannot be confirmed"),
        "conflict": WrongExpectedVersion(stream_id="order-1", expected=3, actual=4),
        "too-big": RequestDataTooBig("too big"),
        "api": ApiError(404, "not_found", "no such thing", field="id"),
        "bug": ZeroDivisionError("oops"),
        "missing": GadgetMissing("no gadget 7"),
        "gone": GadgetGone("tuesday"),
    }[kind]


client = TestClient(api)


def test_validation_error_names_the_nested_field_and_lists_every_problem() -> None:
    response = client.post("/echo", json={"name": "x", "lines": [{"quantity": "1"}], "extra": 1})
    assert response.status_code == 422
    error = response.json()["error"]
    assert (error["code"], error["field"]) == ("validation_error", "lines[0].quantity")
    assert {d["field"] for d in error["details"]} == {"lines[0].quantity", "extra"}
    assert "unknown field 'extra'" in {d["message"] for d in error["details"]}


def test_malformed_json_is_400_malformed_json() -> None:
    response = client.post("/echo", body=b"{nope")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_json"


def test_domain_and_store_errors_map_to_status_codes() -> None:
    expected = {
        "invalid": (422, "invalid_command"),
        "rule": (409, "rule_violation"),
        "conflict": (409, "concurrency_conflict"),
        "too-big": (413, "body_too_large"),
        "api": (404, "not_found"),
        "bug": (500, "internal_error"),
    }
    for kind, (status, code) in expected.items():
        response = client.get(f"/raise/{kind}")
        assert (response.status_code, response.json()["error"]["code"]) == (status, code), kind
        assert set(response.json()["error"]) >= {"code", "message", "field"}


def test_an_app_registers_its_exceptions_and_the_most_specific_mapping_wins() -> None:
    missing = client.get("/raise/missing")
    gone = client.get("/raise/gone")
    assert (missing.status_code, missing.json()["error"]) == (
        404,
        {"code": "no_gadget", "message": "no gadget 7", "field": "gadget"},
    )
    assert (gone.status_code, gone.json()["error"]["code"], gone.json()["error"]["message"]) == (
        410,
        "gadget_gone",
        "gone since tuesday",
    )


def _body_error(body: bytes, content_type: str) -> tuple[int, str]:
    request = RequestFactory().post("/api/things", body, content_type=content_type)
    try:
        json_object_body(request)
    except ApiError as exc:
        return exc.status_code, exc.code
    return 200, ""


def test_bodies_must_be_json_objects_sent_as_json() -> None:
    assert _body_error(b'{"a": 1}', "application/json") == (200, "")
    assert _body_error(b'{"a": 1}', "application/merge-patch+json") == (200, "")
    assert _body_error(b"", "text/plain") == (200, "")
    assert _body_error(b'{"a": 1}', "text/plain") == (415, "unsupported_media_type")
    assert _body_error(b"a=1", "application/x-www-form-urlencoded") == (415, "unsupported_media_type")
    for not_an_object in (b"[]", b"null", b"123", b'"x"', b"true"):
        assert _body_error(not_an_object, "application/json") == (400, "body_not_an_object")
    assert _body_error(b"{nope", "application/json") == (400, "malformed_json")


def test_unexpected_errors_do_not_leak_their_message() -> None:
    assert "oops" not in client.get("/raise/bug").content.decode()


def _not_allowed_view(request: HttpRequest) -> HttpResponseBase:
    return HttpResponseNotAllowed(["POST", "GET"], content=b"Method not allowed")


async def _not_allowed_async_view(request: HttpRequest) -> HttpResponseBase:
    return _not_allowed_view(request)


def test_wrapped_view_turns_ninjas_plain_405_into_the_shared_shape() -> None:
    view = api_path_view_wrap(api, _not_allowed_view)
    response = view(RequestFactory().delete("/api/things"))
    assert (response.status_code, response["Allow"]) == (405, "GET, POST")
    assert json.loads(response.content)["error"] == {
        "code": "method_not_allowed",
        "message": "DELETE is not allowed on /api/things; allowed: GET, POST",
        "field": None,
    }


def test_wrapped_async_view_stays_async_and_answers_the_same() -> None:
    view = api_path_view_wrap(api, _not_allowed_async_view)
    assert iscoroutinefunction(view)
    request = RequestFactory().put("/api/things")
    # A loop of its own in a thread of its own: the test must not depend on whether an
    # earlier test in this process left an event loop set on the main thread.
    with ThreadPoolExecutor(max_workers=1) as pool:
        response = pool.submit(asyncio.run, view(request)).result(timeout=10)
    assert response.status_code == 405
    assert json.loads(response.content)["error"]["code"] == "method_not_allowed"


def test_wrapped_view_leaves_every_other_response_alone() -> None:
    plain = HttpResponse(b"ok", status=405)
    view = api_path_view_wrap(api, lambda request: plain)
    assert view(RequestFactory().get("/api/things")) is plain
