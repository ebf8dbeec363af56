"""The audit log page: every operator action with who, what, target, parameters, outcome, duration; CSV export."""

from __future__ import annotations

import csv
import datetime as dt
import uuid
from collections.abc import Iterator
from typing import Any

import orjson
from django.core.exceptions import BadRequest
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from apps.accounts.models import AuditLog, AuditOutcome
from apps.accounts.selectors import AuditFilter, audit_action_names, audit_actor_names, audit_log_list
from apps.console.permissions import viewer_required
from apps.console.views.common import int_param, page_context, text_param

PAGE_SIZE = 100
CSV_COLUMNS = [
    "started_at",
    "finished_at",
    "duration_ms",
    "actor",
    "action",
    "target",
    "parameters",
    "outcome",
    "detail",
    "result",
    "correlation_id",
]
# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")


def _time_param(request: HttpRequest, name: str) -> dt.datetime | None:
    value = text_param(request, name)
    if not value:
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise BadRequest(f"?{name}= must be a date and time like 2026-01-31T09:30 (UTC)") from None
    return moment if timezone.is_aware(moment) else moment.replace(tzinfo=dt.UTC)


def _filters(request: HttpRequest) -> AuditFilter:
    correlation = text_param(request, "correlation_id")
    try:
        correlation_id = uuid.UUID(correlation) if correlation else None
    except ValueError:
        raise BadRequest("?correlation_id= must be a UUID") from None
    outcome = text_param(request, "outcome")
    if outcome and outcome not in AuditOutcome.values:
        raise BadRequest(f"?outcome= must be one of {', '.join(AuditOutcome.values)}")
    return AuditFilter(
        actor=text_param(request, "actor"),
        action=text_param(request, "action"),
        outcome=outcome,
        target=text_param(request, "target"),
        since=_time_param(request, "since"),
        until=_time_param(request, "until"),
        correlation_id=correlation_id,
    )


@require_GET
@viewer_required
def audit_log(request: HttpRequest) -> HttpResponse:
    filters = _filters(request)
    paginator = Paginator(audit_log_list(filters=filters), PAGE_SIZE)
    page = paginator.get_page(int_param(request, "page") or 1)
    query = request.GET.copy()
    query.pop("page", None)
    context = page_context(
        request,
        section="audit",
        filters=filters,
        page=page,
        query=query.urlencode(),
        actions=audit_action_names(),
        actors=audit_actor_names(),
        outcomes=AuditOutcome.values,
    )
    template = "console/audit.html#entries" if request.headers.get("HX-Request") == "true" else "console/audit.html"
    return render(request, template, context)


def csv_cell(value: Any) -> str:
    """``value`` as a CSV cell a spreadsheet shows as text: a leading formula character is quoted with '."""
    text = "" if value is None else str(value)
    return f"'{text}" if text.startswith(_FORMULA_STARTS) else text


def _csv_row(entry: AuditLog) -> list[str]:
    values: dict[str, Any] = {
        "started_at": entry.started_at.isoformat(),
        "finished_at": entry.finished_at.isoformat() if entry.finished_at else "",
        "duration_ms": "" if entry.duration_ms is None else f"{entry.duration_ms:.1f}",
        "actor": entry.actor,
        "action": entry.action,
        "target": entry.target,
        "parameters": orjson.dumps(entry.parameters).decode(),
        "outcome": entry.outcome,
        "detail": entry.detail,
        "result": orjson.dumps(entry.result).decode(),
        "correlation_id": str(entry.correlation_id),
    }
    return [csv_cell(values[column]) for column in CSV_COLUMNS]


class _Line:
    """A file-like object csv.writer writes one row into, read back at once."""

    def write(self, value: str) -> str:
        return value


def _csv_lines(entries: Iterator[AuditLog]) -> Iterator[str]:
    writer = csv.writer(_Line())
    yield writer.writerow(CSV_COLUMNS)
    for entry in entries:
        yield writer.writerow(_csv_row(entry))


@require_GET
@viewer_required
def audit_log_csv(request: HttpRequest) -> StreamingHttpResponse:
    """The filtered log as CSV, streamed: an export of a million entries holds one chunk in memory."""
    entries = audit_log_list(filters=_filters(request)).iterator(chunk_size=2000)
    response = StreamingHttpResponse(_csv_lines(entries), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="audit-log.csv"'
    return response
