"""The projections page, the audit log and its CSV export, audit entries in the trace, the overview's verdict."""

from __future__ import annotations

import csv
import io
import re

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from apps.accounts.audit import audit_log_record
from apps.accounts.models import AuditLog
from apps.console.selectors import health
from apps.console.views.audit import csv_cell
from apps.eventstore.store import correlation_read
from apps.messaging.dead_letters.models import DeadLetter, DeadLetterStatus
from apps.projections.models import ProjectionRebuild, RebuildStatus
from tests.integration.console.conftest import HostileOrder, assert_no_raw_markup

HTMX = {"HX-Request": "true"}


def parked_dead_letter(*, group_id: str, stream_id: str, position: int, offset: int) -> DeadLetter:
    now = timezone.now()
    return DeadLetter.objects.create(
        group_id=group_id,
        position=position,
        stream_id=stream_id,
        event_type="OrderPlaced",
        topic="order-events",
        partition=0,
        offset=offset,
        error_class="ValueError",
        error_message="boom",
        attempts=3,
        first_failed_at=now,
        last_failed_at=now,
        status=DeadLetterStatus.PARKED,
    )


def test_projections_page_shows_each_read_model_live_with_checkpoint_head_and_trend(viewer_client: Client) -> None:
    html = viewer_client.get("/projections/").content.decode()
    for name in ("order_summary", "customer_order_stats", "order_activity", "stock_level"):
        assert f'data-projection="{name}"' in html
    assert html.count('class="chart sparkline"') == 4
    # Nothing was appended: every model is at the head, which reads "live".
    assert html.count(">live</span>") == 4


def test_a_projection_held_up_by_parked_dead_letters_says_so_and_links_to_them(
    viewer_client: Client, hostile_order: HostileOrder
) -> None:
    parked_dead_letter(group_id="projection.order_summary", stream_id="order-a", position=1, offset=1)
    parked_dead_letter(group_id="projection.order_summary", stream_id="order-b", position=2, offset=2)

    html = viewer_client.get("/projections/tables/").content.decode()

    row = html.split('data-projection="order_summary"')[1].split("</tr>")[0]
    assert "blocked by 2 parked streams" in row
    assert 'href="/dead-letters/?group=projection.order_summary&amp;status=parked"' in row


def test_operator_rebuild_from_the_projections_page_is_queued_audited_and_a_second_is_refused_clearly(
    operator_client: Client,
) -> None:
    first = operator_client.post("/projections/stock_level/rebuild", headers=HTMX)
    assert first.status_code == 200
    job = ProjectionRebuild.objects.get(projection="stock_level")
    assert f"Rebuild of stock_level queued as job {job.id}." in first.content.decode()
    assert 'id="rebuild-stock_level"' in first.content.decode()

    second = operator_client.post("/projections/stock_level/rebuild", headers=HTMX)

    assert "Not started: stock_level is already being rebuilt" in second.content.decode()
    assert ProjectionRebuild.objects.filter(projection="stock_level").count() == 1
    assert list(AuditLog.objects.filter(action="projection.rebuild").values_list("outcome", flat=True)) == [
        "refused",
        "ok",
    ]


def test_cancel_answers_with_the_progress_cell_and_the_history_lists_the_outcome(operator_client: Client) -> None:
    operator_client.post("/projections/stock_level/rebuild", headers=HTMX)
    job = ProjectionRebuild.objects.get(projection="stock_level")

    response = operator_client.post(f"/projections/rebuilds/{job.id}/cancel", headers=HTMX)

    html = response.content.decode()
    assert html.strip().startswith('<div class="rebuild" id="rebuild-stock_level"')
    assert "Cancelled; the live read model is unchanged." in html
    job.refresh_from_db()
    assert job.status == RebuildStatus.CANCELLED
    history = operator_client.get("/projections/tables/").content.decode().split("rebuild-history")[1]
    assert f'data-job="{job.id}" data-status="cancelled"' in history


def test_a_viewer_posting_by_hand_gets_403_and_nothing_changes(viewer_client: Client, operator_client: Client) -> None:
    assert viewer_client.post("/projections/stock_level/rebuild").status_code == 403
    assert not ProjectionRebuild.objects.exists()
    operator_client.post("/projections/stock_level/rebuild", headers=HTMX)
    job = ProjectionRebuild.objects.get()

    assert viewer_client.post(f"/projections/rebuilds/{job.id}/cancel").status_code == 403

    job.refresh_from_db()
    assert job.status == RebuildStatus.QUEUED
    assert AuditLog.objects.filter(action="console.request", outcome="refused").count() == 2


