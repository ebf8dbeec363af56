"""What the saga pages show: a saga with its attempts, its condition, its timeline and what an operator may do."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from apps.console.charts import build_saga_timeline_figure, figure_json
from apps.eventstore.store import correlation_read
from apps.sagas.models import SagaInstance, SagaStep
from apps.sagas.selectors import saga_condition, saga_detail
from apps.sagas.services import SAGA_ACTIONS, saga_action_preview

SAGA_ACTION_LABELS = {"retry": "Retry step", "resume": "Resume", "compensate": "Compensate"}


@dataclass(frozen=True)
class AttemptRow:
    """One attempt as the steps table shows it, with the version of its answer for the stream link."""

    step: SagaStep
    duration_ms: float | None
    answer_version: int | None


def _answer_versions(saga: SagaInstance, steps: list[SagaStep]) -> dict[int, int]:
    # One read of the saga's causal tree instead of one per answer: its answers carry its correlation id.
    if not any(step.answer_position is not None for step in steps):
        return {}
    return {event.position: event.version for event in correlation_read(correlation_id=saga.correlation_id)}


def _attempt_rows(saga: SagaInstance, steps: list[SagaStep], now: dt.datetime) -> list[AttemptRow]:
    versions = _answer_versions(saga, steps)
    rows = []
    for step in steps:
        end = step.finished_at or (now if step.status == "pending" and step.started_at <= now else None)
        rows.append(
            AttemptRow(
                step=step,
                duration_ms=(end - step.started_at).total_seconds() * 1000 if end else None,
                answer_version=versions.get(step.answer_position) if step.answer_position is not None else None,
            )
        )
    return rows


def saga_actions_applicable(*, saga_id: uuid.UUID) -> list[dict[str, str]]:
    """The operator actions that apply to the saga now (their previews say so), in button order."""
    applicable = []
    for action in SAGA_ACTIONS:
        if saga_action_preview(saga_id=saga_id, action=action).applicable:
            applicable.append({"name": action, "label": SAGA_ACTION_LABELS[action]})
    return applicable


def saga_page_context(*, saga_id: uuid.UUID, is_operator: bool) -> dict[str, Any]:
    """Everything the saga page's live parts show; raises SagaInstance.DoesNotExist."""
    saga = saga_detail(saga_id=saga_id)
    now = timezone.now()
    steps = list(saga.steps.all())
    return {
        "saga": saga,
        "condition": saga_condition(saga, now=now),
        "attempts": _attempt_rows(saga, steps, now),
        "timeline_figure": figure_json(build_saga_timeline_figure(steps, now=now, subject=saga.order_id)),
        "actions": saga_actions_applicable(saga_id=saga.id) if is_operator else [],
    }
