"""Every page needs a logged-in user with a role; actions need the operator role, server-side."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User
from django.test import Client

from apps.accounts.models import AuditLog
from apps.console.middleware import CONTENT_SECURITY_POLICY
from tests.integration.console.conftest import HostileOrder, client_for, user_with_role

PAGES = [
    "/",
    "/live/",
    "/aggregates/",
    "/trace/",
    "/consumers/",
    "/overview/tiles/",
    "/consumers/tables/",
    "/projections/",
    "/projections/tables/",
    "/audit/",
]
ACTION_MARKERS = re.compile(r'class="[^"]*\baction\b|data-action=|hx-post=|hx-delete=|hx-put=')


@pytest.mark.parametrize("path", PAGES)
def test_anonymous_visitor_is_sent_to_the_login_page(client: Client, path: str, db: None) -> None:
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


def test_anonymous_htmx_request_redirects_the_whole_page(client: Client, db: None) -> None:
    response = client.get("/overview/tiles/", headers={"HX-Request": "true"})
    assert response.status_code == 204
    assert response["HX-Redirect"] == "/accounts/login/"


def test_user_without_a_role_is_forbidden(db: None) -> None:
    client = client_for(user_with_role("nora", None))
    assert client.get("/").status_code == 403


def test_login_page_logs_a_viewer_in_and_back_to_the_page_asked_for(viewer: User) -> None:
    client = Client()
    page = client.get("/accounts/login/?next=/live/")
    assert page.status_code == 200
    response = client.post("/accounts/login/", {"username": "victor", "password": "pw-victor", "next": "/live/"})
    assert response.status_code == 302
    assert response["Location"] == "/live/"
    assert client.get("/live/").status_code == 200


@pytest.mark.parametrize("path", PAGES)
def test_viewer_sees_no_action_button(viewer_client: Client, hostile_order: HostileOrder, path: str) -> None:
    response = viewer_client.get(path)
    assert response.status_code == 200
    assert not ACTION_MARKERS.search(response.content.decode())


def test_stream_and_trace_pages_offer_a_viewer_no_action(viewer_client: Client, hostile_order: HostileOrder) -> None:
    for path in (f"/aggregates/stream/{hostile_order.stream_id}", f"/aggregates/state/{hostile_order.stream_id}"):
        html = viewer_client.get(path).content.decode()
        assert not ACTION_MARKERS.search(html)


def test_operator_is_offered_a_rebuild_button(operator_client: Client) -> None:
    html = operator_client.get("/consumers/").content.decode()
    assert 'data-action="rebuild"' in html


def test_viewer_cannot_rebuild_even_by_posting_directly_and_the_refusal_is_audited(viewer_client: Client) -> None:
    response = viewer_client.post("/consumers/projections/order_summary/rebuild")
    assert response.status_code == 403
    assert not AuditLog.objects.filter(action="projection.rebuild").exists()
    refusal = AuditLog.objects.get(action="console.request")
    assert (refusal.outcome, refusal.target, refusal.parameters) == (
        "refused",
        "/consumers/projections/order_summary/rebuild",
        {"method": "POST"},
    )


def test_operator_rebuild_request_is_queued_and_audited(operator_client: Client) -> None:
    response = operator_client.post("/consumers/projections/order_summary/rebuild", headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert "Rebuild of order_summary queued" in response.content.decode()
    entry = AuditLog.objects.get(action="projection.rebuild")
    assert (entry.actor, entry.outcome) == ("olga", "ok")


def test_post_without_csrf_token_is_refused(operator: User) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(operator)
    assert client.post("/consumers/projections/order_summary/rebuild").status_code == 403
    page = client.get("/consumers/").content.decode()
    # htmx sends the token from the body's hx-headers with every request.
    token = re.search(r"""hx-headers='\{"X-CSRFToken": "([^"]+)"\}'""", page)
    assert token is not None
    response = client.post("/consumers/projections/order_summary/rebuild", headers={"X-CSRFToken": token.group(1)})
    assert response.status_code == 200


@pytest.mark.parametrize("path", ["/", "/live/", "/aggregates/", "/trace/", "/consumers/", "/accounts/login/"])
def test_every_page_carries_the_content_security_policy_and_no_inline_script(
    viewer_client: Client, hostile_order: HostileOrder, path: str
) -> None:
    response = viewer_client.get(path)
    assert response["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert "script-src 'self'" in CONTENT_SECURITY_POLICY
    assert "unsafe-inline" not in CONTENT_SECURITY_POLICY.split("script-src")[1].split(";")[0]
    for tag in re.findall(r"<script\b[^>]*>", response.content.decode()):
        assert "src=" in tag or 'type="application/json"' in tag, tag
