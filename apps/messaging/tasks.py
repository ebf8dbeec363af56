"""Celery tasks of the messaging app: thin, they call the service."""

from __future__ import annotations

import logging

from celery import shared_task

from apps.messaging.lag import consumer_lag_sample

logger = logging.getLogger(__name__)


@shared_task(name="messaging.consumer_lag_sample", ignore_result=True)
def consumer_lag_sample_task() -> None:
    """One lag sampling round (Celery beat runs it every ``LAG_SAMPLE_INTERVAL_SECONDS``)."""
    result = consumer_lag_sample()
    if result is not None:
        logger.debug("lag sampled: %d groups, error=%r", len(result.groups), result.error)