def test_audit_log_lists_who_what_target_parameters_outcome_and_duration_and_filters(
    operator_client: Client, viewer_client: Client
) -> None:
    operator_client.post("/projections/stock_level/rebuild", headers=HTMX)
    viewer_client.post("/projections/order_summary/rebuild")

    html = viewer_client.get("/audit/").content.decode()
    rows = re.findall(r'<tr class="audit-row".*?</tr>', html, re.S)
    assert len(rows) == 2
    assert "olga" in rows[1] and "projection.rebuild" in rows[1] and "stock_level" in rows[1]
    assert re.search(r"\d+ ms", rows[1])
    assert "victor" in rows[0] and "refused" in rows[0] and "/projections/order_summary/rebuild" in rows[0]

    only_ok = viewer_client.get("/audit/?outcome=ok", headers=HTMX).content.decode()
    assert only_ok.count('class="audit-row"') == 1 and "olga" in only_ok
    assert viewer_client.get("/audit/?actor=nobody").content.decode().count('class="audit-row"') == 0
    assert viewer_client.get("/audit/?outcome=maybe").status_code == 400
    assert viewer_client.get("/audit/?since=yesterday").status_code == 400


def test_csv_export_is_streamed_and_a_formula_in_any_cell_stays_text(viewer: User, viewer_client: Client) -> None:
    audit_log_record(
        actor='=HYPERLINK("http://evil")',
        action="-2+3",
        target="@SUM(A1)",
        parameters={"note": "=1+1"},
        outcome="refused",
        detail="+cmd|' /C calc'!A0",
    )

    response = viewer_client.get("/audit/export.csv")

    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    body = b"".join(response.streaming_content)  # type: ignore[attr-defined]
    rows = list(csv.DictReader(io.StringIO(body.decode())))
    assert len(rows) == 1
    row = rows[0]
    assert row["actor"] == '\'=HYPERLINK("http://evil")'
    assert (row["action"], row["target"], row["detail"]) == ("'-2+3", "'@SUM(A1)", "'+cmd|' /C calc'!A0")
    assert row["parameters"] == '{"note":"=1+1"}'
    assert row["outcome"] == "refused"
    assert csv_cell("\tx") == "'\tx" and csv_cell("plain") == "plain" and csv_cell(None) == ""


def test_trace_shows_the_operator_actions_on_its_dead_letters(
    viewer_client: Client, hostile_order: HostileOrder
) -> None:
    event = correlation_read(correlation_id=hostile_order.correlation_id)[0]
    dead_letter = parked_dead_letter(
        group_id="projection.order_summary", stream_id=event.stream_id, position=event.position, offset=7
    )
    audit_log_record(
        actor="olga", action="dead_letter.skip", target=f"dead_letter:{dead_letter.pk}", parameters={}, outcome="ok"
    )
    audit_log_record(actor="olga", action="dead_letter.skip", target="dead_letter:999999", parameters={}, outcome="ok")

    response = viewer_client.get("/trace/", {"correlation_id": hostile_order.correlation_id})

    html = response.content.decode()
    assert_no_raw_markup(html)
    section = html.split('id="trace-audit"')[1]
    assert section.count('class="audit-row"') == 1
    assert f"dead_letter:{dead_letter.pk}" in section


def test_overview_health_says_degraded_with_the_reason_when_a_projection_is_blocked(
    viewer_client: Client, hostile_order: HostileOrder, monkeypatch: pytest.MonkeyPatch
) -> None:
    parked_dead_letter(group_id="projection.stock_level", stream_id="order-a", position=1, offset=1)
    monkeypatch.setattr(health, "_cache", health._HealthCache())

    html = viewer_client.get("/overview/tiles/").content.decode()

    assert 'data-health="degraded"' in html
    assert "projection stock_level is blocked by 1 parked stream" in html


def test_health_verdict_names_a_group_that_is_not_ok_and_a_failing_part() -> None:
    from apps.messaging.lag import ConsumerGroupStatus

    group = ConsumerGroupStatus(
        group_id="projection.order_summary",
        topic="order-events",
        status="STALLED",
        reason="lag did not move for 60 s",
        total_lag=12,
        sampled_at=None,
        offsets_sampled_at=None,
        last_commit_at=None,
        error="",
        registered=True,
        description="",
    )
    unknown = ConsumerGroupStatus(**{**group.__dict__, "group_id": "sagas", "status": "NO SAMPLES"})
    relay = health.HealthCheck("Relay", False, "behind the head by 5,000 positions")

    verdict = health.health_verdict(checks=[relay], projections=[], groups=[group, unknown])

    assert verdict.degraded
    assert verdict.reasons == [
        "Relay: behind the head by 5,000 positions",
        "consumer group projection.order_summary is STALLED: lag did not move for 60 s",
    ]
