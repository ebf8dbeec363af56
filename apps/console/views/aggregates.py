from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from apps.console.permissions import viewer_required
from apps.console.selectors.events import (
    PAGE_SIZE,
    stream_event_page,
    stream_get,
    stream_search,
    stream_type_names,
)
from apps.console.selectors.read_models import order_stream_ids_for_customer
from apps.console.selectors.state import aggregate_state_at
from apps.console.views.common import int_param, is_htmx, page_context, text_checked, text_param


@require_GET
@viewer_required
def aggregate_search(request: HttpRequest) -> HttpResponse:
    query = text_param(request, "q")
    stream_type = text_param(request, "type")
    customer_id = text_param(request, "customer")
    stream_ids = None
    if customer_id:
        stream_ids = order_stream_ids_for_customer(customer_id=customer_id)
    context = page_context(
        request,
        section="aggregates",
        q=query,
        stream_type=stream_type,
        customer=customer_id,
        stream_types=stream_type_names(),
        streams=stream_search(query=query, stream_type=stream_type, stream_ids=stream_ids),
        searched=bool(query or stream_type or customer_id),
    )
    template = "console/aggregates.html#search-results" if is_htmx(request) else "console/aggregates.html"
    return render(request, template, context)


@require_GET
@viewer_required
def stream_detail(request: HttpRequest, stream_id: str) -> HttpResponse:
    stream = stream_get(stream_id=text_checked(stream_id, name="stream id"))
    if stream is None:
        raise Http404("no such stream")
    after, before = int_param(request, "after"), int_param(request, "before")
    # ?version=N is the deep link to an aggregate at version N (the state panel pushes it); ?v= is its old name.
    selected = int_param(request, "version") or int_param(request, "v")
    if selected and after is None and before is None:
        # Open the page that holds the selected version.
        after = (min(selected, stream.version) - 1) // PAGE_SIZE * PAGE_SIZE
    page = stream_event_page(stream=stream, after=after, before=before)
    if selected is None or not 1 <= selected <= stream.version:
        selected = page.last_version
    context = page_context(request, section="aggregates", stream=stream, page=page, selected=selected)
    template = "console/stream.html#event-page" if is_htmx(request) else "console/stream.html"
    return render(request, template, context)


@require_GET
@viewer_required
def stream_state(request: HttpRequest, stream_id: str) -> HttpResponse:
    stream = stream_get(stream_id=text_checked(stream_id, name="stream id"))
    if stream is None:
        raise Http404("no such stream")
    version = int_param(request, "v") or stream.version
    version = min(max(version, 1), stream.version)
    state = aggregate_state_at(stream_id=stream.stream_id, stream_type=stream.stream_type, version=version)
    context = {"stream": stream, "state": state, "version": version}
    response = render(request, "console/stream.html#state-panel", context)
    if is_htmx(request):
        # Whatever moved the panel (a link, the slider, the form), the address bar follows it.
        response["HX-Push-Url"] = f"{reverse('console:stream', args=[stream.stream_id])}?version={version}"
    return response
