"""Celery tasks of the saga: thin, ids in; the work is in steps.py and timeouts.py."""

from __future__ import annotations

from celery import shared_task

from apps.sagas.steps import saga_steps_run
from apps.sagas.timeouts import saga_overdue_attempts_handle as overdue_handle


# One or more attempt ids: the attempts a decision sends together run back to back in one task.
@shared_task(name="sagas.saga_step_send", ignore_result=True)
def saga_step_send(*step_ids: int) -> None:
    saga_steps_run(step_ids=step_ids)


@shared_task(name="sagas.saga_overdue_attempts_handle")
def saga_overdue_attempts_handle() -> int:
    return overdue_handle()
