"""The pages read the store the way an engineer needs: search, paginate, time travel, trace."""

from __future__ import annotations

import time
from urllib.parse import quote

import pytest
from django.test import Client

from apps.console.selectors import health
from apps.console.selectors.events import PAGE_SIZE, event_rate_series, stream_event_page, stream_get
from apps.console.selectors.state import aggregate_state_at
from apps.orders import handlers
from apps.orders.domain import commands as cmds
from apps.orders.handlers import CommandContext
from tests.integration.console.conftest import HostileOrder


def _order(order_id: str, *, lines: int = 1, correlation_id: str = "corr-1") -> str:
    ctx = CommandContext(actor="tester", correlation_id=correlation_id)
    line = cmds.OrderLine(sku="sku-1", quantity=1, unit_price_cents=100)
    result = handlers.place_order(
        cmds.PlaceOrder(order_id=order_id, customer_id="cust-1", currency="EUR", lines=(line,)), ctx
    )
    for index in range(lines - 1):
        handlers.add_order_line(
            cmds.AddOrderLine(order_id=order_id, line=cmds.OrderLine(f"sku-{index + 2}", 1, 10 * index)), ctx
        )
    return result.stream_id


@pytest.mark.django_db
def test_stream_pages_follow_versions_by_keyset() -> None:
    stream_id = _order("long", lines=PAGE_SIZE * 2 + 7)
    stream = stream_get(stream_id=stream_id)
    assert stream is not None and stream.version == PAGE_SIZE * 2 + 7
    first = stream_event_page(stream=stream)
    assert [e.version for e in first.events] == list(range(1, PAGE_SIZE + 1))
    assert first.previous_before is None and first.next_after == PAGE_SIZE
    second = stream_event_page(stream=stream, after=first.next_after)
    assert second.events[0].version == PAGE_SIZE + 1
    last = stream_event_page(stream=stream, before=stream.version + 1)
    assert last.events[-1].version == stream.version and last.next_after is None
    back = stream_event_page(stream=stream, before=second.first_version)
    assert back.events == first.events


def test_stream_page_opens_on_the_page_of_the_selected_version(viewer_client: Client) -> None:
    stream_id = _order("paged", lines=PAGE_SIZE + 10)
    html = viewer_client.get(f"/aggregates/stream/{stream_id}?v={PAGE_SIZE + 3}").content.decode()
    assert f'id="v{PAGE_SIZE + 3}"' in html
    assert 'id="v1"' not in html


@pytest.mark.django_db
def test_state_at_a_version_shows_that_version_and_what_its_event_changed() -> None:
    stream_id = _order("travel", lines=3)
    handlers.confirm_order(cmds.ConfirmOrder(order_id="travel"), CommandContext(actor="tester"))
    at_one = aggregate_state_at(stream_id=stream_id, stream_type="order", version=1)
    assert at_one is not None
    assert at_one.state["status"] == "placed" and len(at_one.state["lines"]) == 1
    assert {c.path for c in at_one.changes} >= {"status", "customer_id", "order_id"}
    at_four = aggregate_state_at(stream_id=stream_id, stream_type="order", version=4)
    assert at_four is not None
    assert at_four.state["status"] == "confirmed" and len(at_four.state["lines"]) == 3
    assert [(c.path, c.before, c.after) for c in at_four.changes] == [("status", "placed", "confirmed")]


def test_state_partial_renders_state_and_diff(viewer_client: Client) -> None:
    stream_id = _order("partial", lines=2)
    html = viewer_client.get(f"/aggregates/state/{stream_id}?v=2", headers={"HX-Request": "true"}).content.decode()
    assert "State at version" in html and "lines[1].sku" in html and "sku-2" in html


def test_search_by_prefix_type_and_customer(viewer_client: Client, hostile_order: HostileOrder) -> None:
    _order("search-1")
    _order("search-2")
    html = viewer_client.get("/aggregates/?q=order-search-", headers={"HX-Request": "true"}).content.decode()
    assert "order-search-1" in html and "order-search-2" in html and quote("order-x") not in html
    html = viewer_client.get("/aggregates/?q=order-search-1&type=stock").content.decode()
    assert "order-search-1</a>" not in html


def test_trace_links_events_of_one_correlation_across_streams(viewer_client: Client) -> None:
    _order("t-1", correlation_id="shared-corr")
    handlers.add_stock(cmds.AddStock(sku="sku-t", quantity=5), CommandContext(actor="t", correlation_id="shared-corr"))
    html = viewer_client.get("/trace/?correlation_id=shared-corr").content.decode()
    assert "2 events across 2 streams" in html
    assert "order-t-1" in html and "stock-sku-t" in html
    assert "caused by command PlaceOrder" in html


def test_overview_and_consumers_pages_show_each_registered_group(viewer_client: Client) -> None:
    for path in ("/", "/consumers/"):
        html = viewer_client.get(path).content.decode()
        assert "console.live-stream" in html
        assert "projection.order_summary" in html or path == "/"


@pytest.mark.django_db
def test_event_rate_counts_each_second_from_positions() -> None:
    _order("rate-1", lines=3)
    _order("rate-2")
    time.sleep(1.1)
    series = event_rate_series(seconds=10)
    assert len(series) == 10
    assert sum(count for _, count in series) == 4
    assert [second for second, _ in series] == sorted(second for second, _ in series)


def test_each_overview_chart_refreshes_alone_and_an_unknown_one_is_404(viewer_client: Client) -> None:
    _order("chart-1")
    for name, trace_type in (("event_rate", "scatter"), ("orders_by_status", "bar")):
        response = viewer_client.get(f"/overview/charts/{name}.json")
        assert response.status_code == 200
        assert response.json()["data"][0]["type"] == trace_type
    assert viewer_client.get("/overview/charts/nothing.json").status_code == 404
    assert viewer_client.get("/consumers/lag.json").json()["layout"]["height"] == 260


def test_health_is_measured_once_per_interval_for_every_tab_of_the_process(
    viewer_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    measured: list[float] = []
    database_check = health._database

    def counted() -> health.HealthCheck:
        measured.append(time.monotonic())
        return database_check()

    monkeypatch.setattr(health, "_database", counted)
    monkeypatch.setattr(health, "_cache", health._HealthCache())
    # An interval no loaded machine outlasts while serving the eleven requests below.
    monkeypatch.setattr(health, "HEALTH_CHECK_INTERVAL_SECONDS", 60.0)
    # Five tabs, each polling the tiles and the status, plus one loading the page.
    for path in ["/", *["/overview/tiles/", "/overview/status/"] * 5]:
        assert viewer_client.get(path).status_code == 200
    assert len(measured) == 1
    # Once the interval has passed, the next poll measures again.
    monkeypatch.setattr(health, "HEALTH_CHECK_INTERVAL_SECONDS", 0.0)
    viewer_client.get("/overview/status/")
    assert len(measured) == 2


def test_the_overview_polls_its_tiles_but_takes_the_read_model_tiles_from_the_push_socket(
    viewer_client: Client,
) -> None:
    html = viewer_client.get("/").content.decode()
    assert 'ws-connect="/ws/push/?group=push.read-model"' in html
    tiles = viewer_client.get("/overview/tiles/").content.decode()
    assert 'hx-trigger="every 3s"' in tiles and "Dead letters waiting" not in tiles
    read_models = html[html.index('<div id="read-model-tiles"') :]
    assert "Dead letters waiting" in read_models.split("</div>\n</div>")[0]
    assert "hx-trigger" not in read_models.split('<div class="two-col">')[0]
