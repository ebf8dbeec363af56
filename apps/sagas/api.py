"""Sagas over the JSON API: list, detail with every attempt, the operator actions and their previews.

Viewers may read and preview; the actions need the operator role (the API's default auth
checks it, and the services check again and audit). An action that does not apply to
the saga's state is a 409 and changes nothing.
"""

# No postponed annotations here: ninja must resolve Query[...] at runtime.
import datetime as dt
import uuid
from typing import Any, Literal

from django.http import HttpRequest
from ninja import Field, Path, Query, Router, Schema
from pydantic import ConfigDict, model_validator

from apps.api.errors import ErrorBodyOut, api_error_register
from apps.api.fields import Line, Text, column_max_length
from apps.sagas.models import SagaInstance, SagaStatus
from apps.sagas.plan import SEQUENCE
from apps.sagas.selectors import saga_condition, saga_detail, saga_list
from apps.sagas.services import (
    BULK_LIMIT,
    SagaActionNotApplicable,
    SagaActionResult,
    saga_action_matching,
    saga_action_preview,
    saga_compensate,
    saga_resume,
    saga_retry,
)

router = Router(tags=["sagas"])

api_error_register(SagaActionNotApplicable, status=409, code="not_applicable")

SAGA_ID = Path(..., description="The saga's id (a UUID)")
StatusName = Literal["running", "completed", "compensating", "compensated", "failed", "stuck"]
StepName = Literal[
    "reserve_stock", "authorize_payment", "confirm_order", "release_stock", "refund_payment", "cancel_order"
]
ActionName = Literal["retry", "resume", "compensate"]
ORDER_MAX = column_max_length(SagaInstance, "order_id")
OLDER_THAN_MAX = 10 * 365 * 24 * 3600
assert set(StatusName.__args__) == {s.value for s in SagaStatus}  # type: ignore[attr-defined]
assert set(StepName.__args__) == set(SEQUENCE)  # type: ignore[attr-defined]


class StrictIn(Schema):
    model_config = ConfigDict(extra="forbid", strict=True)


class SagaStepOut(Schema):
    id: int
    name: str
    target: str
    kind: str
    sequence: int
    attempt: int
    max_attempts: int
    status: str
    command: dict[str, Any]
    command_id: str
    causation_id: str
    wait_before_ms: int
    started_at: dt.datetime
    deadline_at: dt.datetime | None
    finished_at: dt.datetime | None
    outcome: str
    error: str
    answer_event_id: str
    answer_event_type: str
    answer_stream_id: str
    answer_position: int | None
    compensates: str


class SagaOut(Schema):
    id: uuid.UUID
    saga_type: str
    order_id: str
    correlation_id: str
    status: str
    condition: str = Field(description="The saga's current condition, in words")
    current_step: str
    status_reason: str
    context: dict[str, Any]
    trigger_event_id: str
    trigger_position: int
    started_at: dt.datetime
    updated_at: dt.datetime
    ended_at: dt.datetime | None

    @staticmethod
    def resolve_condition(obj: SagaInstance) -> str:
        return saga_condition(obj)


class SagaDetailOut(SagaOut):
    steps: list[SagaStepOut] = Field(description="Every attempt of every step, in timeline order")

    @staticmethod
    def resolve_steps(obj: SagaInstance) -> list[Any]:
        return list(obj.steps.all())


class SagaQuery(Schema):
    status: StatusName | None = None
    order_id: Line | None = Field(None, max_length=ORDER_MAX)
    step: StepName | None = None
    text: Line | None = Field(None, max_length=200, description="Part of the order id, correlation id or reason")
    older_than_seconds: int | None = Field(None, ge=0, le=OLDER_THAN_MAX)
    limit: int = Field(50, ge=1, le=BULK_LIMIT)


class SagaFilterIn(StrictIn):
    """Which sagas a bulk action applies to; an empty filter is refused rather than read as "all"."""

    status: StatusName | None = None
    order_id: Line | None = Field(None, min_length=1, max_length=ORDER_MAX)
    step: StepName | None = None
    text: Line | None = Field(None, min_length=1, max_length=200)
    older_than_seconds: int | None = Field(None, ge=0, le=OLDER_THAN_MAX)

    @model_validator(mode="after")
    def _some_filter(self) -> "SagaFilterIn":
        if all(value is None for value in self.filters().values()):
            raise ValueError("send at least one of status, order_id, step, text, older_than_seconds")
        return self

    def filters(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "order_id": self.order_id,
            "step": self.step,
            "text": self.text,
            "older_than_seconds": self.older_than_seconds,
        }


