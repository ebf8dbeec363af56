from __future__ import annotations

from collections.abc import Iterable

from apps.orders.domain.events import DomainEvent


class Aggregate:
    """Rebuilt from its past events; records new ones in ``pending`` until they are stored."""

    stream_type: str = ""

    def __init__(self) -> None:
        self.version = 0
        self.pending: list[DomainEvent] = []

    @classmethod
    def stream_id_for(cls, key: str) -> str:
        return f"{cls.stream_type}-{key}"

    def replay(self, events: Iterable[DomainEvent]) -> None:
        for event in events:
            self.apply(event)
            self.version += 1

    def record(self, event: DomainEvent) -> None:
        self.apply(event)
        self.pending.append(event)

    def apply(self, event: DomainEvent) -> None:
        raise NotImplementedError
