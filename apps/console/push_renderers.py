"""How each kind of push looks in the browser: one renderer per message type.

A renderer turns a message from ``apps.messaging.push`` into the text frame one socket
gets: hx-swap-oob fragments made with the pages' own partials, which htmx's websocket
extension swaps in by id; the live stream's rows go as JSON that its page batches itself
(an htmx swap per row could not keep up with 1,000 events/s). Renderers that read the
database cache their fragment per message in the process, so a hundred open tabs cost
one query, not a hundred.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, replace
from typing import Any, NewType, cast
from urllib.parse import urlencode

from django.template.loader import render_to_string

from apps.console.charts import build_lag_figure, build_orders_by_status_figure, figure_json
from apps.console.selectors import pipeline
from apps.console.selectors.read_models import orders_by_status, projection_lag_list
from apps.console.selectors.sagas import saga_page_context
from apps.messaging.push import (
    DeadLetterReplayProgressMessage,
    LagSampledMessage,
    LiveEventsMessage,
    LiveRow,
    PushMessage,
    ReadModelChangedMessage,
    RebuildProgressMessage,
    SagaChanged,
)
from apps.projections.models import ACTIVE_REBUILD_STATUSES
from apps.sagas.models import SagaInstance

PUSH_SOCKET_PATH = "/ws/push/"
LAG_WINDOW_MINUTES = 60

# Field -> value this browser's page shows: the live stream's filters (stream is a prefix, the
# others exact), or the one saga a saga page shows (saga_id, from the socket's URL).
LiveFilters = NewType("LiveFilters", Mapping[str, str])


@dataclass(frozen=True)
class PushViewer:
    """Who a socket renders for: the role found at the last check, and the live stream filters."""

    is_operator: bool
    live_filters: LiveFilters

    def filtered(self, filters: LiveFilters) -> PushViewer:
        return replace(self, live_filters=filters)


def push_socket_url(*groups: str, **filters: str) -> str:
    """The websocket a page opens to receive ``groups``, rendered for ``filters`` (e.g. the one saga a page shows)."""
    return f"{PUSH_SOCKET_PATH}?{urlencode([('group', group) for group in groups] + sorted(filters.items()))}"


class _FragmentMemo:
    """The newest few fragments by key, shared by every socket of the process."""

    SIZE = 16

    def __init__(self) -> None:
        self._fragments: OrderedDict[Hashable, str] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, render: Callable[[], str]) -> str:
        with self._lock:
            if key in self._fragments:
                return self._fragments[key]
            fragment = render()
            self._fragments[key] = fragment
            while len(self._fragments) > self.SIZE:
                self._fragments.popitem(last=False)
            return fragment


_memo = _FragmentMemo()


def _row_shown(row: LiveRow, filters: LiveFilters) -> bool:
    if filters.get("event_type") and row["event_type"] != filters["event_type"]:
        return False
    if filters.get("stream") and not row["stream_id"].startswith(filters["stream"]):
        return False
    return not (filters.get("correlation_id") and row["correlation_id"] != filters["correlation_id"])


def live_events_render(message: PushMessage, viewer: PushViewer) -> str:
    live = cast(LiveEventsMessage, message)
    rows = [row["html"] for row in live["rows"] if _row_shown(row, viewer.live_filters)]
    return json.dumps({"type": "events", "count": live["count"], "rows": rows, "sent_at": live["sent_at"]})


def rebuild_progress_render(message: PushMessage, viewer: PushViewer) -> str:
    progress = cast(RebuildProgressMessage, message)
    rebuild = {**progress, "active": progress["status"] in ACTIVE_REBUILD_STATUSES}
    context = {
        "rebuild": rebuild,
        "projection": {"name": progress["projection"]},
        "is_operator": viewer.is_operator,
        "rebuild_oob": True,
    }
    return render_to_string("console/rebuild_progress.html", context)


def consumer_tables_context() -> dict[str, Any]:
    """What the consumers page's tables partial shows."""
    groups = pipeline.consumer_group_list()
    return {
        "groups": groups,
        "lag_available": any(group.sampled_at for group in groups),
        "projections": projection_lag_list(),
    }


def lag_figure_json() -> str:
    return figure_json(build_lag_figure(pipeline.lag_series(minutes=LAG_WINDOW_MINUTES)))


def lag_sampled_render(message: PushMessage, viewer: PushViewer) -> str:
    sampled = cast(LagSampledMessage, message)

    def render() -> str:
        context = {**consumer_tables_context(), "is_operator": viewer.is_operator, "tables_oob": True}
        tables = render_to_string("console/consumers.html#tables", context)
        figure = render_to_string("console/consumers.html#lag-figure", {"lag_figure": lag_figure_json(), "oob": True})
        return tables + figure

    return _memo.get(("lag.sampled", sampled["sampled_at"], viewer.is_operator), render)


def read_models_context() -> dict[str, Any]:
    """The overview's read-model tiles: dead letters waiting and orders by status."""
    return {
        "dead_letters_waiting": pipeline.dead_letters_waiting(),
        "orders_by_status_figure": figure_json(build_orders_by_status_figure(orders_by_status())),
    }


def read_model_changed_render(message: PushMessage, viewer: PushViewer) -> str:
    changed = cast(ReadModelChangedMessage, message)

    def render() -> str:
        return render_to_string("console/overview.html#read-models", {**read_models_context(), "oob": True})

    return _memo.get(("read_model.changed", changed["source"], changed["changed_at"]), render)


def saga_changed_render(message: PushMessage, viewer: PushViewer) -> str:
    """The saga page's live parts, for the sockets of the page that shows this saga (nothing for the others)."""
    changed = cast(SagaChanged, message)
    if viewer.live_filters.get("saga_id") != changed["saga_id"]:
        return ""

    # Not memoised: only the sockets of this saga's page get this far, and two pushes with the
    # same status may carry different attempts.
    try:
        parts = saga_page_context(saga_id=uuid.UUID(changed["saga_id"]), is_operator=viewer.is_operator)
    except SagaInstance.DoesNotExist:
        return ""
    context = {**parts, "is_operator": viewer.is_operator, "oob": True}
    return render_to_string("console/saga.html#saga-live", context)


def replay_job_view(progress: DeadLetterReplayProgressMessage) -> dict[str, Any]:
    """What the bulk-replay partial shows, from a job row's message or a pushed one alike."""
    return {
        **progress,
        "done": progress["replayed"] + progress["failed_again"],
        "active": progress["status"] in ("queued", "running"),
    }


def dead_letter_replay_render(message: PushMessage, viewer: PushViewer) -> str:
    progress = cast(DeadLetterReplayProgressMessage, message)
    context = {"job": replay_job_view(progress), "is_operator": viewer.is_operator, "job_oob": True}
    return render_to_string("console/dead_letters/job.html#replay-job", context)


PUSH_RENDERERS: dict[str, Callable[[PushMessage, PushViewer], str]] = {
    "live.events": live_events_render,
    "lag.sampled": lag_sampled_render,
    "rebuild.progress": rebuild_progress_render,
    "read_model.changed": read_model_changed_render,
    "saga.changed": saga_changed_render,
    "dead_letter_replay.progress": dead_letter_replay_render,
}


def push_frame_render(*, message: PushMessage, viewer: PushViewer) -> str:
    """The frame one socket gets for ``message`` (its type must have a renderer)."""
    return PUSH_RENDERERS[message["type"]](message, viewer)
