"""The dead-letter actions: each shows its impact first, then runs through the operator-action policy.

Every action is a POST with CSRF for the operator role, checked here (``operator_required``)
and again by the service, which audits it. The services make a repeated action harmless:
a dead letter already replayed or skipped says so, and one bulk replay per filter may be
active at a time.
"""

from __future__ import annotations

import uuid
from dataclasses import replace

from django.contrib import messages
from django.core.exceptions import BadRequest, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from apps.console.permissions import operator_required
from apps.console.views.common import int_param
from apps.console.views.dead_letters.params import dead_letter_filter_query, dead_letter_filter_read
from apps.messaging.dead_letters import (
    DeadLetter,
    DeadLetterFilter,
    DeadLetterNotReplayable,
    DeadLetterReplayJob,
    ReplayJobAlreadyActive,
    ReplayJobNotCancellable,
    dead_letter_one_impact,
    dead_letter_replay,
    dead_letter_replay_impact,
    dead_letter_replay_job_cancel,
    dead_letter_replay_job_request,
    dead_letter_replay_stream,
    dead_letter_skip,
)

ACTIONS = ("replay", "replay-stream", "skip", "replay-group", "replay-filter")


def _dead_letter(dead_letter_id: int) -> DeadLetter:
    try:
        return DeadLetter.objects.get(pk=dead_letter_id)
    except DeadLetter.DoesNotExist:
        raise Http404("no such dead letter") from None


def _bulk_filter(request_params: dict[str, str]) -> tuple[DeadLetterFilter, bool]:
    """The filter of a bulk replay, and whether it means everything parked (a bulk replay only replays parked ones)."""
    filters = replace(dead_letter_filter_read(request_params), status=None)
    return filters, not filters.as_dict()


@require_GET
@operator_required
def dead_letter_confirm(request: HttpRequest) -> HttpResponse:
    """The confirmation of an action, with its impact, before anything happens (an htmx partial)."""
    action = request.GET.get("action", "")
    if action not in ACTIONS:
        raise BadRequest(f"?action= must be one of {', '.join(ACTIONS)}")
    context: dict[str, object] = {"action": action}
    if action in ("replay", "replay-stream", "skip"):
        dead_letter_id = int_param(request, "id")
        if dead_letter_id is None:
            raise BadRequest("?id= is required")
        dead_letter = _dead_letter(dead_letter_id)
        if action == "replay-stream":
            impact = dead_letter_replay_impact(
                filters=DeadLetterFilter(group_id=dead_letter.group_id, stream_id=dead_letter.stream_id)
            )
        else:
            impact = dead_letter_one_impact(dead_letter_id=dead_letter.pk)
        context["dead_letter"] = dead_letter
    else:
        filters, everything = _bulk_filter(request.GET.dict())
        impact = dead_letter_replay_impact(filters=filters)
        context.update(
            filters=filters,
            everything=everything,
            query=dead_letter_filter_query(filters),
            default_rate=request.GET.get("rate", ""),
        )
    context["impact"] = impact
    return render(request, "console/dead_letters/confirm.html", context)


def _detail(dead_letter_id: int) -> HttpResponseRedirect:
    return HttpResponseRedirect(reverse("console:dead-letter", args=[dead_letter_id]))


@require_POST
@operator_required
def dead_letter_replay_one(request: HttpRequest, dead_letter_id: int) -> HttpResponse:
    _dead_letter(dead_letter_id)
    try:
        result = dead_letter_replay(dead_letter_id=dead_letter_id, actor=request.user)
    except DeadLetterNotReplayable as exc:
        messages.error(request, str(exc))
    else:
        (messages.error if result.outcome == "failed" else messages.success)(request, result.message)
    return _detail(dead_letter_id)


@require_POST
@operator_required
def dead_letter_replay_its_stream(request: HttpRequest, dead_letter_id: int) -> HttpResponse:
    dead_letter = _dead_letter(dead_letter_id)
    if not dead_letter.stream_id:
        messages.error(request, "this dead letter could not be decoded and belongs to no stream; skip it instead")
        return _detail(dead_letter_id)
    summary = dead_letter_replay_stream(
        group_id=dead_letter.group_id, stream_id=dead_letter.stream_id, actor=request.user
    )
    text = (
        f"stream {dead_letter.stream_id}: replayed {summary.replayed}, failed again {summary.failed},"
        f" still parked {summary.still_parked}"
    )
    (messages.error if summary.failed else messages.success)(request, text)
    return _detail(dead_letter_id)


@require_POST
@operator_required
def dead_letter_skip_one(request: HttpRequest, dead_letter_id: int) -> HttpResponse:
    _dead_letter(dead_letter_id)
    try:
        result = dead_letter_skip(
            dead_letter_id=dead_letter_id, reason=request.POST.get("reason", ""), actor=request.user
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, result.message)
    return _detail(dead_letter_id)


def _rate(request: HttpRequest) -> int | None:
    value = request.POST.get("rate", "").strip()
    if not value:
        return None
    if not (value.isascii() and value.isdigit()) or len(value) > 9:
        raise BadRequest("the rate must be a whole number of events per second, or empty for unthrottled")
    return int(value)


@require_POST
@operator_required
def replay_job_start(request: HttpRequest) -> HttpResponse:
    filters, everything = _bulk_filter(request.POST.dict())
    try:
        job = dead_letter_replay_job_request(
            filters=filters, everything=everything, rate_limit=_rate(request), actor=request.user
        )
    except ReplayJobAlreadyActive as exc:
        messages.error(request, str(exc))
        job = exc.job
    except ValidationError as exc:
        raise BadRequest(" ".join(exc.messages)) from None
    return HttpResponseRedirect(reverse("console:dead-letter-replay-job", args=[job.id]))


@require_POST
@operator_required
def replay_job_cancel(request: HttpRequest, job_id: uuid.UUID) -> HttpResponse:
    try:
        job = dead_letter_replay_job_cancel(job_id=job_id, actor=request.user)
    except DeadLetterReplayJob.DoesNotExist:
        raise Http404("no such bulk replay") from None
    except ReplayJobNotCancellable as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"bulk replay cancelled after {job.replayed} replayed; they stay replayed")
    return HttpResponseRedirect(reverse("console:dead-letter-replay-job", args=[job_id]))
