"""Saga pages: the list by status, one saga's timeline and steps, and the operator actions with their preview."""

from __future__ import annotations

import uuid

from django.core.exceptions import BadRequest
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_POST

from apps.console.permissions import operator_required, viewer_required
from apps.console.push_renderers import push_socket_url
from apps.console.selectors.sagas import SAGA_ACTION_LABELS, saga_page_context
from apps.console.views.common import int_param, is_htmx, page_context, text_param
from apps.messaging.push import SAGAS_GROUP
from apps.sagas import plan
from apps.sagas.models import SagaInstance, SagaStatus
from apps.sagas.selectors import saga_list, saga_status_counts
from apps.sagas.services import (
    SAGA_ACTIONS,
    SagaAction,
    SagaActionNotApplicable,
    saga_action_preview,
    saga_compensate,
    saga_resume,
    saga_retry,
)

LIST_LIMIT = 200
AGE_CHOICES = [
    ("", "any age"),
    ("60", "older than 1 min"),
    ("300", "older than 5 min"),
    ("3600", "older than 1 h"),
    ("86400", "older than 1 day"),
]
# The saga plan's steps, in plan order: the step filter offers each.
STEP_NAMES = sorted(plan.SEQUENCE, key=plan.SEQUENCE.__getitem__)


def _list_filters(request: HttpRequest) -> dict[str, object]:
    status = text_param(request, "status")
    if status and status not in SagaStatus.values:
        raise BadRequest(f"?status= must be one of {', '.join(SagaStatus.values)}")
    return {
        "status": status or None,
        "order_id": text_param(request, "order_id") or None,
        "step": text_param(request, "step") or None,
        "text": text_param(request, "q") or None,
        "older_than_seconds": int_param(request, "older_than"),
    }


@require_GET
@viewer_required
def sagas(request: HttpRequest) -> HttpResponse:
    filters = _list_filters(request)
    context = page_context(
        request,
        section="sagas",
        sagas=saga_list(**filters, limit=LIST_LIMIT),  # type: ignore[arg-type]
        counts=saga_status_counts(),
        filters=filters,
        statuses=SagaStatus.values,
        step_names=STEP_NAMES,
        age_choices=AGE_CHOICES,
        limit=LIST_LIMIT,
    )
    return render(request, "console/sagas.html#saga-results" if is_htmx(request) else "console/sagas.html", context)


def _saga_context(request: HttpRequest, saga_id: uuid.UUID) -> dict[str, object]:
    try:
        parts = saga_page_context(saga_id=saga_id, is_operator=page_context(request, section="sagas")["is_operator"])
    except SagaInstance.DoesNotExist:
        raise Http404("no such saga") from None
    return page_context(request, section="sagas", **parts)


@require_GET
@viewer_required
def saga(request: HttpRequest, saga_id: uuid.UUID) -> HttpResponse:
    context = _saga_context(request, saga_id)
    context["push_url"] = push_socket_url(SAGAS_GROUP, saga_id=str(saga_id))
    return render(request, "console/saga.html", context)


@require_GET
@viewer_required
def saga_timeline(request: HttpRequest, saga_id: uuid.UUID) -> HttpResponse:
    """The timeline's figure alone: a running saga's chart redraws from it between pushes, so its pending bar grows."""
    figure = _saga_context(request, saga_id)["timeline_figure"]
    return HttpResponse(str(figure), content_type="application/json")


def _action_checked(action: str) -> SagaAction:
    for known in SAGA_ACTIONS:
        if action == known:
            return known
    raise Http404("no such saga action")


@require_GET
@operator_required
def saga_preview(request: HttpRequest, saga_id: uuid.UUID, action: str) -> HttpResponse:
    try:
        preview = saga_action_preview(saga_id=saga_id, action=_action_checked(action))
    except SagaInstance.DoesNotExist:
        raise Http404("no such saga") from None
    context = {"saga_id": saga_id, "action": action, "label": SAGA_ACTION_LABELS[action], "preview": preview}
    return render(request, "console/saga.html#confirm", context)


@require_POST
@operator_required
def saga_action(request: HttpRequest, saga_id: uuid.UUID, action: str) -> HttpResponse:
    _action_checked(action)
    reason = request.POST.get("reason", "").strip()
    if action == "compensate" and not reason:
        return _action_response(request, saga_id, "Compensate needs a reason: say why, for the audit log.", 400)
    try:
        if action == "retry":
            result = saga_retry(saga_id=saga_id, actor=request.user)
        elif action == "resume":
            result = saga_resume(saga_id=saga_id, actor=request.user)
        else:
            result = saga_compensate(saga_id=saga_id, actor=request.user, reason=reason)
    except SagaInstance.DoesNotExist:
        raise Http404("no such saga") from None
    except SagaActionNotApplicable as exc:
        return _action_response(request, saga_id, f"{SAGA_ACTION_LABELS[action]} does not apply now: {exc}", 409)
    sent = len(result.commands)
    commands = f"{sent} command{'s' if sent != 1 else ''}"
    message = f"{SAGA_ACTION_LABELS[action]}: {commands} sent; the saga is {result.status_after}."
    return _action_response(request, saga_id, message, 200)


def _action_response(request: HttpRequest, saga_id: uuid.UUID, message: str, status: int) -> HttpResponse:
    """The saga's live parts as they are after the action (or its refusal), with the message above them."""
    context = _saga_context(request, saga_id)
    context.update(message=message, message_error=status >= 400, oob=True)
    return render(request, "console/saga.html#action-result", context, status=status)
