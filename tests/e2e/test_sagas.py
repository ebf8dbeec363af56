"""Sagas in a real browser: a declined payment's compensation on the timeline, and an operator's
Retry that completes a saga stuck on a payment that never answered."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import Stack, Watched, screenshot

pytestmark = pytest.mark.e2e

# Above the gateway's per-payment limit (PAYMENT_GATEWAY_LIMIT_CENTS, 1,000,000 by default).
OVER_THE_LIMIT_CENTS = 1_500_000
# An amount no other order has, so the no-reply rule matches this test's payment only.
UNANSWERED_CENTS = 777_777
TIMELINE = '.chart[data-chart="saga-timeline"]'


def _order_with_stock(stack: Stack, *, unit_price_cents: int) -> dict[str, Any]:
    sku = f"SKU-SAGA-{uuid.uuid4().hex[:6]}"
    stack.api("POST", "/api/stock", {"sku": sku, "quantity": 10})
    body = {
        "customer_id": "cust-saga",
        "currency": "EUR",
        "lines": [{"sku": sku, "quantity": 1, "unit_price_cents": unit_price_cents}],
    }
    return {**stack.api("POST", "/api/orders", body), "sku": sku}


def _saga_open_when(page: Page, order_id: str, status: str, *, within: float = 60.0) -> None:
    """Find the order's saga in the list once it reaches ``status``, and open its page."""
    deadline = time.monotonic() + within
    row = page.locator(f'tr.saga-row[data-status="{status}"]')
    while time.monotonic() < deadline:
        page.goto(f"/sagas/?order_id={order_id}")
        if row.count():
            row.locator("a").first.click()
            page.wait_for_url("**/sagas/*-*/")
            return
        time.sleep(1)
    shown = page.locator("tr.saga-row").evaluate_all("rows => rows.map(r => r.dataset.status)")
    raise AssertionError(f"the saga of {order_id} did not reach {status} in {within:.0f} s (it is {shown})")


def test_a_declined_payments_saga_shows_its_compensation_on_the_timeline(stack: Stack, viewer_page: Watched) -> None:
    page = viewer_page.page
    placed = _order_with_stock(stack, unit_price_cents=OVER_THE_LIMIT_CENTS)

    _saga_open_when(page, placed["order_id"], "compensated")

    expect(page.locator("#saga-condition")).to_contain_text("compensated")
    expect(page.locator('tr.attempt-row[data-step="authorize_payment"]')).to_have_attribute("data-status", "rejected")
    expect(page.locator('tr.attempt-row.kind-compensation[data-step="release_stock"]')).to_have_count(1)
    expect(page.locator(TIMELINE)).to_have_attribute("data-rendered", "1")
    # Rows as drawn, top to bottom (the DOM holds the ticks in the axis' own order).
    labels = page.locator(f"{TIMELINE} .ytick text").evaluate_all(
        "ticks => ticks.map(t => [t.getBoundingClientRect().top, t.textContent])"
        ".sort((a, b) => a[0] - b[0]).map(t => t[1])"
    )
    reserve, release = f"reserve_stock · {placed['sku']}", f"↺ release_stock · {placed['sku']}"
    assert release in labels and labels.index(release) == labels.index(reserve) + 1, labels
    expect(page.locator(f"{TIMELINE} .bars path").first).to_be_visible()
    expect(page.locator("[data-action]")).to_have_count(0)
    assert viewer_page.errors == []
    screenshot(page, "saga-timeline")
    page.goto("/sagas/")
    expect(page.locator("tr.saga-row").first).to_be_visible()
    screenshot(page, "sagas")


def test_retry_on_a_stuck_saga_completes_it_after_its_no_reply_rule_is_switched_off(
    stack: Stack, operator_page: Watched
) -> None:
    page = operator_page.page
    rule = stack.api(
        "POST",
        "/api/failure-rules",
        {
            "group_id": "participant.payment",
            "kind": "field_regex",
            "field": "amount_cents",
            "pattern": f"^{UNANSWERED_CENTS}$",
            "effect": "no_reply",
        },
    )
    try:
        placed = _order_with_stock(stack, unit_price_cents=UNANSWERED_CENTS)
        _saga_open_when(page, placed["order_id"], "stuck", within=90)
    finally:
        stack.api("POST", f"/api/failure-rules/{rule['id']}/disable")
    expect(page.locator("#saga-condition")).to_contain_text("stuck")
    timed_out = page.locator('tr.attempt-row[data-step="authorize_payment"][data-status="timed_out"]')
    assert timed_out.count() >= 2, "the unanswered payment was not tried again before the saga stopped"
    expect(page.locator(TIMELINE)).to_have_attribute("data-rendered", "1")
    screenshot(page, "saga-stuck")

    page.click('[data-action="retry"]')
    confirm = page.locator('[data-confirm="retry"]')
    expect(confirm).to_contain_text("AuthorizePayment")
    expect(confirm).to_contain_text(str(UNANSWERED_CENTS))
    confirm.locator("button[type=submit]").click()

    expect(page.locator("#saga-message")).to_contain_text("Retry step")
    # The answer arrives later, over the push socket: the page is never reloaded.
    expect(page.locator("#saga-condition .status")).to_have_text("completed", timeout=30_000)
    expect(page.locator('tr.attempt-row[data-step="confirm_order"]')).to_have_attribute("data-status", "succeeded")
    expect(page.locator('tr.attempt-row[data-step="authorize_payment"]').last).to_have_attribute(
        "data-status", "succeeded"
    )
    assert operator_page.errors == []
