from __future__ import annotations

from collections.abc import Callable
from typing import Any

import plotly.graph_objects as go
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from apps.console.charts import build_event_rate_figure, build_orders_by_status_figure, figure_json
from apps.console.permissions import viewer_required
from apps.console.push_renderers import push_socket_url, read_models_context
from apps.console.selectors import pipeline
from apps.console.selectors.events import event_rate_series, store_totals
from apps.console.selectors.health import HEALTH_CHECK_INTERVAL_SECONDS, health_read
from apps.console.selectors.read_models import orders_by_status
from apps.console.views.common import page_context
from apps.messaging.push import READ_MODEL_GROUP
from apps.sagas.selectors import saga_status_counts

RATE_WINDOW_SECONDS = 300


def _status() -> dict[str, Any]:
    """Lag per group and health: what the status panel shows, and the tiles sum up."""
    groups = pipeline.consumer_group_list()
    health, verdict = health_read()
    return {
        "groups": groups,
        "total_lag": sum(group.total_lag or 0 for group in groups),
        "lag_available": any(group.sampled_at for group in groups),
        "health": health,
        "health_ok": sum(1 for check in health if check.ok),
        "health_failing": [check.name for check in health if check.ok is False],
        "verdict": verdict,
        # The polled parts refresh as often as the health they show is measured.
        "refresh_seconds": int(HEALTH_CHECK_INTERVAL_SECONDS),
    }


def _tiles() -> dict[str, Any]:
    recent = [count for _, count in event_rate_series(seconds=11)[:-1]]
    return {
        "totals": store_totals(),
        "rate_now": sum(recent) / len(recent) if recent else 0.0,
        "saga_counts": saga_status_counts(),
        **_status(),
    }


_FIGURES: dict[str, Callable[[], go.Figure]] = {
    "event_rate": lambda: build_event_rate_figure(event_rate_series(seconds=RATE_WINDOW_SECONDS)),
    "orders_by_status": lambda: build_orders_by_status_figure(orders_by_status()),
}


def _figures() -> dict[str, str]:
    # orders_by_status comes with the read-model tiles, which are pushed.
    return {"event_rate": figure_json(_FIGURES["event_rate"]())}


@require_GET
@viewer_required
def overview(request: HttpRequest) -> HttpResponse:
    context = page_context(
        request,
        section="overview",
        figures=_figures(),
        push_url=push_socket_url(READ_MODEL_GROUP),
        **_tiles(),
        **read_models_context(),
    )
    return render(request, "console/overview.html", context)


@require_GET
@viewer_required
def overview_tiles(request: HttpRequest) -> HttpResponse:
    context = page_context(request, section="overview", **_tiles())
    return render(request, "console/overview.html#tiles", context)


@require_GET
@viewer_required
def overview_status(request: HttpRequest) -> HttpResponse:
    context = page_context(request, section="overview", **_status())
    return render(request, "console/overview.html#status", context)


@require_GET
@viewer_required
def overview_chart(request: HttpRequest, name: str) -> HttpResponse:
    build = _FIGURES.get(name)
    if build is None:
        raise Http404("no such chart")
    return HttpResponse(figure_json(build()), content_type="application/json")
