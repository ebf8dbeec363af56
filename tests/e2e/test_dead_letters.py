"""Dead letters in a real browser on the running stack: a failure rule, the pages, replay and bulk replay."""

from __future__ import annotations

import time
import uuid
from typing import Any

from playwright.sync_api import Page, expect

from tests.e2e.conftest import Stack, Watched, screenshot

GROUP = "projection.order_summary"
WAIT_SECONDS = 90


def _rule(stack: Stack, pattern: str, *, group_id: str = GROUP) -> int:
    rule = stack.api(
        "POST",
        "/api/failure-rules",
        {"group_id": group_id, "kind": "field_regex", "field": "customer_id", "pattern": pattern},
    )
    return int(rule["id"])


def _saga_held(stack: Stack, pattern: str) -> None:
    """Keep the order saga away from these customers' orders.

    The saga appends to the order's stream (OrderConfirmed or OrderCancelled), and that
    event parks behind the projection's head dead letter; holding the saga keeps each
    stream at one event, so the counts below are this test's own. Sequencing behind a
    head is tested in tests/integration/dead_letters.
    """
    _rule(stack, pattern, group_id="saga.order")


def _order(stack: Stack, customer_id: str) -> dict[str, Any]:
    body = {
        "customer_id": customer_id,
        "currency": "EUR",
        "lines": [{"sku": "SKU-DL", "quantity": 1, "unit_price_cents": 500}],
    }
    return dict(stack.api("POST", "/api/orders", body))


def _parked(stack: Stack, *, count: int, **filters: str) -> list[dict[str, Any]]:
    """Wait until the API lists ``count`` parked dead letters of the group matching ``filters``."""
    query = "&".join(f"{name}={value}" for name, value in {"group": GROUP, "status": "parked", **filters}.items())
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        items = list(stack.api("GET", f"/api/dead-letters?{query}&page_size=100")["items"])
        if len(items) >= count or time.monotonic() > deadline:
            assert len(items) == count, f"{len(items)} dead letters parked, expected {count}\n{stack.log('worker')}"
            return items
        time.sleep(0.5)


def _rule_off(stack: Stack, rule_id: int) -> None:
    stack.api("POST", f"/api/failure-rules/{rule_id}/disable")
    # Every process trusts its cached rules for DEAD_LETTER_CACHE_SECONDS (1 s).
    time.sleep(1.5)


def test_a_failed_projection_event_is_replayed_from_its_page_and_the_read_model_shows_the_order(
    stack: Stack, operator_page: Watched
) -> None:
    page = operator_page.page
    customer = f"dl-one-{uuid.uuid4().hex[:6]}"
    _saga_held(stack, f"^{customer}$")
    rule_id = _rule(stack, f"^{customer}$")
    placed = _order(stack, customer)
    [dead] = _parked(stack, count=1, stream=placed["stream_id"])

    page.goto(f"/dead-letters/?stream={placed['stream_id']}")
    row = page.locator(f'.dead-letter-row[data-id="{dead["id"]}"]')
    expect(row).to_contain_text("InjectedFailure")
    screenshot(page, "dead-letters")
    page.goto("/aggregates/?customer=" + customer)
    expect(page.locator("#search-results")).to_contain_text("No stream matches.")

    _rule_off(stack, rule_id)
    page.goto(f"/dead-letters/{dead['id']}/")
    expect(page.locator("pre.payload")).to_contain_text(customer)
    expect(page.locator('[data-link="trace"]')).to_be_visible()
    screenshot(page, "dead-letter")
    page.click('[data-action="replay"]')
    expect(page.locator('#confirm [data-impact="dead_letters"]')).to_have_text("1")
    page.click('#confirm [data-confirm="replay"]')

    expect(page.locator("h1 .status")).to_have_text("replayed")
    expect(page.locator(".notice")).to_contain_text("replayed")
    expect(page.locator(".attempt-row").last).to_contain_text("olga")
    page.goto("/aggregates/?customer=" + customer)
    expect(page.locator("#search-results")).to_contain_text(placed["stream_id"])
    assert not operator_page.errors


