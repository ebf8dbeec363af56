"""The relay's checkpoint: every position up to it is acknowledged by Kafka."""

from __future__ import annotations

from django.utils import timezone

from apps.messaging.relay.models import RelayCheckpoint


def relay_checkpoint_get(*, name: str = "default", using: str = "default") -> int:
    """The last position the relay ``name`` saw acknowledged (0 before its first batch)."""
    checkpoint, _ = RelayCheckpoint.objects.using(using).get_or_create(name=name)
    return checkpoint.position


def relay_checkpoint_save(*, name: str, position: int, using: str = "default") -> None:
    """Record that every position up to ``position`` is in Kafka; never moves the checkpoint back.

    A relay that lost its lease may still settle a batch after its successor recorded a
    higher position: that late, lower save changes nothing.
    """
    RelayCheckpoint.objects.using(using).filter(name=name, position__lt=position).update(
        position=position, updated_at=timezone.now()
    )
