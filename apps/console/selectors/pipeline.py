"""What the console reads from the pipeline (messaging, projections): lag, dead letters, relay.

Those parts are built alongside the console. Where one is not installed yet, its reader
here returns None and the page says "not measured yet" instead of inventing a number.
"""

from __future__ import annotations

import datetime as dt
import importlib
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING, Any

from django.apps import apps

from apps.eventstore.store import head_position
from apps.messaging.heartbeat import consumer_heartbeat_list, heartbeat_age, relay_heartbeat_get

if TYPE_CHECKING:
    from apps.console.selectors.health import HealthCheck


@dataclass(frozen=True)
class PartitionLag:
    partition: int
    end_offset: int | None
    committed_offset: int | None
    lag: int | None


@dataclass(frozen=True)
class ConsumerGroupRow:
    group_id: str
    status: str
    total_lag: int | None
    partitions: list[PartitionLag] = field(default_factory=list)
    sampled_at: dt.datetime | None = None
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


def _get(item: Any, name: str, default: Any = None) -> Any:
    if isinstance(item, dict):
        return item.get(name, default)
    return getattr(item, name, default)


def lag_available() -> bool:
    return _module("apps.messaging.lag") is not None


def consumer_group_list() -> list[ConsumerGroupRow]:
    """Every registered consumer group, with its sampled status and lag when there are samples."""
    from apps.messaging.registry import consumer_specs

    sampled: dict[str, Any] = {}
    lag = _module("apps.messaging.lag")
    if lag is not None:
        for item in lag.consumer_group_status_list():
            sampled[str(_get(item, "group_id"))] = item
    beats: dict[str, list[float]] = {}
    try:
        for beat in consumer_heartbeat_list():
            beats.setdefault(beat["group_id"], []).append(heartbeat_age(beat))
    except Exception:  # noqa: S110 - Redis down: the health list says so; the table goes on
        pass
    rows = []
    descriptions = {spec.group_id: spec.description for spec in consumer_specs()}
    for group_id in sorted(descriptions.keys() | sampled.keys()):
        item = sampled.get(group_id)
        partitions = [
            PartitionLag(
                partition=int(_get(part, "partition")),
                end_offset=_get(part, "end_offset"),
                committed_offset=_get(part, "committed_offset"),
                lag=_get(part, "lag"),
            )
            for part in (_get(item, "partitions", []) if item is not None else [])
        ]
        rows.append(
            ConsumerGroupRow(
                group_id=group_id,
                status=str(_get(item, "status", "NO SAMPLES")) if item is not None else "NO SAMPLES",
                total_lag=_get(item, "total_lag", _get(item, "lag")) if item is not None else None,
                partitions=partitions,
                sampled_at=_get(item, "sampled_at") if item is not None else None,
                description=descriptions.get(group_id, ""),
                members=len(beats.get(group_id, [])),
                last_poll_age=min(beats[group_id]) if group_id in beats else None,
            )
        )
    return rows


def lag_series(*, minutes: int = 60) -> list[tuple[dt.datetime, str, int]] | None:
    """(sampled_at, group_id, total lag) over the last ``minutes``; None without a lag sampler."""
    lag = _module("apps.messaging.lag")
    if lag is None:
        return None
    return [
        (_get(row, "sampled_at"), str(_get(row, "group_id")), int(_get(row, "lag") or 0))
        for row in lag.consumer_lag_series(minutes)
    ]


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
