"""Dead letters and failure rules. Imported by ``apps/messaging/models.py`` (app label ``messaging``)."""

from __future__ import annotations

from django.db import models
from django.db.models import Q


class DeadLetterStatus(models.TextChoices):
    PARKED = "parked", "parked"
    REPLAYED = "replayed", "replayed"
    SKIPPED = "skipped", "skipped"
    # A rebuild of the group's read model applied the event from the store.
    RESOLVED_BY_REBUILD = "resolved_by_rebuild", "resolved by rebuild"


class DeadLetter(models.Model):
    """An event a consumer group could not apply, or one waiting behind such an event.

    A *head* failed on its own (``blocked_by`` is null). Later events of the same stream
    for the same group are parked behind the head (``blocked_by`` set) so the stream keeps
    its order. A message that could not be decoded keeps its raw bytes and no stream.
    """

    group_id = models.CharField(max_length=200)
    position = models.BigIntegerField(null=True, blank=True)
    stream_id = models.CharField(max_length=255, blank=True)
    event_type = models.CharField(max_length=200, blank=True)
    topic = models.CharField(max_length=255)
    partition = models.IntegerField()
    # -position for an event the consumer host read from the store to close a gap: it had
    # no record of its own (apps/messaging/consumer_host/ordering.py).
    offset = models.BigIntegerField()
    error_class = models.CharField(max_length=255, blank=True)
    error_message = models.TextField(blank=True)
    traceback = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    first_failed_at = models.DateTimeField(null=True, blank=True)
    last_failed_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=20, choices=DeadLetterStatus.choices, default=DeadLetterStatus.PARKED)
    raw_key = models.BinaryField(null=True, blank=True)
    raw_value = models.BinaryField(null=True, blank=True)
    blocked_by = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="parked_behind"
    )
    skip_reason = models.TextField(blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.CharField(max_length=150, blank=True)
    # The format and schema the Kafka record was written with (KAFKA_VALUE_FORMAT at the
    # relay's side): "avro" with the schema id from its bytes, or "json". Blank for an event
    # the consumer host read from the store, which had no record of its own.
    record_format = models.CharField(max_length=10, blank=True)
    record_schema_id = models.BigIntegerField(null=True, blank=True)
    record_schema_version = models.IntegerField(null=True, blank=True)
    # When the copy on the DLQ topic was acknowledged; null until then.
    dlq_published_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        app_label = "messaging"
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["group_id", "topic", "partition", "offset"], name="messaging_dead_letter_message_uniq"
            ),
            models.UniqueConstraint(
                fields=["group_id", "position"],
                condition=Q(position__isnull=False),
                name="messaging_dead_letter_event_uniq",
            ),
        ]
        indexes = [
            models.Index(fields=["group_id", "status", "stream_id"], name="messaging_dl_group_status_idx"),
            models.Index(fields=["stream_id", "position"], name="messaging_dl_stream_idx"),
            models.Index(fields=["status", "created_at"], name="messaging_dl_status_idx"),
        ]

    def __str__(self) -> str:
        what = f"#{self.position} {self.event_type}" if self.position is not None else "undecodable"
        return f"dead letter {self.pk} ({self.group_id}, {what}, {self.status})"

    @property
    def decodable(self) -> bool:
        return self.position is not None

    @property
    def is_head(self) -> bool:
        return self.blocked_by_id is None


class FailureRuleKind(models.TextChoices):
    FIELD_REGEX = "field_regex", "field matches regex"
    PROBABILITY = "probability", "with probability p"


class FailureRule(models.Model):
    """An operator-controlled fault: make a consumer group fail on matching events.

    ``field_regex`` fails events whose ``data[field]`` matches ``pattern`` (re.search);
    ``probability`` fails a deterministic share ``probability`` of events, decided by the
    event's position and the group, so a replay under the same rule fails again.
    """

    ANY_GROUP = "*"

    group_id = models.CharField(max_length=200, default=ANY_GROUP)
    kind = models.CharField(max_length=20, choices=FailureRuleKind.choices)
    field = models.CharField(max_length=100, blank=True, default="customer_id")
    pattern = models.CharField(max_length=500, blank=True)
    probability = models.FloatField(default=0.0)
    enabled = models.BooleanField(default=True)
    created_by = models.CharField(max_length=150)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        app_label = "messaging"
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"failure rule {self.pk}: {self.describe()}"

    def describe(self) -> str:
        state = "on" if self.enabled else "off"
        if self.kind == FailureRuleKind.FIELD_REGEX:
            return f"{self.group_id} fails when {self.field} ~ /{self.pattern}/ ({state})"
        return f"{self.group_id} fails with p={self.probability:g} ({state})"
