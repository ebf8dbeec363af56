"""Celery tasks of the saga: thin, ids in; the work is in steps.py and timeouts.py."""

from __future__ import annotations

from celery import shared_task

from apps.sagas.steps import saga_step_run
from apps.sagas.timeouts import saga_overdue_attempts_handle as overdue_handle


@shared_task(name="sagas.saga_step_send", ignore_result=True)
def saga_step_send(step_id: int) -> None:
    saga_step_run(step_id=step_id)


@shared_task(name="sagas.saga_overdue_attempts_handle")
def saga_overdue_attempts_handle() -> int:
    return overdue_handle()
