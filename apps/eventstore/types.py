from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Final, Literal

NO_STREAM: Final = "no_stream"
ANY: Final = "any"
ExpectedVersion = int | Literal["no_stream", "any"]


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An event to append. ``schema_version`` defaults to the type's current version."""

    event_type: str
    data: dict[str, Any]
    metadata: dict[str, Any] = field(default_factory=dict)
    schema_version: int | None = None


@dataclass(slots=True)
class RecordedEvent:
    """An event as read back: upcast to the current schema version of its type.

    Treat it as immutable. It is not ``frozen`` only because a frozen dataclass costs
    about 1.5 µs more to build, a sixth of the global log read's budget per event.
    """

    position: int
    stream_id: str
    stream_type: str
    version: int
    event_type: str
    schema_version: int
    data: dict[str, Any]
    metadata: dict[str, Any]
    recorded_at: dt.datetime

    @property
    def correlation_id(self) -> str:
        return str(self.metadata.get("correlation_id", ""))

    @property
    def causation_id(self) -> str | None:
        value = self.metadata.get("causation_id")
        return None if value is None else str(value)


@dataclass(frozen=True, slots=True)
class AppendResult:
    """Where an append landed: its first and last global positions and the stream's new version."""

    stream_id: str
    first_position: int
    last_position: int
    version: int


@dataclass(frozen=True, slots=True)
class StreamInfo:
    """A stream as the store knows it: its type, current version and when it was created and last appended to."""

    stream_id: str
    stream_type: str
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime
