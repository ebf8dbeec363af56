"""Dead letters and failure rules over the JSON API.

Viewers may read; replay, skip and the failure rules need the operator role (the
API's default auth checks it, and the services check again and audit). Services raise;
the errors are mapped once, in apps.api.errors' registry.
"""

# No postponed annotations here: ninja must resolve Query[...] on the paginated view at runtime.
import base64
import binascii
import datetime as dt
from typing import Any, Literal

from django.http import HttpRequest
from ninja import Field, Path, Query, Router, Schema, Status
from ninja.pagination import paginate
from pydantic import ConfigDict, field_validator, model_validator

from apps.api.errors import ErrorBodyOut, api_error_register
from apps.api.fields import BIGINT_MAX, Line, Text, column_max_length
from apps.api.pagination import BoundedPageNumberPagination
from apps.messaging.codec import event_value_preview
from apps.messaging.dead_letters import (
    DeadLetter,
    DeadLetterFilter,
    DeadLetterNotReplayable,
    FailureRule,
    ReplayResult,
    dead_letter_replay,
    dead_letter_replay_matching,
    dead_letter_skip,
    failure_rule_create,
    failure_rule_disable,
    failure_rule_enable,
    poison_message_publish,
)
from apps.messaging.dead_letters.failure_rules import DELAY_MS_MAX
from apps.messaging.dead_letters.selectors import (
    dead_letter_get,
    dead_letter_list,
    dead_letter_parked_behind_list,
    failure_rule_list,
)

router = Router(tags=["dead letters"])

api_error_register(DeadLetterNotReplayable, status=409, code="not_replayable")

DEAD_LETTER_ID = Path(..., le=BIGINT_MAX)
RULE_ID = Path(..., le=BIGINT_MAX)
GROUP_MAX = column_max_length(DeadLetter, "group_id")
STREAM_MAX = column_max_length(DeadLetter, "stream_id")
EVENT_TYPE_MAX = column_max_length(DeadLetter, "event_type")
ERROR_CLASS_MAX = column_max_length(DeadLetter, "error_class")
BASE64_PATTERN = r"^[A-Za-z0-9+/]*={0,2}$"


class StrictIn(Schema):
    model_config = ConfigDict(extra="forbid", strict=True)


class DeadLetterOut(Schema):
    id: int
    group_id: str
    position: int | None
    stream_id: str
    event_type: str
    topic: str
    partition: int
    offset: int
    error_class: str
    error_message: str
    fingerprint: str = Field(description="The error class and the frame of our code it came from; blank when parked")
    attempts: int
    first_failed_at: dt.datetime | None
    last_failed_at: dt.datetime | None
    status: str
    blocked_by: int | None = Field(None, description="The head dead letter this one is parked behind")
    parked_behind: bool = Field(description="Parked only because an earlier event of its stream failed")
    decodable: bool
    skip_reason: str
    resolved_at: dt.datetime | None
    resolved_by: str
    dlq_published: bool
    created_at: dt.datetime
    record_format: str = Field(description="How the Kafka record's value was written: avro or json; empty if unknown")
    record_schema_id: int | None = Field(description="The schema registry id in an Avro record's bytes")
    record_schema_version: int | None = Field(description="The schema version the record was written with")

    @staticmethod
    def resolve_blocked_by(obj: DeadLetter) -> int | None:
        return obj.blocked_by_id

    @staticmethod
    def resolve_parked_behind(obj: DeadLetter) -> bool:
        return obj.status == "parked" and obj.blocked_by_id is not None

    @staticmethod
    def resolve_dlq_published(obj: DeadLetter) -> bool:
        return obj.dlq_published_at is not None


class DeadLetterDetailOut(DeadLetterOut):
    traceback: str
    raw_key_base64: str | None
    raw_value_base64: str | None
    raw_value_preview: str | None = Field(
        description="The raw bytes as text, undecodable bytes escaped; an Avro value with a known schema as JSON"
    )
    waiting_behind: list[int] = Field(description="Dead letters parked behind this one, in release order")

    @staticmethod
    def resolve_raw_key_base64(obj: DeadLetter) -> str | None:
        return None if obj.raw_key is None else base64.b64encode(bytes(obj.raw_key)).decode()

    @staticmethod
    def resolve_raw_value_base64(obj: DeadLetter) -> str | None:
        return None if obj.raw_value is None else base64.b64encode(bytes(obj.raw_value)).decode()

    @staticmethod
    def resolve_raw_value_preview(obj: DeadLetter) -> str | None:
        return None if obj.raw_value is None else event_value_preview(bytes(obj.raw_value))

    @staticmethod
    def resolve_waiting_behind(obj: DeadLetter) -> list[int]:
        return list(dead_letter_parked_behind_list(dead_letter_id=obj.pk).values_list("pk", flat=True))