class ReasonIn(StrictIn):
    reason: Text = Field(min_length=1, max_length=2000, pattern=r"\S")


class SagaCompensateFilterIn(SagaFilterIn):
    reason: Text = Field(min_length=1, max_length=2000, pattern=r"\S")


class ActionResultOut(Schema):
    saga_id: uuid.UUID
    action: str
    commands: list[dict[str, Any]] = Field(description="The commands sent: {type, participant, fields}")
    status_after: str


class PreviewOut(Schema):
    action: str
    applicable: bool
    reason_not_applicable: str
    commands: list[dict[str, Any]] = Field(description="The exact commands the action would send now")


class BulkFailureOut(Schema):
    id: str
    error: str


class BulkResultOut(Schema):
    succeeded: list[str]
    failed: list[BulkFailureOut]


def _result_out(result: SagaActionResult) -> ActionResultOut:
    return ActionResultOut(
        saga_id=result.saga_id, action=result.action, commands=result.commands, status_after=result.status_after
    )


@router.get("/sagas", response=list[SagaOut], summary="Sagas, newest first")
def sagas_list(request: HttpRequest, filters: Query[SagaQuery]) -> Any:
    return saga_list(
        status=filters.status,
        order_id=filters.order_id,
        step=filters.step,
        text=filters.text,
        older_than_seconds=filters.older_than_seconds,
        limit=filters.limit,
    )


@router.get("/sagas/{uuid:saga_id}", response=SagaDetailOut, summary="One saga, with every attempt of its steps")
def sagas_detail(request: HttpRequest, saga_id: uuid.UUID = SAGA_ID) -> Any:
    return saga_detail(saga_id=saga_id)


@router.get(
    "/sagas/{uuid:saga_id}/preview",
    response=PreviewOut,
    summary="The commands an action would send now, before anything is sent",
)
def sagas_preview(request: HttpRequest, action: Query[ActionName], saga_id: uuid.UUID = SAGA_ID) -> PreviewOut:
    preview = saga_action_preview(saga_id=saga_id, action=action)
    return PreviewOut(
        action=action,
        applicable=preview.applicable,
        reason_not_applicable=preview.reason_not_applicable,
        commands=preview.commands,
    )


@router.post("/sagas/{uuid:saga_id}/retry", response={200: ActionResultOut, 409: ErrorBodyOut}, summary="Retry now")
def sagas_retry(request: HttpRequest, saga_id: uuid.UUID = SAGA_ID) -> ActionResultOut:
    return _result_out(saga_retry(saga_id=saga_id, actor=request.user))


@router.post("/sagas/{uuid:saga_id}/resume", response={200: ActionResultOut, 409: ErrorBodyOut}, summary="Resume")
def sagas_resume(request: HttpRequest, saga_id: uuid.UUID = SAGA_ID) -> ActionResultOut:
    return _result_out(saga_resume(saga_id=saga_id, actor=request.user))


@router.post(
    "/sagas/{uuid:saga_id}/compensate",
    response={200: ActionResultOut, 409: ErrorBodyOut},
    summary="Force compensation, with a reason",
)
def sagas_compensate(request: HttpRequest, body: ReasonIn, saga_id: uuid.UUID = SAGA_ID) -> ActionResultOut:
    return _result_out(saga_compensate(saga_id=saga_id, actor=request.user, reason=body.reason))


def _bulk_out(action: ActionName, body: SagaFilterIn, request: HttpRequest, reason: str | None = None) -> BulkResultOut:
    result = saga_action_matching(action=action, filters=body.filters(), actor=request.user, reason=reason)
    return BulkResultOut(
        succeeded=result.succeeded, failed=[BulkFailureOut(id=f["id"], error=f["error"]) for f in result.failed]
    )


@router.post("/sagas/retry", response=BulkResultOut, summary="Retry every saga matching a filter (at most 1,000)")
def sagas_retry_matching(request: HttpRequest, body: SagaFilterIn) -> BulkResultOut:
    return _bulk_out("retry", body, request)


@router.post("/sagas/resume", response=BulkResultOut, summary="Resume every saga matching a filter (at most 1,000)")
def sagas_resume_matching(request: HttpRequest, body: SagaFilterIn) -> BulkResultOut:
    return _bulk_out("resume", body, request)


@router.post(
    "/sagas/compensate", response=BulkResultOut, summary="Compensate every saga matching a filter (at most 1,000)"
)
def sagas_compensate_matching(request: HttpRequest, body: SagaCompensateFilterIn) -> BulkResultOut:
    return _bulk_out("compensate", body, request, reason=body.reason)
