"""The dead-letter pages an operator reads before acting: groups and list, the sequenced view, one dead letter."""

from __future__ import annotations

import json
import uuid
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from apps.console.permissions import viewer_required
from apps.console.push_renderers import push_socket_url, replay_job_view
from apps.console.views.common import int_param, is_htmx, page_context
from apps.console.views.dead_letters.params import dead_letter_filter_query, dead_letter_filter_read
from apps.eventstore.store import event_read
from apps.messaging.codec import event_value_preview
from apps.messaging.dead_letters import (
    DeadLetter,
    DeadLetterReplayJob,
    DeadLetterStatus,
    dead_letter_failure_groups,
)
from apps.messaging.dead_letters.chain import CONSUMER_HOST_ACTOR
from apps.messaging.dead_letters.progress import replay_job_progress_message
from apps.messaging.dead_letters.selectors import (
    dead_letter_attempt_list,
    dead_letter_get,
    dead_letter_list,
    dead_letter_parked_behind_list,
    dead_letter_sequenced_heads,
)
from apps.messaging.push import DEAD_LETTER_REPLAY_GROUP

LIST_PAGE_SIZE = 50
RECENT_JOBS = 5


def _rows_page(queryset: Any, *, before: int | None) -> tuple[list[Any], int | None]:
    """One page of rows newest first, by id (a keyset: as fast on the thousandth page as on the first)."""
    if before is not None:
        queryset = queryset.filter(pk__lt=before)
    rows = list(queryset.order_by("-pk")[: LIST_PAGE_SIZE + 1])
    older = rows[LIST_PAGE_SIZE - 1].pk if len(rows) > LIST_PAGE_SIZE else None
    return rows[:LIST_PAGE_SIZE], older


@require_GET
@viewer_required
def dead_letter_index(request: HttpRequest) -> HttpResponse:
    filters = dead_letter_filter_read(request.GET, status_default=DeadLetterStatus.PARKED)
    query = dead_letter_filter_query(filters)
    matching = dead_letter_list(filters=filters)
    rows, older = _rows_page(matching, before=int_param(request, "before"))
    context = page_context(
        request,
        section="dead-letters",
        filters=filters,
        query=query,
        query_string=urlencode(query),
        statuses=DeadLetterStatus.choices,
        groups=dead_letter_failure_groups(filters=filters),
        rows=rows,
        matching_count=matching.count(),
        older=older,
        jobs=[
            replay_job_view(replay_job_progress_message(job))
            for job in DeadLetterReplayJob.objects.order_by("-requested_at")[:RECENT_JOBS]
        ],
        push_url=push_socket_url(DEAD_LETTER_REPLAY_GROUP),
        default_rate=settings.DEAD_LETTER_REPLAY_DEFAULT_RATE,
    )
    return render(request, "console/dead_letters/index.html", context)


@require_GET
@viewer_required
def dead_letter_sequenced(request: HttpRequest) -> HttpResponse:
    filters = dead_letter_filter_read(request.GET)
    heads = dead_letter_sequenced_heads(filters=filters)
    after = int_param(request, "after")
    if after is not None:
        heads = heads.filter(position__gt=after)
    page = list(heads[: LIST_PAGE_SIZE + 1])
    context = page_context(
        request,
        section="dead-letters",
        heads=page[:LIST_PAGE_SIZE],
        next_after=page[LIST_PAGE_SIZE - 1].position if len(page) > LIST_PAGE_SIZE else None,
        query_string=urlencode(dead_letter_filter_query(filters)),
    )
    return render(request, "console/dead_letters/sequenced.html", context)


def _payload(dead_letter: DeadLetter) -> tuple[str, str, str, int | None]:
    """Payload and headers as pretty JSON (escaped by the template), the correlation id and schema version.

    The schema version is the record's when it was recorded with one, else the stored event's.

    A decodable dead letter shows its stored event (the store is the truth); an
    undecodable one its raw bytes (an Avro value's data when its schema is known),
    undecodable bytes escaped.
    """
    if dead_letter.position is None:
        raw = event_value_preview(bytes(dead_letter.raw_value or b""))
        key = bytes(dead_letter.raw_key or b"").decode(errors="backslashreplace")
        return raw, json.dumps({"kafka key": key}, indent=2, ensure_ascii=False), "", None
    event = event_read(position=dead_letter.position)
    if event is None:
        return "(the stored event is gone)", "{}", "", dead_letter.record_schema_version
    headers = {
        "position": event.position,
        "stream_id": event.stream_id,
        "version": event.version,
        "event_type": event.event_type,
        "schema_version": event.schema_version,
        "recorded_at": event.recorded_at.isoformat(),
        "metadata": event.metadata,
    }
    return (
        json.dumps(event.data, indent=2, ensure_ascii=False, sort_keys=True),
        json.dumps(headers, indent=2, ensure_ascii=False, sort_keys=True, default=str),
        event.correlation_id,
        dead_letter.record_schema_version or event.schema_version,
    )


@require_GET
@viewer_required
def dead_letter_detail(request: HttpRequest, dead_letter_id: int) -> HttpResponse:
    try:
        dead_letter = dead_letter_get(dead_letter_id=dead_letter_id)
    except DeadLetter.DoesNotExist:
        raise Http404("no such dead letter") from None
    payload, headers, correlation_id, schema_version = _payload(dead_letter)
    attempts = list(dead_letter_attempt_list(dead_letter_id=dead_letter.pk))
    head = dead_letter.blocked_by if dead_letter.blocked_by_id else None
    sequence_head = head if head is not None and head.status == DeadLetterStatus.PARKED else dead_letter
    context = page_context(
        request,
        section="dead-letters",
        dead_letter=dead_letter,
        head=head,
        payload=payload,
        headers=headers,
        attempts=attempts,
        replay_count=sum(1 for attempt in attempts if attempt.by != CONSUMER_HOST_ACTOR),
        behind=dead_letter_parked_behind_list(dead_letter_id=sequence_head.pk)[:200],
        sequence_head=sequence_head,
        correlation_id=correlation_id,
        schema_version=schema_version,
    )
    return render(request, "console/dead_letters/detail.html", context)


@require_GET
@viewer_required
def replay_job_detail(request: HttpRequest, job_id: uuid.UUID) -> HttpResponse:
    try:
        job = DeadLetterReplayJob.objects.get(pk=job_id)
    except DeadLetterReplayJob.DoesNotExist:
        raise Http404("no such bulk replay") from None
    context = page_context(
        request,
        section="dead-letters",
        job=replay_job_view(replay_job_progress_message(job)),
        record=job,
        push_url=push_socket_url(DEAD_LETTER_REPLAY_GROUP),
    )
    if is_htmx(request):
        # The partial's own poll while the job is active.
        return render(request, "console/dead_letters/job.html#replay-job", context)
    return render(request, "console/dead_letters/job.html", context)
