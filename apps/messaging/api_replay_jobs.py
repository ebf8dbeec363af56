"""Bulk dead-letter replays over the JSON API: start one (a job), watch it, cancel it.

Viewers may read; starting and cancelling need the operator role (the API's default
auth checks it, and the services check again and audit). Services raise; the errors are
mapped once, in apps.api.errors' registry.
"""

# No postponed annotations here: ninja resolves the schemas at runtime.
import datetime as dt
import uuid
from typing import Any

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status
from pydantic import ConfigDict, field_validator, model_validator

from apps.api.errors import ErrorBodyOut, api_error_register
from apps.api.fields import Line, column_max_length
from apps.messaging.dead_letters import (
    DeadLetter,
    DeadLetterFilter,
    DeadLetterReplayJob,
    ReplayJobAlreadyActive,
    ReplayJobNotCancellable,
    dead_letter_replay_job_cancel,
    dead_letter_replay_job_request,
)
from apps.messaging.dead_letters.replay_jobs import RATE_LIMIT_MAX

router = Router(tags=["dead letters"])

api_error_register(
    DeadLetterReplayJob.DoesNotExist, status=404, code="not_found", message=lambda exc: "no such bulk replay"
)
api_error_register(ReplayJobAlreadyActive, status=409, code="replay_job_active")
api_error_register(ReplayJobNotCancellable, status=409, code="not_cancellable")


TIME_HELP = "ISO 8601 date and time with a time zone, e.g. 2026-12-06T04:20:00Z"
TIME_FORMAT: dict[str, Any] = {"format": "date-time"}


def _moment_read(value: str) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"not a date and time: {TIME_HELP}") from None
    if moment.tzinfo is None:
        raise ValueError(f"needs a time zone: {TIME_HELP}")
    return moment


class ReplayJobIn(Schema):
    """A filter, or ``{"all": true}``, and the rate: an empty filter is refused rather than read as "everything"."""

    model_config = ConfigDict(extra="forbid", strict=True)

    group: Line | None = Field(None, min_length=1, max_length=column_max_length(DeadLetter, "group_id"))
    stream: Line | None = Field(None, min_length=1, max_length=column_max_length(DeadLetter, "stream_id"))
    event_type: Line | None = Field(None, min_length=1, max_length=column_max_length(DeadLetter, "event_type"))
    error_class: Line | None = Field(None, min_length=1, max_length=column_max_length(DeadLetter, "error_class"))
    fingerprint: Line | None = Field(None, min_length=1, max_length=column_max_length(DeadLetter, "fingerprint"))
    message_contains: Line | None = Field(None, min_length=1, max_length=500)
    # JSON has no datetime: ISO 8601 strings, read below. Not pydantic's lax datetime, which
    # would take the number 0 for 1970.
    created_after: Line | None = Field(None, max_length=64, description=TIME_HELP, json_schema_extra=TIME_FORMAT)
    created_before: Line | None = Field(None, max_length=64, description=TIME_HELP, json_schema_extra=TIME_FORMAT)
    all: bool = Field(False, description="Replay every parked dead letter; cannot be combined with a filter")
    rate_limit: int | None = Field(
        None, ge=1, le=RATE_LIMIT_MAX, description="Events per second; null or absent for unthrottled"
    )

    @field_validator("created_after", "created_before")
    @classmethod
    def _moment(cls, value: str | None) -> str | None:
        if value is not None:
            _moment_read(value)
        return value

    @model_validator(mode="after")
    def _filter_or_all(self) -> "ReplayJobIn":
        if self.all and self.filters().as_dict():
            raise ValueError('"all": true replays every parked dead letter; send it without a filter')
        if not self.all and not self.filters().as_dict():
            raise ValueError('send at least one filter field, or "all": true')
        return self

    def filters(self) -> DeadLetterFilter:
        return DeadLetterFilter(
            group_id=self.group,
            stream_id=self.stream,
            event_type=self.event_type,
            error_class=self.error_class,
            fingerprint=self.fingerprint,
            message_contains=self.message_contains,
            created_after=_moment_read(self.created_after) if self.created_after else None,
            created_before=_moment_read(self.created_before) if self.created_before else None,
        )


class ReplayJobOut(Schema):
    job_id: uuid.UUID
    status: str = Field(..., description="queued, running, done, stopped (too many failed again), cancelled or failed")
    filters: dict[str, str]
    everything: bool
    rate_limit: int | None = Field(..., description="Events per second; null when unthrottled")
    canary_size: int
    stop_failure_share: float
    total: int = Field(..., description="Dead letters to replay when it started, those parked behind them included")
    replayed: int
    failed_again: int
    remaining: int
    new_dead_letters: int = Field(..., description="Failures recorded while it ran (set when it ends)")
    rate: float = Field(..., description="Events replayed per second so far")
    detail: str
    requested_by: str
    requested_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None

    @staticmethod
    def resolve_job_id(obj: DeadLetterReplayJob) -> uuid.UUID:
        return obj.id


@router.post(
    "/dead-letters/replay-jobs",
    response={202: ReplayJobOut, 409: ErrorBodyOut},
    summary="Start a bulk replay (a job: canary first, rate-limited, cancellable); answers with the job",
)
def dead_letters_replay_job_start(request: HttpRequest, body: ReplayJobIn) -> Status[DeadLetterReplayJob]:
    job = dead_letter_replay_job_request(
        filters=body.filters(),
        everything=body.all,
        rate_limit=body.rate_limit,
        actor=request.user,  # type: ignore[arg-type]
    )
    return Status(202, job)


@router.get(
    "/dead-letters/replay-jobs/{uuid:job_id}", response=ReplayJobOut, summary="One bulk replay and its progress"
)
def dead_letters_replay_job_detail(request: HttpRequest, job_id: uuid.UUID) -> DeadLetterReplayJob:
    return DeadLetterReplayJob.objects.get(pk=job_id)


@router.post(
    "/dead-letters/replay-jobs/{uuid:job_id}/cancel",
    response={200: ReplayJobOut, 409: ErrorBodyOut},
    summary="Cancel a queued or running bulk replay; what it replayed stays replayed",
)
def dead_letters_replay_job_cancel(request: HttpRequest, job_id: uuid.UUID) -> DeadLetterReplayJob:
    return dead_letter_replay_job_cancel(job_id=job_id, actor=request.user)  # type: ignore[arg-type]