class DeadLetterQuery(Schema):
    group: Line | None = Field(None, max_length=GROUP_MAX)
    status: Literal["parked", "replayed", "skipped", "resolved_by_rebuild"] | None = None
    stream: Line | None = Field(None, max_length=STREAM_MAX)
    event_type: Line | None = Field(None, max_length=EVENT_TYPE_MAX)
    error_class: Line | None = Field(None, max_length=ERROR_CLASS_MAX)
    fingerprint: Line | None = Field(None, max_length=column_max_length(DeadLetter, "fingerprint"))
    message_contains: Line | None = Field(None, max_length=500, description="Text in the error message (any case)")


class ReplayFilterIn(StrictIn):
    """A filter, or ``{"all": true}``: an empty filter is refused rather than read as "everything"."""

    group: Line | None = Field(None, min_length=1, max_length=GROUP_MAX)
    stream: Line | None = Field(None, min_length=1, max_length=STREAM_MAX)
    event_type: Line | None = Field(None, min_length=1, max_length=EVENT_TYPE_MAX)
    error_class: Line | None = Field(None, min_length=1, max_length=ERROR_CLASS_MAX)
    all: bool = Field(False, description="Replay every parked dead letter; cannot be combined with a filter")

    @model_validator(mode="after")
    def _filter_or_all(self) -> "ReplayFilterIn":
        filtered = any(value is not None for value in (self.group, self.stream, self.event_type, self.error_class))
        if self.all and filtered:
            raise ValueError('"all": true replays every parked dead letter; send it without a filter')
        if not self.all and not filtered:
            raise ValueError('send at least one of group, stream, event_type, error_class, or "all": true')
        return self


class ReplayResultOut(Schema):
    dead_letter_id: int
    outcome: str
    released: list[int]
    new_head: int | None
    error: str
    message: str


class ReplaySummaryOut(Schema):
    replayed: int
    failed: int
    still_parked: int


class SkipIn(StrictIn):
    reason: Text = Field(min_length=1, max_length=2000)


class FailureRuleIn(StrictIn):
    group_id: Line = Field(
        "*",
        min_length=1,
        max_length=column_max_length(FailureRule, "group_id"),
        description='A consumer group, "*" for every group, or a participant: "participant.inventory", '
        '"participant.payment"',
    )
    kind: Literal["field_regex", "probability"]
    field: Line = Field("customer_id", max_length=column_max_length(FailureRule, "field"))
    pattern: Line = Field("", max_length=column_max_length(FailureRule, "pattern"))
    probability: float = Field(0.0, ge=0.0, le=1.0, description="A JSON number from 0 to 1 (not a boolean)")
    effect: Literal["fail", "reject", "no_reply", "delay"] = Field(
        "fail", description="fail (any target); reject, no_reply or delay (a participant only)"
    )
    delay_ms: int = Field(0, ge=0, le=DELAY_MS_MAX, description="How late a delay rule answers (delay only)")
    enabled: bool = True


class FailureRuleOut(Schema):
    id: int
    group_id: str
    kind: str
    field: str
    pattern: str
    probability: float
    effect: str
    delay_ms: int
    enabled: bool
    created_by: str
    created_at: dt.datetime
    description: str

    @staticmethod
    def resolve_description(obj: FailureRule) -> str:
        return obj.describe()


