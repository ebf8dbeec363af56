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
    from apps.console.selectors.health import HealthCheck

    return HealthCheck("Worker heartbeats", None, "not measured yet: no worker heartbeat is recorded")


def relay_health() -> HealthCheck:
    from apps.console.selectors.health import HealthCheck

    return HealthCheck("Relay", None, "not measured yet: no relay position is recorded")
