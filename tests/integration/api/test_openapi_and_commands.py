"""The OpenAPI schema describes the API; the management commands hand out access."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps as django_apps
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import URLPattern
from pytest_django.fixtures import Settings

from apps.accounts.audit import audit_log_record
from apps.accounts.models import ApiToken
from apps.accounts.roles import user_is_operator, user_is_viewer
from apps.accounts.services import api_token_create
from apps.orders import handlers
from apps.orders.domain import commands as cmds
from apps.orders.handlers import CommandContext
from eda_console.api import api
from tests.integration.api.api_calls import ORDER, post_json, user_with_role

ORDER_PATHS = {
    "/api/orders": {"post"},
    "/api/orders/{order_id}": {"get"},
    "/api/orders/{order_id}/cancel": {"post"},
    "/api/orders/{order_id}/confirm": {"post"},
    "/api/orders/{order_id}/ship": {"post"},
    "/api/stock": {"post"},
    "/api/stock/{sku}": {"get"},
    "/api/streams/{stream_id}/events": {"get"},
    "/api/events": {"get"},
}


def test_openapi_schema_is_served_and_lists_every_order_endpoint(db: None) -> None:
    response = Client().get("/api/openapi.json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["info"]["title"] == "EDA Console API"
    for path, methods in ORDER_PATHS.items():
        assert path in schema["paths"], path
        assert methods <= set(schema["paths"][path]), path
    assert {"type": "http", "scheme": "bearer"} in schema["components"]["securitySchemes"].values()


def _mounted_api_paths() -> set[str]:
    """Every operation path the real API serves, read from its URL patterns, in OpenAPI notation."""
    patterns, _app_name, _namespace = api.urls
    routes = {re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", str(p.pattern)) for p in patterns if isinstance(p, URLPattern)}
    return {"/api/" + route for route in routes if route and route not in {"openapi.json", "docs"}}


def test_openapi_schema_lists_every_router_of_the_full_api(db: None) -> None:
    # A router whose paginated view takes Query[...] in a module with postponed annotations
    # breaks schema generation for the whole API ("QueryParams is not fully defined").
    response = Client().get("/api/openapi.json")
    assert response.status_code == 200, response.content[:2000]
    paths = set(response.json()["paths"])
    assert {"/api/orders", "/api/dead-letters", "/api/projections"} <= paths
    mounted = _mounted_api_paths()
    assert {p for p in mounted if p.startswith("/api/consumers")} <= paths
    assert mounted - paths == set(), "mounted but missing from the schema"


def test_openapi_documents_money_as_integer_cents(db: None) -> None:
    schemas = Client().get("/api/openapi.json").json()["components"]["schemas"]
    price = schemas["OrderLineIn"]["properties"]["unit_price_cents"]
    assert price["type"] == "integer"
    assert "cents" in price["description"]
    assert schemas["OrderPlaceIn"]["additionalProperties"] is False


def _operations(schema: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            yield path, method, operation


def test_every_operation_documents_its_error_responses_with_the_error_body(db: None) -> None:
    schema = Client().get("/api/openapi.json").json()
    error_ref = {"$ref": "#/components/schemas/ErrorBodyOut"}
    for path, method, operation in _operations(schema):
        documented = {int(status) for status in operation["responses"]}
        expected = {400, 401, 403}
        if operation.get("parameters") or "requestBody" in operation:
            expected.add(422)
        if "{" in path:
            expected.add(404)
        if method == "post":
            expected |= {413, 415}
        assert expected <= documented, (method, path, expected - documented)
        for status, response in operation["responses"].items():
            if int(status) >= 400:
                assert response["content"]["application/json"]["schema"] == error_ref, (method, path, status)
                assert response["description"], (method, path, status)
    body = schema["components"]["schemas"]["ErrorBodyOut"]
    assert body["required"] == ["error"]
    assert set(schema["components"]["schemas"]["ErrorOut"]["properties"]) == {"code", "message", "field", "details"}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/api/orders"),
        ("post", "/api/orders/{order_id}/cancel"),
        ("post", "/api/dead-letters/{dead_letter_id}/replay"),
        ("post", "/api/projections/{name}/rebuild"),
        ("post", "/api/projections/rebuilds/{job_id}/cancel"),
    ],
)
def test_operations_that_can_conflict_document_409(db: None, method: str, path: str) -> None:
    schema = Client().get("/api/openapi.json").json()
    assert "409" in schema["paths"][path][method]["responses"]


def test_reads_document_no_409(db: None) -> None:
    schema = Client().get("/api/openapi.json").json()
    for path, method, operation in _operations(schema):
        if method == "get":
            assert "409" not in operation["responses"], path


def test_create_api_token_prints_a_working_token(db: None) -> None:
    user_with_role("olga", "operator")
    out = StringIO()
    call_command("create_api_token", "olga", "--name", "laptop", stdout=out)
    token = out.getvalue().strip()
    stored = ApiToken.objects.get()
    assert (stored.name, stored.token_hash) == ("laptop", hashlib.sha256(token.encode()).hexdigest())
    response = post_json(Client(HTTP_AUTHORIZATION=f"Bearer {token}"), "/api/orders", ORDER)
    assert response.status_code == 201


def test_create_api_token_refuses_an_unknown_user(db: None) -> None:
    with pytest.raises(CommandError, match="no user named 'ghost'"):
        call_command("create_api_token", "ghost", stdout=StringIO())


def test_ensure_demo_operator_is_idempotent_and_reuses_the_password(
    db: None, settings: Settings, tmp_path: Path
) -> None:
    settings.VAR_DIR = tmp_path
    first, second = StringIO(), StringIO()
    call_command("ensure_demo_operator", stdout=first)
    call_command("ensure_demo_operator", stdout=second)
    assert first.getvalue() == second.getvalue()

    credentials_file = tmp_path / "demo-credentials.txt"
    assert credentials_file.stat().st_mode & 0o077 == 0
    passwords = dict(line.split(":", 1) for line in credentials_file.read_text().splitlines())
    assert set(passwords) == {"demo", "viewer-demo"}
    assert passwords["demo"] in first.getvalue()

    demo, viewer = User.objects.get(username="demo"), User.objects.get(username="viewer-demo")
    assert demo.check_password(passwords["demo"]) and user_is_operator(demo)
    assert viewer.check_password(passwords["viewer-demo"]) and user_is_viewer(viewer)
    assert not user_is_operator(viewer)
    assert User.objects.filter(username__in=["demo", "viewer-demo"]).count() == 2


def test_ensure_demo_operator_reapplies_the_kept_password_after_a_database_reset(
    db: None, settings: Settings, tmp_path: Path
) -> None:
    settings.VAR_DIR = tmp_path
    call_command("ensure_demo_operator", stdout=StringIO())
    password = dict(line.split(":", 1) for line in (tmp_path / "demo-credentials.txt").read_text().splitlines())["demo"]
    User.objects.filter(username="demo").delete()
    call_command("ensure_demo_operator", stdout=StringIO())
    client = Client()
    assert client.login(username="demo", password=password)
    assert client.get("/api/me").json() == {"username": "demo", "viewer": True, "operator": True}


def test_demo_operator_can_inspect_the_data_in_the_admin_but_change_nothing(
    db: None, settings: Settings, tmp_path: Path
) -> None:
    settings.VAR_DIR = tmp_path
    call_command("ensure_demo_operator", stdout=StringIO())
    call_command("ensure_demo_operator", stdout=StringIO())
    passwords = dict(line.split(":", 1) for line in (tmp_path / "demo-credentials.txt").read_text().splitlines())
    demo = User.objects.get(username="demo")
    assert demo.is_staff and not demo.is_superuser
    for app_label in ("eventstore", "messaging", "projections", "accounts"):
        for model in django_apps.get_app_config(app_label).get_models():
            assert demo.has_perm(f"{app_label}.view_{model._meta.model_name}"), model
    granted = {perm.split(".", 1)[1] for perm in demo.get_all_permissions()}
    assert granted and all(codename.startswith("view_") for codename in granted), granted

    placed = handlers.place_order(
        cmds.PlaceOrder("admin-1", "cust-1", "EUR", (cmds.OrderLine("SKU-1", 1, 100),)), CommandContext(actor="demo")
    )
    token = api_token_create(user=demo, name="laptop")
    client = Client()
    assert client.login(username="demo", password=passwords["demo"])
    assert client.get("/admin/").status_code == 200
    events_page = client.get("/admin/eventstore/storedevent/")
    assert events_page.status_code == 200 and "order-admin-1" in events_page.content.decode()
    event_page = client.get(f"/admin/eventstore/storedevent/{placed.last_position}/change/")
    assert event_page.status_code == 200 and "OrderPlaced" in event_page.content.decode()
    assert client.get("/admin/eventstore/eventstream/").status_code == 200
    assert client.get("/admin/accounts/auditlog/").status_code == 200
    assert client.get("/admin/eventstore/storedevent/add/").status_code == 403
    token_id = ApiToken.objects.get().pk
    assert client.post(f"/admin/accounts/apitoken/{token_id}/delete/", {"post": "yes"}).status_code == 403
    assert ApiToken.objects.filter(pk=token_id).exists() and token

    viewer = Client()
    assert viewer.login(username="viewer-demo", password=passwords["viewer-demo"])
    assert viewer.get("/admin/").status_code == 302


def test_admin_shows_audit_entries_read_only_and_never_a_token(db: None) -> None:
    root = User.objects.create_superuser("root", password="pw")
    token = api_token_create(user=root, name="laptop")
    entry = audit_log_record(actor=root, action="dead_letter.replay", target="dl-1", parameters={}, outcome="ok")
    client = Client()
    client.force_login(root)
    tokens_page = client.get("/admin/accounts/apitoken/").content.decode()
    assert "laptop" in tokens_page and token not in tokens_page
    assert ApiToken.objects.get().token_hash not in tokens_page
    assert client.get("/admin/accounts/auditlog/").status_code == 200
    assert client.get("/admin/accounts/auditlog/add/").status_code == 403
    assert client.post(f"/admin/accounts/auditlog/{entry.pk}/delete/", {"post": "yes"}).status_code == 403