class PoisonIn(StrictIn):
    text: Text | None = Field(None, description="Bytes to send, as UTF-8 text (for any bytes, use base64)")
    base64: str | None = Field(None, pattern=BASE64_PATTERN, description="Bytes to send, base64-encoded")
    key: Line | None = Field(None, max_length=STREAM_MAX, description="The Kafka record's key, as UTF-8 text")

    @field_validator("base64")
    @classmethod
    def _decodable(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                base64.b64decode(value, validate=True)
            except binascii.Error as exc:
                raise ValueError(f"not valid base64 ({exc})") from None
        return value

    @model_validator(mode="after")
    def _one_payload(self) -> "PoisonIn":
        if (self.text is None) == (self.base64 is None):
            raise ValueError("send exactly one of text or base64")
        return self

    def raw(self) -> bytes:
        return self.text.encode() if self.text is not None else base64.b64decode(self.base64 or "", validate=True)


def _result_out(result: ReplayResult) -> ReplayResultOut:
    return ReplayResultOut(
        dead_letter_id=result.dead_letter_id,
        outcome=result.outcome,
        released=list(result.released),
        new_head=result.new_head,
        error=result.error,
        message=result.message,
    )


@router.get("/dead-letters", response=list[DeadLetterOut], summary="Dead letters, newest first")
@paginate(BoundedPageNumberPagination, page_size=50)
def dead_letters_list(request: HttpRequest, filters: Query[DeadLetterQuery]) -> Any:
    return dead_letter_list(
        filters=DeadLetterFilter(
            group_id=filters.group,
            status=filters.status,
            stream_id=filters.stream,
            event_type=filters.event_type,
            error_class=filters.error_class,
            fingerprint=filters.fingerprint,
            message_contains=filters.message_contains,
        )
    )


@router.get("/dead-letters/{int:dead_letter_id}", response=DeadLetterDetailOut, summary="One dead letter")
def dead_letters_detail(request: HttpRequest, dead_letter_id: int = DEAD_LETTER_ID) -> Any:
    return dead_letter_get(dead_letter_id=dead_letter_id)


@router.post(
    "/dead-letters/{int:dead_letter_id}/replay",
    response={200: ReplayResultOut, 409: ErrorBodyOut},
    summary="Replay one",
)
def dead_letters_replay(request: HttpRequest, dead_letter_id: int = DEAD_LETTER_ID) -> ReplayResultOut:
    return _result_out(dead_letter_replay(dead_letter_id=dead_letter_id, actor=request.user))


@router.post(
    "/dead-letters/replay",
    response=ReplaySummaryOut,
    summary='Replay every parked one matching a filter, or every parked one with {"all": true}',
)
def dead_letters_replay_matching(request: HttpRequest, body: ReplayFilterIn) -> ReplaySummaryOut:
    filters = DeadLetterFilter(
        group_id=body.group, stream_id=body.stream, event_type=body.event_type, error_class=body.error_class
    )
    summary = dead_letter_replay_matching(filters=filters, everything=body.all, actor=request.user)
    return ReplaySummaryOut(replayed=summary.replayed, failed=summary.failed, still_parked=summary.still_parked)


@router.post(
    "/dead-letters/{int:dead_letter_id}/skip",
    response={200: ReplayResultOut, 409: ErrorBodyOut},
    summary="Skip one, with a reason",
)
def dead_letters_skip(request: HttpRequest, body: SkipIn, dead_letter_id: int = DEAD_LETTER_ID) -> ReplayResultOut:
    return _result_out(dead_letter_skip(dead_letter_id=dead_letter_id, reason=body.reason, actor=request.user))


@router.get("/failure-rules", response=list[FailureRuleOut], tags=["failure rules"], summary="Failure rules")
def failure_rules_list(request: HttpRequest) -> Any:
    return list(failure_rule_list())


@router.post("/failure-rules", response={201: FailureRuleOut}, tags=["failure rules"], summary="Create a rule")
def failure_rules_create(request: HttpRequest, body: FailureRuleIn) -> Any:
    return Status(201, failure_rule_create(actor=request.user, **body.dict()))


@router.post("/failure-rules/{int:rule_id}/enable", response=FailureRuleOut, tags=["failure rules"])
def failure_rules_enable(request: HttpRequest, rule_id: int = RULE_ID) -> Any:
    return failure_rule_enable(rule_id=rule_id, actor=request.user)


@router.post("/failure-rules/{int:rule_id}/disable", response=FailureRuleOut, tags=["failure rules"])
def failure_rules_disable(request: HttpRequest, rule_id: int = RULE_ID) -> Any:
    return failure_rule_disable(rule_id=rule_id, actor=request.user)


class PoisonOut(Schema):
    size: int


@router.post("/poison-messages", response={202: PoisonOut}, tags=["failure rules"], summary="Send undecodable bytes")
def poison_messages_publish(request: HttpRequest, body: PoisonIn) -> Any:
    raw = body.raw()
    key = body.key.encode() if body.key else None
    poison_message_publish(raw=raw, actor=request.user, key=key)
    return Status(202, PoisonOut(size=len(raw)))
