from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from apps.console.charts import build_trace_figure, figure_json
from apps.console.permissions import viewer_required
from apps.console.selectors.events import correlation_event_list
from apps.console.selectors.trace import trace_audit_entries, trace_build
from apps.console.views.common import page_context, text_param


@require_GET
@viewer_required
def trace(request: HttpRequest) -> HttpResponse:
    correlation_id = text_param(request, "correlation_id")
    events = correlation_event_list(correlation_id=correlation_id) if correlation_id else []
    context = page_context(
        request,
        section="trace",
        correlation_id=correlation_id,
        trace=trace_build(events) if events else None,
        figure=figure_json(build_trace_figure(events)) if events else "",
        audit_entries=trace_audit_entries(correlation_id=correlation_id, events=events) if correlation_id else [],
    )
    return render(request, "console/trace.html", context)
