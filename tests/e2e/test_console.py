"""The console in a real browser against the running stack (web, worker, beat, relay, broker)."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import Stack, Watched, screenshot

pytestmark = pytest.mark.e2e

# Single quotes: the JSON preview shows them as they are, so the text can be compared whole.
HOSTILE_CUSTOMER = "<script>alert('xss-1')</script><img src=x onerror=alert(2)>"
HOSTILE_REASON = "</pre><script>alert(3)</script>"
ACTION_BUTTONS = "button.action, [data-action]"
PAGES = ["/", "/live/", "/aggregates/", "/trace/", "/consumers/"]


def _order_place(stack: Stack, *, customer_id: str = "cust-e2e") -> dict[str, Any]:
    body = {
        "customer_id": customer_id,
        "currency": "EUR",
        "lines": [{"sku": "SKU-1", "quantity": 2, "unit_price_cents": 1999}],
    }
    placed = stack.api("POST", "/api/orders", body)
    assert placed["stream_id"].startswith("order-")
    return dict(placed)


def _live_connected(page: Page) -> None:
    page.goto("/live/")
    expect(page.locator("#live-conn")).to_have_attribute("data-state", "open")


def _traffic(stack: Stack, orders: int) -> None:
    """Some orders in every status, so the pages (and their screenshots) show a working system."""
    for index in range(orders):
        placed = _order_place(stack, customer_id=f"cust-{index % 7}")
        if index % 3 == 0:
            stack.api("POST", f"/api/orders/{placed['order_id']}/confirm")
            if index % 2 == 0:
                stack.api("POST", f"/api/orders/{placed['order_id']}/ship")
        elif index % 4 == 1:
            stack.api("POST", f"/api/orders/{placed['order_id']}/cancel", {"reason": "out of stock"})


def test_log_in_shows_the_overview_with_its_charts(stack: Stack, operator_page: Watched) -> None:
    page = operator_page.page
    _traffic(stack, 30)
    page.goto("/")
    expect(page.locator('.chart[data-chart="orders_by_status"]')).to_have_attribute("data-rendered", "1")
    page.wait_for_timeout(3_500)
    expect(page.locator("h1")).to_have_text("Overview")
    expect(page.locator('.chart[data-chart="event_rate"]')).to_have_attribute("data-rendered", "1")
    for section in ("Overview", "Live stream", "Aggregates", "Trace", "Consumers & lag", "Projections", "Audit log"):
        expect(page.locator("nav.nav").get_by_role("link", name=section, exact=True)).to_have_count(1)
    screenshot(page, "overview")
    assert operator_page.errors == []


def test_the_overview_read_models_arrive_over_the_push_socket_and_redraw_the_chart(
    stack: Stack, operator_page: Watched
) -> None:
    page = operator_page.page
    page.goto("/")
    chart = page.locator('.chart[data-chart="orders_by_status"]')
    expect(chart).to_have_attribute("data-rendered", "1")
    drawn = "el => el.querySelector('.plot').data[0].y.reduce((a, b) => a + b, 0)"
    before = chart.evaluate(drawn)
    figure = page.locator("#orders-by-status-figure").get_attribute("data-figure")
    for _ in range(3):
        _order_place(stack)
    # No poll refreshes this chart: only a push after the projection batch can change it.
    expect(page.locator("#orders-by-status-figure")).not_to_have_attribute("data-figure", figure or "", timeout=10_000)
    page.wait_for_function(
        f"() => document.querySelector('.chart[data-chart=\"orders_by_status\"] .plot').data[0].y"
        f".reduce((a, b) => a + b, 0) >= {before + 3}",
        timeout=10_000,
    )
    expect(page.locator("#read-model-tiles")).to_contain_text("Dead letters waiting")
    assert operator_page.errors == []


def test_order_placed_through_the_api_appears_in_the_live_stream_within_2_s(
    stack: Stack, operator_page: Watched
) -> None:
    page = operator_page.page
    _live_connected(page)
    placed = _order_place(stack)
    started = time.monotonic()
    # The placement's own row: the order's saga appends to the stream too, and its events can
    # arrive in the same batch, above it (the newest row is on top).
    row = page.locator(f'#live-rows .lrow[data-stream="{placed["stream_id"]}"][data-type="OrderPlaced"]')
    expect(row).to_be_visible(timeout=2_000)
    elapsed = time.monotonic() - started
    assert elapsed < 2.0, f"shown after {elapsed:.2f} s"
    expect(row).to_contain_text("OrderPlaced")
    screenshot(page, "live-stream")


def test_live_stream_pauses_and_filters(stack: Stack, operator_page: Watched) -> None:
    page = operator_page.page
    _live_connected(page)
    page.click("#live-pause")
    placed = _order_place(stack)
    # The order's saga appends to its stream too: count the placement alone.
    placed_row = f'#live-rows .lrow[data-stream="{placed["stream_id"]}"][data-type="OrderPlaced"]'
    page.wait_for_timeout(1_500)
    expect(page.locator(placed_row)).to_have_count(0)
    page.click("#live-pause")
    expect(page.locator(placed_row)).to_have_count(1, timeout=2_000)
    page.select_option('select[name="event_type"]', "OrderCancelled")
    page.wait_for_timeout(400)
    assert page.locator("#live-rows .lrow:not([hidden])").evaluate_all(
        "rows => rows.every(row => row.dataset.type === 'OrderCancelled')"
    )


BURST = 300
# What the push socket hands the page (htmx's websocket extension fires this event per frame).
BURST_PUSH = """(count) => {
  const rows = [];
  for (let i = 0; i < count; i++) {
    rows.push(`<div class="lrow" role="row" data-type="OrderPlaced" data-stream="order-burst-${i}"`
      + ` data-correlation="c"><span role="cell" class="num">${i}</span></div>`);
  }
  const message = JSON.stringify({type: "events", count: rows.length, rows: rows});
  document.body.dispatchEvent(new CustomEvent("htmx:wsBeforeMessage", {cancelable: true, detail: {message}}));
}"""


def test_a_burst_renders_the_rows_on_screen_at_once_and_every_other_row_when_scrolled_to(
    stack: Stack, operator_page: Watched
) -> None:
    page = operator_page.page
    _live_connected(page)
    page.evaluate(BURST_PUSH, BURST)
    burst = page.locator('#live-rows .lrow[data-stream^="order-burst-"]')
    expect(page.locator(f'#live-rows .lrow[data-stream="order-burst-{BURST - 1}"]')).to_be_visible()
    assert burst.count() < BURST / 2, "the rows below the window were rendered with the burst"
    lazy = page.locator("#live-rows .lblock.lazy")
    for _ in range(BURST):
        if not lazy.count():
            break
        lazy.first.scroll_into_view_if_needed()
        page.wait_for_timeout(100)
    expect(burst).to_have_count(BURST)
    newest_first = burst.evaluate_all("rows => rows.map(row => Number(row.dataset.stream.split('-').pop()))")
    assert newest_first == list(range(BURST - 1, -1, -1))
    expect(page.locator("#live-skipped-note")).to_be_hidden()


def test_stream_page_shows_the_events_and_the_state_at_version_1(stack: Stack, viewer_page: Watched) -> None:
    page = viewer_page.page
    placed = _order_place(stack)
    stack.api("POST", f"/api/orders/{placed['order_id']}/cancel", {"reason": "changed my mind"})
    page.goto(f"/aggregates/stream/{placed['stream_id']}?v=1")
    expect(page.locator("details.event")).to_have_count(2)
    expect(page.locator("details.event").first).to_contain_text("OrderPlaced")
    state = page.locator("#state-panel")
    expect(state).to_contain_text("State at version 1")
    expect(state.locator(".state-json")).to_contain_text('"status": "placed"')
    page.locator("details.event summary").first.click()
    expect(page.locator("details.event").first.locator("pre.json").first).to_contain_text("cust-e2e")
    page.locator(".event-item").nth(1).locator(".state-link").click()
    expect(state).to_contain_text("State at version 2")
    expect(state.locator("table.diff")).to_contain_text("cancelled")
    screenshot(page, "stream")


def test_lag_chart_renders_and_the_consumer_table_shows_each_group(stack: Stack, operator_page: Watched) -> None:
    page = operator_page.page
    page.goto("/consumers/")
    groups = page.locator("table.consumer-groups tr.group-row")
    expect(groups.first).to_be_visible()
    shown = set(groups.evaluate_all("rows => rows.map(row => row.dataset.group)"))
    assert {"console.live-stream", "projection.order_summary"} <= shown
    expect(page.locator('.chart[data-chart="lag"]')).to_have_attribute("data-rendered", "1", timeout=20_000)
    expect(page.locator('.chart[data-chart="lag"] svg.main-svg').first).to_be_visible()
    screenshot(page, "consumers")


def test_viewer_sees_no_action_buttons_and_the_operator_does(
    stack: Stack, viewer_page: Watched, operator_page: Watched
) -> None:
    placed = _order_place(stack)
    pages = [*PAGES, f"/aggregates/stream/{placed['stream_id']}", f"/trace/?correlation_id={placed['correlation_id']}"]
    for path in pages:
        viewer_page.page.goto(path)
        viewer_page.page.wait_for_load_state("networkidle")
        expect(viewer_page.page.locator(ACTION_BUTTONS)).to_have_count(0)
    expect(viewer_page.page.locator(".role")).to_have_text("viewer")
    operator_page.page.goto("/consumers/")
    expect(operator_page.page.locator('[data-action="rebuild"]').first).to_be_visible()


def test_rebuild_progress_reaches_an_open_consumers_page_over_the_push_socket(
    stack: Stack, viewer_page: Watched
) -> None:
    page = viewer_page.page
    page.goto("/consumers/")
    cell = page.locator("#rebuild-stock_level")
    expect(cell).to_have_text("never")
    page.evaluate("window.__same_page = true")
    stack.api("POST", "/api/projections/stock_level/rebuild")
    # Within 10 s of loading the page, before its 15 s poll: only a push can have shown it.
    expect(cell.locator(".status")).to_have_text("done", timeout=10_000)
    assert page.evaluate("window.__same_page === true")
    expect(page.locator(ACTION_BUTTONS)).to_have_count(0)
    assert viewer_page.errors == []


CLOSE_CODE_OF = """async ([path, frame]) => {
  const socket = new WebSocket(`ws://${location.host}${path}`);
  socket.binaryType = "arraybuffer";
  return await new Promise((resolve) => {
    socket.onopen = () => socket.send(frame === null ? new Uint8Array([0, 1, 2]) : frame);
    socket.onclose = (event) => resolve(event.code);
  });
}"""


def test_daphne_closes_a_socket_on_a_frame_it_cannot_read_and_logs_no_traceback(
    stack: Stack, viewer_page: Watched
) -> None:
    page = viewer_page.page
    page.goto("/live/")
    path = "/ws/push/?group=push.live-events"
    assert page.evaluate(CLOSE_CODE_OF, [path, None]) == 4003
    assert page.evaluate(CLOSE_CODE_OF, [path, "x" * 1_000_000]) == 4009
    assert page.evaluate(CLOSE_CODE_OF, [path, "{not json"]) == 4007
    assert page.evaluate(CLOSE_CODE_OF, [path, "[" * 10_000 + "]" * 10_000]) == 4007
    # Refused at the handshake (HTTP 403), which a browser reports as 1006.
    assert page.evaluate(CLOSE_CODE_OF, ["/ws/nothing-here/", "{}"]) == 1006
    assert "Traceback" not in stack.log("web")


def test_anonymous_visitor_is_sent_to_the_login_page(anonymous_page: Page) -> None:
    anonymous_page.goto("/live/")
    assert "/accounts/login/?next=/live/" in anonymous_page.url
    expect(anonymous_page.locator("#id_username")).to_be_visible()
    screenshot(anonymous_page, "login")


def test_an_event_carrying_html_and_script_is_shown_as_text_and_runs_nothing(
    stack: Stack, operator_page: Watched
) -> None:
    page = operator_page.page
    _live_connected(page)
    correlation_id = f"xss-{uuid.uuid4().hex[:8]}"
    placed = stack.api(
        "POST",
        "/api/orders",
        {
            "customer_id": HOSTILE_CUSTOMER,
            "currency": "EUR",
            "lines": [{"sku": "SKU-1", "quantity": 1, "unit_price_cents": 5}],
        },
        headers={"X-Correlation-ID": correlation_id},
    )
    stack.api(
        "POST",
        f"/api/orders/{placed['order_id']}/cancel",
        {"reason": HOSTILE_REASON},
        headers={"X-Correlation-ID": correlation_id},
    )
    pushed = page.locator(f'#live-rows .lrow[data-stream="{placed["stream_id"]}"][data-type="OrderPlaced"]')
    expect(pushed).to_be_visible(timeout=5_000)
    # Keys are sorted in the preview, so customer_id comes early enough to be shown whole.
    expect(pushed.locator(".data")).to_contain_text(HOSTILE_CUSTOMER)
    cancelled = page.locator(f'#live-rows .lrow[data-stream="{placed["stream_id"]}"][data-type="OrderCancelled"]')
    expect(cancelled).to_contain_text(HOSTILE_REASON)
    page.goto(f"/aggregates/stream/{placed['stream_id']}?v=1")
    page.locator("details.event summary").first.click()
    expect(page.locator("details.event").first).to_contain_text(HOSTILE_CUSTOMER)
    expect(page.locator("#state-panel .state-json")).to_contain_text(HOSTILE_CUSTOMER)
    page.goto(f"/trace/?correlation_id={correlation_id}")
    expect(page.locator(".chart")).to_have_attribute("data-rendered", "1")
    page.locator(".inline-details summary").last.click()
    expect(page.locator("ol.timeline")).to_contain_text(HOSTILE_REASON)
    screenshot(page, "trace")
    page.goto(f"/aggregates/?q={placed['stream_id']}")
    page.wait_for_timeout(500)
    assert page.evaluate("document.querySelectorAll('img[src=\"x\"], script:not([src]):not([type])').length") == 0
    assert operator_page.dialogs == []
    assert operator_page.errors == []
