"""What the console reads from the pipeline: consumer groups and lag, dead letters, heartbeats."""

from __future__ import annotations

import datetime as dt
import importlib
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING

from django.apps import apps

from apps.eventstore.store import head_position
from apps.messaging.heartbeat import consumer_heartbeat_list, heartbeat_age, relay_heartbeat_get
from apps.messaging.lag import PartitionLag, consumer_group_status_list, consumer_lag_series

if TYPE_CHECKING:
    from apps.console.selectors.health import HealthCheck


@dataclass(frozen=True)
class ConsumerGroupRow:
    group_id: str
    status: str
    reason: str
    total_lag: int | None
    partitions: list[PartitionLag] = field(default_factory=list)
    sampled_at: dt.datetime | None = None
    last_commit_at: dt.datetime | None = None
    description: str = ""
    # Worker threads consuming for this group whose heartbeat has not expired.
    members: int = 0
    last_poll_age: float | None = None


def _module(name: str) -> ModuleType | None:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name and name.startswith(exc.name):
            return None
        raise


def consumer_group_list() -> list[ConsumerGroupRow]:
    """Every registered or sampled consumer group: Burrow-style status, lag, partitions, live workers."""
    beats: dict[str, list[float]] = {}
    try:
        for beat in consumer_heartbeat_list():
            beats.setdefault(beat["group_id"], []).append(heartbeat_age(beat))
    except Exception:  # noqa: S110 - Redis down: the health list says so; the table goes on
        pass
    return [
        ConsumerGroupRow(
            group_id=group.group_id,
            status=group.status,
            reason=group.error or group.reason,
            total_lag=group.total_lag,
            partitions=group.partitions,
            sampled_at=group.sampled_at,
            last_commit_at=group.last_commit_at,
            description=group.description,
            members=len(beats.get(group.group_id, [])),
            last_poll_age=min(beats[group.group_id]) if group.group_id in beats else None,
        )
        for group in consumer_group_status_list()
    ]


def lag_series(*, minutes: int = 60) -> list[tuple[dt.datetime, str, int]]:
    """(sampled_at, group_id, total lag) over the last ``minutes``, oldest first."""
    return [(point.sampled_at, point.group_id, point.lag) for point in consumer_lag_series(minutes)]


def dead_letters_waiting() -> int | None:
    """Dead letters parked and waiting for an operator; None without the dead-letter app."""
    selectors = _module("apps.messaging.dead_letters.selectors")
    if selectors is None or not apps.is_installed("apps.messaging"):
        return None
    return int(selectors.dead_letter_status_counts().get("parked", 0))


def worker_health() -> HealthCheck:
    """Every registered consumer group has a worker thread whose heartbeat has not expired."""
    from apps.console.selectors.health import HealthCheck
    from apps.messaging.registry import consumer_specs

    try:
        beats = consumer_heartbeat_list()
    except Exception as exc:
        return HealthCheck("Worker heartbeats", False, f"cannot read heartbeats: {type(exc).__name__}")
    groups = {spec.group_id for spec in consumer_specs()}
    beating = {beat["group_id"] for beat in beats if beat["status"] in ("starting", "running")}
    missing = sorted(groups - beating)
    if not beats:
        return HealthCheck("Worker heartbeats", False, "no worker is beating: is the Celery worker running?")
    newest = min(heartbeat_age(beat) for beat in beats)
    detail = f"{len(groups) - len(missing)}/{len(groups)} groups beating · last poll {newest:.1f} s ago"
    if missing:
        return HealthCheck("Worker heartbeats", False, f"{detail} · silent: {', '.join(missing)}")
    return HealthCheck("Worker heartbeats", True, detail)


def relay_health() -> HealthCheck:
    """The relay beats, and how far its acknowledged position is behind the head of the store."""
    from apps.console.selectors.health import HealthCheck

    try:
        beat = relay_heartbeat_get()
    except Exception as exc:
        return HealthCheck("Relay", False, f"cannot read its heartbeat: {type(exc).__name__}")
    head = head_position()
    if beat is None:
        return HealthCheck("Relay", False, f"no relay heartbeat: is run_relay running? head is {head:,}")
    position = int(beat["position"])
    behind = max(head - position, 0)
    detail = f"position {position:,} of head {head:,} ({behind:,} behind) · beat {heartbeat_age(beat):.1f} s ago"
    return HealthCheck("Relay", beat["status"] == "running", detail)
