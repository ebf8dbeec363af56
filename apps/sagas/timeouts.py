"""Attempts past their deadline: the beat task's work.

An attempt whose command was lost (the worker was killed before or while sending it, or
the participant swallowed it) is found here, marked timed out and tried again, so no
step waits forever on a reply that will not come.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from apps.sagas.engine import attempt_fail
from apps.sagas.models import AttemptStatus, SagaStep

logger = logging.getLogger(__name__)

# Attempts handled per beat round; the rest wait for the next round (a second later).
OVERDUE_BATCH = 500


def saga_overdue_attempts_handle(*, limit: int = OVERDUE_BATCH) -> int:
    """Time out every pending attempt past its deadline (up to ``limit``); returns how many."""
    overdue = list(
        SagaStep.objects.filter(status=AttemptStatus.PENDING, deadline_at__lt=timezone.now())
        .order_by("deadline_at")
        .values_list("pk", flat=True)[:limit]
    )
    handled = 0
    for step_id in overdue:
        with transaction.atomic():
            handled += attempt_fail(step_id=step_id, status=AttemptStatus.TIMED_OUT, outcome="no reply by the deadline")
    if handled:
        logger.info("timed out %d saga step attempts", handled)
    return handled
