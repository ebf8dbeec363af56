class EventStoreError(Exception):
    """Base class for errors the event store raises."""


class WrongExpectedVersion(EventStoreError):
    """An append named a version the stream is no longer (or not yet) at; nothing was written."""

    def __init__(self, *, stream_id: str, expected: object, actual: int | None) -> None:
        self.stream_id = stream_id
        self.expected = expected
        self.actual = actual
        super().__init__(f"conflict on stream {stream_id!r}: expected version {expected}, stream is at {actual}")


class SchemaValidationError(EventStoreError):
    """An event's data does not match the Avro schema of its type and version."""

    def __init__(self, *, event_type: str, schema_version: int, field: str, problem: str) -> None:
        self.event_type = event_type
        self.schema_version = schema_version
        self.field = field
        self.problem = problem
        super().__init__(f"{event_type} v{schema_version}: field {field!r}: {problem}")


class UnknownEventType(EventStoreError):
    """No schema is registered for this event type (or this version of it)."""


class SchemaIncompatible(EventStoreError):
    """A new schema version cannot read data written with the previous version."""
