from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_POST

from apps.console.permissions import operator_required, viewer_required
from apps.console.push_renderers import consumer_tables_context, lag_figure_json, push_socket_url
from apps.console.views.common import page_context
from apps.messaging.push import LAG_GROUP, REBUILD_GROUP
from apps.projections.projectors import UnknownProjection
from apps.projections.rebuild import RebuildAlreadyActive, projection_rebuild_request


@require_GET
@viewer_required
def consumers(request: HttpRequest) -> HttpResponse:
    context = page_context(
        request,
        section="consumers",
        lag_figure=lag_figure_json(),
        push_url=push_socket_url(LAG_GROUP, REBUILD_GROUP),
        **consumer_tables_context(),
    )
    return render(request, "console/consumers.html", context)


@require_GET
@viewer_required
def consumer_tables(request: HttpRequest) -> HttpResponse:
    context = page_context(request, section="consumers", **consumer_tables_context())
    return render(request, "console/consumers.html#tables", context)


@require_GET
@viewer_required
def lag_chart(request: HttpRequest) -> HttpResponse:
    return HttpResponse(lag_figure_json(), content_type="application/json")


def _tables_response(request: HttpRequest, message: str, *, status: int = 200) -> HttpResponse:
    context = page_context(request, section="consumers", message=message, **consumer_tables_context())
    return render(request, "console/consumers.html#tables", context, status=status)


@require_POST
@operator_required
def projection_rebuild(request: HttpRequest, name: str) -> HttpResponse:
    try:
        job = projection_rebuild_request(name=name, actor=request.user)
    except UnknownProjection:
        raise Http404("no such projection") from None
    except RebuildAlreadyActive as exc:
        return _tables_response(request, f"{name} is already being rebuilt (job {exc.job.id}, {exc.job.status}).")
    return _tables_response(request, f"Rebuild of {name} queued as job {job.id}.")
