"""The saga pages: the list with its filters and counts, a saga's timeline and steps, the actions with
their preview for an operator, and nothing but 403 for a viewer who forges a POST."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.test import Client
from django.utils import timezone

from apps.accounts.models import AuditLog
from apps.console.push_renderers import LiveFilters, PushViewer, push_frame_render
from apps.eventstore.store import correlation_read
from apps.orders import handlers
from apps.orders.domain import commands as cmds
from apps.orders.handlers import CommandContext
from apps.sagas.models import SagaInstance
from tests.support.saga_rows import AttemptSpec, saga_row_create

pytestmark = pytest.mark.django_db

DECLINED = [
    AttemptSpec("reserve_stock", "sku-1", "succeeded", outcome="reserved"),
    AttemptSpec("authorize_payment", "o-declined", "rejected", outcome="declined: amount over the limit of 1000000"),
    AttemptSpec("release_stock", "sku-1", "succeeded", kind="compensation", compensates="reserve_stock"),
    AttemptSpec("cancel_order", "o-declined", "succeeded", kind="compensation"),
]
STUCK = [
    AttemptSpec("reserve_stock", "sku-1", "succeeded", outcome="reserved"),
    AttemptSpec("authorize_payment", "o-stuck", "timed_out", attempt=1, outcome="no reply by the deadline"),
    AttemptSpec("authorize_payment", "o-stuck", "timed_out", attempt=2, wait_before_ms=500, outcome="no reply"),
    AttemptSpec("authorize_payment", "o-stuck", "timed_out", attempt=3, wait_before_ms=1000, outcome="no reply"),
]


def _declined() -> SagaInstance:
    return saga_row_create(
        order_id="o-declined",
        status="compensated",
        attempts=DECLINED,
        current_step="cancel_order",
        status_reason="payment declined (amount over the limit of 1000000)",
    )


def _stuck() -> SagaInstance:
    return saga_row_create(
        order_id="o-stuck",
        status="stuck",
        attempts=STUCK,
        current_step="authorize_payment",
        status_reason="payment outcome unknown after 3 attempts",
    )


def _completed(order_id: str = "o-done", *, age_seconds: int = 60) -> SagaInstance:
    return saga_row_create(
        order_id=order_id,
        status="completed",
        attempts=[AttemptSpec("confirm_order", order_id, "succeeded", outcome="confirmed")],
        current_step="confirm_order",
        started_at=timezone.now() - dt.timedelta(seconds=age_seconds),
    )


def _shown_order_ids(html: str) -> set[str]:
    return {order_id for order_id in ("o-declined", "o-stuck", "o-done", "o-old") if f">{order_id}<" in html}


def test_the_list_counts_sagas_by_status_and_filters_by_status_step_order_text_and_age(viewer_client: Client) -> None:
    _declined(), _stuck(), _completed(), _completed("o-old", age_seconds=7200)

    page = viewer_client.get("/sagas/")
    assert page.status_code == 200
    html = page.content.decode()
    assert _shown_order_ids(html) == {"o-declined", "o-stuck", "o-done", "o-old"}
    assert 'data-status="completed">' in html and '<span class="strong">2</span>' in html

    def shown(query: str) -> set[str]:
        return _shown_order_ids(viewer_client.get(f"/sagas/?{query}", HTTP_HX_REQUEST="true").content.decode())

    assert shown("status=stuck") == {"o-stuck"}
    assert shown("step=cancel_order") == {"o-declined"}
    assert shown("order_id=o-done") == {"o-done"}
    assert shown("q=outcome+unknown") == {"o-stuck"}
    assert shown("older_than=3600") == {"o-old"}
    assert shown("status=compensated&q=nothing-like-this") == set()


def test_an_unknown_status_or_age_that_is_not_a_number_is_a_400_naming_it(viewer_client: Client) -> None:
    assert b"?status=" in viewer_client.get("/sagas/?status=exploded").content
    assert viewer_client.get("/sagas/?status=exploded").status_code == 400
    assert viewer_client.get("/sagas/?older_than=soon").status_code == 400


def test_the_saga_page_shows_the_condition_every_attempt_and_a_timeline_with_the_compensation(
    viewer_client: Client,
) -> None:
    saga = _declined()

    html = viewer_client.get(f"/sagas/{saga.id}/").content.decode()

    assert "compensated: payment declined (amount over the limit of 1000000)" in html
    assert html.count('class="attempt-row') == len(DECLINED)
    assert "↺ release_stock" in html and "undoes reserve_stock" in html
    figure_attr = html.split('id="saga-timeline-figure" class="figure-data" data-figure="')[1].split('"')[0]
    figure = json.loads(figure_attr.replace("&quot;", '"').replace("&amp;", "&").replace("&#x27;", "'"))
    rows = figure["layout"]["yaxis"]["categoryarray"]
    assert rows.index("↺ release_stock · sku-1") == rows.index("reserve_stock · sku-1") + 1
    assert f'href="/admin/sagas/sagainstance/{saga.id}/change/"' in html


def test_an_answer_links_to_its_stream_at_the_answers_version(viewer_client: Client) -> None:
    ctx = CommandContext(actor="tester", correlation_id="corr-answered")
    line = cmds.OrderLine(sku="sku-1", quantity=1, unit_price_cents=100)
    handlers.place_order(cmds.PlaceOrder(order_id="answered", customer_id="c-1", currency="EUR", lines=(line,)), ctx)
    handlers.confirm_order(cmds.ConfirmOrder(order_id="answered"), ctx)
    confirmed = correlation_read(correlation_id="corr-answered")[-1]
    saga = saga_row_create(
        order_id="answered",
        correlation_id="corr-answered",
        status="completed",
        attempts=[
            AttemptSpec(
                "confirm_order",
                "answered",
                "succeeded",
                answer_event_type=confirmed.event_type,
                answer_stream_id=confirmed.stream_id,
                answer_position=confirmed.position,
            )
        ],
    )

    html = viewer_client.get(f"/sagas/{saga.id}/").content.decode()

    assert f'href="/aggregates/stream/{confirmed.stream_id}?v={confirmed.version}"' in html
    assert confirmed.event_type in html


def test_a_viewer_sees_no_action_and_a_forged_post_is_403_and_changes_nothing(viewer_client: Client) -> None:
    saga = _stuck()

    html = viewer_client.get(f"/sagas/{saga.id}/").content.decode()
    assert "data-action=" not in html and "Retry step" not in html

    for action in ("retry", "resume", "compensate"):
        response = viewer_client.post(f"/sagas/{saga.id}/{action}", {"reason": "forged"})
        assert response.status_code == 403
    assert viewer_client.get(f"/sagas/{saga.id}/preview/retry").status_code == 403
    saga.refresh_from_db()
    assert saga.status == "stuck"
    assert saga.steps.count() == len(STUCK)
    assert not AuditLog.objects.filter(action__startswith="saga.", outcome="ok").exists()


def test_an_operator_sees_the_buttons_that_apply_and_each_preview_lists_its_commands(operator_client: Client) -> None:
    saga = _stuck()

    html = operator_client.get(f"/sagas/{saga.id}/").content.decode()
    assert 'data-action="retry"' in html and 'data-action="compensate"' in html

    preview = operator_client.get(f"/sagas/{saga.id}/preview/retry").content.decode()
    assert "AuthorizePayment" in preview and "payment" in preview
    assert f'hx-post="/sagas/{saga.id}/retry"' in preview
    compensate = operator_client.get(f"/sagas/{saga.id}/preview/compensate").content.decode()
    assert 'name="reason"' in compensate


def test_an_action_that_does_not_apply_is_a_409_with_a_clear_message_and_changes_nothing(
    operator_client: Client,
) -> None:
    saga = _completed()

    html = operator_client.get(f"/sagas/{saga.id}/").content.decode()
    assert 'data-action="retry"' not in html
    response = operator_client.post(f"/sagas/{saga.id}/retry", HTTP_HX_REQUEST="true")

    assert response.status_code == 409
    assert "Retry step does not apply now" in response.content.decode()
    saga.refresh_from_db()
    assert saga.status == "completed" and saga.steps.count() == 1


def test_compensate_without_a_reason_is_refused_with_a_message_and_sends_nothing(operator_client: Client) -> None:
    saga = _stuck()

    response = operator_client.post(f"/sagas/{saga.id}/compensate", {"reason": "  "})

    assert response.status_code == 400
    assert "needs a reason" in response.content.decode()
    saga.refresh_from_db()
    assert saga.status == "stuck" and saga.steps.count() == len(STUCK)


def test_an_unknown_saga_or_action_is_a_404(operator_client: Client) -> None:
    saga = _stuck()
    assert operator_client.get("/sagas/00000000-0000-0000-0000-000000000000/").status_code == 404
    assert operator_client.post(f"/sagas/{saga.id}/explode").status_code == 404


def test_a_saga_change_is_pushed_as_the_page_parts_only_to_the_page_of_that_saga() -> None:
    saga = _stuck()
    message = {"type": "saga.changed", "saga_id": str(saga.id), "status": "stuck"}
    on_page = PushViewer(is_operator=False, live_filters=LiveFilters({"saga_id": str(saga.id)}))
    elsewhere = PushViewer(is_operator=False, live_filters=LiveFilters({"saga_id": "another"}))

    frame = push_frame_render(message=message, viewer=on_page)  # type: ignore[arg-type]

    for part in ("saga-condition", "saga-actions", "saga-timeline-figure", "saga-steps"):
        assert f'id="{part}"' in frame
    assert frame.count('hx-swap-oob="true"') == 4
    assert "stuck: payment outcome unknown after 3 attempts" in frame
    assert push_frame_render(message=message, viewer=elsewhere) == ""  # type: ignore[arg-type]


def test_retry_from_the_page_sends_the_previewed_command_once_and_is_audited(operator_client: Client) -> None:
    saga = _stuck()
    preview = operator_client.get(f"/sagas/{saga.id}/preview/retry").content.decode()
    assert "send 1 command" in preview

    response = operator_client.post(f"/sagas/{saga.id}/retry", HTTP_HX_REQUEST="true")

    assert response.status_code == 200
    html = response.content.decode()
    assert "Retry step: 1 command sent; the saga is running." in html
    assert 'id="saga-steps" hx-swap-oob="true"' in html
    new = saga.steps.order_by("-pk").first()
    assert new is not None and (new.name, new.attempt, new.status) == ("authorize_payment", 4, "pending")
    assert AuditLog.objects.filter(action="saga.retry", target=f"saga:{saga.id}", outcome="ok").count() == 1
    again = operator_client.post(f"/sagas/{saga.id}/retry", HTTP_HX_REQUEST="true")
    assert again.status_code == 409
    assert saga.steps.filter(status="pending").count() == 1


def test_the_overview_counts_sagas_by_outcome_and_links_each_to_the_list(viewer_client: Client) -> None:
    _declined(), _stuck(), _completed()

    html = viewer_client.get("/").content.decode()

    tile = html.split('class="tile tile-sagas')[1].split("</ul>")[0]
    assert 'href="/sagas/?status=stuck" data-status="stuck"><span class="outcome-count">1</span> stuck' in tile
    assert '<span class="outcome-count">0</span> running' in tile
    assert "tile-bad" in html.split('class="tile tile-sagas')[1][:20]


def test_a_running_sagas_chart_refreshes_from_its_timeline_json_so_the_pending_attempt_grows(
    viewer_client: Client,
) -> None:
    saga = saga_row_create(
        order_id="o-running",
        status="running",
        attempts=[AttemptSpec("authorize_payment", "o-running", "pending")],
        current_step="authorize_payment",
    )
    html = viewer_client.get(f"/sagas/{saga.id}/").content.decode()
    assert f'data-src="/sagas/{saga.id}/timeline.json" data-every="2000"' in html

    first = viewer_client.get(f"/sagas/{saga.id}/timeline.json").json()
    second = viewer_client.get(f"/sagas/{saga.id}/timeline.json").json()

    pending = [next(t for t in figure["data"] if t["name"] == "attempt")["x"][0] for figure in (first, second)]
    assert pending[1] > pending[0]
    assert "data-src" not in viewer_client.get(f"/sagas/{_declined().id}/").content.decode()
