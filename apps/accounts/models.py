"""API tokens and the audit log of operator actions."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone


class ApiToken(models.Model):
    """A bearer token for the JSON API. Only the sha256 of the token is stored."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, blank=True)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    # The first characters of the token, so a user can tell their tokens apart.
    prefix = models.CharField(max_length=12, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.name or 'unnamed'}) for {self.user_id}"


class AuditOutcome(models.TextChoices):
    # Written before the action's side effect; an entry left running means the process
    # died (or could not write the outcome) while the action ran.
    RUNNING = "running", "running"
    OK = "ok", "ok"
    FAILED = "failed", "failed"
    REFUSED = "refused", "refused"


class AuditLog(models.Model):
    """Who did what to which target, with which parameters, when, and how it ended.

    ``correlation_id`` names the action itself, so what the action touched can point
    back at it; ``result`` holds what it produced (a job id, a rule id).
    """

    actor = models.CharField(max_length=150)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="audit_entries"
    )
    action = models.CharField(max_length=100)
    target = models.CharField(max_length=255, blank=True)
    parameters = models.JSONField(default=dict, blank=True)
    outcome = models.CharField(max_length=10, choices=AuditOutcome.choices)
    detail = models.TextField(blank=True)
    result = models.JSONField(default=dict, blank=True)
    correlation_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["action", "created_at"], name="accounts_audit_action_idx")]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.actor} {self.action} {self.target} {self.outcome}"

    @property
    def duration_ms(self) -> float | None:
        """How long the action ran; None while it runs (or when its process died before the end)."""
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds() * 1000
