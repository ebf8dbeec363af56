from django.db import models


class EventStream(models.Model):
    """One row per stream: its type and current version, the optimistic-concurrency anchor."""

    stream_id = models.CharField(max_length=200, primary_key=True)
    stream_type = models.CharField(max_length=64, db_index=True)
    version = models.BigIntegerField()
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        db_table = "eventstore_event_stream"

    def __str__(self) -> str:
        return f"{self.stream_id}@{self.version}"


class StoredEvent(models.Model):
    """A recorded event. Rows are never updated or deleted (a database trigger refuses it)."""

    position = models.BigIntegerField(primary_key=True)
    stream_id = models.CharField(max_length=200)
    stream_type = models.CharField(max_length=64)
    version = models.BigIntegerField()
    event_type = models.CharField(max_length=100)
    schema_version = models.PositiveSmallIntegerField()
    data = models.JSONField()
    metadata = models.JSONField()
    correlation_id = models.CharField(max_length=64)
    recorded_at = models.DateTimeField(db_index=True)

    class Meta:
        db_table = "eventstore_stored_event"
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(fields=["stream_id", "version"], name="eventstore_stream_version_unique"),
        ]
        # Plain indexes: db_index on a CharField adds a second, LIKE-pattern index on
        # PostgreSQL that no query uses and every append pays for.
        indexes = [
            models.Index(fields=["event_type", "position"], name="eventstore_type_position"),
            models.Index(fields=["correlation_id", "position"], name="eventstore_correlation_pos"),
        ]

    def __str__(self) -> str:
        return f"#{self.position} {self.stream_id}@{self.version} {self.event_type}"
