"""What a new user ran into: error pages in the console's layout, /api/docs served locally, deep links to a version."""

from __future__ import annotations

import logging
import re
from urllib.parse import quote

from django.contrib.auth.models import User
from django.contrib.staticfiles import finders
from django.test import Client
from django.urls import reverse

from apps.console.middleware import CONTENT_SECURITY_POLICY
from tests.integration.console.conftest import HostileOrder, client_for, user_with_role

LAYOUT = '<a class="brand" href="/">'


def test_an_unknown_stream_or_page_gets_a_404_in_the_console_layout(viewer_client: Client) -> None:
    for path in ("/aggregates/stream/order-nobody", "/no/such/page/"):
        response = viewer_client.get(path)
        html = response.content.decode()
        assert response.status_code == 404
        assert LAYOUT in html and 'data-error="404"' in html
        assert response["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert "no such stream" in viewer_client.get("/aggregates/stream/order-nobody").content.decode()


def test_a_user_without_a_role_gets_a_403_in_the_console_layout(db: None) -> None:
    response = client_for(user_with_role("nora", None)).get("/projections/")
    html = response.content.decode()
    assert response.status_code == 403
    assert LAYOUT in html and 'data-error="403"' in html
    assert "viewer or operator role" in html


def test_a_post_without_a_csrf_token_gets_the_console_csrf_page_and_changes_nothing(operator: User) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(operator)
    response = client.post("/projections/stock_level/rebuild")
    assert response.status_code == 403
    assert 'data-error="403-csrf"' in response.content.decode()


def test_api_docs_load_every_asset_from_this_server_under_the_strict_csp(db: None) -> None:
    response = Client().get("/api/docs")
    html = response.content.decode()
    assert response.status_code == 200
    assert response["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert "cdn" not in html.lower() and "https://" not in html and "http://" not in html
    sources = re.findall(r'(?:src|href)="(/static/[^"]+)"', html)
    assert {"/static/vendor/swagger-ui/swagger-ui-bundle.js", "/static/vendor/swagger-ui/swagger-ui.css"} <= set(
        sources
    )
    for source in sources:
        assert finders.find(source.removeprefix("/static/")), source
    for tag in re.findall(r"<script\b[^>]*>", html):
        assert "src=" in tag or 'type="application/json"' in tag, tag


def test_the_stream_page_opens_at_the_version_in_its_url_and_the_state_panel_keeps_the_url_in_step(
    viewer_client: Client, hostile_order: HostileOrder
) -> None:
    stream = quote(hostile_order.stream_id)
    html = viewer_client.get(f"/aggregates/stream/{stream}?version=1").content.decode()
    assert '<details class="event selected" id="v1">' in html
    assert "?v=1" in html.split('id="state-panel"')[1].split(">")[0]

    panel = viewer_client.get(f"/aggregates/state/{stream}?v=2", headers={"HX-Request": "true"})

    assert panel["HX-Push-Url"] == reverse("console:stream", args=[hostile_order.stream_id]) + "?version=2"


def test_the_kafka_client_logs_only_warnings_so_the_run_command_banner_stays_visible() -> None:
    assert logging.getLogger("kafka").getEffectiveLevel() == logging.WARNING
    assert logging.getLogger("kafka.conn").getEffectiveLevel() == logging.WARNING
