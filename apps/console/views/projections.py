"""The projections page: each read model's status and lag, rebuilds with live progress, past rebuilds."""

from __future__ import annotations

import uuid
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_POST

from apps.console.permissions import operator_required, viewer_required
from apps.console.push_renderers import push_socket_url
from apps.console.selectors.projections import projection_rebuild_history, projection_row_list
from apps.console.selectors.read_models import rebuild_view
from apps.console.views.common import page_context
from apps.messaging.push import REBUILD_GROUP
from apps.projections.models import ProjectionRebuild
from apps.projections.projectors import UnknownProjection
from apps.projections.rebuild import (
    RebuildAlreadyActive,
    RebuildNotCancellable,
    projection_rebuild_cancel,
    projection_rebuild_request,
)


def _tables_context() -> dict[str, Any]:
    return {"rows": projection_row_list(), "history": projection_rebuild_history()}


@require_GET
@viewer_required
def projections(request: HttpRequest) -> HttpResponse:
    context = page_context(request, section="projections", push_url=push_socket_url(REBUILD_GROUP), **_tables_context())
    return render(request, "console/projections.html", context)


@require_GET
@viewer_required
def projection_tables(request: HttpRequest) -> HttpResponse:
    context = page_context(request, section="projections", **_tables_context())
    return render(request, "console/projections.html#tables", context)


@require_POST
@operator_required
def projection_rebuild_start(request: HttpRequest, name: str) -> HttpResponse:
    try:
        job = projection_rebuild_request(name=name, actor=request.user)
    except UnknownProjection:
        raise Http404("no such projection") from None
    except RebuildAlreadyActive as exc:
        # A 200: htmx swaps no 4xx answer, and the refusal is what the operator must read.
        message = (
            f"Not started: {name} is already being rebuilt (job {exc.job.id}, {exc.job.status})."
            " Wait for it to finish or cancel it first."
        )
        context = page_context(request, section="projections", message=message, refused=True, **_tables_context())
        return render(request, "console/projections.html#tables", context)
    message = f"Rebuild of {name} queued as job {job.id}."
    context = page_context(request, section="projections", message=message, **_tables_context())
    return render(request, "console/projections.html#tables", context)


@require_POST
@operator_required
def rebuild_cancel(request: HttpRequest, job_id: uuid.UUID) -> HttpResponse:
    """Cancel a rebuild; answers with its progress partial, which every page shows by the same id."""
    try:
        job = projection_rebuild_cancel(job_id=job_id, actor=request.user)
        message = "Cancelled; the live read model is unchanged."
    except ProjectionRebuild.DoesNotExist:
        raise Http404("no such rebuild") from None
    except RebuildNotCancellable as exc:
        job = ProjectionRebuild.objects.get(pk=job_id)
        message = str(exc)
    context = page_context(
        request,
        section="projections",
        rebuild=rebuild_view(job),
        projection={"name": job.projection},
        rebuild_message=message,
    )
    return render(request, "console/rebuild_progress.html", context)
