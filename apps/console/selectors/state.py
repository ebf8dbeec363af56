"""An aggregate's state at any version (time travel) and what one event changed."""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass
from typing import Any

from apps.console.selectors.events import stream_event_get
from apps.orders.domain.aggregate import Aggregate
from apps.orders.domain.events import event_from_data
from apps.orders.domain.order import Order
from apps.orders.domain.payment import Payment
from apps.orders.domain.stock import StockItem
from apps.orders.repository import aggregate_load

AGGREGATE_CLASSES: dict[str, type[Aggregate]] = {cls.stream_type: cls for cls in (Order, StockItem, Payment)}


@dataclass(frozen=True)
class StateChange:
    path: str
    kind: str  # "added", "removed" or "changed"
    before: Any
    after: Any


@dataclass(frozen=True)
class AggregateState:
    stream_id: str
    version: int
    state: dict[str, Any]
    changes: list[StateChange]


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {field.name: _plain(getattr(value, field.name)) for field in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def aggregate_snapshot(aggregate: Aggregate) -> dict[str, Any]:
    """The aggregate's fields as plain JSON-able values (what the page shows)."""
    state = {key: _plain(value) for key, value in vars(aggregate).items() if key != "pending"}
    for name in ("total_cents", "available"):
        if hasattr(type(aggregate), name):
            state[name] = getattr(aggregate, name)
    return state


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict) and value:
        flat: dict[str, Any] = {}
        for key, item in value.items():
            flat.update(_flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return flat
    if isinstance(value, list) and value:
        flat = {}
        for index, item in enumerate(value):
            flat.update(_flatten(item, f"{prefix}[{index}]"))
        return flat
    return {prefix: value}


def state_diff(before: dict[str, Any], after: dict[str, Any]) -> list[StateChange]:
    """Leaf-by-leaf differences between two snapshots, ``version`` left out."""
    old, new = _flatten(before), _flatten(after)
    changes = []
    for path in sorted(old.keys() | new.keys()):
        if path == "version":
            continue
        if path not in old:
            changes.append(StateChange(path, "added", None, new[path]))
        elif path not in new:
            changes.append(StateChange(path, "removed", old[path], None))
        elif old[path] != new[path]:
            changes.append(StateChange(path, "changed", old[path], new[path]))
    return changes


def aggregate_state_at(*, stream_id: str, stream_type: str, version: int) -> AggregateState | None:
    """The state after event ``version`` and what that event changed; None for an unknown stream type."""
    aggregate_class = AGGREGATE_CLASSES.get(stream_type)
    prefix = f"{stream_type}-"
    if aggregate_class is None or not stream_id.startswith(prefix):
        return None
    key = stream_id[len(prefix) :]
    # Load up to the version before, then apply the one event: one read of the stream, not two.
    aggregate = aggregate_load(aggregate_class, key, up_to_version=max(version - 1, 0))
    before = aggregate_snapshot(aggregate)
    event = stream_event_get(stream_id=stream_id, version=version) if version > 0 else None
    if event is not None:
        aggregate.replay([event_from_data(event.event_type, event.data)])
    after = aggregate_snapshot(aggregate)
    return AggregateState(
        stream_id=stream_id, version=aggregate.version, state=after, changes=state_diff(before, after)
    )
