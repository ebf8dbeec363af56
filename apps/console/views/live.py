from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from apps.console.live import LIVE_ROWS_MAX
from apps.console.permissions import viewer_required
from apps.console.push_renderers import push_socket_url
from apps.console.selectors.events import event_recent_list, event_type_names
from apps.console.views.common import page_context
from apps.messaging.push import LIVE_EVENTS_GROUP

INITIAL_ROWS = 50


@require_GET
@viewer_required
def live_stream(request: HttpRequest) -> HttpResponse:
    context = page_context(
        request,
        section="live",
        events=event_recent_list(limit=INITIAL_ROWS),
        event_types=event_type_names(),
        rows_max=LIVE_ROWS_MAX,
        push_url=push_socket_url(LIVE_EVENTS_GROUP),
    )
    return render(request, "console/live.html", context)
