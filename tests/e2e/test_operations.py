"""Operating from the browser: a rebuild from the projections page, a viewer's forged POST, the audit log, axe-core."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import Stack, Watched, screenshot

pytestmark = pytest.mark.e2e

ACTION_BUTTONS = "button.action, [data-action]"


def _order_place(stack: Stack) -> dict[str, Any]:
    body = {
        "customer_id": "cust-ops",
        "currency": "EUR",
        "lines": [{"sku": "SKU-9", "quantity": 1, "unit_price_cents": 500}],
    }
    return dict(stack.api("POST", "/api/orders", body))


def _csrf_token(page: Page) -> str:
    headers = page.locator("body").get_attribute("hx-headers") or ""
    match = re.search(r'"X-CSRFToken": "([^"]+)"', headers)
    assert match, headers
    return match.group(1)


def test_a_rebuild_from_the_page_reaches_100_percent_and_lists_the_new_rebuild(
    stack: Stack, operator_page: Watched
) -> None:
    for _ in range(5):
        _order_place(stack)
    page = operator_page.page
    operator_page.accept_dialogs = True
    page.goto("/projections/")
    row = page.locator('tr[data-projection="order_summary"]')
    expect(row.locator("[data-status]").first).to_be_visible()

    row.locator('[data-action="rebuild"]').click()

    expect(page.locator("#projection-message")).to_contain_text("Rebuild of order_summary queued as job")
    job_id = page.locator("#projection-message").inner_text().rsplit(" ", 1)[-1].rstrip(".")
    cell = page.locator("#rebuild-order_summary")
    expect(cell.locator(".rebuild-percent")).to_have_text("100 %", timeout=30_000)
    expect(cell.locator(".status")).to_have_text("done")
    # The history lists it once the tables refresh (a poll, or the next page load).
    page.reload()
    history = page.locator(f'.rebuild-history tr[data-job="{job_id}"]')
    expect(history).to_have_attribute("data-status", "done")
    expect(history.locator(".digests")).to_contain_text("shadow")
    assert operator_page.errors == []
    screenshot(page, "projections")


def test_a_second_rebuild_while_one_runs_is_refused_with_a_clear_message(stack: Stack, operator_page: Watched) -> None:
    page = operator_page.page
    page.goto("/projections/")
    token = _csrf_token(page)
    first = page.request.post(
        "/projections/order_activity/rebuild", headers={"X-CSRFToken": token, "HX-Request": "true"}
    )
    second = page.request.post(
        "/projections/order_activity/rebuild", headers={"X-CSRFToken": token, "HX-Request": "true"}
    )
    assert first.status == 200 and "queued as job" in first.text()
    # The first may have finished already on an idle machine; then the second simply queues.
    assert "Not started: order_activity is already being rebuilt" in second.text() or "queued as job" in second.text()


def test_a_viewer_sees_none_of_the_buttons_and_a_post_made_by_hand_gets_403(stack: Stack, viewer_page: Watched) -> None:
    page = viewer_page.page
    for path in ("/projections/", "/audit/", "/consumers/"):
        page.goto(path)
        page.wait_for_load_state("networkidle")
        expect(page.locator(ACTION_BUTTONS)).to_have_count(0)
    page.goto("/projections/")
    before = page.locator(".rebuild-history tr.rebuild-row").count()
    token = _csrf_token(page)

    response = page.request.post("/projections/stock_level/rebuild", headers={"X-CSRFToken": token})

    assert response.status == 403
    assert 'data-error="403"' in response.text()
    page.reload()
    expect(page.locator(".rebuild-history tr.rebuild-row")).to_have_count(before)


def test_the_audit_log_lists_each_action_and_exports_csv(stack: Stack, operator_page: Watched) -> None:
    page = operator_page.page
    page.goto("/audit/")
    rows = page.locator("tr.audit-row")
    expect(rows.filter(has_text="projection.rebuild").filter(has_text="olga").first).to_be_visible()
    expect(rows.filter(has_text="console.request").filter(has_text="victor").first).to_contain_text("refused")
    page.select_option('select[name="outcome"]', "refused")
    expect(page).to_have_url(re.compile(r"outcome=refused"))
    expect(page.locator("tr.audit-row[data-outcome='ok']")).to_have_count(0)
    screenshot(page, "audit-log")
    csv = page.request.get("/audit/export.csv?outcome=refused")
    assert csv.status == 200 and csv.text().startswith("started_at,finished_at,duration_ms,actor,action")
    assert "victor" in csv.text()


def test_axe_core_finds_no_serious_or_critical_violation_on_any_page(
    stack: Stack, operator_page: Watched, axe_check: Callable[[Page], None]
) -> None:
    placed = _order_place(stack)
    page = operator_page.page
    pages = [
        "/",
        "/live/",
        "/aggregates/",
        f"/aggregates/stream/{placed['stream_id']}?version=1",
        "/trace/",
        f"/trace/?correlation_id={placed['correlation_id']}",
        "/consumers/",
        "/projections/",
        "/audit/",
        "/aggregates/stream/order-nobody",
        "/api/docs",
    ]
    failures = []
    for path in pages:
        page.goto(path)
        page.wait_for_load_state("networkidle")
        try:
            axe_check(page)
        except AssertionError as exc:
            failures.append(str(exc))
    # Every stream page's events are <details>; open one, as a user would, before checking again.
    page.goto(f"/aggregates/stream/{placed['stream_id']}")
    page.locator("details.event summary").first.click()
    try:
        axe_check(page)
    except AssertionError as exc:
        failures.append(str(exc))
    assert not failures, "\n\n".join(failures)


def test_axe_core_finds_no_serious_or_critical_violation_on_the_login_page(
    anonymous_page: Page, axe_check: Callable[[Page], None]
) -> None:
    anonymous_page.goto("/accounts/login/")
    axe_check(anonymous_page)