def test_a_bulk_replay_shows_its_impact_runs_as_a_job_with_progress_and_replays_exactly_that_many(
    stack: Stack, operator_page: Watched
) -> None:
    page = operator_page.page
    prefix = f"dl-bulk-{uuid.uuid4().hex[:6]}"
    _saga_held(stack, f"^{prefix}-")
    rule_id = _rule(stack, f"^{prefix}-")
    for index in range(5):
        _order(stack, f"{prefix}-{index}")
    _parked(stack, count=5, message_contains=prefix)
    _rule_off(stack, rule_id)

    page.goto(f"/dead-letters/?group={GROUP}&q={prefix}")
    page.click('[data-action="replay-filter"]')
    expect(page.locator('#confirm [data-impact="dead_letters"]')).to_have_text("5")
    expect(page.locator('#confirm [data-impact="streams"]')).to_have_text("5")
    screenshot(page, "dead-letters-confirm")
    page.fill('#confirm input[name="rate"]', "2")
    page.click('#confirm [data-confirm="bulk"]')

    job = page.locator(".replay-job")
    # A running job at 2 events/s: the bar moves over the push socket while the page stays put.
    expect(job.locator("progress")).to_be_visible()
    expect(job).to_have_attribute("data-status", "done", timeout=WAIT_SECONDS * 1000)
    expect(job.locator('[data-field="replayed"]')).to_have_text("5")
    expect(job.locator('[data-field="failed_again"]')).to_have_text("0")
    expect(job.locator('[data-field="new_dead_letters"]')).to_be_visible()
    screenshot(page, "dead-letter-replay-job")
    assert _parked(stack, count=0, message_contains=prefix) == []
    assert not operator_page.errors


def test_a_bulk_replay_that_fails_again_stops_after_its_canary_batch(stack: Stack, operator_page: Watched) -> None:
    page = operator_page.page
    prefix = f"dl-canary-{uuid.uuid4().hex[:6]}"
    _saga_held(stack, f"^{prefix}-")
    _rule(stack, f"^{prefix}-")
    for index in range(14):
        _order(stack, f"{prefix}-{index}")
    _parked(stack, count=14, message_contains=prefix)

    page.goto(f"/dead-letters/?group={GROUP}&q={prefix}")
    page.click('[data-action="replay-filter"]')
    expect(page.locator('#confirm [data-impact="dead_letters"]')).to_have_text("14")
    page.fill('#confirm input[name="rate"]', "")
    page.click('#confirm [data-confirm="bulk"]')

    job = page.locator(".replay-job")
    expect(job).to_have_attribute("data-status", "stopped", timeout=WAIT_SECONDS * 1000)
    # The canary is DEAD_LETTER_REPLAY_CANARY_SIZE (10): every one failed again, so it stopped there.
    expect(job.locator('[data-field="failed_again"]')).to_have_text("10")
    expect(job.locator('[data-field="replayed"]')).to_have_text("0")
    expect(job.locator('[data-field="detail"]')).to_contain_text("failed again")
    assert len(_parked(stack, count=14, message_contains=prefix)) == 14


def test_a_viewer_sees_no_dead_letter_action_and_a_hand_made_post_is_refused(
    stack: Stack, viewer_page: Watched
) -> None:
    page: Page = viewer_page.page
    page.goto("/dead-letters/")
    expect(page.locator("h1")).to_have_text("Dead letters")
    assert page.locator("[data-action]").count() == 0
    token = page.evaluate("() => JSON.parse(document.body.getAttribute('hx-headers'))['X-CSRFToken']")
    response = page.request.post(
        f"{stack.base_url}/dead-letters/replay-jobs/", form={"group": GROUP}, headers={"X-CSRFToken": token}
    )
    assert response.status == 403
