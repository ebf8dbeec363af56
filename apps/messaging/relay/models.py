from django.db import models


class RelayCheckpoint(models.Model):
    """How far a relay has published: every position up to ``position`` was acknowledged by Kafka."""

    name = models.CharField(max_length=100, primary_key=True)
    position = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "messaging_relay_checkpoint"

    def __str__(self) -> str:
        return f"{self.name}@{self.position}"
